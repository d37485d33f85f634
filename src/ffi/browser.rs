//! `xmcdp_client_browser_ensure` (the visitor's browser id for a request's Cookie header, with the
//! Set-Cookie values to emit) and `xmcdp_client_browser_guest_ref` (browser id → guest ref).
//!
//! `ensure` runs on every page request: when the cookie is there it neither allocates an output nor
//! touches the network; the id and cookie strings are written straight into the caller's buffer.

use super::call::{ffi_call, FfiResult};
use super::client::{client, xmcdp_client_t};
use super::decisions::budget;
use super::status::xmcdp_status_t::{self, *};
use super::strings::{
    buffer_surrogate, check_out_buffer, clear_held, non_null_mut, usize_out_surrogate, usize_surrogate, write_or_hold, xmcdp_str_t, XMCDP_MAX_STR_LEN,
};
use crate::browser::{BrowserIdResult, BrowserIdSource};
use bytes::Bytes;
use interoptopus::{ffi_function, ffi_surrogates, ffi_type};

/// Where the browser id of `xmcdp_client_browser_ensure` came from.
#[ffi_type]
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum xmcdp_browser_source_t {
    /// No id (the call failed).
    XMCDP_BROWSER_SOURCE_NONE = 0,
    /// The current cookie (`bid_{clientKey}` or the configured name); nothing to emit.
    XMCDP_BROWSER_SOURCE_COOKIE = 1,
    /// The legacy cookie (`BID_{clientKey}`), migrated: emit the current cookie and the legacy one's expiry.
    XMCDP_BROWSER_SOURCE_LEGACY = 2,
    /// A new id taken from the pool created ahead of time (no network wait).
    XMCDP_BROWSER_SOURCE_POOL = 3,
    /// A new id created in CDP during this call (`browser/create.json`).
    XMCDP_BROWSER_SOURCE_CREATED = 4,
}

/// The layout of `xmcdp_client_browser_ensure`'s output buffer, which holds, back to back and without
/// terminators: the browser id, the guest ref, then the Set-Cookie header values separated by '\n'
/// (header values never contain one). `*out_len` is the sum of the three lengths.
#[ffi_type]
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
#[ffi_surrogates(browser_id_len = "usize_surrogate", guest_ref_len = "usize_surrogate", set_cookies_len = "usize_surrogate")]
pub struct xmcdp_browser_id_t {
    pub source: xmcdp_browser_source_t,
    /// 1 when the id is new to this visitor (source POOL or CREATED): a first visit.
    pub created: u8,
    /// Number of Set-Cookie header values to emit, in order: 0 (the cookie is right), 1 (a new id) or 2
    /// (legacy migration: the current cookie, then the legacy cookie's expiry).
    pub set_cookie_count: u32,
    /// `buf[0 .. browser_id_len]`: the browser id (ASCII letters, digits, `.`, `_`, `-`).
    pub browser_id_len: usize,
    /// Next: the guest ref CDP returned with a newly created id; 0 when unknown (always for cookie ids).
    pub guest_ref_len: usize,
    /// Next, to the end: the Set-Cookie values separated by '\n'; 0 when none.
    pub set_cookies_len: usize,
}

impl xmcdp_browser_id_t {
    const NONE: xmcdp_browser_id_t = xmcdp_browser_id_t {
        source: xmcdp_browser_source_t::XMCDP_BROWSER_SOURCE_NONE,
        created: 0,
        set_cookie_count: 0,
        browser_id_len: 0,
        guest_ref_len: 0,
        set_cookies_len: 0,
    };
}

fn source(s: BrowserIdSource) -> xmcdp_browser_source_t {
    match s {
        BrowserIdSource::Cookie => xmcdp_browser_source_t::XMCDP_BROWSER_SOURCE_COOKIE,
        BrowserIdSource::Legacy => xmcdp_browser_source_t::XMCDP_BROWSER_SOURCE_LEGACY,
        BrowserIdSource::Pool => xmcdp_browser_source_t::XMCDP_BROWSER_SOURCE_POOL,
        BrowserIdSource::Created => xmcdp_browser_source_t::XMCDP_BROWSER_SOURCE_CREATED,
    }
}

/// The pieces of the output buffer, in order.
fn pieces(r: &BrowserIdResult) -> impl Iterator<Item = &[u8]> {
    let cookies = r.set_cookies.iter().enumerate().flat_map(|(i, c)| [if i == 0 { &b""[..] } else { &b"\n"[..] }, c.as_bytes()]);
    [r.browser_id.as_bytes(), r.guest_ref.as_deref().unwrap_or("").as_bytes()].into_iter().chain(cookies)
}

/// Writes the pieces straight into `buf` when they fit (no allocation); else holds a copy for
/// `xmcdp_result_take`.
unsafe fn write_result(r: &BrowserIdResult, buf: *mut u8, cap: usize, out_len: *mut usize) -> FfiResult {
    let total: usize = pieces(r).map(<[u8]>::len).sum();
    if total > cap {
        let all: Vec<u8> = pieces(r).flatten().copied().collect();
        return write_or_hold(Bytes::from(all), buf, cap, out_len, "browser id");
    }
    let mut at = 0;
    for p in pieces(r) {
        if !p.is_empty() {
            std::ptr::copy_nonoverlapping(p.as_ptr(), buf.add(at), p.len());
        }
        at += p.len();
    }
    *out_len = total;
    Ok(())
}

/// The visitor's browser id for a request's raw `Cookie` header value (absent = no header): the current
/// cookie; else the legacy cookie, migrated; else a new id from the pool; else one created in CDP
/// within `budget_ms` (0 = the client's `browserCreateTimeoutMs`). Call it on every page request: with the
/// cookie present it returns at once, without network. Invalid (hostile) cookie values are ignored,
/// never echoed.
///
/// On `XMCDP_STATUS_OK` fills `*out_id` and writes the id, guest ref and Set-Cookie values into `buf` as
/// `xmcdp_browser_id_t` describes, and their total length into `*out_len`; emit every Set-Cookie value
/// as its own `Set-Cookie` response header. 2048 bytes always suffice. `XMCDP_STATUS_BUFFER_TOO_SMALL`
/// fills `*out_id` and `*out_len` too and keeps the bytes (a created id is never lost): call
/// `xmcdp_result_take` next, on the same thread. Other failures zero `*out_id`: `XMCDP_STATUS_TIMEOUT`, the
/// 60s remote statuses (creating the id failed: render the page without one),
/// `XMCDP_STATUS_INVALID_UTF8` / `XMCDP_STATUS_TOO_LARGE` (`cookie_header`), `XMCDP_STATUS_SHUT_DOWN`,
/// `XMCDP_STATUS_INVALID_HANDLE`, `XMCDP_STATUS_NULL_POINTER`.
///
/// `cookie_header`, `out_id`, `buf` (writable for `cap` bytes; NULL allowed when `cap` is 0) and `out_len`
/// are borrowed for the duration of the call.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_browser_ensure(
    client: xmcdp_client_t,
    cookie_header: xmcdp_str_t,
    budget_ms: u32,
    out_id: *mut xmcdp_browser_id_t,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_browser_ensure", || unsafe {
        clear_held();
        let out_id = non_null_mut(out_id, "out_id")?;
        *out_id = xmcdp_browser_id_t::NONE;
        check_out_buffer(buf, cap, out_len)?;
        let header = cookie_header.as_str("cookie_header", XMCDP_MAX_STR_LEN)?.unwrap_or("");
        // May block (creating an id): hold the client itself, not the handle table's lock.
        let c = self::client(client)?;
        let r = c.browser_ids().ensure_browser_id_within(header, budget(budget_ms, c.settings().browser_create_timeout))?;
        let cookies_len = r.set_cookies.iter().map(String::len).sum::<usize>() + r.set_cookies.len().saturating_sub(1);
        let info = xmcdp_browser_id_t {
            source: source(r.source),
            created: u8::from(r.created),
            set_cookie_count: r.set_cookies.len() as u32,
            browser_id_len: r.browser_id.len(),
            guest_ref_len: r.guest_ref.as_deref().map_or(0, str::len),
            set_cookies_len: cookies_len,
        };
        let written = write_result(&r, buf, cap, out_len);
        if matches!(&written, Ok(()) | Err(super::call::FfiError { status: XMCDP_STATUS_BUFFER_TOO_SMALL, .. })) {
            *out_id = info;
        }
        written
    })
}

/// The guest ref behind a browser id (`browser/{id}/show.json`), waiting at most `budget_ms` (0 = the
/// client's `browserCreateTimeoutMs`). After an identity merge this is the surviving guest. Blocks up to
/// the budget: call it when the guest is needed, not on every page.
///
/// On `XMCDP_STATUS_OK` copies the guest ref (ASCII, no terminator) into `buf` and its length into
/// `*out_len`; `XMCDP_STATUS_BUFFER_TOO_SMALL` keeps it for `xmcdp_result_take`. Fails with
/// `XMCDP_STATUS_INVALID_BROWSER_ID`, `XMCDP_STATUS_NOT_FOUND` (unknown browser), `XMCDP_STATUS_TIMEOUT`,
/// the 60s remote statuses, `XMCDP_STATUS_SHUT_DOWN`, `XMCDP_STATUS_INVALID_HANDLE`, the 10s argument
/// statuses. `browser_id` (required), `buf` (NULL allowed when `cap` is 0) and `out_len` are borrowed for
/// the duration of the call.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_browser_guest_ref(
    client: xmcdp_client_t,
    browser_id: xmcdp_str_t,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_browser_guest_ref", || unsafe {
        clear_held();
        check_out_buffer(buf, cap, out_len)?;
        let bid = browser_id.required("browser_id", XMCDP_MAX_STR_LEN)?;
        let c = self::client(client)?;
        let guest_ref = c.browser_ids().guest_ref_for_browser(bid, budget(budget_ms, c.settings().browser_create_timeout))?;
        write_or_hold(Bytes::from(guest_ref), buf, cap, out_len, "guest ref")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_layout_is_id_then_guest_ref_then_cookies() {
        let r = BrowserIdResult {
            browser_id: "b-1".into(),
            guest_ref: Some("g-2".into()),
            set_cookies: vec!["bid_ck=b-1; Path=/".into(), "BID_ck=; Path=/".into()],
            created: false,
            source: BrowserIdSource::Legacy,
        };
        let all: Vec<u8> = pieces(&r).flatten().copied().collect();
        assert_eq!(all, b"b-1g-2bid_ck=b-1; Path=/\nBID_ck=; Path=/");
        let mut buf = [0u8; 64];
        let mut n = 0;
        unsafe { write_result(&r, buf.as_mut_ptr(), buf.len(), &mut n).unwrap() };
        assert_eq!(&buf[..n], &all[..]);
        let bare = BrowserIdResult { guest_ref: None, set_cookies: vec![], source: BrowserIdSource::Cookie, ..r };
        assert_eq!(pieces(&bare).flatten().copied().collect::<Vec<u8>>(), b"b-1");
    }
}
