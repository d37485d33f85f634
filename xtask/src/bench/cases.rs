//! The benchmark cases, in the order they run: each drives the peers and adds its rows to the report.

use super::peers::Peers;
use super::report::{opt, Report};
use super::{Sizes, ASK_AFTER_MS, DECISION_LATENCY_MS, IN_FLIGHT, PAGEVIEW_CAP_MS};
use crate::process;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

/// Case 1: request-thread cost of a page view, xmcdp (C ABI, C# wrapper, Sitecore processors) vs Engage and HttpClient.
pub fn page_view(p: &Peers, sz: &Sizes, rep: &mut Report) -> Result<(), String> {
    println!("== 1. request-thread cost of a page view (returning visitor, bid_ cookie present)");
    let c_lat = p.c_run("latency", sz.c_latency, 30_000)?;
    rep.note("c_abi_latency", &c_lat);
    let c_paced = p.c_run("paced", sz.c_paced, 30_000)?;
    rep.note("c_abi_paced", &c_paced);
    let cs_x = opt(p.csharp.is_some().then(|| p.cs_run("xmcdp", sz.cs_calls)));
    if let Some(v) = &cs_x {
        rep.note("csharp_xmcdp", v);
    }
    let cs_sc = opt(p.csharp.is_some().then(|| p.cs_run("sitecore", sz.cs_calls)));
    if let Some(v) = &cs_sc {
        rep.note("csharp_sitecore_processor", v);
    }
    // The same processors on a page whose 12 renderings carry personalization rules: stock conditions only (the
    // CdpRulePrefetch scan), then one XmCdp decision condition (the scan plus starting that decision's prefetch).
    let cs_rules: Vec<(&str, Option<Value>)> = ["sitecore-rules-none", "sitecore-rules-one"]
        .into_iter()
        .map(|m| (m, opt(p.csharp.is_some().then(|| p.cs_run(m, sz.cs_calls)))))
        .collect();
    for (m, v) in &cs_rules {
        if let Some(v) = v {
            rep.note(&format!("csharp_{}", m.replace('-', "_")), v);
        }
    }
    let cs_http = opt(p.csharp.is_some().then(|| p.cs_run("httpclient", sz.http_calls)));
    if let Some(v) = &cs_http {
        rep.note("csharp_httpclient", v);
    }
    let cs_faf = opt(p.csharp.is_some().then(|| p.cs_run("faf", sz.http_calls)));
    if let Some(v) = &cs_faf {
        rep.note("csharp_httpclient_fire_and_forget", v);
    }
    let en_pv = opt(p.node.is_some().then(|| p.node_run("pageview", sz.http_calls, 0)));
    if let Some(v) = &en_pv {
        rep.note("engage_pageview", v);
    }
    let xm = |k: &str| cs_x.as_ref().map(|v| v[k].clone()).unwrap_or(Value::Null);
    for (q, key) in [("p50", "p50_ns"), ("p99", "p99_ns")] {
        rep.add(
            &format!("page view request-thread cost, {q}: xmcdp C# wrapper vs Engage pageView"),
            "ns",
            xm(key),
            en_pv.as_ref().map(|v| v["elapsed"][key].clone()),
            "@sitecore/engage 1.4.3 pageView (awaited, Node 20)",
            false,
        );
        if q == "p50" {
            rep.target(100.0);
        }
        rep.add(
            &format!("page view request-thread cost, {q}: xmcdp C# wrapper vs C# HttpClient"),
            "ns",
            xm(key),
            cs_http.as_ref().map(|v| v[key].clone()),
            "C# static HttpClient PostAsync().GetAwaiter().GetResult() (Mono)",
            false,
        );
        rep.target(if q == "p50" { 100.0 } else { 30.0 });
        rep.add(
            &format!("page view request-thread cost, {q}: xmcdp C# wrapper vs C# HttpClient fire-and-forget"),
            "ns",
            xm(key),
            cs_faf.as_ref().map(|v| v[key].clone()),
            "C# static HttpClient PostAsync() started, not awaited (Mono)",
            false,
        );
        if q == "p50" {
            rep.target(30.0);
        }
    }
    rep.add(
        "page view enqueue via C ABI, one call every 200 us (as requests arrive), p50",
        "ns",
        c_paced["p50_ns"].clone(),
        None,
        "",
        false,
    );
    rep.add(
        "page view enqueue via C ABI, one call every 200 us (as requests arrive), p99",
        "ns",
        c_paced["p99_ns"].clone(),
        None,
        "",
        false,
    );
    rep.add("page view enqueue via C ABI, back to back, p50", "ns", c_lat["p50_ns"].clone(), None, "", false);
    rep.add("page view enqueue via C ABI, back to back, p99", "ns", c_lat["p99_ns"].clone(), None, "", false);
    if let Some(v) = &cs_sc {
        rep.add("Sitecore processors per page view (TrackVisitor at begin + SendPageView at end), p50", "ns", v["p50_ns"].clone(), None, "", false);
        rep.add("Sitecore processors per page view (TrackVisitor at begin + SendPageView at end), p99", "ns", v["p99_ns"].clone(), None, "", false);
    }
    for (m, v) in &cs_rules {
        let Some(v) = v else { continue };
        let what = if *m == "sitecore-rules-none" { "rules without XmCdp conditions" } else { "one rule with an XmCdp decision condition" };
        for (q, key) in [("p50", "p50_ns"), ("p99", "p99_ns")] {
            rep.add(&format!("Sitecore processors per page view, 12 renderings, {what}, {q}"), "ns", v[key].clone(), None, "", false);
        }
    }
    Ok(())
}

/// Case 2: sustained delivery and the sender's peak RSS; returns xmcdp's events/s for case 7.
pub fn delivery(p: &Peers, sz: &Sizes, rep: &mut Report) -> Result<Option<f64>, String> {
    println!("== 2. sustained delivery, {IN_FLIGHT} in flight (events/s the emulator accepted)");
    let a0 = p.accepted()?;
    let thr = p.c_run("throughput", sz.c_throughput, 30_000)?;
    let xm_acc = p.accepted()? - a0;
    let xm_eps = xm_acc as f64 / thr["seconds"].as_f64().unwrap_or(f64::INFINITY);
    rep.note("c_abi_throughput", &thr);
    let en_thr = opt(p.node.is_some().then(|| -> Result<(Value, f64), String> {
        let a0 = p.accepted()?;
        let v = p.node_run("throughput", sz.engage_throughput, IN_FLIGHT)?;
        let eps = (p.accepted()? - a0) as f64 / v["seconds"].as_f64().unwrap_or(f64::INFINITY);
        Ok((v, eps))
    }));
    if let Some((v, eps)) = &en_thr {
        rep.note("engage_throughput", &json!({"run": v, "accepted_per_s": eps.round()}));
    }
    println!("   xmcdp: {xm_acc} accepted by the emulator, {:.0}/s", xm_eps);
    rep.add(
        "sustained delivery (emulator-accepted events/s)",
        "events/s",
        json!(xm_eps.round()),
        en_thr.as_ref().map(|(_, e)| json!(e.round())),
        "@sitecore/engage 1.4.3 pageView, 32 awaited in flight",
        true,
    );
    rep.target(2.0);
    rep.add(
        "peak RSS of the sending process during delivery",
        "KiB",
        thr["peak_rss_kb"].clone(),
        en_thr.as_ref().map(|(v, _)| v["peak_rss_kb"].clone()),
        "Node 20 process running Engage",
        false,
    );
    Ok(Some(xm_eps))
}

/// Case 6: instructions per enqueue under callgrind (before the outage cases, with the emulator answering normally).
pub fn instructions(p: &Peers, rep: &mut Report, quick: bool, out_dir: &Path) -> Result<(), String> {
    if process::have("valgrind") {
        let calls = if quick { 2_000u64 } else { 20_000 };
        println!("== 6. instruction count of xmcdp_client_page_view under callgrind, {calls} calls");
        let cg_out = out_dir.join("callgrind.out");
        let status = Command::new("valgrind")
            .env_remove("LD_LIBRARY_PATH")
            .args(["--tool=callgrind", "--toggle-collect=xmcdp_client_page_view"])
            .arg(format!("--callgrind-out-file={}", cg_out.display()))
            .arg(&p.exe)
            .args(["callgrind", &p.url, &calls.to_string(), &p.bids])
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
        rep.add("page view enqueue instructions (callgrind)", "instructions", json!(per_call), None, "", false);
    } else {
        println!("== valgrind not installed: skipping the instruction count (apt-get install -y valgrind)");
    }
    Ok(())
}

/// Case 3: decisions, round trip and overhead above injected latency; prefetched decisions.
pub fn decisions(p: &Peers, sz: &Sizes, rep: &mut Report) -> Result<(), String> {
    // 3. Decisions: first with no injected latency (the whole round trip is client + loopback + emulator), then with
    // DECISION_LATENCY_MS injected (the emulator's tokio timer rounds sleeps up to the next millisecond, so up to
    // ~1 ms of the "overhead" there belongs to the emulator, equally for both clients).
    for lat in [0, DECISION_LATENCY_MS] {
        println!("== 3. decisions, {lat} ms injected on callflows");
        p.faults(json!({"routes": {"callflows": {"latency_ms": lat}}}))?;
        let inj = lat * 1_000_000;
        let over = |v: &Value, key: &str| json!(v[key].as_u64().unwrap_or(0).saturating_sub(inj));
        let xd = p.dec_run("decide", sz.decisions, 0)?;
        rep.note(&format!("xmcdp_decide_{lat}ms"), &xd);
        let ed = opt(p.node.is_some().then(|| p.node_run("personalize", sz.decisions, 0)));
        if let Some(v) = &ed {
            rep.note(&format!("engage_personalize_{lat}ms"), v);
        }
        for (q, key) in [("p50", "p50_ns"), ("p99", "p99_ns")] {
            let name = if lat == 0 {
                format!("decision round trip, no injected latency, {q}")
            } else {
                format!("decision overhead above the injected {lat} ms, {q}")
            };
            rep.add(
                &name,
                "ns",
                over(&xd["elapsed"], key),
                ed.as_ref().map(|v| over(&v["elapsed"], key)),
                "@sitecore/engage 1.4.3 personalize (timeout 2000)",
                false,
            );
        }
    }
    p.faults(json!({"routes": {"callflows": {"latency_ms": DECISION_LATENCY_MS}}}))?;
    // Two prefetch scenarios. "sleeps": the request thread sleeps between begin and claim, so both calls run on a
    // thread just back from a sleep (its wake-up and cold caches are in the figures; Engage's promise is measured
    // this way too). "busy": the thread spins meanwhile, as one rendering a page does, so the figures are the
    // library's share (Engage has no such case: a busy event loop cannot start or finish the request).
    let xp = p.dec_run("prefetch", sz.prefetch, ASK_AFTER_MS)?;
    rep.note("xmcdp_prefetch", &xp);
    let xb = p.dec_run("prefetch-busy", sz.prefetch, ASK_AFTER_MS)?;
    rep.note("xmcdp_prefetch_busy", &xb);
    let ep = opt(p.node.is_some().then(|| p.node_run("prefetch", sz.prefetch, ASK_AFTER_MS)));
    if let Some(v) = &ep {
        rep.note("engage_prefetch", v);
    }
    for (q, key) in [("p50", "p50_ns"), ("p99", "p99_ns")] {
        rep.add(
            &format!("prefetched decision, claimed {ASK_AFTER_MS} ms later by a thread that slept meanwhile, {q}"),
            "ns",
            xp["wait"][key].clone(),
            ep.as_ref().map(|v| v["wait"][key].clone()),
            "Engage personalize promise started at request begin",
            false,
        );
    }
    for (q, key) in [("p50", "p50_ns"), ("p99", "p99_ns")] {
        rep.add(
            &format!("prefetched decision, claimed {ASK_AFTER_MS} ms later by a thread busy meanwhile, {q}"),
            "ns",
            xb["wait"][key].clone(),
            None,
            "",
            false,
        );
    }
    rep.add(
        "prefetch start (begin_decide) on the request thread, thread slept before, p50",
        "ns",
        xp["begin"]["p50_ns"].clone(),
        ep.as_ref().map(|v| v["begin"]["p50_ns"].clone()),
        "Engage personalize() call until it returns its promise",
        false,
    );
    rep.add("prefetch start (begin_decide) on the request thread, thread busy before, p50", "ns", xb["begin"]["p50_ns"].clone(), None, "", false);
    p.faults(json!({}))?;
    Ok(())
}

/// Case 4: first visit (no cookie), browser id pool vs Engage handleCookie.
pub fn first_visit(p: &Peers, sz: &Sizes, rep: &mut Report) -> Result<(), String> {
    println!("== 4. first visit (no cookie)");
    let xf = p.dec_run("firstvisit", sz.first_visits, 0)?;
    rep.note("xmcdp_firstvisit", &xf);
    let ef = opt(p.node.is_some().then(|| p.node_run("firstvisit", sz.first_visits, 0)));
    if let Some(v) = &ef {
        rep.note("engage_handlecookie", v);
    }
    for (q, key) in [("p50", "p50_ns"), ("p99", "p99_ns")] {
        rep.add(
            &format!("first visit browser id, {q}"),
            "ns",
            xf["elapsed"][key].clone(),
            ef.as_ref().map(|v| v["elapsed"][key].clone()),
            "@sitecore/engage 1.4.3 handleCookie (forceServerCookieMode)",
            false,
        );
    }
    Ok(())
}

/// Case 5: CDP down, connection reset and black-holed.
pub fn cdp_down(p: &Peers, sz: &Sizes, rep: &mut Report) -> Result<(), String> {
    for (label, f) in [
        ("connection reset", json!({"outage": true})),
        ("black-holed", json!({"routes": {"*": {"latency_ms": 600_000}}})),
    ] {
        println!("== 5. CDP down ({label})");
        p.faults(f)?;
        let xo = p.c_run("paced", sz.c_paced, 0)?;
        rep.note(&format!("c_abi_latency_outage_{label}"), &xo);
        let xb = p.dec_run("breaker-open", sz.breaker_open, 0)?;
        rep.note(&format!("xmcdp_breaker_open_{label}"), &xb);
        let epv = opt(p.node.is_some().then(|| p.node_run("outage-pageview", sz.outage_peer, PAGEVIEW_CAP_MS)));
        if let Some(v) = &epv {
            rep.note(&format!("engage_pageview_outage_{label}"), v);
        }
        let epz = opt(p.node.is_some().then(|| p.node_run("outage-personalize", sz.outage_peer, 0)));
        if let Some(v) = &epz {
            rep.note(&format!("engage_personalize_outage_{label}"), v);
        }
        p.faults(json!({}))?;
        rep.add(
            &format!("CDP down ({label}): page view request-thread cost, p50"),
            "ns",
            xo["p50_ns"].clone(),
            epv.as_ref().map(|v| v["elapsed"]["p50_ns"].clone()),
            &format!("Engage pageView awaited (no timeout; capped at {PAGEVIEW_CAP_MS} ms)"),
            false,
        );
        if label == "black-holed" {
            rep.target(1000.0);
        }
        rep.add(
            &format!("CDP down ({label}): decision cost with the breaker open, p50"),
            "ns",
            xb["elapsed"]["p50_ns"].clone(),
            epz.as_ref().map(|v| v["elapsed"]["p50_ns"].clone()),
            "Engage personalize, timeout 500 ms",
            false,
        );
    }
    Ok(())
}
