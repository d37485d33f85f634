//! `xmcdp_client_*`: creating, shutting down and deleting clients, and reading their counters.

use super::call::{ffi_call, FfiError};
use super::handles::HandleTable;
use super::status::xmcdp_status_t::{self, *};
use super::strings::{buffer_surrogate, check_out_buffer, non_null_mut, usize_out_surrogate, usize_surrogate, write_out, XMCDP_MAX_SETTINGS_LEN};
use super::strings::xmcdp_str_t;
use crate::client::Client;
use interoptopus::{ffi_function, ffi_surrogates};
use std::sync::Arc;
use std::time::Duration;

/// A client handle: an opaque non-zero id issued by `xmcdp_client_new`, valid until
/// `xmcdp_client_delete`. Never a pointer; any other value (0, deleted, garbage) is rejected with
/// `XMCDP_STATUS_INVALID_HANDLE`. Safe to use from several threads at once.
#[allow(non_camel_case_types)]
pub type xmcdp_client_t = u64;

pub(crate) static CLIENTS: HandleTable<Client> = HandleTable::new(0x01, "client");

/// The live client behind `handle`, kept alive for calls that may block (shutdown).
pub(crate) fn client(handle: xmcdp_client_t) -> Result<Arc<Client>, FfiError> {
    CLIENTS.get(handle)
}

/// Runs a non-blocking `f` on the live client behind `handle` (the per-request path).
#[inline]
pub(crate) fn with_client<R>(handle: xmcdp_client_t, f: impl FnOnce(&Client) -> R) -> Result<R, FfiError> {
    CLIENTS.with(handle, f)
}

/// Creates a client (its own runtime, transport and delivery queue) from settings JSON (camelCase keys,
/// unknown or repeated keys rejected; at least `clientKey`, `targetUrl`, `pointOfSale`) and writes its handle to
/// `*out_client`.
///
/// `settings_json` (at most 1 MiB) and `out_client` are borrowed for the duration of the call. The
/// caller owns the new handle and must release it with `xmcdp_client_delete` (after
/// `xmcdp_client_shutdown` to flush). On failure `*out_client` is set to 0 and no handle exists.
/// Fails with the 20s configuration statuses, `XMCDP_STATUS_INVALID_UTF8`, `XMCDP_STATUS_TOO_LARGE`,
/// `XMCDP_STATUS_NULL_POINTER`.
#[ffi_function]
#[no_mangle]
pub extern "C" fn xmcdp_client_new(settings_json: xmcdp_str_t, out_client: *mut xmcdp_client_t) -> xmcdp_status_t {
    ffi_call("xmcdp_client_new", || unsafe {
        let out_client = non_null_mut(out_client, "out_client")?;
        *out_client = 0;
        let json = settings_json.required("settings_json", XMCDP_MAX_SETTINGS_LEN)?;
        let client = Client::from_json(json)?;
        *out_client = CLIENTS.insert(client);
        Ok(())
    })
}

/// Stops accepting events and delivers what is queued until `deadline_ms` passes, then stops the
/// client's runtime. Idempotent: later calls return the first call's outcome at once. Blocks the
/// calling thread for at most about `deadline_ms` (call it from an app-pool shutdown hook, not a
/// request). The handle stays valid (counters stay readable) until `xmcdp_client_delete`.
///
/// Returns `XMCDP_STATUS_SHUTDOWN_INCOMPLETE` when events were left undelivered at the deadline (the
/// message, from `xmcdp_last_error`, carries the report as JSON), `XMCDP_STATUS_INVALID_HANDLE`.
#[ffi_function]
#[no_mangle]
pub extern "C" fn xmcdp_client_shutdown(client: xmcdp_client_t, deadline_ms: u32) -> xmcdp_status_t {
    ffi_call("xmcdp_client_shutdown", || {
        let c = self::client(client)?;
        let report = c.shutdown(Duration::from_millis(u64::from(deadline_ms)));
        if report.unsent > 0 {
            return Err(FfiError::new(
                XMCDP_STATUS_SHUTDOWN_INCOMPLETE,
                format!("shutdown: {} events undelivered after {deadline_ms} ms: {}", report.unsent, report.to_json()),
            ));
        }
        Ok(())
    })
}

/// Releases a client handle; the handle is dead afterwards and deleting it again returns
/// `XMCDP_STATUS_INVALID_HANDLE` (never undefined behaviour). If the client was not shut down, this
/// shuts it down with a 2 s deadline first, on the calling thread (blocking up to that long; never on a
/// thread that is still inside another call). Calls already running on other threads finish normally, or
/// return `XMCDP_STATUS_SHUT_DOWN` when the runtime stops under them; the client is freed when the last one
/// returns.
#[ffi_function]
#[no_mangle]
pub extern "C" fn xmcdp_client_delete(client: xmcdp_client_t) -> xmcdp_status_t {
    ffi_call("xmcdp_client_delete", || {
        let c = CLIENTS.remove(client)?;
        // Drain here, on the deleting thread: left to `Drop`, the drain would run on whichever thread lets
        // go of the last reference, i.e. a request thread still inside a call. Idempotent after a shutdown.
        c.shutdown(crate::client::DEFAULT_SHUTDOWN_DEADLINE);
        drop(c);
        Ok(())
    })
}

/// Copies the client's counters as a JSON object (UTF-8, no terminator) into `buf` and its length into
/// `*out_len`. Returns `XMCDP_STATUS_BUFFER_TOO_SMALL` with the needed length in `*out_len` when `cap`
/// is too small (counters move: retry with some headroom). `buf` (writable for `cap` bytes; NULL allowed
/// when `cap` is 0) and `out_len` are borrowed for the duration of the call. Works after shutdown.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_stats(client: xmcdp_client_t, buf: *mut u8, cap: usize, out_len: *mut usize) -> xmcdp_status_t {
    ffi_call("xmcdp_client_stats", || unsafe {
        check_out_buffer(buf, cap, out_len)?;
        let json = with_client(client, Client::stats_json)?;
        write_out(json.as_bytes(), buf, cap, out_len, "stats")
    })
}
