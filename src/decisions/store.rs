//! The decision cache (opt-in per flow) and the prefetch ticket table. Both are bounded and swept by the
//! client's background task, so an unclaimed ticket or a stale entry never holds memory for long.

use crate::transport::call::Slot;
use super::Outcome;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub(crate) struct Cache {
    map: Mutex<HashMap<Arc<str>, (Instant, super::Decision)>>,
    max: usize,
}

impl Cache {
    pub(crate) fn new(max: usize) -> Cache {
        Cache { map: Mutex::new(HashMap::new()), max: max.max(1) }
    }

    pub(crate) fn get(&self, key: &str, now: Instant) -> Option<super::Decision> {
        let mut m = self.map.lock();
        match m.get(key) {
            Some((exp, d)) if *exp > now => Some(d.clone()),
            Some(_) => {
                m.remove(key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn insert(&self, key: Arc<str>, d: super::Decision, expires: Instant) {
        let mut m = self.map.lock();
        if m.len() >= self.max && !m.contains_key(&key) {
            let now = Instant::now();
            m.retain(|_, (exp, _)| *exp > now);
            if m.len() >= self.max {
                // Full of live entries: skip rather than evict at random; the entry is only an optimisation.
                return;
            }
        }
        m.insert(key, (expires, d));
    }

    pub(crate) fn sweep(&self, now: Instant) {
        self.map.lock().retain(|_, (exp, _)| *exp > now);
    }

    pub(crate) fn len(&self) -> usize {
        self.map.lock().len()
    }
}

/// A prefetch's shared answer and the moment its ticket expires.
type TicketEntry = (Arc<Slot<Outcome>>, Instant);

/// Ticket ids come from one counter for the whole process, so no two clients ever hold the same id: a
/// ticket handed to the wrong client is unknown there whatever else the ticket carries (issue 17: per-client
/// counters let client B claim client A's id 1 as its own).
static NEXT_TICKET: AtomicU64 = AtomicU64::new(1);

/// Ticket ids are consecutive numbers this module hands out, not caller-chosen keys, so a multiplicative hash
/// spreads them as well as SipHash at a fraction of its cost on the request thread; a caller passing made-up
/// ids only gets lookups that miss.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(crate) struct Tickets {
    map: Mutex<HashMap<u64, TicketEntry, BuildHasherDefault<IdHasher>>>,
    max: usize,
}

impl Tickets {
    pub(crate) fn new(max: usize) -> Tickets {
        Tickets { map: Mutex::new(HashMap::default()), max: max.max(1) }
    }

    pub(crate) fn insert(&self, slot: Arc<Slot<Outcome>>, expires: Instant) -> Option<u64> {
        let mut m = self.map.lock();
        if m.len() >= self.max {
            let now = Instant::now();
            m.retain(|_, (_, exp)| *exp > now);
            if m.len() >= self.max {
                return None;
            }
        }
        let id = NEXT_TICKET.fetch_add(1, Ordering::Relaxed);
        m.insert(id, (slot, expires));
        Some(id)
    }

    /// Removes the ticket (a ticket is claimed once); an expired one counts as unknown.
    pub(crate) fn take(&self, id: u64, now: Instant) -> Option<Arc<Slot<Outcome>>> {
        let (slot, exp) = self.map.lock().remove(&id)?;
        (exp > now).then_some(slot)
    }

    pub(crate) fn peek_ready(&self, id: u64) -> Option<bool> {
        self.map.lock().get(&id).map(|(s, _)| s.is_ready())
    }

    pub(crate) fn sweep(&self, now: Instant) -> usize {
        let mut m = self.map.lock();
        let before = m.len();
        m.retain(|_, (_, exp)| *exp > now);
        before - m.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.lock().len()
    }
}
