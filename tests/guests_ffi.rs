//! The guest lifecycle through the C ABI against the emulator: `xmcdp_client_guest_create` (with data
//! extensions), `xmcdp_client_guest_update` (PATCH / PUT) and `xmcdp_client_guest_delete`; their stable
//! status codes, named NULL pointers and bad JSON, the held answer, and the token kept out of the last error.

mod common;

use serde_json::{json, Value};
use std::ptr::null_mut;
use xmcdp::ffi::status::xmcdp_status_t::{self, *};
use xmcdp::ffi::*;
use xmcdp_emulator::{spawn, EmulatorConfig};

fn s(v: &str) -> xmcdp_str_t {
    xmcdp_str_t { ptr: v.as_ptr(), len: v.len() }
}

fn last_error() -> String {
    let mut buf = vec![0u8; 4096];
    let mut n = 0usize;
    assert_eq!(xmcdp_last_error(buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

fn client(base: &str, token: &str) -> xmcdp_client_t {
    let mut c = 0;
    let json = json!({"clientKey": "ck_test", "targetUrl": base, "pointOfSale": "myretailsite/ireland", "apiToken": token}).to_string();
    assert_eq!(xmcdp_client_new(s(&json), &mut c), XMCDP_STATUS_OK, "{}", last_error());
    c
}

/// Calls `f` with a 64 KiB buffer; the answer as JSON on success.
fn call(f: impl FnOnce(*mut u8, usize, *mut usize) -> xmcdp_status_t) -> (xmcdp_status_t, Value) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0usize;
    let st = f(buf.as_mut_ptr(), buf.len(), &mut n);
    if st != XMCDP_STATUS_OK {
        return (st, Value::Null);
    }
    (st, serde_json::from_slice(&buf[..n]).unwrap())
}

const GUEST: &str = r#"{"guestType":"customer","email":"ann.lee@example.com","firstName":"Ann","lastName":"Lee","identifiers":[{"provider":"CRM","id":"C-7"}]}"#;

#[test]
fn create_update_and_delete_through_the_c_abi() {
    let emu = spawn(EmulatorConfig::default()).unwrap();
    let c = client(&emu.base_url(), "tok_test");
    let (st, g) = call(|b, cap, n| xmcdp_client_guest_create(c, s(GUEST), s(r#"{"ext":{"loyaltyTier":"gold"}}"#), 0, b, cap, n));
    assert_eq!(st, XMCDP_STATUS_OK, "{}", last_error());
    let gref = g["ref"].as_str().unwrap().to_string();
    assert_eq!(g["extensions"][0]["loyaltyTier"], "gold");

    let (st, g) = call(|b, cap, n| xmcdp_client_guest_update(c, s(&gref), s(r#"{"firstName":"Annie"}"#), 0, 0, b, cap, n));
    assert_eq!(st, XMCDP_STATUS_OK, "{}", last_error());
    assert_eq!((g["firstName"].as_str(), g["lastName"].as_str()), (Some("Annie"), Some("Lee")));
    let (st, g) = call(|b, cap, n| xmcdp_client_guest_update(c, s(&gref), s(r#"{"guestType":"customer","lastName":"Lee"}"#), 1, 0, b, cap, n));
    assert_eq!(st, XMCDP_STATUS_OK, "{}", last_error());
    assert!(g.get("firstName").is_none(), "replace: {g}");

    // An answer larger than the buffer is held for xmcdp_result_take, not repeated.
    let mut n = 0usize;
    let st = xmcdp_client_guest_update(c, s(&gref), s(r#"{"city":"Cork"}"#), 0, 0, null_mut(), 0, &mut n);
    assert_eq!(st, XMCDP_STATUS_BUFFER_TOO_SMALL);
    let mut held = vec![0u8; n];
    assert_eq!(xmcdp_result_take(held.as_mut_ptr(), held.len(), &mut n), XMCDP_STATUS_OK);
    assert_eq!(serde_json::from_slice::<Value>(&held[..n]).unwrap()["city"], "Cork");

    let (st, _) = call(|b, cap, n| xmcdp_client_guest_delete(c, s(&gref), 0, b, cap, n));
    assert_eq!(st, XMCDP_STATUS_OK, "{}", last_error());
    let (st, _) = call(|b, cap, n| xmcdp_client_guest_delete(c, s(&gref), 0, b, cap, n));
    assert_eq!(st, XMCDP_STATUS_NOT_FOUND, "{}", last_error());
    let (st, _) = call(|b, cap, n| xmcdp_client_guest_get(c, s(&gref), 1, 0, b, cap, n));
    assert_eq!(st, XMCDP_STATUS_NOT_FOUND);
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
}

#[test]
fn bad_input_gets_a_stable_status_and_names_the_argument() {
    let emu = spawn(EmulatorConfig::default()).unwrap();
    let c = client(&emu.base_url(), "tok_test");
    let gref = "0f8e2d1c-1111-4222-8333-944455566677";
    let cases: Vec<(Box<dyn Fn(*mut u8, usize, *mut usize) -> xmcdp_status_t>, xmcdp_status_t, &str)> = vec![
        (Box::new(move |b, cap, n| xmcdp_client_guest_create(c, xmcdp_str_t::NONE, xmcdp_str_t::NONE, 0, b, cap, n)), XMCDP_STATUS_NULL_POINTER, "guest_json"),
        (Box::new(move |b, cap, n| xmcdp_client_guest_create(c, s("{\"guestType\":"), xmcdp_str_t::NONE, 0, b, cap, n)), XMCDP_STATUS_INVALID_ARGUMENT, "guest_json"),
        (Box::new(move |b, cap, n| xmcdp_client_guest_create(c, s(GUEST), s("{\"ext\":"), 0, b, cap, n)), XMCDP_STATUS_INVALID_EXT, "extensions_json"),
        (Box::new(move |b, cap, n| xmcdp_client_guest_create(c, s(r#"{"guestType":"visitor","firstname":"x"}"#), xmcdp_str_t::NONE, 0, b, cap, n)), XMCDP_STATUS_INVALID_FIELD, "firstname"),
        (Box::new(move |b, cap, n| xmcdp_client_guest_create(c, s(r#"{"guestType":"visitor","email":"x"}"#), xmcdp_str_t::NONE, 0, b, cap, n)), XMCDP_STATUS_INVALID_EMAIL, "email"),
        (Box::new(move |b, cap, n| xmcdp_client_guest_create(c, s(r#"{"guestType":"visitor","dateOfBirth":"tomorrow"}"#), xmcdp_str_t::NONE, 0, b, cap, n)), XMCDP_STATUS_INVALID_DATE, "dateOfBirth"),
        (Box::new(move |b, cap, n| xmcdp_client_guest_create(c, s(GUEST), s(r#"{"ext":{"a":1},"ext1":{"a":2}}"#), 0, b, cap, n)), XMCDP_STATUS_INVALID_EXT, "unique"),
        (Box::new(move |b, cap, n| xmcdp_client_guest_update(c, xmcdp_str_t::NONE, s("{}"), 0, 0, b, cap, n)), XMCDP_STATUS_NULL_POINTER, "guest_ref"),
        (Box::new(move |b, cap, n| xmcdp_client_guest_update(c, s(gref), s(r#"{"identifiers":[{"id":"1"}]}"#), 0, 0, b, cap, n)), XMCDP_STATUS_MISSING_IDENTIFIERS, "provider"),
        (Box::new(move |b, cap, n| xmcdp_client_guest_update(c, s("../x"), s(r#"{"firstName":"x"}"#), 0, 0, b, cap, n)), XMCDP_STATUS_INVALID_ARGUMENT, "guest ref"),
        (Box::new(move |b, cap, n| xmcdp_client_guest_delete(c, xmcdp_str_t::NONE, 0, b, cap, n)), XMCDP_STATUS_NULL_POINTER, "guest_ref"),
        (Box::new(move |_, _, n| xmcdp_client_guest_delete(c, s(gref), 0, null_mut(), 8, n)), XMCDP_STATUS_NULL_POINTER, "buf"),
    ];
    for (f, want, words) in &cases {
        let (st, _) = call(f);
        let msg = last_error();
        assert_eq!(st, *want, "{words}: {msg}");
        assert!(msg.contains(words), "{words}: {msg}");
    }
    for h in [0u64, 1, u64::MAX] {
        assert_eq!(call(|b, cap, n| xmcdp_client_guest_delete(h, s(gref), 0, b, cap, n)).0, XMCDP_STATUS_INVALID_HANDLE);
    }
    // Nothing was sent for any of them.
    let sent = guest_requests(&emu.base_url());
    assert!(sent.is_empty(), "{sent:?}");
    // Shut down: SHUT_DOWN, not a network error.
    assert_eq!(xmcdp_client_shutdown(c, 100), XMCDP_STATUS_OK);
    assert_eq!(call(|b, cap, n| xmcdp_client_guest_delete(c, s(gref), 0, b, cap, n)).0, XMCDP_STATUS_SHUT_DOWN);
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
}

#[test]
fn a_wrong_token_is_unauthorized_and_never_in_the_last_error() {
    const SECRET: &str = "tok_SECRET_ffi_lifecycle";
    let emu = spawn(EmulatorConfig::default()).unwrap();
    let c = client(&emu.base_url(), SECRET);
    let (st, _) = call(|b, cap, n| xmcdp_client_guest_create(c, s(GUEST), xmcdp_str_t::NONE, 0, b, cap, n));
    assert_eq!(st, XMCDP_STATUS_UNAUTHORIZED);
    let msg = last_error();
    assert!(msg.contains("401") && !msg.contains("SECRET"), "{msg}");
    let (st, _) = call(|b, cap, n| xmcdp_client_guest_delete(c, s("0f8e2d1c-1111-4222-8333-944455566677"), 0, b, cap, n));
    assert_eq!(st, XMCDP_STATUS_UNAUTHORIZED);
    assert!(!last_error().contains("SECRET"));
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
}

/// The guest routes the emulator recorded.
fn guest_requests(base: &str) -> Vec<Value> {
    common::admin(base).requests().unwrap()["items"].as_array().unwrap().iter().filter(|r| r["route"] == "guests").cloned().collect()
}
