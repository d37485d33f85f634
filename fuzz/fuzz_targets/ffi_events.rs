//! The per-request C ABI entry points (`xmcdp_client_page_view` / `_identity` / `_event`) with structs
//! built from fuzz bytes: every string field absent, NULL-with-length, huge, invalid UTF-8 or hostile text;
//! arrays NULL-with-length, over the item limit or real; handles live, zero, stale or garbage.
//! Checks: a documented status, never PANIC; a failure leaves a UTF-8 message that never echoes a value.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use xmcdp::ffi::*;
use xmcdp_fuzz::{check_status, last_error, Arena};

struct Handles {
    live: xmcdp_client_t,
    stale: xmcdp_client_t,
}

fn handles() -> &'static Handles {
    static H: OnceLock<Handles> = OnceLock::new();
    H.get_or_init(|| {
        // A client whose deliveries fail fast (nothing listens on port 9 of loopback) and never retry,
        // with a small queue so QUEUE_FULL is reached too.
        let settings = br#"{"clientKey":"ck_fuzz","targetUrl":"http://127.0.0.1:9","pointOfSale":"pos1","queueCapacity":64,"retryMaxAttempts":1,"workerThreads":1,"deliveryConcurrency":2,"connectTimeoutMs":50}"#;
        let s = xmcdp_str_t { ptr: settings.as_ptr(), len: settings.len() };
        let mut live = 0;
        assert_eq!(xmcdp_client_new(s, &mut live), xmcdp_status_t::XMCDP_STATUS_OK);
        let mut stale = 0;
        assert_eq!(xmcdp_client_new(s, &mut stale), xmcdp_status_t::XMCDP_STATUS_OK);
        assert_eq!(xmcdp_client_delete(stale), xmcdp_status_t::XMCDP_STATUS_OK);
        Handles { live, stale }
    })
}

fn handle(u: &mut Unstructured) -> arbitrary::Result<xmcdp_client_t> {
    let h = handles();
    Ok(match u.int_in_range(0..=15)? {
        0 => 0,
        1 => h.stale,
        2 => u.arbitrary()?,
        3 => h.live ^ (1u64 << u.int_in_range(0..=63)?),
        _ => h.live,
    })
}

fn common(a: &mut Arena, u: &mut Unstructured) -> arbitrary::Result<xmcdp_common_t> {
    Ok(xmcdp_common_t {
        browser_id: a.c_str(u)?,
        channel: a.c_str(u)?,
        currency: a.c_str(u)?,
        language: a.c_str(u)?,
        page: a.c_str(u)?,
        point_of_sale: a.c_str(u)?,
    })
}

fn json_str(a: &mut Arena, u: &mut Unstructured) -> arbitrary::Result<xmcdp_str_t> {
    if u.ratio(1, 3)? {
        let depth = u.int_in_range(0..=4)?;
        let v = serde_json::Value::Object(xmcdp_fuzz::arb_object(u, depth)?);
        Ok(a.view(serde_json::to_vec(&v).expect("serializable")))
    } else {
        a.c_str(u)
    }
}

/// A C array in one of the shapes a caller can produce. `huge` lengths exceed the 64-item limit and must be
/// refused before the array is read.
fn array<T: Copy>(store: &mut Vec<Vec<T>>, items: Vec<T>, u: &mut Unstructured) -> arbitrary::Result<(*const T, usize)> {
    Ok(match u.int_in_range(0..=7)? {
        0 => (std::ptr::null(), 0),
        1 => (std::ptr::null(), u.int_in_range(1..=usize::MAX)?),
        2 if !items.is_empty() => {
            let p = items.as_ptr();
            store.push(items);
            (p, u.int_in_range(65..=usize::MAX)?)
        }
        _ => {
            let (p, n) = (items.as_ptr(), items.len());
            store.push(items);
            (if n == 0 && u.arbitrary()? { std::ptr::null() } else { p }, n)
        }
    })
}

fn values_in(a: &[xmcdp_str_t]) -> Vec<String> {
    // Only values that contain '@' are checked: no message template contains one, so finding such a value in
    // a message means it was echoed (and e-mail addresses are the personal data most likely to be passed).
    a.iter()
        .filter(|s| !s.ptr.is_null() && s.len >= 3 && s.len <= 64 * 1024)
        .filter_map(|s| std::str::from_utf8(unsafe { std::slice::from_raw_parts(s.ptr, s.len) }).ok())
        .filter(|s| s.contains('@'))
        .map(str::to_owned)
        .collect()
}

fn check(what: &str, status: xmcdp_status_t, strs: &[xmcdp_str_t]) {
    check_status(what, status);
    if status != xmcdp_status_t::XMCDP_STATUS_OK {
        let msg = last_error();
        assert!(!msg.is_empty(), "{what}: {status:?} without a message");
        for v in values_in(strs) {
            assert!(!msg.contains(&v), "{what}: message echoes a value: {msg:?}");
        }
    }
}

fn common_strs(c: &xmcdp_common_t) -> [xmcdp_str_t; 6] {
    [c.browser_id, c.channel, c.currency, c.language, c.page, c.point_of_sale]
}

fn run(data: &[u8]) -> arbitrary::Result<()> {
    let mut u = Unstructured::new(data);
    let mut a = Arena::default();
    let h = handle(&mut u)?;
    match u.int_in_range(0..=3)? {
        0 => {
            let p = xmcdp_page_view_t {
                common: common(&mut a, &mut u)?,
                url: a.c_str(&mut u)?,
                referrer: a.c_str(&mut u)?,
                page_variant_id: a.c_str(&mut u)?,
                ext_json: json_str(&mut a, &mut u)?,
                user_agent: a.c_str(&mut u)?,
                include_utm: u.arbitrary()?,
            };
            let s = xmcdp_client_page_view(h, &p);
            let mut strs = common_strs(&p.common).to_vec();
            strs.extend([p.url, p.referrer, p.page_variant_id, p.ext_json, p.user_agent]);
            check("page_view", s, &strs);
        }
        1 => {
            let mut street_store = Vec::new();
            let mut id_store = Vec::new();
            let n = u.int_in_range(0..=70)?;
            let mut street = Vec::with_capacity(n);
            for _ in 0..n.min(3) {
                street.push(a.c_str(&mut u)?);
            }
            while street.len() < n {
                street.push(a.text("line"));
            }
            let n = u.int_in_range(0..=70)?;
            let mut ids = Vec::with_capacity(n);
            for i in 0..n {
                ids.push(if i < 3 {
                    xmcdp_identifier_t { provider: a.c_str(&mut u)?, id: a.c_str(&mut u)?, expiry_date: a.c_str(&mut u)? }
                } else {
                    xmcdp_identifier_t { provider: a.text("email"), id: a.text("x@y.z"), expiry_date: xmcdp_str_t::NONE }
                });
            }
            let mut strs: Vec<xmcdp_str_t> = street.clone();
            strs.extend(ids.iter().flat_map(|i| [i.provider, i.id, i.expiry_date]));
            let (street, street_len) = array(&mut street_store, street, &mut u)?;
            let (identifiers, identifiers_len) = array(&mut id_store, ids, &mut u)?;
            let i = xmcdp_identity_t {
                common: common(&mut a, &mut u)?,
                email: a.c_str(&mut u)?,
                first_name: a.c_str(&mut u)?,
                last_name: a.c_str(&mut u)?,
                dob: a.c_str(&mut u)?,
                gender: a.c_str(&mut u)?,
                mobile: a.c_str(&mut u)?,
                phone: a.c_str(&mut u)?,
                city: a.c_str(&mut u)?,
                state: a.c_str(&mut u)?,
                country: a.c_str(&mut u)?,
                postal_code: a.c_str(&mut u)?,
                title: a.c_str(&mut u)?,
                ext_json: json_str(&mut a, &mut u)?,
                user_agent: a.c_str(&mut u)?,
                street,
                street_len,
                identifiers,
                identifiers_len,
            };
            let s = xmcdp_client_identity(h, &i);
            strs.extend(common_strs(&i.common));
            strs.extend([
                i.email,
                i.first_name,
                i.last_name,
                i.dob,
                i.gender,
                i.mobile,
                i.phone,
                i.city,
                i.state,
                i.country,
                i.postal_code,
                i.title,
                i.ext_json,
                i.user_agent,
            ]);
            check("identity", s, &strs);
        }
        2 => {
            let e = xmcdp_event_t {
                common: common(&mut a, &mut u)?,
                event_type: a.c_str(&mut u)?,
                data_json: json_str(&mut a, &mut u)?,
                ext_json: json_str(&mut a, &mut u)?,
                user_agent: a.c_str(&mut u)?,
            };
            let s = xmcdp_client_event(h, &e);
            let mut strs = common_strs(&e.common).to_vec();
            strs.extend([e.event_type, e.data_json, e.ext_json, e.user_agent]);
            check("event", s, &strs);
        }
        _ => {
            // NULL structs.
            check_status("page_view(NULL)", xmcdp_client_page_view(h, std::ptr::null()));
            check_status("identity(NULL)", xmcdp_client_identity(h, std::ptr::null()));
            check_status("event(NULL)", xmcdp_client_event(h, std::ptr::null()));
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
