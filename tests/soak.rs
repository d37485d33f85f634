//! Randomized fault soak (issue 15 item 7): a seeded schedule mixes the emulator's faults (latency with jitter,
//! 5xx, 429 with Retry-After, connection resets, black holes, full outage, healthy) with `kill -9` and restart of a child
//! process that sends events with `durability: "journal"` and a spool directory. At the end a healthy client
//! adopts what the last child left and the checker reads the emulator:
//!
//! - an event acknowledged by a child is stored at most once (the emulator drops Idempotency-Key duplicates;
//!   the stored items are what it accepted, so a duplicate there is a failure);
//! - what is missing is within what RELIABILITY.md documents for a hard kill in journal mode: per child life,
//!   at most the events accepted but not yet secured by a commit (`journaled` + `journal_skipped` as published
//!   after the last commit the child saw before its kill; +2 as in `tests/journal.rs`);
//! - per visitor, the delivered events are in acceptance order (each child adopts its predecessor's files at
//!   start, the case RELIABILITY.md's "across processes" ordering covers);
//! - the child's RSS stays under a budget, its spooled record bytes under `spoolMaxBytes`, its spool file after
//!   each commit under `spoolMaxBytes` + `FILE_OVERHEAD` and the directory, sampled, under twice that (a commit
//!   may grow the file one step before it is compacted back); events the spool evicted to stay there are counted
//!   by it and widen the loss window.
//!
//! `XMCDP_SOAK_SEED` replays a schedule (printed at the start and on failure), `XMCDP_SOAK_SECS` sets the
//! faulted run's length (default 12 s; `cargo xtask soak` sets a longer one). Prints a `FIGURE soak` line.

mod common;

use common::child::{dir_bytes, spawn_child, temp_dir};
use common::{admin, get_json, wait_for};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xmcdp::model::{Event, EventCommon, PageView};
use xmcdp::Client;
use xmcdp_emulator::{spawn, EmulatorConfig};

const SPOOL_MAX_BYTES: u64 = 16 << 20;
/// No setting caps RSS; the budget is the queue's bound (`queueCapacity` 10,000 small events) with room for
/// the test harness and two tokio runtimes. A leak per event or per fault would pass it within a soak.
const RSS_BUDGET_KIB: u64 = 256 * 1024;
const VISITORS: usize = 12;
const RATE: f64 = 400.0;

/// splitmix64: a seeded schedule needs determinism, not quality.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn settings(base: &str, dir: &Path) -> String {
    json!({"clientKey": "ck_test", "targetUrl": base, "pointOfSale": "myretailsite/ireland",
           "spoolDirectory": dir.to_str().unwrap(), "durability": "journal", "spoolCommitIntervalMs": 50,
           "spoolMaxBytes": SPOOL_MAX_BYTES, "retryMaxAttempts": 2, "retryBaseMs": 5, "requestTimeoutMs": 1000})
    .to_string()
}

fn view(bid: &str, page: &str) -> Event {
    Event::View(PageView { common: EventCommon { browser_id: bid.into(), page: Some(page.into()), ..Default::default() }, ..Default::default() })
}

fn stats(c: &Client) -> Value {
    serde_json::from_str(&c.stats_json()).unwrap()
}

/// The child: sends `RATE` events/s numbered from `XMCDP_SOAK_FIRST` (page `s{n}`, visitor `n % VISITORS`),
/// printing `ACK n ms` per accepted event, `SECURED count ms` when its commits secure more and `SPOOL bytes ms`
/// when the spooled record bytes change, until killed.
#[test]
fn child_soak_writer() {
    let Ok(base) = std::env::var("XMCDP_SOAK_CHILD") else { return };
    let dir = std::env::var("XMCDP_SOAK_DIR").unwrap();
    let bids: Vec<String> = std::env::var("XMCDP_SOAK_BIDS").unwrap().split(',').map(str::to_string).collect();
    let first: u64 = std::env::var("XMCDP_SOAK_FIRST").unwrap().parse().unwrap();
    let c = Arc::new(Client::from_json(&settings(&base, Path::new(&dir))).unwrap());
    let start = Instant::now();
    {
        let c = c.clone();
        std::thread::spawn(move || {
            let (mut secured, mut bytes, mut evicted, mut file) = (0, u64::MAX, 0, 0);
            loop {
                let s = stats(&c)["spool"].clone();
                // The record bytes `spoolMaxBytes` caps (RELIABILITY.md: "disk cap over spooled records").
                let b = s["bytes"].as_u64().unwrap_or(0);
                if b != bytes {
                    bytes = b;
                    println!("SPOOL {b} {}", start.elapsed().as_millis());
                }
                // The file's size as published after each commit (after the cap is enforced).
                let f = s["file_bytes"].as_u64().unwrap_or(0);
                if f > file {
                    file = f;
                    println!("FILE {f} {}", start.elapsed().as_millis());
                }
                let e = s["evicted"].as_u64().unwrap_or(0);
                if e != evicted {
                    evicted = e;
                    println!("EVICTED {e} {}", start.elapsed().as_millis());
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
    let mut i = 0u64;
    loop {
        let due = (start.elapsed().as_secs_f64() * RATE) as u64;
        while i < due {
            let n = first + i;
            if c.send(view(&bids[(n as usize) % bids.len()], &format!("s{n}")), None).is_ok() {
                println!("ACK {n} {}", start.elapsed().as_millis());
            }
            i += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}


fn listing(dir: &Path) -> Vec<(String, u64)> {
    std::fs::read_dir(dir).map_or(Vec::new(), |rd| {
        rd.filter_map(Result::ok).map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().map_or(0, |m| m.len()))).collect()
    })
}

/// One fault state from the schedule: its kind (for the figures) and the emulator's fault document.
fn pick_fault(rng: &mut Rng) -> (&'static str, Value, u64) {
    match rng.below(7) {
        0 => ("healthy", json!({}), 0),
        1 => {
            let (lat, jit) = (20 + rng.below(200), rng.below(150));
            ("latency", json!({"routes": {"*": {"latency_ms": lat, "jitter_ms": jit}}}), lat + jit)
        }
        2 => {
            let status = [500, 502, 503][rng.below(3) as usize];
            ("5xx", json!({"routes": {"*": {"error_rate": 0.2 + rng.below(60) as f64 / 100.0, "error_status": status}}}), 0)
        }
        3 => ("429", json!({"routes": {"*": {"throttle_rate": 0.2 + rng.below(50) as f64 / 100.0, "retry_after_secs": 1}}}), 0),
        4 => ("reset", json!({"routes": {"*": {"reset_rate": 0.1 + rng.below(40) as f64 / 100.0}}}), 0),
        // Read and never answered: the attempt ends at `requestTimeoutMs`. The emulator never stores it, so a
        // black-holed request of a killed child cannot land later.
        5 => ("blackhole", json!({"routes": {"*": {"blackhole_rate": 0.2 + rng.below(40) as f64 / 100.0}}}), 0),
        _ => ("outage", json!({"outage": true}), 0),
    }
}

/// Fewer accepted events than this and the run has not exercised the invariants (a failure, not a pass).
const MIN_ACKED: usize = 1000;

#[derive(Default)]
struct Life {
    acks: Vec<(u64, u64)>,
    secured: Vec<(u64, u64)>,
    max_spool_bytes: u64,
    /// Events the spool evicted to stay within `spoolMaxBytes` (lost by design, counted).
    evicted: u64,
    /// The spool file's size after a commit (the cap enforced), at most.
    max_file_bytes: u64,
}


#[test]
fn randomized_fault_soak_keeps_the_documented_invariants() {
    let seed: u64 = std::env::var("XMCDP_SOAK_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5EED_2026);
    let secs: u64 = std::env::var("XMCDP_SOAK_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
    eprintln!("soak: XMCDP_SOAK_SEED={seed} XMCDP_SOAK_SECS={secs}");
    let fail = |what: String| -> ! { panic!("soak failed with XMCDP_SOAK_SEED={seed} XMCDP_SOAK_SECS={secs}: {what}") };
    let mut rng = Rng(seed);
    let mut cfg = EmulatorConfig::default();
    cfg.limits.max_events = 2_000_000;
    let emu = spawn(cfg).expect("emulator starts");
    let base = emu.base_url();
    let dir = temp_dir("soak", "faults");
    let bids: Vec<String> = (0..VISITORS)
        .map(|_| get_json(&format!("{base}/v1.2/browser/create.json?client_key=ck_test&message={{}}"))["ref"].as_str().unwrap().to_string())
        .collect();
    let mut faults: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut lives, mut max_rss, mut max_disk, mut next_seq) = (Vec::<Life>::new(), 0u64, 0u64, 0u64);
    // The directory's files (name, bytes) when it was largest.
    let mut peak_listing = Vec::new();
    let end = Instant::now() + Duration::from_secs(secs);
    // A loaded machine (a debug child starting slowly) may accept too few events in `secs` for the run to mean
    // anything: more lives are run, up to three times as long, until MIN_ACKED were accepted.
    let hard_end = Instant::now() + Duration::from_secs(3 * secs);
    let acked_so_far = |lives: &[Life]| lives.iter().map(|l| l.acks.len()).sum::<usize>();
    while Instant::now() < end || (acked_so_far(&lives) < MIN_ACKED && Instant::now() < hard_end) {
        // One child life of 1.5–4 s, faults changing every 150–750 ms, then kill -9.
        let life_end = Instant::now() + Duration::from_millis(1500 + rng.below(2500));
        let life = Arc::new(Mutex::new(Life::default()));
        let child = {
            let life = life.clone();
            spawn_child(
                "child_soak_writer",
                &[
                    ("XMCDP_SOAK_CHILD", base.clone()),
                    ("XMCDP_SOAK_DIR", dir.display().to_string()),
                    ("XMCDP_SOAK_BIDS", bids.join(",")),
                    ("XMCDP_SOAK_FIRST", next_seq.to_string()),
                ],
                move |tag, a, ms| {
                    let mut l = life.lock().unwrap();
                    match tag {
                        "ACK" => l.acks.push((a, ms)),
                        "SECURED" => l.secured.push((a, ms)),
                        "SPOOL" => l.max_spool_bytes = l.max_spool_bytes.max(a),
                        "EVICTED" => l.evicted = l.evicted.max(a),
                        "FILE" => l.max_file_bytes = l.max_file_bytes.max(a),
                        _ => {}
                    }
                },
            )
        };
        let mut max_latency = 0;
        while Instant::now() < life_end {
            let (kind, doc, latency) = pick_fault(&mut rng);
            admin(&base).set_faults(&doc).expect("faults");
            *faults.entry(kind).or_default() += 1;
            max_latency = max_latency.max(latency);
            let step = Instant::now() + Duration::from_millis(150 + rng.below(600));
            while Instant::now() < step {
                max_rss = max_rss.max(rss_kib(child.id()));
                let d = dir_bytes(&dir);
                if d > max_disk {
                    max_disk = d;
                    peak_listing = listing(&dir);
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        child.kill_9();
        let life = Arc::try_unwrap(life).ok().unwrap().into_inner().unwrap();
        next_seq = life.acks.last().map_or(next_seq, |a| a.0 + 1).max(next_seq);
        lives.push(life);
        // Requests the dead child had in flight may still land; let them, so they cannot overtake the next
        // child's replay of the same events (a cross-process order RELIABILITY.md does not promise).
        std::thread::sleep(Duration::from_millis(max_latency + 300));
    }
    // The restart with a healthy CDP: a new client adopts the last child's files and drains them.
    admin(&base).clear_faults().expect("faults cleared");
    let c = Client::from_json(&settings(&base, &dir)).unwrap();
    let acked: usize = lives.iter().map(|l| l.acks.len()).sum();
    let drained = wait_for(Duration::from_secs(60), || {
        let s = stats(&c);
        Some(()).filter(|_| s["events"]["queue_depth"] == 0 && s["spool"]["depth"] == 0 && s["spool"]["replays_in_flight"] == 0).or_else(|| {
            std::thread::sleep(Duration::from_millis(50));
            None
        })
    });
    max_disk = max_disk.max(dir_bytes(&dir));
    if drained.is_none() {
        fail(format!("the adopted spool did not drain: {}", stats(&c)));
    }
    // Per visitor, the emulator's stored events in arrival order.
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for b in &bids {
        let mut last: Option<u64> = None;
        for e in admin(&base).events_of(b).unwrap()["items"].as_array().unwrap() {
            let page = e["body"]["page"].as_str().unwrap_or("");
            let Some(n) = page.strip_prefix('s').and_then(|v| v.parse::<u64>().ok()) else { fail(format!("unexpected page {page:?}")) };
            *seen.entry(n).or_default() += 1;
            if last.is_some_and(|l| l > n) {
                fail(format!("visitor {b}: s{n} arrived after s{}", last.unwrap()));
            }
            last = Some(n);
        }
    }
    if let Some((n, k)) = seen.iter().find(|(_, k)| **k > 1) {
        fail(format!("s{n} stored {k} times"));
    }
    let mut lost_total = 0;
    let mut window_total = 0u64;
    // A child evicts the oldest records in its file, which may be an earlier life's events: evictions count against
    // every life, and against the total once.
    let evicted_total: u64 = lives.iter().map(|l| l.evicted).sum();
    for (i, l) in lives.iter().enumerate() {
        let lost = l.acks.iter().filter(|(n, _)| !seen.contains_key(n)).count();
        let kill_ms = l.acks.last().map_or(0, |a| a.1);
        let secured = l.secured.iter().filter(|(_, ms)| *ms <= kill_ms).map(|(n, _)| *n).max().unwrap_or(0);
        let window = (l.acks.len() as u64 + 2).saturating_sub(secured);
        if lost as u64 > window + evicted_total {
            fail(format!("life {i}: lost {lost} of {} accepted, only {secured} secured by commits before the kill ({evicted_total} evicted in all)", l.acks.len()));
        }
        lost_total += lost;
        window_total += window;
    }
    if lost_total as u64 > window_total + evicted_total {
        fail(format!("lost {lost_total} in all, over the unsecured windows ({window_total}) and the evictions ({evicted_total})"));
    }
    let delivered = seen.len();
    let max_records = lives.iter().map(|l| l.max_spool_bytes).max().unwrap_or(0);
    let max_file = lives.iter().map(|l| l.max_file_bytes).max().unwrap_or(0);
    eprintln!(
        "FIGURE soak seed {seed}: {secs} s, {} child lives killed with kill -9, {acked} events accepted, {delivered} delivered exactly once, {lost_total} lost (within the unsecured window: {window_total} events over all kills, and {evicted_total} evicted by spoolMaxBytes), 0 duplicates stored, per-visitor order kept; faults {faults:?}; max child RSS {} KiB, max spooled record bytes {max_records} (spoolMaxBytes {SPOOL_MAX_BYTES}), max spool file after a commit {max_file} bytes, max spool directory on disk {} bytes {peak_listing:?}",
        lives.len(),
        max_rss,
        max_disk
    );
    if acked < MIN_ACKED {
        fail(format!("only {acked} events accepted in {} s", 3 * secs));
    }
    if max_rss > RSS_BUDGET_KIB {
        fail(format!("child RSS {max_rss} KiB over the {RSS_BUDGET_KIB} KiB budget"));
    }
    if max_records > SPOOL_MAX_BYTES {
        fail(format!("spooled records {max_records} bytes over spoolMaxBytes {SPOOL_MAX_BYTES}"));
    }
    // The file after each commit: `spoolMaxBytes` + the documented overhead. The directory, sampled every 25 ms,
    // may catch a commit that grew the file past it before the writer compacts it back: one redb growth step at
    // most (RELIABILITY.md, "Disk cap"). Before the file cap and the take-over at start, a 150 s run of this soak
    // measured 52–86 MB here.
    let limit = SPOOL_MAX_BYTES + xmcdp::spool::FILE_OVERHEAD;
    if max_file > limit {
        fail(format!("spool file reached {max_file} bytes after a commit, over spoolMaxBytes {SPOOL_MAX_BYTES} + {}", xmcdp::spool::FILE_OVERHEAD));
    }
    if max_disk > 2 * limit {
        fail(format!("spool directory reached {max_disk} bytes, over twice spoolMaxBytes {SPOOL_MAX_BYTES} + {}: {peak_listing:?}", xmcdp::spool::FILE_OVERHEAD));
    }
    c.shutdown(Duration::from_secs(2));
    let _ = std::fs::remove_dir_all(&dir);
}
