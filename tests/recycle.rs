//! IIS overlapped recycle (issue 15 item 6): two processes on one spool directory. The old worker (a child
//! process) takes traffic during a CDP outage, the new one (this process) starts while the old one is alive and
//! holds its spool's lock, traffic moves to the new one, the old one shuts down gracefully with its queue going to
//! disk, then the CDP comes back. At the emulator: every accepted event stored exactly once (the emulator drops
//! `Idempotency-Key` repeats and counts them), and per visitor the old worker's events before the new one's,
//! each in acceptance order.

mod common;

use common::child::{spawn_child, temp_dir};
use common::{admin, get_json, wait_for};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xmcdp::model::{Event, EventCommon, PageView};
use xmcdp::Client;
use xmcdp_emulator::{spawn, EmulatorConfig};

const RATE: f64 = 500.0;

fn settings(base: &str, dir: &Path) -> String {
    json!({"clientKey": "ck_test", "targetUrl": base, "pointOfSale": "myretailsite/ireland",
           "spoolDirectory": dir.to_str().unwrap(), "spoolCommitIntervalMs": 50, "retryMaxAttempts": 2, "retryBaseMs": 5})
    .to_string()
}

fn view(bid: &str, page: &str) -> Event {
    Event::View(PageView { common: EventCommon { browser_id: bid.into(), page: Some(page.into()), ..Default::default() }, ..Default::default() })
}

fn stats(c: &Client) -> Value {
    serde_json::from_str(&c.stats_json()).unwrap()
}

/// Sends `RATE` events/s (page `{tag}{i}`, visitor `i % len`) until `stop`, returning the accepted numbers.
fn send_until(c: &Client, bids: &[String], tag: &str, stop: &AtomicBool, mut ack: impl FnMut(u64)) {
    let start = Instant::now();
    let mut i = 0u64;
    while !stop.load(Acquire) {
        let due = (start.elapsed().as_secs_f64() * RATE) as u64;
        while i < due {
            if c.send(view(&bids[(i as usize) % bids.len()], &format!("{tag}{i}")), None).is_ok() {
                ack(i);
            }
            i += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The old worker: sends until told `shutdown` on stdin, prints `STOPPED n 0`, shuts down gracefully (IIS's
/// `shutdownTimeLimit` is the deadline) and prints `REPORT spooled unsent`. A no-op unless the parent set the
/// variable.
#[test]
fn child_old_worker() {
    let Ok(base) = std::env::var("XMCDP_RECYCLE_CHILD") else { return };
    let dir = std::env::var("XMCDP_RECYCLE_DIR").unwrap();
    let bids: Vec<String> = std::env::var("XMCDP_RECYCLE_BIDS").unwrap().split(',').map(str::to_string).collect();
    let c = Client::from_json(&settings(&base, Path::new(&dir))).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if line.trim() == "shutdown" {
                    stop.store(true, Release);
                }
            }
        });
    }
    let mut n = 0;
    send_until(&c, &bids, "a", &stop, |i| {
        n += 1;
        println!("ACK {i} 0");
    });
    println!("STOPPED {n} 0");
    let r = c.shutdown(Duration::from_secs(3));
    println!("REPORT {} {}", r.spooled, r.unsent);
}

#[test]
fn overlapped_recycle_during_an_outage_loses_nothing_and_keeps_order() {
    let mut cfg = EmulatorConfig::default();
    cfg.limits.max_events = 1_000_000;
    let emu = spawn(cfg).expect("emulator starts");
    let base = emu.base_url();
    let dir = temp_dir("recycle", "overlap");
    let bids: Vec<String> = (0..12)
        .map(|_| get_json(&format!("{base}/v1.2/browser/create.json?client_key=ck_test&message={{}}"))["ref"].as_str().unwrap().to_string())
        .collect();
    admin(&base).set_faults(&json!({"outage": true})).unwrap();

    // The old worker takes traffic during the outage.
    let old_acks = Arc::new(Mutex::new(Vec::<u64>::new()));
    let stopped = Arc::new(Mutex::new(None::<u64>));
    let report = Arc::new(Mutex::new(None::<(u64, u64)>));
    let mut old = {
        let (acks, stopped, report) = (old_acks.clone(), stopped.clone(), report.clone());
        spawn_child(
            "child_old_worker",
            &[("XMCDP_RECYCLE_CHILD", base.clone()), ("XMCDP_RECYCLE_DIR", dir.display().to_string()), ("XMCDP_RECYCLE_BIDS", bids.join(","))],
            move |tag, a, b| match tag {
                "ACK" => acks.lock().unwrap().push(a),
                "STOPPED" => *stopped.lock().unwrap() = Some(a),
                "REPORT" => *report.lock().unwrap() = Some((a, b)),
                _ => {}
            },
        )
    };
    wait_for(Duration::from_secs(20), || Some(()).filter(|_| old_acks.lock().unwrap().len() > 300)).expect("the old worker takes traffic");

    // The new worker starts while the old one is alive: the old one's spool file is locked, so it is not adopted.
    let new = Arc::new(Client::from_json(&settings(&base, &dir)).unwrap());
    assert_eq!(stats(&new)["spool"]["adopted_files"], 0, "a live worker's file is not adopted");

    // Traffic moves to the new worker; the old one stops taking requests and shuts down with its queue spooled.
    old.say("shutdown");
    wait_for(Duration::from_secs(10), || *stopped.lock().unwrap()).expect("the old worker stops taking traffic");
    let new_acks = Arc::new(Mutex::new(Vec::<u64>::new()));
    let stop_new = Arc::new(AtomicBool::new(false));
    let sender = {
        let (c, bids, acks, stop) = (new.clone(), bids.clone(), new_acks.clone(), stop_new.clone());
        std::thread::spawn(move || send_until(&c, &bids, "b", &stop, |i| acks.lock().unwrap().push(i)))
    };
    let exit = old.wait_exit(Duration::from_secs(20));
    assert!(exit.is_some_and(|s| s.success()), "the old worker shut down: {exit:?}");
    let (spooled, unsent) = report.lock().unwrap().expect("the old worker's shutdown report");
    let released = Instant::now();

    // The CDP comes back a little later, while the new worker keeps taking traffic.
    std::thread::sleep(Duration::from_millis(1500));
    admin(&base).clear_faults().unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    stop_new.store(true, Release);
    sender.join().unwrap();

    let old_acks = old_acks.lock().unwrap().clone();
    let new_acks = new_acks.lock().unwrap().clone();
    let want = old_acks.len() + new_acks.len();
    let all_stored = wait_for(Duration::from_secs(30), || {
        let s = stats(&new);
        let stored = admin(&base).stats().unwrap()["events"]["accepted"].as_u64().unwrap_or(0);
        Some(()).filter(|_| stored >= want as u64 && s["spool"]["depth"] == 0 && s["events"]["queue_depth"] == 0).or_else(|| {
            std::thread::sleep(Duration::from_millis(50));
            None
        })
    });
    let drained_s = released.elapsed().as_secs_f64();
    let s = stats(&new);
    let emu_events = admin(&base).stats().unwrap()["events"].clone();

    // Per visitor, in arrival order: the old worker's events (in acceptance order), then the new one's.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut order_errors = Vec::new();
    for b in &bids {
        let mut last: Option<(u8, u64)> = None;
        for e in admin(&base).events_of(b).unwrap()["items"].as_array().unwrap() {
            let page = e["body"]["page"].as_str().unwrap_or("").to_string();
            let key = (u8::from(page.starts_with('b')), page[1..].parse::<u64>().unwrap());
            if last.is_some_and(|l| l > key) && order_errors.len() < 5 {
                order_errors.push(format!("visitor {b}: {page} arrived after {}{}", if last.unwrap().0 == 1 { 'b' } else { 'a' }, last.unwrap().1));
            }
            last = Some(key);
            *seen.entry(page).or_default() += 1;
        }
    }
    let lost_old = old_acks.iter().filter(|i| !seen.contains_key(&format!("a{i}"))).count();
    let lost_new = new_acks.iter().filter(|i| !seen.contains_key(&format!("b{i}"))).count();
    let twice = seen.values().filter(|k| **k > 1).count();
    eprintln!(
        "FIGURE recycle: old worker accepted {} during the outage and spooled {spooled} at shutdown ({unsent} unsent); new worker accepted {} (outage, then CDP back 1.5 s after the old one exited); adopted {} files / {} events; all delivered {drained_s:.1} s after the old worker exited; lost {lost_old} + {lost_new}, stored twice {twice}, emulator duplicates dropped {}, order errors {}",
        old_acks.len(),
        new_acks.len(),
        s["spool"]["adopted_files"],
        s["spool"]["adopted_events"],
        emu_events["duplicates"],
        order_errors.len()
    );
    assert!(all_stored.is_some(), "not all delivered within 30 s: {s} {emu_events}");
    // In outage mode most of the old worker's events reached its spool before the shutdown; what was still in
    // memory went there at the shutdown.
    assert_eq!(unsent, spooled, "the old worker's shutdown spooled everything it had not sent");
    assert_eq!((lost_old, lost_new), (0, 0), "nothing lost");
    assert_eq!(twice, 0, "nothing stored twice");
    assert_eq!(emu_events["accepted"].as_u64(), Some(want as u64), "{emu_events}");
    assert!(order_errors.is_empty(), "per-visitor order: {order_errors:?}");
    assert_eq!(s["spool"]["adopted_files"], 1, "the old worker's file was adopted once it was released: {s}");
    new.shutdown(Duration::from_secs(2));
    let _ = std::fs::remove_dir_all(&dir);
}
