//! The event builders: `Ext::from_json` on arbitrary bytes and arbitrary JSON, `Ext::insert`, then VIEW /
//! IDENTITY / custom events from hostile fields through `Event::validate` / `validate_with` and `to_body` on
//! both wires, and the VIEW query parsing (`model::query`) on arbitrary URLs; a VIEW also as the C ABI queues it
//! (`PackedView`), which must agree with the owned one.
//! Checks: no panic; an accepted `Ext` has at most 50 flat attributes (no objects, no nulls); every body is a
//! JSON object without any duplicate key at any depth, with `type` / `browser_id` as given, `ext` flat and
//! within 50 (51 on VIEW: the SDK adds pageVariantId after its check), and `utm_*` keys only from the URL.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use xmcdp::model::query::{decode_uri, engage_params};
use xmcdp::model::*;
use xmcdp_fuzz::{arb_object, arb_value, hostile_string, opt_string, strict_json, uuidish};

fn check_ext(e: &Ext) {
    assert!(e.len() <= MAX_EXT_ATTRIBUTES, "{} attributes", e.len());
    for (k, v) in e.as_map() {
        assert!(!matches!(v, Value::Object(_) | Value::Null), "ext {k:?} is not flat: {v}");
    }
}

fn ext(u: &mut Unstructured) -> arbitrary::Result<Ext> {
    Ok(match u.int_in_range(0..=3)? {
        0 => Ext::default(),
        1 => {
            let len = u.int_in_range(0..=256)?;
            Ext::from_json(u.bytes(len.min(u.len()))?).unwrap_or_default()
        }
        _ => {
            let d = u.int_in_range(0..=4)?;
            Ext::from_map(&arb_object(u, d)?).unwrap_or_default()
        }
    })
}

fn common(u: &mut Unstructured) -> arbitrary::Result<EventCommon> {
    Ok(EventCommon {
        browser_id: match u.int_in_range(0..=3)? {
            0 => String::new(),
            1 => hostile_string(u)?,
            _ => uuidish(u)?,
        },
        channel: opt_string(u)?,
        currency: opt_string(u)?,
        language: opt_string(u)?,
        page: opt_string(u)?,
        point_of_sale: opt_string(u)?,
    })
}

fn url(u: &mut Unstructured) -> arbitrary::Result<String> {
    let mut s = String::from(*u.choose(&["/", "https://x.test/p", "", "/a/b/"])?);
    for _ in 0..u.int_in_range(0..=6)? {
        s.push_str(u.choose(&["?", "&", "=", "#", "utm_source", "UTM_Medium", "variantid", "%", "%2", "%41", "%E0%A4%A", "+", "%26", "%3D"])?);
        if u.arbitrary()? {
            s.push_str(&hostile_string(u)?);
        }
    }
    Ok(s)
}

fn event(u: &mut Unstructured) -> arbitrary::Result<Event> {
    Ok(match u.int_in_range(0..=2)? {
        0 => Event::View(PageView {
            common: common(u)?,
            url: if u.arbitrary()? { Some(url(u)?) } else { None },
            include_utm: u.arbitrary()?,
            referrer: opt_string(u)?,
            page_variant_id: opt_string(u)?,
            ext: ext(u)?,
        }),
        1 => {
            let mut identifiers = Vec::new();
            for _ in 0..u.int_in_range(0..=3)? {
                identifiers.push(Identifier {
                    provider: hostile_string(u)?,
                    id: hostile_string(u)?,
                    expiry_date: if u.arbitrary()? {
                        Some((*u.choose(&["2030-01-01T00:00", "2024-02-30T00:00", "x"])?).into())
                    } else {
                        opt_string(u)?
                    },
                });
            }
            let mut street = Vec::new();
            for _ in 0..u.int_in_range(0..=18)? {
                street.push(hostile_string(u)?);
            }
            Event::Identity(Identity {
                common: common(u)?,
                email: if u.arbitrary()? {
                    Some(format!("{}@{}.{}", hostile_string(u)?, hostile_string(u)?, hostile_string(u)?))
                } else {
                    opt_string(u)?
                },
                first_name: opt_string(u)?,
                last_name: opt_string(u)?,
                dob: if u.arbitrary()? { Some((*u.choose(&["1990-01-31T00:00", "1990-02-30T00:00"])?).into()) } else { opt_string(u)? },
                gender: opt_string(u)?,
                mobile: opt_string(u)?,
                phone: opt_string(u)?,
                street,
                city: opt_string(u)?,
                state: opt_string(u)?,
                country: opt_string(u)?,
                postal_code: opt_string(u)?,
                title: opt_string(u)?,
                identifiers,
                ext: ext(u)?,
            })
        }
        _ => {
            let depth = u.int_in_range(0..=3)?;
            let mut data = arb_object(u, depth)?;
            if u.ratio(1, 4)? {
                data.insert((*u.choose(RESERVED_DATA_KEYS)?).to_string(), arb_value(u, 1)?);
            }
            Event::Custom(CustomEvent {
                common: common(u)?,
                event_type: if u.arbitrary()? {
                    (*u.choose(&["ADD", "FORM", "CHECKOUT", "VIEW", "IDENTITY", "my.event-1"])?).into()
                } else {
                    hostile_string(u)?
                },
                data,
                ext: ext(u)?,
            })
        }
    })
}

fn check_body(ev: &Event, ctx: &BodyContext, validated: bool) {
    let body = ev.to_body(ctx);
    let v = strict_json(&body).unwrap_or_else(|e| panic!("body is not strict JSON ({e}): {}", String::from_utf8_lossy(&body)));
    let Value::Object(m) = &v else { panic!("body is not an object") };
    // Bytes, not values: serde_json's default float parsing is not exact, the serializer is.
    assert_eq!(serde_json::to_vec(&Value::Object(ev.to_json(ctx))).expect("serializable"), body, "to_body and to_json disagree");
    if !validated {
        return;
    }
    assert_eq!(m.get("type").and_then(Value::as_str), Some(ev.event_type()));
    assert_eq!(m.get("browser_id").and_then(Value::as_str), Some(ev.browser_id()));
    if let Some(x) = m.get("ext") {
        let Value::Object(x) = x else { panic!("ext is not an object") };
        let limit = MAX_EXT_ATTRIBUTES + usize::from(matches!(ev, Event::View(_)));
        assert!(x.len() <= limit, "ext has {} attributes", x.len());
        assert!(x.values().all(|v| !matches!(v, Value::Object(_) | Value::Null)));
    }
    if let Event::View(p) = ev {
        let from_url: Vec<String> = if p.include_utm {
            p.url
                .as_deref()
                .map(engage_params)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, _)| k.to_lowercase())
                .filter(|k| k.starts_with("utm_"))
                .collect()
        } else {
            Vec::new()
        };
        for k in m.keys().filter(|k| k.starts_with("utm_")) {
            assert!(from_url.contains(k), "{k} is not a UTM parameter of the URL");
        }
    }
    if let Event::Custom(c) = ev {
        for k in c.data.keys() {
            assert!(!RESERVED_DATA_KEYS.contains(&k.as_str()), "validate accepted reserved data key {k}");
        }
    }
}

fn run(data: &[u8]) -> arbitrary::Result<()> {
    let mut u = Unstructured::new(data);
    match u.int_in_range(0..=3)? {
        0 => {
            // Raw bytes as ext JSON.
            if let Ok(e) = Ext::from_json(u.take_rest()) {
                check_ext(&e);
            }
        }
        1 => {
            let d = u.int_in_range(0..=6)?;
            let mut e = Ext::from_map(&arb_object(&mut u, d)?).unwrap_or_default();
            check_ext(&e);
            for _ in 0..u.int_in_range(0..=4)? {
                let before = e.clone();
                let k = hostile_string(&mut u)?;
                let v = arb_value(&mut u, 3)?;
                if e.insert(k, v).is_err() {
                    assert_eq!(e, before, "a failed insert changed the ext");
                }
                check_ext(&e);
            }
        }
        2 => {
            let s = url(&mut u)?;
            let _ = decode_uri(&s);
            for (k, v) in engage_params(&s) {
                let _ = (k.to_lowercase(), v);
            }
        }
        _ => {
            let ev = event(&mut u)?;
            let ok = ev.validate().is_ok();
            let now = "2024-01-01T00:00:00.000Z";
            for ctx in [BodyContext::classic("ck_test", "pos1"), BodyContext::classic("ck_test", ""), BodyContext::edge(Some(now))] {
                let accepted = ev.validate_with(&ctx).is_ok();
                assert!(!accepted || ok, "validate_with accepted what validate rejected");
                check_body(&ev, &ctx, accepted);
            }
            let _ = ev.approx_bytes();
            // The C ABI queues a VIEW packed: same verdict, same message, same bytes.
            if let Event::View(pv) = &ev {
                match (PackedView::new(pv.fields(), pv.ext.clone(), Some("ua")), ev.validate()) {
                    (Ok(p), Ok(())) => {
                        for ctx in [BodyContext::classic("ck_test", "pos1"), BodyContext::edge(Some(now))] {
                            assert_eq!(p.to_body(&ctx), ev.to_body(&ctx), "packed and owned VIEW bodies differ");
                        }
                        assert_eq!(p.user_agent(), Some("ua"));
                    }
                    (Err(a), Err(b)) => assert_eq!(a, b, "packed and owned VIEW errors differ"),
                    (a, b) => panic!("packed {a:?} vs owned {b:?}"),
                }
            }
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
