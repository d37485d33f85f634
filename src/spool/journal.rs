//! Journal mode (`durability: "journal"`): copies of live events still in the pipeline, written ahead in the
//! writer's group commits, so a hard kill loses at most about one commit interval in every state (not only
//! during an outage).
//!
//! - The pipeline sends copies (`Msg::Journal`) from its ticker and lane tasks, never from a request thread.
//! - A delivered or rejected live event (`Settle::Live`) and a spilled one (it moves to `TABLE` in the same
//!   transaction) leave the journal. One that ends before its commit is never written at all, so while the CDP
//!   keeps up most events cost no disk write beyond the commit that carries the few still in flight.
//! - A settle can overtake its copy (settles do not go through the channel, copies are sent first): it is
//!   remembered and cancels the copy when that arrives. Once the writer has seen the channel empty after the
//!   settle, every copy sent before it has arrived, so one still unmatched never had a copy (an event spilled
//!   before it was journaled) and is forgotten.
//! - The writing process never replays its journal (the events are in its lanes); the next process adopts
//!   the rows into `TABLE`, behind the spooled records. Rows of events that were delivered just before a kill
//!   are sent again and dropped by the receiver by `Idempotency-Key`.

use super::*;
use std::collections::HashMap;

#[derive(Default)]
pub(super) struct Journal {
    next_key: u64,
    batch: Vec<Envelope>,
    batch_ids: HashSet<u128>,
    pub(super) since: Option<Instant>,
    cancelled: HashSet<u128>,
    /// Rows on disk: event id → journal key.
    written: HashMap<u128, u64>,
    deletes: Vec<u64>,
    pub(super) deletes_since: Option<Instant>,
    /// Settles that overtook their copy.
    early: HashSet<u128>,
    /// Copies that were not written because their event had already left the pipeline, counted in
    /// `journal_skipped` once the commit that carries the rest (and any spill of theirs) is done: together with
    /// `journaled`, a count of events that a hard kill no longer loses.
    skipped: u64,
}

impl Journal {
    pub(super) fn take(&mut self, v: Vec<Envelope>) {
        for env in v {
            let id = env.id.0;
            if self.early.remove(&id) {
                self.skipped += 1;
                continue;
            }
            self.since.get_or_insert_with(Instant::now);
            self.batch_ids.insert(id);
            self.batch.push(env);
        }
    }

    /// A live event left the pipeline (delivered, rejected, or spilled into `TABLE`).
    pub(super) fn forget(&mut self, id: u128) {
        if let Some(k) = self.written.remove(&id) {
            self.deletes.push(k);
            self.deletes_since.get_or_insert_with(Instant::now);
        } else if self.batch_ids.remove(&id) {
            self.cancelled.insert(id);
        } else {
            self.early.insert(id);
        }
    }

    /// The writer found the channel empty: every copy sent before the settles it already holds has arrived.
    pub(super) fn channel_drained(&mut self) {
        self.early.clear();
    }

    pub(super) fn waiting(&self) -> usize {
        self.batch.len() + self.deletes.len()
    }

    pub(super) fn rows(&self) -> u64 {
        self.written.len() as u64
    }

    /// Writes the batch and the deletions inside the writer's transaction. Returns the keys written.
    pub(super) fn write(&mut self, txn: &redb::WriteTransaction, renderer: &BodyRenderer) -> Result<Vec<(u128, u64)>, redb::Error> {
        let mut added = Vec::new();
        if self.batch.is_empty() && self.deletes.is_empty() {
            return Ok(added);
        }
        let mut t = txn.open_table(JOURNAL)?;
        let mut key = self.next_key;
        for env in &self.batch {
            if self.cancelled.contains(&env.id.0) {
                continue;
            }
            let r = renderer.to_rendered(env);
            let rec = Record { id: env.id.0, accepted_unix_ms: env.accepted_unix_ms, event_type: r.event_type, browser_id: r.browser_id, user_agent: env.user_agent().map(str::to_owned), body: r.body.to_vec() };
            t.insert(key, rec.encode().as_slice())?;
            added.push((env.id.0, key));
            key += 1;
        }
        for k in &self.deletes {
            t.remove(*k)?;
        }
        self.skipped += (self.batch.len() - added.len()) as u64;
        Ok(added)
    }

    /// After the transaction: on success the rows are on disk; on failure the batch is lost (still in memory,
    /// delivered as usual) and the deletions are tried again.
    pub(super) fn committed(&mut self, added: Option<Vec<(u128, u64)>>, stats: &Stats) {
        let lost = self.batch.len();
        self.batch.clear();
        self.batch_ids.clear();
        self.cancelled.clear();
        self.since = None;
        match added {
            Some(added) => {
                self.next_key = added.last().map_or(self.next_key, |(_, k)| k + 1);
                stats.journaled.fetch_add(added.len() as u64, Relaxed);
                stats.journal_skipped.fetch_add(std::mem::take(&mut self.skipped), Relaxed);
                self.written.extend(added);
                self.deletes.clear();
                self.deletes_since = None;
            }
            None => {
                stats.journal_dropped.fetch_add(lost as u64, Relaxed);
            }
        }
        stats.journal_depth.store(self.written.len() as u64, Relaxed);
    }
}
