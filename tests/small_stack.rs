//! Every native entry point on a thread with a 256 KiB stack (issue 10 item 10). IIS gives x64 request threads
//! 512 KiB, Mono/Linux 8 MiB: a test bed on the large default would never see a stack overflow a real worker
//! process gets. Half the IIS size leaves room for the managed frames above the call.
//!
//! Every export is called through `x!`, which records its name; the test then reads the exports from
//! `bindings/c/xmcdp.h` and fails naming any the small stack did not call, so a new export cannot be left out
//! without this test saying so.

mod common;

use serde_json::Value;
use std::collections::BTreeSet;
use std::ptr::null_mut;
use std::sync::Mutex;
use std::thread;
use xmcdp::ffi::status::xmcdp_status_t::{self, *};
use xmcdp::ffi::*;
use xmcdp_emulator::{spawn, EmulatorConfig};

const STACK: usize = 256 * 1024;
const BID: &str = "a38b230c-11eb-4cf9-8d5d-274e9f344925";

/// The exports called so far (by name), filled by `x!`.
static CALLED: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

/// Calls an export and records its name.
macro_rules! x {
    ($f:ident ( $($a:expr),* $(,)? )) => {{
        CALLED.lock().unwrap().insert(stringify!($f));
        $f($($a),*)
    }};
}

fn s(v: &str) -> xmcdp_str_t {
    xmcdp_str_t { ptr: v.as_ptr(), len: v.len() }
}

fn last_error() -> String {
    let mut buf = vec![0u8; 16384];
    let mut n = 0usize;
    assert_eq!(x!(xmcdp_last_error(buf.as_mut_ptr(), buf.len(), &mut n)), XMCDP_STATUS_OK);
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

/// Like `out`, asserting OK and parsing the answer.
fn json(what: &str, f: impl FnOnce(*mut u8, usize, *mut usize) -> xmcdp_status_t) -> Value {
    let (status, text) = out(f);
    ok(what, status);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"))
}

fn header() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/bindings/c/xmcdp.h")).unwrap()
}

/// A numeric `#define` of the header (`UINT64_C(n)` unwrapped).
fn header_define(name: &str) -> u64 {
    let prefix = format!("#define {name} ");
    let line = header().lines().find(|l| l.starts_with(&prefix)).map(str::to_owned).unwrap_or_else(|| panic!("{name} not in the header"));
    let digits: String = line[prefix.len()..].chars().filter(char::is_ascii_digit).collect();
    // UINT64_C's own "64" is not part of the value.
    let digits = digits.strip_prefix("64").filter(|_| line.contains("UINT64_C")).unwrap_or(&digits).to_owned();
    digits.parse().unwrap()
}

/// The function names declared in the C header (declarations only, not the names its comments mention).
fn header_exports() -> BTreeSet<String> {
    let header = header();
    let mut names = BTreeSet::new();
    let mut in_block_comment = false;
    for line in header.lines() {
        let t = line.trim_start();
        if in_block_comment {
            in_block_comment = !t.contains("*/");
            continue;
        }
        if t.starts_with("/*") {
            in_block_comment = !t.contains("*/");
            continue;
        }
        if t.starts_with("//") || t.starts_with('#') {
            continue;
        }
        // `<return type> xmcdp_name(`: the first identifier followed by '(' on a declaration line.
        if let Some(open) = t.find('(') {
            let name = t[..open].rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("");
            if name.starts_with("xmcdp_") {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

#[test]
fn the_header_parser_finds_every_kind_of_declaration() {
    let names = header_exports();
    // One of each return type (status enum, plain integer, struct) and both ends of the file.
    for known in ["xmcdp_api_guard", "xmcdp_client_new", "xmcdp_client_guest_extension_delete_fields", "xmcdp_status_name", "xmcdp_version"] {
        assert!(names.contains(known), "{known} not parsed from the header: {names:?}");
    }
    assert!(names.len() >= 30, "{names:?}");
}

#[test]
fn every_entry_point_runs_on_a_256_kib_stack() {
    let emu = spawn(EmulatorConfig::default()).unwrap();
    let url = emu.base_url().to_owned();

    on_small_stack(move || {
        assert_eq!(u64::from(x!(xmcdp_version())), header_define("XMCDP_VERSION_NUMBER"));
        assert_eq!(x!(xmcdp_api_guard()), interoptopus::patterns::api_guard::APIVersion::new(header_define("XMCDP_API_HASH")));
        let name = x!(xmcdp_status_name(XMCDP_STATUS_NOT_FOUND as u32));
        assert_eq!(unsafe { std::slice::from_raw_parts(name.ptr, name.len) }, b"NOT_FOUND");
        let mut schema_len = 0usize;
        assert_eq!(x!(xmcdp_settings_schema(null_mut(), 0, &mut schema_len)), XMCDP_STATUS_BUFFER_TOO_SMALL);
        let (status, schema) = out(|b, cap, n| x!(xmcdp_settings_schema(b, cap, n)));
        ok("settings_schema", status);
        assert!(schema.contains("\"apiToken\""), "{schema}");

        let settings = format!(r#"{{"clientKey":"ck_test","targetUrl":"{url}","pointOfSale":"p","apiToken":"tok_test"}}"#);
        let mut c = 0;
        ok("client_new", x!(xmcdp_client_new(s(&settings), &mut c)));

        let mut pv: xmcdp_page_view_t = unsafe { std::mem::zeroed() };
        pv.common.browser_id = s(BID);
        pv.url = s("/products?utm_source=mail");
        ok("page_view", x!(xmcdp_client_page_view(c, &pv)));

        let ids = [xmcdp_identifier_t { provider: s("email"), id: s("jane@example.com"), expiry_date: xmcdp_str_t::NONE }];
        let mut ident: xmcdp_identity_t = unsafe { std::mem::zeroed() };
        ident.common.browser_id = s(BID);
        ident.email = s("jane@example.com");
        ident.identifiers = ids.as_ptr();
        ident.identifiers_len = ids.len();
        ok("identity", x!(xmcdp_client_identity(c, &ident)));

        let mut ev: xmcdp_event_t = unsafe { std::mem::zeroed() };
        ev.common.browser_id = s(BID);
        ev.event_type = s("ADD_TO_WISHLIST");
        ev.data_json = s(r#"{"sku":"A1"}"#);
        ok("event", x!(xmcdp_client_event(c, &ev)));

        let mut req: xmcdp_decision_request_t = unsafe { std::mem::zeroed() };
        req.friendly_id = s("home_page_banner");
        req.browser_id = s(BID);
        req.point_of_sale = s("p_de");
        let decision = json("decide", |b, cap, n| x!(xmcdp_client_decide(c, &req, 5_000, b, cap, n)));
        assert!(decision.is_object(), "{decision}");

        let mut ticket = 0;
        ok("decision_begin", x!(xmcdp_client_decision_begin(c, &req, &mut ticket)));
        let mut ready = 0u8;
        ok("decision_ready", x!(xmcdp_client_decision_ready(c, ticket, &mut ready)));
        let waited = json("decision_wait", |b, cap, n| x!(xmcdp_client_decision_wait(c, ticket, 5_000, b, cap, n)));
        assert!(waited.is_object(), "{waited}");

        let mut id: xmcdp_browser_id_t = unsafe { std::mem::zeroed() };
        let (status, ensured) = out(|b, cap, n| x!(xmcdp_client_browser_ensure(c, s(""), 5_000, &mut id, b, cap, n)));
        ok("browser_ensure", status);
        assert!(id.browser_id_len > 0);
        // The buffer starts with the browser id, the one the emulator just created.
        let created = ensured[..id.browser_id_len].to_owned();
        let (status, guest_ref) = out(|b, cap, n| x!(xmcdp_client_browser_guest_ref(c, s(&created), 5_000, b, cap, n)));
        ok("browser_guest_ref", status);
        assert!(!guest_ref.is_empty());

        guest_calls(c);

        // A log record, if the library wrote one since start (client_new logs at info level); none is fine.
        let mut level = 0u32;
        let (status, _) = out(|b, cap, n| x!(xmcdp_log_next(0, &mut level, b, cap, n)));
        assert!(status == XMCDP_STATUS_OK || status == XMCDP_STATUS_NO_RECORD, "log_next: {status:?}");

        let (status, stats) = out(|b, cap, n| x!(xmcdp_client_stats(c, b, cap, n)));
        ok("stats", status);
        assert!(stats.contains("\"events\""), "{stats}");
        ok("shutdown", x!(xmcdp_client_shutdown(c, 5_000)));
        ok("delete", x!(xmcdp_client_delete(c)));
    });

    // The emulator saw the calls made from the small stack.
    let seen = common::get_json(&format!("{}/__emulator/requests", emu.base_url()));
    let items = seen["items"].as_array().unwrap();
    let routes: Vec<&str> = items.iter().map(|r| r["route"].as_str().unwrap_or("")).collect();
    for route in ["events", "callflows", "guests"] {
        assert!(routes.contains(&route), "no {route} request: {routes:?}");
    }
    let guest_methods: BTreeSet<&str> = items.iter().filter(|r| r["route"] == "guests").map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(guest_methods, BTreeSet::from(["DELETE", "GET", "PATCH", "POST", "PUT"]), "Guest REST methods sent");

    let called: BTreeSet<String> = CALLED.lock().unwrap().iter().map(|n| n.to_string()).collect();
    let declared = header_exports();
    let missing: Vec<&String> = declared.difference(&called).collect();
    assert!(missing.is_empty(), "exports in bindings/c/xmcdp.h never called on the small stack: {missing:?}");
}

/// The Guest REST exports: lifecycle, lookups, every data extension call, and a held answer taken back.
fn guest_calls(c: xmcdp_client_t) {
    let email = format!("small.{}@example.com", std::process::id());
    let guest = format!(r#"{{"guestType":"customer","email":"{email}","firstName":"Ann","lastName":"Lee","identifiers":[{{"provider":"CRM","id":"S-1"}}]}}"#);
    let created = json("guest_create", |b, cap, n| x!(xmcdp_client_guest_create(c, s(&guest), s(r#"{"ext":{"loyaltyTier":"gold"}}"#), 0, b, cap, n)));
    let gref = created["ref"].as_str().unwrap().to_owned();
    assert_eq!(created["extensions"][0]["loyaltyTier"], "gold");

    let found = json("guest_find email", |b, cap, n| x!(xmcdp_client_guest_find(c, s(&email), xmcdp_str_t::NONE, xmcdp_str_t::NONE, 0, b, cap, n)));
    assert!(found.to_string().contains(&gref), "{found}");
    let found = json("guest_find id", |b, cap, n| x!(xmcdp_client_guest_find(c, xmcdp_str_t::NONE, s("CRM"), s("S-1"), 0, b, cap, n)));
    assert!(found.to_string().contains(&gref), "{found}");

    let g = json("guest_update patch", |b, cap, n| x!(xmcdp_client_guest_update(c, s(&gref), s(r#"{"firstName":"Annie"}"#), 0, 0, b, cap, n)));
    assert_eq!((g["firstName"].as_str(), g["lastName"].as_str()), (Some("Annie"), Some("Lee")));

    let e = json("extension_create", |b, cap, n| x!(xmcdp_client_guest_extension_create(c, s(&gref), s("ext1"), s(r#"{"points":1}"#), 0, b, cap, n)));
    assert_eq!(e["points"], 1);
    let e = json("extension_patch", |b, cap, n| x!(xmcdp_client_guest_extension_patch(c, s(&gref), s("ext1"), s(r#"{"points":2}"#), 0, b, cap, n)));
    assert_eq!(e["points"], 2);
    let e = json("extension_put", |b, cap, n| x!(xmcdp_client_guest_extension_put(c, s(&gref), s("ext1"), s(r#"{"color":"red","size":3}"#), 0, b, cap, n)));
    assert!(e.get("points").is_none() && e["color"] == "red", "{e}");
    let fields = [s("color")];
    let e = json("extension_delete_fields", |b, cap, n| {
        x!(xmcdp_client_guest_extension_delete_fields(c, s(&gref), s("ext1"), fields.as_ptr(), fields.len(), 0, b, cap, n))
    });
    assert!(e.get("color").is_none() && e["size"] == 3, "{e}");
    let e = json("extension_get", |b, cap, n| x!(xmcdp_client_guest_extension_get(c, s(&gref), s("ext1"), 0, b, cap, n)));
    assert_eq!(e["size"], 3);
    let list = json("extension_list", |b, cap, n| x!(xmcdp_client_guest_extension_list(c, s(&gref), 1, 0, b, cap, n)));
    assert!(list.to_string().contains("loyaltyTier"), "{list}");
    let (status, _) = out(|b, cap, n| x!(xmcdp_client_guest_extension_delete(c, s(&gref), s("ext1"), 0, b, cap, n)));
    ok("extension_delete", status);

    // Too small a buffer: the answer is held for this thread and taken back.
    let mut need = 0usize;
    assert_eq!(x!(xmcdp_client_guest_get(c, s(&gref), 1, 0, null_mut(), 0, &mut need)), XMCDP_STATUS_BUFFER_TOO_SMALL);
    let mut held = vec![0u8; need];
    let mut n = 0usize;
    ok("result_take", x!(xmcdp_result_take(held.as_mut_ptr(), held.len(), &mut n)));
    let g: Value = serde_json::from_slice(&held[..n]).unwrap();
    assert_eq!(g["ref"].as_str(), Some(gref.as_str()));

    let g = json("guest_update replace", |b, cap, n| x!(xmcdp_client_guest_update(c, s(&gref), s(r#"{"guestType":"customer","lastName":"Lee"}"#), 1, 0, b, cap, n)));
    assert!(g.get("firstName").is_none(), "replace: {g}");
    let (status, _) = out(|b, cap, n| x!(xmcdp_client_guest_delete(c, s(&gref), 0, b, cap, n)));
    ok("guest_delete", status);
    let (status, _) = out(|b, cap, n| x!(xmcdp_client_guest_get(c, s(&gref), 0, 0, b, cap, n)));
    assert_eq!(status, XMCDP_STATUS_NOT_FOUND, "deleted");
    // A refused argument: the message of this thread's last error names it.
    let (status, _) = out(|b, cap, n| x!(xmcdp_client_guest_get(c, s("../x"), 0, 0, b, cap, n)));
    assert_eq!(status, XMCDP_STATUS_INVALID_ARGUMENT);
    assert!(last_error().contains("guest ref"), "{}", last_error());
}

/// `{"a":{"a":…1…}}` nested `depth` times.
fn nested(depth: usize) -> String {
    format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
}

/// Deep JSON from the host: serde_json recurses once per level (up to its limit of 128), and a 127-deep document
/// overflowed this 256 KiB stack in `xmcdp_client_new` and `xmcdp_client_event` before `nesting::within` refused
/// documents deeper than 34 levels ahead of the parse. Each JSON argument is refused with the status its syntax
/// errors have, the message naming the argument and the limit; at the limit, the call answers normally.
#[test]
fn deeply_nested_json_in_every_json_argument_is_refused_on_a_256_kib_stack() {
    let emu = spawn(EmulatorConfig::default()).unwrap();
    let url = emu.base_url().to_owned();
    on_small_stack(move || {
        let settings = format!(r#"{{"clientKey":"ck_test","targetUrl":"{url}","pointOfSale":"p","apiToken":"tok_test"}}"#);
        let mut c = 0;
        ok("client_new", xmcdp_client_new(s(&settings), &mut c));
        let gref = "0f8e2d1c-1111-4222-8333-944455566677";
        let guest = r#"{"guestType":"visitor"}"#;
        for depth in [xmcdp::nesting::MAX_NESTING, xmcdp::nesting::MAX_NESTING + 1, 127, 129, 10_000] {
            let doc = nested(depth);
            let mut ev: xmcdp_event_t = unsafe { std::mem::zeroed() };
            ev.common.browser_id = s(BID);
            ev.event_type = s("DEEP");
            let mut req: xmcdp_decision_request_t = unsafe { std::mem::zeroed() };
            req.friendly_id = s("params_echo");
            req.browser_id = s(BID);
            req.params_json = s(&doc);
            let mut bad: xmcdp_client_t = 0;
            let bad: *mut xmcdp_client_t = &mut bad;
            type Call<'a> = Box<dyn Fn() -> xmcdp_status_t + 'a>;
            let calls: Vec<(&str, xmcdp_status_t, Call)> = vec![
                ("settings", XMCDP_STATUS_INVALID_JSON, Box::new(|| xmcdp_client_new(s(&doc), bad))),
                ("event.data_json", XMCDP_STATUS_INVALID_FIELD, Box::new(|| xmcdp_client_event(c, &xmcdp_event_t { data_json: s(&doc), ..ev }))),
                ("event.ext_json", XMCDP_STATUS_INVALID_EXT, Box::new(|| xmcdp_client_event(c, &xmcdp_event_t { ext_json: s(&doc), ..ev }))),
                ("request.params_json", XMCDP_STATUS_INVALID_FIELD, Box::new(|| out(|b, cap, n| xmcdp_client_decide(c, &req, 2_000, b, cap, n)).0)),
                ("guest_json", XMCDP_STATUS_INVALID_ARGUMENT, Box::new(|| out(|b, cap, n| xmcdp_client_guest_create(c, s(&doc), xmcdp_str_t::NONE, 0, b, cap, n)).0)),
                ("extensions_json", XMCDP_STATUS_INVALID_EXT, Box::new(|| out(|b, cap, n| xmcdp_client_guest_create(c, s(guest), s(&doc), 0, b, cap, n)).0)),
                ("guest_json", XMCDP_STATUS_INVALID_ARGUMENT, Box::new(|| out(|b, cap, n| xmcdp_client_guest_update(c, s(gref), s(&doc), 0, 0, b, cap, n)).0)),
                ("data_json", XMCDP_STATUS_INVALID_EXT, Box::new(|| out(|b, cap, n| xmcdp_client_guest_extension_create(c, s(gref), s("ext"), s(&doc), 0, b, cap, n)).0)),
                ("data_json", XMCDP_STATUS_INVALID_EXT, Box::new(|| out(|b, cap, n| xmcdp_client_guest_extension_put(c, s(gref), s("ext"), s(&doc), 0, b, cap, n)).0)),
                ("data_json", XMCDP_STATUS_INVALID_EXT, Box::new(|| out(|b, cap, n| xmcdp_client_guest_extension_patch(c, s(gref), s("ext"), s(&doc), 0, b, cap, n)).0)),
            ];
            for (field, refused, call) in calls {
                let status = call();
                let msg = if status == XMCDP_STATUS_OK { String::new() } else { last_error() };
                if depth > xmcdp::nesting::MAX_NESTING {
                    assert_eq!(status, refused, "{field} at depth {depth}: {msg}");
                    assert!(msg.contains(field) && msg.contains("nested deeper than 34 levels"), "{field} at depth {depth}: {msg}");
                } else {
                    // At the limit: parsed, then answered by the usual checks (or the emulator), never by the depth rule.
                    assert!(!msg.contains("nested deeper than 34 levels"), "{field} at depth {depth}: {status:?} {msg}");
                    assert!(!matches!(status, XMCDP_STATUS_PANIC | XMCDP_STATUS_INTERNAL), "{field} at depth {depth}: {status:?} {msg}");
                }
            }
        }
        ok("delete", xmcdp_client_delete(c));
    });
}
