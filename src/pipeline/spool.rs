//! The seam where a durable spool plugs in. Events that leave the pipeline undelivered (queue full, retries
//! exhausted while the CDP is unreachable, shutdown deadline passed) are handed to an [`Overflow`]; today's
//! implementation counts and logs them, a disk-backed one will store them and replay them later.

use super::Envelope;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpillReason {
    QueueFull,
    RetriesExhausted,
    Shutdown,
}

impl SpillReason {
    pub fn label(self) -> &'static str {
        match self {
            SpillReason::QueueFull => "queue_full",
            SpillReason::RetriesExhausted => "retries_exhausted",
            SpillReason::Shutdown => "shutdown",
        }
    }
}

pub trait Overflow: Send + Sync + 'static {
    /// Takes ownership of events the pipeline could not deliver. Must not block for long: it runs on delivery
    /// tasks and, for `QueueFull`, possibly on a request thread.
    fn spill(&self, events: Vec<Envelope>, reason: SpillReason);
}

/// No durable storage: undelivered events are lost, and counted by the pipeline.
pub struct Discard;

impl Overflow for Discard {
    fn spill(&self, _events: Vec<Envelope>, _reason: SpillReason) {}
}
