//! `durability: "journal"` against the emulator: a `kill -9` under load loses at most the commit window while
//! the CDP is up, while events retry in memory, and during an outage; the same kills without the journal show
//! what it buys. Measured, not assumed (a busy machine stretches the gaps between commits): the child reports
//! how many events its commits have secured (`journaled` + `journal_skipped`, published only after a commit),
//! and the kill may lose only the rest. The window in time (the oldest lost event against the commit interval,
//! and the gap since the last commit but one) is printed as the figure.
//!
//! `XMCDP_SOAK=1` (`cargo xtask soak`): three runs per state and mode, longer, plus the throughput and disk
//! writes with and without the journal. Each run prints a `FIGURE` line.

mod common;

use common::child::{spawn_child, temp_dir};
use common::{admin, get_json, wait_for};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xmcdp::model::{Event, EventCommon, PageView};
use xmcdp::Client;
use xmcdp_emulator::{spawn, EmulatorConfig, EmulatorHandle};

static SERIAL: Mutex<()> = Mutex::new(());

fn soak() -> bool {
    std::env::var("XMCDP_SOAK").is_ok_and(|v| v == "1")
}

fn emulator() -> EmulatorHandle {
    let mut cfg = EmulatorConfig::default();
    cfg.limits.max_events = 2_000_000;
    spawn(cfg).expect("emulator starts")
}


fn settings(base: &str, dir: &Path, extra: Value) -> String {
    let mut s = json!({"clientKey": "ck_test", "targetUrl": base, "pointOfSale": "myretailsite/ireland",
                       "spoolDirectory": dir.to_str().unwrap()});
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    s.to_string()
}

fn new_browser(base: &str) -> String {
    get_json(&format!("{base}/v1.2/browser/create.json?client_key=ck_test&message={{}}"))["ref"].as_str().unwrap().to_string()
}

fn view(bid: &str, page: &str) -> Event {
    Event::View(PageView { common: EventCommon { browser_id: bid.into(), page: Some(page.into()), ..Default::default() }, ..Default::default() })
}

fn stats(c: &Client) -> Value {
    serde_json::from_str(&c.stats_json()).unwrap()
}

/// The child half: sends 1000 events/s, printing `ACK i ms` for each accepted one and `COMMIT n ms` whenever
/// the spool's commit count moves, until the parent kills it. A no-op unless the parent set the variable.
#[test]
fn child_journal_writer() {
    let Ok(base) = std::env::var("XMCDP_JOURNAL_CHILD") else { return };
    let dir = std::env::var("XMCDP_JOURNAL_DIR").unwrap();
    let bids: Vec<String> = std::env::var("XMCDP_JOURNAL_BIDS").unwrap().split(',').map(str::to_string).collect();
    let extra: Value = serde_json::from_str(&std::env::var("XMCDP_JOURNAL_SETTINGS").unwrap()).unwrap();
    let c = Arc::new(Client::from_json(&settings(&base, Path::new(&dir), extra)).unwrap());
    let start = Instant::now();
    {
        let c = c.clone();
        std::thread::spawn(move || {
            let (mut seen, mut secured) = (0, 0);
            loop {
                let s = stats(&c)["spool"].clone();
                let n = s["commits"].as_u64().unwrap_or(0);
                if n != seen {
                    seen = n;
                    println!("COMMIT {n} {}", start.elapsed().as_millis());
                }
                let m = s["journaled"].as_u64().unwrap_or(0) + s["journal_skipped"].as_u64().unwrap_or(0);
                if m != secured {
                    secured = m;
                    println!("SECURED {m} {}", start.elapsed().as_millis());
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
    }
    let rate = 1000.0;
    let mut i = 0u64;
    loop {
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        while i < due {
            if c.send(view(&bids[(i as usize) % bids.len()], &format!("k{i}")), None).is_ok() {
                println!("ACK {i} {}", start.elapsed().as_millis());
            }
            i += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

struct KillRun {
    accepted: usize,
    lost: usize,
    oldest_lost_ms: u64,
    /// Events accepted after the last commit but one before the kill: what may be lost.
    window_events: usize,
    window_ms: u64,
    duplicates: u64,
    /// Events the child's commits had secured before the kill (journal mode).
    secured: u64,
}

/// Starts the child with `faults` set, kills it after `run`, restarts a client with the CDP healthy and counts
/// what the emulator got.
fn kill_run(state: &str, journal: bool, run: Duration) -> KillRun {
    let emu = emulator();
    let base = emu.base_url();
    let dir = temp_dir("journal", state);
    let bids: Vec<String> = (0..20).map(|_| new_browser(&base)).collect();
    let commit_ms = 50u64;
    let faults = match state {
        // Up but slow: events are in flight and queued, none fails.
        "up" => json!({"routes": {"events": {"latency_ms": 10}}}),
        // Every attempt answers 503: events retry in memory (never exhausting: no outage mode).
        "retrying" => json!({"routes": {"events": {"error_rate": 1.0, "error_status": 503}}}),
        _ => json!({"outage": true}),
    };
    admin(&base).set_faults(&faults).unwrap();
    let mut extra = json!({"spoolCommitIntervalMs": commit_ms, "retryMaxAttempts": if state == "retrying" { 100 } else { 2 }, "retryBaseMs": 5, "retryMaxBackoffMs": 200});
    if journal {
        extra["durability"] = json!("journal");
    }
    let lines = Arc::new(Mutex::new((Vec::<(u64, u64)>::new(), Vec::<u64>::new(), Vec::<(u64, u64)>::new())));
    let child = {
        let lines = lines.clone();
        spawn_child(
            "child_journal_writer",
            &[
                ("XMCDP_JOURNAL_CHILD", base.clone()),
                ("XMCDP_JOURNAL_DIR", dir.display().to_string()),
                ("XMCDP_JOURNAL_BIDS", bids.join(",")),
                ("XMCDP_JOURNAL_SETTINGS", extra.to_string()),
            ],
            move |tag, a, ms| {
                let mut l = lines.lock().unwrap();
                match tag {
                    "ACK" => l.0.push((a, ms)),
                    "COMMIT" => l.1.push(ms),
                    "SECURED" => l.2.push((a, ms)),
                    _ => {}
                }
            },
        )
    };
    wait_for(Duration::from_secs(10), || Some(()).filter(|_| !lines.lock().unwrap().0.is_empty())).expect("child started");
    std::thread::sleep(run);
    child.kill_9();
    let (acks, commits, secured) = lines.lock().unwrap().clone();
    let kill_ms = acks.last().unwrap().1;
    admin(&base).set_faults(&json!({})).unwrap();
    let c = Client::from_json(&settings(&base, &dir, json!({}))).unwrap();
    let adopted = stats(&c)["spool"]["adopted_events"].as_u64().unwrap_or(0);
    wait_for(Duration::from_secs(60), || {
        let s = stats(&c);
        let stored = admin(&base).stats().unwrap()["events"]["accepted"].as_u64().unwrap_or(0);
        Some(()).filter(|_| s["spool"]["depth"] == 0 && s["events"]["queue_depth"] == 0 && stored + 5 >= adopted.min(stored + 5)).or_else(|| {
            std::thread::sleep(Duration::from_millis(50));
            None
        })
    })
    .expect("the adopted spool drains");
    // Requests the killed child had in flight may still land: give them their latency.
    std::thread::sleep(Duration::from_millis(400));
    let mut got = HashSet::new();
    for b in &bids {
        for e in admin(&base).events_of(b).unwrap()["items"].as_array().unwrap() {
            got.insert(e["body"]["page"].as_str().unwrap_or("").to_string());
        }
    }
    let lost: Vec<&(u64, u64)> = acks.iter().filter(|(i, _)| !got.contains(&format!("k{i}"))).collect();
    // The last commit but one seen before the kill (a commit seen "at" the kill may not have been complete; the
    // copy of an event accepted just before a commit may miss it and ride the next one).
    let before: Vec<u64> = commits.iter().copied().filter(|ms| *ms <= kill_ms).collect();
    let floor = before.len().checked_sub(2).map_or(0, |i| before[i]);
    let window_ms = (kill_ms - floor).max(commit_ms);
    let duplicates = admin(&base).stats().unwrap()["events"]["duplicates"].as_u64().unwrap_or(0);
    let secured = secured.iter().filter(|(_, ms)| *ms <= kill_ms).map(|(n, _)| *n).max().unwrap_or(0);
    c.shutdown(Duration::from_secs(2));
    KillRun {
        accepted: acks.len(),
        lost: lost.len(),
        oldest_lost_ms: lost.iter().map(|(_, ms)| kill_ms - ms).max().unwrap_or(0),
        window_events: acks.iter().filter(|(_, ms)| kill_ms - ms <= window_ms).count(),
        window_ms,
        duplicates,
        secured,
    }
}

fn report(state: &str, journal: bool, r: &KillRun) {
    eprintln!(
        "FIGURE journal-kill9 {state} {}: {} accepted at 1000/s, {} secured by commits before the kill, lost {} (oldest lost accepted {} ms before the kill; measured window {} ms = {} events; commit interval 50 ms), {} duplicates dropped by the emulator",
        if journal { "journal" } else { "overflow" },
        r.accepted,
        r.secured,
        r.lost,
        r.oldest_lost_ms,
        r.window_ms,
        r.window_events,
        r.duplicates
    );
}

#[test]
fn journal_kill_9_loses_at_most_the_commit_window_in_every_state() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let runs = if soak() { 3 } else { 1 };
    let run = if soak() { Duration::from_secs(5) } else { Duration::from_millis(1500) };
    for state in ["up", "retrying", "outage"] {
        for _ in 0..runs {
            let r = kill_run(state, true, run);
            report(state, true, &r);
            assert!(r.accepted > 500, "{state}: the child ran");
            // Only what the commits had not secured can be lost (+2: an event the child accepted but was killed
            // before acknowledging can be among the secured ones).
            assert!(r.secured > 0, "{state}: the child saw commits");
            assert!(r.lost as u64 <= (r.accepted as u64 + 2).saturating_sub(r.secured), "{state}: lost {} of {} accepted, {} secured", r.lost, r.accepted, r.secured);
        }
    }
}

/// Without the journal, for the comparison in RELIABILITY.md: what a kill loses in the same three states. Asserts
/// only that a kill while events retry in memory loses far more than a commit window (so the comparison measures
/// something).
#[test]
fn without_the_journal_a_kill_loses_what_is_in_memory() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let runs = if soak() { 3 } else { 1 };
    let run = if soak() { Duration::from_secs(5) } else { Duration::from_millis(1500) };
    for state in ["up", "retrying", "outage"] {
        for _ in 0..runs {
            let r = kill_run(state, false, run);
            report(state, false, &r);
            if state == "retrying" {
                assert!(r.lost > 500, "retrying without a journal: lost only {}", r.lost);
            }
        }
    }
}

fn write_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("write_bytes:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Delivery throughput and disk writes with and without the journal, the CDP healthy: all events sent at once
/// into a queue with room for them. With the journal, every row written is deleted again once its event is delivered.
#[test]
fn journal_throughput_and_disk_writes() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n: usize = std::env::var("XMCDP_JOURNAL_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(if soak() { 100_000 } else { 1_500 });
    for journal in [false, true] {
        let emu = emulator();
        let base = emu.base_url();
        let dir = temp_dir("journal", if journal { "tp-journal" } else { "tp-overflow" });
        let bids: Vec<String> = (0..50).map(|_| new_browser(&base)).collect();
        // Room for every event in memory: this measures delivery, not the spool's replay of a flooded queue.
        let mut extra = json!({"queueCapacity": n + 1000, "queueMaxBytes": 1u64 << 30, "spoolCommitIntervalMs": 100});
        if journal {
            extra["durability"] = json!("journal");
        }
        let c = Client::from_json(&settings(&base, &dir, extra)).unwrap();
        let w0 = write_bytes();
        let t0 = Instant::now();
        let mut sent = 0;
        while sent < n {
            match c.send(view(&bids[sent % bids.len()], &format!("t{sent}")), None) {
                Ok(()) => sent += 1,
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        let done = wait_for(Duration::from_secs(120), || {
            Some(()).filter(|_| admin(&base).stats().unwrap()["events"]["accepted"].as_u64().unwrap_or(0) >= n as u64).or_else(|| {
                std::thread::sleep(Duration::from_millis(20));
                None
            })
        });
        let secs = t0.elapsed().as_secs_f64();
        let s = wait_for(Duration::from_secs(10), || {
            Some(stats(&c)).filter(|s| s["spool"]["journal_depth"] == 0 && s["spool"]["depth"] == 0 && s["spool"]["replays_in_flight"] == 0 && s["events"]["queue_depth"] == 0)
        })
        .unwrap_or_else(|| stats(&c));
        let emu_events = admin(&base).stats().unwrap()["events"].clone();
        let sp = &s["spool"];
        let written = write_bytes() - w0;
        eprintln!(
            "FIGURE journal-throughput {}: {n} events delivered in {secs:.2} s = {:.0} events/s; {} commits ({:.1}/s), {:.1} MB written ({:.0} KB/s); journaled {}, never written (delivered within the commit) {}, spilled {}",
            if journal { "journal" } else { "overflow" },
            n as f64 / secs,
            sp["commits"],
            sp["commits"].as_u64().unwrap_or(0) as f64 / secs,
            written as f64 / 1e6,
            written as f64 / 1e3 / secs,
            sp["journaled"],
            sp["journal_skipped"],
            s["events"]["spilled"]
        );
        assert!(done.is_some(), "all delivered: {s}");
        assert_eq!(emu_events["accepted"].as_u64(), Some(n as u64), "each stored once: {emu_events} {s}");
        assert_eq!(s["events"]["sent"].as_u64(), Some(n as u64), "each sent once: {emu_events} {s}");
        if journal {
            assert_eq!(sp["journal_depth"], 0, "every journal row is deleted once its event is delivered: {sp}");
            // Every event went through the journal (written, or delivered before its commit), except those spilled
            // by a full queue before any lane held them.
            let through = sp["journaled"].as_u64().unwrap() + sp["journal_skipped"].as_u64().unwrap() + s["events"]["spilled"].as_u64().unwrap();
            assert!(through >= n as u64, "{sp}");
        }
        let report = c.shutdown(Duration::from_secs(2));
        assert_eq!(report.unsent, 0, "{report:?}");
        // Nothing left to adopt: the empty spool file (journal included) is deleted when the writer lets it go
        // (on a loaded machine that can come after `close`'s 2 s wait).
        let left = || std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect::<Vec<_>>();
        assert!(wait_for(Duration::from_secs(20), || Some(()).filter(|_| left().is_empty())).is_some(), "{:?}", left());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
