//! Library log records, pulled by the host (`xmcdp_log_next`): no callbacks from native threads into the CLR.
//!
//! One bounded process-wide ring: the DLL outlives AppDomains, and whichever AppDomain is current drains it.
//! When nobody drains, the oldest records are dropped and counted rather than growing memory.

use once_cell::sync::Lazy;
use parking_lot::{Condvar, Mutex};
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub level: Level,
    pub message: String,
}

const CAPACITY: usize = 1024;

struct Ring {
    records: VecDeque<Record>,
    dropped: u64,
    seen_once: HashSet<String>,
}

static RING: Lazy<(Mutex<Ring>, Condvar)> = Lazy::new(|| {
    (
        Mutex::new(Ring { records: VecDeque::with_capacity(64), dropped: 0, seen_once: HashSet::new() }),
        Condvar::new(),
    )
});

/// Queues a record. Messages must already be free of secrets and personal data.
pub fn emit(level: Level, message: impl Into<String>) {
    let (lock, cv) = &*RING;
    let mut ring = lock.lock();
    if ring.records.len() >= CAPACITY {
        ring.records.pop_front();
        ring.dropped += 1;
    }
    ring.records.push_back(Record { level, message: message.into() });
    drop(ring);
    cv.notify_one();
}

/// Queues a record only the first time this `key` is seen in the process (log once per distinct problem).
pub fn emit_once(key: &str, level: Level, message: impl Into<String>) {
    {
        let (lock, _) = &*RING;
        let mut ring = lock.lock();
        if ring.seen_once.len() > 4096 || !ring.seen_once.insert(key.to_owned()) {
            return;
        }
    }
    emit(level, message);
}

/// Takes the oldest record, waiting up to `timeout` for one.
pub fn next(timeout: Duration) -> Option<Record> {
    let (lock, cv) = &*RING;
    let deadline = Instant::now() + timeout;
    let mut ring = lock.lock();
    loop {
        if let Some(r) = ring.records.pop_front() {
            return Some(r);
        }
        if cv.wait_until(&mut ring, deadline).timed_out() {
            return ring.records.pop_front();
        }
    }
}

/// Looks at the oldest record without taking it (lets a caller size its buffer first).
pub fn peek_len() -> Option<usize> {
    RING.0.lock().records.front().map(|r| r.message.len())
}

/// Puts a record back at the front (a caller whose buffer was too small).
pub fn push_front(record: Record) {
    let (lock, cv) = &*RING;
    lock.lock().records.push_front(record);
    cv.notify_one();
}

/// Records dropped because nobody drained the ring.
pub fn dropped() -> u64 {
    RING.0.lock().dropped
}

macro_rules! log_at {
    ($name:ident, $lvl:ident) => {
        pub fn $name(message: impl Into<String>) {
            emit(Level::$lvl, message)
        }
    };
}
log_at!(error, Error);
log_at!(warn, Warn);
log_at!(info, Info);
log_at!(debug, Debug);
