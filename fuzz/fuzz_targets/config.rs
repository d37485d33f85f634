//! `Settings::from_json` on arbitrary text and on JSON objects built from the real keys with arbitrary
//! values. Checks: no panic; the API token never shows in an error message, `Display`/`Debug` of the error
//! or of the settings; accepted settings are internally consistent (the cookie spec they produce is one
//! `cookie::CookieSpec::validate` accepts, base URLs have no trailing slash, query or credentials).
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use xmcdp::config::{Endpoint, Settings, KEYS};
use xmcdp::cookie::CookieSpec;
use xmcdp_fuzz::{arb_value, hostile_string};

/// How many keys or string values in `v` contain `needle` (a token that only occurs as the apiToken
/// value cannot be in a message unless the message echoes it).
fn occurrences(v: &Value, needle: &str) -> usize {
    match v {
        Value::String(s) => usize::from(s.contains(needle)),
        Value::Array(a) => a.iter().map(|x| occurrences(x, needle)).sum(),
        Value::Object(o) => o.iter().map(|(k, x)| usize::from(k.contains(needle)) + occurrences(x, needle)).sum(),
        _ => 0,
    }
}

fn structured(u: &mut Unstructured) -> arbitrary::Result<String> {
    let mut m = Map::new();
    let keys: Vec<&str> = KEYS.iter().map(|k| k.0).collect();
    if u.ratio(3, 4)? {
        m.insert("clientKey".into(), Value::from("ck_fuzz"));
        let (k, v) = *u.choose(&[
            ("targetUrl", "https://api-engage-eu.sitecorecloud.io"),
            ("edgeUrl", "https://edge-platform.sitecorecloud.io"),
            ("targetUrl", "http://127.0.0.1:9"),
        ])?;
        m.insert(k.into(), Value::from(v));
        if k == "edgeUrl" {
            m.insert("contextId".into(), Value::from("ctx-1"));
            m.insert("siteName".into(), Value::from("site"));
        } else {
            m.insert("pointOfSale".into(), Value::from("pos1"));
        }
    }
    for _ in 0..u.int_in_range(0..=8)? {
        let k = if u.ratio(9, 10)? { (*u.choose(&keys)?).to_string() } else { hostile_string(u)? };
        let v = match u.int_in_range(0..=6)? {
            0 => Value::Null,
            1 => Value::Bool(u.arbitrary()?),
            2 => Value::from(u.arbitrary::<i64>()?),
            3 => Value::from(u.int_in_range(0u64..=5_000_000_000)?),
            4 => arb_value(u, 2)?,
            _ => Value::from(hostile_string(u)?),
        };
        m.insert(k, v);
    }
    // Sometimes a distinctive token, so its absence from messages can be asserted.
    if u.ratio(1, 2)? {
        let t = format!("tok-SECRET-{}", hostile_string(u)?);
        m.insert("apiToken".into(), Value::from(t));
    }
    Ok(serde_json::to_string(&Value::Object(m)).expect("serializable"))
}

fn run(data: &[u8]) -> arbitrary::Result<()> {
    let mut u = Unstructured::new(data);
    let text = if u.ratio(1, 4)? { String::from_utf8_lossy(u.take_rest()).into_owned() } else { structured(&mut u)? };
    let r = Settings::from_json(&text);
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    let token = parsed
        .as_ref()
        .and_then(|v| v.get("apiToken"))
        .and_then(Value::as_str)
        .filter(|t| t.starts_with("tok-SECRET-")) // distinctive: no field name or message text contains it
        .filter(|t| parsed.as_ref().is_some_and(|v| occurrences(v, t) == 1))
        .map(str::to_owned);
    match r {
        Err(e) => {
            assert!(!e.message.is_empty());
            if let Some(t) = &token {
                for shown in [e.message.clone(), e.to_string(), format!("{e:?}")] {
                    assert!(!shown.contains(t.as_str()), "error shows the token: {shown}");
                }
            }
        }
        Ok(s) => {
            if let Some(t) = &token {
                assert!(!format!("{s:?}").contains(t.as_str()), "Debug of Settings shows the token: {text} → {s:?}");
                assert_eq!(s.api_token.as_ref().map(|x| x.expose()), Some(t.as_str()));
            }
            let spec = CookieSpec {
                name: s.cookie_name.clone(),
                legacy_name: s.legacy_cookie_name.clone(),
                domain: s.cookie_domain.clone(),
                max_age_days: s.cookie_expiry_days,
            };
            if let Err(e) = spec.validate() {
                panic!("settings accepted a cookie spec that cookie::CookieSpec rejects ({e}): {spec:?}");
            }
            let base = s.base_url();
            assert!(!base.ends_with('/') && !base.contains('?') && !base.contains('#') && !base.contains('@'), "{base}");
            if let Endpoint::Edge { context_id, .. } = &s.endpoint {
                assert!(!context_id.is_empty());
            }
            assert!(!s.client_key.is_empty());
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
