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
