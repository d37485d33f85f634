//! Counters and a latency histogram, updated lock-free from request threads and delivery tasks.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Log-linear histogram of microseconds: 8 sub-buckets per power of two (≤ 12.5% relative error), no allocation
/// on record.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_us: AtomicU64,
    max_us: AtomicU64,
}

const SUB: u64 = 8;
const BUCKETS: usize = 64 * SUB as usize;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros() as u64; // >= 3
    let sub = (v >> (exp - 3)) & (SUB - 1);
    ((exp - 2) * SUB + sub) as usize
}

/// Upper bound of a bucket (inclusive), in the histogram's unit.
fn bucket_high(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let exp = i / SUB + 2;
    let sub = i % SUB;
    ((SUB + sub + 1) << (exp - 3)) - 1
}

impl Histogram {
    pub fn record(&self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        self.buckets[bucket_of(us).min(BUCKETS - 1)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
        self.max_us.fetch_max(us, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// Value at quantile `q` (0..=1), as the upper bound of its bucket, in microseconds.
    pub fn quantile(&self, q: f64) -> u64 {
        let n = self.count();
        if n == 0 {
            return 0;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Relaxed);
            if seen >= rank {
                return bucket_high(i).min(self.max_us.load(Relaxed));
            }
        }
        self.max_us.load(Relaxed)
    }

    pub fn to_json(&self) -> serde_json::Value {
        let n = self.count();
        serde_json::json!({
            "count": n,
            "mean_us": if n == 0 { 0 } else { self.sum_us.load(Relaxed) / n },
            "p50_us": self.quantile(0.50),
            "p90_us": self.quantile(0.90),
            "p99_us": self.quantile(0.99),
            "max_us": self.max_us.load(Relaxed),
        })
    }
}

/// Delivery pipeline counters. `failed` and `retried` are keyed by reason label (`http_503`, `connect`…).
#[derive(Default)]
pub struct PipelineStats {
    pub enqueued: AtomicU64,
    pub sent: AtomicU64,
    pub rejected_invalid: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_oldest: AtomicU64,
    pub spilled: AtomicU64,
    pub in_flight: AtomicU64,
    pub retried: Mutex<BTreeMap<String, u64>>,
    pub failed: Mutex<BTreeMap<String, u64>>,
    pub latency: Histogram,
}

impl PipelineStats {
    pub fn bump(map: &Mutex<BTreeMap<String, u64>>, key: String) {
        *map.lock().entry(key).or_insert(0) += 1;
    }

    pub fn total(map: &Mutex<BTreeMap<String, u64>>) -> u64 {
        map.lock().values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_cover_values() {
        let mut last = 0;
        for v in [0u64, 1, 7, 8, 9, 15, 16, 100, 1000, 123_456, u64::MAX / 2] {
            let b = bucket_of(v);
            assert!(b >= last);
            last = b;
            assert!(bucket_high(b) >= v, "{v} above its bucket {b} high {}", bucket_high(b));
            if b > 0 {
                assert!(bucket_high(b - 1) < v, "{v} below bucket {b}");
            }
        }
    }

    #[test]
    fn quantiles() {
        let h = Histogram::default();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile(0.5);
        assert!((500..=563).contains(&p50), "{p50}");
        let p99 = h.quantile(0.99);
        assert!((990..=1000).contains(&p99), "{p99}");
        assert_eq!(h.count(), 1000);
    }
}
