//! `xmcdp_client_decide` and the prefetch trio `xmcdp_client_decision_begin` / `_ready` / `_wait`: a C
//! struct in, the flow's response body out, each call bounded by a budget.
//!
//! The response goes into the caller's buffer. A decision costs a network round trip, so when it does
//! not fit it is not thrown away: it is held for `xmcdp_result_take` on the same thread (see
//! `strings::write_or_hold`). A 4 KiB buffer fits typical flow templates; the retry is the rare path.

use super::call::ffi_call;
use super::call::{FfiError, FfiResult};
use super::client::{client, with_client, xmcdp_client_t};
use super::status::xmcdp_status_t::{self, *};
use super::strings::{
    buffer_surrogate, check_out_buffer, clear_held, non_null, non_null_mut, slice, usize_out_surrogate, usize_surrogate, write_or_hold, xmcdp_str_t,
    XMCDP_MAX_JSON_LEN, XMCDP_MAX_STR_LEN,
};
use crate::decisions::{DecisionFields, Params, ParamsError, ParamsJson, Ticket};
use interoptopus::{ffi_function, ffi_surrogates, ffi_type};
use serde_json::{Map, Value};
use std::time::Duration;

/// A decision request: which flow to run for which visitor. Absent (NULL) fields are not sent, except
/// `point_of_sale`, which falls back to the settings' point of sale. Zero-initialised is "everything
/// absent" (and fails with `XMCDP_STATUS_MISSING_FRIENDLY_ID`).
#[ffi_type]
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
#[ffi_surrogates(page_variant_ids_len = "usize_surrogate")]
pub struct xmcdp_decision_request_t {
    /// Required: the flow's friendly id, e.g. "home_page_banner" (a trailing `*` runs the first live match).
    pub friendly_id: xmcdp_str_t,
    /// The visitor's browser id (from the `bid_` cookie); absent or empty when the visitor has none.
    pub browser_id: xmcdp_str_t,
    /// Identifies the visitor instead of the browser id when non-blank.
    pub email: xmcdp_str_t,
    /// With `identifier_id`: identifies the visitor instead of the browser id when the id is non-blank.
    pub identifier_provider: xmcdp_str_t,
    pub identifier_id: xmcdp_str_t,
    /// e.g. "WEB".
    pub channel: xmcdp_str_t,
    /// ISO 4217 code, e.g. "EUR".
    pub currency: xmcdp_str_t,
    /// e.g. "EN".
    pub language: xmcdp_str_t,
    /// Overrides the settings' point of sale for this request (classic only).
    pub point_of_sale: xmcdp_str_t,
    /// A JSON object of custom parameters for the flow (at most 64 KiB; flattened with `_` on classic).
    pub params_json: xmcdp_str_t,
    /// Edge only: the visitor's guest ref.
    pub guest_ref: xmcdp_str_t,
    /// The visitor's User-Agent, forwarded when the settings say so.
    pub user_agent: xmcdp_str_t,
    /// Edge only: `page_variant_ids_len` page variant ids (NULL when 0), each present.
    pub page_variant_ids: *const xmcdp_str_t,
    pub page_variant_ids_len: usize,
}

/// A prefetch ticket: an opaque non-zero id issued by `xmcdp_client_decision_begin`, claimed once by
/// `xmcdp_client_decision_wait` with the same client. Unclaimed tickets expire after
/// `decisionTicketTtlMs`; nothing needs to be freed.
#[allow(non_camel_case_types)]
pub type xmcdp_ticket_t = u64;

// A ticket is `tag | client check | core id`: the tag tells a ticket from a client handle (0x01), the 16-bit
// check turns most tickets passed to another client away early, and 40 bits of id outlast any process
// (10^12 prefetches). The check alone cannot tell clients apart (it folds the handle to 16 bits, so clients
// share it); what makes a ticket unknown to every other client is that core ids are unique per process.
const TICKET_TAG: u64 = 0x02 << 56;
const TICKET_ID_BITS: u32 = 40;
const TICKET_ID_MASK: u64 = (1 << TICKET_ID_BITS) - 1;

fn ticket_check(client: xmcdp_client_t) -> u64 {
    (client ^ (client >> 16) ^ (client >> 32)) & 0xffff
}

fn encode_ticket(client: xmcdp_client_t, t: Ticket) -> FfiResult<xmcdp_ticket_t> {
    if t.0 == 0 || t.0 > TICKET_ID_MASK {
        return Err(FfiError::new(XMCDP_STATUS_INTERNAL, "decision ticket id out of range"));
    }
    Ok(TICKET_TAG | (ticket_check(client) << TICKET_ID_BITS) | t.0)
}

fn decode_ticket(client: xmcdp_client_t, ticket: xmcdp_ticket_t) -> FfiResult<Ticket> {
    let ok = ticket & (0xff << 56) == TICKET_TAG && (ticket >> TICKET_ID_BITS) & 0xffff == ticket_check(client) && ticket & TICKET_ID_MASK != 0;
    if !ok {
        return Err(FfiError::new(XMCDP_STATUS_TICKET_UNKNOWN, format!("ticket {ticket:#x}: not a decision ticket of this client")));
    }
    Ok(Ticket(ticket & TICKET_ID_MASK))
}

/// `budget_ms` 0 means the client's setting.
pub(crate) fn budget(budget_ms: u32, default: Duration) -> Duration {
    if budget_ms == 0 {
        default
    } else {
        Duration::from_millis(u64::from(budget_ms))
    }
}

unsafe fn opt<'a>(s: &xmcdp_str_t, field: &str) -> FfiResult<Option<&'a str>> {
    s.as_str(field, XMCDP_MAX_STR_LEN)
}

/// Checked in one pass without building a `Value` (the task parses it again, off the request thread).
unsafe fn params<'a>(s: &xmcdp_str_t) -> FfiResult<Params<'a>> {
    const FIELD: &str = "request.params_json";
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    let Some(json) = s.as_str(FIELD, XMCDP_MAX_JSON_LEN)? else {
        return Ok(Params::Map(EMPTY.get_or_init(Map::new)));
    };
    super::strings::check_nesting(json, FIELD, XMCDP_STATUS_INVALID_FIELD)?;
    match ParamsJson::scan(json) {
        Ok(p) => Ok(Params::Json(p)),
        Err(ParamsError::NotObject) => Err(FfiError::new(XMCDP_STATUS_INVALID_FIELD, format!("{FIELD}: not a JSON object"))),
        Err(ParamsError::Syntax(e)) => {
            Err(FfiError::new(XMCDP_STATUS_INVALID_FIELD, format!("{FIELD}: invalid JSON at line {} column {}", e.line(), e.column())))
        }
    }
}

/// The request as borrowed fields and the borrowed User-Agent: nothing is copied here.
unsafe fn request<'a>(r: *const xmcdp_decision_request_t) -> FfiResult<(DecisionFields<'a>, Option<&'a str>)> {
    let r = &*non_null(r, "request")?;
    let provider = opt(&r.identifier_provider, "request.identifier_provider")?;
    let id = opt(&r.identifier_id, "request.identifier_id")?;
    let ids = slice(r.page_variant_ids, r.page_variant_ids_len, "request.page_variant_ids")?;
    let mut variants = Vec::with_capacity(ids.len());
    for (n, v) in ids.iter().enumerate() {
        variants.push(v.required(&format!("request.page_variant_ids[{n}]"), XMCDP_MAX_STR_LEN)?);
    }
    let req = DecisionFields {
        friendly_id: opt(&r.friendly_id, "request.friendly_id")?.unwrap_or_default(),
        browser_id: opt(&r.browser_id, "request.browser_id")?,
        email: opt(&r.email, "request.email")?,
        identifier: (provider.is_some() || id.is_some()).then(|| (provider.unwrap_or_default(), id.unwrap_or_default())),
        channel: opt(&r.channel, "request.channel")?,
        currency: opt(&r.currency, "request.currency")?,
        language: opt(&r.language, "request.language")?,
        point_of_sale: opt(&r.point_of_sale, "request.point_of_sale")?,
        params: params(&r.params_json)?,
        guest_ref: opt(&r.guest_ref, "request.guest_ref")?,
        page_variant_ids: variants,
    };
    Ok((req, r.user_agent.as_str("request.user_agent", XMCDP_MAX_STR_LEN)?))
}

/// Runs `request`'s flow and waits at most `budget_ms` (0 = the client's `decisionTimeoutMs`) for its
/// answer. Blocks the calling thread up to the budget; identical concurrent requests share one HTTP call.
///
/// On `XMCDP_STATUS_OK` copies the flow's response body (what its template rendered, usually JSON such
/// as `{"variantId":"..."}`; no terminator) into `buf` and its length into `*out_len`. Any other status
/// means "render the fallback": `XMCDP_STATUS_TIMEOUT`, `XMCDP_STATUS_CIRCUIT_OPEN`,
/// `XMCDP_STATUS_FLOW_NOT_FOUND`, `XMCDP_STATUS_DECISION_FAILED`, the 60s remote statuses, with the
/// reason (and the server's message) in `xmcdp_last_error`; or a bad request: the 10s argument statuses,
/// `XMCDP_STATUS_MISSING_FRIENDLY_ID`, `XMCDP_STATUS_INVALID_BROWSER_ID`, `XMCDP_STATUS_INVALID_EMAIL`,
/// `XMCDP_STATUS_INVALID_FIELD`; `XMCDP_STATUS_SHUT_DOWN`, `XMCDP_STATUS_INVALID_HANDLE`.
///
/// `XMCDP_STATUS_BUFFER_TOO_SMALL` writes the needed length to `*out_len` and keeps the decision: call
/// `xmcdp_result_take` next, on the same thread, with a buffer that large (never decide again).
///
/// `request`, its array and every string it points to, `buf` (writable for `cap` bytes; NULL allowed
/// when `cap` is 0) and `out_len` are borrowed for the duration of the call.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_decide(
    client: xmcdp_client_t,
    request: *const xmcdp_decision_request_t,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_decide", || unsafe {
        clear_held();
        check_out_buffer(buf, cap, out_len)?;
        let (req, user_agent) = self::request(request)?;
        // Blocks: hold the client itself, not the handle table's lock.
        let c = self::client(client)?;
        let d = c.decisions().decide_fields(&req, user_agent, budget(budget_ms, c.decisions().default_decision_budget()))?;
        write_or_hold(d.body, buf, cap, out_len, "decision")
    })
}

/// Starts a decision and returns at once with a ticket in `*out_ticket` (prefetch at request begin; claim
/// the answer with `xmcdp_client_decision_wait` when the page needs it). Never blocks. The HTTP call is
/// bounded by `decisionTimeoutMs`. An open circuit breaker still yields a ticket (its answer is
/// `XMCDP_STATUS_CIRCUIT_OPEN`).
///
/// `request` and everything it points to, and `out_ticket`, are borrowed for the duration of the call.
/// The ticket needs no freeing: an unclaimed one expires after `decisionTicketTtlMs`. On failure
/// `*out_ticket` is 0. Fails like `xmcdp_client_decide` for a bad request, plus
/// `XMCDP_STATUS_QUEUE_FULL` (too many outstanding tickets, `decisionMaxTickets`).
#[ffi_function]
#[no_mangle]
pub extern "C" fn xmcdp_client_decision_begin(
    client: xmcdp_client_t,
    request: *const xmcdp_decision_request_t,
    out_ticket: *mut xmcdp_ticket_t,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_decision_begin", || unsafe {
        let out_ticket = non_null_mut(out_ticket, "out_ticket")?;
        *out_ticket = 0;
        let (req, user_agent) = self::request(request)?;
        // begin_decide validates, spawns and returns: fine under the handle table's read lock.
        let t = with_client(client, |c| c.decisions().begin_decide_fields(&req, user_agent))??;
        *out_ticket = encode_ticket(client, t)?;
        Ok(())
    })
}

/// Writes 1 to `*out_ready` when the ticket's answer has arrived (so `xmcdp_client_decision_wait` will
/// not block), else 0. Does not claim the ticket. Never blocks.
///
/// `out_ready` is borrowed for the duration of the call. Fails with `XMCDP_STATUS_TICKET_UNKNOWN`
/// (unknown, expired, already claimed, or from another client), `XMCDP_STATUS_INVALID_HANDLE`,
/// `XMCDP_STATUS_NULL_POINTER`.
#[ffi_function]
#[no_mangle]
pub extern "C" fn xmcdp_client_decision_ready(client: xmcdp_client_t, ticket: xmcdp_ticket_t, out_ready: *mut u8) -> xmcdp_status_t {
    ffi_call("xmcdp_client_decision_ready", || unsafe {
        let out_ready = non_null_mut(out_ready, "out_ready")?;
        *out_ready = 0;
        let ready = with_client(client, |c| decode_ticket(client, ticket).and_then(|t| Ok(c.decisions().decision_ready(t)?)))??;
        *out_ready = u8::from(ready);
        Ok(())
    })
}

/// Claims a prefetch's answer, waiting at most `budget_ms` (0 = the client's `decisionTimeoutMs`). A
/// ticket is claimed once, whatever the outcome: a second wait, or a wait after `decisionTicketTtlMs`,
/// fails with `XMCDP_STATUS_TICKET_UNKNOWN` (as does a ticket of another client).
///
/// Outputs, statuses, buffer rules and `XMCDP_STATUS_BUFFER_TOO_SMALL` (the answer is kept for
/// `xmcdp_result_take`) are those of `xmcdp_client_decide`.
#[ffi_function]
#[ffi_surrogates(buf = "buffer_surrogate", cap = "usize_surrogate", out_len = "usize_out_surrogate")]
#[no_mangle]
pub extern "C" fn xmcdp_client_decision_wait(
    client: xmcdp_client_t,
    ticket: xmcdp_ticket_t,
    budget_ms: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> xmcdp_status_t {
    ffi_call("xmcdp_client_decision_wait", || unsafe {
        clear_held();
        check_out_buffer(buf, cap, out_len)?;
        let c = self::client(client)?;
        let t = decode_ticket(client, ticket)?;
        let d = c.decisions().wait_decision(t, budget(budget_ms, c.decisions().default_decision_budget()))?;
        write_or_hold(d.body, buf, cap, out_len, "decision")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_tagged_and_bound_to_their_client() {
        let (a, b) = (0x0100_0001_0000_0000u64, 0x0100_0001_0000_0001u64);
        let t = encode_ticket(a, Ticket(7)).unwrap();
        assert_eq!(decode_ticket(a, t).unwrap(), Ticket(7));
        assert_eq!(decode_ticket(b, t).unwrap_err().status, XMCDP_STATUS_TICKET_UNKNOWN);
        for garbage in [0, 7, a, u64::MAX, t & !TICKET_ID_MASK] {
            assert_eq!(decode_ticket(a, garbage).unwrap_err().status, XMCDP_STATUS_TICKET_UNKNOWN, "{garbage:#x}");
        }
        assert!(encode_ticket(a, Ticket(1 << 40)).is_err());
        assert_eq!(budget(0, Duration::from_millis(400)), Duration::from_millis(400));
        assert_eq!(budget(5, Duration::from_millis(400)), Duration::from_millis(5));
    }
}
