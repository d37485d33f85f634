//! Handle tables: the C side holds a `u64` id, never a pointer, so a double delete, a stale handle or
//! garbage becomes `XMCDP_STATUS_INVALID_HANDLE` instead of undefined behaviour.
//!
//! Layout of an id: bits 56..64 a per-table tag (a client id passed where a ticket is expected is
//! rejected), bits 32..56 the slot's generation (never 0, so 0 is never a valid handle), bits 0..32 the
//! slot index. A lookup is one read lock (plus an `Arc` clone for calls that may block).

use super::call::{FfiError, FfiResult};
use super::status::xmcdp_status_t::XMCDP_STATUS_INVALID_HANDLE;
use parking_lot::RwLock;
use std::sync::Arc;

const GEN_MASK: u64 = (1 << 24) - 1;

struct Slot<T> {
    generation: u32,
    value: Option<Arc<T>>,
}

pub struct HandleTable<T> {
    tag: u8,
    what: &'static str,
    inner: RwLock<Inner<T>>,
}

struct Inner<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
}

impl<T> HandleTable<T> {
    pub const fn new(tag: u8, what: &'static str) -> HandleTable<T> {
        HandleTable { tag, what, inner: RwLock::new(Inner { slots: Vec::new(), free: Vec::new() }) }
    }

    fn encode(&self, index: u32, generation: u32) -> u64 {
        (u64::from(self.tag) << 56) | ((u64::from(generation) & GEN_MASK) << 32) | u64::from(index)
    }

    fn decode(&self, handle: u64) -> Option<(usize, u32)> {
        if (handle >> 56) as u8 != self.tag {
            return None;
        }
        let generation = ((handle >> 32) & GEN_MASK) as u32;
        (generation != 0).then_some(((handle & 0xffff_ffff) as usize, generation))
    }

    fn invalid(&self, handle: u64) -> FfiError {
        FfiError::new(XMCDP_STATUS_INVALID_HANDLE, format!("{}: handle {handle:#x} is not live (deleted, stale or never issued)", self.what))
    }

    /// Stores `value` and returns its new handle.
    pub fn insert(&self, value: T) -> u64 {
        let mut inner = self.inner.write();
        let value = Some(Arc::new(value));
        if let Some(index) = inner.free.pop() {
            let slot = &mut inner.slots[index as usize];
            slot.value = value;
            let generation = slot.generation;
            drop(inner);
            return self.encode(index, generation);
        }
        let index = u32::try_from(inner.slots.len()).expect("fewer than 2^32 live handles");
        inner.slots.push(Slot { generation: 1, value });
        self.encode(index, 1)
    }

    /// A shared reference to the live value behind `handle`.
    pub fn get(&self, handle: u64) -> FfiResult<Arc<T>> {
        let (index, generation) = self.decode(handle).ok_or_else(|| self.invalid(handle))?;
        let inner = self.inner.read();
        match inner.slots.get(index) {
            Some(Slot { generation: g, value: Some(v) }) if *g == generation => Ok(Arc::clone(v)),
            _ => Err(self.invalid(handle)),
        }
    }

    /// Runs `f` on the live value behind `handle` under the table's read lock, without touching the
    /// value's reference count (the hot path: one atomic pair instead of two). `f` must not block:
    /// `insert`/`remove` wait for it.
    #[inline]
    pub fn with<R>(&self, handle: u64, f: impl FnOnce(&T) -> R) -> FfiResult<R> {
        let (index, generation) = self.decode(handle).ok_or_else(|| self.invalid(handle))?;
        let inner = self.inner.read();
        match inner.slots.get(index) {
            Some(Slot { generation: g, value: Some(v) }) if *g == generation => Ok(f(v)),
            _ => {
                drop(inner);
                Err(self.invalid(handle))
            }
        }
    }

    /// Removes the value; the handle (and every copy of it) is dead from now on. The value itself is
    /// dropped when the last in-flight call using it returns.
    pub fn remove(&self, handle: u64) -> FfiResult<Arc<T>> {
        let (index, generation) = self.decode(handle).ok_or_else(|| self.invalid(handle))?;
        let mut inner = self.inner.write();
        let slot = match inner.slots.get_mut(index) {
            Some(slot) if slot.generation == generation && slot.value.is_some() => slot,
            _ => return Err(self.invalid(handle)),
        };
        let value = slot.value.take().expect("checked above");
        // Bump the generation so old copies of this handle never match the slot's next occupant
        // (24 bits: a stale copy could only alias after 16M reuses of this one slot).
        let next = (slot.generation + 1) & GEN_MASK as u32;
        slot.generation = if next == 0 { 1 } else { next };
        inner.free.push(index as u32);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_double_and_foreign_handles_are_rejected() {
        let t: HandleTable<u32> = HandleTable::new(1, "test");
        let other: HandleTable<u32> = HandleTable::new(2, "other");
        let a = t.insert(10);
        assert_eq!(*t.get(a).unwrap(), 10);
        assert_eq!(t.with(a, |v| *v + 1).unwrap(), 11);
        assert_ne!(a, 0);
        assert!(t.get(0).is_err());
        assert!(t.get(u64::MAX).is_err());
        assert!(other.get(a).is_err());
        assert_eq!(*t.remove(a).unwrap(), 10);
        assert!(t.remove(a).is_err(), "double delete");
        assert!(t.get(a).is_err(), "stale");
        assert!(t.with(a, |_| ()).is_err(), "stale");
        let b = t.insert(20);
        assert_ne!(a, b, "slot reuse gets a new generation");
        assert!(t.get(a).is_err());
        assert_eq!(*t.get(b).unwrap(), 20);
    }
}
