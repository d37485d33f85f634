//! Circuit breaker for the decision path. The check is a couple of atomic loads and one clock read, so
//! during an outage a page pays well under a microsecond instead of its whole budget.
//!
//! Closed → (N consecutive failures) → Open → (cool-down elapsed: one probe) → HalfOpen → success: Closed,
//! failure: Open again. Any success closes it (the service answered).

use crate::log;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// A probe that never reports back (its caller joined another call) is replaced after this long.
const STALE_PROBE: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Permit {
    Normal,
    Probe,
}

pub(crate) struct Breaker {
    base: Instant,
    state: AtomicU8,
    failures: AtomicU32,
    /// Open: end of the cool-down. HalfOpen: when a silent probe counts as lost.
    until_ns: AtomicU64,
    threshold: u32,
    cooldown_ns: u64,
    pub(crate) opened: AtomicU64,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker {
            base: Instant::now(),
            state: AtomicU8::new(CLOSED),
            failures: AtomicU32::new(0),
            until_ns: AtomicU64::new(0),
            threshold: threshold.max(1),
            cooldown_ns: cooldown.as_nanos().min(u64::MAX as u128) as u64,
            opened: AtomicU64::new(0),
        }
    }

    fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    pub(crate) fn state(&self) -> BreakerState {
        match self.state.load(Ordering::Acquire) {
            CLOSED => BreakerState::Closed,
            OPEN => BreakerState::Open,
            _ => BreakerState::HalfOpen,
        }
    }

    /// `None` = fail fast.
    #[inline]
    pub(crate) fn acquire(&self) -> Option<Permit> {
        match self.state.load(Ordering::Acquire) {
            CLOSED => Some(Permit::Normal),
            OPEN => {
                let now = self.now_ns();
                if now < self.until_ns.load(Ordering::Acquire) {
                    return None;
                }
                if self.state.compare_exchange(OPEN, HALF_OPEN, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                    self.until_ns.store(now + self.cooldown_ns.max(STALE_PROBE.as_nanos() as u64), Ordering::Release);
                    Some(Permit::Probe)
                } else {
                    None
                }
            }
            _ => {
                let now = self.now_ns();
                let until = self.until_ns.load(Ordering::Acquire);
                if now >= until
                    && self
                        .until_ns
                        .compare_exchange(until, now + self.cooldown_ns.max(STALE_PROBE.as_nanos() as u64), Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                {
                    Some(Permit::Probe)
                } else {
                    None
                }
            }
        }
    }

    /// The probe permit was not used for a call: let the next request probe instead.
    pub(crate) fn release_probe(&self) {
        self.until_ns.store(self.now_ns(), Ordering::Release);
        let _ = self.state.compare_exchange(HALF_OPEN, OPEN, Ordering::AcqRel, Ordering::Acquire);
    }

    pub(crate) fn on_success(&self) {
        self.failures.store(0, Ordering::Release);
        if self.state.swap(CLOSED, Ordering::AcqRel) != CLOSED {
            log::info("xmcdp: decisions circuit breaker closed (the flow service answered again)");
        }
    }

    pub(crate) fn on_failure(&self, permit: Permit, reason: &str) {
        let now = self.now_ns();
        match (permit, self.state.load(Ordering::Acquire)) {
            (Permit::Probe, _) => {
                self.until_ns.store(now + self.cooldown_ns, Ordering::Release);
                self.state.store(OPEN, Ordering::Release);
                self.opened.fetch_add(1, Ordering::Relaxed);
            }
            (Permit::Normal, CLOSED) => {
                let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
                if n >= self.threshold {
                    self.until_ns.store(now + self.cooldown_ns, Ordering::Release);
                    if self.state.compare_exchange(CLOSED, OPEN, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                        self.opened.fetch_add(1, Ordering::Relaxed);
                        log::warn(format!(
                            "xmcdp: decisions circuit breaker opened after {n} consecutive failures (last: {reason}); failing fast for {} ms",
                            self.cooldown_ns / 1_000_000
                        ));
                    }
                }
            }
            // Stragglers from before the breaker opened: the probe decides.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_probes_and_closes() {
        let b = Breaker::new(3, Duration::from_millis(30));
        for _ in 0..2 {
            assert_eq!(b.acquire(), Some(Permit::Normal));
            b.on_failure(Permit::Normal, "x");
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.on_success();
        for _ in 0..3 {
            b.on_failure(Permit::Normal, "x");
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.acquire(), None);
        std::thread::sleep(Duration::from_millis(35));
        assert_eq!(b.acquire(), Some(Permit::Probe));
        assert_eq!(b.acquire(), None, "one probe at a time");
        b.on_failure(Permit::Probe, "x");
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.acquire(), None);
        std::thread::sleep(Duration::from_millis(35));
        assert_eq!(b.acquire(), Some(Permit::Probe));
        b.release_probe();
        assert_eq!(b.acquire(), Some(Permit::Probe));
        b.on_success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.acquire(), Some(Permit::Normal));
        assert_eq!(b.opened.load(Ordering::Relaxed), 2);
    }
}
