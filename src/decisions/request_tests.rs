use super::*;
use crate::error::ErrorKind;
use serde_json::{Map, Value};
use serde_json::json;

const BID: &str = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";

fn classic() -> BodyContext<'static> {
    BodyContext::classic("ck_test", "myretailsite/ireland")
}

/// Fixed-seed xorshift over values chosen to hit every check (blank, too long, controls, bad ids, emails).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
    fn opt(&mut self, v: &[&str]) -> Option<String> {
        (self.next() % 3 != 0).then(|| self.pick(v).to_string())
    }
}

const WORDS: &[&str] = &["", " ", "WEB", "EUR", "x", "a\u{85}b", "tab\there", "a:1~", "3:abc", "~", "é", "\u{7f}"];
const IDS: &[&str] = &["", BID, "legacy-bid-value", "a..b", "bad id", "a\r\nb", "x"];
const EMAILS: &[&str] = &["", "  ", "a@b.co", "not-an-email", "x@y.org"];

fn random_request(r: &mut Rng, long: &str) -> DecisionRequest {
    let mut d = DecisionRequest {
        friendly_id: if r.next() % 9 == 0 { long.to_string() } else { r.pick(&["", " ", "home_page_banner", "f\nx", "f*", "a\",\"b"]).into() },
        browser_id: r.opt(IDS),
        email: r.opt(EMAILS),
        identifier: (r.next() % 3 == 0).then(|| (r.pick(&["", " ", "CRM", "p\u{1}"]).to_string(), r.pick(&["", " ", "1", "i\n"]).to_string())),
        channel: r.opt(WORDS),
        currency: r.opt(WORDS),
        language: if r.next() % 11 == 0 { Some(long.to_string()) } else { r.opt(WORDS) },
        point_of_sale: r.opt(&["", " ", "pos/ie", "p\u{1}"]),
        guest_ref: r.opt(IDS),
        page_variant_ids: (0..(r.next() % 4)).map(|_| r.pick(WORDS).to_string()).collect(),
        ..DecisionRequest::default()
    };
    if r.next() % 40 == 0 {
        d.page_variant_ids = vec!["v".into(); 51];
    }
    match r.next() % 4 {
        0 => {}
        1 => d.params = serde_json::from_value(json!({"i": r.next() % 100, "s": "a~1:b", "f": 1.5e-7})).unwrap(),
        2 => d.params = serde_json::from_value(json!({"customer": {"tier": "gold", "points": [1, {"x": null}]}, "flag": true})).unwrap(),
        _ => {
            let mut v = json!(1);
            for _ in 0..(30 + r.next() % 5) {
                v = json!([v]);
            }
            d.params.insert("deep".into(), v);
        }
    }
    d
}

#[test]
fn the_key_carries_the_request_to_the_same_body() {
    let long = "y".repeat(5000);
    let mut r = Rng(0x2545_F491_4F6C_DD1D);
    let mut checked = 0;
    for _ in 0..20_000 {
        let d = random_request(&mut r, &long);
        for ctx in [classic(), BodyContext::edge(None)] {
            if d.validate_with(&ctx).is_err() {
                continue;
            }
            let back = DecisionFields::from_request(&d).key().request().expect("key reads back");
            assert_eq!(back.to_body(&ctx), d.to_body(&ctx), "{d:?}");
            checked += 1;
        }
    }
    assert!(checked > 1000, "{checked}");
}

#[test]
fn params_json_renders_as_the_parsed_object() {
    let text = r#"{ "customer": {"tier":"gold","points":10}, "flag": true, "n": 12345678901234567890, "e": "\u00e9\n" }"#;
    let mut d = DecisionRequest { friendly_id: "f".into(), browser_id: Some(BID.into()), ..DecisionRequest::default() };
    let mut fields = DecisionFields::from_request(&d);
    fields.params = Params::Json(ParamsJson::scan(text).unwrap());
    let key = fields.key();
    d.params = serde_json::from_str(text).unwrap();
    for ctx in [classic(), BodyContext::edge(None)] {
        assert_eq!(key.request().unwrap().to_body(&ctx), d.to_body(&ctx));
    }
}

#[test]
fn params_scan_refuses_what_a_value_parse_refuses() {
    let mut deep = String::new();
    for _ in 0..200 {
        deep.push('[');
    }
    let cases = [
        "{}", r#"{"a":1}"#, " {\"a\" : [1, 2, {\"b\": null}]} ", "[1,2]", "1", "\"s\"", "null", "true", "{", "{\"a\":}", r#"{"a":1}x"#,
        r#"{"a":1e400}"#, r#"{"a":"\ud800"}"#, r#"{"\ud800":1}"#, r#"{"a":"\q"}"#, r#"[1,}"#, r#"{"a":01}"#, "", "   ", &deep,
        r#"{"a":-0.0,"b":1.7976931348623157e308}"#, "{\"a\":\"\u{1}\"}",
    ];
    for text in cases {
        let value = serde_json::from_str::<Value>(text);
        match (ParamsJson::scan(text), value) {
            (Ok(_), Ok(Value::Object(_))) => {}
            (Err(ParamsError::NotObject), Ok(v)) => assert!(!v.is_object(), "{text}"),
            (Err(ParamsError::Syntax(a)), Err(b)) => assert_eq!((a.line(), a.column()), (b.line(), b.column()), "{text}: {a} / {b}"),
            (s, v) => panic!("{text}: scan {s:?}, parse {v:?}"),
        }
    }
}

#[test]
fn params_json_depth_is_judged_as_for_the_parsed_object() {
    for n in [0, 30, 31, 32, 33, 40] {
        let mut v = json!("leaf");
        for _ in 0..n {
            v = json!({ "k": v });
        }
        let text = json!({ "top": v }).to_string();
        let map: Map<String, Value> = serde_json::from_str(&text).unwrap();
        let d = DecisionRequest { friendly_id: "f".into(), params: map, ..DecisionRequest::default() };
        let mut fields = DecisionFields::from_request(&d);
        let model = fields.validate_with(&classic()).map_err(|e| e.message);
        fields.params = Params::Json(ParamsJson::scan(&text).unwrap());
        assert_eq!(fields.validate_with(&classic()).map_err(|e| e.message), model, "{n}");
        assert_eq!(model.is_ok(), n < 32, "{n}");
    }
}

#[test]
fn keys_tell_requests_apart_as_the_body_does() {
    let k = |d: &DecisionRequest| DecisionFields::from_request(d).key();
    let a = DecisionRequest { friendly_id: "f".into(), browser_id: Some(BID.into()), ..DecisionRequest::default() };
    assert_eq!(k(&a), k(&a.clone()));
    let mut b = a.clone();
    b.params.insert("k".into(), json!(1));
    assert_ne!(k(&a), k(&b));
    assert_ne!(k(&a), k(&DecisionRequest { friendly_id: "g".into(), ..a.clone() }));
    // The visitor is who the body names: with an email the browser id no longer matters.
    let e1 = DecisionRequest { email: Some("a@b.co".into()), ..a.clone() };
    let e2 = DecisionRequest { email: Some("a@b.co".into()), browser_id: Some("other".into()), ..a.clone() };
    assert_eq!(k(&e1), k(&e2));
    let e3 = DecisionRequest { identifier: Some(("CRM".into(), "1".into())), ..e1.clone() };
    assert_ne!(k(&e1), k(&e3));
    let i1 = DecisionRequest { identifier: Some(("CRM".into(), "1".into())), ..a.clone() };
    assert_ne!(k(&i1), k(&e3));
    // Absent and empty differ (an absent channel falls back to the settings', an empty one is sent empty).
    assert_ne!(k(&a), k(&DecisionRequest { channel: Some(String::new()), ..a.clone() }));
    // No ambiguity from separators or lengths inside values.
    let x = DecisionRequest { friendly_id: "a~1:b".into(), ..DecisionRequest::default() };
    let y = DecisionRequest { friendly_id: "a".into(), channel: Some("b".into()), ..DecisionRequest::default() };
    let z = DecisionRequest { friendly_id: "a~".into(), channel: Some("b".into()), ..DecisionRequest::default() };
    assert_ne!(k(&x), k(&y));
    assert_ne!(k(&x), k(&z));
    let v1 = DecisionRequest { page_variant_ids: vec!["1:a".into()], ..a.clone() };
    let v2 = DecisionRequest { page_variant_ids: vec!["1".into(), "a".into()], ..a.clone() };
    assert_ne!(k(&v1), k(&v2));
}

#[test]
fn a_repeated_key_is_judged_on_every_occurrence() {
    let mut deep = json!(1);
    for _ in 0..40 {
        deep = json!([deep]);
    }
    // A parse keeps the last "a" (shallow); the scan refuses the deep first one: stricter, never looser.
    let text = format!(r#"{{"a":{deep},"a":1}}"#);
    let d = DecisionRequest { friendly_id: "f".into(), ..DecisionRequest::default() };
    let mut fields = DecisionFields::from_request(&d);
    fields.params = Params::Json(ParamsJson::scan(&text).unwrap());
    assert_eq!(fields.validate_with(&classic()).unwrap_err().kind, ErrorKind::InvalidField);
    let parsed: Map<String, Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["a"], json!(1));
}
