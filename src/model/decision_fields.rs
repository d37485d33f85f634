//! A decision request as borrowed fields: what the request thread validates in place (the C ABI's strings are
//! not copied to be checked) and what [`DecisionRequest::validate`] checks too, so the rules exist once.
//! The params may be JSON text, checked by [`ParamsJson::scan`] without building a `Value`.

use crate::error::{err, Error, ErrorKind};
use super::validate::{check_email, check_len, check_no_control, validate_browser_id, MAX_SHORT, MAX_TEXT};
use super::{BodyContext, DecisionRequest, Wire};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::Cell;
use std::fmt;

/// Params are nested at most as deep as an event's ext.
const MAX_PARAMS_DEPTH: usize = super::flatten::MAX_EXT_DEPTH;
const MAX_VARIANTS: usize = 50;

/// The flow's custom parameters: an object already parsed, or JSON text checked by [`ParamsJson::scan`].
#[derive(Clone, Copy, Debug)]
pub enum Params<'a> {
    Map(&'a Map<String, Value>),
    Json(ParamsJson<'a>),
}

/// JSON text known to be one object that `serde_json` parses into the same `Map` the caller meant, with the
/// depth of its deepest value (the object's own values are at depth 1, as the model counts). A key repeated
/// at one level is judged on every occurrence, where a parse keeps only the last: too deep anywhere is refused.
#[derive(Clone, Copy, Debug)]
pub struct ParamsJson<'a> {
    pub(crate) text: &'a str,
    depth: usize,
}

/// Why params JSON was refused.
#[derive(Debug)]
pub enum ParamsError {
    /// Not JSON (with `serde_json`'s line and column, as a full parse reports them).
    Syntax(serde_json::Error),
    /// JSON, but not an object.
    NotObject,
}

impl<'a> ParamsJson<'a> {
    /// Checks `text` in one pass without building it: the same deserializer a `Value` parse uses (so the same
    /// syntax, number range, escape and recursion-limit errors, at the same positions), but nothing allocated.
    pub fn scan(text: &'a str) -> Result<ParamsJson<'a>, ParamsError> {
        let depth = Cell::new(0);
        let mut de = serde_json::Deserializer::from_str(text);
        let object = Top(&depth).deserialize(&mut de).and_then(|o| de.end().map(|_| o)).map_err(ParamsError::Syntax)?;
        if !object {
            return Err(ParamsError::NotObject);
        }
        Ok(ParamsJson { text, depth: depth.get() })
    }
}

/// The top-level value: `true` when it is an object.
struct Top<'d>(&'d Cell<usize>);

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        Scan { depth: 0, max: self.0 }.visit_map(map).map(|_| true)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        // Read to the end anyway: a syntax error later on is reported first, as a full parse would.
        Scan { depth: 0, max: self.0 }.visit_seq(seq).map(|_| false)
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// One value at `depth`; records the deepest seen.
struct Scan<'d> {
    depth: usize,
    max: &'d Cell<usize>,
}

impl Scan<'_> {
    fn seen<E>(&self) -> Result<(), E> {
        if self.depth > self.max.get() {
            self.max.set(self.depth);
        }
        Ok(())
    }
    fn child(&self) -> Scan<'_> {
        Scan { depth: self.depth + 1, max: self.max }
    }
}

impl<'de> DeserializeSeed<'de> for Scan<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // `deserialize_any`, not `IgnoredAny`: serde_json skips ignored values more leniently (numbers out of
        // range, escapes), and the params must fail here exactly when a `Value` parse would.
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.seen()?;
        // Keys go through `deserialize_any` too (escapes checked); they do not deepen the value.
        while map.next_key_seed(Key)?.is_some() {
            map.next_value_seed(self.child())?;
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.seen()?;
        while seq.next_element_seed(self.child())?.is_some() {}
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.seen()
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        self.seen()
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        self.seen()
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        self.seen()
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        self.seen()
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.seen()
    }
}

struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
}

/// A decision request as borrowed fields (see [`DecisionRequest`] for each field's meaning).
#[derive(Clone, Debug)]
pub struct DecisionFields<'a> {
    pub friendly_id: &'a str,
    pub browser_id: Option<&'a str>,
    pub email: Option<&'a str>,
    pub identifier: Option<(&'a str, &'a str)>,
    pub channel: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub language: Option<&'a str>,
    pub point_of_sale: Option<&'a str>,
    pub params: Params<'a>,
    pub guest_ref: Option<&'a str>,
    pub page_variant_ids: Vec<&'a str>,
}

fn check_short(field: &str, v: Option<&str>) -> Result<(), Error> {
    if let Some(s) = v {
        check_len(field, s, MAX_SHORT)?;
        check_no_control(field, s)?;
    }
    Ok(())
}

fn depth_ok(v: &Value, d: usize) -> bool {
    d <= MAX_PARAMS_DEPTH
        && match v {
            Value::Array(a) => a.iter().all(|x| depth_ok(x, d + 1)),
            Value::Object(o) => o.values().all(|x| depth_ok(x, d + 1)),
            _ => true,
        }
}

impl<'a> DecisionFields<'a> {
    pub fn from_request(r: &'a DecisionRequest) -> DecisionFields<'a> {
        DecisionFields {
            friendly_id: &r.friendly_id,
            browser_id: r.browser_id.as_deref(),
            email: r.email.as_deref(),
            identifier: r.identifier.as_ref().map(|(p, id)| (p.as_str(), id.as_str())),
            channel: r.channel.as_deref(),
            currency: r.currency.as_deref(),
            language: r.language.as_deref(),
            point_of_sale: r.point_of_sale.as_deref(),
            params: Params::Map(&r.params),
            guest_ref: r.guest_ref.as_deref(),
            page_variant_ids: r.page_variant_ids.iter().map(String::as_str).collect(),
        }
    }

    pub(crate) fn email_used(&self) -> Option<&'a str> {
        self.email.filter(|e| !e.trim().is_empty())
    }

    pub(crate) fn identifier_used(&self) -> Option<(&'a str, &'a str)> {
        self.identifier.filter(|(_, id)| !id.trim().is_empty())
    }

    /// Every field's rule, in a fixed order (the first failure is the one reported). [`DecisionRequest::validate`]
    /// is this over the owned request, so the request thread's check and the model's are one.
    pub fn validate(&self) -> Result<(), Error> {
        if self.friendly_id.trim().is_empty() {
            return Err(err(ErrorKind::MissingFriendlyId, "\"friendlyId\" is required."));
        }
        check_len("friendlyId", self.friendly_id, MAX_TEXT)?;
        check_no_control("friendlyId", self.friendly_id)?;
        if let Some(b) = self.browser_id.filter(|b| !b.is_empty()) {
            validate_browser_id(b)?;
        }
        if let Some(e) = self.email_used() {
            check_email(e)?;
        }
        if let Some((p, id)) = self.identifier_used() {
            if p.trim().is_empty() {
                return Err(err(ErrorKind::InvalidField, "\"provider\" is required."));
            }
            check_len("provider", p, MAX_SHORT)?;
            check_no_control("provider", p)?;
            check_len("id", id, MAX_TEXT)?;
            check_no_control("id", id)?;
        }
        check_short("channel", self.channel)?;
        check_short("currency", self.currency)?;
        check_short("language", self.language)?;
        check_short("pointOfSale", self.point_of_sale)?;
        if let Some(p) = self.point_of_sale {
            if !p.is_empty() && p.trim().is_empty() {
                return Err(err(ErrorKind::MissingPointOfSale, "\"pointOfSale\" cannot be empty."));
            }
        }
        if let Some(g) = self.guest_ref.filter(|g| !g.is_empty()) {
            validate_browser_id(g).map_err(|_| err(ErrorKind::InvalidField, "\"guestRef\" has an invalid format."))?;
        }
        if self.page_variant_ids.len() > MAX_VARIANTS {
            return Err(err(ErrorKind::TooLarge, format!("More than {MAX_VARIANTS} page variant ids.")));
        }
        for v in &self.page_variant_ids {
            check_len("pageVariantIds", v, MAX_SHORT)?;
            check_no_control("pageVariantIds", v)?;
        }
        let deep = match self.params {
            Params::Map(m) => !m.values().all(|v| depth_ok(v, 1)),
            Params::Json(j) => j.depth > MAX_PARAMS_DEPTH,
        };
        if deep {
            return Err(err(ErrorKind::InvalidField, format!("\"params\" is nested deeper than {MAX_PARAMS_DEPTH} levels.")));
        }
        Ok(())
    }

    /// [`Self::validate`] plus: on the classic wire some point of sale must be known.
    pub fn validate_with(&self, ctx: &BodyContext) -> Result<(), Error> {
        self.validate()?;
        if ctx.wire == Wire::Classic && ctx.effective_pos(self.point_of_sale).trim().is_empty() {
            return Err(err(ErrorKind::MissingPointOfSale, "\"pointOfSale\" is required."));
        }
        Ok(())
    }
}
