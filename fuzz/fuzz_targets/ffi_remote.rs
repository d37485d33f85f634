//! The C ABI calls that talk to CDP: decisions (`xmcdp_client_decide`, `_decision_begin/_ready/_wait`),
//! browser ids (`xmcdp_client_browser_ensure`, `_browser_guest_ref`), the Guest REST calls, and
//! `xmcdp_result_take`, with fuzzed structs, strings, arrays, budgets, handles, tickets and output buffers,
//! against a tiny in-process HTTP stub that answers every request with one canned JSON body.
//! Checks: documented statuses, never PANIC; the output-buffer protocol (too small → needed length, result
//! held for `xmcdp_result_take`); `browser_ensure` output consistent with its layout; failures never echo
//! a value containing '@' or the API token; and every request the stub receives has a clean request line
//! (id-only path segments, no control characters) and only expected headers.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::OnceLock;
use xmcdp::ffi::xmcdp_status_t::*;
use xmcdp::ffi::*;
use xmcdp_fuzz::{check_status, last_error, uuidish, Arena};

const TOKEN: &str = "tok-SECRET-canary-remote";
const ID: &str = "0c0ffee0-aaaa-4bbb-8ccc-000000000001";

const HEADERS: &[&str] = &[
    "host",
    "content-type",
    "content-length",
    "x-library-version",
    "user-agent",
    "accept",
    "authorization",
    "x-sc-correlation-id",
    "x-client-software-id",
    "idempotency-key",
    "accept-encoding",
    "connection",
];

fn check_request(head: &str) {
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or("");
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(parts.len(), 3, "request line {line:?}");
    let target = parts[1];
    assert!(target.bytes().all(|b| b.is_ascii_graphic() && b != b'#'), "{target:?}");
    let path = target.split('?').next().unwrap_or("");
    for seg in path.split('/').skip(1) {
        assert!(
            !seg.is_empty() && seg != ".." && !seg.contains("..") && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "path segment {seg:?} in {target:?}"
        );
    }
    for h in lines.filter(|l| !l.is_empty()) {
        let (name, value) = h.split_once(':').unwrap_or_else(|| panic!("header line {h:?}"));
        assert!(HEADERS.contains(&name.to_ascii_lowercase().as_str()), "unexpected header {name:?}");
        // Byte level: obs-text (bytes >= 0x80, e.g. a UTF-8 User-Agent) is legal in a header value; CR, LF,
        // NUL and the other C0 controls are not.
        assert!(!value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f), "{name}: {value:?}");
    }
}

/// One canned answer for every route: `ref`/`customer_ref` (browser create), `customer.ref` (show),
/// `variantId` (callFlows), `items` (guest search), padded so small buffers overflow.
fn stub() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", l.local_addr().expect("addr"));
        std::thread::spawn(move || {
            let body = format!(
                r#"{{"ref":"{ID}","customer_ref":"{ID}","customer":{{"ref":"{ID}"}},"variantId":"v-1","items":[{{"href":"http://x/v2.1/guests/{ID}"}}],"pad":"{}"}}"#,
                "p".repeat(300)
            );
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let mut r = BufReader::new(s.try_clone().expect("clone"));
                let mut head = String::new();
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                if head.is_empty() {
                    continue;
                }
                check_request(head.trim_end());
                let mut b = vec![0u8; len];
                let _ = r.read_exact(&mut b);
                let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            }
        });
        url
    })
    .clone()
}

fn client() -> xmcdp_client_t {
    static H: OnceLock<xmcdp_client_t> = OnceLock::new();
    *H.get_or_init(|| {
        let s = format!(
            r#"{{"clientKey":"ck_fuzz","targetUrl":"{}","pointOfSale":"pos1","apiToken":"{TOKEN}","workerThreads":1,"decisionTimeoutMs":300,"breakerCooldownMs":1,"retryMaxAttempts":1,"queueCapacity":64}}"#,
            stub()
        );
        let mut h = 0;
        assert_eq!(xmcdp_client_new(xmcdp_str_t { ptr: s.as_ptr(), len: s.len() }, &mut h), XMCDP_STATUS_OK);
        h
    })
}

fn written<'a>(buf: *const u8, n: usize) -> &'a [u8] {
    if n == 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(buf, n) }
    }
}

fn echoes(strs: &[xmcdp_str_t], msg: &str) -> bool {
    strs.iter()
        .filter(|s| !s.ptr.is_null() && s.len >= 3 && s.len <= 64 * 1024)
        .filter_map(|s| std::str::from_utf8(written(s.ptr, s.len)).ok())
        .any(|v| v.contains('@') && msg.contains(v))
}

/// After a call that writes into (buf, cap): checks the buffer protocol and the message.
fn after(what: &str, s: xmcdp_status_t, n: usize, cap: usize, strs: &[xmcdp_str_t]) {
    check_status(what, s);
    match s {
        XMCDP_STATUS_OK => assert!(n <= cap, "{what}: {n} > {cap}"),
        XMCDP_STATUS_BUFFER_TOO_SMALL => {
            assert!(n > cap);
            let mut big = vec![0u8; n];
            let mut n2 = 0;
            let t = xmcdp_result_take(big.as_mut_ptr(), big.len(), &mut n2);
            // Held for decisions, browser ids and Guest API answers; other outputs are not held.
            assert!(t == XMCDP_STATUS_OK || t == XMCDP_STATUS_NO_RECORD, "{what}: take {t:?}");
            if t == XMCDP_STATUS_OK {
                assert_eq!(n2, n);
                assert_eq!(xmcdp_result_take(big.as_mut_ptr(), big.len(), &mut n2), XMCDP_STATUS_NO_RECORD, "taken once");
            }
        }
        _ => {
            let m = last_error();
            assert!(!m.is_empty(), "{what}: {s:?} without a message");
            assert!(!m.contains(TOKEN), "{what}: message shows the token");
            assert!(!echoes(strs, &m), "{what}: message echoes a value: {m:?}");
        }
    }
}

fn run(data: &[u8]) -> arbitrary::Result<()> {
    let mut u = Unstructured::new(data);
    let mut a = Arena::default();
    let live = client();
    let h = match u.int_in_range(0..=15)? {
        0 => 0,
        1 => u.arbitrary()?,
        _ => live,
    };
    let mut storage = vec![0u8; 2048];
    let (buf, cap): (*mut u8, usize) = match u.int_in_range(0..=5)? {
        0 => (std::ptr::null_mut(), 0),
        1 => (std::ptr::null_mut(), u.int_in_range(1..=usize::MAX)?),
        2 => (storage.as_mut_ptr(), u.int_in_range(0..=64)?),
        _ => (storage.as_mut_ptr(), storage.len()),
    };
    let mut n = 0usize;
    let budget = *u.choose(&[0u32, 1, 50, 300])?;
    let id_or = |a: &mut Arena, u: &mut Unstructured| -> arbitrary::Result<xmcdp_str_t> {
        Ok(if u.ratio(1, 2)? { a.text(if u.arbitrary()? { ID } else { "ext" }) } else { a.c_str(u)? })
    };
    match u.int_in_range(0..=6)? {
        0 | 1 => {
            let mut variants = Vec::new();
            for _ in 0..u.int_in_range(0..=3)? {
                variants.push(a.c_str(&mut u)?);
            }
            let (pv, pv_len) = match u.int_in_range(0..=3)? {
                0 => (std::ptr::null(), 0),
                1 => (std::ptr::null(), u.int_in_range(1..=usize::MAX)?),
                2 if !variants.is_empty() => (variants.as_ptr(), u.int_in_range(65..=usize::MAX)?),
                _ => (variants.as_ptr(), variants.len()),
            };
            let req = xmcdp_decision_request_t {
                friendly_id: if u.ratio(1, 2)? { a.text("home") } else { a.c_str(&mut u)? },
                browser_id: if u.ratio(1, 2)? { a.text(&uuidish(&mut u)?) } else { a.c_str(&mut u)? },
                email: a.c_str(&mut u)?,
                identifier_provider: a.c_str(&mut u)?,
                identifier_id: a.c_str(&mut u)?,
                channel: a.c_str(&mut u)?,
                currency: a.c_str(&mut u)?,
                language: a.c_str(&mut u)?,
                point_of_sale: a.c_str(&mut u)?,
                params_json: if u.ratio(1, 2)? {
                    let d = u.int_in_range(0..=3)?;
                    a.view(serde_json::to_vec(&xmcdp_fuzz::arb_object(&mut u, d)?).expect("json"))
                } else {
                    a.c_str(&mut u)?
                },
                guest_ref: a.c_str(&mut u)?,
                user_agent: a.c_str(&mut u)?,
                page_variant_ids: pv,
                page_variant_ids_len: pv_len,
            };
            let mut strs =
                vec![req.friendly_id, req.browser_id, req.email, req.identifier_provider, req.identifier_id, req.guest_ref, req.params_json];
            strs.extend(variants.iter().copied());
            let r: *const xmcdp_decision_request_t = if u.ratio(1, 20)? { std::ptr::null() } else { &req };
            if u.arbitrary()? {
                let s = xmcdp_client_decide(h, r, budget, buf, cap, &mut n);
                after("decide", s, n, cap, &strs);
            } else {
                let mut t = 0;
                let s = xmcdp_client_decision_begin(h, r, &mut t);
                after("decision_begin", s, 0, 0, &strs);
                let ticket = match u.int_in_range(0..=3)? {
                    0 => u.arbitrary()?,
                    1 => t ^ 1,
                    _ => t,
                };
                let mut ready = 7u8;
                check_status("decision_ready", xmcdp_client_decision_ready(h, ticket, &mut ready));
                assert!(ready <= 1);
                let s = xmcdp_client_decision_wait(h, ticket, budget, buf, cap, &mut n);
                after("decision_wait", s, n, cap, &strs);
                if s == XMCDP_STATUS_OK || s == XMCDP_STATUS_BUFFER_TOO_SMALL {
                    assert_eq!(xmcdp_client_decision_wait(h, ticket, budget, buf, cap, &mut n), XMCDP_STATUS_TICKET_UNKNOWN, "claimed once");
                }
            }
        }
        2 => {
            let cookie = if u.ratio(1, 2)? {
                let v = if u.arbitrary()? { uuidish(&mut u)? } else { xmcdp_fuzz::hostile_string(&mut u)? };
                a.text(&format!("{}={v}", u.choose(&["bid_ck_fuzz", "BID_ck_fuzz", "other"])?))
            } else {
                a.c_str(&mut u)?
            };
            let mut id = xmcdp_browser_id_t {
                source: xmcdp_browser_source_t::XMCDP_BROWSER_SOURCE_CREATED,
                created: 9,
                set_cookie_count: 9,
                browser_id_len: 9,
                guest_ref_len: 9,
                set_cookies_len: 9,
            };
            let out: *mut xmcdp_browser_id_t = if u.ratio(1, 20)? { std::ptr::null_mut() } else { &mut id };
            let s = xmcdp_client_browser_ensure(h, cookie, budget, out, buf, cap, &mut n);
            if s == XMCDP_STATUS_OK {
                assert_eq!(id.browser_id_len + id.guest_ref_len + id.set_cookies_len, n);
                let all = written(buf, n);
                let bid = std::str::from_utf8(&all[..id.browser_id_len]).expect("ASCII id");
                xmcdp::cookie::validate_browser_id(bid).expect("valid id");
                let cookies = &all[id.browser_id_len + id.guest_ref_len..];
                assert!(!cookies.iter().any(|&b| b < 0x20 && b != b'\n'), "control bytes in Set-Cookie");
                let count = if cookies.is_empty() { 0 } else { cookies.split(|&b| b == b'\n').count() as u32 };
                assert_eq!(count, id.set_cookie_count);
            }
            after("browser_ensure", s, n, cap, &[cookie]);
        }
        3 => {
            let bid = id_or(&mut a, &mut u)?;
            let s = xmcdp_client_browser_guest_ref(h, bid, budget, buf, cap, &mut n);
            after("browser_guest_ref", s, n, cap, &[bid]);
        }
        _ => {
            let (g, name) = (id_or(&mut a, &mut u)?, id_or(&mut a, &mut u)?);
            let data = if u.ratio(1, 2)? {
                let d = u.int_in_range(0..=2)?;
                a.view(serde_json::to_vec(&xmcdp_fuzz::arb_object(&mut u, d)?).expect("json"))
            } else {
                a.c_str(&mut u)?
            };
            let (e, p, i) = (a.c_str(&mut u)?, a.c_str(&mut u)?, a.c_str(&mut u)?);
            let fields: Vec<xmcdp_str_t> = (0..u.int_in_range(0..=3)?).map(|_| a.c_str(&mut u)).collect::<Result<_, _>>()?;
            let (fp, fl) = match u.int_in_range(0..=3)? {
                0 => (std::ptr::null(), 0),
                1 => (std::ptr::null(), u.int_in_range(1..=usize::MAX)?),
                2 if !fields.is_empty() => (fields.as_ptr(), u.int_in_range(65..=usize::MAX)?),
                _ => (fields.as_ptr(), fields.len()),
            };
            let expand: u8 = u.arbitrary()?;
            let (what, s) = match u.int_in_range(0..=7)? {
                0 => ("guest_find", xmcdp_client_guest_find(h, e, p, i, budget, buf, cap, &mut n)),
                1 => ("guest_get", xmcdp_client_guest_get(h, g, expand, budget, buf, cap, &mut n)),
                2 => ("extension_create", xmcdp_client_guest_extension_create(h, g, name, data, budget, buf, cap, &mut n)),
                3 => ("extension_get", xmcdp_client_guest_extension_get(h, g, name, budget, buf, cap, &mut n)),
                4 => ("extension_list", xmcdp_client_guest_extension_list(h, g, expand, budget, buf, cap, &mut n)),
                5 => ("extension_put", xmcdp_client_guest_extension_put(h, g, name, data, budget, buf, cap, &mut n)),
                6 => ("extension_patch", xmcdp_client_guest_extension_patch(h, g, name, data, budget, buf, cap, &mut n)),
                _ => ("extension_delete_fields", xmcdp_client_guest_extension_delete_fields(h, g, name, fp, fl, budget, buf, cap, &mut n)),
            };
            let mut strs = vec![g, name, data, e, p, i];
            strs.extend(fields.iter().copied());
            after(what, s, n, cap, &strs);
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
