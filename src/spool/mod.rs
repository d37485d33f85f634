//! Durable spool behind the pipeline's [`Overflow`] seam.
//!
//! - **Files.** One redb file per process and client: `xmcdp-spool-{clientKey}-{pid}-{n}.redb` in
//!   `spoolDirectory`. redb holds an exclusive OS lock (flock / LockFileEx) while a file is open, so a file
//!   whose lock can be taken belongs to nobody: its owner exited or crashed. Such orphans (IIS overlapped
//!   recycle, a crashed worker, a previous client of this process) are adopted at start, every [`ADOPT_INTERVAL`]
//!   and before each outage probe: their records are copied into our file, ahead of our own not yet replayed,
//!   then the orphan is deleted. A file that does
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
//! - **Cap.** `spoolMaxBytes` (+ [`FILE_OVERHEAD`]) bounds the file on disk: the records get a quarter of it
//!   ([`RECORD_SHARE`]), the oldest evicted and counted beyond; a file that still passes the cap is compacted.
//! - **Journal mode** (`durability: "journal"`, `journal.rs`): live events are written ahead too, in the same
//!   commits, and leave the journal when delivered; the next process adopts what a killed one left.

mod files;
mod journal;
mod overflow;
mod record;
mod replay;
mod writer;

use files::{create_own, placeholder_db, take_over};
use overflow::SpoolOverflow;

pub use record::Record;

use crate::config::Settings;
use crate::log;
use crate::pipeline::overflow::{Overflow, SpillReason};
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
/// Journal mode: copies of live events still in the pipeline, in the order they were journaled. Never replayed by
/// the process that wrote them; adopted into `TABLE` (after its records) by the next one.
const JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new("journal");
const PREFIX: &str = "xmcdp-spool-";
const EXT: &str = ".redb";
/// Replayed events in the pipeline at once (and never more than half its capacity: `ReplaySink::room`).
pub const REPLAY_WINDOW: usize = 1024;
/// While the CDP looks down, one spooled event is tried this often to find out whether it is back.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// redb's page cache per open spool file (its default is 1 GiB, which a long outage would fill with pages of a
/// file that is only appended to and read once, front to back).
pub const CACHE_BYTES: usize = 8 << 20;
/// What the spool file may take beyond `spoolMaxBytes`: an empty redb file is 1.6 MB (its fixed regions and
/// headers), whatever it holds.
pub const FILE_OVERHEAD: u64 = 2 << 20;
/// The records get `spoolMaxBytes / RECORD_SHARE`: redb 2.6 took 17.4 MB of file for 4–5.3 MiB of 700-byte
/// records in the spool's pattern (appends, FIFO deletes, journal churn), the file cap being 16 MiB + 2 MiB.
pub const RECORD_SHARE: u64 = 4;
/// How often the directory is scanned for orphaned spools (a recycled sibling that exited after we started), and
/// before every outage probe. A scan is one directory listing plus a failed lock per live sibling's file; the
/// sooner a released file is adopted, the smaller the chance that our own younger events of the same visitor are
/// delivered ahead of its older ones (RELIABILITY.md, "Overlapped recycle").
pub const ADOPT_INTERVAL: Duration = Duration::from_secs(1);

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
    /// `durability: "journal"`: live events are written ahead too (the `JOURNAL` table, see `journal.rs`).
    pub journal: bool,
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
            journal: s.spool.journal,
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
    /// The file was over `spoolMaxBytes` + `FILE_OVERHEAD` and compacted.
    compactions: AtomicU64,
    depth: AtomicU64,
    bytes: AtomicU64,
    file_bytes: AtomicU64,
    in_flight: AtomicU64,
    last_commit_us: AtomicU64,
    /// When the oldest event still in the spool was accepted (Unix ms; 0 when the spool is empty): how far behind
    /// delivery is during an outage, for the admin page and monitoring.
    oldest_accepted_unix_ms: AtomicU64,
    /// Journal mode: live events written ahead, delivered before their commit (never written), rows now on disk,
    /// copies dropped because the writer was behind.
    journaled: AtomicU64,
    journal_skipped: AtomicU64,
    journal_depth: AtomicU64,
    journal_dropped: AtomicU64,
}

enum Msg {
    Spill(Vec<Envelope>),
    /// Journal mode: copies of live events to write ahead.
    Journal(Vec<Envelope>),
    /// Settles are waiting: replay can top up its window (sent at most once until the writer takes them).
    Wake,
    Close(SyncSender<u64>),
}

enum Settle {
    Done { key: u64, browser_id: String },
    Back { key: u64 },
    /// Journal mode: a live event was delivered or rejected; its journal copy can go.
    Live { id: u128 },
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

impl Spool {
    /// Opens (or creates) this process's spool file, adopts orphans, starts the writer thread. Errors are
    /// returned as text for the caller to log; the client then runs without a spool.
    pub fn open(cfg: SpoolConfig, renderer: BodyRenderer) -> Result<Spool, String> {
        std::fs::create_dir_all(&cfg.directory).map_err(|e| format!("cannot create the spool directory: {e}"))?;
        let stats = Stats::default();
        let taken = take_over(&cfg, &stats);
        let took_over = taken.is_some();
        let (path, db) = match taken {
            Some((path, db)) => (path, db),
            None => create_own(&cfg, &stats)?,
        };
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
            stats,
        });
        let mut w = Writer::new(inner.clone(), db);
        if took_over {
            w.spool_inherited_journal();
        }
        w.load_own();
        if took_over {
            inner.stats.adopted_files.fetch_add(1, Relaxed);
            inner.stats.adopted_events.fetch_add(w.count, Relaxed);
        }
        w.adopt_orphans();
        // Records from here on are ours: a sibling's file adopted later goes ahead of them (`Writer::adopt`).
        w.own_from = w.next_key;
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
            "compactions": s.compactions.load(Relaxed),
            "last_commit_us": s.last_commit_us.load(Relaxed),
            "depth": s.depth.load(Relaxed),
            "bytes": s.bytes.load(Relaxed),
            "file_bytes": s.file_bytes.load(Relaxed),
            "oldest_accepted_unix_ms": match s.oldest_accepted_unix_ms.load(Relaxed) {
                0 => serde_json::Value::Null,
                ms => ms.into(),
            },
            "waiting": self.inner.pending.load(Relaxed),
            "replays_in_flight": s.in_flight.load(Relaxed),
            "visitors_held": self.inner.visitor_count.load(Relaxed),
            "journal": self.inner.cfg.journal,
            "journaled": s.journaled.load(Relaxed),
            "journal_skipped": s.journal_skipped.load(Relaxed),
            "journal_depth": s.journal_depth.load(Relaxed),
            "journal_dropped": s.journal_dropped.load(Relaxed),
        })
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.close(Duration::from_secs(2));
    }
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
    /// The first key of the records we spilled ourselves (adopted at start: below it).
    own_from: u64,
    file: FileCap,
    journal: journal::Journal,
}

/// What `Writer::enforce_file_cap` remembers about the file.
struct FileCap {
    /// The file's length after the last compaction.
    compacted_len: u64,
    /// The record bytes the last commit added.
    commit_bytes: u64,
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
