//! Browser identity against the emulator: create within a budget, the pre-created pool and its refill, the
//! no-cookie / cookie / legacy-migration paths, hostile cookie values, show.json (also after an IDENTITY merge),
//! the Edge front door and auth failures.

mod common;

use common::{admin, wait_for};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use xmcdp::browser::BrowserIdSource;
use xmcdp::model::{Event, EventCommon, Identifier, Identity};
use xmcdp::{Client, ErrorKind};
use xmcdp_emulator::{spawn, EmulatorConfig, EmulatorHandle};

fn emulator() -> EmulatorHandle {
    spawn(EmulatorConfig::default()).expect("emulator starts")
}

fn client(emu: &EmulatorHandle, extra: Value) -> Client {
    let mut s = json!({"clientKey": "ck_test", "targetUrl": emu.base_url(), "pointOfSale": "myretailsite/ireland"});
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    Client::from_json(&s.to_string()).expect("valid settings")
}

fn requests(emu: &EmulatorHandle, route: &str) -> Vec<Value> {
    admin(&emu.base_url()).requests().unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["route"] == route)
        .cloned()
        .collect()
}

fn faults(emu: &EmulatorHandle, f: Value) {
    admin(&emu.base_url()).set_faults(&f).expect("faults");
}

const COOKIE_ATTRS: &str = "; Max-Age=63072000; SameSite=None; Secure; Path=/";

#[test]
fn no_cookie_creates_an_id_within_the_budget() {
    let emu = emulator();
    let c = client(&emu, json!({}));
    let t = Instant::now();
    let r = c.browser_ids().ensure_browser_id("other=1").expect("created");
    eprintln!("first visit, blocking create: {:?}", t.elapsed());
    assert_eq!((r.source, r.created), (BrowserIdSource::Created, true));
    assert_eq!(r.set_cookies, vec![format!("bid_ck_test={}{COOKIE_ATTRS}", r.browser_id)]);
    let creates = requests(&emu, "browser_create");
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0]["method"], "GET");
    assert_eq!(creates[0]["path"], "/v1.2/browser/create.json");
    assert_eq!(creates[0]["query"], "client_key=ck_test&message={}");
    // The guest ref that came with the id is the one show.json reports.
    let gref = r.guest_ref.clone().expect("customer_ref");
    assert_eq!(c.browser_ids().guest_ref_for_browser(&r.browser_id, Duration::from_secs(2)).unwrap(), gref);
    let show = &requests(&emu, "browser_show")[0];
    assert_eq!(show["path"], format!("/v1.2/browser/{}/show.json", r.browser_id));
    assert_eq!(show["query"], "client_key=ck_test&api_token=ck_test");
    // cookieDomain and cookieExpiryDays shape the cookie.
    let c = client(&emu, json!({"cookieDomain": ".example.com", "cookieExpiryDays": 365}));
    let r = c.browser_ids().ensure_browser_id("").unwrap();
    assert_eq!(r.set_cookies, vec![format!("bid_ck_test={}; Max-Age=31536000; SameSite=None; Secure; Path=/; Domain=.example.com", r.browser_id)]);
}

#[test]
fn existing_and_legacy_cookies() {
    let emu = emulator();
    let c = client(&emu, json!({}));
    let r = c.browser_ids().ensure_browser_id("a=b; bid_ck_test=a38b230c-11eb-4cf9-8d5d-274e9f344925; BID_ck_test=old").unwrap();
    assert_eq!((r.browser_id.as_str(), r.source, r.created), ("a38b230c-11eb-4cf9-8d5d-274e9f344925", BrowserIdSource::Cookie, false));
    assert!(r.set_cookies.is_empty());
    // Legacy only: migrated exactly as Engage does (TV-B7), no create call.
    let r = c.browser_ids().ensure_browser_id("BID_ck_test=legacy-bid-value").unwrap();
    assert_eq!((r.browser_id.as_str(), r.source, r.created), ("legacy-bid-value", BrowserIdSource::Legacy, false));
    assert_eq!(
        r.set_cookies,
        vec![
            format!("bid_ck_test=legacy-bid-value{COOKIE_ATTRS}"),
            "BID_ck_test=; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT;".to_string()
        ]
    );
    assert!(requests(&emu, "browser_create").is_empty());
    // A configured cookie name; legacy migration switched off.
    let c = client(&emu, json!({"cookieName": "sc_cid", "legacyCookieName": null}));
    assert_eq!(c.browser_ids().ensure_browser_id("sc_cid=abc").unwrap().source, BrowserIdSource::Cookie);
    assert_eq!(c.browser_ids().ensure_browser_id("BID_ck_test=legacy").unwrap().source, BrowserIdSource::Created);
}

#[test]
fn hostile_cookie_values_never_reach_a_url_or_header() {
    let emu = emulator();
    let c = client(&emu, json!({}));
    for h in [
        "bid_ck_test=x\r\nSet-Cookie: evil=1",
        "bid_ck_test=../../evil",
        "bid_ck_test=evil%0d%0a",
        "bid_ck_test=\"evil\"x\"",
        "bid_ck_test=evil,evil",
        "bid_ck_test=evil\u{0}",
        "BID_ck_test=evil/../x",
    ] {
        let r = c.browser_ids().ensure_browser_id(h).unwrap();
        assert_eq!(r.source, BrowserIdSource::Created, "{h:?}");
        assert!(!r.browser_id.contains("evil") && r.set_cookies.iter().all(|s| !s.contains("evil") && !s.contains('\n')));
    }
    for bad in ["../x", "a/b", "a\r\nb", "", "a b", "%2e%2e", &"x".repeat(200)] {
        let e = c.browser_ids().guest_ref_for_browser(bad, Duration::from_secs(1)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidBrowserId, "{bad:?}");
    }
    assert!(requests(&emu, "browser_show").is_empty());
    let all = admin(&emu.base_url()).requests().unwrap().to_string();
    assert!(!all.contains("evil"));
    // An unknown (well-formed) id: NotFound, and the id is not echoed back in the message.
    let e = c.browser_ids().guest_ref_for_browser("no-such-browser-id", Duration::from_secs(2)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(!e.message.contains("no-such-browser-id"), "{}", e.message);
}

#[test]
fn pool_serves_first_visits_without_waiting_and_refills() {
    let emu = emulator();
    let c = client(&emu, json!({"browserIdPoolSize": 3}));
    wait_for(Duration::from_secs(3), || (c.browser_ids().pool_len() == 3).then_some(())).expect("pool fills");
    // Creates are slow from now on: the pool still answers at once.
    faults(&emu, json!({"routes": {"browser_create": {"latency_ms": 150}}}));
    let t = Instant::now();
    let r = c.browser_ids().ensure_browser_id("").unwrap();
    let took = t.elapsed();
    eprintln!("first visit from the pool: {took:?}");
    assert_eq!((r.source, r.created), (BrowserIdSource::Pool, true));
    assert!(took < Duration::from_millis(50), "no network wait (the create takes 150 ms): {took:?}");
    assert!(r.guest_ref.is_some());
    assert_eq!(r.set_cookies, vec![format!("bid_ck_test={}{COOKIE_ATTRS}", r.browser_id)]);
    // Drain the pool faster than it refills: the next visit falls back to a blocking create within its budget.
    let a = c.browser_ids().ensure_browser_id("").unwrap();
    let b = c.browser_ids().ensure_browser_id("").unwrap();
    assert_eq!((a.source, b.source), (BrowserIdSource::Pool, BrowserIdSource::Pool));
    let ids = [&r.browser_id, &a.browser_id, &b.browser_id];
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2], "each id goes to one visitor");
    // A budget shorter than the create: Timeout, within the budget.
    let t = Instant::now();
    assert_eq!(c.browser_ids().ensure_browser_id_within("", Duration::from_millis(30)).unwrap_err().kind, ErrorKind::Timeout);
    assert!(t.elapsed() < Duration::from_millis(130));
    let t = Instant::now();
    let d = c.browser_ids().ensure_browser_id("").unwrap();
    assert_eq!(d.source, BrowserIdSource::Created);
    assert!(t.elapsed() >= Duration::from_millis(150));
    // Refill in the background.
    faults(&emu, json!({}));
    wait_for(Duration::from_secs(3), || (c.browser_ids().pool_len() == 3).then_some(())).expect("refilled");
    assert!(requests(&emu, "browser_create").len() >= 7);
    // Pool size 0 (the default) never creates ahead.
    let emu2 = emulator();
    let c2 = client(&emu2, json!({}));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(c2.browser_ids().pool_len(), 0);
    assert!(requests(&emu2, "browser_create").is_empty());
}

#[test]
fn pool_refill_starts_once_half_of_the_pool_is_taken() {
    // Waking the refill task costs the request thread a cross-thread wake-up, so a take that leaves the pool more
    // than half full does not wake it; the one that reaches half does, and the pool is refilled to its full size.
    let emu = emulator();
    let c = client(&emu, json!({"browserIdPoolSize": 4}));
    wait_for(Duration::from_secs(3), || (c.browser_ids().pool_len() == 4).then_some(())).expect("pool fills");
    assert_eq!(requests(&emu, "browser_create").len(), 4);
    assert_eq!(c.browser_ids().ensure_browser_id("").unwrap().source, BrowserIdSource::Pool);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.browser_ids().pool_len(), 3, "3 of 4 left: no refill yet");
    assert_eq!(requests(&emu, "browser_create").len(), 4);
    assert_eq!(c.browser_ids().ensure_browser_id("").unwrap().source, BrowserIdSource::Pool);
    wait_for(Duration::from_secs(3), || (c.browser_ids().pool_len() == 4).then_some(())).expect("refilled at half");
    assert_eq!(requests(&emu, "browser_create").len(), 6);
}

#[test]
fn identity_merge_is_visible_through_show_json() {
    let emu = emulator();
    let c = client(&emu, json!({"currency": "EUR"}));
    let identify = |bid: &str| {
        let ev = Event::Identity(Identity {
            common: EventCommon { browser_id: bid.to_string(), ..Default::default() },
            email: Some("jane.merge@example.com".into()),
            identifiers: vec![Identifier { provider: "email".into(), id: "jane.merge@example.com".into(), expiry_date: None }],
            ..Default::default()
        });
        c.send(ev, None).expect("queued");
    };
    let a = c.browser_ids().ensure_browser_id("").unwrap();
    let b = c.browser_ids().ensure_browser_id("").unwrap();
    let (ga, gb) = (a.guest_ref.clone().unwrap(), b.guest_ref.clone().unwrap());
    assert_ne!(ga, gb);
    identify(&a.browser_id);
    wait_for(Duration::from_secs(5), || {
        let g = admin(&emu.base_url()).guest(&ga).unwrap();
        (g["guestType"] == "customer").then_some(())
    })
    .expect("first identity processed");
    identify(&b.browser_id);
    // B's anonymous guest is retired; B now resolves to A's (the surviving) guest.
    let survivor = wait_for(Duration::from_secs(5), || {
        let g = c.browser_ids().guest_ref_for_browser(&b.browser_id, Duration::from_secs(2)).unwrap();
        (g == ga).then_some(g)
    });
    assert_eq!(survivor.as_deref(), Some(ga.as_str()));
    assert_eq!(c.browser_ids().guest_ref_for_browser(&a.browser_id, Duration::from_secs(2)).unwrap(), ga);
}

#[test]
fn edge_front_door() {
    let emu = emulator();
    let c = Client::from_json(
        &json!({"clientKey": "ck_test", "edgeUrl": emu.base_url(), "contextId": "ctx-123", "siteName": "spinair.com"}).to_string(),
    )
    .unwrap();
    let r = c.browser_ids().ensure_browser_id("").unwrap();
    let create = &requests(&emu, "browser_create")[0];
    assert_eq!(create["path"], "/v1/events/v1.2/browser/create.json");
    assert_eq!(create["query"], "sitecoreContextId=ctx-123&client_key=");
    assert_eq!(c.browser_ids().guest_ref_for_browser(&r.browser_id, Duration::from_secs(2)).unwrap(), r.guest_ref.unwrap());
    let show = &requests(&emu, "browser_show")[0];
    assert_eq!(show["path"], format!("/v1/events/v1.2/browser/{}/show.json", r.browser_id));
    assert_eq!(show["query"], "sitecoreContextId=ctx-123&client_key=&api_token=");
}

#[test]
fn unknown_client_key_and_outage() {
    let emu = emulator();
    let c = Client::from_json(&json!({"clientKey": "ck_nope", "targetUrl": emu.base_url(), "pointOfSale": "p"}).to_string()).unwrap();
    let e = c.browser_ids().ensure_browser_id("").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized, "{}", e.message);
    let c = client(&emu, json!({}));
    faults(&emu, json!({"outage": true}));
    let e = c.browser_ids().create_browser_id(Duration::from_secs(1)).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Http | ErrorKind::ConnectFailed), "{:?}", e);
}
