//! Guest REST v2.1 against the emulator: find, get, data extensions CRUD, local limit checks, HTTPS policy,
//! error mapping, and that the API token never appears in an error message or a log record.

mod common;

use common::{admin, wait_for};
use serde_json::{json, Map, Value};
use std::time::Duration;
use xmcdp::guests::{guest_refs, WriteMode};
use xmcdp::model::{Event, EventCommon, Identifier, Identity};
use xmcdp::{Client, ErrorKind};
use xmcdp_emulator::{spawn, EmulatorConfig, EmulatorHandle};

fn emulator() -> EmulatorHandle {
    spawn(EmulatorConfig::default()).expect("emulator starts")
}

fn client(emu: &EmulatorHandle, token: &str) -> Client {
    Client::from_json(
        &json!({"clientKey": "ck_test", "targetUrl": emu.base_url(), "pointOfSale": "myretailsite/ireland", "apiToken": token}).to_string(),
    )
    .unwrap()
}

fn guest_requests(emu: &EmulatorHandle) -> Vec<Value> {
    admin(&emu.base_url()).requests().unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["route"] == "guests")
        .cloned()
        .collect()
}

fn new_guest(c: &Client) -> String {
    c.browser_ids().ensure_browser_id("").unwrap().guest_ref.unwrap()
}

#[test]
fn extension_crud_round_trip() {
    let emu = emulator();
    let c = client(&emu, "tok_test");
    let g = new_guest(&c);
    let api = c.guests();
    let created = api.create_extension(&g, "ext", &json!({"vipMember": true, "loyaltyTier": "gold", "points": 3, "ratio": 0.5})).unwrap();
    assert_eq!(created["name"], "ext");
    assert_eq!(created["loyaltyTier"], "gold");
    let rec = &guest_requests(&emu)[0];
    assert_eq!((rec["method"].as_str(), rec["path"].as_str()), (Some("POST"), Some(format!("/v2.1/guests/{g}/extensions").as_str())));
    assert_eq!(rec["headers"]["authorization"], "Basic Y2tfdGVzdDp0b2tfdGVzdA==");
    assert_eq!(rec["headers"]["content-type"], "application/json");
    assert_eq!(rec["headers"]["accept"], "application/json");
    assert!(rec["body"].as_str().unwrap().starts_with(r#"{"name":"ext","#));

    assert_eq!(api.get_extension(&g, "ext").unwrap()["points"], 3);
    let list = api.list_extensions(&g, true).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let patched = api.patch_extension(&g, "ext", &json!({"points": 4})).unwrap();
    assert_eq!((patched["points"].as_i64(), patched["loyaltyTier"].as_str()), (Some(4), Some("gold")));
    let put = api.put_extension(&g, "ext", &json!({"loyaltyTier": "silver", "points": 1})).unwrap();
    assert_eq!(put["loyaltyTier"], "silver");
    assert!(put.get("vipMember").is_none(), "PUT replaces all key/values: {put}");
    let left = api.delete_extension_fields(&g, "ext", &["points"]).unwrap();
    assert!(left.get("points").is_none() && left["loyaltyTier"] == "silver", "{left}");
    let rec = guest_requests(&emu).last().unwrap().clone();
    assert_eq!(rec["query"], "name=points");
    let guest = api.get(&g, true).unwrap();
    assert_eq!(guest["ref"], g.as_str());
    api.delete_extension(&g, "ext").unwrap();
    assert_eq!(api.get_extension(&g, "ext").unwrap_err().kind, ErrorKind::NotFound);
    // Checked writes read the extensions first.
    api.write_extension_checked(&g, "ext1", &json!({"color": "red"}), WriteMode::Create).unwrap();
    api.write_extension_checked(&g, "ext1", &json!({"size": 42}), WriteMode::Patch).unwrap();
    assert_eq!(api.get_extension(&g, "ext1").unwrap()["size"], 42);
}

#[test]
fn find_guests_by_identifier_and_email() {
    let emu = emulator();
    let c = client(&emu, "tok_test");
    let b = c.browser_ids().ensure_browser_id("").unwrap();
    let g = b.guest_ref.clone().unwrap();
    c.send(
        Event::Identity(Identity {
            common: EventCommon { browser_id: b.browser_id.clone(), currency: Some("EUR".into()), ..Default::default() },
            email: Some("find.me@example.com".into()),
            identifiers: vec![Identifier { provider: "CRM".into(), id: "C-42".into(), expiry_date: None }],
            ..Default::default()
        }),
        None,
    )
    .unwrap();
    let api = c.guests();
    let found = wait_for(Duration::from_secs(5), || {
        let v = api.find_by_identifier("CRM", "C-42").unwrap();
        (!guest_refs(&v).is_empty()).then_some(v)
    })
    .expect("identity processed");
    assert_eq!(guest_refs(&found), vec![g.clone()]);
    let rec = guest_requests(&emu).last().unwrap().clone();
    assert_eq!(rec["query"], "identifiers.provider=CRM&identifiers.id=C-42");
    assert_eq!(guest_refs(&api.find_by_email("find.me@example.com").unwrap()), vec![g.clone()]);
    assert!(guest_refs(&api.find_by_email("nobody@example.com").unwrap()).is_empty());
    assert_eq!(api.find_by_identifier("", "x").unwrap_err().kind, ErrorKind::InvalidArgument);
}

#[test]
fn documented_limits_are_checked_before_any_request() {
    let emu = emulator();
    let c = client(&emu, "tok_test");
    let g = new_guest(&c);
    let api = c.guests();
    let mut many = Map::new();
    for i in 0..101 {
        many.insert(format!("k{i}"), json!(i));
    }
    let cases: Vec<(&str, &str, Value, ErrorKind)> = vec![
        (g.as_str(), "ext6", json!({"a": 1}), ErrorKind::InvalidExt),
        (g.as_str(), "Ext", json!({"a": 1}), ErrorKind::InvalidExt),
        (g.as_str(), "ext", Value::Object(many), ErrorKind::TooManyExtAttributes),
        (g.as_str(), "ext", json!({"nested": {"a": 1}}), ErrorKind::InvalidExt),
        (g.as_str(), "ext", json!({"list": [1, 2]}), ErrorKind::InvalidExt),
        (g.as_str(), "ext", json!({"nothing": null}), ErrorKind::InvalidExt),
        (g.as_str(), "ext", json!({"bad-key": 1}), ErrorKind::InvalidExt),
        (g.as_str(), "ext", json!({"bad key": 1}), ErrorKind::InvalidExt),
        (g.as_str(), "ext", json!({"key": "custom"}), ErrorKind::InvalidExt),
        (g.as_str(), "ext", json!("not an object"), ErrorKind::InvalidExt),
        ("../../v2.1/guests", "ext", json!({"a": 1}), ErrorKind::InvalidArgument),
        ("a/b", "ext", json!({"a": 1}), ErrorKind::InvalidArgument),
    ];
    for (gref, name, data, kind) in &cases {
        assert_eq!(api.create_extension(gref, name, data).unwrap_err().kind, *kind, "create {name} {data}");
        assert_eq!(api.put_extension(gref, name, data).unwrap_err().kind, *kind, "put {name} {data}");
        assert_eq!(api.patch_extension(gref, name, data).unwrap_err().kind, *kind, "patch {name} {data}");
    }
    assert_eq!(api.delete_extension_fields(&g, "ext", &["a|b"]).unwrap_err().kind, ErrorKind::InvalidExt);
    assert_eq!(api.get(&"x".repeat(300), false).unwrap_err().kind, ErrorKind::InvalidArgument);
    assert!(guest_requests(&emu).is_empty(), "nothing reached the server");

    // Uniqueness across extensions: known after reading them (checked write), enforced by the server otherwise.
    api.create_extension(&g, "ext", &json!({"tier": "gold"})).unwrap();
    let e = api.write_extension_checked(&g, "ext2", &json!({"tier": "x"}), WriteMode::Create).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidExt, "{}", e.message);
    assert!(e.message.contains("unique"), "{}", e.message);
    let e = api.create_extension(&g, "ext2", &json!({"tier": "x"})).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "server 400 with its message: {}", e.message);
    assert!(e.message.contains("400"), "{}", e.message);
}

#[test]
fn https_is_required_except_to_loopback() {
    let remote_http =
        Client::from_json(r#"{"clientKey":"ck_test","targetUrl":"http://cdp.example.com","pointOfSale":"p","allowInsecureHttp":true,"apiToken":"tok_secret_1"}"#)
            .unwrap();
    let e = remote_http.guests().get("abc", false).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ConfigInvalidUrl);
    assert!(e.message.contains("https://") && !e.message.contains("tok_secret_1"), "{}", e.message);
    let no_token = Client::from_json(r#"{"clientKey":"ck_test","targetUrl":"http://127.0.0.1:9","pointOfSale":"p"}"#).unwrap();
    assert_eq!(no_token.guests().get("abc", false).unwrap_err().kind, ErrorKind::ConfigMissing);
    let edge = Client::from_json(r#"{"clientKey":"ck","edgeUrl":"https://e.io","contextId":"c","siteName":"s","apiToken":"t"}"#).unwrap();
    assert_eq!(edge.guests().get("abc", false).unwrap_err().kind, ErrorKind::ConfigMissing);
    // guestApiUrl must be https (or loopback) even with allowInsecureHttp.
    let e = Client::from_json(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","guestApiUrl":"http://g.example.com"}"#).err().unwrap();
    assert_eq!(e.kind, ErrorKind::ConfigInvalidUrl);
}

#[test]
fn every_error_path_keeps_the_token_out_of_messages_and_logs() {
    const TOKEN: &str = "tok_SECRET_never_shown_123";
    const CREDS_B64: &str = "Y2tfdGVzdDp0b2tfU0VDUkVUX25ldmVyX3Nob3duXzEyMw=="; // ck_test:TOKEN
    let emu = emulator();
    let wrong = client(&emu, TOKEN);
    let good = client(&emu, "tok_test");
    let g = new_guest(&good);
    let mut errors = Vec::new();
    let mut expect = |r: Result<Value, xmcdp::Error>, kind: ErrorKind| {
        let e = r.unwrap_err();
        assert_eq!(e.kind, kind, "{}", e.message);
        errors.push(e.message);
    };
    // 401: wrong token.
    expect(wrong.guests().get(&g, true), ErrorKind::Unauthorized);
    expect(wrong.guests().create_extension(&g, "ext", &json!({"a": 1})), ErrorKind::Unauthorized);
    // The same client's other paths, with a tenant that knows the token.
    let cfg = {
        let mut c = EmulatorConfig::default();
        c.tenants[0].api_token = TOKEN.to_string();
        c
    };
    let emu2 = spawn(cfg).unwrap();
    let c = client(&emu2, TOKEN);
    let g2 = new_guest(&c);
    let api = c.guests();
    // 404s.
    expect(api.get("00000000-0000-0000-0000-000000000000", false), ErrorKind::NotFound);
    expect(api.get_extension(&g2, "ext3"), ErrorKind::NotFound);
    // 400 from the server (key already used by another extension).
    api.create_extension(&g2, "ext", &json!({"tier": "gold"})).unwrap();
    expect(api.create_extension(&g2, "ext1", &json!({"tier": "x"})), ErrorKind::InvalidArgument);
    // Local validation.
    expect(api.create_extension(&g2, "ext9", &json!({"a": 1})), ErrorKind::InvalidExt);
    // 5xx and 429.
    let put_faults = |f: Value| admin(&emu2.base_url()).set_faults(&f).expect("faults");
    put_faults(json!({"routes": {"guests": {"error_rate": 1.0, "error_status": 500}}}));
    expect(api.get(&g2, false), ErrorKind::ServerError);
    put_faults(json!({"routes": {"guests": {"throttle_rate": 1.0}}}));
    expect(api.get(&g2, false), ErrorKind::ServerError);
    // Timeout.
    put_faults(json!({"routes": {"guests": {"latency_ms": 500}}}));
    expect(c.guests().with_timeout(Duration::from_millis(50)).get(&g2, false), ErrorKind::Timeout);
    // Connection reset.
    put_faults(json!({"outage": true}));
    let e = api.get(&g2, false).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Http | ErrorKind::ConnectFailed), "{e:?}");
    errors.push(e.message);
    // Nothing listening.
    let gone = emu2.base_url();
    drop(emu2);
    let dead = Client::from_json(&json!({"clientKey": "ck_test", "targetUrl": gone, "pointOfSale": "p", "apiToken": TOKEN}).to_string()).unwrap();
    let e = dead.guests().get(&g2, false).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::ConnectFailed | ErrorKind::Http | ErrorKind::Timeout), "{e:?}");
    errors.push(e.message);

    for m in &errors {
        assert!(!m.contains(TOKEN) && !m.contains(CREDS_B64) && !m.contains("SECRET"), "token leaked: {m}");
    }
    // Log records (process-wide ring; this test binary's other tests never log the token either).
    let mut logged = Vec::new();
    while let Some(r) = xmcdp::log::next(Duration::from_millis(1)) {
        logged.push(r.message);
    }
    assert!(logged.iter().any(|m| m.contains("Guest REST API refused the credentials")), "{logged:?}");
    for m in &logged {
        assert!(!m.contains(TOKEN) && !m.contains(CREDS_B64) && !m.contains("SECRET"), "token leaked in a log record: {m}");
    }
    // And the Debug of a settings-built client never shows it either.
    assert!(!format!("{:?}", c.settings()).contains("SECRET"));
}
