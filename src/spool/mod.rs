//! Durable spool behind the pipeline's [`Overflow`] seam.
//!
//! - **Files.** One redb file per process and client: `xmcdp-spool-{clientKey}-{pid}-{n}.redb` in
//!   `spoolDirectory`. redb holds an exclusive OS lock (flock / LockFileEx) while a file is open, so a file
//!   whose lock can be taken belongs to nobody: its owner exited or crashed. Such orphans (IIS overlapped
//!   recycle, a crashed worker, a previous client of this process) are adopted at start and every
//!   [`ADOPT_INTERVAL`]: their records are copied into our file, then the orphan is deleted. A file that does
//!   not open for any other reason is renamed `*.corrupt-{unixms}` (quarantined), logged and counted.
//! - **Writes.** Never on the caller's thread: `spill` pushes into a bounded channel (full → the events are
//!   dropped and counted). One writer thread renders, encodes and commits in batches: at least every
//!   `spoolCommitIntervalMs`, or as soon as `spoolCommitMaxEvents` wait. Each commit is one durable redb
//!   transaction (one fsync), so a hard kill loses at most what was accepted within the last commit interval
//!   (plus what was only in memory: see RELIABILITY.md).
//! - **Replay**, from the same thread, oldest first, pipelined: up to [`REPLAY_WINDOW`] records are in the
//!   pipeline at once, and the window is topped up as they settle (a settle wakes the writer at once), reading on
//!   from a cursor rather than from the start of the table. A record is deleted only once delivered (or rejected
//!   by a 4xx), in the next regular commit, so a kill during replay loses nothing (the receiver drops the
//!   duplicate by its `Idempotency-Key`). While the pipeline is in outage mode only a single probe is out, one per
//!   [`PROBE_INTERVAL`]. When a replayed event comes back undelivered, nothing more is offered until every
//!   replay already out has come back or landed; then reading starts again from the oldest record.
//! - **Per-visitor order.** While the spool holds any event of a visitor, that visitor's new events are
//!   diverted into the spool behind them (at the head of their lane, after any older ones queued there), so
//!   they replay in acceptance order. When a replayed event fails, the replay epoch moves on and every replayed event still
//!   queued goes back instead of overtaking it.
//! - **Cap.** Beyond `spoolMaxBytes` of records the oldest are evicted and counted.

mod record;

pub use record::Record;

use crate::config::Settings;
use crate::log;
use crate::pipeline::spool::{Overflow, SpillReason};
use crate::pipeline::{BodyRenderer, Envelope, Origin, ReplaySink};
use parking_lot::Mutex;
use redb::{Database, DatabaseError, ReadableTable, TableDefinition};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
const PREFIX: &str = "xmcdp-spool-";
const EXT: &str = ".redb";
/// Replayed events in the pipeline at once (and never more than half its capacity: `ReplaySink::room`).
pub const REPLAY_WINDOW: usize = 1024;
/// While the CDP looks down, one spooled event is tried this often to find out whether it is back.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// redb's page cache per open spool file (its default is 1 GiB, which a long outage would fill with pages of a
/// file that is only appended to and read once, front to back).
pub const CACHE_BYTES: usize = 8 << 20;
/// How often the directory is scanned for orphaned spools (a recycled sibling that exited after we started).
pub const ADOPT_INTERVAL: Duration = Duration::from_secs(10);

static INSTANCE: AtomicU64 = AtomicU64::new(0);

#[derive(Clone, Debug)]
pub struct SpoolConfig {
    pub directory: PathBuf,
    pub client_key: String,
    pub max_bytes: u64,
    pub commit_interval: Duration,
    pub commit_max_events: usize,
    /// Events that may wait in the channel to the writer thread.
    pub channel_events: usize,
}

impl SpoolConfig {
    pub fn from_settings(s: &Settings) -> Option<SpoolConfig> {
        let dir = s.spool.directory.as_ref()?;
        Some(SpoolConfig {
            directory: PathBuf::from(dir),
            client_key: s.client_key.clone(),
            max_bytes: s.spool.max_bytes,
            commit_interval: s.spool.commit_interval,
            commit_max_events: s.spool.commit_max_events,
            channel_events: s.queue_capacity.max(1024),
        })
    }
}

#[derive(Default)]
struct Stats {
    spooled: AtomicU64,
    replayed: AtomicU64,
    evicted: AtomicU64,
    dropped: AtomicU64,
    quarantined_files: AtomicU64,
    quarantined_records: AtomicU64,
    adopted_files: AtomicU64,
    adopted_events: AtomicU64,
    commits: AtomicU64,
    commit_errors: AtomicU64,
    depth: AtomicU64,
    bytes: AtomicU64,
    file_bytes: AtomicU64,
    in_flight: AtomicU64,
    last_commit_us: AtomicU64,
}

enum Msg {
    Spill(Vec<Envelope>),
    /// Settles are waiting: replay can top up its window (sent at most once until the writer takes them).
    Wake,
    Close(SyncSender<u64>),
}

enum Settle {
    Done { key: u64, browser_id: String },
    Back { key: u64 },
}

struct Inner {
    cfg: SpoolConfig,
    path: PathBuf,
    tx: SyncSender<Msg>,
    /// Events in the channel, not yet taken by the writer.
    pending: AtomicUsize,
    /// Visitors with events in the spool (committed, waiting to commit, or being replayed) → how many.
    visitors: Mutex<HashMap<String, u32>>,
    /// `visitors.len()`, readable without the lock (the request path checks this first).
    visitor_count: AtomicUsize,
    epoch: AtomicU64,
    settles: Mutex<Vec<Settle>>,
    /// A `Msg::Wake` is in the channel (or the writer is about to take the settles anyway).
    wake_sent: AtomicBool,
    sink: OnceLock<ReplaySink>,
    closed: AtomicBool,
    renderer: BodyRenderer,
    stats: Stats,
}

impl Inner {
    /// Queues a settle and wakes the writer (once per batch of settles), so replay tops up without waiting out a
    /// timeout. Runs on delivery tasks: no blocking, no I/O.
    fn settle(&self, s: Settle) {
        self.settles.lock().push(s);
        if !self.wake_sent.swap(true, AcqRel) {
            // Full channel: the writer has messages to take and will see the settles anyway.
            let _ = self.tx.try_send(Msg::Wake);
        }
    }

    fn forget_visitor(&self, browser_id: &str, n: u32) {
        if browser_id.is_empty() {
            return;
        }
        let mut v = self.visitors.lock();
        if let Some(c) = v.get_mut(browser_id) {
            *c = c.saturating_sub(n);
            if *c == 0 {
                v.remove(browser_id);
            }
        }
        self.visitor_count.store(v.len(), Release);
    }
}

/// The spool: owns the writer thread; `overflow()` is what the pipeline holds.
pub struct Spool {
    inner: Arc<Inner>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct SpoolOverflow(Arc<Inner>);

impl Overflow for SpoolOverflow {
    fn spill(&self, events: Vec<Envelope>, _reason: SpillReason) -> bool {
        let inner = &*self.0;
        let mut fresh = Vec::with_capacity(events.len());
        for env in events {
            match env.origin {
                // Back to the spool it never left: just no longer in flight. Younger replays of the same visitor
                // must not overtake it, so the epoch moves on (they are sent back when they reach a lane's head).
                Some(o) => {
                    inner.epoch.fetch_add(1, AcqRel);
                    inner.settle(Settle::Back { key: o.key });
                }
                None => fresh.push(env),
            }
        }
        if fresh.is_empty() {
            return true;
        }
        if inner.closed.load(Acquire) {
            inner.stats.dropped.fetch_add(fresh.len() as u64, Relaxed);
            return false;
        }
        let n = fresh.len();
        // The visitor map and the channel move together under this lock, so an event that sees its visitor in
        // the map is always sent after the event that put the visitor there.
        let mut v = inner.visitors.lock();
        if inner.pending.load(Acquire) + n > inner.cfg.channel_events {
            drop(v);
            inner.stats.dropped.fetch_add(n as u64, Relaxed);
            log::emit_once("spool-channel-full", log::Level::Warn, "xmcdp: the spool writer is behind; events are being dropped (see stats.spool.dropped)");
            return false;
        }
        let bids: Vec<String> = fresh.iter().map(|e| e.browser_id().to_owned()).collect();
        match inner.tx.try_send(Msg::Spill(fresh)) {
            Ok(()) => {
                inner.pending.fetch_add(n, AcqRel);
                for b in bids.into_iter().filter(|b| !b.is_empty()) {
                    *v.entry(b).or_insert(0) += 1;
                }
                inner.visitor_count.store(v.len(), Release);
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                drop(v);
                inner.stats.dropped.fetch_add(n as u64, Relaxed);
                false
            }
        }
    }

    fn divert(&self, env: &Envelope) -> bool {
        let inner = &*self.0;
        if let Some(o) = env.origin {
            return o.epoch != inner.epoch.load(Acquire);
        }
        if inner.visitor_count.load(Acquire) == 0 {
            return false;
        }
        let bid = env.browser_id();
        !bid.is_empty() && inner.visitors.lock().contains_key(bid)
    }

    fn settled(&self, env: &Envelope) {
        if let Some(o) = env.origin {
            self.0.settle(Settle::Done { key: o.key, browser_id: env.browser_id().to_owned() });
        }
    }

    fn is_durable(&self) -> bool {
        true
    }
}

impl Spool {
    /// Opens (or creates) this process's spool file, adopts orphans, starts the writer thread. Errors are
    /// returned as text for the caller to log; the client then runs without a spool.
    pub fn open(cfg: SpoolConfig, renderer: BodyRenderer) -> Result<Spool, String> {
        std::fs::create_dir_all(&cfg.directory).map_err(|e| format!("cannot create the spool directory: {e}"))?;
        let n = INSTANCE.fetch_add(1, Relaxed);
        let path = cfg.directory.join(format!("{PREFIX}{}-{}-{n}{EXT}", cfg.client_key, std::process::id()));
        let (tx, rx) = sync_channel(cfg.channel_events);
        let inner = Arc::new(Inner {
            cfg,
            path: path.clone(),
            tx,
            pending: AtomicUsize::new(0),
            visitors: Mutex::new(HashMap::new()),
            visitor_count: AtomicUsize::new(0),
            epoch: AtomicU64::new(0),
            settles: Mutex::new(Vec::new()),
            wake_sent: AtomicBool::new(false),
            sink: OnceLock::new(),
            closed: AtomicBool::new(false),
            renderer,
            stats: Stats::default(),
        });
        let db = match guarded(|| open_db(&path, true)) {
            Ok(db) => db,
            Err(OpenError::Locked) => return Err("the spool file is locked by another client".into()),
            Err(OpenError::Bad(e)) => {
                // Our own name but unreadable (a crashed process with a reused pid left garbage): set it aside.
                quarantine(&inner, &path, &e);
                guarded(|| open_db(&path, true)).map_err(|e| format!("cannot create the spool file: {}", e.text()))?
            }
        };
        let mut w = Writer::new(inner.clone(), db);
        w.load_own();
        w.adopt_orphans();
        let handle = std::thread::Builder::new()
            .name("xmcdp-spool".into())
            .spawn(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.run(rx)));
                if r.is_err() {
                    log::error("xmcdp: the spool writer stopped after an internal error; spilled events are now dropped");
                }
            })
            .map_err(|e| format!("cannot start the spool writer: {e}"))?;
        log::info(format!(
            "xmcdp: spool {} open ({} events waiting, {} adopted from {} orphaned files)",
            path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
            inner.stats.depth.load(Relaxed),
            inner.stats.adopted_events.load(Relaxed),
            inner.stats.adopted_files.load(Relaxed)
        ));
        Ok(Spool { inner, writer: Mutex::new(Some(handle)) })
    }

    /// What the pipeline holds.
    pub fn overflow(&self) -> Box<dyn Overflow> {
        Box::new(SpoolOverflow(self.inner.clone()))
    }

    /// Starts replay into the pipeline.
    pub fn attach(&self, sink: ReplaySink) {
        let _ = self.inner.sink.set(sink);
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Flushes what waits, commits, releases the file (deleted when empty, else left for the next client or
    /// process to adopt). Returns the events left in the file. Idempotent.
    pub fn close(&self, deadline: Duration) -> u64 {
        let Some(handle) = self.writer.lock().take() else {
            return self.inner.stats.depth.load(Relaxed);
        };
        let (rtx, rrx) = sync_channel(1);
        let left = match self.inner.tx.send(Msg::Close(rtx)) {
            Ok(()) => rrx.recv_timeout(deadline.max(Duration::from_millis(100))).ok(),
            Err(_) => None,
        };
        self.inner.closed.store(true, Release);
        match left {
            Some(n) => {
                let _ = handle.join();
                n
            }
            None => {
                log::warn("xmcdp: the spool did not close in time; the next start adopts what it committed");
                self.inner.stats.depth.load(Relaxed)
            }
        }
    }

    pub fn stats_json(&self) -> serde_json::Value {
        let s = &self.inner.stats;
        serde_json::json!({
            "enabled": true,
            "file": self.inner.path.file_name().map(|f| f.to_string_lossy().into_owned()),
            "spooled": s.spooled.load(Relaxed),
            "replayed": s.replayed.load(Relaxed),
            "evicted": s.evicted.load(Relaxed),
            "dropped": s.dropped.load(Relaxed),
            "quarantined_files": s.quarantined_files.load(Relaxed),
            "quarantined_records": s.quarantined_records.load(Relaxed),
            "adopted_files": s.adopted_files.load(Relaxed),
            "adopted_events": s.adopted_events.load(Relaxed),
            "commits": s.commits.load(Relaxed),
            "commit_errors": s.commit_errors.load(Relaxed),
            "last_commit_us": s.last_commit_us.load(Relaxed),
            "depth": s.depth.load(Relaxed),
            "bytes": s.bytes.load(Relaxed),
            "file_bytes": s.file_bytes.load(Relaxed),
            "waiting": self.inner.pending.load(Relaxed),
            "replays_in_flight": s.in_flight.load(Relaxed),
            "visitors_held": self.inner.visitor_count.load(Relaxed),
        })
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.close(Duration::from_secs(2));
    }
}

enum OpenError {
    Locked,
    Bad(String),
}

impl OpenError {
    fn text(&self) -> String {
        match self {
            OpenError::Locked => "locked".into(),
            OpenError::Bad(e) => e.clone(),
        }
    }
}

/// redb reports damage as errors; a panic inside it on a hostile file must not take the site down either.
fn guarded<T>(f: impl FnOnce() -> Result<T, OpenError>) -> Result<T, OpenError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| Err(OpenError::Bad("panic while opening".into())))
}

fn open_db(path: &Path, create: bool) -> Result<Database, OpenError> {
    let mut b = Database::builder();
    b.set_cache_size(CACHE_BYTES);
    let r = if create { b.create(path) } else { b.open(path) };
    let db = r.map_err(|e| match e {
        DatabaseError::DatabaseAlreadyOpen => OpenError::Locked,
        e => OpenError::Bad(e.to_string()),
    })?;
    // Make sure the table exists and is readable end to end (a truncated tree fails here, not later).
    let check = || -> Result<(), redb::Error> {
        let txn = db.begin_write()?;
        txn.open_table(TABLE)?;
        txn.commit()?;
        let read = db.begin_read()?;
        let t = read.open_table(TABLE)?;
        for item in t.iter()? {
            item?;
        }
        Ok(())
    };
    check().map_err(|e| OpenError::Bad(e.to_string()))?;
    Ok(db)
}

fn quarantine(inner: &Inner, path: &Path, why: &str) {
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".corrupt-{}", crate::pipeline::unix_ms_now()));
    let moved = std::fs::rename(path, &aside).is_ok();
    inner.stats.quarantined_files.fetch_add(1, Relaxed);
    log::error(format!(
        "xmcdp: spool file {} is unreadable ({why}); {}",
        path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        if moved { "renamed aside as *.corrupt-*" } else { "it could not be renamed aside" }
    ));
}

struct Writer {
    inner: Arc<Inner>,
    db: Database,
    next_key: u64,
    /// Committed records → encoded size.
    count: u64,
    bytes: u64,
    batch: Vec<Envelope>,
    batch_since: Option<Instant>,
    /// Replays offered to the pipeline and not settled yet.
    in_flight: HashSet<u64>,
    /// Replays delivered (or rejected by a 4xx), deleted by the next regular commit; since when some wait.
    delivered: HashSet<u64>,
    delivered_since: Option<Instant>,
    /// Replay reads on from this key (records below it are in flight, delivered or deleted)...
    cursor: u64,
    /// ... unless a replay came back undelivered: then, once nothing is in flight, from the start again.
    rewind: bool,
    /// The replay epoch every replay in flight was offered in.
    offer_epoch: u64,
    last_probe: Option<Instant>,
    last_adopt: Instant,
}

impl Writer {
    fn new(inner: Arc<Inner>, db: Database) -> Writer {
        Writer {
            inner,
            db,
            next_key: 0,
            count: 0,
            bytes: 0,
            batch: Vec::new(),
            batch_since: None,
            in_flight: HashSet::new(),
            delivered: HashSet::new(),
            delivered_since: None,
            cursor: 0,
            rewind: false,
            offer_epoch: 0,
            last_probe: None,
            last_adopt: Instant::now(),
        }
    }

    fn publish(&self) {
        let s = &self.inner.stats;
        s.depth.store(self.count, Relaxed);
        s.bytes.store(self.bytes, Relaxed);
        s.in_flight.store(self.in_flight.len() as u64, Relaxed);
        s.file_bytes.store(std::fs::metadata(&self.inner.path).map(|m| m.len()).unwrap_or(0), Relaxed);
    }

    fn hold_visitor(&self, bid: &str) {
        if bid.is_empty() {
            return;
        }
        let mut v = self.inner.visitors.lock();
        *v.entry(bid.to_owned()).or_insert(0) += 1;
        self.inner.visitor_count.store(v.len(), Release);
    }

    /// Our own file may hold records (a previous process with the same pid): count them, index visitors,
    /// drop records that do not parse.
    fn load_own(&mut self) {
        let mut bad = Vec::new();
        let r = (|| -> Result<(), redb::Error> {
            let read = self.db.begin_read()?;
            let t = read.open_table(TABLE)?;
            for item in t.iter()? {
                let (k, v) = item?;
                self.next_key = self.next_key.max(k.value() + 1);
                match Record::decode(v.value()) {
                    Some(rec) => {
                        self.count += 1;
                        self.bytes += v.value().len() as u64;
                        self.hold_visitor(&rec.browser_id);
                    }
                    None => bad.push(k.value()),
                }
            }
            Ok(())
        })();
        if let Err(e) = r {
            log::error(format!("xmcdp: cannot read the spool: {e}"));
        }
        self.drop_bad(bad);
        self.publish();
    }

    fn drop_bad(&mut self, bad: Vec<u64>) {
        if bad.is_empty() {
            return;
        }
        self.inner.stats.quarantined_records.fetch_add(bad.len() as u64, Relaxed);
        log::emit_once("spool-bad-record", log::Level::Error, "xmcdp: unreadable records in the spool were removed (see stats.spool.quarantined_records)");
        let _ = (|| -> Result<(), redb::Error> {
            let txn = self.db.begin_write()?;
            {
                let mut t = txn.open_table(TABLE)?;
                for k in bad {
                    t.remove(k)?;
                }
            }
            txn.commit()?;
            Ok(())
        })();
    }

    /// Spool files of the same client key whose lock can be taken: their owner is gone.
    fn adopt_orphans(&mut self) {
        self.last_adopt = Instant::now();
        let own = format!("{PREFIX}{}-", self.inner.cfg.client_key);
        let Ok(dir) = std::fs::read_dir(&self.inner.cfg.directory) else { return };
        let mut candidates: Vec<PathBuf> = dir
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p != &self.inner.path)
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                name.strip_prefix(&own).and_then(|r| r.strip_suffix(EXT)).is_some_and(|r| {
                    let mut parts = r.split('-');
                    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None)
                        if !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit()))
                })
            })
            .collect();
        // Oldest file first, so older events replay first.
        candidates.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        for path in candidates {
            match guarded(|| open_db(&path, false)) {
                Err(OpenError::Locked) => {}
                Err(OpenError::Bad(e)) => quarantine(&self.inner, &path, &e),
                Ok(orphan) => self.adopt(orphan, &path),
            }
        }
    }

    fn adopt(&mut self, orphan: Database, path: &Path) {
        let mut bad = 0u64;
        let mut moved = 0u64;
        let r = (|| -> Result<(), redb::Error> {
            let read = orphan.begin_read()?;
            let from = read.open_table(TABLE)?;
            let txn = self.db.begin_write()?;
            {
                let mut to = txn.open_table(TABLE)?;
                for item in from.iter()? {
                    let (_, v) = item?;
                    match Record::decode(v.value()) {
                        Some(rec) => {
                            to.insert(self.next_key, v.value())?;
                            self.next_key += 1;
                            self.count += 1;
                            self.bytes += v.value().len() as u64;
                            self.hold_visitor(&rec.browser_id);
                            moved += 1;
                        }
                        None => bad += 1,
                    }
                }
            }
            txn.commit()?;
            Ok(())
        })();
        drop(orphan);
        match r {
            Ok(()) => {
                // Copied and committed first, deleted second: a crash in between replays twice (deduplicated by
                // id), never zero times.
                let _ = std::fs::remove_file(path);
                self.inner.stats.adopted_files.fetch_add(1, Relaxed);
                self.inner.stats.adopted_events.fetch_add(moved, Relaxed);
                self.inner.stats.quarantined_records.fetch_add(bad, Relaxed);
                if moved > 0 {
                    log::info(format!("xmcdp: adopted {moved} spooled events from an orphaned spool file"));
                }
            }
            Err(e) => quarantine(&self.inner, path, &e.to_string()),
        }
        self.publish();
    }

    fn run(&mut self, rx: Receiver<Msg>) {
        loop {
            let interval = self.inner.cfg.commit_interval;
            let since = match (self.batch_since, self.delivered_since) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let timeout = match since {
                Some(t) => interval.saturating_sub(t.elapsed()),
                // Replay waiting for room in the pipeline or for the next probe: look again soon. Settles do not
                // need this (they send a wake).
                None if self.count > 0 => Duration::from_millis(10),
                None => Duration::from_secs(1),
            };
            let mut close = None;
            match rx.recv_timeout(timeout) {
                Ok(Msg::Spill(v)) => self.take(v),
                Ok(Msg::Wake) => {}
                Ok(Msg::Close(reply)) => close = Some(Some(reply)),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => close = Some(None),
            }
            // Take whatever else is already waiting, without blocking.
            while close.is_none() && self.batch.len() < self.inner.cfg.commit_max_events {
                match rx.try_recv() {
                    Ok(Msg::Spill(v)) => self.take(v),
                    Ok(Msg::Wake) => {}
                    Ok(Msg::Close(reply)) => close = Some(Some(reply)),
                    Err(_) => break,
                }
            }
            if let Some(reply) = close {
                // Spills sent before the close request are already in the channel ahead of it.
                while let Ok(m) = rx.try_recv() {
                    if let Msg::Spill(v) = m {
                        self.take(v);
                    }
                }
                self.commit();
                let left = self.finish();
                if let Some(r) = reply {
                    let _ = r.send(left);
                }
                return;
            }
            self.drain_settles();
            let max = self.inner.cfg.commit_max_events;
            let due = self.batch_since.is_some_and(|t| t.elapsed() >= interval)
                || self.delivered_since.is_some_and(|t| t.elapsed() >= interval)
                || self.batch.len() >= max
                || self.delivered.len() >= max;
            if due {
                self.commit();
            }
            self.replay();
            if self.last_adopt.elapsed() >= ADOPT_INTERVAL {
                self.adopt_orphans();
            }
        }
    }

    fn take(&mut self, v: Vec<Envelope>) {
        self.inner.pending.fetch_sub(v.len(), AcqRel);
        if self.batch_since.is_none() {
            self.batch_since = Some(Instant::now());
        }
        self.batch.extend(v);
    }

    /// Takes the settles the delivery tasks left. A delivered replay stops holding its visitor at once (it can no
    /// longer be overtaken) and waits for the next commit to be deleted; one that came back stops replay until
    /// every replay out has settled (see `replay`).
    fn drain_settles(&mut self) {
        // Cleared before taking: a settle pushed after the take sends a new wake.
        self.inner.wake_sent.store(false, Release);
        let settles = std::mem::take(&mut *self.inner.settles.lock());
        for s in settles {
            match s {
                Settle::Done { key, browser_id } => {
                    if self.in_flight.remove(&key) {
                        self.inner.forget_visitor(&browser_id, 1);
                        self.delivered.insert(key);
                        self.delivered_since.get_or_insert_with(Instant::now);
                    }
                }
                Settle::Back { key } => {
                    if self.in_flight.remove(&key) {
                        self.rewind = true;
                    }
                }
            }
        }
    }

    /// One durable transaction: the waiting batch, deletions of delivered replays, the cap.
    fn commit(&mut self) {
        self.drain_settles();
        if self.batch.is_empty() && self.delivered.is_empty() {
            return;
        }
        let t0 = Instant::now();
        let batch = std::mem::take(&mut self.batch);
        self.batch_since = None;
        let mut records = Vec::with_capacity(batch.len());
        for env in &batch {
            let r = self.inner.renderer.to_rendered(env);
            records.push(Record {
                id: env.id.0,
                accepted_unix_ms: env.accepted_unix_ms,
                event_type: r.event_type,
                browser_id: r.browser_id,
                user_agent: env.user_agent.clone(),
                body: r.body.to_vec(),
            });
        }
        drop(batch);
        let mut added = 0u64;
        let mut added_bytes = 0u64;
        let mut removed = 0u64;
        let mut removed_bytes = 0u64;
        let r = (|| -> Result<(), redb::Error> {
            let txn = self.db.begin_write()?;
            {
                let mut t = txn.open_table(TABLE)?;
                for (i, rec) in records.iter().enumerate() {
                    let bytes = rec.encode();
                    t.insert(self.next_key + i as u64, bytes.as_slice())?;
                    added += 1;
                    added_bytes += bytes.len() as u64;
                }
                for key in &self.delivered {
                    if let Some(v) = t.remove(*key)? {
                        removed += 1;
                        removed_bytes += v.value().len() as u64;
                    }
                }
            }
            txn.commit()?;
            Ok(())
        })();
        match r {
            Ok(()) => {
                self.next_key += added;
                self.count += added;
                self.bytes += added_bytes;
                self.inner.stats.spooled.fetch_add(added, Relaxed);
                self.count = self.count.saturating_sub(removed);
                self.bytes = self.bytes.saturating_sub(removed_bytes);
                self.inner.stats.replayed.fetch_add(removed, Relaxed);
                self.delivered.clear();
                self.delivered_since = None;
                self.inner.stats.commits.fetch_add(1, Relaxed);
                self.inner.stats.last_commit_us.store(t0.elapsed().as_micros() as u64, Relaxed);
            }
            Err(e) => {
                // The batch is lost; count it as dropped and release its visitors so they are not held forever.
                // Delivered replays stay listed and are deleted by a later commit.
                self.inner.stats.commit_errors.fetch_add(1, Relaxed);
                self.inner.stats.dropped.fetch_add(records.len() as u64, Relaxed);
                for rec in &records {
                    self.inner.forget_visitor(&rec.browser_id, 1);
                }
                log::emit_once("spool-commit", log::Level::Error, format!("xmcdp: the spool cannot commit ({e}); spilled events are being lost"));
            }
        }
        self.enforce_cap();
        if self.count == 0 && self.in_flight.is_empty() && self.inner.stats.file_bytes.load(Relaxed) > 8 << 20 {
            let _ = self.db.compact();
        }
        self.publish();
    }

    fn enforce_cap(&mut self) {
        if self.bytes <= self.inner.cfg.max_bytes {
            return;
        }
        let mut evicted = Vec::new();
        let r = (|| -> Result<(), redb::Error> {
            let txn = self.db.begin_write()?;
            {
                let mut t = txn.open_table(TABLE)?;
                let mut victims = Vec::new();
                let mut freed = 0u64;
                for item in t.iter()? {
                    let (k, v) = item?;
                    if self.bytes - freed <= self.inner.cfg.max_bytes {
                        break;
                    }
                    if self.in_flight.contains(&k.value()) || self.delivered.contains(&k.value()) {
                        continue;
                    }
                    let len = v.value().len() as u64;
                    freed += len;
                    victims.push((k.value(), len, Record::decode(v.value()).map(|r| r.browser_id).unwrap_or_default()));
                }
                for (k, len, bid) in victims {
                    t.remove(k)?;
                    evicted.push((len, bid));
                }
            }
            txn.commit()?;
            Ok(())
        })();
        if r.is_ok() {
            for (len, bid) in &evicted {
                self.count -= 1;
                self.bytes = self.bytes.saturating_sub(*len);
                self.inner.forget_visitor(bid, 1);
            }
            self.inner.stats.evicted.fetch_add(evicted.len() as u64, Relaxed);
            if !evicted.is_empty() {
                log::emit_once("spool-evict", log::Level::Warn, "xmcdp: the spool reached spoolMaxBytes; the oldest events are being evicted (see stats.spool.evicted)");
            }
        }
    }

    /// Keeps up to [`REPLAY_WINDOW`] of the oldest records in the pipeline, reading on from the cursor.
    fn replay(&mut self) {
        let epoch = self.inner.epoch.load(Acquire);
        if epoch != self.offer_epoch && !self.in_flight.is_empty() {
            // A replay is going back and its settle may not be here yet: offering younger records now could let
            // them overtake it.
            self.rewind = true;
        }
        if self.rewind {
            // A replay came back undelivered and moved the epoch on: the ones still out are going back too (or
            // landing). Only once all have settled is the order of what is left known again: re-read it from the
            // start (delivered-but-not-yet-deleted records are skipped).
            if !self.in_flight.is_empty() {
                return;
            }
            self.rewind = false;
            self.cursor = 0;
        }
        if self.cursor >= self.next_key || self.count <= (self.in_flight.len() + self.delivered.len()) as u64 {
            return;
        }
        let Some(sink) = self.inner.sink.get().cloned() else { return };
        if !sink.accepting() {
            return;
        }
        let n = if sink.in_outage() {
            if !self.in_flight.is_empty() || self.last_probe.is_some_and(|t| t.elapsed() < PROBE_INTERVAL) {
                return;
            }
            self.last_probe = Some(Instant::now());
            1
        } else {
            REPLAY_WINDOW.saturating_sub(self.in_flight.len()).min(sink.room())
        };
        if n == 0 {
            return;
        }
        self.offer_epoch = epoch;
        let mut bad = Vec::new();
        let mut offered = Vec::new();
        let mut scanned_to = self.cursor;
        let r = (|| -> Result<(), redb::Error> {
            let read = self.db.begin_read()?;
            let t = read.open_table(TABLE)?;
            for item in t.range(self.cursor..)? {
                if offered.len() >= n {
                    break;
                }
                let (k, v) = item?;
                let k = k.value();
                scanned_to = k + 1;
                if self.in_flight.contains(&k) || self.delivered.contains(&k) {
                    continue;
                }
                match Record::decode(v.value()) {
                    Some(rec) => offered.push((k, rec)),
                    None => bad.push(k),
                }
            }
            Ok(())
        })();
        if let Err(e) = r {
            log::emit_once("spool-read", log::Level::Error, format!("xmcdp: cannot read the spool ({e})"));
            return;
        }
        if !bad.is_empty() {
            self.count = self.count.saturating_sub(bad.len() as u64);
            self.drop_bad(bad);
        }
        self.cursor = scanned_to;
        for (key, rec) in offered {
            match sink.offer(rec.into_envelope(Origin { key, epoch })) {
                Ok(()) => {
                    self.in_flight.insert(key);
                }
                Err(_) => {
                    // No room after all: read on from here next time.
                    self.cursor = key;
                    break;
                }
            }
        }
        self.publish();
    }

    /// Deletes the file when nothing is left in it; otherwise leaves it (unlocked) for adoption.
    fn finish(&mut self) -> u64 {
        // Replays still out count as undelivered: they stay in the file.
        self.inner.settles.lock().clear();
        self.in_flight.clear();
        self.delivered.clear();
        let left = self.count;
        self.publish();
        let path = self.inner.path.clone();
        // Drop the database (releases the lock) by swapping in nothing: the writer ends right after.
        let db = std::mem::replace(&mut self.db, placeholder_db());
        drop(db);
        if left == 0 {
            let _ = std::fs::remove_file(&path);
            self.inner.stats.file_bytes.store(0, Relaxed);
        }
        left
    }
}

/// An in-memory database used only to release the file handle before the writer thread ends.
fn placeholder_db() -> Database {
    Database::builder().create_with_backend(redb::backends::InMemoryBackend::new()).expect("in-memory redb")
}

#[cfg(test)]
mod tests {

    #[test]
    fn event_ids_look_like_uuids_and_are_unique() {
        let a = crate::pipeline::EventId::next();
        let b = crate::pipeline::EventId::next();
        assert_ne!(a, b);
        let h = a.to_header();
        assert_eq!(h.len(), 36);
        assert_eq!(&h[14..15], "4");
        assert!(matches!(&h[19..20], "8" | "9" | "a" | "b"), "{h}");
    }
}
