//! Case 7: the fire-and-forget C# peer (`HttpClient.PostAsync` started, not awaited; `benches/csharp/FireAndForget.cs`)
//! beside xmcdp: throughput, and what each loses on an app-domain shutdown with posts in flight and during a 10 s
//! outage. Its request-thread cost is in case 1. Loss = events sent minus events the emulator accepted once its
//! count has settled.

use super::peers::Peers;
use super::report::{opt, Report};
use super::Sizes;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Events posted right before the app-domain unload (at 5,000/s: 0.4 s of traffic).
const SHUTDOWN_EVENTS: u64 = 2_000;
/// Events spread over the 10 s outage (500/s, half the default queue capacity).
const OUTAGE_EVENTS: u64 = 5_000;

/// Waits until the emulator's accepted count reaches `a0 + expect` or stops moving for 2 s; returns the delta.
fn settled(p: &Peers, a0: u64, expect: u64) -> Result<u64, String> {
    let started = Instant::now();
    let (mut last, mut since) = (u64::MAX, Instant::now());
    loop {
        let got = p.accepted()?.saturating_sub(a0);
        if got >= expect || started.elapsed() > Duration::from_secs(60) {
            return Ok(got);
        }
        if got != last {
            (last, since) = (got, Instant::now());
        } else if since.elapsed() > Duration::from_secs(2) {
            return Ok(got);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs one Bench.cs mode that sends `n` events and returns (its output, events lost).
fn lost(p: &Peers, mode: &str, n: u64) -> Result<(Value, u64), String> {
    let a0 = p.accepted()?;
    let v = p.cs_run(mode, n)?;
    let got = settled(p, a0, n)?;
    Ok((v, n.saturating_sub(got)))
}

pub fn fire_and_forget(p: &Peers, sz: &Sizes, rep: &mut Report, quick: bool, xm_eps: Option<f64>) -> Result<(), String> {
    if p.csharp.is_none() {
        println!("== 7. fire-and-forget peer skipped (no C#)");
        return Ok(());
    }
    println!("== 7. fire-and-forget HttpClient.PostAsync peer: throughput, loss on shutdown and in an outage");
    let thr = opt(Some((|| {
        let a0 = p.accepted()?;
        let v = p.cs_run("faf-throughput", sz.engage_throughput)?;
        let eps = (p.accepted()? - a0) as f64 / v["seconds"].as_f64().unwrap_or(f64::INFINITY);
        Ok::<_, String>((v, eps))
    })()));
    if let Some((v, eps)) = &thr {
        rep.note("faf_throughput", &json!({"run": v, "accepted_per_s": eps.round()}));
    }
    rep.add(
        "sustained delivery (emulator-accepted events/s) vs fire-and-forget",
        "events/s",
        xm_eps.map(|e| json!(e.round())).unwrap_or(Value::Null),
        thr.as_ref().map(|(_, e)| json!(e.round())),
        "C# HttpClient PostAsync fire-and-forget, every post started at once (24 connections)",
        true,
    );
    rep.add(
        "peak RSS of the sending process vs fire-and-forget",
        "KiB",
        rep.raw_value("c_abi_throughput", "peak_rss_kb"),
        thr.as_ref().map(|(v, _)| v["peak_rss_kb"].clone()),
        "Mono process running the fire-and-forget posts",
        false,
    );

    let loss_row = |rep: &mut Report, name: &str, x: Option<(Value, u64)>, f: Option<(Value, u64)>, key: &str| {
        if let Some((v, l)) = &x {
            rep.note(&format!("xmcdp_{key}"), &json!({"run": v, "lost": l}));
        }
        if let Some((v, l)) = &f {
            rep.note(&format!("faf_{key}"), &json!({"run": v, "lost": l}));
        }
        rep.add(
            name,
            "events lost",
            x.map(|(_, l)| json!(l)).unwrap_or(Value::Null),
            f.map(|(_, l)| json!(l)),
            "C# HttpClient PostAsync fire-and-forget",
            false,
        );
    };
    let x = opt(Some(lost(p, "xmcdp-shutdown", SHUTDOWN_EVENTS)));
    let f = opt(Some(lost(p, "faf-shutdown", SHUTDOWN_EVENTS)));
    loss_row(
        rep,
        &format!("app-domain shutdown right after {SHUTDOWN_EVENTS} events at 5,000/s (xmcdp: shipped 10 s flush)"),
        x,
        f,
        "shutdown",
    );
    if quick {
        println!("   (--quick: the 10 s outage cases are left to the full run)");
        return Ok(());
    }
    let f = opt(Some(lost(p, "faf-outage", OUTAGE_EVENTS)));
    let x = opt(Some(lost(p, "xmcdp-outage", OUTAGE_EVENTS)));
    loss_row(rep, &format!("10 s outage (connections reset), {OUTAGE_EVENTS} events during it; xmcdp default settings"), x, f, "outage");
    let x = opt(Some(lost(p, "xmcdp-outage-spool", OUTAGE_EVENTS)));
    rep.add(
        &format!("10 s outage, {OUTAGE_EVENTS} events during it; xmcdp with spoolDirectory"),
        "events lost",
        x.as_ref().map(|(_, l)| json!(l)).unwrap_or(Value::Null),
        None,
        "",
        false,
    );
    if let Some((v, l)) = &x {
        rep.note("xmcdp_outage_spool", &json!({"run": v, "lost": l}));
    }
    Ok(())
}
