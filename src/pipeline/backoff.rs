//! Exponential backoff with full jitter, and `Retry-After` honoured up to a cap.

use crate::config::RetryPolicy;
use std::time::Duration;

/// Small xorshift generator: jitter needs spread, not unpredictability, and this keeps the crate dependency-free.
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Jitter {
        Jitter(seed | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Delay before retry number `attempt` (1 = the first retry).
pub fn delay(policy: &RetryPolicy, attempt: u32, retry_after: Option<Duration>, jitter: &mut Jitter) -> Duration {
    let exp = policy.base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let ceiling = exp.min(policy.max_backoff);
    let jittered = ceiling.mul_f64(jitter.unit());
    match retry_after {
        // The server said when; believe it (capped), it knows its own load better than our jitter does.
        Some(ra) => ra.min(policy.retry_after_cap).max(jittered.min(policy.retry_after_cap)),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy { max_attempts: 5, base: Duration::from_millis(100), max_backoff: Duration::from_secs(2), retry_after_cap: Duration::from_secs(5) }
    }

    #[test]
    fn full_jitter_stays_under_the_exponential_ceiling() {
        let p = policy();
        let mut j = Jitter::new(42);
        for attempt in 1..10 {
            let ceiling = Duration::from_millis(100 * (1 << (attempt - 1))).min(p.max_backoff);
            let mut seen_low = false;
            for _ in 0..200 {
                let d = delay(&p, attempt, None, &mut j);
                assert!(d <= ceiling, "{d:?} > {ceiling:?}");
                seen_low |= d < ceiling / 2;
            }
            assert!(seen_low, "jitter never went below half the ceiling");
        }
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = policy();
        let mut j = Jitter::new(7);
        assert!(delay(&p, 1, Some(Duration::from_secs(3)), &mut j) >= Duration::from_secs(3));
        assert_eq!(delay(&p, 1, Some(Duration::from_secs(600)), &mut j), Duration::from_secs(5));
    }
}
