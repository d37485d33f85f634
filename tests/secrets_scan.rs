//! Secrets and personal data never reach a log line or an error: drive every public path (events including
//! IDENTITY with e-mail / name / phone, decisions, browser ids, the Guest REST API with its failures 400 /
//! 401 / 404 / 500, configuration errors) with a distinctive API token and distinctive personal data, through
//! the Rust API and the C ABI, then scan every log record, every error message (`Display` and `Debug`),
//! `Debug` of the settings, the stats JSON and every `xmcdp_last_error` string.

mod common;

use common::admin;
use serde_json::{json, Value};
use std::time::Duration;
use xmcdp::ffi::xmcdp_status_t::*;
use xmcdp::ffi::*;
use xmcdp::guests::WriteMode;
use xmcdp::model::*;
use xmcdp::{Client, Error};
use xmcdp_emulator::{spawn, EmulatorConfig, EmulatorHandle};

const CK: &str = "ck_canary";
const TOKEN: &str = "tok-SECRET-canary-5d1e7Q";
const WRONG_TOKEN: &str = "tok-SECRET-canary-WRONG-88aZ";
const EMAIL: &str = "jane.canary.4821@example.com";
const BAD_EMAIL: &str = "jane.canary.4821@example";
const FIRST: &str = "Zorblattine";
const LAST: &str = "Quimbleton";
const PHONE: &str = "+353-555-019977";
const CRM_ID: &str = "CRM-canary-99173";
const EVIL_COOKIE: &str = "evilcookie-canary-31337/../x\r\nSet-Cookie: a=b";

/// Everything collected for the scan, with where it came from.
#[derive(Default)]
struct Haystack(Vec<(String, String)>);

impl Haystack {
    fn add(&mut self, what: impl Into<String>, text: impl Into<String>) {
        self.0.push((what.into(), text.into()));
    }
    fn err(&mut self, what: &str, e: &Error) {
        self.add(format!("{what} (Display)"), e.to_string());
        self.add(format!("{what} (Debug)"), format!("{e:?}"));
    }
    fn result<T>(&mut self, what: &str, r: Result<T, Error>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(what, &e);
                None
            }
        }
    }
    fn drain_logs(&mut self) {
        while let Some(r) = xmcdp::log::next(Duration::from_millis(50)) {
            self.add(format!("log record ({:?})", r.level), r.message);
        }
    }
    fn last_error(&mut self, what: &str) {
        let mut buf = vec![0u8; 8192];
        let mut n = 0;
        assert_eq!(xmcdp_last_error(buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
        self.add(format!("last_error after {what}"), String::from_utf8_lossy(&buf[..n]).into_owned());
    }
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in input.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if c.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    out
}

fn emulator() -> EmulatorHandle {
    let cfg = json!({
        "includeDefaultTenant": true,
        "tenants": [{
            "clientKey": CK, "apiToken": TOKEN,
            "pointsOfSale": {"pos1": 20},
            "identityRules": ["email", "CRM"],
            "flows": [{"friendlyId": "banner", "template": {"variantId": "b-{{guest.guestType}}"}}]
        }]
    });
    spawn(EmulatorConfig::from_json(&cfg.to_string()).expect("emulator config")).expect("emulator starts")
}

fn settings(emu: &EmulatorHandle, token: &str) -> String {
    json!({"clientKey": CK, "targetUrl": emu.base_url(), "pointOfSale": "pos1", "apiToken": token, "workerThreads": 1, "retryMaxAttempts": 2,
           "retryBaseMs": 1})
    .to_string()
}

fn identity(bid: &str, email: &str) -> Event {
    Event::Identity(Identity {
        common: EventCommon { browser_id: bid.into(), ..Default::default() },
        email: Some(email.into()),
        first_name: Some(FIRST.into()),
        last_name: Some(LAST.into()),
        phone: Some(PHONE.into()),
        mobile: Some(PHONE.into()),
        street: vec![format!("1 {LAST} Street")],
        identifiers: vec![
            Identifier { provider: "email".into(), id: email.into(), expiry_date: None },
            Identifier { provider: "CRM".into(), id: CRM_ID.into(), expiry_date: None },
        ],
        ..Default::default()
    })
}

fn faults(emu: &EmulatorHandle, body: &Value) {
    admin(&emu.base_url()).set_faults(body).expect("faults");
}

fn cs(s: &str) -> xmcdp_str_t {
    xmcdp_str_t { ptr: s.as_ptr(), len: s.len() }
}

#[test]
fn no_token_or_personal_data_in_logs_errors_or_stats() {
    let emu = emulator();
    let mut hay = Haystack::default();
    let budget = Duration::from_secs(5);
    let c = Client::from_json(&settings(&emu, TOKEN)).unwrap();
    hay.add("Debug of Settings", format!("{:?}", c.settings()));

    // Browser ids, including a hostile cookie and an unknown id.
    let b = c.browser_ids().ensure_browser_id(&format!("bid_{CK}={EVIL_COOKIE}")).unwrap();
    let bid = b.browser_id.clone();
    let guest = b.guest_ref.clone().expect("guest ref");
    let _ = c.browser_ids().ensure_browser_id(&format!("BID_{CK}={EVIL_COOKIE}"));
    let unknown_bid = "0badc0de-canary-0000-0000-000000000001";
    hay.result("show.json of an unknown browser", c.browser_ids().guest_ref_for_browser(unknown_bid, budget));
    hay.result("show.json of a hostile id", c.browser_ids().guest_ref_for_browser(EVIL_COOKIE, budget));

    // Events: VIEW, IDENTITY (valid and invalid), custom, invalid fields.
    c.send(Event::View(PageView { common: EventCommon { browser_id: bid.clone(), ..Default::default() }, ..Default::default() }), Some("UA".into()))
        .unwrap();
    c.send(identity(&bid, EMAIL), None).unwrap();
    hay.result("identity with a bad email", c.send(identity(&bid, BAD_EMAIL), None));
    let mut bad_dob = identity(&bid, EMAIL);
    if let Event::Identity(i) = &mut bad_dob {
        i.dob = Some(format!("{PHONE}T00:00"));
    }
    hay.result("identity with a bad dob", c.send(bad_dob, None));
    let mut no_ids = identity(&bid, EMAIL);
    if let Event::Identity(i) = &mut no_ids {
        i.identifiers[0].provider = format!("{FIRST}\n");
    }
    hay.result("identity with a control character", c.send(no_ids, None));
    hay.result("event with a hostile browser id", c.send(identity(EVIL_COOKIE, EMAIL), None));
    let mut data = serde_json::Map::new();
    data.insert("type".into(), json!(EMAIL));
    hay.result(
        "custom event with a reserved key",
        c.send(
            Event::Custom(CustomEvent {
                common: EventCommon { browser_id: bid.clone(), ..Default::default() },
                event_type: "ADD".into(),
                data,
                ..Default::default()
            }),
            None,
        ),
    );
    hay.result("ext from bad JSON", Ext::from_json(format!("{{\"email\":\"{EMAIL}\"").as_bytes()).map_err(Error::from));

    // Decisions: by browser id, e-mail and identifier, an unknown flow, a bad e-mail, a server failure.
    let dec = |email: Option<&str>, ident: Option<(&str, &str)>, flow: &str| DecisionRequest {
        friendly_id: flow.into(),
        browser_id: Some(bid.clone()),
        email: email.map(str::to_owned),
        identifier: ident.map(|(p, i)| (p.to_owned(), i.to_owned())),
        ..Default::default()
    };
    hay.result("decide by browser", c.decisions().decide(&dec(None, None, "banner"), None, budget));
    hay.result("decide by email", c.decisions().decide(&dec(Some(EMAIL), None, "banner"), None, budget));
    hay.result("decide by identifier", c.decisions().decide(&dec(None, Some(("CRM", CRM_ID)), "banner"), None, budget));
    hay.result("decide unknown flow by email", c.decisions().decide(&dec(Some(EMAIL), None, "no_such_flow"), None, budget));
    hay.result("decide unknown flow by identifier", c.decisions().decide(&dec(None, Some(("CRM", CRM_ID)), "no_such_flow"), None, budget));
    hay.result("decide with a bad email", c.decisions().decide(&dec(Some(BAD_EMAIL), None, "banner"), None, budget));
    for status in [400, 401, 500] {
        faults(&emu, &json!({"routes": {"callflows": {"error_rate": 1.0, "error_status": status}}}));
        hay.result(&format!("decide answered {status}"), c.decisions().decide(&dec(Some(EMAIL), None, "banner"), None, budget));
        if let Some(t) = hay.result("begin decide", c.decisions().begin_decide(&dec(None, Some(("CRM", CRM_ID)), "banner"), None)) {
            hay.result(&format!("wait decide answered {status}"), c.decisions().wait_decision(t, budget));
        }
    }
    faults(&emu, &json!({}));

    // Guest REST: success, local validation, 404, then injected 400 / 401 / 500, then a wrong token (401).
    let g = c.guests();
    hay.result("find by email", g.find_by_email(EMAIL));
    hay.result("find by identifier", g.find_by_identifier("CRM", CRM_ID));
    hay.result("get", g.get(&guest, true));
    // A guest ref is CDP's id, not a cookie value: the server's 404 text may name it (not scanned for).
    let unknown_guest = "00000000-0000-4000-8000-00000000abcd";
    hay.result("get unknown guest", g.get(unknown_guest, false));
    hay.result("create extension", g.create_extension(&guest, "ext", &json!({"nickname": FIRST, "phone": PHONE})));
    hay.result("create extension with a bad key", g.create_extension(&guest, "ext", &json!({ EMAIL: 1 })));
    hay.result("write checked", g.write_extension_checked(&guest, "ext1", &json!({"nickname": LAST}), WriteMode::Create));
    hay.result("extension of unknown guest", g.get_extension(unknown_guest, "ext"));
    hay.result("bad extension name", g.get_extension(&guest, EMAIL));
    for status in [400, 401, 403, 404, 500] {
        faults(&emu, &json!({"routes": {"guests": {"error_rate": 1.0, "error_status": status}}}));
        hay.result(&format!("find by email answered {status}"), g.find_by_email(EMAIL));
        hay.result(&format!("find by identifier answered {status}"), g.find_by_identifier("CRM", CRM_ID));
        hay.result(&format!("patch answered {status}"), g.patch_extension(&guest, "ext", &json!({"nickname": FIRST})));
    }
    // The guest lifecycle: a registration and a profile update carrying PII, local refusals, injected failures.
    let person = json!({"guestType": "customer", "email": EMAIL, "firstName": FIRST, "lastName": LAST, "phoneNumbers": [PHONE],
        "identifiers": [{"provider": "CRM", "id": CRM_ID}]});
    for status in [400, 401, 403, 500] {
        faults(&emu, &json!({"routes": {"guests": {"error_rate": 1.0, "error_status": status}}}));
        hay.result(&format!("register answered {status}"), g.register(&person, &json!({"ext2": {"nickname": FIRST}})));
        hay.result(&format!("update answered {status}"), g.update_guest(&guest, &json!({"firstName": FIRST, "email": EMAIL})));
        hay.result(&format!("delete answered {status}"), g.delete_guest(unknown_guest));
    }
    faults(&emu, &json!({}));
    hay.result("register", g.register(&person, &json!({"ext3": {"nickname": LAST}})));
    hay.result("register with a misspelt attribute", g.register(&json!({"guestType": "customer", "firstname": FIRST}), &Value::Null));
    hay.result("register with a bad e-mail", g.register(&json!({"guestType": "customer", "email": format!("{FIRST} {LAST}")}), &Value::Null));
    hay.result("update unknown guest", g.update_guest(unknown_guest, &json!({"lastName": LAST})));
    faults(&emu, &json!({}));
    let wrong = Client::from_json(&settings(&emu, WRONG_TOKEN)).unwrap();
    hay.result("find with a wrong token", wrong.guests().find_by_email(EMAIL));
    hay.result("get with a wrong token", wrong.guests().get(&guest, true));
    hay.add("stats (wrong-token client)", wrong.stats_json());

    // Configuration errors that involve the token.
    for (what, s) in [
        (
            "token with a control character",
            json!({"clientKey": CK, "targetUrl": emu.base_url(), "pointOfSale": "p", "apiToken": format!("{TOKEN}\n")}),
        ),
        ("token as a number", json!({"clientKey": CK, "targetUrl": emu.base_url(), "pointOfSale": "p", "apiToken": 5})),
        (
            "token next to an unknown key",
            json!({"clientKey": CK, "targetUrl": emu.base_url(), "pointOfSale": "p", "apiToken": TOKEN, "apiTokn": TOKEN.len()}),
        ),
        ("token with a bad URL", json!({"clientKey": CK, "targetUrl": format!("https://{TOKEN}@x.test"), "pointOfSale": "p", "apiToken": TOKEN})),
        (
            "token with a bad guest URL",
            json!({"clientKey": CK, "targetUrl": emu.base_url(), "pointOfSale": "p", "apiToken": TOKEN, "guestApiUrl": "http://example.com"}),
        ),
        (
            "token that is not a header value",
            json!({"clientKey": CK, "targetUrl": emu.base_url(), "pointOfSale": "p", "apiToken": format!("{TOKEN}\u{7f}")}),
        ),
    ] {
        hay.result(what, Client::from_json(&s.to_string()));
    }
    let edge = Client::from_json(
        &json!({"clientKey": CK, "edgeUrl": emu.base_url(), "contextId": "ctx-123", "siteName": "spinair.com", "apiToken": TOKEN}).to_string(),
    )
    .unwrap();
    hay.result("guest API in Edge mode without guestApiUrl", edge.guests().find_by_email(EMAIL));
    hay.add("Debug of Edge settings", format!("{:?}", edge.settings()));
    let no_token = Client::from_json(&json!({"clientKey": CK, "targetUrl": emu.base_url(), "pointOfSale": "p"}).to_string()).unwrap();
    hay.result("guest API without a token", no_token.guests().find_by_email(EMAIL));

    // The C ABI: client_new failures, guest calls with e-mail, identity with PII, stats, last_error, log_next.
    let mut h = 0;
    let bad = json!({"clientKey": CK, "targetUrl": "ftp://x", "pointOfSale": "p", "apiToken": TOKEN}).to_string();
    assert_ne!(xmcdp_client_new(cs(&bad), &mut h), XMCDP_STATUS_OK);
    hay.last_error("client_new with a bad URL");
    let ok = settings(&emu, TOKEN);
    assert_eq!(xmcdp_client_new(cs(&ok), &mut h), XMCDP_STATUS_OK);
    let mut wrong_h = 0;
    let wrong_s = settings(&emu, WRONG_TOKEN);
    assert_eq!(xmcdp_client_new(cs(&wrong_s), &mut wrong_h), XMCDP_STATUS_OK);
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0;
    for (what, client) in [("guest_find", h), ("guest_find wrong token", wrong_h)] {
        let s = xmcdp_client_guest_find(client, cs(EMAIL), xmcdp_str_t::NONE, xmcdp_str_t::NONE, 5000, buf.as_mut_ptr(), buf.len(), &mut n);
        if s != XMCDP_STATUS_OK {
            hay.last_error(what);
        }
        let s = xmcdp_client_guest_find(client, xmcdp_str_t::NONE, cs("CRM"), cs(CRM_ID), 5000, buf.as_mut_ptr(), buf.len(), &mut n);
        if s != XMCDP_STATUS_OK {
            hay.last_error(what);
        }
        let s = xmcdp_client_guest_get(client, cs("00000000-0000-4000-8000-00000000abcd"), 1, 5000, buf.as_mut_ptr(), buf.len(), &mut n);
        assert_ne!(s, XMCDP_STATUS_OK);
        hay.last_error("guest_get unknown");
    }
    let empty = xmcdp_str_t::NONE;
    let common = xmcdp_common_t { browser_id: cs(&bid), channel: empty, currency: empty, language: empty, page: empty, point_of_sale: empty };
    let ids = [xmcdp_identifier_t { provider: cs("email"), id: cs(BAD_EMAIL), expiry_date: empty }];
    let mut ident = xmcdp_identity_t {
        common,
        email: cs(BAD_EMAIL),
        first_name: cs(FIRST),
        last_name: cs(LAST),
        dob: cs(PHONE),
        gender: empty,
        mobile: cs(PHONE),
        phone: cs(PHONE),
        city: empty,
        state: empty,
        country: empty,
        postal_code: empty,
        title: empty,
        ext_json: empty,
        user_agent: empty,
        street: std::ptr::null(),
        street_len: 0,
        identifiers: ids.as_ptr(),
        identifiers_len: 1,
    };
    assert_ne!(xmcdp_client_identity(h, &ident), XMCDP_STATUS_OK);
    hay.last_error("identity with a bad email");
    ident.email = cs(EMAIL);
    assert_ne!(xmcdp_client_identity(h, &ident), XMCDP_STATUS_OK);
    hay.last_error("identity with a bad dob");
    let ext = format!("{{\"{EMAIL}\": {{\"{FIRST}\": ");
    ident.dob = empty;
    ident.ext_json = cs(&ext);
    assert_ne!(xmcdp_client_identity(h, &ident), XMCDP_STATUS_OK);
    hay.last_error("identity with bad ext JSON");
    ident.ext_json = empty;
    ident.common.browser_id = cs(EVIL_COOKIE);
    assert_ne!(xmcdp_client_identity(h, &ident), XMCDP_STATUS_OK);
    hay.last_error("identity with a hostile browser id");
    ident.common.browser_id = cs(&bid);
    let good_ids = [xmcdp_identifier_t { provider: cs("email"), id: cs(EMAIL), expiry_date: empty }];
    ident.identifiers = good_ids.as_ptr();
    assert_eq!(xmcdp_client_identity(h, &ident), XMCDP_STATUS_OK);
    let mut id_out = std::mem::MaybeUninit::<xmcdp_browser_id_t>::zeroed();
    let cookie = format!("bid_{CK}={EVIL_COOKIE}");
    let s = xmcdp_client_browser_ensure(h, cs(&cookie), 5000, id_out.as_mut_ptr(), buf.as_mut_ptr(), buf.len(), &mut n);
    assert_eq!(s, XMCDP_STATUS_OK);
    let mut req = xmcdp_decision_request_t {
        friendly_id: cs("no_such_flow"),
        browser_id: empty,
        email: cs(EMAIL),
        identifier_provider: empty,
        identifier_id: empty,
        channel: empty,
        currency: empty,
        language: empty,
        point_of_sale: empty,
        params_json: empty,
        guest_ref: empty,
        user_agent: empty,
        page_variant_ids: std::ptr::null(),
        page_variant_ids_len: 0,
    };
    assert_ne!(xmcdp_client_decide(h, &req, 5000, buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
    hay.last_error("decide unknown flow by email");
    req.email = cs(BAD_EMAIL);
    assert_ne!(xmcdp_client_decide(h, &req, 5000, buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
    hay.last_error("decide with a bad email");
    for client in [h, wrong_h] {
        assert_eq!(xmcdp_client_stats(client, buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
        hay.add("xmcdp_client_stats", String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    // Some records through xmcdp_log_next, the rest drained below.
    let mut level = 0;
    while xmcdp_log_next(10, &mut level, buf.as_mut_ptr(), buf.len(), &mut n) == XMCDP_STATUS_OK {
        hay.add("xmcdp_log_next", String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    for client in [h, wrong_h] {
        let _ = xmcdp_client_shutdown(client, 5000);
        hay.last_error("shutdown");
        assert_eq!(xmcdp_client_delete(client), XMCDP_STATUS_OK);
    }

    // Shut everything down (delivery failures and shutdown reports log too), then drain the log ring.
    for client in [&c, &wrong, &edge, &no_token] {
        client.shutdown(Duration::from_secs(10));
        hay.add("stats after shutdown", client.stats_json());
    }
    hay.drain_logs();

    let creds = base64(format!("{CK}:{TOKEN}").as_bytes());
    let wrong_creds = base64(format!("{CK}:{WRONG_TOKEN}").as_bytes());
    let needles: Vec<(&str, &str)> = vec![
        ("the API token", TOKEN),
        ("the wrong API token", WRONG_TOKEN),
        ("the token's distinctive part", "SECRET-canary"),
        ("the Basic credentials", &creds),
        ("the wrong Basic credentials", &wrong_creds),
        ("the e-mail", "jane.canary"),
        ("the first name", FIRST),
        ("the last name", LAST),
        ("the phone number", PHONE),
        ("the phone digits", "019977"),
        ("the CRM id", CRM_ID),
        ("the hostile cookie value", "evilcookie-canary"),
        ("the browser id (a cookie value)", &bid),
        ("an unknown browser id", unknown_bid),
    ];
    assert!(hay.0.len() > 60, "the scan saw only {} texts", hay.0.len());
    assert!(hay.0.iter().any(|(w, _)| w.starts_with("log record")), "no log record was produced at all");
    let mut leaks = Vec::new();
    for (what, text) in &hay.0 {
        for (name, needle) in &needles {
            if text.contains(needle) {
                leaks.push(format!("{what} contains {name}: {text}"));
            }
        }
    }
    assert!(leaks.is_empty(), "{} leak(s):\n{}", leaks.len(), leaks.join("\n"));
}

/// Found by the scan above: an invalid Guest REST extension key was echoed into the error message, so a
/// caller who used personal data as a key (an e-mail address, say) had it in logs. Keys that pass the check
/// are letters and digits only and may still be named.
#[test]
fn invalid_extension_keys_are_not_echoed() {
    for key in [EMAIL, "jane canary", "a\r\nX-Injected: 1", &"x".repeat(200)] {
        let e = xmcdp::guests::validate::extension_body("ext", &json!({ key: 1 })).unwrap_err();
        assert_eq!(e.kind, xmcdp::ErrorKind::InvalidExt);
        assert!(!e.message.contains("canary") && !e.message.contains("Injected") && !e.message.contains("xxxx"), "{}", e.message);
        let e = xmcdp::guests::validate::check_key(key).unwrap_err();
        assert!(!e.message.contains("canary"), "{}", e.message);
    }
}
