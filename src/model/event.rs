//! Stream events (VIEW, IDENTITY, custom) and their JSON bodies.

use serde_json::{Map, Value};

use crate::error::{err, Error, ErrorKind};
use super::flatten::{Ext, MAX_EXT_DEPTH};
use super::packed::PackedView;
pub use super::view::{Base, ViewFields};
use super::validate::{
    check_date, check_email, check_len, check_no_control, check_short, check_short_str, MAX_EVENT_TYPE, MAX_SHORT,
    MAX_TEXT, MAX_URL,
};
use super::{BodyContext, Wire};
use super::event_body::{custom_json, identity_json, view_json};

/// Per-event values; `None` = not sent (Engage semantics) unless a default applies.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventCommon {
    /// `""` when the visitor has no cookie (Engage sends `""`).
    pub browser_id: String,
    pub channel: Option<String>,
    pub currency: Option<String>,
    pub language: Option<String>,
    /// Engage server sends `""` when not supplied.
    pub page: Option<String>,
    /// Per-event override of the settings pos; an empty string means "use settings", as in Engage.
    pub point_of_sale: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PageView {
    pub common: EventCommon,
    /// Path+query or absolute URL of the page; source of `utm_*` and `variantid`.
    pub url: Option<String>,
    /// Copy `utm_*` query parameters to the top level (Engage `includeUTMParameters`, default true).
    pub include_utm: bool,
    pub referrer: Option<String>,
    pub page_variant_id: Option<String>,
    pub ext: Ext,
}

impl Default for PageView {
    fn default() -> PageView {
        PageView {
            common: EventCommon::default(),
            url: None,
            include_utm: true,
            referrer: None,
            page_variant_id: None,
            ext: Ext::default(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Identifier {
    pub provider: String,
    pub id: String,
    /// Short ISO `YYYY-MM-DDTHH:MM`.
    pub expiry_date: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Identity {
    pub common: EventCommon,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Short ISO `YYYY-MM-DDTHH:MM`.
    pub dob: Option<String>,
    pub gender: Option<String>,
    pub mobile: Option<String>,
    pub phone: Option<String>,
    /// Sent as an array when non-empty.
    pub street: Vec<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub postal_code: Option<String>,
    pub title: Option<String>,
    pub identifiers: Vec<Identifier>,
    pub ext: Ext,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct CustomEvent {
    pub common: EventCommon,
    pub event_type: String,
    /// Extra top-level fields (product, reference_id, status, pay_type...), written next to `type`.
    /// Keys in [`RESERVED_DATA_KEYS`] are rejected by `validate` and skipped by `to_body`.
    pub data: Map<String, Value>,
    pub ext: Ext,
}

impl CustomEvent {
    /// Engage's `form(formId, interactionType)`: type FORM, `ext {formId, interactionType}` (upper-cased),
    /// and no channel/currency/language/page.
    pub fn form(browser_id: String, form_id: &str, interaction_type: &str) -> Result<CustomEvent, Error> {
        let mut ext = Ext::new();
        ext.insert("formId".into(), Value::String(form_id.to_string()))?;
        ext.insert("interactionType".into(), Value::String(interaction_type.to_uppercase()))?;
        Ok(CustomEvent {
            common: EventCommon { browser_id, ..EventCommon::default() },
            event_type: "FORM".into(),
            data: Map::new(),
            ext,
        })
    }
}

/// Custom-event data keys that would collide with keys the body builds itself. Engage would let base keys
/// silently win (and a `type` key silently replace the type); we reject them in `validate` instead, so a
/// caller's mistake shows up instead of vanishing. `pointOfSale` belongs in `EventCommon`.
pub const RESERVED_DATA_KEYS: &[&str] =
    &["type", "ext", "browser_id", "channel", "client_key", "currency", "language", "page", "pos", "pointOfSale", "requested_at"];

/// Event types that have their own builder with their own validation.
const DEDICATED_TYPES: &[&str] = &["VIEW", "IDENTITY"];

// Not boxed: events are built once and moved into the queue; an extra allocation per event buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    View(PageView),
    /// A VIEW as the C ABI queues it: the same event, its strings packed in one allocation.
    PackedView(PackedView),
    Identity(Identity),
    Custom(CustomEvent),
}

fn validate_common(c: &Base) -> Result<(), Error> {
    if !c.browser_id.is_empty() {
        crate::model::validate::validate_browser_id(c.browser_id)?;
    }
    check_short_str("channel", c.channel)?;
    check_short_str("currency", c.currency)?;
    check_short_str("language", c.language)?;
    check_short_str("pointOfSale", c.point_of_sale)?;
    if let Some(p) = c.point_of_sale {
        if !p.is_empty() && p.trim().is_empty() {
            return Err(err(ErrorKind::MissingPointOfSale, "\"pointOfSale\" cannot be empty."));
        }
    }
    text_max("page", c.page, MAX_TEXT)
}

/// The VIEW rules, in the order [`Event::validate`] has always applied them (the first error wins).
pub(super) fn validate_view(v: &ViewFields) -> Result<(), Error> {
    validate_common(&v.base)?;
    text_max("url", v.url, MAX_URL)?;
    text_max("referrer", v.referrer, MAX_URL)?;
    check_short_str("pageVariantId", v.page_variant_id)
}

fn text_max(field: &str, v: Option<&str>, max: usize) -> Result<(), Error> {
    if let Some(s) = v {
        check_len(field, s, max)?;
        check_no_control(field, s)?;
    }
    Ok(())
}

fn non_blank(field: &str, v: &str, max: usize) -> Result<(), Error> {
    if v.trim().is_empty() {
        return Err(err(ErrorKind::InvalidField, format!("\"{field}\" is required.")));
    }
    check_len(field, v, max)?;
    check_no_control(field, v)
}

fn check_event_type(t: &str) -> Result<(), Error> {
    if t.is_empty() || t.len() > MAX_EVENT_TYPE {
        return Err(err(ErrorKind::InvalidEventType, format!("The event type must be 1 to {MAX_EVENT_TYPE} characters.")));
    }
    if !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') {
        return Err(err(ErrorKind::InvalidEventType, "The event type may only contain A-Z, a-z, 0-9, '_', '-' and '.'."));
    }
    if DEDICATED_TYPES.contains(&t) {
        return Err(err(ErrorKind::InvalidEventType, format!("Send {t} events with their own event kind, not as a custom event.")));
    }
    Ok(())
}

fn value_depth_ok(v: &Value, depth: usize) -> bool {
    if depth > MAX_EXT_DEPTH {
        return false;
    }
    match v {
        Value::Array(a) => a.iter().all(|x| value_depth_ok(x, depth + 1)),
        Value::Object(o) => o.values().all(|x| value_depth_ok(x, depth + 1)),
        _ => true,
    }
}

impl Event {
    /// Cheap checks, run on the request thread. Does not see settings: see [`Event::validate_with`].
    pub fn validate(&self) -> Result<(), Error> {
        match self {
            Event::View(v) => validate_view(&v.fields()),
            Event::PackedView(v) => validate_view(&v.fields()),
            Event::Identity(i) => {
                validate_common(&i.common.base())?;
                if i.identifiers.is_empty() {
                    return Err(err(ErrorKind::MissingIdentifiers, "\"identifiers\" is required."));
                }
                for id in &i.identifiers {
                    non_blank("provider", &id.provider, MAX_SHORT)?;
                    non_blank("id", &id.id, MAX_TEXT)?;
                    if let Some(d) = &id.expiry_date {
                        check_date("expiryDate", d)?;
                    }
                }
                if let Some(e) = &i.email {
                    check_email(e)?;
                }
                if let Some(d) = &i.dob {
                    check_date("dob", d)?;
                }
                for (name, v) in [
                    ("firstName", &i.first_name),
                    ("lastName", &i.last_name),
                    ("gender", &i.gender),
                    ("mobile", &i.mobile),
                    ("phone", &i.phone),
                    ("city", &i.city),
                    ("state", &i.state),
                    ("country", &i.country),
                    ("postalCode", &i.postal_code),
                    ("title", &i.title),
                ] {
                    check_short(name, v)?;
                }
                if i.street.len() > 16 {
                    return Err(err(ErrorKind::TooLarge, "\"street\" has more than 16 lines."));
                }
                for s in &i.street {
                    check_len("street", s, MAX_TEXT)?;
                    check_no_control("street", s)?;
                }
                Ok(())
            }
            Event::Custom(c) => {
                validate_common(&c.common.base())?;
                check_event_type(&c.event_type)?;
                for (k, v) in &c.data {
                    if RESERVED_DATA_KEYS.contains(&k.as_str()) {
                        return Err(err(
                            ErrorKind::InvalidField,
                            format!("Event data key \"{k}\" is reserved; set it through the event's own fields."),
                        ));
                    }
                    if k.is_empty() {
                        return Err(err(ErrorKind::InvalidField, "Event data keys must not be empty."));
                    }
                    check_len("event data key", k, MAX_SHORT)?;
                    if !value_depth_ok(v, 0) {
                        return Err(err(ErrorKind::InvalidField, format!("Event data is nested deeper than {MAX_EXT_DEPTH} levels.")));
                    }
                }
                Ok(())
            }
        }
    }

    /// [`Event::validate`] plus the checks that need settings: on the classic wire some pos must be known
    /// (Engage MV-0003).
    pub fn validate_with(&self, ctx: &BodyContext) -> Result<(), Error> {
        self.validate()?;
        if ctx.wire == Wire::Classic && ctx.effective_pos(self.base().point_of_sale).trim().is_empty() {
            return Err(err(ErrorKind::MissingPointOfSale, "\"pointOfSale\" is required."));
        }
        Ok(())
    }

    /// The fields every event has, borrowed.
    pub fn base(&self) -> Base<'_> {
        match self {
            Event::View(v) => v.common.base(),
            Event::PackedView(v) => v.fields().base,
            Event::Identity(i) => i.common.base(),
            Event::Custom(c) => c.common.base(),
        }
    }

    /// The common fields, to change them. A packed view is unpacked into an owned one first (its user
    /// agent is not part of the event and is dropped): for building events, not for the request path.
    pub fn common_mut(&mut self) -> &mut EventCommon {
        if let Event::PackedView(p) = self {
            *self = Event::View(p.to_page_view());
        }
        match self {
            Event::View(v) => &mut v.common,
            Event::Identity(i) => &mut i.common,
            Event::Custom(c) => &mut c.common,
            Event::PackedView(_) => unreachable!("unpacked above"),
        }
    }

    pub fn browser_id(&self) -> &str {
        match self {
            Event::PackedView(v) => v.browser_id(),
            _ => self.base().browser_id,
        }
    }

    pub fn event_type(&self) -> &str {
        match self {
            Event::View(_) | Event::PackedView(_) => "VIEW",
            Event::Identity(_) => "IDENTITY",
            Event::Custom(c) => &c.event_type,
        }
    }

    /// What this event holds in memory beyond its own `size_of`, for the byte-bounded queue: string
    /// capacities, JSON slots and map entries, allocator overhead (see `footprint`).
    pub fn approx_bytes(&self) -> usize {
        use super::footprint::{alloc, map, opt, string};
        let c = match self {
            Event::View(v) => &v.common,
            Event::Identity(i) => &i.common,
            Event::Custom(c) => &c.common,
            Event::PackedView(v) => return std::mem::size_of::<Event>() + v.approx_bytes(),
        };
        let common = string(&c.browser_id, c.browser_id.capacity()) + opt(&c.channel) + opt(&c.currency) + opt(&c.language) + opt(&c.page) + opt(&c.point_of_sale);
        let own = match self {
            Event::View(v) => opt(&v.url) + opt(&v.referrer) + opt(&v.page_variant_id) + v.ext.approx_bytes(),
            Event::Identity(i) => {
                [&i.email, &i.first_name, &i.last_name, &i.dob, &i.gender, &i.mobile, &i.phone, &i.city, &i.state, &i.country, &i.postal_code, &i.title]
                    .iter()
                    .map(|s| opt(s))
                    .sum::<usize>()
                    + alloc(i.street.capacity() * std::mem::size_of::<String>())
                    + i.street.iter().map(|s| string(s, s.capacity())).sum::<usize>()
                    + alloc(i.identifiers.capacity() * std::mem::size_of::<Identifier>())
                    + i.identifiers.iter().map(|x| string(&x.provider, x.provider.capacity()) + string(&x.id, x.id.capacity()) + opt(&x.expiry_date)).sum::<usize>()
                    + i.ext.approx_bytes()
            }
            Event::Custom(c) => string(&c.event_type, c.event_type.capacity()) + map(&c.data) + c.ext.approx_bytes(),
            Event::PackedView(_) => 0,
        };
        std::mem::size_of::<Event>() + common + own
    }

    /// The JSON body, byte-equal to the official SDK's for the same input.
    pub fn to_body(&self, ctx: &BodyContext) -> Vec<u8> {
        serde_json::to_vec(&Value::Object(self.to_json(ctx))).unwrap_or_default()
    }

    /// The body as an ordered JSON object.
    pub fn to_json(&self, ctx: &BodyContext) -> Map<String, Value> {
        match self {
            Event::View(v) => view_json(&v.fields(), &v.ext, ctx),
            Event::PackedView(v) => view_json(&v.fields(), v.ext(), ctx),
            Event::Identity(i) => identity_json(i, ctx),
            Event::Custom(c) => custom_json(c, ctx),
        }
    }
}
