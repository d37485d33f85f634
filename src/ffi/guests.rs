//! `xmcdp_client_guest_*`: the Guest REST API v2.1 (find, read, create, update, delete, data extensions), JSON in and out.
//!
//! Each call blocks for at most its budget (0 = the client's `guestApiTimeoutMs`). The API token comes
//! from the settings and never appears in a message. Answers go into the caller's buffer; one that does
//! not fit is held for `xmcdp_result_take` (a write is never repeated just to read its answer).

use super::call::{ffi_call, FfiError, FfiResult};
use super::client::{client, xmcdp_client_t};
use super::status::xmcdp_status_t::{self, *};
use super::strings::{
    array_surrogate, buffer_surrogate, check_out_buffer, clear_held, slice, usize_out_surrogate, usize_surrogate, write_or_hold, xmcdp_str_t,
    XMCDP_MAX_JSON_LEN, XMCDP_MAX_STR_LEN,
};
use crate::guests::GuestApi;
use bytes::Bytes;
use interoptopus::{ffi_function, ffi_surrogates};
use serde_json::Value;
use std::time::Duration;

/// The common body of every guest export: output checks, then `f` against the API with the budget, then
/// the answer as JSON (`null` for an answer without a body) into the buffer.
unsafe fn guest_call(
    client: xmcdp_client_t,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    f: impl FnOnce(&GuestApi<'_>) -> crate::error::Result<Value>,
) -> FfiResult {
    let c = self::client(client)?;
    let api = c.guests();
    let api = if budget_ms == 0 { api } else { api.with_timeout(Duration::from_millis(u64::from(budget_ms))) };
    let v = f(&api)?;
    let json = serde_json::to_vec(&v).map_err(|_| FfiError::new(XMCDP_STATUS_INTERNAL, "cannot serialize the Guest API answer"))?;
    write_or_hold(Bytes::from(json), buf, cap, out_len, "Guest API answer")
}

/// Runs before any argument is read: a bad call has no side effects and no held result survives it.
unsafe fn start(buf: *mut u8, cap: usize, out_len: *mut usize) -> FfiResult {
    clear_held();
    check_out_buffer(buf, cap, out_len)
}

unsafe fn required<'a>(s: &xmcdp_str_t, field: &str) -> FfiResult<&'a str> {
    s.required(field, XMCDP_MAX_STR_LEN)
}

/// Extension data: a JSON object of key/values; syntax errors are `XMCDP_STATUS_INVALID_EXT` like the
/// checks of its content.
unsafe fn data(s: &xmcdp_str_t) -> FfiResult<Value> {
    const FIELD: &str = "data_json";
    let json = s.required(FIELD, XMCDP_MAX_JSON_LEN)?;
    super::strings::check_nesting(json, FIELD, XMCDP_STATUS_INVALID_EXT)?;
    serde_json::from_str(json)
        .map_err(|e| FfiError::new(XMCDP_STATUS_INVALID_EXT, format!("{FIELD}: invalid JSON at line {} column {}", e.line(), e.column())))
}

/// Finds guests by email (`email` present) or by identifier (`identifier_provider` and `identifier_id`
/// present): exactly one of the two. Copies the search collection (`{"href","offset","limit","items":
/// [{"href": ".../v2.1/guests/<guest ref>"}]}`) into `buf`.
///
/// Every Guest API export: blocks for at most `budget_ms` (0 = the client's `guestApiTimeoutMs`); on
/// `XMCDP_STATUS_OK` copies the answer as JSON (UTF-8, no terminator; `null` when the server sent no
/// body) into `buf` and its length into `*out_len`; `XMCDP_STATUS_BUFFER_TOO_SMALL` writes the needed
/// length and keeps the answer for `xmcdp_result_take` (call it next, on the same thread). Failures:
/// `XMCDP_STATUS_INVALID_ARGUMENT` (bad arguments, or the server's 400), `XMCDP_STATUS_UNAUTHORIZED`
/// (401/403: check `clientKey` and `apiToken`), `XMCDP_STATUS_NOT_FOUND` (404), `XMCDP_STATUS_SERVER_ERROR`
/// (5xx/429), `XMCDP_STATUS_UNEXPECTED_STATUS`, `XMCDP_STATUS_TIMEOUT`, `XMCDP_STATUS_CONNECT_FAILED`,
/// `XMCDP_STATUS_HTTP_ERROR`, `XMCDP_STATUS_MISSING_SETTING` (no `apiToken`), `XMCDP_STATUS_INVALID_URL`
/// (not https), `XMCDP_STATUS_SHUT_DOWN`, `XMCDP_STATUS_INVALID_HANDLE`, the 10s argument statuses; the
/// message from `xmcdp_last_error` carries the server's words, never the API token. Every string, array,
/// `buf` (writable for `cap` bytes; NULL allowed when `cap` is 0) and `out_len` is borrowed for the
/// duration of the call.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_guest_find(
    client: xmcdp_client_t,
    email: xmcdp_str_t,
    identifier_provider: xmcdp_str_t,
    identifier_id: xmcdp_str_t,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_guest_find", || unsafe {
        start(buf, cap, out_len)?;
        let email = email.as_str("email", XMCDP_MAX_STR_LEN)?;
        let provider = identifier_provider.as_str("identifier_provider", XMCDP_MAX_STR_LEN)?;
        let id = identifier_id.as_str("identifier_id", XMCDP_MAX_STR_LEN)?;
        match (email, provider, id) {
            (Some(e), None, None) => guest_call(client, budget_ms, buf, cap, out_len, |g| g.find_by_email(e)),
            (None, Some(p), Some(i)) => guest_call(client, budget_ms, buf, cap, out_len, |g| g.find_by_identifier(p, i)),
            _ => Err(FfiError::new(XMCDP_STATUS_INVALID_ARGUMENT, "guest_find: give either email, or identifier_provider and identifier_id")),
        }
    })
}

/// Reads a guest (`GET /v2.1/guests/{guest_ref}`); `expand` non-zero includes its data extensions.
/// `guest_ref` is required. Outputs and failures as for `xmcdp_client_guest_find`.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_guest_get(
    client: xmcdp_client_t,
    guest_ref: xmcdp_str_t,
    expand: u8,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_guest_get", || unsafe {
        start(buf, cap, out_len)?;
        let r = required(&guest_ref, "guest_ref")?;
        guest_call(client, budget_ms, buf, cap, out_len, |g| g.get(r, expand != 0))
    })
}

/// Creates a guest data extension `name` ("ext", "ext1" … "ext5") from `data_json`, a flat JSON object
/// of at most 100 key/values (letters and digits as keys; string, number or boolean values), checked
/// before sending: `XMCDP_STATUS_INVALID_EXT`, `XMCDP_STATUS_TOO_MANY_EXT_ATTRIBUTES`,
/// `XMCDP_STATUS_TOO_LARGE`. Copies the created extension into `buf`. All strings are required.
/// Outputs and other failures as for `xmcdp_client_guest_find`.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_guest_extension_create(
    client: xmcdp_client_t,
    guest_ref: xmcdp_str_t,
    name: xmcdp_str_t,
    data_json: xmcdp_str_t,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_guest_extension_create", || unsafe {
        start(buf, cap, out_len)?;
        let (r, n, d) = (required(&guest_ref, "guest_ref")?, required(&name, "name")?, data(&data_json)?);
        guest_call(client, budget_ms, buf, cap, out_len, |g| g.create_extension(r, n, &d))
    })
}

/// Reads the guest data extension `name`. Both strings are required. Outputs and failures as for
/// `xmcdp_client_guest_find` (`XMCDP_STATUS_NOT_FOUND` when the guest has no such extension).
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_guest_extension_get(
    client: xmcdp_client_t,
    guest_ref: xmcdp_str_t,
    name: xmcdp_str_t,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_guest_extension_get", || unsafe {
        start(buf, cap, out_len)?;
        let (r, n) = (required(&guest_ref, "guest_ref")?, required(&name, "name")?);
        guest_call(client, budget_ms, buf, cap, out_len, |g| g.get_extension(r, n))
    })
}

/// Lists the guest's data extensions (a collection); `expand` non-zero includes their key/values.
/// `guest_ref` is required. Outputs and failures as for `xmcdp_client_guest_find`.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_guest_extension_list(
    client: xmcdp_client_t,
    guest_ref: xmcdp_str_t,
    expand: u8,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_guest_extension_list", || unsafe {
        start(buf, cap, out_len)?;
        let r = required(&guest_ref, "guest_ref")?;
        guest_call(client, budget_ms, buf, cap, out_len, |g| g.list_extensions(r, expand != 0))
    })
}

/// Replaces all key/values of the guest data extension `name` with `data_json` (checked as for
/// `xmcdp_client_guest_extension_create`). Copies the updated extension into `buf`. Outputs and
/// failures as for `xmcdp_client_guest_find`.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_guest_extension_put(
    client: xmcdp_client_t,
    guest_ref: xmcdp_str_t,
    name: xmcdp_str_t,
    data_json: xmcdp_str_t,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_guest_extension_put", || unsafe {
        start(buf, cap, out_len)?;
        let (r, n, d) = (required(&guest_ref, "guest_ref")?, required(&name, "name")?, data(&data_json)?);
        guest_call(client, budget_ms, buf, cap, out_len, |g| g.put_extension(r, n, &d))
    })
}

/// Updates only the keys of `data_json` in the guest data extension `name` (checked as for
/// `xmcdp_client_guest_extension_create`). Copies the updated extension into `buf`. Outputs and
/// failures as for `xmcdp_client_guest_find`.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_guest_extension_patch(
    client: xmcdp_client_t,
    guest_ref: xmcdp_str_t,
    name: xmcdp_str_t,
    data_json: xmcdp_str_t,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_guest_extension_patch", || unsafe {
        start(buf, cap, out_len)?;
        let (r, n, d) = (required(&guest_ref, "guest_ref")?, required(&name, "name")?, data(&data_json)?);
        guest_call(client, budget_ms, buf, cap, out_len, |g| g.patch_extension(r, n, &d))
    })
}

/// Deletes the guest data extension `name`. Copies the server's answer into `buf` (`null` when it sent
/// none). Both strings are required. Outputs and failures as for `xmcdp_client_guest_find`.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_guest_extension_delete(
    client: xmcdp_client_t,
    guest_ref: xmcdp_str_t,
    name: xmcdp_str_t,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_guest_extension_delete", || unsafe {
        start(buf, cap, out_len)?;
        let (r, n) = (required(&guest_ref, "guest_ref")?, required(&name, "name")?);
        guest_call(client, budget_ms, buf, cap, out_len, |g| g.delete_extension(r, n))
    })
}

/// Deletes the keys `fields` (`fields_len` strings, at most 64, each present; NULL when 0) from the
/// guest data extension `name`; no fields empties the extension but keeps it. Copies the remaining
/// extension into `buf`. Outputs and failures as for `xmcdp_client_guest_find`.
#[ffi_function]
#[ffi_surrogates(
    fields = "array_surrogate",
    fields_len = "usize_surrogate",
    buf = "buffer_surrogate",
    cap = "usize_surrogate",
    out_len = "usize_out_surrogate"
)]
#[no_mangle]
pub extern "C" fn xmcdp_client_guest_extension_delete_fields(
    client: xmcdp_client_t,
    guest_ref: xmcdp_str_t,
    name: xmcdp_str_t,
    fields: *const xmcdp_str_t,
    fields_len: usize,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_guest_extension_delete_fields", || unsafe {
        start(buf, cap, out_len)?;
        let (r, n) = (required(&guest_ref, "guest_ref")?, required(&name, "name")?);
        let mut keys = Vec::new();
        for (i, f) in slice(fields, fields_len, "fields")?.iter().enumerate() {
            keys.push(required(f, &format!("fields[{i}]"))?);
        }
        guest_call(client, budget_ms, buf, cap, out_len, |g| g.delete_extension_fields(r, n, &keys))
    })
}

/// A guest body: a JSON object; syntax errors are `XMCDP_STATUS_INVALID_ARGUMENT`.
unsafe fn guest_json(s: &xmcdp_str_t) -> FfiResult<Value> {
    const FIELD: &str = "guest_json";
    let json = s.required(FIELD, XMCDP_MAX_JSON_LEN)?;
    super::strings::check_nesting(json, FIELD, XMCDP_STATUS_INVALID_ARGUMENT)?;
    serde_json::from_str(json)
        .map_err(|e| FfiError::new(XMCDP_STATUS_INVALID_ARGUMENT, format!("{FIELD}: invalid JSON at line {} column {}", e.line(), e.column())))
}

/// Registers a guest: `POST /v2.1/guests` with `guest_json` (a JSON object of Guest REST attributes:
/// `guestType` visitor|customer|traveller required, `email`, `firstName`, `lastName`, `identifiers`
/// `[{"provider","id","expiryDate"?}]`, ...), then one data extension per entry of `extensions_json`
/// (optional: absent, or a JSON object such as `{"ext": {"loyaltyTier": "gold"}}`), all within one budget.
/// Everything is checked before the first request: `XMCDP_STATUS_INVALID_FIELD` (unknown or output-only
/// attribute, wrong type, missing guestType), `XMCDP_STATUS_INVALID_EMAIL`, `XMCDP_STATUS_INVALID_DATE`
/// (dateOfBirth not in the past, not ISO 8601), `XMCDP_STATUS_MISSING_IDENTIFIERS`, `XMCDP_STATUS_TOO_LARGE`,
/// and the extension statuses of `xmcdp_client_guest_extension_create`. Copies the created guest (with
/// `extensions` holding the created extensions) into `buf`. When an extension fails after the guest was
/// created, the status is that failure's and the message names the created guest ref. Outputs and other
/// failures as for `xmcdp_client_guest_find`.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_guest_create(
    client: xmcdp_client_t,
    guest_json: xmcdp_str_t,
    extensions_json: xmcdp_str_t,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_guest_create", || unsafe {
        start(buf, cap, out_len)?;
        let g = self::guest_json(&guest_json)?;
        let exts = extensions_json.as_str("extensions_json", XMCDP_MAX_JSON_LEN)?;
        if let Some(j) = exts {
            super::strings::check_nesting(j, "extensions_json", XMCDP_STATUS_INVALID_EXT)?;
        }
        let exts = match exts {
            None => Value::Null,
            Some(j) => serde_json::from_str(j).map_err(|e| {
                FfiError::new(XMCDP_STATUS_INVALID_EXT, format!("extensions_json: invalid JSON at line {} column {}", e.line(), e.column()))
            })?,
        };
        guest_call(client, budget_ms, buf, cap, out_len, |api| api.register(&g, &exts))
    })
}

/// Updates guest `guest_ref` from `guest_json`: with `replace` 0 a partial update (`PATCH`: only the
/// attributes sent change; `null` clears one), otherwise a replacement (`PUT`: guestType required, every
/// attribute not sent is removed). Checked as for `xmcdp_client_guest_create`. Copies the updated guest
/// into `buf`. Both strings are required. Outputs and failures as for `xmcdp_client_guest_find`.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_guest_update(
    client: xmcdp_client_t,
    guest_ref: xmcdp_str_t,
    guest_json: xmcdp_str_t,
    replace: u8,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_guest_update", || unsafe {
        start(buf, cap, out_len)?;
        let (r, g) = (required(&guest_ref, "guest_ref")?, self::guest_json(&guest_json)?);
        if replace != 0 {
            guest_call(client, budget_ms, buf, cap, out_len, |api| api.replace_guest(r, &g))
        } else {
            guest_call(client, budget_ms, buf, cap, out_len, |api| api.update_guest(r, &g))
        }
    })
}

/// Deletes guest `guest_ref` (`DELETE /v2.1/guests/{ref}`, the right to be forgotten): irreversible; CDP
/// also deletes its orders, sessions, events and data extensions. Copies the server's answer into `buf`
/// (`null` when it sent none). `guest_ref` is required. Outputs and failures as for
/// `xmcdp_client_guest_find` (`XMCDP_STATUS_NOT_FOUND` when no such guest exists).
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_guest_delete(
    client: xmcdp_client_t,
    guest_ref: xmcdp_str_t,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_guest_delete", || unsafe {
        start(buf, cap, out_len)?;
        let r = required(&guest_ref, "guest_ref")?;
        guest_call(client, budget_ms, buf, cap, out_len, |api| api.delete_guest(r))
    })
}
