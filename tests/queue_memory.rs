//! `queueMaxBytes` bounds memory for every event shape (issue 17, item 5): with the CDP down, events are
//! queued through the C ABI until `QUEUE_FULL`, and the process's resident memory may grow by at most 1.5x
//! the configured budget. Each shape runs in a fresh child process (this same test, re-run with
//! `XMCDP_QUEUE_SHAPE` set) so one shape's freed memory cannot hide the next one's growth.
//!
//! Linux only (`/proc/self/statm`). `XMCDP_QUEUE_MIB` changes the budget (default 32 MiB; the figures in
//! RELIABILITY.md are for 64).

#![cfg(target_os = "linux")]

use std::process::Command;
use std::time::Duration;
use xmcdp::ffi::status::xmcdp_status_t::*;
use xmcdp::ffi::*;

fn s(v: &str) -> xmcdp_str_t {
    xmcdp_str_t { ptr: v.as_ptr(), len: v.len() }
}

/// Hostile payloads of just under 64 KiB (the per-field limit) and an ordinary page view.
const SHAPES: &[&str] = &["empty_arrays", "numbers", "one_char_strings", "empty_objects", "ext_array_of_numbers", "page_view_with_ext"];

fn repeat_json(item: &str, budget: usize) -> String {
    let n = budget / (item.len() + 1);
    format!("[{}]", vec![item; n].join(","))
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Fills one client's queue with `shape` and returns (events accepted, charged bytes, RSS growth).
fn fill(shape: &str, max_bytes: usize) -> (usize, usize, usize) {
    let settings = format!(
        r#"{{"clientKey":"ck_test","targetUrl":"http://127.0.0.1:9","pointOfSale":"p","queueMaxBytes":{max_bytes},"queueCapacity":10000000,
            "deliveryConcurrency":1,"retryMaxAttempts":100,"retryBaseMs":60000,"workerThreads":1}}"#
    );
    let mut c = 0;
    assert_eq!(xmcdp_client_new(s(&settings), &mut c), XMCDP_STATUS_OK);
    let bid = "a38b230c-11eb-4cf9-8d5d-274e9f344925";
    let budget = 60 * 1024;
    let (data, ext) = match shape {
        "empty_arrays" => (format!(r#"{{"a":{}}}"#, repeat_json("[]", budget)), String::new()),
        "numbers" => (format!(r#"{{"a":{}}}"#, repeat_json("0", budget)), String::new()),
        "one_char_strings" => (format!(r#"{{"a":{}}}"#, repeat_json("\"x\"", budget)), String::new()),
        "empty_objects" => (format!(r#"{{"a":{}}}"#, repeat_json("{}", budget)), String::new()),
        "ext_array_of_numbers" => (String::new(), format!(r#"{{"a":{}}}"#, repeat_json("0", budget))),
        _ => (String::new(), String::new()),
    };
    let url = format!("/products/bikes?utm_source=newsletter&utm_campaign=spring&q={}", "x".repeat(200));
    let page_ext = r#"{"pageVariantId":"v9","section":"bikes","tags":["a","b","c"],"nested":{"depth":1,"flag":true}}"#;
    let opt = |v: &str| if v.is_empty() { xmcdp_str_t { ptr: std::ptr::null(), len: 0 } } else { s(v) };
    let send = || unsafe {
        if shape == "page_view_with_ext" {
            let mut pv: xmcdp_page_view_t = std::mem::zeroed();
            pv.common.browser_id = s(bid);
            pv.url = s(&url);
            pv.ext_json = s(page_ext);
            xmcdp_client_page_view(c, &pv)
        } else {
            let mut e: xmcdp_event_t = std::mem::zeroed();
            e.common.browser_id = s(bid);
            e.event_type = s("HOSTILE");
            e.data_json = opt(&data);
            e.ext_json = opt(&ext);
            xmcdp_client_event(c, &e)
        }
    };
    // One event first, so the lane and the connection attempt exist before the baseline.
    assert_eq!(send(), XMCDP_STATUS_OK);
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_bytes();
    let mut accepted = 1;
    loop {
        match send() {
            XMCDP_STATUS_OK => accepted += 1,
            XMCDP_STATUS_QUEUE_FULL => break,
            other => panic!("{shape}: {other:?}"),
        }
    }
    let growth = rss_bytes().saturating_sub(before);
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0;
    assert_eq!(xmcdp_client_stats(c, buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
    let stats: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
    let charged = stats["events"]["queue_bytes"].as_u64().unwrap() as usize;
    xmcdp_client_shutdown(c, 0);
    xmcdp_client_delete(c);
    (accepted, charged, growth)
}

#[test]
fn queue_max_bytes_bounds_resident_memory_for_every_event_shape() {
    let mib: usize = std::env::var("XMCDP_QUEUE_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
    let max_bytes = mib << 20;
    if let Ok(shape) = std::env::var("XMCDP_QUEUE_SHAPE") {
        let (accepted, charged, growth) = fill(&shape, max_bytes);
        println!("\nSHAPE {shape} {accepted} {charged} {growth}");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut worst = 0f64;
    let mut table = String::new();
    for shape in SHAPES {
        let out = Command::new(&exe)
            .args(["--exact", "queue_max_bytes_bounds_resident_memory_for_every_event_shape", "--nocapture", "--test-threads", "1"])
            .env("XMCDP_QUEUE_SHAPE", shape)
            .env("XMCDP_QUEUE_MIB", mib.to_string())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{shape}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let line = stdout.lines().find_map(|l| l.find("SHAPE ").map(|i| &l[i..])).unwrap_or_else(|| panic!("{shape}: {stdout}"));
        let f: Vec<usize> = line.split_whitespace().skip(2).map(|x| x.parse().unwrap()).collect();
        let ratio = f[2] as f64 / max_bytes as f64;
        worst = worst.max(ratio);
        table += &format!("{shape:<22} accepted {:>7}  charged {:>6.1} MiB  RSS +{:>6.1} MiB  ({ratio:.2}x the budget)\n", f[0], f[1] as f64 / 1048576.0, f[2] as f64 / 1048576.0);
    }
    eprintln!("queueMaxBytes {mib} MiB, CDP down:\n{table}");
    assert!(worst <= 1.5, "resident memory grew up to {worst:.2}x queueMaxBytes:\n{table}");
}
