//! Decision and browser-id latency against the local emulator (loopback HTTP/1.1):
//!   cargo run --release --example bench_decisions
//! Prints p50/p99 of: decision overhead above the emulator's injected latency (xmcdp `decide` vs a bare
//! reqwest POST of the same body), the cost of a call while the breaker is open, and a first-visit browser id
//! from the pool vs a blocking create.

use serde_json::{json, Map};
use std::time::{Duration, Instant};
use xmcdp::model::{BodyContext, DecisionRequest};
use xmcdp::Client;
use xmcdp_emulator::{spawn, EmulatorConfig};

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn show(name: &str, v: &mut [Duration]) {
    println!("{name:<58} n={:<7} p50={:>10.1?} p99={:>10.1?} max={:>10.1?}", v.len(), pct(v, 0.5), pct(v, 0.99), pct(v, 1.0));
}

fn faults(base: &str, f: serde_json::Value) {
    // The admin API through a throwaway runtime + reqwest (no extra dependencies).
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new().put(format!("{base}/__emulator/faults")).body(f.to_string()).send().await.unwrap();
        assert!(r.status().is_success());
    });
}

fn req(bid: &str, i: usize) -> DecisionRequest {
    DecisionRequest {
        friendly_id: "home_page_banner".into(),
        browser_id: Some(bid.into()),
        channel: Some("WEB".into()),
        currency: Some("EUR".into()),
        params: Map::from_iter([("i".to_string(), json!(i))]),
        ..Default::default()
    }
}

fn main() {
    let emu = spawn(EmulatorConfig::default()).unwrap();
    let base = emu.base_url();
    let settings = |extra: serde_json::Value| {
        let mut s = json!({"clientKey": "ck_test", "targetUrl": base, "pointOfSale": "myretailsite/ireland", "breakerFailureThreshold": 1_000_000});
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        Client::from_json(&s.to_string()).unwrap()
    };
    let c = settings(json!({}));
    let bid = c.browser_ids().create_browser_id(Duration::from_secs(2)).unwrap().browser_id;
    let n = 1000;
    let budget = Duration::from_secs(2);

    for latency in [0u64, 20] {
        faults(&base, json!({"routes": {"callflows": {"latency_ms": latency}}}));
        let injected = Duration::from_millis(latency);
        // warm-up (connection pool)
        for i in 0..50 {
            c.decisions().decide(&req(&bid, i), None, budget).unwrap();
        }
        let mut lib = Vec::with_capacity(n);
        for i in 0..n {
            let r = req(&bid, 100_000 + i);
            let t = Instant::now();
            c.decisions().decide(&r, Some("bench"), budget).unwrap();
            lib.push(t.elapsed().saturating_sub(injected));
        }
        // The same POSTs with a bare reqwest client on its own runtime (the floor for loopback HTTP).
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = format!("{base}/v2/callFlows");
        let ctx = BodyContext::classic("ck_test", "myretailsite/ireland");
        let mut bare = Vec::with_capacity(n);
        for i in 0..n + 50 {
            let body = req(&bid, 200_000 + i).to_body(&ctx);
            let t = Instant::now();
            rt.block_on(async {
                let r = http.post(&url).header("content-type", "application/json").body(body).send().await.unwrap();
                r.bytes().await.unwrap();
            });
            if i >= 50 {
                bare.push(t.elapsed().saturating_sub(injected));
            }
        }
        show(&format!("decide() above injected latency ({latency} ms)"), &mut lib);
        show(&format!("bare reqwest POST above injected latency ({latency} ms)"), &mut bare);
        let (l50, l99, b50, b99) = (pct(&mut lib, 0.5), pct(&mut lib, 0.99), pct(&mut bare, 0.5), pct(&mut bare, 0.99));
        println!(
            "{:<58} p50={:>10.1?} p99={:>10.1?}",
            format!("  => xmcdp's own overhead ({latency} ms)"),
            l50.saturating_sub(b50),
            l99.saturating_sub(b99)
        );
    }

    // Breaker open: outage, one failure opens it (threshold 1), then every call fails fast.
    let cb = settings(json!({"breakerFailureThreshold": 1, "breakerCooldownMs": 600_000}));
    faults(&base, json!({"outage": true}));
    assert!(cb.decisions().decide(&req(&bid, 0), None, budget).is_err());
    let r = req(&bid, 1);
    let mut open = Vec::with_capacity(200_000);
    for _ in 0..200_000 {
        let t = Instant::now();
        let e = cb.decisions().decide(&r, None, budget).unwrap_err();
        open.push(t.elapsed());
        assert_eq!(e.kind, xmcdp::ErrorKind::CircuitOpen);
    }
    show("decide() with the breaker open", &mut open);
    let t = Instant::now();
    for _ in 0..200_000 {
        let _ = cb.decisions().decide(&r, None, budget);
    }
    println!("{:<58} mean={:>10.1?}", "decide() with the breaker open (batch)", t.elapsed() / 200_000);
    faults(&base, json!({}));

    // First-visit browser id: pool vs blocking create.
    let cp = settings(json!({"browserIdPoolSize": 16}));
    let mut pool = Vec::new();
    for _ in 0..20 {
        while cp.browser_ids().pool_len() < 16 {
            std::thread::sleep(Duration::from_millis(5));
        }
        for _ in 0..8 {
            let t = Instant::now();
            let r = cp.browser_ids().ensure_browser_id("").unwrap();
            pool.push(t.elapsed());
            assert_eq!(r.source, xmcdp::browser::BrowserIdSource::Pool);
        }
    }
    show("first visit: id from the pool", &mut pool);
    for latency in [0u64, 20] {
        faults(&base, json!({"routes": {"browser_create": {"latency_ms": latency}}}));
        let mut created = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let r = c.browser_ids().ensure_browser_id("").unwrap();
            created.push(t.elapsed());
            assert_eq!(r.source, xmcdp::browser::BrowserIdSource::Created);
        }
        show(&format!("first visit: blocking create (+{latency} ms injected)"), &mut created);
    }
    let mut cookie = Vec::new();
    for _ in 0..100_000 {
        let t = Instant::now();
        c.browser_ids().ensure_browser_id("a=b; bid_ck_test=a38b230c-11eb-4cf9-8d5d-274e9f344925").unwrap();
        cookie.push(t.elapsed());
    }
    show("returning visit: id from the cookie", &mut cookie);
}
