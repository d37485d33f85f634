//! The delivery pipeline: a bounded in-memory queue split into lanes, one delivery task per lane.
//!
//! - `enqueue` runs on the request thread: a lock on one lane's deque and a push. No I/O, no serialization
//!   (bodies are built by the lane task), and no wake-up: waking a parked runtime thread from a foreign
//!   thread is a futex call plus a cross-core interrupt (~5 µs, more than everything else on the path), so
//!   a ticker task inside the runtime wakes idle lanes that have work instead, within [`TICK_MIN`] while
//!   traffic flows and at most [`TICK_MAX`] after a quiet spell. Busy lanes never need waking.
//! - A visitor's events always hash to the same lane and a lane delivers one event at a time, so one browser
//!   id's events arrive in order (IDENTITY before the VIEW that follows it); lanes run concurrently.
//! - Bounded by count and bytes over everything accepted and not yet finished (queued, retrying, in flight).
//! - Retries connect errors/timeouts, 408, 429 and 5xx with full-jitter backoff and capped `Retry-After`;
//!   other 4xx are counted and logged once per status.
//! - Whatever cannot be delivered goes to the [`overflow::Overflow`] seam. With a durable spool, an event that
//!   exhausts its retries switches the pipeline to *outage mode*: lanes hand queued events to the spool at once
//!   instead of retrying each in memory, until a delivery (usually a replay probe) succeeds again.
//! - Every event carries a stable id, sent as `Idempotency-Key`, so a replay or a retry after a lost response
//!   can be recognised as a duplicate by the receiver. The JSON body is never touched.

pub mod backoff;
mod lanes;
pub mod overflow;
mod envelope;

pub use envelope::{unix_ms_now, BodyRenderer, Envelope, EventId, Origin, Payload, Queued, Rendered};

use crate::config::{OverflowPolicy, RetryPolicy, Settings};
use crate::error::{Error, ErrorKind, Result};
use crate::log;
use crate::model::{BodyContext, Defaults, Event, Wire};
use crate::stats::PipelineStats;
use crate::transport::{utc_now_iso8601, Outcome, Transport};
use backoff::Jitter;
use parking_lot::Mutex;
use overflow::{Overflow, SpillReason};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{watch, Notify};


/// What a graceful shutdown achieved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Events delivered while shutting down.
    pub delivered: u64,
    /// Events accepted but not delivered (handed to the overflow seam: lost without a spool).
    pub unsent: u64,
    /// Of `unsent`, how many the durable spool took (they are replayed by the next client or process).
    pub spooled: u64,
    /// The deadline passed before the queue drained.
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl ShutdownReport {
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::json!({
            "delivered": self.delivered,
            "unsent": self.unsent,
            "spooled": self.spooled,
            "timed_out": self.timed_out,
            "elapsed_ms": self.elapsed.as_millis() as u64,
        })
    }
}

struct Lane {
    queue: Mutex<VecDeque<Envelope>>,
    /// Journal mode: how many events at the front of `queue` have been handed to the journal (changed only
    /// under the `queue` lock; see `lanes.rs`).
    journaled: AtomicUsize,
    idle: AtomicBool,
    wake: Notify,
}

/// How soon the ticker looks for idle lanes with work while events arrive...
pub const TICK_MIN: Duration = Duration::from_millis(1);
/// ...and at most this long after the pipeline went quiet (the ticker backs off by doubling, so an idle
/// client costs ~50 timer wake-ups a second). Delivery latency of an event is not a page's latency.
pub const TICK_MAX: Duration = Duration::from_millis(20);

struct Delivery {
    lanes: Box<[Lane]>,
    round_robin: AtomicUsize,
    depth: AtomicUsize,
    bytes: AtomicUsize,
    capacity: usize,
    max_bytes: usize,
    policy: OverflowPolicy,
    retry: RetryPolicy,
    accepting: AtomicBool,
    closing: AtomicBool,
    close_deadline: Mutex<Option<Instant>>,
    abort_tx: watch::Sender<bool>,
    shutdown_spilled: AtomicU64,
    shutdown_spooled: AtomicU64,
    /// An event exhausted its retries and nothing was delivered since (only with a durable overflow).
    outage: AtomicBool,
    stats: PipelineStats,
    transport: Transport,
    body: BodyRenderer,
    overflow: Box<dyn Overflow>,
    /// Set by `enqueue` (only when not already set, so request threads don't keep writing one cache line),
    /// cleared by the ticker.
    pending: AtomicBool,
}

pub struct Pipeline {
    shared: Arc<Delivery>,
}

/// How the spool feeds replayed events back in. Holds the pipeline weakly (the pipeline owns the spool).
#[derive(Clone)]
pub struct ReplaySink {
    shared: Weak<Delivery>,
}

impl ReplaySink {
    /// Queues a replayed event if the pipeline accepts and has room for it without crowding out live traffic
    /// (replays use at most half the capacity); otherwise gives it back.
    pub fn offer(&self, env: Envelope) -> std::result::Result<(), Envelope> {
        let Some(s) = self.shared.upgrade() else { return Err(env) };
        if !s.accepting.load(Acquire) {
            return Err(env);
        }
        let size = env.bytes;
        if s.depth.load(Acquire) + 1 > s.capacity / 2 || s.bytes.load(Acquire) + size > s.max_bytes / 2 {
            return Err(env);
        }
        s.depth.fetch_add(1, AcqRel);
        s.bytes.fetch_add(size, AcqRel);
        let lane = &s.lanes[s.lane_of(env.browser_id())];
        lane.queue.lock().push_back(env);
        if lane.idle.swap(false, AcqRel) {
            lane.wake.notify_one();
        }
        Ok(())
    }

    /// Whether the pipeline still runs and accepts.
    pub fn accepting(&self) -> bool {
        self.shared.upgrade().is_some_and(|s| s.accepting.load(Acquire))
    }

    /// Outage mode: the last event to finish exhausted its retries. Replays then go one at a time, as probes.
    pub fn in_outage(&self) -> bool {
        self.shared.upgrade().is_some_and(|s| s.outage.load(Acquire))
    }

    /// Room for replays right now (events).
    pub fn room(&self) -> usize {
        self.shared.upgrade().map_or(0, |s| (s.capacity / 2).saturating_sub(s.depth.load(Acquire)))
    }
}

impl Pipeline {
    /// Creates the pipeline and spawns one delivery task per lane on `rt`.
    pub fn start(settings: &Settings, transport: Transport, overflow: Box<dyn Overflow>, rt: &tokio::runtime::Handle) -> Pipeline {
        let lanes = (0..settings.delivery_concurrency)
            .map(|_| Lane { queue: Mutex::new(VecDeque::new()), journaled: AtomicUsize::new(0), idle: AtomicBool::new(false), wake: Notify::new() })
            .collect();
        let (abort_tx, _) = watch::channel(false);
        let shared = Arc::new(Delivery {
            lanes,
            round_robin: AtomicUsize::new(0),
            depth: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            capacity: settings.queue_capacity,
            max_bytes: settings.queue_max_bytes,
            policy: settings.overflow_policy,
            retry: settings.retry.clone(),
            accepting: AtomicBool::new(true),
            closing: AtomicBool::new(false),
            close_deadline: Mutex::new(None),
            abort_tx,
            shutdown_spilled: AtomicU64::new(0),
            shutdown_spooled: AtomicU64::new(0),
            outage: AtomicBool::new(false),
            stats: PipelineStats::default(),
            transport,
            body: BodyRenderer::new(settings),
            overflow,
            pending: AtomicBool::new(false),
        });
        for i in 0..shared.lanes.len() {
            let s = shared.clone();
            rt.spawn(async move { s.run_lane(i).await });
        }
        let s = shared.clone();
        rt.spawn(async move { s.run_ticker().await });
        Pipeline { shared }
    }

    pub fn replay_sink(&self) -> ReplaySink {
        ReplaySink { shared: Arc::downgrade(&self.shared) }
    }

    /// Accepts an event for delivery. Never blocks and never does I/O.
    pub fn enqueue(&self, env: Envelope) -> Result<()> {
        let s = &*self.shared;
        if !s.accepting.load(Acquire) {
            return Err(Error::new(ErrorKind::ShutDown, "the client is shutting down; the event was not accepted"));
        }
        // An event whose visitor has older events in the spool is not diverted here but at the head of its lane
        // (`run_lane`): older events of the same visitor may still wait in that lane, and they reach the spool
        // only when they reach its head. Spilling this one now would put it on disk ahead of them. (A full queue
        // does spill here, and takes the visitor's waiting events along, ahead of it: `spill_queue_full`.)
        let lane = &s.lanes[s.lane_of(env.browser_id())];
        let size = env.bytes;
        let depth = s.depth.fetch_add(1, AcqRel) + 1;
        let bytes = s.bytes.fetch_add(size, AcqRel) + size;
        let mut queue = lane.queue.lock();
        if depth > s.capacity || bytes > s.max_bytes {
            let mut evicted = Vec::new();
            if s.policy == OverflowPolicy::DropOldest {
                while s.depth.load(Acquire) > s.capacity || s.bytes.load(Acquire) > s.max_bytes {
                    match queue.pop_front() {
                        Some(old) => {
                            lane.popped_front();
                            s.release(old.bytes);
                            evicted.push(old);
                        }
                        None => break,
                    }
                }
            }
            let still_full = s.depth.load(Acquire) > s.capacity || s.bytes.load(Acquire) > s.max_bytes;
            if still_full {
                s.release(size);
                let n = evicted.len() as u64;
                if s.spill_queue_full(&mut queue, evicted, env) {
                    // On its way to disk: accepted.
                    s.stats.enqueued.fetch_add(1, Relaxed);
                    return Ok(());
                }
                drop(queue);
                s.stats.dropped_queue_full.fetch_add(1, Relaxed);
                s.stats.dropped_oldest.fetch_add(n, Relaxed);
                log::emit_once("queue-full", log::Level::Warn, "xmcdp: the event queue is full; events are being dropped (see stats.dropped)");
                return Err(Error::new(ErrorKind::QueueFull, "the event queue is full; the event was dropped"));
            }
            if !evicted.is_empty() {
                let n = evicted.len() as u64;
                if s.overflow.spill(evicted, SpillReason::QueueFull) {
                    s.stats.spilled.fetch_add(n, Relaxed);
                } else {
                    s.stats.dropped_oldest.fetch_add(n, Relaxed);
                    log::emit_once("queue-full-oldest", log::Level::Warn, "xmcdp: the event queue is full; the oldest events are being dropped (see stats.dropped)");
                }
            }
        }
        queue.push_back(env);
        drop(queue);
        s.stats.enqueued.fetch_add(1, Relaxed);
        // No wake here (see the module doc): the ticker finds idle lanes with work.
        if !s.pending.load(Relaxed) {
            s.pending.store(true, Release);
        }
        Ok(())
    }

    /// Stops accepting, delivers what fits before `deadline`, hands the rest to the overflow seam.
    /// Blocks the calling thread (never call it from a delivery task).
    pub fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let s = &*self.shared;
        let started = Instant::now();
        let sent_before = s.stats.sent.load(Relaxed);
        s.accepting.store(false, Release);
        *s.close_deadline.lock() = Some(started + deadline);
        s.closing.store(true, Release);
        for lane in s.lanes.iter() {
            lane.idle.store(false, Release);
            lane.wake.notify_one();
        }
        let wait_until = |limit: Instant| {
            while s.depth.load(Acquire) > 0 && Instant::now() < limit {
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        wait_until(started + deadline);
        let timed_out = s.depth.load(Acquire) > 0;
        if timed_out {
            // Interrupt in-flight requests and backoff sleeps; lanes spill what they hold.
            s.abort_tx.send_replace(true);
            for lane in s.lanes.iter() {
                lane.wake.notify_one();
            }
            wait_until(Instant::now() + Duration::from_millis(500));
        }
        let leftover = s.depth.load(Acquire) as u64;
        ShutdownReport {
            delivered: s.stats.sent.load(Relaxed) - sent_before,
            unsent: s.shutdown_spilled.load(Relaxed) + leftover,
            spooled: s.shutdown_spooled.load(Relaxed),
            timed_out,
            elapsed: started.elapsed(),
        }
    }

    pub fn stats_json(&self) -> serde_json::Value {
        let s = &*self.shared;
        let st = &s.stats;
        serde_json::json!({
            "enqueued": st.enqueued.load(Relaxed),
            "sent": st.sent.load(Relaxed),
            "retried": PipelineStats::total(&st.retried),
            "retried_by_reason": *st.retried.lock(),
            "failed": PipelineStats::total(&st.failed),
            "failed_by_reason": *st.failed.lock(),
            "dropped": {
                "queue_full": st.dropped_queue_full.load(Relaxed),
                "oldest_evicted": st.dropped_oldest.load(Relaxed),
            },
            "spilled": st.spilled.load(Relaxed),
            "outage_mode": s.outage.load(Relaxed),
            "in_flight": st.in_flight.load(Relaxed),
            "queue_depth": s.depth.load(Relaxed),
            "queue_bytes": s.bytes.load(Relaxed),
            "delivery_latency": st.latency.to_json(),
        })
    }

    pub fn queue_depth(&self) -> usize {
        self.shared.depth.load(Acquire)
    }
}
