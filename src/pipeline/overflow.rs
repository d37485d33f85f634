//! The seam where a durable spool plugs in. Events that leave the pipeline undelivered (queue full, retries
//! exhausted while the CDP is unreachable, shutdown deadline passed) are handed to an [`Overflow`]. [`Discard`]
//! counts nothing and keeps nothing (the pipeline counts them); `crate::spool::Spool` stores them on disk and
//! replays them later through a [`super::ReplaySink`].

use super::Envelope;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpillReason {
    QueueFull,
    RetriesExhausted,
    Shutdown,
    /// The CDP is unreachable (an event exhausted its retries and no delivery has succeeded since): queued
    /// events go to disk instead of each waiting out its own retry window in memory.
    Outage,
    /// The visitor already has events in the spool; this one queues behind them to keep the visitor's order.
    BehindSpooled,
}

impl SpillReason {
    pub fn label(self) -> &'static str {
        match self {
            SpillReason::QueueFull => "queue_full",
            SpillReason::RetriesExhausted => "retries_exhausted",
            SpillReason::Shutdown => "shutdown",
            SpillReason::Outage => "outage",
            SpillReason::BehindSpooled => "behind_spooled",
        }
    }
}

pub trait Overflow: Send + Sync + 'static {
    /// Takes events the pipeline could not deliver: all of them (`true`) or none (`false`, they are lost and
    /// the pipeline counts them). Must not block or touch the disk: it runs on delivery tasks and, for
    /// `QueueFull`, on request threads.
    fn spill(&self, events: Vec<Envelope>, reason: SpillReason) -> bool;

    /// Like `spill`, but what is not taken comes back to the caller instead of being lost (the queue-full path
    /// puts a visitor's waiting events back into its lane). Only durable overflows take anything.
    fn try_spill(&self, events: Vec<Envelope>, _reason: SpillReason) -> Result<(), Vec<Envelope>> {
        Err(events)
    }

    /// Whether a live event must go to the spool instead of the queue, to stay behind this visitor's spooled
    /// events; for a replayed event, whether it must go back (an older one of its visitor failed). Called on
    /// delivery tasks when an event reaches the head of its lane: cheap when the spool is empty.
    fn divert(&self, _env: &Envelope) -> bool {
        false
    }

    /// A replayed event ended for good (delivered, or rejected by a 4xx): the spool may forget it. Runs on a
    /// delivery task: must not block.
    fn settled(&self, _env: &Envelope) {}

    /// Journal mode (`durability: "journal"`): every accepted event is written ahead. `journal` takes copies
    /// of live events still in memory (it must not block or touch the disk); `settled` then also hears of live
    /// events, and a spilled live event replaces its journal copy.
    fn journals(&self) -> bool {
        false
    }

    fn journal(&self, _copies: Vec<Envelope>) {}

    /// Whether spilled events survive (enables outage mode: events go to disk rather than waiting in memory).
    fn is_durable(&self) -> bool {
        false
    }
}

/// No durable storage: undelivered events are lost, and counted by the pipeline.
pub struct Discard;

impl Overflow for Discard {
    fn spill(&self, _events: Vec<Envelope>, _reason: SpillReason) -> bool {
        false
    }
}
