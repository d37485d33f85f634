//! The one wrapper every export goes through: runs the body under `catch_unwind`, turns its `Result`
//! (or a panic) into a stable status and records the message for `xmcdp_last_error`.
//!
//! A panic unwinding across `extern "C"` aborts the process, which inside IIS takes the whole worker
//! down, so nothing may escape; compare libsignal's `run_ffi_safe` and wasmtime's `handle_result`.

use super::status::xmcdp_status_t;
use std::any::Any;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// An FFI-level failure: a status plus a message fit for logs (names fields, never values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfiError {
    pub status: xmcdp_status_t,
    pub message: String,
}

impl FfiError {
    pub fn new(status: xmcdp_status_t, message: impl Into<String>) -> FfiError {
        FfiError { status, message: message.into() }
    }
}

impl From<crate::error::Error> for FfiError {
    fn from(e: crate::error::Error) -> FfiError {
        FfiError { status: e.kind.into(), message: e.message }
    }
}

pub type FfiResult<T = ()> = Result<T, FfiError>;

thread_local! {
    // Per thread, like errno: the host reads it right after the failing call on the same thread.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

pub fn set_last_error(message: &str) {
    // try_with: during thread teardown the slot may already be gone; losing the message beats aborting.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut s) = slot.try_borrow_mut() {
            s.clear();
            s.push_str(message);
        }
    });
}

/// Runs `f` with a copy of this thread's last error message.
pub fn with_last_error<R>(f: impl FnOnce(&str) -> R) -> R {
    let mut f = Some(f);
    let r = LAST_ERROR.try_with(|slot| (f.take().expect("called once"))(&slot.borrow()));
    match r {
        Ok(r) => r,
        Err(_) => (f.take().expect("not called"))(""),
    }
}

/// Runs an export body: `Ok` → `XMCDP_STATUS_OK`; `Err` → its status with the message recorded;
/// a panic → `XMCDP_STATUS_PANIC`. `name` is the exported function's name, for the message.
#[inline]
pub fn ffi_call(name: &'static str, f: impl FnOnce() -> FfiResult) -> xmcdp_status_t {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => xmcdp_status_t::XMCDP_STATUS_OK,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status
        }
        Err(payload) => {
            let message = format!("{name}: internal panic: {}", panic_message(&*payload));
            set_last_error(&message);
            // The host may not read last_error; the log ring makes the bug visible anyway.
            let _ = catch_unwind(|| crate::log::error(format!("xmcdp: {message}")));
            xmcdp_status_t::XMCDP_STATUS_PANIC
        }
    }
}

/// Like [`ffi_call`] for the few exports that return a plain value rather than a status
/// (`xmcdp_version`, `xmcdp_api_guard`, `xmcdp_status_name`): a panic yields `fallback`.
#[inline]
pub fn ffi_value<T>(name: &'static str, fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            set_last_error(&format!("{name}: internal panic: {}", panic_message(&*payload)));
            fallback
        }
    }
}

/// Only literal panic messages are repeated: a formatted one (`String` payload) may quote the data being
/// processed, and this text reaches logs and `xmcdp_last_error`.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if payload.is::<String>() {
        "formatted panic message withheld (it may quote data)"
    } else {
        "non-string panic payload"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_err_and_panic_become_statuses() {
        assert_eq!(ffi_call("t", || Ok(())), xmcdp_status_t::XMCDP_STATUS_OK);
        let s = ffi_call("t", || Err(FfiError::new(xmcdp_status_t::XMCDP_STATUS_TOO_LARGE, "field x too large")));
        assert_eq!(s, xmcdp_status_t::XMCDP_STATUS_TOO_LARGE);
        with_last_error(|m| assert_eq!(m, "field x too large"));
        let s = ffi_call("xmcdp_test", || panic!("boom"));
        assert_eq!(s, xmcdp_status_t::XMCDP_STATUS_PANIC);
        with_last_error(|m| assert_eq!(m, "xmcdp_test: internal panic: boom"));
        assert_eq!(ffi_value("t", 7u32, || panic!("x")), 7);
        let secret = "jane@example.com";
        assert_eq!(ffi_call("xmcdp_test", || panic!("bad value {secret}")), xmcdp_status_t::XMCDP_STATUS_PANIC);
        with_last_error(|m| assert!(!m.contains(secret), "{m}"));
    }
}
