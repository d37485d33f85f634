//! The wire model against the official SDKs' captured requests (`../shared/spec/engage-harness`):
//! each body must equal the capture as a JSON value and byte for byte.

use serde_json::{json, Map, Value};
use xmcdp::cookie::{read_cookie_header, CookieSpec};
use xmcdp::ErrorKind;
use xmcdp::model::{PackedView, 
    BodyContext, CustomEvent, DecisionRequest, Event, EventCommon, Ext, Identifier, Identity, PageView, Wire,
};

const HARNESS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/spec/engage-harness");
const BID: &str = "a38b230c-11eb-4cf9-8d5d-274e9f344925";
const CK: &str = "ck_test";
const POS: &str = "myretailsite/ireland";

fn classic() -> BodyContext<'static> {
    BodyContext::classic(CK, POS)
}

fn load_vectors() -> Vec<Value> {
    let text = std::fs::read_to_string(format!("{HARNESS}/vectors.json")).expect("vectors.json beside the repo");
    serde_json::from_str::<Value>(&text).unwrap().as_array().unwrap().clone()
}

fn vector(all: &[Value], id: &str) -> Value {
    all.iter().find(|v| v["name"].as_str().unwrap().starts_with(&format!("{id} "))).unwrap_or_else(|| panic!("{id}")).clone()
}

/// First POST body captured after the scenario whose name starts with `prefix`, in a `*.requests.jsonl` file.
fn captured(file: &str, prefix: &str) -> String {
    let text = std::fs::read_to_string(format!("{HARNESS}/{file}")).unwrap();
    let mut inside = false;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(s) = v.get("scenario").and_then(Value::as_str) {
            inside = s.starts_with(prefix);
        } else if inside && v["method"] == "POST" {
            return v["body"].as_str().unwrap().to_string();
        }
    }
    panic!("no POST for {prefix} in {file}");
}

fn assert_body(got: Vec<u8>, expected: &str, what: &str) {
    let got = String::from_utf8(got).unwrap();
    let gv: Value = serde_json::from_str(&got).unwrap();
    let ev: Value = serde_json::from_str(expected).unwrap();
    assert_eq!(gv, ev, "{what}: JSON value differs");
    assert_eq!(got, expected, "{what}: bytes differ (key order?)");
}

fn opt(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Engage eventData -> EventCommon (how a caller maps the SDK's arguments).
fn common(ed: &Map<String, Value>, bid: &str) -> EventCommon {
    EventCommon {
        browser_id: bid.to_string(),
        channel: opt(ed, "channel"),
        currency: opt(ed, "currency"),
        language: opt(ed, "language"),
        page: opt(ed, "page"),
        point_of_sale: opt(ed, "pointOfSale"),
    }
}

fn ext_of(input: &Value) -> Ext {
    Ext::from_value(input.get("ext").cloned().unwrap_or(Value::Null)).unwrap()
}

fn identity_from(ed: &Map<String, Value>, bid: &str, ext: Ext) -> Identity {
    Identity {
        common: common(ed, bid),
        email: opt(ed, "email"),
        first_name: opt(ed, "firstName"),
        last_name: opt(ed, "lastName"),
        dob: opt(ed, "dob"),
        gender: opt(ed, "gender"),
        mobile: opt(ed, "mobile"),
        phone: opt(ed, "phone"),
        street: ed.get("street").and_then(Value::as_array).map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect()).unwrap_or_default(),
        city: opt(ed, "city"),
        state: opt(ed, "state"),
        country: opt(ed, "country"),
        postal_code: opt(ed, "postalCode"),
        title: opt(ed, "title"),
        identifiers: ed
            .get("identifiers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|i| {
                        let i = i.as_object().unwrap();
                        Identifier { provider: opt(i, "provider").unwrap(), id: opt(i, "id").unwrap(), expiry_date: opt(i, "expiryDate") }
                    })
                    .collect()
            })
            .unwrap_or_default(),
        ext,
    }
}

fn custom_from(ty: &str, ed: &Map<String, Value>, bid: &str, ext: Ext) -> CustomEvent {
    // Filter rather than `Map::remove`: with `preserve_order` that is a swap-remove and reorders keys.
    let data: Map<String, Value> = ed
        .iter()
        .filter(|(k, _)| !["channel", "currency", "language", "page", "pointOfSale"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    CustomEvent { common: common(ed, bid), event_type: ty.to_string(), data, ext }
}

fn decision_from(pd: &Map<String, Value>, bid: Option<&str>) -> DecisionRequest {
    DecisionRequest {
        friendly_id: opt(pd, "friendlyId").unwrap_or_default(),
        browser_id: bid.map(str::to_string),
        email: opt(pd, "email"),
        identifier: pd.get("identifier").map(|i| (i["provider"].as_str().unwrap().into(), i["id"].as_str().unwrap().into())),
        channel: opt(pd, "channel"),
        currency: opt(pd, "currency"),
        language: opt(pd, "language"),
        point_of_sale: opt(pd, "pointOfSale"),
        params: pd.get("params").and_then(Value::as_object).cloned().unwrap_or_default(),
        guest_ref: None,
        page_variant_ids: Vec::new(),
    }
}

fn check_event(ev: Event, ctx: &BodyContext, expected: &str, what: &str) {
    ev.validate_with(ctx).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(ev.approx_bytes() > 0);
    assert_body(ev.to_body(ctx), expected, what);
    if let Some(packed) = packed_twin(&ev) {
        let packed = packed.unwrap_or_else(|e| panic!("{what} packed: {e}"));
        packed.validate_with(ctx).unwrap_or_else(|e| panic!("{what} packed: {e}"));
        assert_body(packed.to_body(ctx), expected, &format!("{what} (packed, as the C ABI queues it)"));
    }
}

/// A VIEW as the C ABI queues it (`PackedView`, validated on construction), for a `PageView`.
fn packed_twin(ev: &Event) -> Option<Result<Event, xmcdp::Error>> {
    match ev {
        Event::View(pv) => Some(PackedView::new(pv.fields(), pv.ext.clone(), Some("Mozilla/5.0")).map(Event::PackedView)),
        _ => None,
    }
}

fn body_of(v: &Value) -> String {
    v["requests"][0]["body"].as_str().unwrap().to_string()
}

#[test]
fn tv_e1_e2_page_views() {
    let all = load_vectors();
    for id in ["TV-E1", "TV-E2"] {
        let v = vector(&all, id);
        let input = &v["input"];
        let ed = input["eventData"].as_object().unwrap();
        let pv = PageView {
            common: common(ed, BID),
            url: input["url"].as_str().map(str::to_string),
            referrer: opt(ed, "referrer"),
            page_variant_id: opt(ed, "pageVariantId"),
            ext: ext_of(input),
            ..PageView::default()
        };
        let ev = Event::View(pv);
        assert_eq!(ev.event_type(), "VIEW");
        assert_eq!(ev.browser_id(), BID);
        check_event(ev, &classic(), &body_of(&v), id);
    }
}

#[test]
fn s1_extra_query_and_undefined_ext_value() {
    // The live run of TV-E1 had `&x=1` in the URL and `skip: undefined` in ext: same body.
    let ext = Ext::from_value(json!({"customKey":"customValue","nested":{"a":1,"b":{"c":true}},"list":[1,2]})).unwrap();
    let pv = PageView {
        common: EventCommon { browser_id: BID.into(), channel: Some("WEB".into()), currency: Some("EUR".into()), language: Some("EN".into()), page: Some("home".into()), point_of_sale: None },
        url: Some("/home?utm_source=google&UTM_Medium=cpc&variantid=v-url&x=1".into()),
        ext,
        ..PageView::default()
    };
    check_event(Event::View(pv), &classic(), &captured("engage_server.requests.jsonl", "S1 "), "S1");
}

#[test]
fn tv_e3_e4_identity() {
    let all = load_vectors();
    for id in ["TV-E3", "TV-E4"] {
        let v = vector(&all, id);
        let input = &v["input"];
        let ev = Event::Identity(identity_from(input["eventData"].as_object().unwrap(), BID, ext_of(input)));
        assert_eq!(ev.event_type(), "IDENTITY");
        check_event(ev, &classic(), &body_of(&v), id);
    }
}

#[test]
fn tv_e5_e6_e7_custom() {
    let all = load_vectors();
    for id in ["TV-E5", "TV-E6", "TV-E7"] {
        let v = vector(&all, id);
        let input = &v["input"];
        let ty = input["type"].as_str().unwrap();
        let ev = Event::Custom(custom_from(ty, input["eventData"].as_object().unwrap(), BID, ext_of(input)));
        assert_eq!(ev.event_type(), ty);
        check_event(ev, &classic(), &body_of(&v), id);
    }
}

#[test]
fn tv_e8_to_e11_call_flows() {
    let all = load_vectors();
    for id in ["TV-E8", "TV-E9", "TV-E10", "TV-E11"] {
        let v = vector(&all, id);
        let input = &v["input"];
        let bid = if input.get("cookie") == Some(&Value::Null) { None } else { Some(BID) };
        let d = decision_from(input["personalizeData"].as_object().unwrap(), bid);
        d.validate_with(&classic()).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_body(d.to_body(&classic()), &body_of(&v), id);
    }
}

#[test]
fn tv_e12_and_tv_b7_cookies() {
    let all = load_vectors();
    let v = vector(&all, "TV-E12");
    let mut spec = CookieSpec::for_client_key(CK);
    spec.domain = v["input"]["settings"]["cookieDomain"].as_str().map(str::to_string);
    spec.validate().unwrap();
    assert_eq!(spec.set_cookie("R"), v["setCookie"]["Set-Cookie"].as_str().unwrap());

    // TV-B7: legacy cookie read, migrated, and the exact two cookie writes.
    let writes = std::fs::read_to_string(format!("{HARNESS}/engage_browser2.stdout.txt")).unwrap();
    let line = writes.lines().find(|l| l.starts_with("writes ")).unwrap();
    let expected: Vec<String> = serde_json::from_str(&line["writes ".len()..]).unwrap();
    let spec = CookieSpec::for_client_key(CK);
    let read = read_cookie_header(&spec, "BID_ck_test=legacy-bid-value");
    assert!(read.from_legacy && read.rejected.is_none());
    let bid = read.browser_id.unwrap();
    assert_eq!(vec![spec.expire_legacy().unwrap(), spec.set_cookie(&bid)], expected);
}

#[test]
fn browser_entry_bodies_with_explicit_values() {
    // The browser vectors infer page/language/referrer; given explicitly, the server path must send the same.
    let f = "engage_browser.requests.jsonl";
    let c = |page: &str, lang: Option<&str>| EventCommon {
        browser_id: BID.into(),
        channel: Some("WEB".into()),
        currency: Some("EUR".into()),
        language: lang.map(str::to_string),
        page: Some(page.into()),
        point_of_sale: None,
    };
    let url = Some("/products/bikes?utm_campaign=spring&utm_source=newsletter&variantid=v9".to_string());
    let b2 = PageView { common: c("bikes", Some("EN")), url: url.clone(), referrer: Some("https://www.google.com/search?q=bikes".into()), ..PageView::default() };
    check_event(Event::View(b2), &classic(), &captured(f, "B2 "), "B2");
    // URL variantid beats ext.pageVariantId.
    let b3 = PageView { common: c("bikes", Some("EN")), url, ext: Ext::from_value(json!({"pageVariantId":"ext-pv"})).unwrap(), ..PageView::default() };
    check_event(Event::View(b3), &classic(), &captured(f, "B3 "), "B3");
    let form = CustomEvent::form(BID.into(), "form-123", "submitted").unwrap();
    check_event(Event::Custom(form), &classic(), &captured(f, "B4 "), "B4 form");
    let mut data = Map::new();
    data.insert("product_name".into(), json!("bike"));
    let b5 = CustomEvent { common: c("bikes", Some("EN")), event_type: "SEARCH".into(), data, ext: Ext::default() };
    check_event(Event::Custom(b5), &classic(), &captured(f, "B5 "), "B5");
    let b9 = CustomEvent { common: c("bikes", Some("EN")), event_type: "CLICK".into(), ..CustomEvent::default() };
    check_event(Event::Custom(b9), &BodyContext::classic(CK, "new-pos"), &captured(f, "B9 "), "B9");
    let b8 = DecisionRequest {
        friendly_id: "home_page_banner".into(),
        browser_id: Some(BID.into()),
        channel: Some("WEB".into()),
        currency: Some("EUR".into()),
        language: Some("EN".into()),
        ..DecisionRequest::default()
    };
    assert_body(b8.to_body(&classic()), &captured(f, "B8 "), "B8");
    // TV-B7's page view (legacy id, pos1, "Home Page", no language).
    let b7 = PageView {
        common: EventCommon { browser_id: "legacy-bid-value".into(), page: Some("Home Page".into()), ..c("", None) },
        url: Some("/".into()),
        ..PageView::default()
    };
    let b7_body = std::fs::read_to_string(format!("{HARNESS}/engage_browser2.requests.jsonl")).unwrap();
    let b7_body: Value = serde_json::from_str(b7_body.lines().find(|l| l.contains("\"POST\"")).unwrap()).unwrap();
    check_event(Event::View(b7), &BodyContext::classic(CK, "pos1"), b7_body["body"].as_str().unwrap(), "B7 view");
}

fn edge_expect(prefix: &str) -> (String, Option<String>) {
    let body = captured("cloudsdk_server.requests.jsonl", prefix);
    let v: Value = serde_json::from_str(&body).unwrap();
    (body, v.get("requested_at").and_then(Value::as_str).map(str::to_string))
}

#[test]
fn tv_c2_c3_c4_edge_events() {
    let web_eur = |page: Option<&str>, lang: Option<&str>| EventCommon {
        browser_id: BID.into(),
        channel: Some("WEB".into()),
        currency: Some("EUR".into()),
        language: lang.map(str::to_string),
        page: page.map(str::to_string),
        point_of_sale: None,
    };
    // C2: `sc_search` (Sitecore Search data) is not modelled; compare without it.
    let (body, ts) = edge_expect("C2 ");
    let mut v: Map<String, Value> = serde_json::from_str(&body).unwrap();
    assert!(v.shift_remove("sc_search").is_some());
    let expected = serde_json::to_string(&v).unwrap();
    let pv = PageView {
        common: web_eur(Some("bikes"), Some("EN")),
        url: Some("/shop/bikes?utm_source=google&utm_campaign=spring".into()),
        ext: Ext::from_value(json!({"a":{"b":1}})).unwrap(),
        ..PageView::default()
    };
    check_event(Event::View(pv), &BodyContext::edge(ts.as_deref()), &expected, "C2");

    let (body, ts) = edge_expect("C3 ");
    let id = Identity {
        common: web_eur(None, None),
        email: Some("jane@example.com".into()),
        identifiers: vec![Identifier { provider: "email".into(), id: "jane@example.com".into(), expiry_date: None }],
        ..Identity::default()
    };
    check_event(Event::Identity(id), &BodyContext::edge(ts.as_deref()), &body, "C3");

    let (body, ts) = edge_expect("C4 ");
    let mut data = Map::new();
    data.insert("product".into(), json!({"item_id":"SKU-1"}));
    let add = CustomEvent { common: web_eur(None, None), event_type: "ADD".into(), data, ext: Ext::from_value(json!({"color":"red"})).unwrap() };
    // Edge ignores client key and pos from settings.
    let ctx = BodyContext { client_key: "ignored", point_of_sale: "ignored", wire: Wire::Edge, requested_at: ts.as_deref(), defaults: Default::default() };
    check_event(Event::Custom(add), &ctx, &body, "C4");
}

#[test]
fn edge_requested_at_defaults_to_now() {
    let ev = Event::Custom(CustomEvent { event_type: "X".into(), ..CustomEvent::default() });
    let v: Value = serde_json::from_slice(&ev.to_body(&BodyContext::edge(None))).unwrap();
    let ts = v["requested_at"].as_str().unwrap();
    assert_eq!((ts.len(), &ts[10..11], &ts[23..]), (24, "T", "Z"));
}

#[test]
fn tv_c5_c6_edge_personalize() {
    let page = "/shop/bikes?utm_source=google&utm_campaign=spring";
    let gref = "f7aabbca-1c1b-4fc2-be72-3e16294a4f03";
    let mut c5 = DecisionRequest {
        friendly_id: "home_page_banner".into(),
        browser_id: Some(BID.into()),
        channel: Some("WEB".into()),
        currency: Some("EUR".into()),
        language: Some("EN".into()),
        guest_ref: Some(gref.into()),
        page_variant_ids: vec!["pv1".into(), "pv2".into()],
        ..DecisionRequest::default()
    };
    c5.params.insert("x".into(), json!({"y":1}));
    c5.params.insert("geo".into(), json!({"city":"Dublin","country":"IE","region":"L"}));
    assert!(c5.edge_utm_params(page));
    assert!(!c5.edge_utm_params(page), "an existing params.utm is kept");
    let edge = BodyContext::edge(None);
    c5.validate_with(&edge).unwrap();
    assert_body(c5.to_body(&edge), &captured("cloudsdk_server.requests.jsonl", "C5 "), "C5");

    let mut c6 = DecisionRequest {
        friendly_id: "f2".into(),
        browser_id: Some(BID.into()),
        email: Some("jane@example.com".into()),
        channel: Some("WEB".into()),
        guest_ref: Some(gref.into()),
        ..DecisionRequest::default()
    };
    assert!(c6.edge_utm_params(page));
    c6.validate_with(&edge).unwrap();
    assert_body(c6.to_body(&edge), &captured("cloudsdk_server.requests.jsonl", "C6 "), "C6");
    assert!(!DecisionRequest::default().edge_utm_params("/no-utm?a=1"));
}

// ---- §8.3 error vectors that apply server-side ----

fn minimal_identity() -> Identity {
    Identity { identifiers: vec![Identifier { provider: "email".into(), id: "a@b.co".into(), expiry_date: None }], ..Identity::default() }
}

fn kind_of(ev: Event) -> ErrorKind {
    ev.validate().unwrap_err().kind
}

#[test]
fn error_vectors_identity() {
    // E1 / CE1: identifiers [] -> MV-0004 / MV-0003.
    let e = Event::Identity(Identity::default()).validate().unwrap_err();
    assert_eq!(e.kind, ErrorKind::MissingIdentifiers);
    assert_eq!(e.kind.sdk_code(), Some("MV-0004"));
    // E2: dob not exactly YYYY-MM-DDTHH:MM.
    assert_eq!(kind_of(Event::Identity(Identity { dob: Some("1990-01-31".into()), ..minimal_identity() })), ErrorKind::InvalidDate);
    assert_eq!(kind_of(Event::Identity(Identity { dob: Some("1990-02-30T00:00".into()), ..minimal_identity() })), ErrorKind::InvalidDate);
    // E3: expiryDate with seconds and zone.
    let mut i = minimal_identity();
    i.identifiers[0].expiry_date = Some("2030-12-31T23:59:00Z".into());
    assert_eq!(kind_of(Event::Identity(i)), ErrorKind::InvalidDate);
    // E4: email.
    assert_eq!(kind_of(Event::Identity(Identity { email: Some("foo@bar".into()), ..minimal_identity() })), ErrorKind::InvalidEmail);
    Event::Identity(Identity { email: Some("a@b..c".into()), dob: Some("2024-02-29T12:30".into()), ..minimal_identity() }).validate().unwrap();
    // Server-side extra: blank identifier parts.
    let mut i = minimal_identity();
    i.identifiers[0].id = " ".into();
    assert_eq!(kind_of(Event::Identity(i)), ErrorKind::InvalidField);
}

fn ext_with(n: usize) -> Map<String, Value> {
    (0..n).map(|i| (format!("k{i}"), json!(i))).collect()
}

#[test]
fn error_vectors_ext_limit() {
    // E5 / CE6: 51 flattened attributes are rejected, 50 accepted (E5b).
    let e = Ext::from_value(Value::Object(ext_with(51))).unwrap_err();
    assert_eq!((e.kind, e.kind.sdk_code()), (ErrorKind::TooManyExtAttributes, Some("IV-0005")));
    let fifty = Ext::from_value(Value::Object(ext_with(50))).unwrap();
    // Flattened count: 25 objects of 2 leaves = 50 ok, one more leaf is 51.
    let mut nested: Map<String, Value> = (0..25).map(|i| (format!("o{i}"), json!({"a":1,"b":2}))).collect();
    assert_eq!(Ext::from_value(Value::Object(nested.clone())).unwrap().len(), 50);
    nested.insert("o0".into(), json!({"a":1,"b":2,"c":3}));
    assert_eq!(Ext::from_value(Value::Object(nested)).unwrap_err().kind, ErrorKind::TooManyExtAttributes);
    // VIEW quirk: 50 custom keys + pageVariantId = 51 keys, accepted, pageVariantId first.
    let pv = PageView { common: EventCommon { browser_id: BID.into(), ..EventCommon::default() }, page_variant_id: Some("pv".into()), ext: fifty, ..PageView::default() };
    let ev = Event::View(pv);
    ev.validate_with(&classic()).unwrap();
    let body: Value = serde_json::from_slice(&ev.to_body(&classic())).unwrap();
    let ext = body["ext"].as_object().unwrap();
    assert_eq!(ext.len(), 51);
    assert_eq!(ext.keys().next().unwrap(), "pageVariantId");
}

#[test]
fn error_vectors_call_flows() {
    // E6 / CE2: blank friendlyId.
    for f in ["", " ", "\t"] {
        let e = DecisionRequest { friendly_id: f.into(), ..DecisionRequest::default() }.validate().unwrap_err();
        assert_eq!((e.kind, e.kind.sdk_code()), (ErrorKind::MissingFriendlyId, Some("MV-0008")));
    }
    let d = DecisionRequest { friendly_id: "x".into(), email: Some("not-an-email".into()), ..DecisionRequest::default() };
    assert_eq!(d.validate().unwrap_err().kind, ErrorKind::InvalidEmail);
    // A blank email is dropped rather than rejected, as Engage does.
    DecisionRequest { friendly_id: "x".into(), email: Some("  ".into()), ..DecisionRequest::default() }.validate().unwrap();
    let d = DecisionRequest { friendly_id: "x".into(), browser_id: Some("a\r\nb".into()), ..DecisionRequest::default() };
    assert_eq!(d.validate().unwrap_err().kind, ErrorKind::InvalidBrowserId);
}

#[test]
fn error_vectors_point_of_sale_and_settings() {
    let ev = Event::Custom(CustomEvent { event_type: "X".into(), ..CustomEvent::default() });
    // E8: no pos on the event or in settings.
    let e = ev.validate_with(&BodyContext::classic(CK, "")).unwrap_err();
    assert_eq!((e.kind, e.kind.sdk_code()), (ErrorKind::MissingPointOfSale, Some("MV-0003")));
    // ...but a per-event pos is enough, and Edge needs none.
    let mut with_pos = ev.clone();
    with_pos.common_mut().point_of_sale = Some("p".into());
    with_pos.validate_with(&BodyContext::classic(CK, "")).unwrap();
    ev.validate_with(&BodyContext::edge(None)).unwrap();
    // E9: blank pos in settings or on the event.
    assert_eq!(BodyContext::classic(CK, "  ").validate().unwrap_err().kind, ErrorKind::MissingPointOfSale);
    let mut blank = ev.clone();
    blank.common_mut().point_of_sale = Some(" ".into());
    assert_eq!(blank.validate().unwrap_err().kind, ErrorKind::MissingPointOfSale);
    // E10: no client key.
    assert!(BodyContext::classic("", POS).validate().is_err());
    BodyContext::classic(CK, POS).validate().unwrap();
    BodyContext::edge(None).validate().unwrap();
    // An empty per-event pos falls back to settings, as Engage's `||` does.
    let mut empty = ev.clone();
    empty.common_mut().point_of_sale = Some(String::new());
    let body: Value = serde_json::from_slice(&empty.to_body(&classic())).unwrap();
    assert_eq!(body["pos"], POS);
}

#[test]
fn custom_event_rules() {
    let mk = |t: &str| Event::Custom(CustomEvent { event_type: t.into(), ..CustomEvent::default() });
    for ok in ["ADD", "FORCE_CLOSE", "my-event.v2", "FORM"] {
        mk(ok).validate().unwrap();
    }
    for bad in ["", "VIEW", "IDENTITY", "A B", "x\n", "é", &"A".repeat(101)] {
        assert_eq!(kind_of(mk(bad)), ErrorKind::InvalidEventType, "{bad:?}");
    }
    // Data keys that the body writes itself are rejected (Engage would silently override them)...
    for k in ["type", "ext", "browser_id", "channel", "client_key", "currency", "language", "page", "pos", "pointOfSale", "requested_at"] {
        let mut data = Map::new();
        data.insert(k.into(), json!("x"));
        let ev = Event::Custom(CustomEvent { event_type: "ADD".into(), data, ..CustomEvent::default() });
        assert_eq!(kind_of(ev.clone()), ErrorKind::InvalidField, "{k}");
        // ...and never reach the body if validation was skipped.
        let body: Value = serde_json::from_slice(&ev.to_body(&classic())).unwrap();
        assert_ne!(body.get(k), Some(&json!("x")), "{k}");
        assert_eq!(body["type"], "ADD");
    }
    // Hostile browser ids never validate.
    for bid in ["a\r\nb", "../x", "a;b", "\"q\""] {
        let ev = Event::Custom(CustomEvent { common: EventCommon { browser_id: bid.into(), ..EventCommon::default() }, event_type: "X".into(), ..CustomEvent::default() });
        assert_eq!(kind_of(ev), ErrorKind::InvalidBrowserId);
    }
    // Over-long strings.
    let ev = Event::Custom(CustomEvent { common: EventCommon { channel: Some("W".repeat(300)), ..EventCommon::default() }, event_type: "X".into(), ..CustomEvent::default() });
    assert_eq!(kind_of(ev), ErrorKind::TooLarge);
}

#[test]
fn page_view_rules() {
    let base = || PageView { common: EventCommon { browser_id: BID.into(), ..EventCommon::default() }, ..PageView::default() };
    assert!(PageView::default().include_utm);
    let body = |pv: PageView| -> Value { serde_json::from_slice(&Event::View(pv).to_body(&classic())).unwrap() };
    // Precedence: explicit > URL variantid > ext.pageVariantId.
    let ext = Ext::from_value(json!({"a":1,"pageVariantId":"from-ext"})).unwrap();
    let b = body(PageView { url: Some("/?variantid=from-url".into()), page_variant_id: Some("explicit".into()), ext: ext.clone(), ..base() });
    assert_eq!(b["ext"], json!({"pageVariantId":"explicit","a":1}));
    let b = body(PageView { url: Some("/?VariantId=no&variantid=from-url&variantid=second".into()), ext: ext.clone(), ..base() });
    assert_eq!(serde_json::to_string(&b["ext"]).unwrap(), r#"{"pageVariantId":"from-url","a":1}"#);
    let b = body(PageView { url: Some("/".into()), ext, ..base() });
    assert_eq!(serde_json::to_string(&b["ext"]).unwrap(), r#"{"pageVariantId":"from-ext","a":1}"#);
    // UTM: lower-cased keys, `+` and escapes decoded, absolute URL and fragment handled, opt-out honoured.
    let b = body(PageView { url: Some("https://shop.example.com/p?UTM_Term=red+bike%21&utm_x=a%26b&other=1#utm_no=1".into()), ..base() });
    assert_eq!(b["utm_term"], "red bike!");
    assert_eq!(b["utm_x"], "a&b");
    assert!(b.get("utm_no").is_none() && b.get("other").is_none());
    let b = body(PageView { url: Some("/?utm_source=x".into()), include_utm: false, ..base() });
    assert!(b.get("utm_source").is_none());
    // No ext at all when there is nothing to send; page defaults to "".
    let b = body(base());
    assert!(b.get("ext").is_none());
    assert_eq!(b["page"], "");
}

#[test]
fn cache_key_is_stable_and_distinguishes() {
    let a = DecisionRequest { friendly_id: "f".into(), browser_id: Some(BID.into()), ..DecisionRequest::default() };
    assert_eq!(a.cache_key(), a.clone().cache_key());
    let mut b = a.clone();
    b.params.insert("k".into(), json!(1));
    assert_ne!(a.cache_key(), b.cache_key());
    let c = DecisionRequest { friendly_id: "g".into(), ..a.clone() };
    assert_ne!(a.cache_key(), c.cache_key());
    // The visitor is who the body identifies: with an email, the browser id no longer matters.
    let e1 = DecisionRequest { email: Some("a@b.co".into()), ..a.clone() };
    let e2 = DecisionRequest { email: Some("a@b.co".into()), browser_id: Some("other".into()), ..a.clone() };
    assert_eq!(e1.cache_key(), e2.cache_key());
    let e3 = DecisionRequest { identifier: Some(("CRM".into(), "1".into())), ..e1.clone() };
    assert_ne!(e1.cache_key(), e3.cache_key());
    let i1 = DecisionRequest { identifier: Some(("CRM".into(), "1".into())), ..a.clone() };
    assert_ne!(i1.cache_key(), e3.cache_key());
    // No ambiguity from separators inside values.
    let x = DecisionRequest { friendly_id: "a\",\"b".into(), ..DecisionRequest::default() };
    let y = DecisionRequest { friendly_id: "a".into(), channel: Some("b".into()), ..DecisionRequest::default() };
    assert_ne!(x.cache_key(), y.cache_key());
}

// ---- randomized robustness (fixed-seed xorshift, no extra dependencies) ----

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn string(&mut self) -> String {
        const PIECES: &[&str] = &["a", "Z9", "-", ".", "..", "_", " ", "\r\n", "\"", "'", "/", ";", ",", "=", "%", "%2", "%26", "+", "?", "&", "#", "é", "\u{0}", "\u{2028}", "utm_", "UTM_x", "variantid", "@", "x.y"];
        (0..self.below(6)).map(|_| PIECES[self.below(PIECES.len())]).collect()
    }
    fn opt(&mut self) -> Option<String> {
        if self.below(3) == 0 {
            None
        } else {
            Some(self.string())
        }
    }
}

#[test]
fn random_events_always_serialize() {
    let mut r = XorShift(0xD1B5_4A32_D192_ED03);
    let ctxs = [classic(), BodyContext::edge(Some("2026-01-01T00:00:00.000Z")), BodyContext::classic(CK, "")];
    for n in 0..3000 {
        let common = EventCommon { browser_id: r.string(), channel: r.opt(), currency: r.opt(), language: r.opt(), page: r.opt(), point_of_sale: r.opt() };
        let ev = match n % 3 {
            0 => Event::View(PageView {
                common,
                url: r.opt().map(|q| format!("/p?{q}")),
                include_utm: r.below(2) == 0,
                referrer: r.opt(),
                page_variant_id: r.opt(),
                ext: Ext::from_value(json!({ r.string(): r.string(), "pageVariantId": r.string() })).unwrap(),
            }),
            1 => Event::Identity(Identity {
                common,
                email: r.opt(),
                dob: r.opt(),
                street: (0..r.below(3)).map(|_| r.string()).collect(),
                identifiers: (0..r.below(3)).map(|_| Identifier { provider: r.string(), id: r.string(), expiry_date: r.opt() }).collect(),
                ..Identity::default()
            }),
            _ => {
                let mut data = Map::new();
                for _ in 0..r.below(3) {
                    let k = if r.below(3) == 0 { RESERVED[r.below(RESERVED.len())].to_string() } else { r.string() };
                    data.insert(k, json!(r.string()));
                }
                Event::Custom(CustomEvent { common, event_type: r.string(), data, ext: Ext::default() })
            }
        };
        let valid = ev.validate().is_ok();
        if let Some(packed) = packed_twin(&ev) {
            // Same verdict, same message, same bytes on every wire.
            match (packed, ev.validate()) {
                (Ok(p), Ok(())) => {
                    for ctx in &ctxs {
                        assert_eq!(p.validate_with(ctx), ev.validate_with(ctx));
                        assert_eq!(String::from_utf8(p.to_body(ctx)).unwrap(), String::from_utf8(ev.to_body(ctx)).unwrap());
                    }
                }
                (Err(a), Err(b)) => assert_eq!(a, b),
                (p, o) => panic!("packed {p:?} vs owned {o:?}"),
            }
        }
        if valid && !ev.browser_id().is_empty() {
            xmcdp::cookie::validate_browser_id(ev.browser_id()).unwrap();
        }
        for ctx in &ctxs {
            let body = ev.to_body(ctx);
            let v: Value = serde_json::from_slice(&body).expect("always valid JSON");
            let m = v.as_object().unwrap();
            assert_eq!(m["type"], json!(ev.event_type()));
            assert_eq!(m["browser_id"], json!(ev.browser_id()));
            assert_eq!(m.contains_key("requested_at"), ctx.wire == Wire::Edge);
            if let Some(ext) = m.get("ext") {
                // Only pageVariantId may push a VIEW past 50.
                assert!(ext.as_object().unwrap().len() <= 51);
            }
        }
        assert!(ev.approx_bytes() >= std::mem::size_of::<Event>());
    }
}

const RESERVED: &[&str] = &["type", "ext", "browser_id", "client_key", "pos", "requested_at"];

#[test]
fn random_decisions_always_serialize() {
    let mut r = XorShift(0x2545_F491_4F6C_DD1D);
    for _ in 0..2000 {
        let mut d = DecisionRequest {
            friendly_id: r.string(),
            browser_id: r.opt(),
            email: r.opt(),
            identifier: if r.below(2) == 0 { Some((r.string(), r.string())) } else { None },
            channel: r.opt(),
            currency: r.opt(),
            language: r.opt(),
            point_of_sale: r.opt(),
            guest_ref: r.opt(),
            page_variant_ids: (0..r.below(3)).map(|_| r.string()).collect(),
            ..DecisionRequest::default()
        };
        d.params.insert(r.string(), json!({ r.string(): { r.string(): 1 } }));
        let _ = d.validate();
        for ctx in [classic(), BodyContext::edge(None)] {
            let v: Value = serde_json::from_slice(&d.to_body(&ctx)).unwrap();
            let m = v.as_object().unwrap();
            // Exactly one way of naming the visitor: email, identifiers, or browserId.
            let ways = ["email", "identifiers", "browserId"].iter().filter(|k| m.contains_key(**k)).count();
            assert!(ways == 1 || (m.contains_key("email") && m.contains_key("identifiers")), "{v}");
            if ctx.wire == Wire::Classic {
                if let Some(p) = m.get("params") {
                    assert!(p.as_object().unwrap().values().all(|x| !x.is_object()), "classic params are flat");
                }
            }
        }
    }
}
