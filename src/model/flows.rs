//! Personalize callFlows request bodies (classic `/v2/callFlows` as Engage sends it, Edge `/v1/personalize`
//! as Cloud SDK 0.6.1 sends it).
//!
//! Edge: the Cloud SDK derives `params.geo` and `params.utm` (page UTM values without the `utm_` prefix) itself;
//! here the caller puts them into `params` (see [`DecisionRequest::edge_utm_params`]). Classic ignores
//! `guest_ref` and `page_variant_ids`, which Engage never sends.

use serde_json::{Map, Value};

use crate::error::{err, Error, ErrorKind};
use super::flatten::flatten;
use super::query::engage_params;
use super::{BodyContext, Wire};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DecisionRequest {
    pub friendly_id: String,
    /// Cookie value; `None` or `""` when the visitor has none (then `browserId:""` is sent, as Engage does).
    pub browser_id: Option<String>,
    /// Used instead of the browser id when non-blank.
    pub email: Option<String>,
    /// `(provider, id)`; used instead of the browser id when the id is non-blank.
    pub identifier: Option<(String, String)>,
    pub channel: Option<String>,
    pub currency: Option<String>,
    pub language: Option<String>,
    /// Per-request override of the settings pos (classic only).
    pub point_of_sale: Option<String>,
    /// Classic: flattened with `_`, dropped when empty. Edge: sent as-is, dropped when empty.
    pub params: Map<String, Value>,
    /// Edge only: the guest ref (`sc_cid_personalize`).
    pub guest_ref: Option<String>,
    /// Edge only: sent as `variants`.
    pub page_variant_ids: Vec<String>,
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

impl DecisionRequest {
    fn email_used(&self) -> Option<&str> {
        self.email.as_deref().filter(|e| !e.trim().is_empty())
    }

    fn identifier_used(&self) -> Option<(&str, &str)> {
        self.identifier.as_ref().filter(|(_, id)| !id.trim().is_empty()).map(|(p, id)| (p.as_str(), id.as_str()))
    }

    pub fn validate(&self) -> Result<(), Error> {
        super::DecisionFields::from_request(self).validate()
    }

    /// `validate` plus: on the classic wire some pos must be known.
    pub fn validate_with(&self, ctx: &BodyContext) -> Result<(), Error> {
        self.validate()?;
        if ctx.wire == Wire::Classic && ctx.effective_pos(self.point_of_sale.as_deref()).trim().is_empty() {
            return Err(err(ErrorKind::MissingPointOfSale, "\"pointOfSale\" is required."));
        }
        Ok(())
    }

    pub fn to_body(&self, ctx: &BodyContext) -> Vec<u8> {
        serde_json::to_vec(&Value::Object(self.to_json(ctx))).unwrap_or_default()
    }

    pub fn to_json(&self, ctx: &BodyContext) -> Map<String, Value> {
        let edge = ctx.wire == Wire::Edge;
        let mut m = Map::new();
        if let Some(c) = self.channel.as_deref().or(ctx.defaults.channel) {
            m.insert("channel".into(), s(c));
        }
        m.insert("clientKey".into(), s(if edge { "" } else { ctx.client_key }));
        if let Some(c) = self.currency.as_deref().or(ctx.defaults.currency) {
            m.insert("currencyCode".into(), s(c));
        }
        let email = self.email_used();
        if let Some(e) = email {
            m.insert("email".into(), s(e));
        }
        m.insert("friendlyId".into(), s(&self.friendly_id));
        if edge {
            if let Some(g) = self.guest_ref.as_deref().filter(|g| !g.is_empty()) {
                m.insert("guestRef".into(), s(g));
            }
        }
        let ident = self.identifier_used();
        if let Some((p, id)) = ident {
            let mut o = Map::new();
            o.insert("provider".into(), s(p));
            o.insert("id".into(), s(id));
            m.insert("identifiers".into(), Value::Object(o));
        }
        if let Some(l) = self.language.as_deref().or(ctx.defaults.language) {
            m.insert("language".into(), s(l));
        }
        let params = if edge { self.params.clone() } else { flatten(&self.params).unwrap_or_default() };
        if !params.is_empty() {
            m.insert("params".into(), Value::Object(params));
        }
        m.insert("pointOfSale".into(), s(ctx.effective_pos(self.point_of_sale.as_deref())));
        if edge && !self.page_variant_ids.is_empty() {
            m.insert("variants".into(), Value::Array(self.page_variant_ids.iter().map(|v| s(v)).collect()));
        }
        if email.is_none() && ident.is_none() {
            m.insert("browserId".into(), s(self.browser_id.as_deref().unwrap_or("")));
        }
        m
    }

    /// Stable key of visitor + friendlyId + everything else that shapes the answer, for coalescing and caching.
    /// It contains the visitor's identifiers: keep it in memory only, never log it.
    pub fn cache_key(&self) -> String {
        // The visitor as the body names it: email and/or identifier, else the browser id.
        let visitor = match (self.email_used(), self.identifier_used()) {
            (None, None) => Value::Array(vec![s("bid"), s(self.browser_id.as_deref().unwrap_or(""))]),
            (e, i) => Value::Array(vec![
                e.map_or(Value::Null, s),
                i.map_or(Value::Null, |(p, id)| Value::Array(vec![s(p), s(id)])),
            ]),
        };
        let opt = |o: &Option<String>| o.as_deref().map_or(Value::Null, s);
        let key = Value::Array(vec![
            visitor,
            s(&self.friendly_id),
            opt(&self.channel),
            opt(&self.currency),
            opt(&self.language),
            opt(&self.point_of_sale),
            opt(&self.guest_ref),
            Value::Array(self.page_variant_ids.iter().map(|v| s(v)).collect()),
            Value::Object(self.params.clone()),
        ]);
        serde_json::to_string(&key).unwrap_or_default()
    }

    /// Cloud SDK's `params.utm`: the page URL's `utm_*` query values, prefix stripped, when the query has
    /// any and the caller set no `params.utm` yet. Returns whether it added them.
    pub fn edge_utm_params(&mut self, url: &str) -> bool {
        if self.params.contains_key("utm") {
            return false;
        }
        let mut utm = Map::new();
        for (k, v) in engage_params(url) {
            let k = k.to_lowercase();
            if let Some(rest) = k.strip_prefix("utm_") {
                utm.insert(rest.to_string(), Value::String(v));
            }
        }
        if utm.is_empty() {
            return false;
        }
        self.params.insert("utm".into(), Value::Object(utm));
        true
    }
}
