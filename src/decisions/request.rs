//! The request thread's share of a decision: borrow the caller's fields, validate them in place, and copy them
//! once into the request's key. The key is the whole request (minus the User-Agent), so it is also what the
//! runtime task renders the callFlows body from; the body, the params' `Value` tree and the correlation id are
//! built there, off the request thread.
//!
//! The fields and their checks are the model's ([`crate::model::DecisionFields`]); this file adds the key.

pub use crate::model::{DecisionFields, Params, ParamsError, ParamsJson};
use crate::model::DecisionRequest;
#[cfg(test)]
use crate::model::BodyContext;
use std::cell::RefCell;
use std::sync::Arc;

impl<'a> DecisionFields<'a> {
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
