//! The callFlows body (`model::DecisionRequest`): hostile friendlyIds, browser ids, emails, identifiers,
//! guest refs, variant ids and arbitrary `params`, through `validate` / `validate_with`, `to_body` on both
//! wires, `cache_key` and `edge_utm_params` on arbitrary URLs.
//! Checks: no panic; the body is a JSON object with no duplicate key at any depth; it names the visitor
//! exactly one way (browserId, email or identifiers); classic `params` are flat; `friendlyId` is as given.
//! The params scan of the request-thread path (`ParamsJson::scan`) refuses exactly what a `Value` parse refuses,
//! and params given as JSON text are judged as the same object parsed.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use xmcdp::decisions::{DecisionFields, Params, ParamsError, ParamsJson};
use xmcdp::model::{BodyContext, DecisionRequest};
use xmcdp_fuzz::{arb_object, hostile_string, opt_string, strict_json, uuidish};

fn run(data: &[u8]) -> arbitrary::Result<()> {
    let mut u = Unstructured::new(data);
    let mut page_variant_ids = Vec::new();
    for _ in 0..u.int_in_range(0..=52)? {
        page_variant_ids.push(if u.ratio(1, 4)? { hostile_string(&mut u)? } else { "v1".into() });
    }
    let mut r = DecisionRequest {
        friendly_id: if u.arbitrary()? { (*u.choose(&["home_page_banner", "promo_*", " ", ""])?).into() } else { hostile_string(&mut u)? },
        browser_id: match u.int_in_range(0..=3)? {
            0 => None,
            1 => Some(hostile_string(&mut u)?),
            _ => Some(uuidish(&mut u)?),
        },
        email: if u.ratio(1, 3)? { Some(format!("{}@b.c", hostile_string(&mut u)?)) } else { opt_string(&mut u)? },
        identifier: if u.arbitrary()? { Some((hostile_string(&mut u)?, hostile_string(&mut u)?)) } else { None },
        channel: opt_string(&mut u)?,
        currency: opt_string(&mut u)?,
        language: opt_string(&mut u)?,
        point_of_sale: opt_string(&mut u)?,
        params: {
            let d = u.int_in_range(0..=5)?;
            arb_object(&mut u, d)?
        },
        guest_ref: match u.int_in_range(0..=2)? {
            0 => None,
            1 => Some(hostile_string(&mut u)?),
            _ => Some(uuidish(&mut u)?),
        },
        page_variant_ids,
    };
    if u.arbitrary()? {
        let url = hostile_string(&mut u)?;
        let had = r.params.contains_key("utm");
        let added = r.edge_utm_params(&format!("/p?{url}"));
        assert!(!(had && added));
        if added {
            assert!(r.params["utm"].is_object());
        }
    }
    let ok = r.validate().is_ok();
    let _ = r.cache_key();
    // The params as JSON text, as the C ABI passes them: the text of the object, or hostile text.
    let from_map = u.arbitrary()?;
    let text = if from_map { serde_json::to_string(&r.params).unwrap() } else { hostile_string(&mut u)? };
    let scanned = ParamsJson::scan(&text);
    match (&scanned, serde_json::from_str::<Value>(&text)) {
        (Ok(_), Ok(Value::Object(_))) => {}
        (Err(ParamsError::NotObject), Ok(v)) => assert!(!v.is_object()),
        (Err(ParamsError::Syntax(a)), Err(b)) => assert_eq!((a.line(), a.column()), (b.line(), b.column())),
        (s, v) => panic!("scan {s:?} but parse {v:?} for {text:?}"),
    }
    for ctx in [BodyContext::classic("ck_test", "pos1"), BodyContext::classic("ck_test", ""), BodyContext::edge(None)] {
        let model = r.validate_with(&ctx).map_err(|e| (e.kind, e.message));
        if let (Ok(p), true) = (&scanned, from_map) {
            // The same object as text: judged as the parsed object. (Only text without repeated keys: the scan
            // judges every occurrence of a key, a parse keeps the last.)
            let parsed: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
            let as_map = DecisionRequest { params: parsed, ..r.clone() };
            let mut f = DecisionFields::from_request(&as_map);
            let want = f.validate_with(&ctx).map_err(|e| (e.kind, e.message));
            f.params = Params::Json(*p);
            assert_eq!(f.validate_with(&ctx).map_err(|e| (e.kind, e.message)), want);
        }
        let accepted = model.is_ok();
        assert!(!accepted || ok);
        let body = r.to_body(&ctx);
        let v = strict_json(&body).unwrap_or_else(|e| panic!("callFlows body is not strict JSON ({e}): {}", String::from_utf8_lossy(&body)));
        let Value::Object(m) = v else { panic!("not an object") };
        if !accepted {
            continue;
        }
        assert_eq!(m.get("friendlyId").and_then(Value::as_str), Some(r.friendly_id.as_str()));
        let ways = ["browserId", "email", "identifiers"].iter().filter(|k| m.contains_key(**k)).count();
        assert!(ways == 1 || (ways == 2 && m.contains_key("email") && m.contains_key("identifiers")), "visitor named {ways} ways: {m:?}");
        if ctx.wire == xmcdp::model::Wire::Classic {
            if let Some(Value::Object(p)) = m.get("params") {
                assert!(p.values().all(|v| !v.is_object() && !v.is_null()), "classic params are not flat");
            }
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
