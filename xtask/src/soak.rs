//! `cargo xtask soak`: the long versions of the fault tests (`tests/faults.rs` with `XMCDP_SOAK=1`): a 60 s
//! outage under 2000 events/s, a 20 s kill -9 run, plus the short ones, the spool's replay-rate test with
//! 50,000 events, and the journal's (`tests/journal.rs`): kill -9 three times in each state with and without
//! `durability: "journal"`, throughput and disk writes of both; and the randomized fault soak (`tests/soak.rs`)
//! for `XMCDP_SOAK_SECS` seconds (default 120; `XMCDP_SOAK_SEED` replays a schedule). Built in release mode, as
//! a site runs the library (`--debug` for a debug build; the time limits are set for release). Prints the `FIGURE` lines the tests measure (the figures RELIABILITY.md reports). Other
//! arguments go to the test harness (e.g. a test name).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The randomized soak's length: the caller's `XMCDP_SOAK_SECS`, else two minutes.
fn soak_secs() -> String {
    std::env::var("XMCDP_SOAK_SECS").ok().filter(|v| v.parse::<u64>().is_ok()).unwrap_or_else(|| "120".into())
}

pub fn run(args: &[String]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let debug = args.iter().any(|a| a == "--debug");
    let args: Vec<&String> = args.iter().filter(|a| *a != "--debug").collect();
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "-p", "xmcdp"]);
    if !debug {
        cmd.arg("--release");
    }
    // The replay-rate test is a no-op filter for `faults` and vice versa: name both binaries, filter by args.
    cmd.args(["--test", "faults", "--test", "spool", "--test", "journal", "--test", "soak", "--", "--test-threads=1", "--nocapture"])
        .args(&args)
        .env("XMCDP_SOAK", "1")
        .env("XMCDP_SOAK_SECS", soak_secs())
        .env("XMCDP_REPLAY_EVENTS", "50000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = std::time::Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot run cargo: {e}"))?;
    let stderr = child.stderr.take().expect("piped");
    let figures = std::thread::spawn(move || {
        let mut figures = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if line.starts_with("FIGURE") {
                figures.push(line);
            }
        }
        figures
    });
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("{line}");
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let figures = figures.join().unwrap_or_default();
    println!("\nsoak: {} in {:.0} s", if status.success() { "passed" } else { "FAILED" }, started.elapsed().as_secs_f64());
    for f in &figures {
        println!("  {f}");
    }
    if status.success() {
        Ok(())
    } else {
        Err("soak failed".into())
    }
}
