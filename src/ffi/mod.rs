//! The C ABI: the only `extern "C"` code in the crate.
//!
//! Every export is a plain `#[no_mangle] pub extern "C" fn xmcdp_<object>_<verb>` annotated with
//! `#[ffi_function]`, so both cbindgen (which cannot see macro-generated functions) and interoptopus
//! (which needs the annotation) see it, and is registered in [`ffi_inventory`]. Every export runs its
//! body through [`call::ffi_call`]: panics never cross the ABI, failures become a stable
//! [`status::xmcdp_status_t`] plus a per-thread message (`xmcdp_last_error`).
//!
//! This module converts C types to core types and calls the core; it knows nothing of HTTP.
//! No function calls back into the host: logs are pulled with `xmcdp_log_next`.

// Exports take raw pointers by design (the C contract, stated in each doc comment); marking them
// `unsafe fn` would change nothing for C callers and hide nothing from Rust ones.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod browser;
pub mod call;
mod client;
mod decisions;
mod events;
mod guests;
pub mod handles;
pub mod status;
pub mod strings;

pub use browser::*;
pub use client::*;
pub use decisions::*;
pub use events::*;
pub use guests::*;
pub use status::xmcdp_status_t;
pub use strings::xmcdp_str_t;

use call::{ffi_call, ffi_value, FfiError};
use interoptopus::patterns::api_guard::APIVersion;
use interoptopus::{ffi_function, ffi_surrogates, function, Inventory, InventoryBuilder};
use status::xmcdp_status_t::*;
use strings::{buffer_surrogate, check_out_buffer, non_null_mut, take_held, usize_out_surrogate, usize_surrogate, write_out};
use std::time::Duration;

/// `major * 1_000_000 + minor * 1_000 + patch` of this crate (SQLite style), e.g. 1002003 for 1.2.3.
pub const VERSION_NUMBER: u32 = version_number(env!("CARGO_PKG_VERSION"));

const fn version_number(v: &str) -> u32 {
    let b = v.as_bytes();
    let (mut parts, mut part, mut i) = ([0u32; 3], 0, 0);
    while i < b.len() && part < 3 {
        match b[i] {
            b'.' => part += 1,
            c @ b'0'..=b'9' => parts[part] = parts[part] * 10 + (c - b'0') as u32,
            _ => break, // pre-release suffix
        }
        i += 1;
    }
    parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]
}

/// The library version as `major * 1000000 + minor * 1000 + patch` (compare with
/// `XMCDP_VERSION_NUMBER` from the header). Never fails.
#[ffi_function]
#[no_mangle]
pub extern "C" fn xmcdp_version() -> u32 {
    VERSION_NUMBER
}

/// A hash of the whole exported API (functions, types, documentation) as this library was built.
/// Bindings compare it with the value they were generated from (`XMCDP_API_HASH` in the header; the C#
/// bindings check it in their static constructor) and must refuse to run on a mismatch. Never fails.
#[ffi_function]
#[no_mangle]
pub extern "C" fn xmcdp_api_guard() -> APIVersion {
    ffi_value("xmcdp_api_guard", APIVersion::new(0), || APIVersion::from_inventory(&ffi_inventory()))
}

/// The name of a status code without its `XMCDP_STATUS_` prefix, e.g. "INVALID_UTF8"; "UNKNOWN" for a
/// number that is not a status. The returned bytes are static (owned by the library, valid for the
/// life of the process, not NUL-terminated); never free them. Never fails.
#[ffi_function]
#[no_mangle]
pub extern "C" fn xmcdp_status_name(status: u32) -> xmcdp_str_t {
    ffi_value("xmcdp_status_name", xmcdp_str_t::from_static("UNKNOWN"), || {
        xmcdp_str_t::from_static(xmcdp_status_t::from_u32(status).map_or("UNKNOWN", xmcdp_status_t::name))
    })
}

/// Copies the message of the last failed `xmcdp_*` call on the calling thread into `buf` (UTF-8, no
/// terminator) and its length into `*out_len`; length 0 when no call has failed on this thread.
/// Messages name fields and limits, never values. Reading it does not clear it, and this function
/// never replaces it, even when it fails itself.
///
/// `buf` (writable for `cap` bytes; may be NULL when `cap` is 0) and `out_len` are borrowed for the
/// duration of the call. Returns `XMCDP_STATUS_BUFFER_TOO_SMALL` with the needed length in `*out_len`
/// when `cap` is too small, `XMCDP_STATUS_NULL_POINTER` when `out_len` is NULL.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_last_error(buf: *mut u8, cap: usize, out_len: *mut usize) -> xmcdp_status_t {
    // Not through ffi_call: a failure here must not overwrite the message being read.
    let r = std::panic::catch_unwind(|| unsafe {
        check_out_buffer(buf, cap, out_len)?;
        call::with_last_error(|m| write_out(m.as_bytes(), buf, cap, out_len, "last error"))
    });
    match r {
        Ok(Ok(())) => XMCDP_STATUS_OK,
        Ok(Err(e)) => e.status,
        Err(_) => XMCDP_STATUS_PANIC,
    }
}

/// Takes the oldest library log record, waiting up to `timeout_ms` (0 = don't wait) for one. Records
/// come from every client in the process; the host drains them from one thread and forwards them to
/// its own logger. Messages never contain personal data or secrets.
///
/// On `XMCDP_STATUS_OK` writes the level (1 error, 2 warn, 3 info, 4 debug) to `*out_level`, the
/// UTF-8 message (no terminator) to `buf` and its length to `*out_len`. Returns
/// `XMCDP_STATUS_NO_RECORD` when none arrived in time, and `XMCDP_STATUS_BUFFER_TOO_SMALL` with the
/// needed length in `*out_len` when the message does not fit; the record then stays queued for the
/// next call. `out_level`, `buf` (writable for `cap` bytes; NULL allowed when `cap` is 0) and `out_len`
/// are borrowed for the duration of the call.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_log_next(timeout_ms: u32, out_level: *mut u32, buf: *mut u8, cap: usize, out_len: *mut usize) -> xmcdp_status_t {
    ffi_call("xmcdp_log_next", || unsafe {
        let out_level = non_null_mut(out_level, "out_level")?;
        check_out_buffer(buf, cap, out_len)?;
        let Some(record) = crate::log::next(Duration::from_millis(u64::from(timeout_ms))) else {
            return Err(FfiError::new(XMCDP_STATUS_NO_RECORD, format!("no log record within {timeout_ms} ms")));
        };
        if let Err(e) = write_out(record.message.as_bytes(), buf, cap, out_len, "log record") {
            crate::log::push_front(record);
            return Err(e);
        }
        *out_level = record.level as u32;
        Ok(())
    })
}

/// Copies the result that the last call on this thread could not fit (it returned
/// `XMCDP_STATUS_BUFFER_TOO_SMALL` and said the result is kept: decisions, browser ids, Guest API
/// answers) into `buf` and its length into `*out_len`, then drops it. Call it right after that call, on
/// the same thread, with `cap` at least the length it reported: the next such call on the thread drops
/// the held result, so at most one is ever held per thread.
///
/// Returns `XMCDP_STATUS_NO_RECORD` when no result is held, and `XMCDP_STATUS_BUFFER_TOO_SMALL` with the
/// needed length in `*out_len` when `cap` is still too small (the result stays held). `buf` (writable for
/// `cap` bytes; NULL allowed when `cap` is 0) and `out_len` are borrowed for the duration of the call.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_result_take(buf: *mut u8, cap: usize, out_len: *mut usize) -> xmcdp_status_t {
    ffi_call("xmcdp_result_take", || unsafe { take_held(buf, cap, out_len) })
}

/// Copies the JSON type of every setting `xmcdp_client_new` accepts into `buf` as a JSON object (UTF-8, no
/// terminator), e.g. `{"clientKey":"string","queueCapacity":"integer","forwardUserAgent":"boolean",...}`, and
/// its length into `*out_len`. Types are "string", "integer", "boolean" and "integerOrObject" (a number, or an
/// object of numbers). Hosts that hold settings as text convert them by this table instead of guessing; a key
/// not in it is rejected by `xmcdp_client_new` as unknown. The table is fixed for the library's life.
///
/// `buf` (writable for `cap` bytes; NULL allowed when `cap` is 0) and `out_len` are borrowed for the duration
/// of the call. Returns `XMCDP_STATUS_BUFFER_TOO_SMALL` with the needed length in `*out_len` when `cap` is too
/// small, `XMCDP_STATUS_NULL_POINTER` when `out_len` is NULL.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_settings_schema(buf: *mut u8, cap: usize, out_len: *mut usize) -> xmcdp_status_t {
    ffi_call("xmcdp_settings_schema", || unsafe {
        check_out_buffer(buf, cap, out_len)?;
        write_out(crate::config::schema_json().as_bytes(), buf, cap, out_len, "settings schema")
    })
}

/// Every export, for the generators (cbindgen reads the source instead) and the API guard hash.
/// Order is the C# file's order; new functions go at the end of their group.
pub fn ffi_inventory() -> Inventory {
    InventoryBuilder::new()
        // library
        .register(function!(xmcdp_version))
        .register(function!(xmcdp_api_guard))
        .register(function!(xmcdp_status_name))
        .register(function!(xmcdp_last_error))
        .register(function!(xmcdp_log_next))
        .register(function!(xmcdp_result_take))
        .register(function!(xmcdp_settings_schema))
        // client
        .register(function!(xmcdp_client_new))
        .register(function!(xmcdp_client_shutdown))
        .register(function!(xmcdp_client_delete))
        .register(function!(xmcdp_client_stats))
        // events
        .register(function!(xmcdp_client_page_view))
        .register(function!(xmcdp_client_identity))
        .register(function!(xmcdp_client_event))
        // decisions
        .register(function!(xmcdp_client_decide))
        .register(function!(xmcdp_client_decision_begin))
        .register(function!(xmcdp_client_decision_ready))
        .register(function!(xmcdp_client_decision_wait))
        // browser identity
        .register(function!(xmcdp_client_browser_ensure))
        .register(function!(xmcdp_client_browser_guest_ref))
        // guests
        .register(function!(xmcdp_client_guest_find))
        .register(function!(xmcdp_client_guest_get))
        .register(function!(xmcdp_client_guest_extension_create))
        .register(function!(xmcdp_client_guest_extension_get))
        .register(function!(xmcdp_client_guest_extension_list))
        .register(function!(xmcdp_client_guest_extension_put))
        .register(function!(xmcdp_client_guest_extension_patch))
        .register(function!(xmcdp_client_guest_extension_delete))
        .register(function!(xmcdp_client_guest_extension_delete_fields))
        .register(function!(xmcdp_client_guest_create))
        .register(function!(xmcdp_client_guest_update))
        .register(function!(xmcdp_client_guest_delete))
        .inventory()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_number_is_packed() {
        assert_eq!(version_number("1.2.3"), 1_002_003);
        assert_eq!(version_number("0.1.0-alpha.1"), 1_000);
        assert_eq!(xmcdp_version(), VERSION_NUMBER);
    }

    #[test]
    fn api_guard_matches_inventory() {
        assert_eq!(xmcdp_api_guard(), APIVersion::from_inventory(&ffi_inventory()));
        assert_ne!(xmcdp_api_guard(), APIVersion::new(0));
    }
}
