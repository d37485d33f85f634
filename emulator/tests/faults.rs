//! Fault injection through the admin API: errors, 429, resets, latency, slow bodies, outage, counters.
mod common;
use common::*;
use serde_json::json;
use std::time::Instant;

fn put_faults(b: &str, cfg: serde_json::Value) -> serde_json::Value {
    let r = send_json(b, "PUT", "/__emulator/faults", &cfg);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[test]
fn error_and_throttle_per_route() {
    let e = emu();
    let b = e.base_url();
    let (bid, _) = new_browser(&b);
    let v = put_faults(
        &b,
        json!({"routes": {"events": {"error_rate": 1.0, "error_status": 503}, "callflows": {"throttle_rate": 1.0, "retry_after_secs": 7}}}),
    );
    assert_eq!(v["config"]["routes"]["events"]["error_status"], 503);
    let r = event(&b, &bid, "VIEW", json!({}));
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["code"], 503);
    let r = call_flow(
        &b,
        json!({"clientKey": "ck_test", "friendlyId": "home_page_banner", "browserId": bid}),
    );
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    // Other routes untouched; the failed event was not processed.
    assert_eq!(
        get(
            &b,
            &format!("/v1.2/browser/{bid}/show.json?client_key=ck_test")
        )
        .status,
        200
    );
    assert_eq!(admin(&b, "/__emulator/stats")["events"]["accepted"], 0);
    let f = admin(&b, "/__emulator/faults");
    assert_eq!(f["injected"]["by_kind"]["error"], 1);
    assert_eq!(f["injected"]["by_kind"]["throttle"], 1);
    let req = admin(&b, "/__emulator/requests?limit=3");
    assert_eq!(req["items"][0]["fault"], "error");
    assert_eq!(req["items"][0]["status"], 503);

    let r = request(&b, "DELETE", "/__emulator/faults", &[], None).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["config"], json!({"outage": false, "routes": {}}));
    assert_eq!(event(&b, &bid, "VIEW", json!({})).status, 201);
}

#[test]
fn max_faults_fails_the_next_n_then_recovers() {
    let e = emu();
    let b = e.base_url();
    let (bid, _) = new_browser(&b);
    put_faults(
        &b,
        json!({"routes": {"*": {"error_rate": 1.0, "error_status": 500, "max_faults": 2}}}),
    );
    assert_eq!(event(&b, &bid, "VIEW", json!({})).status, 500);
    assert_eq!(event(&b, &bid, "VIEW", json!({})).status, 500);
    assert_eq!(event(&b, &bid, "VIEW", json!({})).status, 201);
    assert_eq!(admin(&b, "/__emulator/stats")["faults"]["total"], 2);
}

#[test]
fn connection_reset_and_outage() {
    let e = emu();
    let b = e.base_url();
    let (bid, _) = new_browser(&b);
    put_faults(&b, json!({"routes": {"events": {"reset_rate": 1.0}}}));
    let body =
        json!({"type": "VIEW", "browser_id": bid, "client_key": "ck_test", "pos": POS}).to_string();
    let r = request(
        &b,
        "POST",
        "/v1.2/events",
        &[("Content-Type", "application/json")],
        Some(body.as_bytes()),
    );
    assert!(r.is_err(), "expected a dropped connection, got {r:?}");
    assert_eq!(
        admin(&b, "/__emulator/stats")["faults"]["by_kind"]["reset"],
        1
    );
    assert_eq!(
        get(&b, "/v1.2/browser/create.json?client_key=ck_test").status,
        200
    );

    put_faults(&b, json!({"outage": true}));
    assert!(request(
        &b,
        "GET",
        "/v1.2/browser/create.json?client_key=ck_test",
        &[],
        None
    )
    .is_err());
    assert!(request(
        &b,
        "POST",
        "/v2.1/guests",
        &[("Authorization", BASIC)],
        Some(b"{}")
    )
    .is_err());
    let st = admin(&b, "/__emulator/stats");
    assert_eq!(st["faults"]["by_kind"]["outage"], 2);
    let reqs = admin(&b, "/__emulator/requests?limit=1");
    assert_eq!(reqs["items"][0]["fault"], "outage");
    assert_eq!(reqs["items"][0]["status"], 0);
    request(&b, "DELETE", "/__emulator/faults", &[], None).unwrap();
    assert_eq!(
        get(&b, "/v1.2/browser/create.json?client_key=ck_test").status,
        200
    );
}

#[test]
fn a_black_hole_reads_the_request_and_never_answers_nor_stores_it() {
    use std::io::{Read, Write};
    let e = emu();
    let b = e.base_url();
    let (bid, _) = new_browser(&b);
    put_faults(&b, json!({"routes": {"events": {"blackhole_rate": 1.0}}}));
    let body = json!({"type": "VIEW", "browser_id": bid, "client_key": "ck_test", "pos": POS}).to_string();
    let addr = b.trim_start_matches("http://").trim_end_matches('/').to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(s, "POST /v1.2/events HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_millis(1500))).unwrap();
    let mut buf = [0u8; 64];
    let t0 = Instant::now();
    let r = s.read(&mut buf);
    assert!(
        matches!(&r, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "expected no answer at all, got {r:?}"
    );
    assert!(t0.elapsed().as_millis() >= 1400);
    let st = admin(&b, "/__emulator/stats");
    assert_eq!(st["faults"]["by_kind"]["blackhole"], 1, "{st}");
    assert_eq!(st["events"]["accepted"], 0, "{st}");
    // Other routes keep answering.
    assert_eq!(get(&b, "/v1.2/browser/create.json?client_key=ck_test").status, 200);
}

#[test]
fn latency_and_slow_body() {
    let e = emu();
    let b = e.base_url();
    put_faults(
        &b,
        json!({"routes": {"browser_create": {"latency_ms": 150, "jitter_ms": 20}}}),
    );
    let t = Instant::now();
    assert_eq!(
        get(&b, "/v1.2/browser/create.json?client_key=ck_test").status,
        200
    );
    let ms = t.elapsed().as_millis();
    assert!((150..1500).contains(&ms), "latency {ms} ms");

    put_faults(
        &b,
        json!({"routes": {"browser_create": {"slow_body_rate": 1.0, "slow_body_delay_ms": 20, "slow_body_chunk_bytes": 32}}}),
    );
    let t = Instant::now();
    let r = get(&b, "/v1.2/browser/create.json?client_key=ck_test");
    let ms = t.elapsed().as_millis();
    assert_eq!(r.status, 200);
    assert!(r.json()["ref"].is_string(), "body intact");
    let chunks = r.body.len().div_ceil(32) as u128;
    assert!(
        ms >= (chunks - 1) * 20,
        "slow body took {ms} ms for {chunks} chunks"
    );
    let st = admin(&b, "/__emulator/stats");
    assert_eq!(st["faults"]["by_kind"]["latency"], 1);
    assert_eq!(st["faults"]["by_kind"]["slow_body"], 1);
}

#[test]
fn invalid_fault_configs_are_rejected() {
    let e = emu();
    let b = e.base_url();
    for bad in [
        json!({"routes": {"nope": {}}}),
        json!({"routes": {"events": {"error_rate": 2.0}}}),
        json!({"routes": {"events": {"bogus": 1}}}),
    ] {
        let r = send_json(&b, "PUT", "/__emulator/faults", &bad);
        assert_eq!(r.status, 400, "{bad}");
    }
    let r = request(
        &b,
        "PUT",
        "/__emulator/faults",
        &[("Content-Type", "application/json")],
        Some(b"{"),
    )
    .unwrap();
    assert_eq!(r.status, 400);
}

#[test]
fn cli_fault_flags_parse() {
    let mut f = xmcdp_emulator::FaultConfig::default();
    xmcdp_emulator::apply_cli_flag(&mut f, "--latency", "events=100+50").unwrap();
    xmcdp_emulator::apply_cli_flag(&mut f, "--error-rate", "*=0.25:503").unwrap();
    xmcdp_emulator::apply_cli_flag(&mut f, "--throttle", "callflows=0.5:3").unwrap();
    xmcdp_emulator::apply_cli_flag(&mut f, "--reset-rate", "guests=0.1").unwrap();
    xmcdp_emulator::apply_cli_flag(&mut f, "--slow-body", "browser_show=1:10").unwrap();
    assert_eq!(f.routes["events"].latency_ms, 100);
    assert_eq!(f.routes["events"].jitter_ms, 50);
    assert_eq!(f.routes["*"].error_status, 503);
    assert_eq!(f.routes["callflows"].retry_after_secs, 3);
    assert_eq!(f.routes["browser_show"].slow_body_delay_ms, 10);
    assert!(xmcdp_emulator::apply_cli_flag(&mut f, "--latency", "bogus=1").is_err());
    assert!(xmcdp_emulator::apply_cli_flag(&mut f, "--error-rate", "events=x").is_err());
}
