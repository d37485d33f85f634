//! Inspection/admin API, memory caps, reset, clock, and the binary's start/stop contract.
mod common;
use common::*;
use serde_json::json;

#[test]
fn request_ring_records_requests() {
    let e = emu();
    let b = e.base_url();
    let (bid, _) = new_browser(&b);
    let r = request(
        &b,
        "POST",
        "/v1.2/events?x=1",
        &[
            ("Content-Type", "application/json"),
            ("X-Library-Version", "1.4.3"),
        ],
        Some(
            json!({"type": "VIEW", "browser_id": bid, "client_key": "ck_test", "pos": POS})
                .to_string()
                .as_bytes(),
        ),
    )
    .unwrap();
    assert_eq!(r.status, 201);
    let reqs = admin(&b, "/__emulator/requests?limit=1");
    assert_eq!(reqs["count"], 1);
    let it = &reqs["items"][0];
    assert_eq!(it["method"], "POST");
    assert_eq!(it["path"], "/v1.2/events");
    assert_eq!(it["query"], "x=1");
    assert_eq!(it["headers"]["x-library-version"], "1.4.3");
    assert_eq!(it["headers"]["content-type"], "application/json");
    assert_eq!(it["status"], 201);
    assert_eq!(it["route"], "events");
    assert!(it["body"].as_str().unwrap().contains(&bid));
    assert!(it["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        admin(&b, "/__emulator/requests")["count"],
        2,
        "admin calls are not recorded"
    );
    let st = admin(&b, "/__emulator/stats");
    assert_eq!(st["requests"]["by_route"]["events"], 1);
    assert_eq!(st["requests"]["by_route"]["browser_create"], 1);
    assert_eq!(st["browsers_created"], 1);
    assert_eq!(st["guests_created"], 1);
    assert_eq!(st["events"]["accepted_by_type"]["VIEW"], 1);
}

#[test]
fn caps_bound_memory() {
    let mut cfg = EmulatorConfig::default();
    cfg.limits.max_requests = 3;
    cfg.limits.max_events = 2;
    cfg.limits.max_guests = 2;
    let e = spawn(cfg).unwrap();
    let b = e.base_url();
    let (b1, g1) = new_browser(&b);
    for _ in 0..3 {
        assert_eq!(event(&b, &b1, "VIEW", json!({})).status, 201);
    }
    assert_eq!(admin(&b, "/__emulator/requests")["count"], 3);
    let evs = admin(&b, "/__emulator/events");
    assert_eq!(evs["count"], 2);
    assert_eq!(evs["items"][1]["seq"], 3);
    new_browser(&b);
    new_browser(&b); // evicts the oldest guest (g1) and its browser
    let gs = admin(&b, "/__emulator/guests");
    assert_eq!(gs["count"], 2);
    assert!(gs["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["ref"] != g1.as_str()));
    assert_eq!(event(&b, &b1, "VIEW", json!({})).status, 404);
    assert_eq!(admin(&b, "/__emulator/stats")["guests_evicted"], 1);
    let c = admin(&b, "/__emulator/config");
    assert_eq!(c["limits"]["maxGuests"], 2);
}

/// The clock only moves forward, by a finite amount, and never so far that it wraps or leaves four-digit years.
#[test]
fn clock_advance_rejects_values_that_would_wrap_or_are_not_finite() {
    let e = emu();
    let b = e.base_url();
    let advance = |secs: &str| {
        request(
            &b,
            "POST",
            &format!("/__emulator/clock/advance?seconds={secs}"),
            &[],
            Some(b""),
        )
        .unwrap()
    };
    for bad in [
        "1e20",
        "9223372036854775807",
        "inf",
        "-inf",
        "infinity",
        "NaN",
        "nan",
        "-1",
        "-0.5",
    ] {
        let r = advance(bad);
        assert_eq!(r.status, 400, "seconds={bad}: {}", r.text());
        let msg = r.json()["developerMessage"].as_str().unwrap().to_string();
        assert!(msg.contains("seconds"), "seconds={bad}: {msg}");
    }
    let c = admin(&b, "/__emulator/clock");
    assert_eq!(
        c["offset_seconds"], 0.0,
        "a rejected advance must not move the clock"
    );

    // Ninety years is accepted; the total may not pass a hundred, so twenty more years are refused.
    let ninety_years = (90u64 * 365 * 86_400).to_string();
    let c = admin_post(
        &b,
        &format!("/__emulator/clock/advance?seconds={ninety_years}"),
    );
    let now = c["now"].as_str().unwrap();
    assert!(now.len() == 24 && now.starts_with('2'), "{now}");
    let r = advance(&(20u64 * 365 * 86_400).to_string());
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["developerMessage"]
        .as_str()
        .unwrap()
        .contains("ahead"));
    let c = admin(&b, "/__emulator/clock");
    assert_eq!(
        c["offset_seconds"].as_f64().unwrap(),
        90.0 * 365.0 * 86_400.0
    );
}

#[test]
fn reset_clock_and_lookups() {
    let e = emu();
    let b = e.base_url();
    let (bid, gref) = new_browser(&b);
    event(&b, &bid, "VIEW", json!({}));
    let g = admin(&b, &format!("/__emulator/guests/{gref}"));
    assert_eq!(g["browsers"], json!([bid]));
    assert_eq!(g["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(get(&b, "/__emulator/guests/nope").status, 404);
    assert_eq!(get(&b, "/__emulator/nope").status, 404);
    let c0 = admin(&b, "/__emulator/clock");
    assert_eq!(c0["offset_seconds"], 0.0);
    let c = admin_post(&b, "/__emulator/clock/advance?seconds=90");
    assert_eq!(c["offset_seconds"], 90.0);
    assert_eq!(
        request(
            &b,
            "POST",
            "/__emulator/clock/advance?seconds=x",
            &[],
            Some(b"")
        )
        .unwrap()
        .status,
        400
    );
    send_json(
        &b,
        "PUT",
        "/__emulator/faults",
        &json!({"routes": {"events": {"error_rate": 1.0}}}),
    );
    admin_post(&b, "/__emulator/reset");
    assert_eq!(admin(&b, "/__emulator/guests")["count"], 0);
    assert_eq!(admin(&b, "/__emulator/events")["count"], 0);
    assert_eq!(admin(&b, "/__emulator/sessions")["count"], 0);
    assert_eq!(admin(&b, "/__emulator/flows/executions")["count"], 0);
    assert_eq!(admin(&b, "/__emulator/requests")["count"], 0);
    assert_eq!(admin(&b, "/__emulator/stats")["browsers_created"], 0);
    assert_eq!(admin(&b, "/__emulator/clock")["offset_seconds"], 0.0);
    assert_eq!(
        admin(&b, "/__emulator/faults")["config"]["routes"],
        json!({})
    );
    assert_eq!(admin(&b, "/__emulator/health")["status"], "OK");
}

#[test]
fn many_emulators_and_stop() {
    let a = emu();
    let c = emu();
    assert_ne!(a.addr(), c.addr());
    assert!(a.base_url().starts_with("http://127.0.0.1:") && !a.base_url().ends_with('/'));
    let base = a.base_url();
    a.stop();
    assert!(
        request(&base, "GET", "/__emulator/health", &[], None).is_err(),
        "stopped emulator refuses connections"
    );
    assert_eq!(get(&c.base_url(), "/__emulator/health").status, 200);
    drop(c);
}

#[test]
fn concurrent_clients() {
    let e = emu();
    let b = e.base_url();
    let (bid, _) = new_browser(&b);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let b = b.clone();
            let bid = bid.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    assert_eq!(event(&b, &bid, "VIEW", json!({})).status, 201);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = admin(&b, &format!("/__emulator/sessions?browser_id={bid}"));
    assert_eq!(s["items"][0]["event_count"], 400);
}

#[cfg(unix)]
#[test]
fn binary_prints_listening_line_and_exits_zero_on_sigterm() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xmcdp-emulator"))
        .args(["--listen", "127.0.0.1:0", "--error-rate", "events=1:503"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"));
    let (bid, _) = new_browser(&base);
    assert_eq!(event(&base, &bid, "VIEW", json!({})).status, 503);
    let st = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let code = child.wait().unwrap();
    assert_eq!(code.code(), Some(0));

    // With a config file.
    let dir = std::env::temp_dir().join(format!("xmcdp-emu-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("cfg.json");
    std::fs::write(
        &f,
        r#"{"tenants":[{"clientKey":"kx","apiToken":"tx","pointsOfSale":{"p":5}}]}"#,
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xmcdp-emulator"))
        .args(["--config", f.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    assert_eq!(
        get(&base, "/v1.2/browser/create.json?client_key=kx").status,
        200
    );
    assert_eq!(
        get(&base, "/v1.2/browser/create.json?client_key=ck_test").status,
        401
    );
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xmcdp-emulator"))
        .args(["--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn garbage_and_half_closed_clients_get_answers() {
    use std::io::{Read, Write};
    let e = emu();
    let b = e.base_url();
    let send = |data: &[u8]| -> String {
        let mut s = std::net::TcpStream::connect(b.trim_start_matches("http://")).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        s.write_all(data).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert!(
        send(b"PUT /__emulator/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n[1]")
            .contains(" 400 ")
    );
    assert!(send(b"\x00\x01garbage\r\n\r\n").contains(" 400 "));
    assert!(
        send(b"POST /v1.2/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{\"a\"")
            .contains(" 400 ")
    );
    let chunked = b"POST /v1.2/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n";
    assert!(send(chunked).contains(" 400 "));
    assert_eq!(get(&b, "/__emulator/health").status, 200);
}
