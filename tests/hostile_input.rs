//! Hostile input: property tests of payload building and `ext` flattening (a hand-rolled, fixed-seed
//! generator: no extra dependency), size limits through the C ABI, and header / URL injection attempts
//! against the emulator over real HTTP, checked on what the emulator actually received.
//!
//! `tests/model_vectors.rs` already checks that random events and decisions always serialize; this file
//! adds what it does not: flattening against an independent reference model (≤ 50 attributes or the
//! documented error), duplicate keys at any depth, UTM extraction on arbitrary URLs, the C ABI limits, and
//! the network side of injection.

mod common;

use common::admin;
use serde_json::{json, Map, Number, Value};
use std::time::Duration;
use xmcdp::config::Settings;
use xmcdp::ffi::xmcdp_status_t::{self, *};
use xmcdp::ffi::*;
use xmcdp::model::query::engage_params;
use xmcdp::model::*;
use xmcdp::{Client, ErrorKind};
use xmcdp_emulator::{spawn, EmulatorConfig, EmulatorHandle};

// ---------------------------------------------------------------------------------------------------------
// A fixed-seed generator.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn text(&mut self) -> String {
        const P: &[&str] = &["a", "B", "_", "__", "1", "é", "\"", "\\", "\n", "\u{0}", "%", "&", "=", "?", "#", "/", "..", " ", "utm_", "\u{2028}"];
        (0..self.below(5)).map(|_| *self.pick(P)).collect()
    }
    /// Keys from a small alphabet, so flattened keys collide (`a_b` from `a.b` and from `a_b`).
    fn key(&mut self) -> String {
        (*self.pick(&["a", "b", "a_b", "_1", "k", "k_", "", "x", "b_a", "utm_x"])).to_string()
    }
    fn value(&mut self, depth: usize) -> Value {
        match self.below(if depth == 0 { 6 } else { 9 }) {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 0),
            2 => json!(self.next() as i64),
            3 => Number::from_f64((self.next() as f64) / 7.0).map_or(Value::Null, Value::Number),
            4 | 5 => Value::String(self.text()),
            6 => Value::Array((0..self.below(3)).map(|_| self.value(depth - 1)).collect()),
            7 => json!({}),
            _ => Value::Object(self.object(depth - 1)),
        }
    }
    fn object(&mut self, depth: usize) -> Map<String, Value> {
        let mut m = Map::new();
        if self.below(6) == 0 {
            // Wide: around the 50-attribute limit.
            for i in 0..45 + self.below(12) {
                m.insert(format!("w{i}"), json!(i));
            }
        }
        for _ in 0..self.below(6) {
            let k = self.key();
            let v = self.value(depth);
            m.insert(k, v);
        }
        m
    }
}

/// JSON parsing that fails on a duplicate key at any depth (serde_json's `Value` keeps the last one).
fn strict_json(bytes: &[u8]) -> Result<Value, String> {
    use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
    struct V;
    struct S(Value);
    impl<'de> serde::Deserialize<'de> for S {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<S, D::Error> {
            d.deserialize_any(V).map(S)
        }
    }
    impl<'de> Visitor<'de> for V {
        type Value = Value;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(json!(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(json!(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
            Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("not finite"))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.into()))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Value, A::Error> {
            let mut out = Vec::new();
            while let Some(S(v)) = s.next_element()? {
                out.push(v);
            }
            Ok(Value::Array(out))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Value, A::Error> {
            let mut out = Map::new();
            while let Some(k) = m.next_key::<String>()? {
                if out.contains_key(&k) {
                    return Err(de::Error::custom(format!("duplicate key {k:?}")));
                }
                let S(v) = m.next_value()?;
                out.insert(k, v);
            }
            Ok(Value::Object(out))
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let S(v) = serde::Deserialize::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(v)
}

/// The SDKs' `flatten-object` (protocol §6.3), written independently of `model::flatten`: depth-first, `_`
/// joins, `null` and `{}` vanish, arrays kept, a repeated key keeps its first position and takes the last value.
fn reference_flatten(prefix: &str, obj: &Map<String, Value>, out: &mut Vec<(String, Value)>) {
    for (k, v) in obj {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}_{k}") };
        match v {
            Value::Null => {}
            Value::Object(o) => reference_flatten(&key, o, out),
            other => match out.iter_mut().find(|(k2, _)| *k2 == key) {
                Some(slot) => slot.1 = other.clone(),
                None => out.push((key, other.clone())),
            },
        }
    }
}

fn ctxs() -> [BodyContext<'static>; 2] {
    [BodyContext::classic("ck_test", "pos1"), BodyContext::edge(Some("2026-01-01T00:00:00.000Z"))]
}

// ---------------------------------------------------------------------------------------------------------
// Properties of payload building.

#[test]
fn arbitrary_ext_flattens_like_the_sdk_or_fails_with_the_limit() {
    let mut r = Rng(0x5EED_0001);
    let (mut accepted, mut over_limit) = (0, 0);
    for n in 0..4000 {
        let depth = r.below(4);
        let obj = r.object(depth);
        let mut expected = Vec::new();
        reference_flatten("", &obj, &mut expected);
        match Ext::from_map(&obj) {
            Ok(ext) => {
                accepted += 1;
                assert!(expected.len() <= MAX_EXT_ATTRIBUTES, "{} attributes accepted", expected.len());
                let got: Vec<(String, Value)> = ext.as_map().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                assert_eq!(got, expected, "flattening differs from the SDK's for {}", Value::Object(obj.clone()));
                let ev = match n % 3 {
                    0 => Event::View(PageView {
                        common: EventCommon { browser_id: "b-1".into(), ..Default::default() },
                        ext: ext.clone(),
                        ..Default::default()
                    }),
                    1 => Event::Identity(Identity {
                        identifiers: vec![Identifier { provider: "email".into(), id: "x@y.z".into(), expiry_date: None }],
                        ext: ext.clone(),
                        ..Default::default()
                    }),
                    _ => Event::Custom(CustomEvent { event_type: "ADD".into(), data: obj.clone(), ext: ext.clone(), ..Default::default() }),
                };
                for ctx in ctxs() {
                    let body = ev.to_body(&ctx);
                    let v = strict_json(&body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
                    let body_ext = v.get("ext").and_then(Value::as_object).cloned().unwrap_or_default();
                    assert!(body_ext.len() <= MAX_EXT_ATTRIBUTES);
                    assert!(body_ext.values().all(|x| !x.is_object() && !x.is_null()), "ext is flat");
                    assert_eq!(body_ext.len(), expected.len());
                }
            }
            Err(e) => {
                if expected.len() > MAX_EXT_ATTRIBUTES {
                    over_limit += 1;
                    assert_eq!(e.kind, ErrorKind::TooManyExtAttributes, "{e}");
                } else {
                    panic!("rejected {} attributes ({e}): {}", expected.len(), Value::Object(obj));
                }
            }
        }
    }
    assert!(accepted > 1000 && over_limit > 100, "generator coverage: {accepted} accepted, {over_limit} over the limit");
}

#[test]
fn utm_extraction_takes_only_the_urls_utm_parameters_and_never_panics() {
    let mut r = Rng(0x5EED_0002);
    const P: &[&str] = &[
        "?",
        "&",
        "=",
        "#",
        "+",
        "%",
        "%2",
        "%zz",
        "%41",
        "%C3%A9",
        "%E0%A4%A",
        "%ED%A0%80",
        "%26",
        "%3D",
        "%23",
        "utm_",
        "UTM_",
        "Utm_Source",
        "variantid",
        "a",
        "é",
        "\u{0}",
        "\r\n",
        "/",
        "..",
        " ",
        "http://x/",
        "?utm_medium=",
        ";",
    ];
    for _ in 0..5000 {
        let url: String = (0..r.below(10)).map(|_| *r.pick(P)).collect();
        let allowed: Vec<String> = engage_params(&url).into_iter().map(|(k, _)| k.to_lowercase()).filter(|k| k.starts_with("utm_")).collect();
        let pv = PageView { common: EventCommon { browser_id: "b-1".into(), ..Default::default() }, url: Some(url.clone()), ..Default::default() };
        let ev = Event::View(pv);
        for ctx in ctxs() {
            let v = strict_json(&ev.to_body(&ctx)).unwrap();
            for k in v.as_object().unwrap().keys().filter(|k| k.starts_with("utm_")) {
                assert!(allowed.contains(k), "{k} not from {url:?}");
            }
            if !url.contains('?') {
                assert!(!v.as_object().unwrap().keys().any(|k| k.starts_with("utm_")));
            }
        }
        let mut d = DecisionRequest { friendly_id: "f".into(), ..Default::default() };
        d.edge_utm_params(&url);
        strict_json(&d.to_body(&BodyContext::edge(None))).unwrap();
    }
}

#[test]
fn custom_bodies_never_carry_a_reserved_key_twice() {
    let mut r = Rng(0x5EED_0003);
    for _ in 0..3000 {
        let mut data = r.object(2);
        for _ in 0..r.below(3) {
            data.insert((*r.pick(RESERVED_DATA_KEYS)).to_string(), r.value(1));
        }
        let has_reserved = data.keys().any(|k| RESERVED_DATA_KEYS.contains(&k.as_str()));
        let ev = Event::Custom(CustomEvent { event_type: "ADD".into(), data, ..Default::default() });
        if has_reserved {
            assert_eq!(ev.validate().unwrap_err().kind, ErrorKind::InvalidField);
        }
        // Even unvalidated, the body is strict JSON and the built keys win.
        for ctx in ctxs() {
            let v = strict_json(&ev.to_body(&ctx)).unwrap();
            assert_eq!(v["type"], "ADD");
            assert_eq!(v["browser_id"], "");
        }
    }
}

/// Found by the `config` fuzz target: settings accepted a `cookieDomain` ("..", "....", "a..b") that the
/// cookie code's own check rejects, so the Set-Cookie header carried a Domain no browser accepts and every
/// visit would have looked like a first visit.
#[test]
fn settings_reject_cookie_domains_the_cookie_code_rejects() {
    let base = |d: &str| json!({"clientKey": "ck", "targetUrl": "https://x.test", "pointOfSale": "p", "cookieDomain": d}).to_string();
    for bad in [".", "..", "..........", "a..b", ".a..b", &"a".repeat(254)] {
        let e = Settings::from_json(&base(bad)).expect_err(bad);
        assert_eq!(e.kind, ErrorKind::ConfigInvalid, "{bad}");
    }
    for good in [".example.com", "example.com", "a-b.c"] {
        let s = Settings::from_json(&base(good)).unwrap();
        let spec = xmcdp::cookie::CookieSpec { domain: s.cookie_domain.clone(), ..xmcdp::cookie::CookieSpec::for_client_key("ck") };
        spec.validate().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------------------
// Size limits and awkward shapes through the C ABI.

fn cs(s: &[u8]) -> xmcdp_str_t {
    xmcdp_str_t { ptr: s.as_ptr(), len: s.len() }
}

fn last_error() -> String {
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    assert_eq!(xmcdp_last_error(buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

fn abi_client(emu: &EmulatorHandle) -> xmcdp_client_t {
    let s = json!({"clientKey": "ck_test", "targetUrl": emu.base_url(), "pointOfSale": "myretailsite/ireland", "apiToken": "tok_test", "workerThreads": 1})
        .to_string();
    let mut h = 0;
    assert_eq!(xmcdp_client_new(cs(s.as_bytes()), &mut h), XMCDP_STATUS_OK);
    h
}

fn common_none() -> xmcdp_common_t {
    xmcdp_common_t {
        browser_id: xmcdp_str_t::NONE,
        channel: xmcdp_str_t::NONE,
        currency: xmcdp_str_t::NONE,
        language: xmcdp_str_t::NONE,
        page: xmcdp_str_t::NONE,
        point_of_sale: xmcdp_str_t::NONE,
    }
}

fn page_view() -> xmcdp_page_view_t {
    xmcdp_page_view_t {
        common: common_none(),
        url: xmcdp_str_t::NONE,
        referrer: xmcdp_str_t::NONE,
        page_variant_id: xmcdp_str_t::NONE,
        ext_json: xmcdp_str_t::NONE,
        user_agent: xmcdp_str_t::NONE,
        include_utm: 1,
    }
}

fn expect(what: &str, got: xmcdp_status_t, want: xmcdp_status_t) {
    assert_eq!(got, want, "{what}: {}", if got == XMCDP_STATUS_OK { String::new() } else { last_error() });
}

#[test]
fn c_abi_enforces_size_limits_and_rejects_awkward_shapes() {
    let emu = spawn(EmulatorConfig::default()).unwrap();
    let h = abi_client(&emu);
    let over = vec![b'a'; 64 * 1024 + 1];
    let at_limit_bad_utf8 = [b'a', 0xff, 0xfe];

    // Settings: 1 MiB cap, invalid UTF-8, NULL with a length, NULL output.
    let mut out = 7;
    let big = vec![b' '; 1024 * 1024 + 1];
    expect("settings > 1 MiB", xmcdp_client_new(cs(&big), &mut out), XMCDP_STATUS_TOO_LARGE);
    assert_eq!(out, 0);
    expect("settings bad UTF-8", xmcdp_client_new(cs(&at_limit_bad_utf8), &mut out), XMCDP_STATUS_INVALID_UTF8);
    expect("settings NULL+len", xmcdp_client_new(xmcdp_str_t { ptr: std::ptr::null(), len: 5 }, &mut out), XMCDP_STATUS_INVALID_ARGUMENT);
    expect("settings NULL", xmcdp_client_new(xmcdp_str_t::NONE, &mut out), XMCDP_STATUS_NULL_POINTER);

    // Page view: every string field is capped at 64 KiB, checked before anything is read.
    for field in 0..6 {
        let mut p = page_view();
        let v = cs(&over);
        match field {
            0 => p.url = v,
            1 => p.referrer = v,
            2 => p.ext_json = v,
            3 => p.user_agent = v,
            4 => p.common.page = v,
            _ => p.common.browser_id = v,
        }
        expect(&format!("page view field {field} over 64 KiB"), xmcdp_client_page_view(h, &p), XMCDP_STATUS_TOO_LARGE);
        let m = last_error();
        assert!(m.contains("65537") && !m.contains("aaaa"), "{m}");
    }
    let mut p = page_view();
    p.common.page = cs(&at_limit_bad_utf8);
    expect("invalid UTF-8", xmcdp_client_page_view(h, &p), XMCDP_STATUS_INVALID_UTF8);
    p.common.page = xmcdp_str_t { ptr: std::ptr::null(), len: 1 << 40 };
    expect("NULL with a huge length", xmcdp_client_page_view(h, &p), XMCDP_STATUS_INVALID_ARGUMENT);
    // JSON caps: 51 flattened attributes, nesting past 32 levels, a non-object.
    let wide = Value::Object((0..51).map(|i| (format!("k{i}"), json!(i))).collect()).to_string();
    let mut p = page_view();
    p.ext_json = cs(wide.as_bytes());
    expect("51 ext attributes", xmcdp_client_page_view(h, &p), XMCDP_STATUS_TOO_MANY_EXT_ATTRIBUTES);
    let deep = format!("{}1{}", "{\"a\":".repeat(40), "}".repeat(40));
    p.ext_json = cs(deep.as_bytes());
    expect("ext nested 40 deep", xmcdp_client_page_view(h, &p), XMCDP_STATUS_INVALID_EXT);
    let deep_array = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
    p.ext_json = cs(deep_array.as_bytes());
    expect("ext array nested 200 deep", xmcdp_client_page_view(h, &p), XMCDP_STATUS_INVALID_EXT);
    p.ext_json = cs(b"[1]");
    expect("ext not an object", xmcdp_client_page_view(h, &p), XMCDP_STATUS_INVALID_EXT);
    let ev_deep = format!("{{\"product\":{}1{}}}", "[".repeat(40), "]".repeat(40));
    let e = xmcdp_event_t {
        common: common_none(),
        event_type: cs(b"ADD"),
        data_json: cs(ev_deep.as_bytes()),
        ext_json: xmcdp_str_t::NONE,
        user_agent: xmcdp_str_t::NONE,
    };
    expect("event data nested 40 deep", xmcdp_client_event(h, &e), XMCDP_STATUS_INVALID_FIELD);

    // Identity arrays: at most 64 items (checked before the array is read), NULL with a length.
    let id = xmcdp_identifier_t { provider: cs(b"email"), id: cs(b"jane@example.com"), expiry_date: xmcdp_str_t::NONE };
    let ids = vec![id; 65];
    let lines = vec![cs(b"line"); 65];
    let ident = |ids: (*const xmcdp_identifier_t, usize), street: (*const xmcdp_str_t, usize)| xmcdp_identity_t {
        common: common_none(),
        email: xmcdp_str_t::NONE,
        first_name: xmcdp_str_t::NONE,
        last_name: xmcdp_str_t::NONE,
        dob: xmcdp_str_t::NONE,
        gender: xmcdp_str_t::NONE,
        mobile: xmcdp_str_t::NONE,
        phone: xmcdp_str_t::NONE,
        city: xmcdp_str_t::NONE,
        state: xmcdp_str_t::NONE,
        country: xmcdp_str_t::NONE,
        postal_code: xmcdp_str_t::NONE,
        title: xmcdp_str_t::NONE,
        ext_json: xmcdp_str_t::NONE,
        user_agent: xmcdp_str_t::NONE,
        street: street.0,
        street_len: street.1,
        identifiers: ids.0,
        identifiers_len: ids.1,
    };
    expect("65 identifiers", xmcdp_client_identity(h, &ident((ids.as_ptr(), 65), (std::ptr::null(), 0))), XMCDP_STATUS_TOO_LARGE);
    expect("usize::MAX identifiers", xmcdp_client_identity(h, &ident((ids.as_ptr(), usize::MAX), (std::ptr::null(), 0))), XMCDP_STATUS_TOO_LARGE);
    expect("65 street lines", xmcdp_client_identity(h, &ident((ids.as_ptr(), 1), (lines.as_ptr(), 65))), XMCDP_STATUS_TOO_LARGE);
    expect("17 street lines", xmcdp_client_identity(h, &ident((ids.as_ptr(), 1), (lines.as_ptr(), 17))), XMCDP_STATUS_TOO_LARGE);
    expect(
        "NULL identifiers with a length",
        xmcdp_client_identity(h, &ident((std::ptr::null(), 3), (std::ptr::null(), 0))),
        XMCDP_STATUS_NULL_POINTER,
    );
    expect("identity ok", xmcdp_client_identity(h, &ident((ids.as_ptr(), 1), (lines.as_ptr(), 2))), XMCDP_STATUS_OK);

    // Decisions and guests: the same caps.
    let variants = vec![cs(b"v"); 65];
    let mut req = xmcdp_decision_request_t {
        friendly_id: cs(b"home_page_banner"),
        browser_id: xmcdp_str_t::NONE,
        email: xmcdp_str_t::NONE,
        identifier_provider: xmcdp_str_t::NONE,
        identifier_id: xmcdp_str_t::NONE,
        channel: xmcdp_str_t::NONE,
        currency: xmcdp_str_t::NONE,
        language: xmcdp_str_t::NONE,
        point_of_sale: xmcdp_str_t::NONE,
        params_json: cs(&over),
        guest_ref: xmcdp_str_t::NONE,
        user_agent: xmcdp_str_t::NONE,
        page_variant_ids: std::ptr::null(),
        page_variant_ids_len: 0,
    };
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    expect("params over 64 KiB", xmcdp_client_decide(h, &req, 500, buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_TOO_LARGE);
    req.params_json = xmcdp_str_t::NONE;
    req.page_variant_ids = variants.as_ptr();
    req.page_variant_ids_len = 65;
    expect("65 variant ids", xmcdp_client_decide(h, &req, 500, buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_TOO_LARGE);
    let fields = vec![cs(b"a"); 65];
    let g = "00000000-0000-4000-8000-000000000000";
    expect(
        "65 fields",
        xmcdp_client_guest_extension_delete_fields(h, cs(g.as_bytes()), cs(b"ext"), fields.as_ptr(), 65, 500, buf.as_mut_ptr(), buf.len(), &mut n),
        XMCDP_STATUS_TOO_LARGE,
    );
    expect(
        "extension data over 64 KiB",
        xmcdp_client_guest_extension_create(h, cs(g.as_bytes()), cs(b"ext"), cs(&over), 500, buf.as_mut_ptr(), buf.len(), &mut n),
        XMCDP_STATUS_TOO_LARGE,
    );
    expect(
        "cookie header over 64 KiB",
        {
            let mut id = std::mem::MaybeUninit::<xmcdp_browser_id_t>::zeroed();
            xmcdp_client_browser_ensure(h, cs(&over), 500, id.as_mut_ptr(), buf.as_mut_ptr(), buf.len(), &mut n)
        },
        XMCDP_STATUS_TOO_LARGE,
    );
    // Output buffers: NULL with a capacity, NULL out_len.
    expect("NULL buf with cap", xmcdp_client_stats(h, std::ptr::null_mut(), 10, &mut n), XMCDP_STATUS_NULL_POINTER);
    expect("NULL out_len", xmcdp_client_stats(h, buf.as_mut_ptr(), buf.len(), std::ptr::null_mut()), XMCDP_STATUS_NULL_POINTER);
    // Garbage handles.
    for bad in [0, 1, u64::MAX, h ^ 1, h + (1 << 32)] {
        expect("garbage handle", xmcdp_client_page_view(bad, &page_view()), XMCDP_STATUS_INVALID_HANDLE);
    }
    assert_eq!(xmcdp_client_delete(h), XMCDP_STATUS_OK);
    expect("deleted handle", xmcdp_client_page_view(h, &page_view()), XMCDP_STATUS_INVALID_HANDLE);
}

// ---------------------------------------------------------------------------------------------------------
// Injection over real HTTP: what the emulator received.

const HOSTILE: &[&str] = &[
    "a\r\nX-Injected: 1",
    "a\nX-Injected: 1",
    "a\rX-Injected: 1",
    "a\u{0}b",
    "../../__emulator/reset",
    "a/b",
    "a/../b",
    "..",
    "a?x=1",
    "a#frag",
    "a%2Fb",
    "%2e%2e",
    "a%0d%0aX-Injected:%201",
    "\"a\"",
    "'a'",
    "a;b=c",
    "a b",
    "caf\u{e9}",
    "\u{202e}rtl",
];

fn overlong() -> String {
    "o".repeat(64 * 1024 + 10)
}

fn emu_requests(emu: &EmulatorHandle) -> Vec<Value> {
    admin(&emu.base_url()).requests().unwrap()["items"].as_array().unwrap().clone()
}

const ALLOWED_HEADERS: &[&str] = &[
    "host",
    "content-type",
    "content-length",
    "x-library-version",
    "user-agent",
    "accept",
    "authorization",
    "accept-encoding",
    "x-sc-correlation-id",
    "x-client-software-id",
    "connection",
    "idempotency-key",
];

fn id_segment_ok(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains("..") && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The paths the client may produce, with every variable segment an id.
fn path_ok(p: &str) -> bool {
    let seg: Vec<&str> = p.strip_prefix('/').unwrap_or("").split('/').collect();
    match seg.as_slice() {
        ["v1.2", "events"] | ["v1.2", "browser", "create.json"] | ["v2", "callFlows"] | ["v2.1", "guests"] => true,
        ["v1.2", "browser", b, "show.json"] => id_segment_ok(b),
        ["v2.1", "guests", g] | ["v2.1", "guests", g, "extensions"] => id_segment_ok(g),
        ["v2.1", "guests", g, "extensions", e] | ["v2.1", "guests", g, "extensions", e, "fields"] => {
            id_segment_ok(g) && ["ext", "ext1", "ext2", "ext3", "ext4", "ext5"].contains(e)
        }
        _ => false,
    }
}

fn query_keys(q: &str) -> Vec<String> {
    q.split('&').filter(|p| !p.is_empty()).map(|p| p.split('=').next().unwrap_or("").to_string()).collect()
}

#[test]
fn header_and_url_injection_never_reaches_the_server() {
    let emu = spawn(EmulatorConfig::default()).unwrap();
    let c = Client::from_json(
        &json!({"clientKey": "ck_test", "targetUrl": emu.base_url(), "pointOfSale": "myretailsite/ireland", "apiToken": "tok_test", "workerThreads": 1,
                "retryMaxAttempts": 1})
        .to_string(),
    )
    .unwrap();
    let budget = Duration::from_secs(5);
    let created = c.browser_ids().ensure_browser_id("").unwrap();
    let (bid, guest) = (created.browser_id.clone(), created.guest_ref.clone().unwrap());
    let long = overlong();
    let values: Vec<&str> = HOSTILE.iter().copied().chain([long.as_str()]).collect();
    let common = |b: &str| EventCommon { browser_id: b.to_string(), ..Default::default() };
    let view = |b: &str| Event::View(PageView { common: common(b), ..Default::default() });

    for h in &values {
        // Browser ids: rejected before anything is queued or sent.
        assert_eq!(c.send(view(h), None).unwrap_err().kind, ErrorKind::InvalidBrowserId, "{h:?}");
        assert_eq!(c.browser_ids().guest_ref_for_browser(h, budget).unwrap_err().kind, ErrorKind::InvalidBrowserId, "{h:?}");
        // Cookie values: ignored, never echoed into Set-Cookie; the visitor gets a fresh id.
        for header in [format!("bid_ck_test={h}"), format!("BID_ck_test={h}"), format!("bid_ck_test=\"{h}\"; other=1")] {
            let r = c.browser_ids().ensure_browser_id(&header).unwrap();
            // Unless a valid id survives cookie parsing (`"a"` unquotes to `a`, `a;b=c` is the cookie `a`).
            assert!(r.created || (h.contains(r.browser_id.as_str()) && xmcdp::cookie::validate_browser_id(&r.browser_id).is_ok()), "{h:?}");
            for sc in &r.set_cookies {
                assert!(!sc.chars().any(char::is_control) && !sc.contains("Injected") && (h.len() < 3 || !sc.contains(h)), "{sc:?}");
            }
        }
        // User-Agent: forwarded only when it is a valid header value; the event goes out either way.
        c.send(view(&bid), Some(h.to_string())).unwrap();
        // Event types, and free text that lands in the JSON body only.
        let custom = |t: &str, page: Option<&str>| {
            Event::Custom(CustomEvent {
                common: EventCommon { page: page.map(str::to_owned), ..common(&bid) },
                event_type: t.into(),
                ..Default::default()
            })
        };
        let type_ok = (1..=100).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
        match c.send(custom(h, None), None) {
            Ok(()) => assert!(type_ok, "{h:?}"),
            Err(e) => assert!(!type_ok && e.kind == ErrorKind::InvalidEventType, "{h:?}: {e}"),
        }
        let page_ok = h.len() <= 4096 && !h.chars().any(char::is_control);
        assert_eq!(c.send(custom("ADD", Some(h)), None).is_ok(), page_ok, "{h:?}");
        // Decisions: friendlyId and identifiers travel in the body; browser id / guest ref are checked.
        let d = DecisionRequest { friendly_id: h.to_string(), browser_id: Some(bid.clone()), ..Default::default() };
        let r = c.decisions().decide(&d, Some(h), budget);
        if h.chars().any(char::is_control) || h.len() > 4096 {
            assert!(matches!(r.unwrap_err().kind, ErrorKind::InvalidField | ErrorKind::TooLarge), "{h:?}");
        }
        let d = DecisionRequest { friendly_id: "home_page_banner".into(), browser_id: Some(h.to_string()), ..Default::default() };
        assert_eq!(c.decisions().decide(&d, None, budget).unwrap_err().kind, ErrorKind::InvalidBrowserId);
        let d = DecisionRequest { friendly_id: "home_page_banner".into(), guest_ref: Some(h.to_string()), ..Default::default() };
        assert_eq!(c.decisions().decide(&d, None, budget).unwrap_err().kind, ErrorKind::InvalidField);
        // Guest REST: refs and extension names are path segments and are checked; keys too.
        let g = c.guests();
        assert_eq!(g.get(h, true).unwrap_err().kind, ErrorKind::InvalidArgument, "{h:?}");
        assert_eq!(g.list_extensions(h, false).unwrap_err().kind, ErrorKind::InvalidArgument);
        assert_eq!(g.get_extension(&guest, h).unwrap_err().kind, ErrorKind::InvalidExt, "{h:?}");
        assert_eq!(g.delete_extension(&guest, h).unwrap_err().kind, ErrorKind::InvalidExt);
        assert_eq!(g.put_extension(&guest, h, &json!({"a": 1})).unwrap_err().kind, ErrorKind::InvalidExt);
        assert_eq!(g.create_extension(&guest, "ext", &json!({ *h: 1 })).unwrap_err().kind, ErrorKind::InvalidExt);
        assert_eq!(g.delete_extension_fields(&guest, "ext", &[h]).unwrap_err().kind, ErrorKind::InvalidExt);
        // Search values are query values: encoded, never new parameters.
        let _ = g.find_by_email(&format!("{h}@example.com&expand=true#x"));
        let _ = g.find_by_identifier(&format!("email&{h}"), &format!("{h}&identifiers.provider=CRM"));
    }
    assert!(c.shutdown(Duration::from_secs(10)).unsent == 0);

    let reqs = emu_requests(&emu);
    assert!(reqs.len() > 50, "the hostile values were exercised against the server: {} requests", reqs.len());
    let mut saw_ua = 0;
    for r in &reqs {
        let path = r["path"].as_str().unwrap();
        assert!(path_ok(path), "unexpected path {path:?}");
        let query = r["query"].as_str().unwrap_or("");
        assert!(!query.chars().any(|c| c.is_control() || c == ' ' || c == '#'), "{query:?}");
        let keys = query_keys(query);
        if path == "/v2.1/guests" {
            assert!(keys == ["email"] || keys == ["identifiers.provider", "identifiers.id"], "injected query parameters: {query:?}");
        }
        for (name, value) in r["headers"].as_object().unwrap() {
            assert!(ALLOWED_HEADERS.contains(&name.as_str()), "unexpected header {name:?} on {path}");
            let v = value.as_str().unwrap_or("");
            assert!(!v.chars().any(|c| c.is_control() && c != '\t') && !v.contains("X-Injected: 1"), "{name}: {v:?}");
            if name == "user-agent" && path == "/v1.2/events" {
                saw_ua += 1;
            }
        }
        let body = r["body"].as_str().unwrap_or("");
        assert!(!body.contains('\r') && !body.contains('\n'), "raw line break in a body: {body:?}");
    }
    assert!(saw_ua > 0, "the forwarded User-Agent header was seen at all");
    assert_eq!(xmcdp::model::query::query_of("/p?a#b"), "a");
}
