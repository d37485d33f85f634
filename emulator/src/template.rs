//! Flow response templates: JSON with `{{path}}` / `{{path|default}}` placeholders.
//!
//! A string that is exactly one placeholder is replaced by the referenced JSON value (type kept, so
//! `"{{params}}"` yields the whole params object). Placeholders inside longer strings are interpolated as
//! text (strings verbatim, other values as compact JSON). A missing value renders as the default, or `""`.
//! Paths start at one of `guest`, `session`, `params`, `request`, `flow`, `variant`; segments are object keys
//! or array indexes (`guest.identifiers.0.id`). A key containing dots (e.g. flattened params) is tried whole
//! first.

use serde_json::Value;

pub fn render(tpl: &Value, ctx: &Value) -> Value {
    match tpl {
        Value::String(s) => render_str(s, ctx),
        Value::Array(a) => Value::Array(a.iter().map(|v| render(v, ctx)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), render(v, ctx))).collect())
        }
        other => other.clone(),
    }
}

/// Renders a raw text template (flows whose `template` is a JSON string).
pub fn render_text(s: &str, ctx: &Value) -> String {
    interpolate(s, ctx)
}

fn render_str(s: &str, ctx: &Value) -> Value {
    let t = s.trim();
    if t.starts_with("{{") && t.ends_with("}}") && t[2..].find("{{").is_none() && t.len() >= 4 {
        let inner = &t[2..t.len() - 2];
        if !inner.contains("}}") {
            let (path, default) = split_default(inner);
            return match lookup(ctx, path) {
                Some(v) if !v.is_null() => v.clone(),
                _ => Value::String(default.unwrap_or("").to_string()),
            };
        }
    }
    Value::String(interpolate(s, ctx))
}

fn split_default(inner: &str) -> (&str, Option<&str>) {
    match inner.split_once('|') {
        Some((p, d)) => (p.trim(), Some(d)),
        None => (inner.trim(), None),
    }
}

fn interpolate(s: &str, ctx: &Value) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find("}}") {
            Some(j) => {
                let (path, default) = split_default(&after[..j]);
                match lookup(ctx, path) {
                    Some(Value::String(v)) => out.push_str(v),
                    Some(Value::Null) | None => out.push_str(default.unwrap_or("")),
                    Some(v) => out.push_str(&v.to_string()),
                }
                rest = &after[j + 2..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return None;
    }
    lookup_in(root, path)
}

fn lookup_in<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(v);
    }
    match v {
        Value::Object(o) => {
            if let Some(x) = o.get(path) {
                return Some(x);
            }
            let mut idx = path.len();
            // Try the longest key prefix first so keys with dots still resolve.
            while let Some(dot) = path[..idx].rfind('.') {
                if let Some(x) = o.get(&path[..dot]) {
                    if let Some(found) = lookup_in(x, &path[dot + 1..]) {
                        return Some(found);
                    }
                }
                idx = dot;
            }
            None
        }
        Value::Array(a) => {
            let (head, tail) = path.split_once('.').unwrap_or((path, ""));
            let i: usize = head.parse().ok()?;
            lookup_in(a.get(i)?, tail)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders() {
        let ctx = json!({"guest": {"guestType": "customer", "ref": "g1", "identifiers": [{"id": "x"}]},
                         "params": {"customer_tier": "gold", "x": {"y": 1}, "a.b": 2}});
        let t = json!({"v": "banner-{{guest.guestType}}", "p": "{{params}}", "n": "{{params.x.y}}",
                       "d": "{{params.nope|fallback}}", "e": "{{params.nope}}", "i": "id={{guest.identifiers.0.id}}",
                       "dot": "{{params.a.b}}", "flat": "{{ params.customer_tier }}", "o": "{{params.x}}!"});
        let r = render(&t, &ctx);
        assert_eq!(r["v"], "banner-customer");
        assert_eq!(r["p"], ctx["params"]);
        assert_eq!(r["n"], 1);
        assert_eq!(r["d"], "fallback");
        assert_eq!(r["e"], "");
        assert_eq!(r["i"], "id=x");
        assert_eq!(r["dot"], 2);
        assert_eq!(r["flat"], "gold");
        assert_eq!(r["o"], "{\"y\":1}!");
    }
}
