//! Replay: offers spooled records back to the pipeline, oldest first, within a window (or one probe per
//! interval while the CDP looks down).

use super::*;

impl Writer {
    /// Keeps up to [`REPLAY_WINDOW`] of the oldest records in the pipeline, reading on from the cursor.
    pub(super) fn replay(&mut self) {
        let epoch = self.inner.epoch.load(Acquire);
        if epoch != self.offer_epoch && !self.in_flight.is_empty() {
            // A replay is going back and its settle may not be here yet: offering younger records now could let
            // them overtake it.
            self.rewind = true;
        }
        if self.rewind {
            // A replay came back undelivered and moved the epoch on: the ones still out are going back too (or
            // landing). Only once all have settled is the order of what is left known again: re-read it from the
            // start (delivered-but-not-yet-deleted records are skipped).
            if !self.in_flight.is_empty() {
                return;
            }
            self.rewind = false;
            self.cursor = 0;
        }
        if self.cursor >= self.next_key || self.count <= (self.in_flight.len() + self.delivered.len()) as u64 {
            return;
        }
        let Some(sink) = self.inner.sink.get().cloned() else { return };
        if !sink.accepting() {
            return;
        }
        let n = if sink.in_outage() {
            if !self.in_flight.is_empty() || self.last_probe.is_some_and(|t| t.elapsed() < PROBE_INTERVAL) {
                return;
            }
            self.last_probe = Some(Instant::now());
            // A sibling that released its file since the last scan holds older events: adopt them first, so the
            // probe (the first event to reach the CDP when it is back) is not a younger one of the same visitor.
            self.adopt_orphans();
            1
        } else {
            REPLAY_WINDOW.saturating_sub(self.in_flight.len()).min(sink.room())
        };
        if n == 0 {
            return;
        }
        self.offer_epoch = epoch;
        let mut bad = Vec::new();
        let mut offered = Vec::new();
        let mut scanned_to = self.cursor;
        let r = (|| -> Result<(), redb::Error> {
            let read = self.db.begin_read()?;
            let t = read.open_table(TABLE)?;
            for item in t.range(self.cursor..)? {
                if offered.len() >= n {
                    break;
                }
                let (k, v) = item?;
                let k = k.value();
                scanned_to = k + 1;
                if self.in_flight.contains(&k) || self.delivered.contains(&k) {
                    continue;
                }
                match Record::decode(v.value()) {
                    Some(rec) => offered.push((k, rec)),
                    None => bad.push(k),
                }
            }
            Ok(())
        })();
        if let Err(e) = r {
            log::emit_once("spool-read", log::Level::Error, format!("xmcdp: cannot read the spool ({e})"));
            return;
        }
        if !bad.is_empty() {
            self.count = self.count.saturating_sub(bad.len() as u64);
            self.drop_bad(bad);
        }
        self.cursor = scanned_to;
        for (key, rec) in offered {
            match sink.offer(rec.into_envelope(Origin { key, epoch })) {
                Ok(()) => {
                    self.in_flight.insert(key);
                }
                Err(_) => {
                    // No room after all: read on from here next time.
                    self.cursor = key;
                    break;
                }
            }
        }
        self.publish();
    }
}
