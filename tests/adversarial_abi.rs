//! Regressions from the adversarial pass over the C ABI (issue 17): shutdown and delete with calls in flight,
//! tickets across clients, and the Guest API token through a plain-http proxy. Each test drives the real C
//! entry points (or the real client) against real sockets: the emulator, a black hole, a proxy stand-in.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use xmcdp::ffi::status::xmcdp_status_t::{self, *};
use xmcdp::ffi::*;
use xmcdp_emulator::{spawn, EmulatorConfig};

fn s(v: &str) -> xmcdp_str_t {
    xmcdp_str_t { ptr: v.as_ptr(), len: v.len() }
}

fn last_error() -> String {
    let mut buf = vec![0u8; 8192];
    let mut n = 0usize;
    assert_eq!(xmcdp_last_error(buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

fn new_client(json: &str) -> xmcdp_client_t {
    let mut c = 0;
    assert_eq!(xmcdp_client_new(s(json), &mut c), XMCDP_STATUS_OK, "{}", last_error());
    c
}

/// A server that accepts connections and reads requests but never answers: every call to it runs into its
/// budget unless something else ends it.
fn black_hole() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for conn in l.incoming().flatten() {
            thread::spawn(move || {
                let mut conn = conn;
                let mut buf = [0u8; 4096];
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    format!("http://{addr}")
}

/// Runs `call` on another thread, shuts the client down from this one while the call waits, and returns the
/// call's status and how long it took.
fn shutdown_during(c: xmcdp_client_t, call: impl FnOnce() -> xmcdp_status_t + Send + 'static) -> (xmcdp_status_t, Duration) {
    let t = thread::spawn(move || {
        let start = Instant::now();
        (call(), start.elapsed())
    });
    thread::sleep(Duration::from_millis(300));
    xmcdp_client_shutdown(c, 0);
    t.join().unwrap()
}

#[test]
fn shutdown_ends_in_flight_browser_creates_and_guest_calls_with_shut_down() {
    let hole = black_hole();
    let json = format!(
        r#"{{"clientKey":"ck_test","targetUrl":"{hole}","pointOfSale":"p","apiToken":"tok_test","guestApiTimeoutMs":10000}}"#
    );
    // Budget 10 s; the call must come back within 2 s of the shutdown, saying SHUT_DOWN (not TIMEOUT).
    let c = new_client(&json);
    let (status, took) = shutdown_during(c, move || {
        let mut id = unsafe { std::mem::zeroed::<xmcdp_browser_id_t>() };
        let mut buf = [0u8; 2048];
        let mut n = 0usize;
        xmcdp_client_browser_ensure(c, s(""), 10_000, &mut id, buf.as_mut_ptr(), buf.len(), &mut n)
    });
    assert_eq!((status, took < Duration::from_secs(2)), (XMCDP_STATUS_SHUT_DOWN, true), "browser create: {status:?} after {took:?}");
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);

    let c = new_client(&json);
    let (status, took) = shutdown_during(c, move || {
        let mut buf = [0u8; 2048];
        let mut n = 0usize;
        xmcdp_client_guest_get(c, s("guest-ref-1"), 0, 10_000, buf.as_mut_ptr(), buf.len(), &mut n)
    });
    assert_eq!((status, took < Duration::from_secs(2)), (XMCDP_STATUS_SHUT_DOWN, true), "guest get: {status:?} after {took:?}");
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);

    let c = new_client(&json);
    let (status, took) = shutdown_during(c, move || {
        let mut buf = [0u8; 2048];
        let mut n = 0usize;
        xmcdp_client_browser_guest_ref(c, s("a38b230c-11eb-4cf9-8d5d-274e9f344925"), 10_000, buf.as_mut_ptr(), buf.len(), &mut n)
    });
    assert_eq!((status, took < Duration::from_secs(2)), (XMCDP_STATUS_SHUT_DOWN, true), "browser show: {status:?} after {took:?}");
    // After shutdown, a new call says SHUT_DOWN at once.
    let mut buf = [0u8; 2048];
    let mut n = 0usize;
    assert_eq!(xmcdp_client_guest_get(c, s("g"), 0, 10_000, buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_SHUT_DOWN);
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);

    // The same for decisions (a direct call and a prefetch claimed while its call hangs), which did it already.
    let c = new_client(&format!(r#"{{"clientKey":"ck_test","targetUrl":"{hole}","pointOfSale":"p","decisionTimeoutMs":10000}}"#));
    let (status, took) = shutdown_during(c, move || {
        let req = decision_request("home_page_banner");
        let mut buf = [0u8; 2048];
        let mut n = 0usize;
        xmcdp_client_decide(c, &req, 10_000, buf.as_mut_ptr(), buf.len(), &mut n)
    });
    assert_eq!((status, took < Duration::from_secs(2)), (XMCDP_STATUS_SHUT_DOWN, true), "decide: {status:?} after {took:?}");
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
    let c = new_client(&format!(r#"{{"clientKey":"ck_test","targetUrl":"{hole}","pointOfSale":"p","decisionTimeoutMs":10000}}"#));
    let mut ticket = 0;
    assert_eq!(xmcdp_client_decision_begin(c, &decision_request("other_flow"), &mut ticket), XMCDP_STATUS_OK);
    let (status, took) = shutdown_during(c, move || {
        let mut buf = [0u8; 2048];
        let mut n = 0usize;
        xmcdp_client_decision_wait(c, ticket, 10_000, buf.as_mut_ptr(), buf.len(), &mut n)
    });
    assert_eq!((status, took < Duration::from_secs(2)), (XMCDP_STATUS_SHUT_DOWN, true), "ticket wait: {status:?} after {took:?}");
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
}

fn decision_request(friendly_id: &str) -> xmcdp_decision_request_t {
    // All-zero is the documented "everything absent" value.
    let mut r: xmcdp_decision_request_t = unsafe { std::mem::zeroed() };
    r.friendly_id = s(friendly_id);
    r
}

#[test]
fn delete_without_shutdown_never_makes_a_request_thread_pay_the_drain() {
    let emu = spawn(EmulatorConfig::default()).unwrap();
    let faults = r#"{"routes":{"callflows":{"latency_ms":300},"events":{"error_rate":1.0,"error_status":503}}}"#;
    common::admin(&emu.base_url()).set_faults(&serde_json::from_str(faults).unwrap()).expect("faults");
    let c = new_client(&format!(r#"{{"clientKey":"ck_test","targetUrl":"{}","pointOfSale":"p"}}"#, emu.base_url()));
    // Events that keep failing: the implicit shutdown drains for its whole 2 s deadline.
    let mut pv: xmcdp_page_view_t = unsafe { std::mem::zeroed() };
    let bid = "a38b230c-11eb-4cf9-8d5d-274e9f344925";
    pv.common.browser_id = s(bid);
    for _ in 0..20 {
        assert_eq!(xmcdp_client_page_view(c, &pv), XMCDP_STATUS_OK, "{}", last_error());
    }
    let decide = thread::spawn(move || {
        let req = decision_request("home_page_banner");
        let mut buf = [0u8; 4096];
        let mut n = 0usize;
        let start = Instant::now();
        let status = xmcdp_client_decide(c, &req, 5_000, buf.as_mut_ptr(), buf.len(), &mut n);
        (status, start.elapsed())
    });
    thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
    let delete_took = start.elapsed();
    let (status, decide_took) = decide.join().unwrap();
    eprintln!("delete took {delete_took:?}; the 300 ms decide took {decide_took:?} ({status:?})");
    // The decide answers after its 300 ms (or says SHUT_DOWN), never after the 2 s drain.
    assert!(matches!(status, XMCDP_STATUS_OK | XMCDP_STATUS_SHUT_DOWN), "{status:?}");
    assert!(decide_took < Duration::from_millis(1500), "the request thread paid the drain: {decide_took:?}");
}

/// The 16-bit check a ticket carried before issue 17 (handle bits folded): clients that share it could
/// trade tickets when their ids matched.
fn legacy_check(h: u64) -> u64 {
    (h ^ (h >> 16) ^ (h >> 32)) & 0xffff
}

#[test]
fn a_ticket_of_one_client_is_unknown_to_every_other() {
    // Churn handles until two live clients share the old check (as the probe found within 40 clients).
    let json = r#"{"clientKey":"ck_test","targetUrl":"http://127.0.0.1:9","pointOfSale":"p","workerThreads":1}"#;
    let mut live: Vec<xmcdp_client_t> = Vec::new();
    let mut pair = None;
    for _ in 0..400 {
        let c = new_client(json);
        if let Some(&a) = live.iter().find(|&&a| legacy_check(a) == legacy_check(c)) {
            pair = Some((a, c));
            live.push(c);
            break;
        }
        live.push(c);
        if live.len() > 12 {
            assert_eq!(xmcdp_client_delete(live.remove(live.len() / 2)), XMCDP_STATUS_OK);
        }
    }
    let (a, b) = pair.expect("two live clients with the same folded handle check");
    let req = decision_request("home_page_banner");
    let mut tickets = Vec::new();
    for &c in &live {
        let mut t = 0;
        assert_eq!(xmcdp_client_decision_begin(c, &req, &mut t), XMCDP_STATUS_OK, "{}", last_error());
        tickets.push((c, t));
    }
    // Every client's ticket, offered to every other client: unknown there, and nothing consumed.
    for &(owner, t) in &tickets {
        for &(other, _) in &tickets {
            if other != owner {
                let mut ready = 0u8;
                assert_eq!(xmcdp_client_decision_ready(other, t, &mut ready), XMCDP_STATUS_TICKET_UNKNOWN, "{owner:#x}'s ticket at {other:#x}");
            }
        }
    }
    let ticket_of = |c| tickets.iter().find(|(o, _)| *o == c).unwrap().1;
    let mut buf = [0u8; 4096];
    let mut n = 0usize;
    assert_eq!(xmcdp_client_decision_wait(b, ticket_of(a), 2_000, buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_TICKET_UNKNOWN);
    // b's own ticket is still there (the foreign wait consumed nothing) and a's still belongs to a.
    let mut ready = 0u8;
    assert_eq!(xmcdp_client_decision_ready(b, ticket_of(b), &mut ready), XMCDP_STATUS_OK);
    assert_eq!(xmcdp_client_decision_ready(a, ticket_of(a), &mut ready), XMCDP_STATUS_OK);
    for c in live {
        assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
    }
}

/// A plain-http proxy stand-in: records every byte it receives and answers 502 to everything.
fn recording_proxy() -> (String, Arc<Mutex<Vec<u8>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let seen = seen2.clone();
            thread::spawn(move || {
                let mut conn: TcpStream = conn;
                conn.set_read_timeout(Some(Duration::from_millis(500))).ok();
                let mut buf = [0u8; 8192];
                let mut got = Vec::new();
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if got.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                seen.lock().unwrap().extend_from_slice(&got);
                let _ = conn.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            });
        }
    });
    (format!("http://{addr}"), seen)
}

#[test]
fn the_api_token_never_goes_through_a_plain_http_proxy() {
    // The emulator's token for ck_test, so the direct call is answered for real.
    const TOKEN: &str = "tok_test";
    let creds_b64 = "Y2tfdGVzdDp0b2tfdGVzdA=="; // ck_test:tok_test
    let emu = spawn(EmulatorConfig::default()).unwrap();
    let (proxy, seen) = recording_proxy();
    // A loopback guestApiUrl over http://: the token may go there, but only straight, never via the proxy.
    let c = new_client(&format!(
        r#"{{"clientKey":"ck_test","targetUrl":"https://cdp.example.invalid","pointOfSale":"p","proxy":"{proxy}","apiToken":"{TOKEN}","guestApiUrl":"{}"}}"#,
        emu.base_url()
    ));
    let mut buf = [0u8; 4096];
    let mut n = 0usize;
    let status = xmcdp_client_guest_get(c, s("no-such-guest"), 0, 5_000, buf.as_mut_ptr(), buf.len(), &mut n);
    assert_eq!(status, XMCDP_STATUS_NOT_FOUND, "{}", last_error());
    let reached = common::admin(&emu.base_url()).requests().unwrap();
    assert!(reached.to_string().contains("/v2.1/guests/no-such-guest"), "the call went straight to the loopback guest API");
    // An https:// target is tunnelled (CONNECT): the proxy sees the host, never the token.
    let c2 = new_client(&format!(
        r#"{{"clientKey":"ck_test","targetUrl":"https://cdp.example.invalid","pointOfSale":"p","proxy":"{proxy}","apiToken":"{TOKEN}"}}"#
    ));
    let status = xmcdp_client_guest_get(c2, s("g1"), 0, 5_000, buf.as_mut_ptr(), buf.len(), &mut n);
    assert_ne!(status, XMCDP_STATUS_OK);
    let seen = String::from_utf8_lossy(&seen.lock().unwrap()).to_string();
    assert!(seen.contains("CONNECT cdp.example.invalid:443"), "the https call went through the proxy: {seen:?}");
    for secret in [TOKEN, creds_b64, "Authorization", "authorization"] {
        assert!(!seen.contains(secret), "the proxy received {secret:?}: {seen:?}");
    }
    for h in [c, c2] {
        assert_eq!(xmcdp_client_delete(h), XMCDP_STATUS_OK);
    }
}
