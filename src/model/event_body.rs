//! The JSON bodies of Stream events (VIEW, IDENTITY, custom), key for key as Engage 1.4.3 / Cloud SDK 0.6.1
//! send them.

use serde_json::{Map, Value};

use super::event::{CustomEvent, Identity, RESERVED_DATA_KEYS};
use super::flatten::Ext;
use super::query::engage_params;
use super::validate::now_iso8601;
use super::view::{Base, ViewFields};
use super::{BodyContext, Wire};

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn put_opt(m: &mut Map<String, Value>, k: &str, v: &Option<String>) {
    put_opt_or(m, k, v, None)
}

fn put_opt_or(m: &mut Map<String, Value>, k: &str, v: &Option<String>, default: Option<&str>) {
    put_str_or(m, k, v.as_deref(), default)
}

fn put_str_or(m: &mut Map<String, Value>, k: &str, v: Option<&str>, default: Option<&str>) {
    if let Some(v) = v.or(default) {
        m.insert(k.to_string(), s(v));
    }
}

/// Base keys in Engage order: `browser_id, channel, client_key, currency, language, page, pos`
/// (+ `requested_at` on Edge). `omit_page` serves the FORM helper, which sends no page.
fn put_base(m: &mut Map<String, Value>, c: &Base, ctx: &BodyContext, omit_page: bool) {
    m.insert("browser_id".into(), s(c.browser_id));
    put_str_or(m, "channel", c.channel, ctx.defaults.channel);
    m.insert("client_key".into(), s(if ctx.wire == Wire::Edge { "" } else { ctx.client_key }));
    put_str_or(m, "currency", c.currency, ctx.defaults.currency);
    put_str_or(m, "language", c.language, ctx.defaults.language);
    if !omit_page {
        m.insert("page".into(), s(c.page.unwrap_or("")));
    }
    m.insert("pos".into(), s(ctx.effective_pos(c.point_of_sale)));
    if ctx.wire == Wire::Edge {
        let ts = match ctx.requested_at {
            Some(t) => t.to_string(),
            None => now_iso8601(),
        };
        m.insert("requested_at".into(), Value::String(ts));
    }
}

fn non_empty(v: Option<&str>) -> Option<&str> {
    v.filter(|x| !x.is_empty())
}

pub(super) fn view_json(v: &ViewFields, v_ext: &Ext, ctx: &BodyContext) -> Map<String, Value> {
    let params = v.url.map(engage_params).unwrap_or_default();
    let mut utm = Map::new();
    if v.include_utm {
        for (k, val) in &params {
            let k = k.to_lowercase();
            if k.starts_with("utm_") {
                utm.insert(k, s(val));
            }
        }
    }
    // Precedence: explicit, then the URL's `variantid` (first occurrence, exact key), then ext.pageVariantId.
    let url_variant = params.iter().find(|(k, _)| k == "variantid").map(|(_, x)| x.as_str()).filter(|x| !x.is_empty());
    let pv: Option<Value> = non_empty(v.page_variant_id)
        .or(url_variant)
        .map(s)
        .or_else(|| v_ext.get("pageVariantId").cloned());
    let mut ext = Map::new();
    if let Some(pv) = pv {
        ext.insert("pageVariantId".into(), pv);
    }
    for (k, x) in v_ext.as_map() {
        if k != "pageVariantId" {
            ext.insert(k.clone(), x.clone());
        }
    }

    let mut m = Map::new();
    match ctx.wire {
        Wire::Classic => {
            m.insert("type".into(), s("VIEW"));
            m.extend(utm);
            if !ext.is_empty() {
                m.insert("ext".into(), Value::Object(ext));
            }
            put_str_or(&mut m, "referrer", v.referrer, None);
            put_base(&mut m, &v.base, ctx, false);
        }
        Wire::Edge => {
            // Cloud SDK order: base keys first, then type, ext, utm_*, referrer.
            put_base(&mut m, &v.base, ctx, false);
            m.insert("type".into(), s("VIEW"));
            if !ext.is_empty() {
                m.insert("ext".into(), Value::Object(ext));
            }
            m.extend(utm);
            put_str_or(&mut m, "referrer", v.referrer, None);
        }
    }
    m
}

pub(super) fn identity_json(i: &Identity, ctx: &BodyContext) -> Map<String, Value> {
    let mut m = Map::new();
    // Engage writes these in alphabetical order of the wire names.
    put_opt(&mut m, "city", &i.city);
    put_opt(&mut m, "country", &i.country);
    put_opt(&mut m, "dob", &i.dob);
    put_opt(&mut m, "email", &i.email);
    put_opt(&mut m, "firstname", &i.first_name);
    put_opt(&mut m, "gender", &i.gender);
    let ids: Vec<Value> = i
        .identifiers
        .iter()
        .map(|x| {
            let mut o = Map::new();
            put_opt(&mut o, "expiry_date", &x.expiry_date);
            o.insert("id".into(), s(&x.id));
            o.insert("provider".into(), s(&x.provider));
            Value::Object(o)
        })
        .collect();
    m.insert("identifiers".into(), Value::Array(ids));
    put_opt(&mut m, "lastname", &i.last_name);
    put_opt(&mut m, "mobile", &i.mobile);
    put_opt(&mut m, "phone", &i.phone);
    put_opt(&mut m, "postal_code", &i.postal_code);
    put_opt(&mut m, "state", &i.state);
    if !i.street.is_empty() {
        m.insert("street".into(), Value::Array(i.street.iter().map(|x| s(x)).collect()));
    }
    put_opt(&mut m, "title", &i.title);
    m.insert("type".into(), s("IDENTITY"));
    if !i.ext.is_empty() {
        m.insert("ext".into(), Value::Object(i.ext.as_map().clone()));
    }
    put_base(&mut m, &i.common.base(), ctx, false);
    m
}

pub(super) fn custom_json(c: &CustomEvent, ctx: &BodyContext) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), s(&c.event_type));
    for (k, v) in &c.data {
        if !RESERVED_DATA_KEYS.contains(&k.as_str()) {
            m.insert(k.clone(), v.clone());
        }
    }
    if !c.ext.is_empty() {
        m.insert("ext".into(), Value::Object(c.ext.as_map().clone()));
    }
    // Engage's form() helper sends no page; a FORM event without a page is taken to come from it.
    let omit_page = c.event_type == "FORM" && c.common.page.is_none();
    put_base(&mut m, &c.common.base(), ctx, omit_page);
    m
}
