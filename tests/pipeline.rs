//! The delivery pipeline against the emulator over real HTTP: bodies, per-visitor order, retries, Retry-After,
//! non-retryable 4xx, overflow policies, graceful and deadline-bound shutdown, the Edge front door.

mod common;

use common::{admin, get_json, wait_for};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use xmcdp::model::{CustomEvent, Event, EventCommon, Ext, Identifier, Identity, PageView};
use xmcdp::{Client, ErrorKind};
use xmcdp_emulator::{spawn, EmulatorConfig, EmulatorHandle};

fn emulator() -> EmulatorHandle {
    spawn(EmulatorConfig::default()).expect("emulator starts")
}

fn client(emu: &EmulatorHandle, extra: Value) -> Client {
    let mut settings = json!({"clientKey": "ck_test", "targetUrl": emu.base_url(), "pointOfSale": "myretailsite/ireland", "currency": "EUR"});
    for (k, v) in extra.as_object().unwrap() {
        settings[k] = v.clone();
    }
    Client::from_json(&settings.to_string()).expect("valid settings")
}

fn new_browser(emu: &EmulatorHandle) -> String {
    let v = get_json(&format!("{}/v1.2/browser/create.json?client_key=ck_test&message={{}}", emu.base_url()));
    v["ref"].as_str().unwrap().to_string()
}

fn view(bid: &str, page: &str) -> Event {
    Event::View(PageView {
        common: EventCommon { browser_id: bid.into(), page: Some(page.into()), language: Some("EN".into()), ..Default::default() },
        url: Some(format!("/{page}?utm_source=news&UTM_Medium=email")),
        ..Default::default()
    })
}

fn events_of(emu: &EmulatorHandle, bid: &str) -> Vec<Value> {
    admin(&emu.base_url()).events_of(&bid).unwrap()["items"].as_array().unwrap().clone()
}

fn stats(c: &Client) -> Value {
    serde_json::from_str::<Value>(&c.stats_json()).unwrap()["events"].clone()
}

fn set_faults(emu: &EmulatorHandle, faults: Value) {
    admin(&emu.base_url()).set_faults(&faults).expect("faults");
}

#[test]
fn page_view_reaches_the_cdp_with_the_official_body_shape() {
    let emu = emulator();
    let c = client(&emu, json!({}));
    let bid = new_browser(&emu);
    c.send(view(&bid, "home"), Some("Mozilla/5.0 (test)".into())).unwrap();
    let got = wait_for(Duration::from_secs(5), || events_of(&emu, &bid).pop()).expect("event delivered");
    assert_eq!(
        got["body"],
        json!({"type":"VIEW","utm_source":"news","utm_medium":"email","browser_id":bid,"channel":"WEB","client_key":"ck_test",
               "currency":"EUR","language":"EN","page":"home","pos":"myretailsite/ireland"})
    );
    // The visitor's User-Agent is forwarded, not ours.
    let reqs = admin(&emu.base_url()).requests().unwrap();
    let post = reqs["items"].as_array().unwrap().iter().rev().find(|r| r["path"] == "/v1.2/events").unwrap().clone();
    assert_eq!(post["headers"]["user-agent"], "Mozilla/5.0 (test)");
    assert_eq!(post["headers"]["content-type"], "application/json");
    let s = stats(&c);
    assert_eq!(s["sent"], 1);
    assert_eq!(s["delivery_latency"]["count"], 1);
}

#[test]
fn one_visitors_events_arrive_in_order_while_visitors_run_concurrently() {
    let emu = emulator();
    let c = client(&emu, json!({"deliveryConcurrency": 8}));
    // Latency makes reordering likely if order were not enforced.
    set_faults(&emu, json!({"routes": {"events": {"latency_ms": 2, "jitter_ms": 8}}}));
    let visitors: Vec<String> = (0..12).map(|_| new_browser(&emu)).collect();
    let started = Instant::now();
    for step in 0..6 {
        for bid in &visitors {
            let ev = if step == 2 {
                Event::Identity(Identity {
                    common: EventCommon { browser_id: bid.clone(), ..Default::default() },
                    identifiers: vec![Identifier { provider: "CRM".into(), id: format!("crm-{bid}"), expiry_date: None }],
                    ..Default::default()
                })
            } else {
                view(bid, &format!("p{step}"))
            };
            c.send(ev, None).unwrap();
        }
    }
    for bid in &visitors {
        let got = wait_for(Duration::from_secs(10), || Some(events_of(&emu, bid)).filter(|e| e.len() == 6)).expect("all six delivered");
        let kinds: Vec<String> = got
            .iter()
            .map(|e| if e["type"] == "IDENTITY" { "ID".to_string() } else { e["body"]["page"].as_str().unwrap().to_string() })
            .collect();
        assert_eq!(kinds, ["p0", "p1", "ID", "p3", "p4", "p5"], "visitor {bid}");
    }
    // 72 events with 2–10 ms each would take ≥ 144 ms serially; lanes overlap them.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(stats(&c)["sent"], 72);
}

#[test]
fn server_errors_are_retried_until_delivered() {
    let emu = emulator();
    let c = client(&emu, json!({"retryBaseMs": 5, "retryMaxAttempts": 10}));
    let bid = new_browser(&emu);
    set_faults(&emu, json!({"routes": {"events": {"error_rate": 1.0, "error_status": 503, "max_faults": 3}}}));
    c.send(view(&bid, "home"), None).unwrap();
    wait_for(Duration::from_secs(5), || events_of(&emu, &bid).pop()).expect("delivered after retries");
    let s = stats(&c);
    assert_eq!(s["retried_by_reason"]["http_503"], 3);
    assert_eq!(s["sent"], 1);
    assert_eq!(s["failed"], 0);
}

#[test]
fn connection_resets_are_retried() {
    let emu = emulator();
    let c = client(&emu, json!({"retryBaseMs": 5, "retryMaxAttempts": 10}));
    let bid = new_browser(&emu);
    set_faults(&emu, json!({"routes": {"events": {"reset_rate": 1.0, "max_faults": 2}}}));
    c.send(view(&bid, "home"), None).unwrap();
    wait_for(Duration::from_secs(5), || events_of(&emu, &bid).pop()).expect("delivered after resets");
    let s = stats(&c);
    assert!(s["retried"].as_u64().unwrap() >= 2, "{s}");
}

#[test]
fn retry_after_is_honoured() {
    let emu = emulator();
    let c = client(&emu, json!({"retryBaseMs": 1, "retryMaxAttempts": 5}));
    let bid = new_browser(&emu);
    set_faults(&emu, json!({"routes": {"events": {"throttle_rate": 1.0, "retry_after_secs": 1, "max_faults": 1}}}));
    let t0 = Instant::now();
    c.send(view(&bid, "home"), None).unwrap();
    wait_for(Duration::from_secs(5), || events_of(&emu, &bid).pop()).expect("delivered after the throttle");
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_millis(1000), "retried after {waited:?}, before Retry-After");
    assert_eq!(stats(&c)["retried_by_reason"]["http_429"], 1);
}

#[test]
fn client_errors_are_not_retried_and_are_counted() {
    let emu = emulator();
    let c = client(&emu, json!({"retryBaseMs": 1}));
    // A browser id CDP never issued: 404, retrying cannot help.
    c.send(view("never-issued-browser-id", "home"), None).unwrap();
    wait_for(Duration::from_secs(5), || Some(()).filter(|_| stats(&c)["failed"] == 1)).expect("counted as failed");
    let s = stats(&c);
    assert_eq!(s["failed_by_reason"]["http_404"], 1);
    assert_eq!(s["retried"], 0);
    let posts = admin(&emu.base_url()).requests().unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/v1.2/events")
        .count();
    assert_eq!(posts, 1, "a 404 must not be retried");
}

#[test]
fn invalid_events_are_refused_on_the_calling_thread() {
    let emu = emulator();
    let c = client(&emu, json!({}));
    let bad_email = Event::Identity(Identity {
        common: EventCommon { browser_id: "b".into(), ..Default::default() },
        email: Some("foo@bar".into()),
        identifiers: vec![Identifier { provider: "email".into(), id: "foo@bar".into(), expiry_date: None }],
        ..Default::default()
    });
    assert_eq!(c.send(bad_email, None).unwrap_err().kind, ErrorKind::InvalidEmail);
    let no_ids = Event::Identity(Identity { common: EventCommon { browser_id: "b".into(), ..Default::default() }, ..Default::default() });
    assert_eq!(c.send(no_ids, None).unwrap_err().kind, ErrorKind::MissingIdentifiers);
    let mut big = serde_json::Map::new();
    for i in 0..51 {
        big.insert(format!("k{i}"), json!(i));
    }
    assert_eq!(Ext::from_value(Value::Object(big)).unwrap_err().kind, xmcdp::ErrorKind::TooManyExtAttributes);
    let s = stats(&c);
    assert_eq!(s["enqueued"], 0);
}

#[test]
fn full_queue_drops_newest_and_counts() {
    let emu = emulator();
    set_faults(&emu, json!({"routes": {"events": {"latency_ms": 300}}}));
    let c = client(&emu, json!({"queueCapacity": 4, "deliveryConcurrency": 1}));
    let bid = new_browser(&emu);
    let mut full = 0;
    for i in 0..10 {
        match c.send(view(&bid, &format!("p{i}")), None) {
            Ok(()) => {}
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::QueueFull);
                full += 1;
            }
        }
    }
    assert_eq!(full, 6);
    let s = stats(&c);
    assert_eq!(s["dropped"]["queue_full"], 6);
    assert!(s["queue_depth"].as_u64().unwrap() <= 4);
    set_faults(&emu, json!({}));
    // The four accepted ones, in order.
    let got = wait_for(Duration::from_secs(5), || Some(events_of(&emu, &bid)).filter(|e| e.len() == 4)).expect("accepted ones delivered");
    let pages: Vec<&str> = got.iter().map(|e| e["body"]["page"].as_str().unwrap()).collect();
    assert_eq!(pages, ["p0", "p1", "p2", "p3"]);
}

#[test]
fn full_queue_can_drop_oldest_instead() {
    let emu = emulator();
    set_faults(&emu, json!({"routes": {"events": {"latency_ms": 300}}}));
    let c = client(&emu, json!({"queueCapacity": 4, "deliveryConcurrency": 1, "overflowPolicy": "dropOldest"}));
    let bid = new_browser(&emu);
    for i in 0..10 {
        c.send(view(&bid, &format!("p{i}")), None).expect("dropOldest always accepts the newest");
    }
    let s = stats(&c);
    assert!(s["dropped"]["oldest_evicted"].as_u64().unwrap() >= 5, "{s}");
    set_faults(&emu, json!({}));
    let got = wait_for(Duration::from_secs(5), || {
        Some(events_of(&emu, &bid)).filter(|e| e.iter().any(|e| e["body"]["page"] == "p9"))
    })
    .expect("newest delivered");
    // One early event was already in flight when the queue filled (in-flight events count against the cap
    // but cannot be evicted; which one depends on when the lane woke); the three queued slots hold the newest.
    let pages: Vec<&str> = got.iter().map(|e| e["body"]["page"].as_str().unwrap()).collect();
    assert_eq!(pages.len(), 4, "{pages:?}");
    assert_eq!(pages[1..], ["p7", "p8", "p9"]);
    assert!(["p0", "p1", "p2", "p3", "p4", "p5", "p6"].contains(&pages[0]), "{pages:?}");
}

#[test]
fn byte_cap_bounds_the_queue() {
    let emu = emulator();
    set_faults(&emu, json!({"routes": {"events": {"latency_ms": 300}}}));
    let c = client(&emu, json!({"queueMaxBytes": 65536, "deliveryConcurrency": 1}));
    let bid = new_browser(&emu);
    let mut data = serde_json::Map::new();
    data.insert("note".into(), json!("x".repeat(3000)));
    let mut refused = 0;
    for _ in 0..100 {
        let ev = Event::Custom(CustomEvent {
            common: EventCommon { browser_id: bid.clone(), ..Default::default() },
            event_type: "SEARCH".into(),
            data: data.clone(),
            ..Default::default()
        });
        if c.send(ev, None).is_err() {
            refused += 1;
        }
    }
    let s = stats(&c);
    assert!(refused > 50, "only {refused} refused");
    assert!(s["queue_bytes"].as_u64().unwrap() <= 65536, "{s}");
}

#[test]
fn graceful_shutdown_delivers_everything_accepted() {
    let emu = emulator();
    set_faults(&emu, json!({"routes": {"events": {"latency_ms": 5}}}));
    let c = client(&emu, json!({"deliveryConcurrency": 4}));
    let bids: Vec<String> = (0..5).map(|_| new_browser(&emu)).collect();
    for i in 0..100 {
        c.send(view(&bids[i % 5], &format!("p{i}")), None).unwrap();
    }
    let report = c.shutdown(Duration::from_secs(10));
    assert_eq!(report.unsent, 0, "{report:?}");
    assert!(!report.timed_out);
    let total: usize = bids.iter().map(|b| events_of(&emu, b).len()).sum();
    assert_eq!(total, 100);
    assert_eq!(c.send(view(&bids[0], "late"), None).unwrap_err().kind, ErrorKind::ShutDown);
    // Idempotent.
    assert_eq!(c.shutdown(Duration::from_secs(1)), report);
}

#[test]
fn shutdown_respects_its_deadline_during_an_outage_and_reports_what_was_not_sent() {
    let emu = emulator();
    // Enough attempts that no event gives up before the shutdown starts.
    let c = client(&emu, json!({"retryBaseMs": 50, "retryMaxAttempts": 100}));
    let bid = new_browser(&emu);
    set_faults(&emu, json!({"outage": true}));
    for i in 0..20 {
        c.send(view(&bid, &format!("p{i}")), None).unwrap();
    }
    let t0 = Instant::now();
    let report = c.shutdown(Duration::from_millis(300));
    let took = t0.elapsed();
    assert!(report.timed_out);
    assert_eq!(report.unsent, 20, "{report:?}");
    assert!(took < Duration::from_millis(300 + 700), "shutdown took {took:?}");
}

#[test]
fn edge_front_door_gets_requested_at_and_the_context() {
    let emu = emulator();
    let settings = json!({"clientKey": "ck_test", "edgeUrl": emu.base_url(), "contextId": "ctx-123", "siteName": "spinair.com"});
    let c = Client::from_json(&settings.to_string()).unwrap();
    let created = get_json(&format!("{}/v1/events/v1.2/browser/create.json?sitecoreContextId=ctx-123&client_key=", emu.base_url()));
    let bid = created["ref"].as_str().unwrap().to_string();
    c.send(view(&bid, "bikes"), None).unwrap();
    let got = wait_for(Duration::from_secs(5), || events_of(&emu, &bid).pop()).expect("delivered through Edge");
    assert_eq!(got["body"]["client_key"], "");
    assert_eq!(got["body"]["pos"], "");
    let at = got["body"]["requested_at"].as_str().expect("requested_at");
    assert!(at.ends_with('Z') && at.len() == 24, "{at}");
    assert_eq!(got["pos"], "myretailsite/ireland", "the proxy fills the pos from the site");
}
