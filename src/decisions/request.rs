//! The request thread's share of a decision: borrow the caller's fields, validate them in place, and copy them
//! once into the request's key. The key is the whole request (minus the User-Agent), so it is also what the
//! runtime task renders the callFlows body from; the body, the params' `Value` tree and the correlation id are
//! built there, off the request thread.
//!
//! The checks repeat [`DecisionRequest::validate_with`] on borrowed strings (the model owns its `String`s);
//! `tests::fields_validate_like_the_model` holds the two to the same answers.

use crate::error::{err, Error, ErrorKind};
use crate::model::validate::{check_email, check_len, check_no_control, validate_browser_id, MAX_SHORT, MAX_TEXT};
use crate::model::{BodyContext, DecisionRequest, Wire};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::Arc;

/// As the model's `MAX_EXT_DEPTH` (params are nested at most this deep).
const MAX_PARAMS_DEPTH: usize = 32;
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
    text: &'a str,
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

    fn email_used(&self) -> Option<&'a str> {
        self.email.filter(|e| !e.trim().is_empty())
    }

    fn identifier_used(&self) -> Option<(&'a str, &'a str)> {
        self.identifier.filter(|(_, id)| !id.trim().is_empty())
    }

    /// [`DecisionRequest::validate_with`], in the same order with the same errors.
    pub fn validate_with(&self, ctx: &BodyContext) -> Result<(), Error> {
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
        if ctx.wire == Wire::Classic && ctx.effective_pos(self.point_of_sale).trim().is_empty() {
            return Err(err(ErrorKind::MissingPointOfSale, "\"pointOfSale\" is required."));
        }
        Ok(())
    }

    /// The request's key, in one allocation: every field that shapes the body (the visitor as the body names
    /// it, so a browser id next to an email does not split two identical requests), each as `len:text` or `~`
    /// when absent, so separators inside values cannot make two requests look alike. Params count as their
    /// JSON text: the same object written twice the same way coalesces. It holds the visitor's identifiers:
    /// keep it in memory only, never log it.
    pub(crate) fn key(&self) -> DecisionKey {
        thread_local! {
            static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
        }
        let params_text;
        let params = match self.params {
            Params::Json(j) => Some(j.text),
            Params::Map(m) if m.is_empty() => None,
            Params::Map(m) => {
                params_text = serde_json::to_string(m).unwrap_or_default();
                Some(params_text.as_str())
            }
        };
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            s.clear();
            let mut w = KeyWriter(&mut s);
            match (self.email_used(), self.identifier_used()) {
                (None, None) => {
                    w.tag('b');
                    w.field(Some(self.browser_id.unwrap_or("")));
                }
                (e, i) => {
                    w.tag('v');
                    w.field(e);
                    w.field(i.map(|(p, _)| p));
                    w.field(i.map(|(_, id)| id));
                }
            }
            for f in [Some(self.friendly_id), self.channel, self.currency, self.language, self.point_of_sale, self.guest_ref] {
                w.field(f);
            }
            w.number(self.page_variant_ids.len());
            for v in &self.page_variant_ids {
                w.field(Some(v));
            }
            w.field(params);
            DecisionKey(Arc::from(s.as_str()))
        })
    }
}

struct KeyWriter<'s>(&'s mut String);

impl KeyWriter<'_> {
    fn tag(&mut self, c: char) {
        self.0.push(c);
    }
    fn number(&mut self, n: usize) {
        // Most lengths are one or two digits; `fmt` would cost more than the rest of the key.
        if n < 10 {
            self.0.push(char::from(b'0' + n as u8));
        } else if n < 100 {
            self.0.push(char::from(b'0' + (n / 10) as u8));
            self.0.push(char::from(b'0' + (n % 10) as u8));
        } else {
            self.number(n / 10);
            self.0.pop();
            self.0.push(char::from(b'0' + (n % 10) as u8));
        }
        self.0.push(':');
    }
    fn field(&mut self, v: Option<&str>) {
        match v {
            None => self.0.push('~'),
            Some(v) => {
                self.number(v.len());
                self.0.push_str(v);
            }
        }
    }
}

/// A validated request packed by [`DecisionFields::key`]: the coalescing and cache key, and the request itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DecisionKey(pub(crate) Arc<str>);

struct KeyReader<'s>(&'s str);

impl<'s> KeyReader<'s> {
    fn tag(&mut self) -> Option<char> {
        let c = self.0.chars().next()?;
        self.0 = &self.0[c.len_utf8()..];
        Some(c)
    }
    fn number(&mut self) -> Option<usize> {
        let colon = self.0.find(':')?;
        let n = self.0[..colon].parse().ok()?;
        self.0 = &self.0[colon + 1..];
        Some(n)
    }
    fn field(&mut self) -> Option<Option<&'s str>> {
        if let Some(rest) = self.0.strip_prefix('~') {
            self.0 = rest;
            return Some(None);
        }
        let n = self.number()?;
        let v = self.0.get(..n)?;
        self.0 = &self.0[n..];
        Some(Some(v))
    }
}

impl DecisionKey {
    /// The request back, with the visitor as the body names it (run on the runtime, not the request thread).
    /// `None` only if the key was not made by [`DecisionFields::key`] or its params stopped parsing.
    pub(crate) fn request(&self) -> Option<DecisionRequest> {
        let mut r = KeyReader(&self.0);
        let own = |v: Option<&str>| v.map(str::to_owned);
        let mut req = DecisionRequest::default();
        match r.tag()? {
            'b' => req.browser_id = own(r.field()?),
            'v' => {
                req.email = own(r.field()?);
                let p = r.field()?;
                let id = r.field()?;
                req.identifier = p.zip(id).map(|(p, id)| (p.to_owned(), id.to_owned()));
            }
            _ => return None,
        }
        req.friendly_id = own(r.field()?)?;
        req.channel = own(r.field()?);
        req.currency = own(r.field()?);
        req.language = own(r.field()?);
        req.point_of_sale = own(r.field()?);
        req.guest_ref = own(r.field()?);
        let n = r.number()?;
        for _ in 0..n {
            req.page_variant_ids.push(r.field()??.to_owned());
        }
        if let Some(p) = r.field()? {
            req.params = serde_json::from_str(p).ok()?;
        }
        r.0.is_empty().then_some(req)
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
