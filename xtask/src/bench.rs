//! `cargo xtask bench [--quick] [--rt]`: xmcdp side by side with the official server SDK (`@sitecore/engage` 1.4.3 on
//! Node) and a hand-written C# `HttpClient` client (Mono), in one run, against one local emulator.
//!
//! Cases (see BENCHMARKS.md for how each peer is driven):
//! 1. request-thread cost of a page view: xmcdp through the C# wrapper on Mono vs Engage `pageView` awaited vs a
//!    C# `HttpClient` POST (sync over async); also the C ABI alone (back to back, and one call every 200 µs, which
//!    usually has to wake the idle delivery task) and the Sitecore processors of a page view;
//! 2. sustained delivery (events/s the emulator accepted, from `/__emulator/stats`) and peak RSS, 32 in flight;
//! 3. decisions with 20 ms injected on `callflows` (xmcdp through the C ABI, `benches/c/scenarios.c`): overhead
//!    above it, and the wait a rendering sees when a prefetch started at request begin is claimed 30 ms later;
//! 4. first visit (no cookie): browser id pool vs Engage `handleCookie` (forceServerCookieMode);
//! 5. CDP down, two ways: connection reset (`{"outage":true}`) and black-holed (accepts, never answers: 600 s
//!    latency on every route); page view and decision cost vs Engage (pageView capped, personalize 500 ms timeout);
//! 6. instructions per enqueue under callgrind.
//!
//! With taskset and ≥ 2 cores the emulator runs on the last core and every client on core 0 (one core each).
//! Results in `target/bench/results.json` (`{"machine", "cases": [{name, unit, xmcdp, peer, peer_name, ratio}]}`,
//! ratio = how many times better xmcdp is: peer/xmcdp for costs, xmcdp/peer for throughput) and a table on stdout.
//! Build artefacts go to CARGO_TARGET_DIR when set.

use crate::util::{self, cargo, http_get, http_request};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Sizes of one run; `--quick` keeps the whole bench (after the first build) under two minutes.
struct Sizes {
    c_latency: u64,
    c_paced: u64,
    c_throughput: u64,
    cs_calls: u64,
    http_calls: u64,
    engage_throughput: u64,
    decisions: u64,
    prefetch: u64,
    first_visits: u64,
    breaker_open: u64,
    outage_peer: u64,
}

const QUICK: Sizes = Sizes {
    c_latency: 20_000,
    c_paced: 5_000,
    c_throughput: 20_000,
    cs_calls: 5_000,
    http_calls: 1_000,
    engage_throughput: 2_000,
    decisions: 60,
    prefetch: 20,
    first_visits: 100,
    breaker_open: 20_000,
    outage_peer: 2,
};

const FULL: Sizes = Sizes {
    c_latency: 200_000,
    c_paced: 50_000,
    c_throughput: 200_000,
    cs_calls: 50_000,
    http_calls: 20_000,
    engage_throughput: 20_000,
    decisions: 500,
    prefetch: 200,
    first_visits: 2_000,
    breaker_open: 200_000,
    outage_peer: 10,
};

/// Latency injected on `callflows` for the decision cases, and when the rendering asks for a prefetched decision.
const DECISION_LATENCY_MS: u64 = 20;
const ASK_AFTER_MS: u64 = 30;
/// Engage `pageView` has no timeout: against a black-holed CDP each call is cut off here (it would wait ~301 s).
const PAGEVIEW_CAP_MS: u64 = 1_000;
const IN_FLIGHT: u64 = 32;

pub fn run(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    // --rt: run the emulator and every client with SCHED_FIFO priority 10 (root only), so other sessions' builds on a
    // shared machine cannot take the cores mid-measurement. Opt-in: for its duration it leaves them ~5% of the CPU.
    let rt = args.iter().any(|a| a == "--rt");
    if let Some(bad) = args.iter().find(|a| *a != "--quick" && *a != "--rt") {
        return Err(format!("unknown bench option `{bad}` (use --quick, --rt)"));
    }
    let sz = if quick { &QUICK } else { &FULL };
    let started = Instant::now();
    let root = util::repo_root();
    let out_dir = util::target_dir().join("bench");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let load_before = load_average();

    println!("== building release artifacts (target dir {})", util::target_dir().display());
    util::run(cargo().args(["build", "--release", "--quiet", "-p", "xmcdp", "--lib"]))?;
    util::run(cargo().args(["build", "--release", "--quiet", "-p", "xmcdp-emulator", "--bin", "xmcdp-emulator"]))?;
    let release = util::target_dir().join("release");
    // Both C programs link the release library and call it exactly as a host does. DT_RPATH (not RUNPATH), and
    // LD_LIBRARY_PATH removed from every child: `cargo run` puts <target>/debug on it, and a debug libxmcdp.so
    // there would otherwise be loaded instead of the release one.
    let exe = out_dir.join("enqueue");
    let scenarios = out_dir.join("scenarios");
    for (bin, src) in [(&exe, "benches/c/enqueue.c"), (&scenarios, "benches/c/scenarios.c")] {
        util::run(
            Command::new("gcc")
                .args(["-std=c99", "-O2", "-Wall", "-o"])
                .arg(bin)
                .arg(root.join(src))
                .arg("-I")
                .arg(root.join("bindings/c"))
                .arg("-L")
                .arg(&release)
                .arg(format!("-Wl,--disable-new-dtags,-rpath,{}", release.display()))
                .arg("-lxmcdp"),
        )?;
    }
    let csharp = match build_csharp(&root, &out_dir.join("csharp"), &release.join("libxmcdp.so")) {
        Ok(p) => Some(p),
        Err(e) => {
            println!("   C# cases skipped: {e}");
            None
        }
    };
    let node = match prepare_node(&root) {
        Ok(p) => Some(p),
        Err(e) => {
            println!("   Engage (Node) cases skipped: {e}");
            None
        }
    };

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let pin = util::have("taskset") && cores >= 2;
    let rt = rt && util::have("chrt");
    let emu_core = (cores - 1).to_string();
    // The command prefix every process of the run gets: chrt (with --rt), then taskset.
    let prefix = |core: &str| -> Vec<String> {
        let mut p = Vec::new();
        if rt {
            p.extend(["chrt", "-f", "10"].map(String::from));
        }
        if pin {
            p.extend(["taskset", "-c", core].map(String::from));
        }
        p
    };
    let emu = util::EmulatorProcess::start_with_prefix(&release.join("xmcdp-emulator"), &prefix(&emu_core), &[])?;
    let url = emu.url.clone();
    let run_started = Instant::now();
    println!(
        "== emulator at {url}{}{}",
        if pin { format!(" (pinned to core {emu_core}; clients pinned to core 0)") } else { " (unpinned)".into() },
        if rt { ", SCHED_FIFO 10" } else { "" }
    );
    let mut bids = Vec::new();
    for _ in 0..64 {
        let v: Value = serde_json::from_str(&http_get(&format!(
            "{url}/v1.2/browser/create.json?client_key=ck_test&message={{}}"
        ))?)
        .map_err(|e| e.to_string())?;
        bids.push(v["ref"].as_str().ok_or("no ref")?.to_string());
    }
    let bids = bids.join(",");
    let bid0 = bids.split(',').next().unwrap().to_string();

    // Every client process goes through here: pinned to core 0 when possible, stdout parsed as one JSON object.
    let client = |program: &Path, args: &[String], cwd: Option<&Path>| -> Result<Value, String> {
        let pre = prefix("0");
        let mut cmd = match pre.first() {
            Some(first) => {
                let mut c = Command::new(first);
                c.args(&pre[1..]).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args).stdin(Stdio::null()).env_remove("LD_LIBRARY_PATH");
        if let Some(d) = cwd {
            cmd.current_dir(d);
        }
        let out = cmd.output().map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().rev().find(|l| l.trim_start().starts_with('{')).unwrap_or("");
        if !out.status.success() || line.is_empty() {
            return Err(format!(
                "{} {args:?} failed: {text} {}",
                program.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        serde_json::from_str(line.trim()).map_err(|e| format!("{}: {e}: {line}", program.display()))
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    let c_run = |mode: &str, n: u64, deadline_ms: u64| {
        client(&exe, &s(&[mode, &url, &n.to_string(), &bids, &deadline_ms.to_string()]), None)
    };
    let dec_run = |mode: &str, n: u64, arg: u64| {
        client(&scenarios, &s(&[mode, &url, &n.to_string(), &bid0, &arg.to_string()]), None)
    };
    let node_run = |mode: &str, n: u64, arg: u64| -> Result<Value, String> {
        let dir = node.as_ref().ok_or("no node")?;
        let mut a = vec![dir.join("engage.js").display().to_string()];
        a.extend(s(&[mode, &url, &n.to_string(), &bids, &arg.to_string()]));
        client(Path::new("node"), &a, Some(dir))
    };
    let cs_run = |mode: &str, n: u64| -> Result<Value, String> {
        let dir = csharp.as_ref().ok_or("no C#")?;
        let mut a = vec![dir.join("XmCdp.Bench.exe").display().to_string()];
        a.extend(s(&[mode, &url, &n.to_string(), &bids]));
        client(Path::new("mono"), &a, Some(dir))
    };
    let faults = |f: Value| http_request("PUT", &format!("{url}/__emulator/faults"), Some(&f.to_string())).map(|_| ());
    let accepted = || -> Result<u64, String> {
        let v: Value =
            serde_json::from_str(&http_get(&format!("{url}/__emulator/stats"))?).map_err(|e| e.to_string())?;
        v["events"]["accepted"].as_u64().ok_or_else(|| "no events.accepted in /__emulator/stats".to_string())
    };

    let mut t = Table::default();
    let mut raw = serde_json::Map::new();
    let mut note = |name: &str, v: &Value| {
        println!("   {name}: {v}");
        raw.insert(name.to_string(), v.clone());
    };

    // 1. Request-thread cost of a page view.
    println!("== 1. request-thread cost of a page view (returning visitor, bid_ cookie present)");
    let c_lat = c_run("latency", sz.c_latency, 30_000)?;
    note("c_abi_latency", &c_lat);
    let c_paced = c_run("paced", sz.c_paced, 30_000)?;
    note("c_abi_paced", &c_paced);
    let cs_x = opt(csharp.is_some().then(|| cs_run("xmcdp", sz.cs_calls)));
    if let Some(v) = &cs_x {
        note("csharp_xmcdp", v);
    }
    let cs_sc = opt(csharp.is_some().then(|| cs_run("sitecore", sz.cs_calls)));
    if let Some(v) = &cs_sc {
        note("csharp_sitecore_processor", v);
    }
    let cs_http = opt(csharp.is_some().then(|| cs_run("httpclient", sz.http_calls)));
    if let Some(v) = &cs_http {
        note("csharp_httpclient", v);
    }
    let en_pv = opt(node.is_some().then(|| node_run("pageview", sz.http_calls, 0)));
    if let Some(v) = &en_pv {
        note("engage_pageview", v);
    }
    let xm = |k: &str| cs_x.as_ref().map(|v| v[k].clone()).unwrap_or(Value::Null);
    for (q, key) in [("p50", "p50_ns"), ("p99", "p99_ns")] {
        t.add(
            &format!("page view request-thread cost, {q}: xmcdp C# wrapper vs Engage pageView"),
            "ns",
            xm(key),
            en_pv.as_ref().map(|v| v["elapsed"][key].clone()),
            "@sitecore/engage 1.4.3 pageView (awaited, Node 20)",
            false,
        );
        t.add(
            &format!("page view request-thread cost, {q}: xmcdp C# wrapper vs C# HttpClient"),
            "ns",
            xm(key),
            cs_http.as_ref().map(|v| v[key].clone()),
            "C# static HttpClient PostAsync().GetAwaiter().GetResult() (Mono)",
            false,
        );
    }
    t.add(
        "page view enqueue via C ABI, one call every 200 us (as requests arrive), p50",
        "ns",
        c_paced["p50_ns"].clone(),
        None,
        "",
        false,
    );
    t.add(
        "page view enqueue via C ABI, one call every 200 us (as requests arrive), p99",
        "ns",
        c_paced["p99_ns"].clone(),
        None,
        "",
        false,
    );
    t.add("page view enqueue via C ABI, back to back, p50", "ns", c_lat["p50_ns"].clone(), None, "", false);
    t.add("page view enqueue via C ABI, back to back, p99", "ns", c_lat["p99_ns"].clone(), None, "", false);
    if let Some(v) = &cs_sc {
        t.add("Sitecore processors per page view (TrackVisitor at begin + SendPageView at end), p50", "ns", v["p50_ns"].clone(), None, "", false);
        t.add("Sitecore processors per page view (TrackVisitor at begin + SendPageView at end), p99", "ns", v["p99_ns"].clone(), None, "", false);
    }

    // 2. Sustained delivery.
    println!("== 2. sustained delivery, {IN_FLIGHT} in flight (events/s the emulator accepted)");
    let a0 = accepted()?;
    let thr = c_run("throughput", sz.c_throughput, 30_000)?;
    let xm_acc = accepted()? - a0;
    let xm_eps = xm_acc as f64 / thr["seconds"].as_f64().unwrap_or(f64::INFINITY);
    note("c_abi_throughput", &thr);
    let en_thr = opt(node.is_some().then(|| -> Result<(Value, f64), String> {
        let a0 = accepted()?;
        let v = node_run("throughput", sz.engage_throughput, IN_FLIGHT)?;
        let eps = (accepted()? - a0) as f64 / v["seconds"].as_f64().unwrap_or(f64::INFINITY);
        Ok((v, eps))
    }));
    if let Some((v, eps)) = &en_thr {
        note("engage_throughput", &json!({"run": v, "accepted_per_s": eps.round()}));
    }
    println!("   xmcdp: {xm_acc} accepted by the emulator, {:.0}/s", xm_eps);
    t.add(
        "sustained delivery (emulator-accepted events/s)",
        "events/s",
        json!(xm_eps.round()),
        en_thr.as_ref().map(|(_, e)| json!(e.round())),
        "@sitecore/engage 1.4.3 pageView, 32 awaited in flight",
        true,
    );
    t.add(
        "peak RSS of the sending process during delivery",
        "KiB",
        thr["peak_rss_kb"].clone(),
        en_thr.as_ref().map(|(v, _)| v["peak_rss_kb"].clone()),
        "Node 20 process running Engage",
        false,
    );

    // 6. Instructions per enqueue (before the outage cases, with the emulator answering normally).
    if util::have("valgrind") {
        let calls = if quick { 2_000u64 } else { 20_000 };
        println!("== 6. instruction count of xmcdp_client_page_view under callgrind, {calls} calls");
        let cg_out = out_dir.join("callgrind.out");
        let status = Command::new("valgrind")
            .env_remove("LD_LIBRARY_PATH")
            .args(["--tool=callgrind", "--toggle-collect=xmcdp_client_page_view"])
            .arg(format!("--callgrind-out-file={}", cg_out.display()))
            .arg(&exe)
            .args(["callgrind", &url, &calls.to_string(), &bids])
            .output()
            .map_err(|e| e.to_string())?;
        if !status.status.success() {
            return Err(format!("callgrind run failed: {}", String::from_utf8_lossy(&status.stderr)));
        }
        let text = std::fs::read_to_string(&cg_out).map_err(|e| e.to_string())?;
        let total: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .ok_or("no summary in the callgrind output")?;
        let per_call = total / calls;
        println!("   {per_call} instructions per call");
        t.add("page view enqueue instructions (callgrind)", "instructions", json!(per_call), None, "", false);
    } else {
        println!("== valgrind not installed: skipping the instruction count (apt-get install -y valgrind)");
    }
    // 3. Decisions: first with no injected latency (the whole round trip is client + loopback + emulator), then with
    // DECISION_LATENCY_MS injected (the emulator's tokio timer rounds sleeps up to the next millisecond, so up to
    // ~1 ms of the "overhead" there belongs to the emulator, equally for both clients).
    for lat in [0, DECISION_LATENCY_MS] {
        println!("== 3. decisions, {lat} ms injected on callflows");
        faults(json!({"routes": {"callflows": {"latency_ms": lat}}}))?;
        let inj = lat * 1_000_000;
        let over = |v: &Value, key: &str| json!(v[key].as_u64().unwrap_or(0).saturating_sub(inj));
        let xd = dec_run("decide", sz.decisions, 0)?;
        note(&format!("xmcdp_decide_{lat}ms"), &xd);
        let ed = opt(node.is_some().then(|| node_run("personalize", sz.decisions, 0)));
        if let Some(v) = &ed {
            note(&format!("engage_personalize_{lat}ms"), v);
        }
        for (q, key) in [("p50", "p50_ns"), ("p99", "p99_ns")] {
            let name = if lat == 0 {
                format!("decision round trip, no injected latency, {q}")
            } else {
                format!("decision overhead above the injected {lat} ms, {q}")
            };
            t.add(
                &name,
                "ns",
                over(&xd["elapsed"], key),
                ed.as_ref().map(|v| over(&v["elapsed"], key)),
                "@sitecore/engage 1.4.3 personalize (timeout 2000)",
                false,
            );
        }
    }
    faults(json!({"routes": {"callflows": {"latency_ms": DECISION_LATENCY_MS}}}))?;
    let xp = dec_run("prefetch", sz.prefetch, ASK_AFTER_MS)?;
    note("xmcdp_prefetch", &xp);
    let ep = opt(node.is_some().then(|| node_run("prefetch", sz.prefetch, ASK_AFTER_MS)));
    if let Some(v) = &ep {
        note("engage_prefetch", v);
    }
    for (q, key) in [("p50", "p50_ns"), ("p99", "p99_ns")] {
        t.add(
            &format!("prefetched decision, wait seen by the rendering {ASK_AFTER_MS} ms later, {q}"),
            "ns",
            xp["wait"][key].clone(),
            ep.as_ref().map(|v| v["wait"][key].clone()),
            "Engage personalize promise started at request begin",
            false,
        );
    }
    t.add(
        "prefetch start (begin_decide) on the request thread, p50",
        "ns",
        xp["begin"]["p50_ns"].clone(),
        ep.as_ref().map(|v| v["begin"]["p50_ns"].clone()),
        "Engage personalize() call until it returns its promise",
        false,
    );
    faults(json!({}))?;

    // 4. First visit.
    println!("== 4. first visit (no cookie)");
    let xf = dec_run("firstvisit", sz.first_visits, 0)?;
    note("xmcdp_firstvisit", &xf);
    let ef = opt(node.is_some().then(|| node_run("firstvisit", sz.first_visits, 0)));
    if let Some(v) = &ef {
        note("engage_handlecookie", v);
    }
    for (q, key) in [("p50", "p50_ns"), ("p99", "p99_ns")] {
        t.add(
            &format!("first visit browser id, {q}"),
            "ns",
            xf["elapsed"][key].clone(),
            ef.as_ref().map(|v| v["elapsed"][key].clone()),
            "@sitecore/engage 1.4.3 handleCookie (forceServerCookieMode)",
            false,
        );
    }

    // 5. CDP down.
    for (label, f) in [
        ("connection reset", json!({"outage": true})),
        ("black-holed", json!({"routes": {"*": {"latency_ms": 600_000}}})),
    ] {
        println!("== 5. CDP down ({label})");
        faults(f)?;
        let xo = c_run("paced", sz.c_paced, 0)?;
        note(&format!("c_abi_latency_outage_{label}"), &xo);
        let xb = dec_run("breaker-open", sz.breaker_open, 0)?;
        note(&format!("xmcdp_breaker_open_{label}"), &xb);
        let epv = opt(node.is_some().then(|| node_run("outage-pageview", sz.outage_peer, PAGEVIEW_CAP_MS)));
        if let Some(v) = &epv {
            note(&format!("engage_pageview_outage_{label}"), v);
        }
        let epz = opt(node.is_some().then(|| node_run("outage-personalize", sz.outage_peer, 0)));
        if let Some(v) = &epz {
            note(&format!("engage_personalize_outage_{label}"), v);
        }
        faults(json!({}))?;
        t.add(
            &format!("CDP down ({label}): page view request-thread cost, p50"),
            "ns",
            xo["p50_ns"].clone(),
            epv.as_ref().map(|v| v["elapsed"]["p50_ns"].clone()),
            &format!("Engage pageView awaited (no timeout; capped at {PAGEVIEW_CAP_MS} ms)"),
            false,
        );
        t.add(
            &format!("CDP down ({label}): decision cost with the breaker open, p50"),
            "ns",
            xb["elapsed"]["p50_ns"].clone(),
            epz.as_ref().map(|v| v["elapsed"]["p50_ns"].clone()),
            "Engage personalize, timeout 500 ms",
            false,
        );
    }

    drop(emu);

    let machine = machine_description();
    let results = json!({
        "machine": machine,
        "quick": quick,
        "pinned": pin,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "rt": rt,
        "seconds": started.elapsed().as_secs(),
        "run_seconds": run_started.elapsed().as_secs(),
        "cases": t.rows,
        "raw": raw,
    });
    std::fs::write(out_dir.join("results.json"), serde_json::to_string_pretty(&results).unwrap())
        .map_err(|e| e.to_string())?;
    t.print();
    println!(
        "\nratio = how many times better xmcdp is (peer/xmcdp for costs, xmcdp/peer for throughput)\nmachine: {machine}\nload average before/after: {load_before} / {}\nresults: {} ({} s in all, {} s after the build)",
        load_average(),
        out_dir.join("results.json").display(),
        started.elapsed().as_secs(),
        run_started.elapsed().as_secs()
    );
    Ok(())
}

/// A failed peer run is reported and its case left without a peer figure, so one broken toolchain does not hide
/// the others.
fn opt<T>(r: Option<Result<T, String>>) -> Option<T> {
    match r? {
        Ok(v) => Some(v),
        Err(e) => {
            println!("   (skipped: {e})");
            None
        }
    }
}

#[derive(Default)]
struct Table {
    rows: Vec<Value>,
}

impl Table {
    fn add(
        &mut self,
        name: &str,
        unit: &str,
        xmcdp: Value,
        peer: Option<Value>,
        peer_name: &str,
        higher_is_better: bool,
    ) {
        let peer = peer.unwrap_or(Value::Null);
        let ratio = match (xmcdp.as_f64(), peer.as_f64()) {
            (Some(x), Some(p)) if x > 0.0 && p > 0.0 => {
                let r = if higher_is_better { x / p } else { p / x };
                json!((r * 10.0).round() / 10.0)
            }
            _ => Value::Null,
        };
        let peer_name = if peer.is_null() { Value::Null } else { json!(peer_name) };
        self.rows.push(
            json!({"name": name, "unit": unit, "xmcdp": xmcdp, "peer": peer, "peer_name": peer_name, "ratio": ratio}),
        );
    }

    fn print(&self) {
        println!("\n{:<84} {:>12} {:>12} {:>9}  unit", "case", "xmcdp", "peer", "ratio");
        for c in &self.rows {
            let f = |v: &Value| if v.is_null() { "-".to_string() } else { v.to_string() };
            println!(
                "{:<84} {:>12} {:>12} {:>9}  {}",
                c["name"].as_str().unwrap_or(""),
                f(&c["xmcdp"]),
                f(&c["peer"]),
                f(&c["ratio"]),
                c["unit"].as_str().unwrap_or("")
            );
        }
    }
}

/// Compiles the shipped C# wrapper and Sitecore processors (same sources as `xtask test`), the TEST-ONLY
/// Sitecore.Kernel stand-in and `benches/csharp/Bench.cs` with Mono's mcs; maps `xmcdp` to the release library.
fn build_csharp(root: &Path, out: &Path, native: &Path) -> Result<PathBuf, String> {
    if !util::have("mcs") || !util::have("mono") {
        return Err("mcs/mono not installed (apt-get install -y mono-complete)".into());
    }
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    let dn = root.join("dotnet");
    let mut xmcdp = cs_files(&dn.join("XmCdp"));
    xmcdp.push(root.join("bindings/csharp/Interop.cs"));
    mcs(out, "XmCdp.dll", "library", &xmcdp, &["System.Web.dll"], true)?;
    mcs(
        out,
        "Sitecore.Kernel.dll",
        "library",
        &cs_files(&dn.join("tests/Sitecore.Kernel.Stub")),
        &["System.Web.dll", "System.Xml.dll", "System.Core.dll"],
        false,
    )?;
    mcs(
        out,
        "XmCdp.Sitecore.dll",
        "library",
        &cs_files(&dn.join("XmCdp.Sitecore")),
        &["XmCdp.dll", "Sitecore.Kernel.dll", "System.Web.dll", "System.Configuration.dll", "System.Xml.dll"],
        false,
    )?;
    mcs(
        out,
        "XmCdp.Bench.exe",
        "exe",
        &[root.join("benches/csharp/Bench.cs")],
        &[
            "XmCdp.dll",
            "XmCdp.Sitecore.dll",
            "Sitecore.Kernel.dll",
            "System.Web.dll",
            "System.Net.Http.dll",
            "System.Xml.dll",
        ],
        false,
    )?;
    let native = std::fs::canonicalize(native).map_err(|e| format!("{}: {e}", native.display()))?;
    std::fs::write(
        out.join("XmCdp.dll.config"),
        format!("<configuration>\n  <dllmap dll=\"xmcdp\" target=\"{}\" />\n</configuration>\n", native.display()),
    )
    .map_err(|e| e.to_string())?;
    Ok(out.to_path_buf())
}

fn mcs(out: &Path, name: &str, target: &str, sources: &[PathBuf], refs: &[&str], unsafe_code: bool) -> Result<(), String> {
    crate::dotnet::mcs_with(out, name, target, sources, refs, unsafe_code, &["-optimize+"])
}

fn cs_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(d: &Path, acc: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if p.is_dir() {
                if name != "bin" && name != "obj" {
                    walk(&p, acc);
                }
            } else if p.extension().is_some_and(|x| x == "cs") {
                acc.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, &mut v);
    v.sort();
    v
}

/// `benches/node` with @sitecore/engage installed from the committed lock file (`npm ci` when missing).
fn prepare_node(root: &Path) -> Result<PathBuf, String> {
    if !util::have("node") || !util::have("npm") {
        return Err("node/npm not installed".into());
    }
    let dir = root.join("benches").join("node");
    if !dir.join("node_modules/@sitecore/engage/package.json").is_file() {
        println!("== npm ci in {} (pinned @sitecore/engage)", dir.display());
        util::run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir))?;
    }
    Ok(dir)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()))
        .map(|kb| format!("{} GiB", kb / 1024 / 1024))
        .unwrap_or_default();
    let tool = |c: &str, a: &str| {
        Command::new(c)
            .arg(a)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "{cpu}, {cores} cores, {mem}, {}; node {}; {}",
        std::env::consts::OS,
        tool("node", "--version"),
        tool("mono", "--version")
    )
}
