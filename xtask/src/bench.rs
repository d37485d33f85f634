//! `cargo xtask bench [--quick] [--rt] [--build-only]`: xmcdp side by side with the official server SDK (`@sitecore/engage` 1.4.3 on
//! Node) and a hand-written C# `HttpClient` client (Mono), in one run, against one local emulator.
//!
//! Cases (see BENCHMARKS.md for how each peer is driven):
//! 1. request-thread cost of a page view: xmcdp through the C# wrapper on Mono vs Engage `pageView` awaited vs a
//!    C# `HttpClient` POST (sync over async); also the C ABI alone (back to back, and one call every 200 µs, which
//!    usually has to wake the idle delivery task) and the Sitecore processors of a page view;
//! 2. sustained delivery (events/s the emulator accepted, from `/__emulator/stats`) and peak RSS, 32 in flight;
//! 3. decisions with 20 ms injected on `callflows` (xmcdp through the C ABI, `benches/c/scenarios.c`): overhead
//!    above it, and the wait a rendering sees when a prefetch started at request begin is claimed 30 ms later, by a
//!    thread that slept meanwhile (`prefetch`) and by one kept busy (`prefetch-busy`: the library's share);
//! 4. first visit (no cookie): browser id pool vs Engage `handleCookie` (forceServerCookieMode);
//! 5. CDP down, two ways: connection reset (`{"outage":true}`) and black-holed (accepts, never answers: 600 s
//!    latency on every route); page view and decision cost vs Engage (pageView capped, personalize 500 ms timeout);
//! 6. instructions per enqueue under callgrind;
//! 7. the fire-and-forget C# peer (`PostAsync` not awaited): its request-thread cost is in case 1; here its
//!    throughput and what it and xmcdp lose on an app-domain shutdown with posts in flight and in a 10 s outage.
//!
//! Rows with a `target_ratio` are headlines: `--quick` fails when one is below half of its target.
//!
//! With taskset and ≥ 2 cores the emulator runs on the last core and every client on core 0 (one core each).
//! Results in `target/bench/results.json` (`{"machine", "cases": [{name, unit, xmcdp, peer, peer_name, ratio}]}`,
//! ratio = how many times better xmcdp is: peer/xmcdp for costs, xmcdp/peer for throughput) and a table on stdout.
//! Build artefacts go to CARGO_TARGET_DIR when set.

mod cases;
mod fire_forget;
mod peers;
mod report;

use crate::process;
use report::Report;
use std::time::Instant;

/// Sizes of one run; `--quick` keeps the whole bench (after the first build) under two minutes.
pub struct Sizes {
    pub c_latency: u64,
    pub c_paced: u64,
    pub c_throughput: u64,
    pub cs_calls: u64,
    pub http_calls: u64,
    pub engage_throughput: u64,
    pub decisions: u64,
    pub prefetch: u64,
    pub first_visits: u64,
    pub breaker_open: u64,
    pub outage_peer: u64,
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
pub const DECISION_LATENCY_MS: u64 = 20;
pub const ASK_AFTER_MS: u64 = 30;
/// Engage `pageView` has no timeout: against a black-holed CDP each call is cut off here (it would wait ~301 s).
pub const PAGEVIEW_CAP_MS: u64 = 1_000;
pub const IN_FLIGHT: u64 = 32;

pub fn run(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    // --rt: run the emulator and every client with SCHED_FIFO priority 10 (root only), so other sessions' builds on a
    // shared machine cannot take the cores mid-measurement. Opt-in: for its duration it leaves them ~5% of the CPU.
    let rt = args.iter().any(|a| a == "--rt");
    if let Some(bad) = args.iter().find(|a| *a != "--quick" && *a != "--rt" && *a != "--build-only") {
        return Err(format!("unknown bench option `{bad}` (use --quick, --rt, --build-only)"));
    }
    if args.iter().any(|a| a == "--build-only") {
        // Every bench program compiles (a run skips a peer that does not build, which would hide a broken one).
        let out_dir = process::target_dir().join("bench");
        std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
        let built = peers::build(&out_dir)?;
        if built.csharp.is_none() {
            return Err("the C# bench (benches/csharp) did not build".into());
        }
        println!("== bench programs built");
        return Ok(());
    }
    let sz = if quick { &QUICK } else { &FULL };
    let started = Instant::now();
    let out_dir = process::target_dir().join("bench");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let load_before = report::load_average();

    let built = peers::build(&out_dir)?;
    let (emu, p) = peers::start(built, rt)?;
    let run_started = Instant::now();

    let mut rep = Report::default();
    cases::page_view(&p, sz, &mut rep)?;
    let xm_eps = cases::delivery(&p, sz, &mut rep)?;
    cases::instructions(&p, &mut rep, quick, &out_dir)?;
    cases::decisions(&p, sz, &mut rep)?;
    cases::first_visit(&p, sz, &mut rep)?;
    cases::cdp_down(&p, sz, &mut rep)?;
    fire_forget::fire_and_forget(&p, sz, &mut rep, quick, xm_eps)?;
    drop(emu);

    rep.write(&out_dir, quick, p.pinned, p.rt, &load_before, started, run_started)
}
