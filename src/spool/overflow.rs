//! The pipeline's [`Overflow`] seam, spool side: spill into the writer's channel, divert a visitor's new
//! events behind their spooled ones, hear back about replays.

use super::*;

pub(super) struct SpoolOverflow(pub(super) Arc<Inner>);

impl Overflow for SpoolOverflow {
    fn spill(&self, events: Vec<Envelope>, reason: SpillReason) -> bool {
        match self.try_spill(events, reason) {
            Ok(()) => true,
            Err(lost) => {
                self.0.stats.dropped.fetch_add(lost.len() as u64, Relaxed);
                false
            }
        }
    }

    fn try_spill(&self, events: Vec<Envelope>, _reason: SpillReason) -> Result<(), Vec<Envelope>> {
        let inner = &*self.0;
        let mut fresh = Vec::with_capacity(events.len());
        for env in events {
            match env.origin {
                // Back to the spool it never left: just no longer in flight. Younger replays of the same visitor
                // must not overtake it, so the epoch moves on (they are sent back when they reach a lane's head).
                Some(o) => {
                    inner.epoch.fetch_add(1, AcqRel);
                    inner.settle(Settle::Back { key: o.key });
                }
                None => fresh.push(env),
            }
        }
        if fresh.is_empty() {
            return Ok(());
        }
        if inner.closed.load(Acquire) {
            return Err(fresh);
        }
        let n = fresh.len();
        // The visitor map and the channel move together under this lock, so an event that sees its visitor in
        // the map is always sent after the event that put the visitor there.
        let mut v = inner.visitors.lock();
        if inner.pending.load(Acquire) + n > inner.cfg.channel_events {
            drop(v);
            log::emit_once("spool-channel-full", log::Level::Warn, "xmcdp: the spool writer is behind; events are being dropped (see stats.spool.dropped)");
            return Err(fresh);
        }
        let bids: Vec<String> = fresh.iter().map(|e| e.browser_id().to_owned()).collect();
        match inner.tx.try_send(Msg::Spill(fresh)) {
            Ok(()) => {
                inner.pending.fetch_add(n, AcqRel);
                for b in bids.into_iter().filter(|b| !b.is_empty()) {
                    *v.entry(b).or_insert(0) += 1;
                }
                inner.visitor_count.store(v.len(), Release);
                Ok(())
            }
            Err(TrySendError::Full(msg) | TrySendError::Disconnected(msg)) => match msg {
                Msg::Spill(back) => Err(back),
                _ => Err(Vec::new()),
            },
        }
    }

    fn divert(&self, env: &Envelope) -> bool {
        let inner = &*self.0;
        if let Some(o) = env.origin {
            return o.epoch != inner.epoch.load(Acquire);
        }
        if inner.visitor_count.load(Acquire) == 0 {
            return false;
        }
        let bid = env.browser_id();
        !bid.is_empty() && inner.visitors.lock().contains_key(bid)
    }

    fn settled(&self, env: &Envelope) {
        match env.origin {
            Some(o) => self.0.settle(Settle::Done { key: o.key, browser_id: env.browser_id().to_owned() }),
            None if self.0.cfg.journal => self.0.settle(Settle::Live { id: env.id.0 }),
            None => {}
        }
    }

    fn journals(&self) -> bool {
        self.0.cfg.journal
    }

    fn journal(&self, copies: Vec<Envelope>) {
        let inner = &*self.0;
        let n = copies.len() as u64;
        if inner.closed.load(Acquire) || inner.tx.try_send(Msg::Journal(copies)).is_err() {
            // Still in memory and still delivered; only a hard kill before that would lose them.
            inner.stats.journal_dropped.fetch_add(n, Relaxed);
            log::emit_once("journal-behind", log::Level::Warn, "xmcdp: the spool writer is behind; some events are not written ahead (see stats.spool.journal_dropped)");
        }
    }

    fn is_durable(&self) -> bool {
        true
    }
}
