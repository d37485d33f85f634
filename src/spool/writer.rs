//! The writer thread: batches spilled events, commits them durably, enforces the cap, and at close hands
//! the file back.

use super::*;

impl Writer {
    pub(super) fn new(inner: Arc<Inner>, db: Database) -> Writer {
        Writer {
            inner,
            db,
            next_key: 0,
            count: 0,
            bytes: 0,
            batch: Vec::new(),
            batch_since: None,
            in_flight: HashSet::new(),
            delivered: HashSet::new(),
            delivered_since: None,
            cursor: 0,
            rewind: false,
            offer_epoch: 0,
            last_probe: None,
            last_adopt: Instant::now(),
            own_from: u64::MAX,
            file: FileCap { compacted_len: 0, commit_bytes: 0 },
            journal: journal::Journal::default(),
        }
    }

    pub(super) fn publish(&self) {
        let s = &self.inner.stats;
        s.depth.store(self.count, Relaxed);
        s.bytes.store(self.bytes, Relaxed);
        s.in_flight.store(self.in_flight.len() as u64, Relaxed);
        s.file_bytes.store(std::fs::metadata(&self.inner.path).map(|m| m.len()).unwrap_or(0), Relaxed);
        s.oldest_accepted_unix_ms.store(if self.count == 0 { 0 } else { self.oldest_accepted().unwrap_or(0) }, Relaxed);
    }

    /// Keys grow with each commit, so the first row is the oldest spooled event (a replay in flight included, until
    /// its delivery is committed). One read transaction on the writer thread, only when the spool is not empty.
    fn oldest_accepted(&self) -> Option<u64> {
        let txn = self.db.begin_read().ok()?;
        let table = txn.open_table(TABLE).ok()?;
        let (_, v) = table.first().ok()??;
        Record::decode(v.value()).map(|r| r.accepted_unix_ms)
    }

    pub(super) fn hold_visitor(&self, bid: &str) {
        if bid.is_empty() {
            return;
        }
        let mut v = self.inner.visitors.lock();
        *v.entry(bid.to_owned()).or_insert(0) += 1;
        self.inner.visitor_count.store(v.len(), Release);
    }

    pub(super) fn run(&mut self, rx: Receiver<Msg>) {
        loop {
            let interval = self.inner.cfg.commit_interval;
            let since = [self.batch_since, self.delivered_since, self.journal.since, self.journal.deletes_since].into_iter().flatten().min();
            let timeout = match since {
                Some(t) => interval.saturating_sub(t.elapsed()),
                // Replay waiting for room in the pipeline or for the next probe: look again soon. Settles do not
                // need this (they send a wake).
                None if self.count > 0 => Duration::from_millis(10),
                None => Duration::from_secs(1),
            };
            let mut close = None;
            match rx.recv_timeout(timeout) {
                Ok(Msg::Spill(v)) => self.take(v),
                Ok(Msg::Journal(v)) => self.journal.take(v),
                Ok(Msg::Wake) => {}
                Ok(Msg::Close(reply)) => close = Some(Some(reply)),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => close = Some(None),
            }
            // Take whatever else is already waiting, without blocking.
            while close.is_none() && self.batch.len() < self.inner.cfg.commit_max_events {
                match rx.try_recv() {
                    Ok(Msg::Spill(v)) => self.take(v),
                    Ok(Msg::Journal(v)) => self.journal.take(v),
                    Ok(Msg::Wake) => {}
                    Ok(Msg::Close(reply)) => close = Some(Some(reply)),
                    Err(_) => {
                        self.journal.channel_drained();
                        break;
                    }
                }
            }
            if let Some(reply) = close {
                // Spills sent before the close request are already in the channel ahead of it.
                while let Ok(m) = rx.try_recv() {
                    match m {
                        Msg::Spill(v) => self.take(v),
                        Msg::Journal(v) => self.journal.take(v),
                        _ => {}
                    }
                }
                self.commit();
                let left = self.finish();
                if let Some(r) = reply {
                    let _ = r.send(left);
                }
                return;
            }
            self.drain_settles();
            let max = self.inner.cfg.commit_max_events;
            let due = self.batch_since.is_some_and(|t| t.elapsed() >= interval)
                || self.delivered_since.is_some_and(|t| t.elapsed() >= interval)
                || self.batch.len() >= max
                || self.delivered.len() >= max
                || self.journal.since.is_some_and(|t| t.elapsed() >= interval)
                || self.journal.deletes_since.is_some_and(|t| t.elapsed() >= interval)
                || self.journal.waiting() >= max;
            if due {
                self.commit();
            }
            if self.last_adopt.elapsed() >= ADOPT_INTERVAL {
                self.adopt_orphans();
            }
            self.replay();
        }
    }

    pub(super) fn take(&mut self, v: Vec<Envelope>) {
        self.inner.pending.fetch_sub(v.len(), AcqRel);
        if self.batch_since.is_none() {
            self.batch_since = Some(Instant::now());
        }
        if self.inner.cfg.journal {
            // Into `TABLE` in the next commit, out of the journal in the same one.
            for env in v.iter().filter(|e| e.origin.is_none()) {
                self.journal.forget(env.id.0);
            }
        }
        self.batch.extend(v);
    }

    /// Takes the settles the delivery tasks left. A delivered replay stops holding its visitor at once (it can no
    /// longer be overtaken) and waits for the next commit to be deleted; one that came back stops replay until
    /// every replay out has settled (see `replay`).
    pub(super) fn drain_settles(&mut self) {
        // Cleared before taking: a settle pushed after the take sends a new wake.
        self.inner.wake_sent.store(false, Release);
        let settles = std::mem::take(&mut *self.inner.settles.lock());
        for s in settles {
            match s {
                Settle::Done { key, browser_id } => {
                    if self.in_flight.remove(&key) {
                        self.inner.forget_visitor(&browser_id, 1);
                        self.delivered.insert(key);
                        self.delivered_since.get_or_insert_with(Instant::now);
                    }
                }
                Settle::Back { key } => {
                    if self.in_flight.remove(&key) {
                        self.rewind = true;
                    }
                }
                Settle::Live { id } => self.journal.forget(id),
            }
        }
    }

    /// One durable transaction: the waiting batch, deletions of delivered replays, the cap.
    pub(super) fn commit(&mut self) {
        self.drain_settles();
        if self.batch.is_empty() && self.delivered.is_empty() && self.journal.waiting() == 0 {
            self.journal.committed(Some(Vec::new()), &self.inner.stats);
            return;
        }
        let t0 = Instant::now();
        let batch = std::mem::take(&mut self.batch);
        self.batch_since = None;
        let mut records = Vec::with_capacity(batch.len());
        for env in &batch {
            let r = self.inner.renderer.to_rendered(env);
            records.push(Record {
                id: env.id.0,
                accepted_unix_ms: env.accepted_unix_ms,
                event_type: r.event_type,
                browser_id: r.browser_id,
                user_agent: env.user_agent().map(str::to_owned),
                body: r.body.to_vec(),
            });
        }
        drop(batch);
        let mut added = 0u64;
        let mut added_bytes = 0u64;
        let mut removed = 0u64;
        let mut removed_bytes = 0u64;
        let mut journaled = None;
        let r = (|| -> Result<(), redb::Error> {
            let txn = self.db.begin_write()?;
            let j = self.journal.write(&txn, &self.inner.renderer)?;
            {
                let mut t = txn.open_table(TABLE)?;
                for (i, rec) in records.iter().enumerate() {
                    let bytes = rec.encode();
                    t.insert(self.next_key + i as u64, bytes.as_slice())?;
                    added += 1;
                    added_bytes += bytes.len() as u64;
                }
                for key in &self.delivered {
                    if let Some(v) = t.remove(*key)? {
                        removed += 1;
                        removed_bytes += v.value().len() as u64;
                    }
                }
            }
            txn.commit()?;
            journaled = Some(j);
            Ok(())
        })();
        self.journal.committed(journaled, &self.inner.stats);
        match r {
            Ok(()) => {
                self.next_key += added;
                self.count += added;
                self.bytes += added_bytes;
                self.file.commit_bytes = added_bytes;
                self.inner.stats.spooled.fetch_add(added, Relaxed);
                self.count = self.count.saturating_sub(removed);
                self.bytes = self.bytes.saturating_sub(removed_bytes);
                self.inner.stats.replayed.fetch_add(removed, Relaxed);
                self.delivered.clear();
                self.delivered_since = None;
                self.inner.stats.commits.fetch_add(1, Relaxed);
                self.inner.stats.last_commit_us.store(t0.elapsed().as_micros() as u64, Relaxed);
            }
            Err(e) => {
                // The batch is lost; count it as dropped and release its visitors so they are not held forever.
                // Delivered replays stay listed and are deleted by a later commit.
                self.inner.stats.commit_errors.fetch_add(1, Relaxed);
                self.inner.stats.dropped.fetch_add(records.len() as u64, Relaxed);
                for rec in &records {
                    self.inner.forget_visitor(&rec.browser_id, 1);
                }
                log::emit_once("spool-commit", log::Level::Error, format!("xmcdp: the spool cannot commit ({e}); spilled events are being lost"));
            }
        }
        self.enforce_file_cap();
        if self.count == 0 && self.in_flight.is_empty() && self.inner.stats.file_bytes.load(Relaxed) > 8 << 20 {
            let _ = self.db.compact();
        }
        self.publish();
    }

    /// `spoolMaxBytes` (+ [`FILE_OVERHEAD`]) bounds the file on disk too. redb's file is several times the records
    /// it holds (half-full leaves on appends, pages freed only two commits later, growth by doubling:
    /// RELIABILITY.md, "Disk cap"), so the records get [`RECORD_SHARE`] of the cap, less room for the next
    /// commits. If a commit still takes the file past the cap (a burst, the journal's churn), the records are
    /// evicted to half and the file compacted, once per growth (a file that compaction cannot bring under the cap
    /// is not compacted again until it grows).
    pub(super) fn enforce_file_cap(&mut self) {
        let limit = self.inner.cfg.max_bytes + FILE_OVERHEAD;
        let len = std::fs::metadata(&self.inner.path).map(|m| m.len()).unwrap_or(0);
        if len <= limit || len <= self.file.compacted_len {
            // Room for two more commits like the last one: a commit's pages are taken before the eviction after it
            // frees any, and freed pages are reused only two commits later. Never below a sixteenth of the cap, so
            // a burst does not empty the spool (the file then passes the cap once, and is compacted).
            let share = self.inner.cfg.max_bytes / RECORD_SHARE;
            self.enforce_cap(share.saturating_sub(2 * self.file.commit_bytes).max(self.inner.cfg.max_bytes / 16));
            return;
        }
        self.enforce_cap(self.bytes / 2);
        if self.db.compact().is_ok() {
            self.inner.stats.compactions.fetch_add(1, Relaxed);
        }
        self.file.compacted_len = std::fs::metadata(&self.inner.path).map(|m| m.len()).unwrap_or(0);
    }

    /// Evicts the oldest records (never one in flight or delivered) until they take at most `cap` bytes.
    pub(super) fn enforce_cap(&mut self, cap: u64) {
        if self.bytes <= cap {
            return;
        }
        let mut evicted = Vec::new();
        let r = (|| -> Result<(), redb::Error> {
            let txn = self.db.begin_write()?;
            {
                let mut t = txn.open_table(TABLE)?;
                let mut victims = Vec::new();
                let mut freed = 0u64;
                for item in t.iter()? {
                    let (k, v) = item?;
                    if self.bytes - freed <= cap {
                        break;
                    }
                    if self.in_flight.contains(&k.value()) || self.delivered.contains(&k.value()) {
                        continue;
                    }
                    let len = v.value().len() as u64;
                    freed += len;
                    victims.push((k.value(), len, Record::decode(v.value()).map(|r| r.browser_id).unwrap_or_default()));
                }
                for (k, len, bid) in victims {
                    t.remove(k)?;
                    evicted.push((len, bid));
                }
            }
            txn.commit()?;
            Ok(())
        })();
        if r.is_ok() {
            for (len, bid) in &evicted {
                self.count -= 1;
                self.bytes = self.bytes.saturating_sub(*len);
                self.inner.forget_visitor(bid, 1);
            }
            self.inner.stats.evicted.fetch_add(evicted.len() as u64, Relaxed);
            if !evicted.is_empty() {
                log::emit_once("spool-evict", log::Level::Warn, "xmcdp: the spool reached spoolMaxBytes; the oldest events are being evicted (see stats.spool.evicted)");
            }
        }
    }

    /// Deletes the file when nothing is left in it; otherwise leaves it (unlocked) for adoption.
    pub(super) fn finish(&mut self) -> u64 {
        // Replays still out count as undelivered: they stay in the file.
        self.inner.settles.lock().clear();
        self.in_flight.clear();
        self.delivered.clear();
        // Journal rows left (events settled after the last commit, or never settled) keep the file for the next
        // process, which sends them again: the receiver drops those already delivered.
        let left = self.count + self.journal.rows();
        self.publish();
        let path = self.inner.path.clone();
        // Drop the database (releases the lock) by swapping in nothing: the writer ends right after.
        let db = std::mem::replace(&mut self.db, placeholder_db());
        drop(db);
        if left == 0 {
            let _ = std::fs::remove_file(&path);
            self.inner.stats.file_bytes.store(0, Relaxed);
        }
        left
    }
}
