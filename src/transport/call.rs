//! Budgeted calls from host threads. A [`Slot`] is a one-shot result shared by any number of host threads: the
//! runtime task fills it once, every waiter blocks on a condvar with its own deadline. Host threads never enter
//! the tokio runtime, so a foreign (CLR) thread can wait without a runtime context, and a waiter that gives up
//! leaves nothing behind. [`RuntimeLink`] is the features' view of the client's runtime: it answers `ShutDown`
//! once the client has shut down.

use crate::error::{Error, ErrorKind, Result};
use parking_lot::{Condvar, Mutex};
use std::future::Future;
use std::sync::Arc;
use parking_lot::RwLock;
use std::time::{Duration, Instant};

/// The client's runtime as the features see it: a handle until the client shuts down, then `ShutDown`.
#[derive(Clone)]
pub(crate) struct RuntimeLink(Arc<RwLock<Option<tokio::runtime::Handle>>>);

impl RuntimeLink {
    pub(crate) fn new(handle: &tokio::runtime::Handle) -> RuntimeLink {
        RuntimeLink(Arc::new(RwLock::new(Some(handle.clone()))))
    }

    pub(crate) fn handle(&self) -> Result<tokio::runtime::Handle> {
        self.0.read().clone().ok_or_else(|| Error::new(ErrorKind::ShutDown, "the client is shut down"))
    }

    /// Called by the client as it stops its runtime; later calls answer `ShutDown` without spawning.
    pub(crate) fn close(&self) {
        *self.0.write() = None;
    }
}

pub(crate) struct Slot<T> {
    value: Mutex<Option<T>>,
    cv: Condvar,
}

impl<T: Clone> Slot<T> {
    pub(crate) fn new() -> Arc<Slot<T>> {
        Arc::new(Slot { value: Mutex::new(None), cv: Condvar::new() })
    }

    pub(crate) fn filled(v: T) -> Arc<Slot<T>> {
        Arc::new(Slot { value: Mutex::new(Some(v)), cv: Condvar::new() })
    }

    /// First value wins; later ones are ignored.
    pub(crate) fn set(&self, v: T) {
        let mut g = self.value.lock();
        if g.is_none() {
            *g = Some(v);
            drop(g);
            self.cv.notify_all();
        }
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.value.lock().is_some()
    }

    /// The value, waiting until `deadline` at most.
    pub(crate) fn wait_until(&self, deadline: Instant) -> Option<T> {
        let mut g = self.value.lock();
        loop {
            if let Some(v) = &*g {
                return Some(v.clone());
            }
            if self.cv.wait_until(&mut g, deadline).timed_out() {
                return g.clone();
            }
        }
    }
}

impl<T: Clone> Slot<T> {
    /// [`Slot::wait_until`] for a holder that gives its share up: when no one else holds the slot any more (a
    /// prefetch claimed after its task finished), the value is moved out rather than cloned.
    pub(crate) fn claim_until(self: Arc<Self>, deadline: Instant) -> Option<T> {
        match Arc::try_unwrap(self) {
            // Nobody else can fill it now; the producer's guard fills it before letting go, so this is filled.
            Ok(slot) => slot.value.into_inner(),
            Err(shared) => shared.wait_until(deadline),
        }
    }
}

/// Runs `fut` on the client's runtime and blocks the calling (host) thread for at most `budget`. The future is
/// cancelled at the same deadline, so nothing outlives the call. When the runtime drops the task instead
/// (the client shut down mid-call, or before the task could start), the waiter hears `ShutDown` at once
/// rather than waiting out its budget.
pub(crate) fn run_within<T, F>(rt: &tokio::runtime::Handle, budget: Duration, what: &str, fut: F) -> Result<T>
where
    T: Clone + Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    let deadline = Instant::now() + budget;
    let slot: Arc<Slot<Result<T>>> = Slot::new();
    let guard = FillOnDrop { slot: slot.clone(), what: what.to_string() };
    rt.spawn(async move {
        let r = match tokio::time::timeout(budget, fut).await {
            Ok(r) => r,
            Err(_) => Err(timeout_error(&guard.what, budget)),
        };
        guard.slot.set(r);
    });
    slot.wait_until(deadline).unwrap_or_else(|| Err(timeout_error(what, budget)))
}

/// Owned by the task: dropping it unfilled means the runtime dropped the task (shutdown).
struct FillOnDrop<T: Clone> {
    slot: Arc<Slot<Result<T>>>,
    what: String,
}

impl<T: Clone> Drop for FillOnDrop<T> {
    fn drop(&mut self) {
        // `set` keeps the first value, so after a normal completion this is a no-op.
        self.slot.set(Err(Error::new(ErrorKind::ShutDown, format!("the client shut down during {}", self.what))));
    }
}

pub(crate) fn timeout_error(what: &str, budget: Duration) -> Error {
    Error::new(ErrorKind::Timeout, format!("{what} did not complete within {} ms", budget.as_millis()))
}
