//! The library-level C ABI: `xmcdp_client_new` on fuzzed settings bytes (invalid UTF-8, NULL-with-length,
//! huge lengths, arbitrary JSON, JSON built from the real keys), then the output-buffer calls
//! (`xmcdp_last_error`, `xmcdp_log_next`, `xmcdp_client_stats`) with every buffer shape, `xmcdp_status_name`
//! on any number, and shutdown / delete / stats on live, stale and garbage handles.
//! Checks: documented statuses only, never PANIC; buffer protocol (too small → needed length, record kept);
//! an API token in the settings never appears in a message, a log record or the stats.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use std::sync::Once;
use xmcdp::ffi::xmcdp_status_t::*;
use xmcdp::ffi::*;
use xmcdp_fuzz::{check_status, hostile_string, last_error, Arena};

const TOKEN: &str = "tok-SECRET-canary-fuzz";

fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // No fuzz input may reach the network: any host a fuzzed URL names goes to a dead local proxy.
        for k in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
            std::env::set_var(k, "http://127.0.0.1:9");
        }
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
    });
}

/// Settings JSON from the real keys with arbitrary values, so the parser's deeper checks are reached.
fn settings_json(u: &mut Unstructured) -> arbitrary::Result<Vec<u8>> {
    let mut m = Map::new();
    m.insert("clientKey".into(), Value::from("ck_fuzz"));
    m.insert("targetUrl".into(), Value::from("http://127.0.0.1:9"));
    m.insert("pointOfSale".into(), Value::from("pos1"));
    m.insert("apiToken".into(), Value::from(TOKEN));
    m.insert("workerThreads".into(), Value::from(1));
    let keys: Vec<&str> = xmcdp::config::KEYS.iter().map(|k| k.0).collect();
    for _ in 0..u.int_in_range(0..=6)? {
        let k = if u.ratio(9, 10)? { (*u.choose(&keys)?).to_string() } else { hostile_string(u)? };
        if k == "apiToken" || k == "workerThreads" || k == "browserIdPoolSize" {
            continue; // keep the canary and one worker thread (speed); the pool would make traffic
        }
        let v = match u.int_in_range(0..=6)? {
            0 => Value::Null,
            1 => Value::Bool(u.arbitrary()?),
            2 => Value::from(u.arbitrary::<i64>()?),
            3 => Value::from(u.int_in_range(0u64..=100_000)?),
            4 => xmcdp_fuzz::arb_value(u, 2)?,
            _ => Value::from(hostile_string(u)?),
        };
        m.insert(k, v);
    }
    Ok(serde_json::to_vec(&Value::Object(m)).expect("serializable"))
}

/// The first `n` bytes at `buf` (an empty slice for 0: `buf` may then be NULL).
fn written<'a>(buf: *mut u8, n: usize) -> &'a [u8] {
    if n == 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(buf as *const u8, n) }
    }
}

fn assert_no_token(what: &str, s: &str) {
    assert!(!s.contains(TOKEN), "{what} leaks the API token: {s:?}");
}

/// Buffer shapes for an output call: (buf, cap) plus whether out_len is NULL.
fn out_buffer(u: &mut Unstructured, storage: &mut Vec<u8>) -> arbitrary::Result<(*mut u8, usize, bool)> {
    Ok(match u.int_in_range(0..=5)? {
        0 => (std::ptr::null_mut(), 0, false),
        1 => (std::ptr::null_mut(), u.int_in_range(1..=usize::MAX)?, false),
        2 => (storage.as_mut_ptr(), storage.len(), true),
        _ => {
            let cap = u.int_in_range(0..=storage.len())?;
            (storage.as_mut_ptr(), cap, false)
        }
    })
}

fn run(data: &[u8]) -> arbitrary::Result<()> {
    init();
    let mut u = Unstructured::new(data);
    let mut a = Arena::default();
    let mut storage = vec![0u8; 4096];

    // 1. Client from settings.
    let settings = match u.int_in_range(0..=3)? {
        0 => a.c_str(&mut u)?,
        1 => {
            let len = u.int_in_range(0..=512)?;
            let b = u.bytes(len.min(u.len()))?.to_vec();
            a.view(b)
        }
        _ => {
            let j = settings_json(&mut u)?;
            a.view(j)
        }
    };
    let mut client: xmcdp_client_t = 0xdead;
    let null_out = u.ratio(1, 16)?;
    let s = xmcdp_client_new(settings, if null_out { std::ptr::null_mut() } else { &mut client });
    check_status("client_new", s);
    if s == XMCDP_STATUS_OK {
        assert!(!null_out && client != 0);
    } else {
        if !null_out {
            assert_eq!(client, 0, "failed client_new must zero *out_client");
        }
        let m = last_error();
        assert!(!m.is_empty());
        assert_no_token("client_new error", &m);
    }

    // 2. Output-buffer calls in a fuzzed order.
    for _ in 0..u.int_in_range(1..=6)? {
        let (buf, cap, null_len) = out_buffer(&mut u, &mut storage)?;
        let mut n = usize::MAX;
        let out_len: *mut usize = if null_len { std::ptr::null_mut() } else { &mut n };
        match u.int_in_range(0..=5)? {
            0 => {
                let before = last_error();
                let s = xmcdp_last_error(buf, cap, out_len);
                check_status("last_error", s);
                match s {
                    XMCDP_STATUS_OK => assert_eq!(written(buf, n), before.as_bytes()),
                    XMCDP_STATUS_BUFFER_TOO_SMALL => assert_eq!(n, before.len()),
                    _ => {}
                }
                assert_eq!(last_error(), before, "xmcdp_last_error must not replace the message");
            }
            1 => {
                let mut level = 0u32;
                let level_ptr: *mut u32 = if u.ratio(1, 10)? { std::ptr::null_mut() } else { &mut level };
                let s = xmcdp_log_next(0, level_ptr, buf, cap, out_len);
                check_status("log_next", s);
                match s {
                    XMCDP_STATUS_OK => {
                        assert!((1..=4).contains(&level));
                        let msg = std::str::from_utf8(written(buf, n)).expect("log is UTF-8");
                        assert_no_token("log record", msg);
                    }
                    XMCDP_STATUS_BUFFER_TOO_SMALL => {
                        // The record stays queued: a big enough buffer gets it now.
                        let mut big = vec![0u8; n];
                        let mut n2 = 0;
                        let s2 = xmcdp_log_next(0, &mut level, big.as_mut_ptr(), big.len(), &mut n2);
                        assert_eq!((s2, n2), (XMCDP_STATUS_OK, n));
                        assert_no_token("log record", std::str::from_utf8(&big).expect("UTF-8"));
                    }
                    _ => {}
                }
            }
            2 => {
                let h = if u.arbitrary()? { client } else { u.arbitrary()? };
                let s = xmcdp_client_stats(h, buf, cap, out_len);
                check_status("stats", s);
                if s == XMCDP_STATUS_OK {
                    let j = std::str::from_utf8(written(buf, n)).expect("UTF-8");
                    serde_json::from_str::<Value>(j).expect("stats are JSON");
                    assert_no_token("stats", j);
                }
            }
            3 => {
                let v = xmcdp_status_name(u.arbitrary()?);
                let name = std::str::from_utf8(unsafe { std::slice::from_raw_parts(v.ptr, v.len) }).expect("UTF-8");
                assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'), "{name}");
            }
            4 => {
                let garbage: u64 = u.arbitrary()?;
                if garbage != client {
                    check_status("shutdown(garbage)", xmcdp_client_shutdown(garbage, 0));
                    check_status("delete(garbage)", xmcdp_client_delete(garbage));
                }
            }
            _ => {
                assert_eq!(xmcdp_version(), xmcdp::ffi::VERSION_NUMBER);
            }
        }
    }

    // 3. Tear down: shutdown is idempotent, delete works once.
    if s == XMCDP_STATUS_OK {
        if u.arbitrary()? {
            check_status("shutdown", xmcdp_client_shutdown(client, 100));
            check_status("shutdown again", xmcdp_client_shutdown(client, 100));
        }
        assert_eq!(xmcdp_client_delete(client), XMCDP_STATUS_OK);
        assert_eq!(xmcdp_client_delete(client), XMCDP_STATUS_INVALID_HANDLE);
        assert_eq!(xmcdp_client_stats(client, std::ptr::null_mut(), 0, &mut 0), XMCDP_STATUS_INVALID_HANDLE);
    }
    // Drain what this input logged and scan it.
    while let Some(r) = xmcdp::log::next(std::time::Duration::ZERO) {
        assert_no_token("log record", &r.message);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
