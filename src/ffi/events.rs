//! `xmcdp_client_page_view` / `_identity` / `_event`: C structs in, validated core events queued.
//!
//! Each call validates on the calling thread and enqueues; none blocks or does I/O. All structs and
//! the strings they point to are borrowed for the duration of the call only: the library copies what
//! it keeps. Zero-initialised structs are valid "everything absent" values.

use super::call::{ffi_call, FfiError, FfiResult};
use super::client::{with_client, xmcdp_client_t};
use super::status::xmcdp_status_t::{self, *};
use super::strings::{check_nesting, non_null, slice, xmcdp_str_t, XMCDP_MAX_JSON_LEN, XMCDP_MAX_STR_LEN};
use crate::model::{Base, CustomEvent, Event, EventCommon, Ext, Identifier, Identity, ViewFields};
use interoptopus::{ffi_function, ffi_type};
use serde_json::{Map, Value};

/// Fields shared by every event. Absent (NULL) fields take the client's settings defaults where it has
/// one (channel, currency, language, point of sale).
#[ffi_type]
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct xmcdp_common_t {
    /// The visitor's browser id (from the `bid_` cookie); absent or empty when the visitor has none.
    pub browser_id: xmcdp_str_t,
    /// e.g. "WEB".
    pub channel: xmcdp_str_t,
    /// ISO 4217 code, e.g. "EUR".
    pub currency: xmcdp_str_t,
    /// e.g. "EN".
    pub language: xmcdp_str_t,
    /// Page name as CDP should show it.
    pub page: xmcdp_str_t,
    /// Overrides the settings' point of sale for this event.
    pub point_of_sale: xmcdp_str_t,
}

/// A VIEW event, for `xmcdp_client_page_view`.
#[ffi_type]
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct xmcdp_page_view_t {
    pub common: xmcdp_common_t,
    /// Path and query (or absolute URL) of the request; source of `utm_*` parameters.
    pub url: xmcdp_str_t,
    /// The Referer header.
    pub referrer: xmcdp_str_t,
    /// The personalization / experiment variant served on this page.
    pub page_variant_id: xmcdp_str_t,
    /// A JSON object of extension data (flattened, at most 50 attributes, at most 64 KiB).
    pub ext_json: xmcdp_str_t,
    /// The visitor's User-Agent, forwarded to CDP.
    pub user_agent: xmcdp_str_t,
    /// Non-zero: copy `utm_*` query parameters of `url` onto the event (the official SDK's default).
    pub include_utm: u8,
}

/// An identifier of a person, e.g. provider "email" and the address.
#[ffi_type]
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct xmcdp_identifier_t {
    pub provider: xmcdp_str_t,
    pub id: xmcdp_str_t,
    /// Short ISO date-time `YYYY-MM-DDTHH:MM`, optional.
    pub expiry_date: xmcdp_str_t,
}

/// An IDENTITY event, for `xmcdp_client_identity`. At least one identifier is required.
#[ffi_type]
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
#[ffi_surrogates(street_len = "usize_surrogate", identifiers_len = "usize_surrogate")]
pub struct xmcdp_identity_t {
    pub common: xmcdp_common_t,
    pub email: xmcdp_str_t,
    pub first_name: xmcdp_str_t,
    pub last_name: xmcdp_str_t,
    /// Date of birth, short ISO `YYYY-MM-DDTHH:MM`.
    pub dob: xmcdp_str_t,
    pub gender: xmcdp_str_t,
    pub mobile: xmcdp_str_t,
    pub phone: xmcdp_str_t,
    pub city: xmcdp_str_t,
    pub state: xmcdp_str_t,
    pub country: xmcdp_str_t,
    pub postal_code: xmcdp_str_t,
    pub title: xmcdp_str_t,
    /// A JSON object of extension data (flattened, at most 50 attributes, at most 64 KiB).
    pub ext_json: xmcdp_str_t,
    /// The visitor's User-Agent, forwarded to CDP.
    pub user_agent: xmcdp_str_t,
    /// `street_len` address lines (NULL when 0), each present.
    pub street: *const xmcdp_str_t,
    pub street_len: usize,
    /// `identifiers_len` identifiers (NULL when 0).
    pub identifiers: *const xmcdp_identifier_t,
    pub identifiers_len: usize,
}

/// A custom event (ADD, CONFIRM, CHECKOUT, PAYMENT, SEARCH, FORM, your own), for `xmcdp_client_event`.
#[ffi_type]
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct xmcdp_event_t {
    pub common: xmcdp_common_t,
    /// Required: A-Z, a-z, 0-9, '_', '-', '.'; not VIEW or IDENTITY.
    pub event_type: xmcdp_str_t,
    /// A JSON object of extra top-level fields (e.g. `{"product": {...}, "reference_id": "..."}`),
    /// at most 64 KiB; absent for none.
    pub data_json: xmcdp_str_t,
    /// A JSON object of extension data (flattened, at most 50 attributes, at most 64 KiB).
    pub ext_json: xmcdp_str_t,
    /// The visitor's User-Agent, forwarded to CDP.
    pub user_agent: xmcdp_str_t,
}

use super::strings::usize_surrogate;
use interoptopus::ffi_surrogates;

unsafe fn opt(s: &xmcdp_str_t, field: &str) -> FfiResult<Option<String>> {
    s.to_opt_string(field)
}

/// What [`opt`] checks (size limit, UTF-8), without the copy. The common case (absent, or ASCII within the
/// limit) is decided inline; anything else takes `as_str`, whose errors name the field.
#[inline(always)]
unsafe fn borrow<'a>(s: &xmcdp_str_t, field: &str) -> FfiResult<Option<&'a str>> {
    if s.ptr.is_null() {
        if s.len == 0 {
            return Ok(None);
        }
    } else if s.len <= XMCDP_MAX_STR_LEN {
        let b = std::slice::from_raw_parts(s.ptr, s.len);
        if super::strings::is_ascii(b) {
            return Ok(Some(std::str::from_utf8_unchecked(b)));
        }
    }
    s.as_str(field, XMCDP_MAX_STR_LEN)
}

/// Field names for messages, built at compile time: the page-view path must not allocate for them.
macro_rules! common_names {
    ($what:literal) => {
        [
            concat!($what, ".common.browser_id"),
            concat!($what, ".common.channel"),
            concat!($what, ".common.currency"),
            concat!($what, ".common.language"),
            concat!($what, ".common.page"),
            concat!($what, ".common.point_of_sale"),
        ]
    };
}

unsafe fn common(c: &xmcdp_common_t, names: [&str; 6]) -> FfiResult<EventCommon> {
    Ok(EventCommon {
        browser_id: opt(&c.browser_id, names[0])?.unwrap_or_default(),
        channel: opt(&c.channel, names[1])?,
        currency: opt(&c.currency, names[2])?,
        language: opt(&c.language, names[3])?,
        page: opt(&c.page, names[4])?,
        point_of_sale: opt(&c.point_of_sale, names[5])?,
    })
}

unsafe fn ext(s: &xmcdp_str_t, field: &str) -> FfiResult<Ext> {
    let json = s.as_str(field, XMCDP_MAX_JSON_LEN)?;
    if let Some(json) = json {
        check_nesting(json, field, XMCDP_STATUS_INVALID_EXT)?;
    }
    match json {
        None => Ok(Ext::default()),
        Some(json) => Ext::from_json(json.as_bytes()).map_err(|e| {
            let mut e = FfiError::from(e);
            e.message = format!("{field}: {}", e.message);
            e
        }),
    }
}

unsafe fn data(s: &xmcdp_str_t, field: &str) -> FfiResult<Map<String, Value>> {
    let Some(json) = s.as_str(field, XMCDP_MAX_JSON_LEN)? else {
        return Ok(Map::new());
    };
    check_nesting(json, field, XMCDP_STATUS_INVALID_FIELD)?;
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(FfiError::new(XMCDP_STATUS_INVALID_FIELD, format!("{field}: not a JSON object"))),
        Err(e) => Err(FfiError::new(XMCDP_STATUS_INVALID_FIELD, format!("{field}: invalid JSON at line {} column {}", e.line(), e.column()))),
    }
}

fn send(handle: xmcdp_client_t, event: Event, user_agent: Option<String>) -> FfiResult {
    // `send` validates and enqueues without blocking, so it may run under the handle table's read lock.
    with_client(handle, |c| c.send(event, user_agent))??;
    Ok(())
}

/// Queues a VIEW event for delivery. Validates on the calling thread and never blocks.
///
/// `page_view` and every string it points to are borrowed for the duration of the call. Fails with
/// `XMCDP_STATUS_NULL_POINTER`, `XMCDP_STATUS_INVALID_UTF8` / `XMCDP_STATUS_TOO_LARGE` (the message
/// names the field; strings are limited to 64 KiB), the 30s validation statuses,
/// `XMCDP_STATUS_QUEUE_FULL` (the event is dropped), `XMCDP_STATUS_SHUT_DOWN`,
/// `XMCDP_STATUS_INVALID_HANDLE`.
#[ffi_function]
#[no_mangle]
pub extern "C" fn xmcdp_client_page_view(client: xmcdp_client_t, page_view: *const xmcdp_page_view_t) -> xmcdp_status_t {
    ffi_call("xmcdp_client_page_view", || unsafe {
        let p = &*non_null(page_view, "page_view")?;
        // Borrowed, not copied: the core validates them in place and packs them into one allocation. The
        // checks run in the order the owned path ran them, so each input gets the same error as before.
        let names = common_names!("page_view");
        let c = &p.common;
        let view = ViewFields {
            base: Base {
                browser_id: borrow(&c.browser_id, names[0])?.unwrap_or(""),
                channel: borrow(&c.channel, names[1])?,
                currency: borrow(&c.currency, names[2])?,
                language: borrow(&c.language, names[3])?,
                page: borrow(&c.page, names[4])?,
                point_of_sale: borrow(&c.point_of_sale, names[5])?,
            },
            url: borrow(&p.url, "page_view.url")?,
            include_utm: p.include_utm != 0,
            referrer: borrow(&p.referrer, "page_view.referrer")?,
            page_variant_id: borrow(&p.page_variant_id, "page_view.page_variant_id")?,
        };
        let ext = ext(&p.ext_json, "page_view.ext_json")?;
        let user_agent = borrow(&p.user_agent, "page_view.user_agent")?;
        with_client(client, |c| c.send_view(view, ext, user_agent))??;
        Ok(())
    })
}

/// Queues an IDENTITY event (a visitor identified, e.g. at login). Validates on the calling thread and
/// never blocks.
///
/// `identity`, its `street` and `identifiers` arrays and every string they point to are borrowed for
/// the duration of the call (arrays are limited to 64 elements). Fails like `xmcdp_client_page_view`,
/// plus `XMCDP_STATUS_MISSING_IDENTIFIERS`, `XMCDP_STATUS_INVALID_EMAIL`, `XMCDP_STATUS_INVALID_DATE`.
#[ffi_function]
#[no_mangle]
pub extern "C" fn xmcdp_client_identity(client: xmcdp_client_t, identity: *const xmcdp_identity_t) -> xmcdp_status_t {
    ffi_call("xmcdp_client_identity", || unsafe {
        let i = &*non_null(identity, "identity")?;
        let mut street = Vec::new();
        for (n, s) in slice(i.street, i.street_len, "identity.street")?.iter().enumerate() {
            let field = format!("identity.street[{n}]");
            street.push(s.required(&field, XMCDP_MAX_STR_LEN)?.to_owned());
        }
        let mut identifiers = Vec::new();
        for (n, id) in slice(i.identifiers, i.identifiers_len, "identity.identifiers")?.iter().enumerate() {
            identifiers.push(Identifier {
                provider: opt(&id.provider, &format!("identity.identifiers[{n}].provider"))?.unwrap_or_default(),
                id: opt(&id.id, &format!("identity.identifiers[{n}].id"))?.unwrap_or_default(),
                expiry_date: opt(&id.expiry_date, &format!("identity.identifiers[{n}].expiry_date"))?,
            });
        }
        let event = Identity {
            common: common(&i.common, common_names!("identity"))?,
            email: opt(&i.email, "identity.email")?,
            first_name: opt(&i.first_name, "identity.first_name")?,
            last_name: opt(&i.last_name, "identity.last_name")?,
            dob: opt(&i.dob, "identity.dob")?,
            gender: opt(&i.gender, "identity.gender")?,
            mobile: opt(&i.mobile, "identity.mobile")?,
            phone: opt(&i.phone, "identity.phone")?,
            street,
            city: opt(&i.city, "identity.city")?,
            state: opt(&i.state, "identity.state")?,
            country: opt(&i.country, "identity.country")?,
            postal_code: opt(&i.postal_code, "identity.postal_code")?,
            title: opt(&i.title, "identity.title")?,
            identifiers,
            ext: ext(&i.ext_json, "identity.ext_json")?,
        };
        send(client, Event::Identity(event), opt(&i.user_agent, "identity.user_agent")?)
    })
}

/// Queues a custom event (any type but VIEW and IDENTITY). Validates on the calling thread and never
/// blocks.
///
/// `custom_event` and every string it points to are borrowed for the duration of the call. Fails like
/// `xmcdp_client_page_view`, plus `XMCDP_STATUS_INVALID_EVENT_TYPE` and `XMCDP_STATUS_INVALID_FIELD`
/// (`data_json` not a JSON object, or using a reserved key such as "type").
#[ffi_function]
#[no_mangle]
pub extern "C" fn xmcdp_client_event(client: xmcdp_client_t, custom_event: *const xmcdp_event_t) -> xmcdp_status_t {
    ffi_call("xmcdp_client_event", || unsafe {
        let e = &*non_null(custom_event, "custom_event")?;
        let event = CustomEvent {
            common: common(&e.common, common_names!("event"))?,
            event_type: opt(&e.event_type, "event.event_type")?.unwrap_or_default(),
            data: data(&e.data_json, "event.data_json")?,
            ext: ext(&e.ext_json, "event.ext_json")?,
        };
        send(client, Event::Custom(event), opt(&e.user_agent, "event.user_agent")?)
    })
}
