//! The shutdown report and the spool figures are readable after shutdown through `xmcdp_client_stats`
//! (issue 10 item 7: the C# side logs them when the app pool stops).

use serde_json::Value;
use std::ptr::null_mut;
use xmcdp::ffi::status::xmcdp_status_t::*;
use xmcdp::ffi::*;

fn s(v: &str) -> xmcdp_str_t {
    xmcdp_str_t { ptr: v.as_ptr(), len: v.len() }
}

fn stats(c: xmcdp_client_t) -> Value {
    let mut n = 0usize;
    assert_eq!(xmcdp_client_stats(c, null_mut(), 0, &mut n), XMCDP_STATUS_BUFFER_TOO_SMALL);
    let mut buf = vec![0u8; n + 4096];
    assert_eq!(xmcdp_client_stats(c, buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
    serde_json::from_slice(&buf[..n]).unwrap()
}

#[test]
fn stats_carry_the_shutdown_report_and_the_spool_figures() {
    let dir = std::env::temp_dir().join(format!("xmcdp-shutdown-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A listener that never answers: the kernel completes the connection, nobody reads the request, so
    // the one event is still in flight when the deadline passes, however fast or slow the machine is.
    // (A refused port made this depend on timing: on a fast machine the outage spill took the event to
    // the spool before shutdown began, and shutdown then had nothing left to report.)
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let settings = serde_json::json!({
        "clientKey": "ck_shutdown", "pointOfSale": "p",
        "targetUrl": format!("http://{}", silent.local_addr().unwrap()),
        "retryMaxAttempts": 100, "requestTimeoutMs": 60_000,
        "spoolDirectory": dir.to_str().unwrap(),
    })
    .to_string();
    let mut c = 0;
    assert_eq!(xmcdp_client_new(s(&settings), &mut c), XMCDP_STATUS_OK);
    assert!(stats(c)["shutdown"].is_null(), "no report before shutdown");

    let mut pv: xmcdp_page_view_t = unsafe { std::mem::zeroed() };
    pv.common.browser_id = s("6f0c2c1e-1b1a-4c3f-9d0e-5a4b3c2d1e0f");
    pv.url = s("/products");
    assert_eq!(xmcdp_client_page_view(c, &pv), XMCDP_STATUS_OK);
    assert_eq!(xmcdp_client_shutdown(c, 300), XMCDP_STATUS_SHUTDOWN_INCOMPLETE);

    let st = stats(c);
    let report = &st["shutdown"];
    assert_eq!(report["unsent"], 1, "{st}");
    assert_eq!(report["spooled"], 1, "{st}");
    assert_eq!(report["delivered"], 0, "{st}");
    assert_eq!(st["spool"]["enabled"], true, "{st}");
    assert_eq!(st["spool"]["spooled"], 1, "{st}");
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
    drop(silent);
    let _ = std::fs::remove_dir_all(&dir);
}
