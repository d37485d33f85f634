//! What an accepted event really occupies in memory, for the byte-bounded queue (`queueMaxBytes`).
//!
//! Counting JSON text or string lengths undercounts parsed values up to 5x (issue 17): every
//! `serde_json::Value` is a 72-byte slot whatever it holds (`0`, `[]` and `{}` are 1-2 bytes of JSON), a parsed
//! array keeps the spare capacity it grew into, and every map entry carries a hash, a key and an index. So
//! this walks the value once and charges slots, capacities and allocator overhead. The walk is the one the
//! estimate always did (no allocation), so the request thread pays nothing more.

use serde_json::{Map, Value};
use std::mem::size_of;

const SLOT: usize = size_of::<Value>();
/// An `IndexMap` entry: the cached hash, the key and the value.
const ENTRY: usize = size_of::<usize>() + size_of::<String>() + SLOT;

/// One heap allocation of `n` bytes: size-class rounding (at most 1/8 in mimalloc's small classes) and
/// bookkeeping.
pub(crate) fn alloc(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        n + n / 8 + 16
    }
}

pub(crate) fn string(s: &str, capacity: usize) -> usize {
    alloc(capacity.max(s.len()))
}

pub(crate) fn opt(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, |s| string(s, s.capacity()))
}

/// Heap owned by `v` (its own slot is counted by whatever holds it).
pub(crate) fn value(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(s) => string(s, s.capacity()),
        Value::Array(a) => alloc(a.capacity() * SLOT) + a.iter().map(value).sum::<usize>(),
        Value::Object(o) => map(o),
    }
}

/// Heap owned by a map: its entries (which grow by doubling, and `serde_json::Map` does not tell its
/// capacity, so the next power of two), its hash index, its keys and what its values own.
pub(crate) fn map(m: &Map<String, Value>) -> usize {
    if m.is_empty() {
        return 0;
    }
    let n = m.len().next_power_of_two();
    let index_buckets = (m.len() * 8 / 7 + 1).next_power_of_two();
    alloc(n * ENTRY) + alloc(index_buckets * (size_of::<usize>() + 1)) + m.iter().map(|(k, v)| string(k, k.capacity()) + value(v)).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_json_values_are_charged_their_slots() {
        let numbers: Value = serde_json::from_str(&format!("[{}]", vec!["0"; 1000].join(","))).unwrap();
        // 1000 numbers are 2 KB of JSON but at least 72 KB of slots.
        assert!(value(&numbers) >= 1000 * SLOT, "{}", value(&numbers));
        let objects: Value = serde_json::from_str(&format!("[{}]", vec!["{}"; 1000].join(","))).unwrap();
        assert!(value(&objects) >= 1000 * SLOT);
        assert_eq!(value(&Value::Null), 0);
    }
}
