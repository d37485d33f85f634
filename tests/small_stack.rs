//! Every native entry point on a thread with a 256 KiB stack (issue 10 item 10). IIS gives x64 request threads
//! 512 KiB, Mono/Linux 8 MiB: a test bed on the large default would never see a stack overflow a real worker
//! process gets. Half the IIS size leaves room for the managed frames above the call.

mod common;

use std::ptr::null_mut;
use std::thread;
use xmcdp::ffi::status::xmcdp_status_t::{self, *};
use xmcdp::ffi::*;
use xmcdp_emulator::{spawn, EmulatorConfig};

const STACK: usize = 256 * 1024;
const BID: &str = "a38b230c-11eb-4cf9-8d5d-274e9f344925";

fn s(v: &str) -> xmcdp_str_t {
    xmcdp_str_t { ptr: v.as_ptr(), len: v.len() }
}

fn last_error() -> String {
    let mut buf = vec![0u8; 16384];
    let mut n = 0usize;
    assert_eq!(xmcdp_last_error(buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

/// Runs `f` on a new thread with a 256 KiB stack; a stack overflow aborts the test process.
fn on_small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    thread::Builder::new().name("small-stack".into()).stack_size(STACK).spawn(f).unwrap().join().unwrap()
}

fn ok(what: &str, status: xmcdp_status_t) {
    assert_eq!(status, XMCDP_STATUS_OK, "{what}: {}", last_error());
}

/// Calls a buffer-returning export with a generous buffer; the status and the text.
fn out(f: impl FnOnce(*mut u8, usize, *mut usize) -> xmcdp_status_t) -> (xmcdp_status_t, String) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0usize;
    let status = f(buf.as_mut_ptr(), buf.len(), &mut n);
    let text = if status == XMCDP_STATUS_OK { String::from_utf8(buf[..n].to_vec()).unwrap() } else { String::new() };
    (status, text)
}

#[test]
fn every_entry_point_runs_on_a_256_kib_stack() {
    let emu = spawn(EmulatorConfig::default()).unwrap();
    let url = emu.base_url().to_owned();

    on_small_stack(move || {
        let mut schema_len = 0usize;
        assert_eq!(xmcdp_settings_schema(null_mut(), 0, &mut schema_len), XMCDP_STATUS_BUFFER_TOO_SMALL);
        let settings = format!(r#"{{"clientKey":"ck_test","targetUrl":"{url}","pointOfSale":"p","apiToken":"tok_test"}}"#);
        let mut c = 0;
        ok("client_new", xmcdp_client_new(s(&settings), &mut c));

        let mut pv: xmcdp_page_view_t = unsafe { std::mem::zeroed() };
        pv.common.browser_id = s(BID);
        pv.url = s("/products?utm_source=mail");
        ok("page_view", xmcdp_client_page_view(c, &pv));

        let ids = [xmcdp_identifier_t { provider: s("email"), id: s("jane@example.com"), expiry_date: xmcdp_str_t::NONE }];
        let mut ident: xmcdp_identity_t = unsafe { std::mem::zeroed() };
        ident.common.browser_id = s(BID);
        ident.email = s("jane@example.com");
        ident.identifiers = ids.as_ptr();
        ident.identifiers_len = ids.len();
        ok("identity", xmcdp_client_identity(c, &ident));

        let mut ev: xmcdp_event_t = unsafe { std::mem::zeroed() };
        ev.common.browser_id = s(BID);
        ev.event_type = s("ADD_TO_WISHLIST");
        ev.data_json = s(r#"{"sku":"A1"}"#);
        ok("event", xmcdp_client_event(c, &ev));

        let mut req: xmcdp_decision_request_t = unsafe { std::mem::zeroed() };
        req.friendly_id = s("home_page_banner");
        req.browser_id = s(BID);
        let (status, decision) = out(|b, cap, n| xmcdp_client_decide(c, &req, 5_000, b, cap, n));
        ok("decide", status);
        assert!(decision.starts_with('{'), "{decision}");

        let mut ticket = 0;
        ok("decision_begin", xmcdp_client_decision_begin(c, &req, &mut ticket));
        let mut ready = 0u8;
        ok("decision_ready", xmcdp_client_decision_ready(c, ticket, &mut ready));
        let (status, waited) = out(|b, cap, n| xmcdp_client_decision_wait(c, ticket, 5_000, b, cap, n));
        ok("decision_wait", status);
        assert!(waited.starts_with('{'), "{waited}");

        let mut id: xmcdp_browser_id_t = unsafe { std::mem::zeroed() };
        let (status, ensured) = out(|b, cap, n| xmcdp_client_browser_ensure(c, s(""), 5_000, &mut id, b, cap, n));
        ok("browser_ensure", status);
        assert!(id.browser_id_len > 0);
        // The buffer starts with the browser id, the one the emulator just created.
        let created = ensured[..id.browser_id_len].to_owned();
        let (status, guest_ref) = out(|b, cap, n| xmcdp_client_browser_guest_ref(c, s(&created), 5_000, b, cap, n));
        ok("browser_guest_ref", status);

        assert!(!guest_ref.is_empty());
        let (status, found) = out(|b, cap, n| xmcdp_client_guest_find(c, s("jane@example.com"), xmcdp_str_t::NONE, xmcdp_str_t::NONE, 5_000, b, cap, n));
        assert!(status == XMCDP_STATUS_OK || status == XMCDP_STATUS_NOT_FOUND, "guest_find: {status:?} {}", last_error());
        let _ = found;
        let (status, _) = out(|b, cap, n| xmcdp_client_guest_get(c, s(&guest_ref), 0, 5_000, b, cap, n));
        assert!(status == XMCDP_STATUS_OK || status == XMCDP_STATUS_NOT_FOUND, "guest_get: {status:?} {}", last_error());

        let (status, stats) = out(|b, cap, n| xmcdp_client_stats(c, b, cap, n));
        ok("stats", status);
        assert!(stats.contains("\"events\""), "{stats}");
        ok("shutdown", xmcdp_client_shutdown(c, 5_000));
        ok("delete", xmcdp_client_delete(c));
    });

    // The emulator saw the calls made from the small stack.
    let seen = common::get_json(&format!("{}/__emulator/requests", emu.base_url()));
    let routes: Vec<String> = seen["items"].as_array().unwrap().iter().map(|r| r["route"].as_str().unwrap_or("").to_owned()).collect();
    for route in ["events", "callflows", "guests"] {
        assert!(routes.iter().any(|r| r == route), "no {route} request: {routes:?}");
    }
}
