//! Decisions against the emulator over HTTP: wire format and headers (classic and Edge), budgets, typed
//! outcomes, the circuit breaker under outage and latency faults, coalescing, prefetch tickets and their
//! expiry, the opt-in cache.

mod common;

use common::{admin, get_json};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use xmcdp::decisions::{BreakerState, DecisionSource, Ticket};
use xmcdp::model::{BodyContext, DecisionRequest};
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

fn new_browser(emu: &EmulatorHandle) -> String {
    get_json(&format!("{}/v1.2/browser/create.json?client_key=ck_test&message={{}}", emu.base_url()))["ref"].as_str().unwrap().to_string()
}

fn req(flow: &str, bid: &str) -> DecisionRequest {
    DecisionRequest {
        friendly_id: flow.into(),
        browser_id: Some(bid.into()),
        channel: Some("WEB".into()),
        currency: Some("EUR".into()),
        language: Some("EN".into()),
        ..Default::default()
    }
}

fn faults(emu: &EmulatorHandle, f: Value) {
    admin(&emu.base_url()).set_faults(&f).expect("faults");
}

fn flow_requests(emu: &EmulatorHandle) -> Vec<Value> {
    admin(&emu.base_url()).requests().unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["route"] == "callflows")
        .cloned()
        .collect()
}

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Test/1.0";

#[test]
fn classic_decision_returns_the_flow_json_with_forwarded_headers() {
    let emu = emulator();
    let c = client(&emu, json!({}));
    let bid = new_browser(&emu);
    let mut r = req("home_page_banner", &bid);
    r.params = serde_json::from_value(json!({"customer": {"tier": "gold", "points": 10}, "flag": true})).unwrap();
    let d = c.decisions().decide(&r, Some(UA), Duration::from_secs(2)).expect("decision");
    assert_eq!(d.status, 200);
    assert_eq!(d.source, DecisionSource::Network);
    let v = d.json().unwrap();
    assert_eq!(v["variantId"], "banner-visitor", "{v}");
    let reqs = flow_requests(&emu);
    assert_eq!(reqs.len(), 1);
    let rec = &reqs[0];
    assert_eq!((rec["method"].as_str(), rec["path"].as_str()), (Some("POST"), Some("/v2/callFlows")));
    // Body byte-equal to the model's (TV-E8 shape).
    let expected = String::from_utf8(r.to_body(&BodyContext::classic("ck_test", "myretailsite/ireland"))).unwrap();
    assert_eq!(rec["body"].as_str().unwrap(), expected);
    assert!(expected.contains(r#""params":{"customer_tier":"gold","customer_points":10,"flag":true}"#));
    let h = &rec["headers"];
    assert_eq!(h["user-agent"], UA);
    assert_eq!(h["content-type"], "application/json");
    let cid = h["x-sc-correlation-id"].as_str().expect("correlation id");
    assert!(cid.len() == 32 && cid.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{cid}");
    // A second call gets a fresh correlation id.
    c.decisions().decide(&r, None, Duration::from_secs(2)).unwrap();
    let reqs = flow_requests(&emu);
    assert_ne!(reqs[1]["headers"]["x-sc-correlation-id"], reqs[0]["headers"]["x-sc-correlation-id"]);
    assert!(reqs[1]["headers"]["user-agent"].as_str().unwrap().starts_with("xmcdp/"), "no UA given: the library's own");
}

#[test]
fn edge_decision_posts_to_personalize_with_context_and_site() {
    let emu = emulator();
    let c = Client::from_json(
        &json!({"clientKey": "ck_test", "edgeUrl": emu.base_url(), "contextId": "ctx-123", "siteName": "spinair.com"}).to_string(),
    )
    .unwrap();
    let bid = new_browser(&emu);
    let mut r = req("home_page_banner", &bid);
    r.page_variant_ids = vec!["pv1".into(), "pv2".into()];
    let v = c.decisions().decide(&r, Some(UA), Duration::from_secs(2)).expect("decision").json().unwrap();
    assert_eq!(v["variantId"], "banner-visitor");
    let rec = &flow_requests(&emu)[0];
    assert_eq!(rec["path"], "/v1/personalize");
    assert_eq!(rec["query"], "sitecoreContextId=ctx-123&siteId=spinair.com");
    assert_eq!(rec["body"].as_str().unwrap(), String::from_utf8(r.to_body(&BodyContext::edge(None))).unwrap());
    assert!(rec["body"].as_str().unwrap().contains(r#""clientKey":"","#));
    assert_eq!(rec["headers"]["user-agent"], UA);
    assert_eq!(rec["headers"]["x-sc-correlation-id"].as_str().unwrap().len(), 32);
}

#[test]
fn typed_outcomes_for_unknown_flows_server_errors_and_invalid_requests() {
    let emu = emulator();
    let c = client(&emu, json!({"breakerFailureThreshold": 100}));
    let bid = new_browser(&emu);
    let e = c.decisions().decide(&req("no_such_flow", &bid), None, Duration::from_secs(2)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::FlowNotFound);
    assert!(e.message.contains("404") && e.message.contains("no_such_flow"), "{}", e.message);
    let e = c.decisions().decide(&req("paused_flow", &bid), None, Duration::from_secs(2)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::FlowNotFound);
    // A 404 says the service is up: it never opens the breaker.
    assert_eq!(c.decisions().breaker_state(), BreakerState::Closed);
    assert_eq!(c.decisions().stats().failures, 0);

    faults(&emu, json!({"routes": {"callflows": {"error_rate": 1.0, "error_status": 503}}}));
    let e = c.decisions().decide(&req("home_page_banner", &bid), None, Duration::from_secs(2)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ServerError, "{}", e.message);
    faults(&emu, json!({"routes": {"callflows": {"throttle_rate": 1.0}}}));
    assert_eq!(c.decisions().decide(&req("home_page_banner", &bid), None, Duration::from_secs(2)).unwrap_err().kind, ErrorKind::ServerError);
    faults(&emu, json!({}));
    let before = flow_requests(&emu).len();

    // Invalid requests fail locally, before any request.
    assert_eq!(c.decisions().decide(&req(" ", &bid), None, Duration::from_secs(1)).unwrap_err().kind, ErrorKind::MissingFriendlyId);
    let hostile = req("home_page_banner", "x\r\nX-Evil: 1");
    assert_eq!(c.decisions().decide(&hostile, None, Duration::from_secs(1)).unwrap_err().kind, ErrorKind::InvalidBrowserId);
    assert_eq!(c.decisions().begin_decide(&hostile, None).unwrap_err().kind, ErrorKind::InvalidBrowserId);
    assert_eq!(flow_requests(&emu).len(), before);

    // A template rendering a string is returned raw.
    let d = c.decisions().decide(&req("promo_*", &bid), None, Duration::from_secs(2)).unwrap();
    assert_eq!(d.json().unwrap()["variantId"], "promo-spring", "wildcard: first live match in lexicographic order");
}

#[test]
fn budgets_are_honoured() {
    let emu = emulator();
    let c = client(&emu, json!({"breakerFailureThreshold": 1000}));
    let bid = new_browser(&emu);
    faults(&emu, json!({"routes": {"callflows": {"latency_ms": 1500}}}));
    let mut worst = Duration::ZERO;
    for budget_ms in [20u64, 50, 100, 150] {
        let budget = Duration::from_millis(budget_ms);
        let t = Instant::now();
        let e = c.decisions().decide(&req("home_page_banner", &bid), None, budget).unwrap_err();
        let took = t.elapsed();
        assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
        assert!(took >= budget, "returned before the budget: {took:?}");
        worst = worst.max(took - budget);
        assert!(took < budget + Duration::from_millis(100), "budget {budget_ms} ms took {took:?}");
    }
    eprintln!("worst budget overshoot: {worst:?}");
    assert!(c.decisions().stats().timeouts >= 4);
    // The four calls above were identical: they shared one HTTP call (bounded by decisionTimeoutMs).
    assert_eq!(c.decisions().stats().http_calls, 1);
    // With a faster server the budget suffices (another visitor's request: not joined to the slow call).
    faults(&emu, json!({"routes": {"callflows": {"latency_ms": 30}}}));
    c.decisions().decide(&req("home_page_banner", &new_browser(&emu)), None, Duration::from_millis(500)).expect("within budget");
}

#[test]
fn breaker_opens_on_outage_fails_fast_and_recovers() {
    let emu = emulator();
    let c = client(&emu, json!({"breakerFailureThreshold": 3, "breakerCooldownMs": 300}));
    let bid = new_browser(&emu);
    let r = req("home_page_banner", &bid);
    c.decisions().decide(&r, None, Duration::from_secs(2)).expect("healthy");

    faults(&emu, json!({"outage": true}));
    for _ in 0..3 {
        let e = c.decisions().decide(&r, None, Duration::from_secs(2)).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Http | ErrorKind::ConnectFailed), "{:?} {}", e.kind, e.message);
    }
    assert_eq!(c.decisions().breaker_state(), BreakerState::Open);
    let seen = flow_requests(&emu).len();
    // Open: fails fast, no network.
    let t = Instant::now();
    for _ in 0..1000 {
        assert_eq!(c.decisions().decide(&r, None, Duration::from_secs(2)).unwrap_err().kind, ErrorKind::CircuitOpen);
    }
    let per_call = t.elapsed() / 1000;
    eprintln!("decide with the breaker open: {per_call:?} per call (debug build)");
    assert!(per_call < Duration::from_millis(1), "{per_call:?}");
    // Prefetch gets a ticket whose answer is already CircuitOpen.
    let tk = c.decisions().begin_decide(&r, None).unwrap();
    assert_eq!(c.decisions().decision_ready(tk), Ok(true));
    assert_eq!(c.decisions().wait_decision(tk, Duration::ZERO).unwrap_err().kind, ErrorKind::CircuitOpen);
    assert_eq!(flow_requests(&emu).len(), seen);

    // After the cool-down one probe goes out; it fails (still down) and the breaker re-opens.
    std::thread::sleep(Duration::from_millis(320));
    assert!(c.decisions().decide(&r, None, Duration::from_secs(2)).is_err());
    assert_eq!(c.decisions().breaker_state(), BreakerState::Open);
    assert_eq!(c.decisions().decide(&r, None, Duration::from_secs(2)).unwrap_err().kind, ErrorKind::CircuitOpen);

    // Service back: after the cool-down the probe succeeds and the breaker closes.
    faults(&emu, json!({}));
    std::thread::sleep(Duration::from_millis(320));
    c.decisions().decide(&r, None, Duration::from_secs(2)).expect("probe succeeds");
    assert_eq!(c.decisions().breaker_state(), BreakerState::Closed);
    c.decisions().decide(&r, None, Duration::from_secs(2)).expect("closed");
    assert!(c.decisions().stats().breaker_opened >= 2);
}

#[test]
fn breaker_opens_when_the_service_is_slower_than_the_budget() {
    let emu = emulator();
    let c = client(&emu, json!({"breakerFailureThreshold": 2, "breakerCooldownMs": 200, "decisionTimeoutMs": 100}));
    let bid = new_browser(&emu);
    // Up, but slower than every page's budget (and than decisionTimeoutMs).
    faults(&emu, json!({"routes": {"callflows": {"latency_ms": 250}}}));
    for i in 0..2 {
        let mut r = req("home_page_banner", &bid);
        r.params = Map::from_iter([("i".to_string(), json!(i))]);
        assert_eq!(c.decisions().decide(&r, None, Duration::from_millis(40)).unwrap_err().kind, ErrorKind::Timeout);
    }
    // The calls' own bound (decisionTimeoutMs) passes shortly after the pages gave up.
    common::wait_for(Duration::from_secs(1), || (c.decisions().breaker_state() == BreakerState::Open).then_some(())).expect("breaker opens");
    let r = req("home_page_banner", &bid);
    let t = Instant::now();
    assert_eq!(c.decisions().decide(&r, None, Duration::from_millis(40)).unwrap_err().kind, ErrorKind::CircuitOpen);
    assert!(t.elapsed() < Duration::from_millis(25), "fails fast, not after the budget");
    // Faster than decisionTimeoutMs but still slower than the page budget: a late answer is a failure too.
    faults(&emu, json!({"routes": {"callflows": {"latency_ms": 60}}}));
    std::thread::sleep(Duration::from_millis(220));
    assert_eq!(c.decisions().decide(&r, None, Duration::from_millis(20)).unwrap_err().kind, ErrorKind::Timeout);
    common::wait_for(Duration::from_secs(1), || (c.decisions().breaker_state() == BreakerState::Open).then_some(())).expect("re-opens");
    faults(&emu, json!({}));
    std::thread::sleep(Duration::from_millis(220));
    c.decisions().decide(&r, None, Duration::from_secs(1)).expect("recovers");
    assert_eq!(c.decisions().breaker_state(), BreakerState::Closed);
}

#[test]
fn identical_concurrent_requests_share_one_http_call() {
    let emu = emulator();
    let c = Arc::new(client(&emu, json!({})));
    let bid = new_browser(&emu);
    faults(&emu, json!({"routes": {"callflows": {"latency_ms": 200}}}));
    let n = 8;
    let barrier = Arc::new(std::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (c, b, bid) = (c.clone(), barrier.clone(), bid.clone());
            std::thread::spawn(move || {
                b.wait();
                c.decisions().decide(&req("home_page_banner", &bid), Some(UA), Duration::from_secs(2))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap().expect("decision")).collect();
    assert_eq!(flow_requests(&emu).len(), 1, "one HTTP call for {n} identical requests");
    assert!(results.iter().all(|d| d.body == results[0].body));
    assert_eq!(results.iter().filter(|d| d.source == DecisionSource::Network).count(), 1);
    assert_eq!(results.iter().filter(|d| d.source == DecisionSource::Coalesced).count(), n - 1);
    let s = c.decisions().stats();
    assert_eq!((s.http_calls, s.coalesced), (1, n as u64 - 1));
    // Different params (or visitors) are not coalesced.
    let mut other = req("home_page_banner", &bid);
    other.params = Map::from_iter([("x".to_string(), json!(1))]);
    let t1 = c.decisions().begin_decide(&req("home_page_banner", &bid), None).unwrap();
    let t2 = c.decisions().begin_decide(&other, None).unwrap();
    c.decisions().wait_decision(t1, Duration::from_secs(2)).unwrap();
    c.decisions().wait_decision(t2, Duration::from_secs(2)).unwrap();
    assert_eq!(flow_requests(&emu).len(), 3);
}

#[test]
fn prefetch_is_ready_before_wait_and_tickets_are_claimed_once() {
    let emu = emulator();
    let c = client(&emu, json!({}));
    let bid = new_browser(&emu);
    faults(&emu, json!({"routes": {"callflows": {"latency_ms": 80}}}));
    let t = Instant::now();
    let tk = c.decisions().begin_decide(&req("home_page_banner", &bid), Some(UA)).unwrap();
    assert!(t.elapsed() < Duration::from_millis(50), "begin returns at once: {:?}", t.elapsed());
    assert_eq!(c.decisions().decision_ready(tk), Ok(false));
    // The page renders meanwhile.
    common::wait_for(Duration::from_secs(2), || c.decisions().decision_ready(tk).unwrap().then_some(())).expect("ready");
    let t = Instant::now();
    let d = c.decisions().wait_decision(tk, Duration::from_millis(1)).expect("already there");
    assert!(t.elapsed() < Duration::from_millis(25));
    assert_eq!(d.json().unwrap()["variantId"], "banner-visitor");
    assert_eq!(c.decisions().wait_decision(tk, Duration::from_millis(10)).unwrap_err().kind, ErrorKind::TicketUnknown);
    assert_eq!(c.decisions().wait_decision(Ticket(987_654_321), Duration::from_millis(10)).unwrap_err().kind, ErrorKind::TicketUnknown);
    assert_eq!(c.decisions().decision_ready(tk).unwrap_err().kind, ErrorKind::TicketUnknown);

    // Waiting with a budget shorter than the remaining latency: Timeout, and the ticket is spent.
    faults(&emu, json!({"routes": {"callflows": {"latency_ms": 300}}}));
    let tk = c.decisions().begin_decide(&req("home_page_banner", &bid), None).unwrap();
    assert_eq!(c.decisions().wait_decision(tk, Duration::from_millis(30)).unwrap_err().kind, ErrorKind::Timeout);
    assert_eq!(c.decisions().wait_decision(tk, Duration::from_millis(30)).unwrap_err().kind, ErrorKind::TicketUnknown);
}

#[test]
fn unclaimed_tickets_expire_and_are_swept() {
    let emu = emulator();
    let c = client(&emu, json!({"decisionTicketTtlMs": 100}));
    let bid = new_browser(&emu);
    let tickets: Vec<Ticket> = (0..50)
        .map(|i| {
            let mut r = req("home_page_banner", &bid);
            r.params = Map::from_iter([("i".to_string(), json!(i))]);
            c.decisions().begin_decide(&r, None).unwrap()
        })
        .collect();
    assert_eq!(c.decisions().stats().tickets_outstanding, 50);
    common::wait_for(Duration::from_secs(2), || (c.decisions().stats().tickets_outstanding == 0).then_some(())).expect("swept");
    assert_eq!(c.decisions().stats().tickets_expired, 50);
    for t in tickets {
        assert_eq!(c.decisions().wait_decision(t, Duration::ZERO).unwrap_err().kind, ErrorKind::TicketUnknown);
    }
    // The table is bounded.
    let c = client(&emu, json!({"decisionMaxTickets": 2}));
    c.decisions().begin_decide(&req("home_page_banner", &bid), None).unwrap();
    c.decisions().begin_decide(&req("promo_spring", &bid), None).unwrap();
    assert_eq!(c.decisions().begin_decide(&req("promo_summer", &bid), None).unwrap_err().kind, ErrorKind::QueueFull);
}

#[test]
fn cache_is_opt_in_per_flow() {
    let emu = emulator();
    let c = client(&emu, json!({"decisionCacheTtlMs": {"home_page_banner": 300}}));
    let bid = new_browser(&emu);
    let r = req("home_page_banner", &bid);
    assert_eq!(c.decisions().decide(&r, None, Duration::from_secs(2)).unwrap().source, DecisionSource::Network);
    let d = c.decisions().decide(&r, None, Duration::from_secs(2)).unwrap();
    assert_eq!(d.source, DecisionSource::Cache);
    assert_eq!(flow_requests(&emu).len(), 1);
    // Another visitor is another key.
    let other = new_browser(&emu);
    assert_eq!(c.decisions().decide(&req("home_page_banner", &other), None, Duration::from_secs(2)).unwrap().source, DecisionSource::Network);
    // Flows without a TTL are never cached.
    for _ in 0..2 {
        assert_eq!(c.decisions().decide(&req("promo_spring", &bid), None, Duration::from_secs(2)).unwrap().source, DecisionSource::Network);
    }
    assert_eq!(flow_requests(&emu).len(), 4);
    // Expiry.
    std::thread::sleep(Duration::from_millis(320));
    assert_eq!(c.decisions().decide(&r, None, Duration::from_secs(2)).unwrap().source, DecisionSource::Network);
    // Errors are not cached.
    assert_eq!(c.decisions().stats().cache_hits, 1);
}

/// The C ABI path: the request thread copies the fields once and the runtime task renders the body, so what
/// reaches callFlows must still be the model's body, identical prefetches must still share one call, and a
/// ticket must still answer only to its own client (issue 17).
#[test]
fn c_abi_prefetches_coalesce_and_send_the_models_body() {
    use xmcdp::ffi::status::xmcdp_status_t::*;
    use xmcdp::ffi::{
        xmcdp_client_decision_begin, xmcdp_client_decision_wait, xmcdp_client_delete, xmcdp_client_new, xmcdp_decision_request_t, xmcdp_str_t,
    };
    fn s(v: &str) -> xmcdp_str_t {
        xmcdp_str_t { ptr: v.as_ptr(), len: v.len() }
    }
    let emu = emulator();
    let bid = new_browser(&emu);
    let settings = format!(r#"{{"clientKey":"ck_test","targetUrl":"{}","pointOfSale":"myretailsite/ireland"}}"#, emu.base_url());
    let (mut a, mut b) = (0, 0);
    assert_eq!(xmcdp_client_new(s(&settings), &mut a), XMCDP_STATUS_OK);
    assert_eq!(xmcdp_client_new(s(&settings), &mut b), XMCDP_STATUS_OK);
    faults(&emu, json!({"routes": {"callflows": {"latency_ms": 150}}}));
    let params = r#"{ "customer": {"tier": "gold", "points": 10}, "flag": true }"#;
    let mut r: xmcdp_decision_request_t = unsafe { std::mem::zeroed() };
    r.friendly_id = s("home_page_banner");
    r.browser_id = s(&bid);
    r.channel = s("WEB");
    r.params_json = s(params);
    r.user_agent = s(UA);
    let mut other = r;
    other.params_json = s(r#"{"customer":{"tier":"silver"}}"#);
    let mut tickets = [0u64; 3];
    for (t, req) in tickets.iter_mut().zip([&r, &r, &other]) {
        assert_eq!(xmcdp_client_decision_begin(a, req, t), XMCDP_STATUS_OK);
    }
    let mut buf = vec![0u8; 4096];
    let mut n = 0usize;
    // Client B cannot claim A's ticket, and trying does not spend it.
    assert_eq!(xmcdp_client_decision_wait(b, tickets[0], 10, buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_TICKET_UNKNOWN);
    for t in tickets {
        assert_eq!(xmcdp_client_decision_wait(a, t, 2000, buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
        let v: Value = serde_json::from_slice(&buf[..n]).unwrap();
        assert_eq!(v["variantId"], "banner-visitor", "{v}");
    }
    let reqs = flow_requests(&emu);
    assert_eq!(reqs.len(), 2, "the two identical prefetches shared one call");
    let mut model = req("home_page_banner", &bid);
    model.currency = None;
    model.language = None;
    model.params = serde_json::from_str(params).unwrap();
    let ctx = BodyContext::classic("ck_test", "myretailsite/ireland");
    let bodies: Vec<&str> = reqs.iter().map(|q| q["body"].as_str().unwrap()).collect();
    assert!(bodies.contains(&String::from_utf8(model.to_body(&ctx)).unwrap().as_str()), "{bodies:?}");
    model.params = serde_json::from_str(r#"{"customer":{"tier":"silver"}}"#).unwrap();
    assert!(bodies.contains(&String::from_utf8(model.to_body(&ctx)).unwrap().as_str()), "{bodies:?}");
    assert!(reqs.iter().all(|q| q["headers"]["user-agent"] == UA));
    assert_eq!(xmcdp_client_delete(a), XMCDP_STATUS_OK);
    assert_eq!(xmcdp_client_delete(b), XMCDP_STATUS_OK);
}

/// The `xmcdp-worker` threads of this process not in `skip` whose scheduling policy (field 41 of
/// `/proc/self/task/<tid>/stat`) is `want`, once there are at least `n` (on_thread_start runs on the thread,
/// after the client exists). Other tests' clients run in this process too, hence "at least".
#[cfg(target_os = "linux")]
fn workers_with_policy(skip: &[String], want: u32, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut found = Vec::new();
        for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let tid = t.file_name().to_string_lossy().into_owned();
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.trim() != "xmcdp-worker" || skip.contains(&tid) {
                continue;
            }
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            // Fields after the parenthesised name: state is field 3, policy field 41.
            let Some(close) = stat.rfind(')') else { continue };
            let policy: Option<u32> = stat[close + 2..].split(' ').nth(41 - 3).and_then(|p| p.parse().ok());
            if policy == Some(want) {
                found.push(tid);
            }
        }
        if found.len() >= n || Instant::now() > deadline {
            assert!(found.len() >= n, "only {found:?} of the workers have policy {want}");
            return found;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waking a runtime thread (a prefetch) must not preempt the request thread: by default the runtime's threads
/// are SCHED_BATCH (3); `workerThreadsBatch: false` leaves them SCHED_OTHER (0).
#[cfg(target_os = "linux")]
#[test]
fn runtime_threads_do_not_preempt_request_threads_unless_told() {
    let emu = emulator();
    let batch = client(&emu, json!({"workerThreads": 2}));
    let first = workers_with_policy(&[], 3, 2);
    let normal = client(&emu, json!({"workerThreads": 2, "workerThreadsBatch": false}));
    workers_with_policy(&first, 0, 2);
    // Both still decide.
    let bid = new_browser(&emu);
    for c in [&batch, &normal] {
        c.decisions().decide(&req("home_page_banner", &bid), None, Duration::from_secs(2)).expect("decision");
    }
}
