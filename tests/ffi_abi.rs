//! The C ABI called directly from Rust: bad handles, NULL pointers, per-thread last error, races between
//! calls and delete, and the log queue's buffer protocol. No network: clients point at a closed port.

use std::ptr::{null, null_mut};
use std::sync::Mutex;
use xmcdp::ffi::status::xmcdp_status_t::{self, *};
use xmcdp::ffi::*;

/// Tests share the process-wide log queue; the ones that create clients or read logs take this.
static SERIAL: Mutex<()> = Mutex::new(());

fn s(v: &str) -> xmcdp_str_t {
    xmcdp_str_t { ptr: v.as_ptr(), len: v.len() }
}

fn last_error() -> String {
    let mut buf = vec![0u8; 4096];
    let mut n = 0usize;
    assert_eq!(xmcdp_last_error(buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

fn new_client() -> xmcdp_client_t {
    let mut c = 0;
    let json = r#"{"clientKey":"ck_test","targetUrl":"http://127.0.0.1:9","pointOfSale":"myretailsite/ireland"}"#;
    assert_eq!(xmcdp_client_new(s(json), &mut c), XMCDP_STATUS_OK, "{}", last_error());
    assert_ne!(c, 0);
    c
}

fn empty_page_view() -> xmcdp_page_view_t {
    // All-zero is the documented "everything absent" value.
    unsafe { std::mem::zeroed() }
}

#[test]
fn garbage_handles_are_rejected_not_dereferenced() {
    let pv = empty_page_view();
    let mut n = 0usize;
    for h in [0u64, 1, u64::MAX, 0xdead_beef, 0x0100_0001_0000_0000 + 12345, 0x0200_0001_0000_0000] {
        assert_eq!(xmcdp_client_page_view(h, &pv), XMCDP_STATUS_INVALID_HANDLE, "{h:#x}");
        assert_eq!(xmcdp_client_shutdown(h, 0), XMCDP_STATUS_INVALID_HANDLE, "{h:#x}");
        assert_eq!(xmcdp_client_stats(h, null_mut(), 0, &mut n), XMCDP_STATUS_INVALID_HANDLE, "{h:#x}");
        assert_eq!(xmcdp_client_delete(h), XMCDP_STATUS_INVALID_HANDLE, "{h:#x}");
    }
}

#[test]
fn double_delete_and_use_after_delete_are_invalid_handle() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = new_client();
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_INVALID_HANDLE);
    assert!(last_error().contains("not live"), "{}", last_error());
    let pv = empty_page_view();
    assert_eq!(xmcdp_client_page_view(c, &pv), XMCDP_STATUS_INVALID_HANDLE);
    // The freed slot is reused under a new generation: the old handle stays dead.
    let c2 = new_client();
    assert_ne!(c, c2);
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_INVALID_HANDLE);
    assert_eq!(xmcdp_client_delete(c2), XMCDP_STATUS_OK);
}

#[test]
fn null_pointers_are_reported_by_name() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = new_client();
    let mut n = 0usize;
    let mut level = 0u32;
    let check = |status: xmcdp_status_t, field: &str| {
        assert_eq!(status, XMCDP_STATUS_NULL_POINTER, "{field}");
        assert!(last_error().contains(field), "{field}: {}", last_error());
    };
    check(xmcdp_client_new(s("{}"), null_mut()), "out_client");
    check(xmcdp_client_page_view(c, null()), "page_view");
    check(xmcdp_client_identity(c, null()), "identity");
    check(xmcdp_client_event(c, null()), "custom_event");
    check(xmcdp_client_stats(c, null_mut(), 0, null_mut()), "out_len");
    check(xmcdp_client_stats(c, null_mut(), 16, &mut n), "buf");
    check(xmcdp_log_next(0, null_mut(), null_mut(), 0, &mut n), "out_level");
    check(xmcdp_log_next(0, &mut level, null_mut(), 0, null_mut()), "out_len");
    assert_eq!(xmcdp_last_error(null_mut(), 0, null_mut()), XMCDP_STATUS_NULL_POINTER);
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
}

#[test]
fn last_error_is_per_thread_and_survives_its_own_failures() {
    let t = std::thread::spawn(|| {
        assert_eq!(xmcdp_client_new(s("{"), &mut 0), XMCDP_STATUS_INVALID_JSON);
        last_error()
    });
    assert_eq!(xmcdp_client_delete(0), XMCDP_STATUS_INVALID_HANDLE);
    let other = t.join().unwrap();
    let mine = last_error();
    assert!(mine.contains("handle"), "{mine}");
    assert_ne!(mine, other);
    let mut n = 0usize;
    let mut small = [0u8; 2];
    assert_eq!(xmcdp_last_error(small.as_mut_ptr(), small.len(), &mut n), XMCDP_STATUS_BUFFER_TOO_SMALL);
    assert_eq!(n, mine.len());
    assert_eq!(last_error(), mine, "a failed read must not replace the message");
}

#[test]
fn every_status_number_has_its_name() {
    for n in 0..200u32 {
        let name = xmcdp_status_name(n);
        let name = unsafe { std::str::from_utf8(std::slice::from_raw_parts(name.ptr, name.len)).unwrap() };
        match xmcdp_status_t::from_u32(n) {
            Some(st) => assert_eq!(name, st.name()),
            None => assert_eq!(name, "UNKNOWN"),
        }
    }
}

#[test]
fn calls_racing_delete_never_crash() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = new_client();
    let workers: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let mut pv = empty_page_view();
                let page = format!("page-{i}");
                pv.common.page = s(&page);
                // Call until the delete on the main thread is observed (bounded in time).
                let started = std::time::Instant::now();
                loop {
                    let st = xmcdp_client_page_view(c, &pv);
                    assert!(
                        matches!(st, XMCDP_STATUS_OK | XMCDP_STATUS_INVALID_HANDLE | XMCDP_STATUS_SHUT_DOWN | XMCDP_STATUS_QUEUE_FULL),
                        "{st:?}: {}",
                        last_error()
                    );
                    if st == XMCDP_STATUS_INVALID_HANDLE {
                        return true;
                    }
                    if started.elapsed() > std::time::Duration::from_secs(20) {
                        return false;
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
    for w in workers {
        assert!(w.join().expect("worker panicked"), "a worker never saw the handle die");
    }
}

#[test]
fn log_next_keeps_a_record_that_does_not_fit() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut level = 0u32;
    let mut n = 0usize;
    let mut buf = vec![0u8; 8192];
    while xmcdp_log_next(0, &mut level, buf.as_mut_ptr(), buf.len(), &mut n) == XMCDP_STATUS_OK {}
    let message = "ffi_abi: a record of known length";
    xmcdp::log::warn(message);
    assert_eq!(xmcdp_log_next(100, &mut level, null_mut(), 0, &mut n), XMCDP_STATUS_BUFFER_TOO_SMALL);
    assert_eq!(n, message.len());
    assert_eq!(xmcdp_log_next(0, &mut level, buf.as_mut_ptr(), 4, &mut n), XMCDP_STATUS_BUFFER_TOO_SMALL);
    assert_eq!(xmcdp_log_next(0, &mut level, buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
    assert_eq!((&buf[..n], level), (message.as_bytes(), 2));
    assert_eq!(xmcdp_log_next(20, &mut level, buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_NO_RECORD);
}

#[test]
fn api_guard_matches_the_inventory() {
    let guard = xmcdp_api_guard();
    assert_eq!(guard, interoptopus::patterns::api_guard::APIVersion::from_inventory(&ffi_inventory()));
    assert_eq!(xmcdp_version(), VERSION_NUMBER);
}

// ---- decisions, browser ids, guests ----

fn client_at(target_url: &str, extra: &str) -> xmcdp_client_t {
    let mut c = 0;
    let json = format!(r#"{{"clientKey":"ck_test","targetUrl":"{target_url}","pointOfSale":"myretailsite/ireland"{extra}}}"#);
    assert_eq!(xmcdp_client_new(s(&json), &mut c), XMCDP_STATUS_OK, "{}", last_error());
    c
}

/// A client whose CDP refuses connections (port 9).
fn client_with(extra: &str) -> xmcdp_client_t {
    client_at("http://127.0.0.1:9", extra)
}

/// A server that accepts connections and never answers: every call to it runs into its budget.
fn silent_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    format!("http://{addr}")
}

fn decision_request(friendly_id: &str) -> xmcdp_decision_request_t {
    let mut r: xmcdp_decision_request_t = unsafe { std::mem::zeroed() };
    r.friendly_id = s(friendly_id);
    r
}

/// Calls `f(buf, cap, out_len)` with a 4 KiB buffer; the status and the output as text.
fn out(f: impl FnOnce(*mut u8, usize, *mut usize) -> xmcdp_status_t) -> (xmcdp_status_t, String) {
    let mut buf = vec![0u8; 4096];
    let mut n = 0usize;
    let st = f(buf.as_mut_ptr(), buf.len(), &mut n);
    let n = if st == XMCDP_STATUS_OK { n } else { 0 };
    (st, String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn stats(c: xmcdp_client_t) -> serde_json::Value {
    let (st, json) = out(|b, cap, n| xmcdp_client_stats(c, b, cap, n));
    assert_eq!(st, XMCDP_STATUS_OK, "{}", last_error());
    serde_json::from_str(&json).unwrap()
}

#[test]
fn new_exports_reject_garbage_handles() {
    let r = decision_request("home_page_banner");
    let mut ticket = 0u64;
    let mut ready = 0u8;
    let mut id: xmcdp_browser_id_t = unsafe { std::mem::zeroed() };
    for h in [0u64, 1, u64::MAX, 0xdead_beef, 0x0100_0001_0000_0000 + 12345, 0x0200_0001_0000_0001] {
        assert_eq!(out(|b, c, n| xmcdp_client_decide(h, &r, 10, b, c, n)).0, XMCDP_STATUS_INVALID_HANDLE, "{h:#x}");
        assert_eq!(xmcdp_client_decision_begin(h, &r, &mut ticket), XMCDP_STATUS_INVALID_HANDLE, "{h:#x}");
        assert_eq!(ticket, 0);
        assert_eq!(xmcdp_client_decision_ready(h, 1, &mut ready), XMCDP_STATUS_INVALID_HANDLE, "{h:#x}");
        assert_eq!(out(|b, c, n| xmcdp_client_decision_wait(h, 1, 10, b, c, n)).0, XMCDP_STATUS_INVALID_HANDLE, "{h:#x}");
        assert_eq!(out(|b, c, n| xmcdp_client_browser_ensure(h, s("bid_ck_test=abc"), 10, &mut id, b, c, n)).0, XMCDP_STATUS_INVALID_HANDLE);
        assert_eq!(out(|b, c, n| xmcdp_client_browser_guest_ref(h, s("abc"), 10, b, c, n)).0, XMCDP_STATUS_INVALID_HANDLE);
        assert_eq!(out(|b, c, n| xmcdp_client_guest_get(h, s("abc"), 0, 10, b, c, n)).0, XMCDP_STATUS_INVALID_HANDLE);
        assert_eq!(out(|b, c, n| xmcdp_client_guest_extension_delete(h, s("abc"), s("ext"), 10, b, c, n)).0, XMCDP_STATUS_INVALID_HANDLE);
    }
}

#[test]
fn new_exports_name_their_null_pointers_and_bad_fields() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = client_with("");
    let r = decision_request("home_page_banner");
    let mut n = 0usize;
    let mut ticket = 0u64;
    let mut id: xmcdp_browser_id_t = unsafe { std::mem::zeroed() };
    let check = |status: xmcdp_status_t, want: xmcdp_status_t, field: &str| {
        assert_eq!(status, want, "{field}: {}", last_error());
        assert!(last_error().contains(field), "{field}: {}", last_error());
    };
    check(xmcdp_client_decide(c, null(), 10, null_mut(), 0, &mut n), XMCDP_STATUS_NULL_POINTER, "request");
    check(xmcdp_client_decide(c, &r, 10, null_mut(), 0, null_mut()), XMCDP_STATUS_NULL_POINTER, "out_len");
    check(xmcdp_client_decide(c, &r, 10, null_mut(), 8, &mut n), XMCDP_STATUS_NULL_POINTER, "buf");
    check(xmcdp_client_decision_begin(c, null(), &mut ticket), XMCDP_STATUS_NULL_POINTER, "request");
    check(xmcdp_client_decision_begin(c, &r, null_mut()), XMCDP_STATUS_NULL_POINTER, "out_ticket");
    check(xmcdp_client_decision_ready(c, 1, null_mut()), XMCDP_STATUS_NULL_POINTER, "out_ready");
    check(xmcdp_client_decision_wait(c, 1, 10, null_mut(), 0, null_mut()), XMCDP_STATUS_NULL_POINTER, "out_len");
    check(xmcdp_client_browser_ensure(c, s(""), 10, null_mut(), null_mut(), 0, &mut n), XMCDP_STATUS_NULL_POINTER, "out_id");
    check(xmcdp_client_browser_ensure(c, s(""), 10, &mut id, null_mut(), 0, null_mut()), XMCDP_STATUS_NULL_POINTER, "out_len");
    check(xmcdp_client_browser_guest_ref(c, xmcdp_str_t::NONE, 10, null_mut(), 0, &mut n), XMCDP_STATUS_NULL_POINTER, "browser_id");
    check(xmcdp_client_guest_get(c, xmcdp_str_t::NONE, 0, 10, null_mut(), 0, &mut n), XMCDP_STATUS_NULL_POINTER, "guest_ref");
    check(
        xmcdp_client_guest_extension_create(c, s("g-1"), s("ext"), xmcdp_str_t::NONE, 10, null_mut(), 0, &mut n),
        XMCDP_STATUS_NULL_POINTER,
        "data_json",
    );
    check(
        xmcdp_client_guest_extension_delete_fields(c, s("g-1"), s("ext"), null(), 3, 10, null_mut(), 0, &mut n),
        XMCDP_STATUS_NULL_POINTER,
        "fields",
    );
    check(xmcdp_result_take(null_mut(), 0, null_mut()), XMCDP_STATUS_NULL_POINTER, "out_len");

    // Request fields: every one is named, invalid UTF-8 and oversize alike, and nothing is sent.
    let big = "a".repeat(64 * 1024 + 1);
    let variants: Vec<xmcdp_str_t> = (0..65).map(|_| s("v")).collect();
    type Edit<'a> = Box<dyn Fn(&mut xmcdp_decision_request_t) + 'a>;
    let cases: Vec<(Edit, xmcdp_status_t, &str)> = vec![
        (Box::new(|r| r.email = BAD_UTF8), XMCDP_STATUS_INVALID_UTF8, "request.email"),
        (Box::new(|r| r.language = xmcdp_str_t { ptr: null(), len: 2 }), XMCDP_STATUS_INVALID_ARGUMENT, "request.language"),
        (Box::new(|r| r.params_json = s(&big)), XMCDP_STATUS_TOO_LARGE, "request.params_json"),
        (Box::new(|r| r.params_json = s("{\"a\":")), XMCDP_STATUS_INVALID_FIELD, "request.params_json"),
        // Checked without building it, but refused exactly as a full parse refuses it.
        (Box::new(|r| r.params_json = s("[1]")), XMCDP_STATUS_INVALID_FIELD, "request.params_json: not a JSON object"),
        (Box::new(|r| r.params_json = s("{\"a\":1} x")), XMCDP_STATUS_INVALID_FIELD, "request.params_json: invalid JSON at line 1 column 9"),
        (Box::new(|r| r.params_json = s("{\"a\":1e400}")), XMCDP_STATUS_INVALID_FIELD, "request.params_json: invalid JSON"),
        (Box::new(|r| r.params_json = s("{\"a\":\"\\ud800\"}")), XMCDP_STATUS_INVALID_FIELD, "request.params_json: invalid JSON"),
        (Box::new(|r| r.params_json = s(DEEP_PARAMS)), XMCDP_STATUS_INVALID_FIELD, "nested deeper than 32 levels"),
        (Box::new(|r| r.user_agent = s(&big)), XMCDP_STATUS_TOO_LARGE, "request.user_agent"),
        (Box::new(|r| r.friendly_id = s("  ")), XMCDP_STATUS_MISSING_FRIENDLY_ID, "friendlyId"),
        (Box::new(|r| r.email = s("not-an-email")), XMCDP_STATUS_INVALID_EMAIL, ""),
        (Box::new(|r| r.guest_ref = s("g/../x")), XMCDP_STATUS_INVALID_FIELD, "guestRef"),
        (
            Box::new(move |r| {
                r.page_variant_ids = variants.as_ptr();
                r.page_variant_ids_len = variants.len();
            }),
            XMCDP_STATUS_TOO_LARGE,
            "request.page_variant_ids",
        ),
    ];
    for (edit, want, field) in &cases {
        let mut bad = decision_request("home_page_banner");
        edit(&mut bad);
        check(out(|b, cap, n| xmcdp_client_decide(c, &bad, 10, b, cap, n)).0, *want, field);
        ticket = 7;
        check(xmcdp_client_decision_begin(c, &bad, &mut ticket), *want, field);
        assert_eq!(ticket, 0, "{field}: no ticket on failure");
    }
    check(out(|b, cap, n| xmcdp_client_browser_ensure(c, s(&big), 10, &mut id, b, cap, n)).0, XMCDP_STATUS_TOO_LARGE, "cookie_header");
    assert_eq!(id.source, xmcdp_browser_source_t::XMCDP_BROWSER_SOURCE_NONE);
    assert_eq!(stats(c)["decisions"]["http_calls"], 0, "a bad request never reaches the network");
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
}

/// Params nested 33 levels deep (one more than the model allows).
const DEEP_PARAMS: &str = r#"{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#;

/// Invalid UTF-8 (a `&str` cannot hold it).
const BAD_UTF8: xmcdp_str_t = xmcdp_str_t { ptr: b"a\xffb".as_ptr(), len: 3 };

#[test]
fn failing_decisions_open_the_breaker_and_stats_show_it() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = client_with(r#","breakerFailureThreshold":2"#); // port 9: connection refused
    let mut r = decision_request("home_page_banner");
    r.browser_id = s("bid-1");
    // The largest budget is only an upper bound (no overflow): the refused connection answers at once.
    for _ in 0..2 {
        assert_eq!(out(|b, cap, n| xmcdp_client_decide(c, &r, u32::MAX, b, cap, n)).0, XMCDP_STATUS_CONNECT_FAILED, "{}", last_error());
    }
    let started = std::time::Instant::now();
    assert_eq!(out(|b, cap, n| xmcdp_client_decide(c, &r, 2000, b, cap, n)).0, XMCDP_STATUS_CIRCUIT_OPEN);
    assert!(last_error().contains("circuit breaker"), "{}", last_error());
    assert!(started.elapsed() < std::time::Duration::from_millis(500), "an open breaker fails fast");
    // A prefetch still gets a ticket; its answer is the breaker's.
    let mut t = 0u64;
    let mut ready = 0u8;
    assert_eq!(xmcdp_client_decision_begin(c, &r, &mut t), XMCDP_STATUS_OK, "{}", last_error());
    assert_eq!(xmcdp_client_decision_ready(c, t, &mut ready), XMCDP_STATUS_OK);
    assert_eq!(ready, 1);
    assert_eq!(out(|b, cap, n| xmcdp_client_decision_wait(c, t, 10, b, cap, n)).0, XMCDP_STATUS_CIRCUIT_OPEN);
    let d = &stats(c)["decisions"];
    assert_eq!(d["breaker_state"], "open", "{d}");
    assert_eq!(d["breaker_opened"], 1, "{d}");
    assert_eq!(d["failures"], 2, "{d}");
    assert!(d["breaker_rejections"].as_u64().unwrap() >= 2, "{d}");
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
}

fn timed(f: impl FnOnce() -> xmcdp_status_t) -> (xmcdp_status_t, std::time::Duration) {
    let started = std::time::Instant::now();
    let st = f();
    (st, started.elapsed())
}

#[test]
fn budgets_bound_every_blocking_call_and_tickets_are_claimed_once() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let url = silent_server();
    let c = client_at(&url, r#","apiToken":"tok_secret_1","breakerFailureThreshold":100"#);
    let mut r = decision_request("home_page_banner");
    r.browser_id = s("bid-1");
    let (st, took) = timed(|| out(|b, cap, n| xmcdp_client_decide(c, &r, 150, b, cap, n)).0);
    assert_eq!(st, XMCDP_STATUS_TIMEOUT, "{}", last_error());
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");

    let mut t = 0u64;
    let mut ready = 1u8;
    assert_eq!(xmcdp_client_decision_begin(c, &r, &mut t), XMCDP_STATUS_OK);
    assert_eq!(xmcdp_client_decision_ready(c, t, &mut ready), XMCDP_STATUS_OK);
    assert_eq!(ready, 0);
    let (st, _) = timed(|| out(|b, cap, n| xmcdp_client_decision_wait(c, t, 50, b, cap, n)).0);
    assert_eq!(st, XMCDP_STATUS_TIMEOUT);
    assert_eq!(out(|b, cap, n| xmcdp_client_decision_wait(c, t, 50, b, cap, n)).0, XMCDP_STATUS_TICKET_UNKNOWN, "claimed once, whatever the outcome");

    // A ticket belongs to its client: another client refuses it without consuming it.
    let other = client_with("");
    assert_eq!(xmcdp_client_decision_begin(c, &r, &mut t), XMCDP_STATUS_OK);
    assert_eq!(xmcdp_client_decision_ready(other, t, &mut ready), XMCDP_STATUS_TICKET_UNKNOWN);
    assert_eq!(out(|b, cap, n| xmcdp_client_decision_wait(other, t, 10, b, cap, n)).0, XMCDP_STATUS_TICKET_UNKNOWN);
    assert!(last_error().contains("not a decision ticket of this client"), "{}", last_error());
    assert_eq!(xmcdp_client_decision_ready(c, t, &mut ready), XMCDP_STATUS_OK, "still claimable by its own client");
    assert_eq!(xmcdp_client_decision_ready(c, c, &mut ready), XMCDP_STATUS_TICKET_UNKNOWN, "a client handle is not a ticket");

    // Browser create and Guest API calls are bounded too, and the token never shows.
    let mut id: xmcdp_browser_id_t = unsafe { std::mem::zeroed() };
    let (st, took) = timed(|| out(|b, cap, n| xmcdp_client_browser_ensure(c, xmcdp_str_t::NONE, 150, &mut id, b, cap, n)).0);
    assert_eq!(st, XMCDP_STATUS_TIMEOUT, "{}", last_error());
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    let (st, took) = timed(|| out(|b, cap, n| xmcdp_client_guest_get(c, s("g-1"), 0, 150, b, cap, n)).0);
    assert_eq!(st, XMCDP_STATUS_TIMEOUT, "{}", last_error());
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    assert!(!last_error().contains("tok_secret_1"), "{}", last_error());
    // The cookie path never touches the (silent) network.
    let (st, took) = timed(|| out(|b, cap, n| xmcdp_client_browser_ensure(c, s("bid_ck_test=abc-1"), 150, &mut id, b, cap, n)).0);
    assert_eq!(st, XMCDP_STATUS_OK);
    assert!(took < std::time::Duration::from_millis(100), "{took:?}");
    assert_eq!(id.source, xmcdp_browser_source_t::XMCDP_BROWSER_SOURCE_COOKIE);
    assert_eq!(xmcdp_client_delete(other), XMCDP_STATUS_OK);
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
}

#[test]
fn held_results_belong_to_their_thread() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = client_with("");
    let mut id: xmcdp_browser_id_t = unsafe { std::mem::zeroed() };
    let mut need = 0usize;
    // A size query on the cookie path: no network, and the answer is held for this thread.
    assert_eq!(xmcdp_client_browser_ensure(c, s("x=1; bid_ck_test=abc-1"), 10, &mut id, null_mut(), 0, &mut need), XMCDP_STATUS_BUFFER_TOO_SMALL);
    assert_eq!((need, id.browser_id_len, id.set_cookie_count), (5, 5, 0));
    assert_eq!(id.source, xmcdp_browser_source_t::XMCDP_BROWSER_SOURCE_COOKIE);
    let other = std::thread::spawn(|| out(|b, cap, n| xmcdp_result_take(b, cap, n)).0).join().unwrap();
    assert_eq!(other, XMCDP_STATUS_NO_RECORD);
    assert_eq!(out(|b, cap, n| xmcdp_result_take(b, cap, n)), (XMCDP_STATUS_OK, "abc-1".to_string()));
    assert_eq!(out(|b, cap, n| xmcdp_result_take(b, cap, n)).0, XMCDP_STATUS_NO_RECORD);
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
}

#[test]
fn a_shut_down_client_answers_shut_down_except_for_cookies_it_can_read() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = client_with(r#","apiToken":"t""#);
    assert_eq!(xmcdp_client_shutdown(c, 100), XMCDP_STATUS_OK);
    let r = decision_request("home_page_banner");
    let mut t = 0u64;
    let mut id: xmcdp_browser_id_t = unsafe { std::mem::zeroed() };
    assert_eq!(out(|b, cap, n| xmcdp_client_decide(c, &r, 10, b, cap, n)).0, XMCDP_STATUS_SHUT_DOWN);
    assert_eq!(xmcdp_client_decision_begin(c, &r, &mut t), XMCDP_STATUS_SHUT_DOWN);
    assert_eq!(out(|b, cap, n| xmcdp_client_browser_ensure(c, xmcdp_str_t::NONE, 10, &mut id, b, cap, n)).0, XMCDP_STATUS_SHUT_DOWN);
    assert_eq!(out(|b, cap, n| xmcdp_client_browser_ensure(c, s("bid_ck_test=abc-1"), 10, &mut id, b, cap, n)), (XMCDP_STATUS_OK, "abc-1".into()));
    assert_eq!(out(|b, cap, n| xmcdp_client_guest_get(c, s("g-1"), 0, 10, b, cap, n)).0, XMCDP_STATUS_SHUT_DOWN);
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
    let no_token = client_with("");
    assert_eq!(out(|b, cap, n| xmcdp_client_guest_get(no_token, s("g-1"), 0, 10, b, cap, n)).0, XMCDP_STATUS_MISSING_SETTING);
    assert!(last_error().contains("apiToken"), "{}", last_error());
    assert_eq!(xmcdp_client_delete(no_token), XMCDP_STATUS_OK);
}

#[test]
fn blocking_calls_racing_delete_finish_cleanly() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = client_at(&silent_server(), r#","apiToken":"t""#);
    let workers: Vec<_> = (0..3)
        .map(|i| {
            std::thread::spawn(move || {
                let mut r = decision_request("home_page_banner");
                let bid = format!("bid-{i}");
                r.browser_id = s(&bid);
                let mut id: xmcdp_browser_id_t = unsafe { std::mem::zeroed() };
                let st = match i {
                    0 => out(|b, cap, n| xmcdp_client_decide(c, &r, 1000, b, cap, n)).0,
                    1 => out(|b, cap, n| xmcdp_client_browser_ensure(c, xmcdp_str_t::NONE, 1000, &mut id, b, cap, n)).0,
                    _ => out(|b, cap, n| xmcdp_client_guest_get(c, s("g-1"), 0, 1000, b, cap, n)).0,
                };
                assert!(matches!(st, XMCDP_STATUS_TIMEOUT | XMCDP_STATUS_SHUT_DOWN | XMCDP_STATUS_INVALID_HANDLE), "{st:?}: {}", last_error());
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let started = std::time::Instant::now();
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
    assert!(started.elapsed() < std::time::Duration::from_millis(500), "delete does not wait for blocked calls");
    for w in workers {
        w.join().expect("worker panicked");
    }
    assert_eq!(out(|b, cap, n| xmcdp_client_decide(c, &decision_request("x"), 10, b, cap, n)).0, XMCDP_STATUS_INVALID_HANDLE);
}
