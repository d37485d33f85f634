//! The delivery pipeline: a bounded in-memory queue split into lanes, one delivery task per lane.
//!
//! - `enqueue` runs on the request thread: a lock on one lane's deque, a push, and a wake only when that lane
//!   sleeps. No I/O, no serialization (bodies are built by the lane task).
//! - A visitor's events always hash to the same lane and a lane delivers one event at a time, so one browser
//!   id's events arrive in order (IDENTITY before the VIEW that follows it); lanes run concurrently.
//! - Bounded by count and bytes over everything accepted and not yet finished (queued, retrying, in flight).
//! - Retries connect errors/timeouts, 408, 429 and 5xx with full-jitter backoff and capped `Retry-After`;
//!   other 4xx are counted and logged once per status.
//! - Whatever cannot be delivered goes to the [`spool::Overflow`] seam.

pub mod backoff;
pub mod spool;

use crate::config::{OverflowPolicy, RetryPolicy, Settings};
use crate::error::{Error, ErrorKind, Result};
use crate::log;
use crate::model::{BodyContext, Event, Wire};
use crate::stats::PipelineStats;
use crate::transport::{utc_now_iso8601, Outcome, Transport};
use backoff::Jitter;
use parking_lot::Mutex;
use spool::{Overflow, SpillReason};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// One accepted event and what travels with it outside the body.
#[derive(Debug)]
pub struct Envelope {
    pub event: Event,
    pub user_agent: Option<String>,
    pub enqueued_at: Instant,
    /// Memory charged against `queueMaxBytes`.
    pub bytes: usize,
}

impl Envelope {
    pub fn new(event: Event, user_agent: Option<String>) -> Envelope {
        let bytes = std::mem::size_of::<Envelope>() + event.approx_bytes() + user_agent.as_ref().map_or(0, |u| u.len());
        Envelope { event, user_agent, enqueued_at: Instant::now(), bytes }
    }
}

/// What a graceful shutdown achieved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Events delivered while shutting down.
    pub delivered: u64,
    /// Events accepted but not delivered (handed to the overflow seam, i.e. lost without a spool).
    pub unsent: u64,
    /// The deadline passed before the queue drained.
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl ShutdownReport {
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "delivered": self.delivered,
            "unsent": self.unsent,
            "timed_out": self.timed_out,
            "elapsed_ms": self.elapsed.as_millis() as u64,
        })
        .to_string()
    }
}

struct Lane {
    queue: Mutex<VecDeque<Envelope>>,
    idle: AtomicBool,
    wake: Notify,
}

/// Values the body builder needs, owned by the pipeline.
struct BodyValues {
    client_key: String,
    point_of_sale: String,
    wire: Wire,
}

struct Shared {
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
    stats: PipelineStats,
    transport: Transport,
    body: BodyValues,
    overflow: Box<dyn Overflow>,
}

pub struct Pipeline {
    shared: Arc<Shared>,
}

impl Pipeline {
    /// Creates the pipeline and spawns one delivery task per lane on `rt`.
    pub fn start(settings: &Settings, transport: Transport, overflow: Box<dyn Overflow>, rt: &tokio::runtime::Handle) -> Pipeline {
        let lanes = (0..settings.delivery_concurrency)
            .map(|_| Lane { queue: Mutex::new(VecDeque::new()), idle: AtomicBool::new(false), wake: Notify::new() })
            .collect();
        let (abort_tx, _) = watch::channel(false);
        let wire = match settings.endpoint {
            crate::config::Endpoint::Classic { .. } => Wire::Classic,
            crate::config::Endpoint::Edge { .. } => Wire::Edge,
        };
        let shared = Arc::new(Shared {
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
            stats: PipelineStats::default(),
            transport,
            body: BodyValues { client_key: settings.client_key.clone(), point_of_sale: settings.point_of_sale.clone(), wire },
            overflow,
        });
        for i in 0..shared.lanes.len() {
            let s = shared.clone();
            rt.spawn(async move { s.run_lane(i).await });
        }
        Pipeline { shared }
    }

    /// Accepts an event for delivery. Never blocks and never does I/O.
    pub fn enqueue(&self, env: Envelope) -> Result<()> {
        let s = &*self.shared;
        if !s.accepting.load(Acquire) {
            return Err(Error::new(ErrorKind::ShutDown, "the client is shutting down; the event was not accepted"));
        }
        let lane = &s.lanes[s.lane_of(env.event.browser_id())];
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
                            s.release(old.bytes);
                            evicted.push(old);
                        }
                        None => break,
                    }
                }
            }
            let still_full = s.depth.load(Acquire) > s.capacity || s.bytes.load(Acquire) > s.max_bytes;
            if still_full {
                drop(queue);
                s.release(size);
                s.stats.dropped_queue_full.fetch_add(1, Relaxed);
                let n = evicted.len() as u64;
                s.stats.dropped_oldest.fetch_add(n, Relaxed);
                evicted.push(env);
                s.overflow.spill(evicted, SpillReason::QueueFull);
                log::emit_once("queue-full", log::Level::Warn, "xmcdp: the event queue is full; events are being dropped (see stats.dropped)");
                return Err(Error::new(ErrorKind::QueueFull, "the event queue is full; the event was dropped"));
            }
            if !evicted.is_empty() {
                s.stats.dropped_oldest.fetch_add(evicted.len() as u64, Relaxed);
                s.overflow.spill(evicted, SpillReason::QueueFull);
                log::emit_once("queue-full-oldest", log::Level::Warn, "xmcdp: the event queue is full; the oldest events are being dropped (see stats.dropped)");
            }
        }
        queue.push_back(env);
        drop(queue);
        s.stats.enqueued.fetch_add(1, Relaxed);
        if lane.idle.swap(false, AcqRel) {
            lane.wake.notify_one();
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

impl Shared {
    fn lane_of(&self, browser_id: &str) -> usize {
        let n = self.lanes.len();
        if browser_id.is_empty() {
            // No visitor, no order to keep: spread.
            return self.round_robin.fetch_add(1, Relaxed) % n;
        }
        // FNV-1a: a browser id always lands on the same lane.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in browser_id.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        (h % n as u64) as usize
    }

    fn release(&self, bytes: usize) {
        self.depth.fetch_sub(1, AcqRel);
        self.bytes.fetch_sub(bytes, AcqRel);
    }

    async fn run_lane(self: Arc<Self>, idx: usize) {
        let lane = &self.lanes[idx];
        let mut abort = self.abort_tx.subscribe();
        let mut jitter = Jitter::new((idx as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ Instant::now().elapsed().as_nanos() as u64);
        loop {
            let next = lane.queue.lock().pop_front();
            match next {
                Some(env) => {
                    if *abort.borrow() {
                        self.spill(env, SpillReason::Shutdown);
                        continue;
                    }
                    self.deliver(env, &mut jitter, &mut abort).await;
                }
                None => {
                    if self.closing.load(Acquire) {
                        return;
                    }
                    lane.idle.store(true, SeqCst);
                    if !lane.queue.lock().is_empty() || self.closing.load(Acquire) {
                        lane.idle.store(false, Release);
                        continue;
                    }
                    lane.wake.notified().await;
                }
            }
        }
    }

    fn spill(&self, env: Envelope, reason: SpillReason) {
        self.release(env.bytes);
        self.stats.spilled.fetch_add(1, Relaxed);
        if reason == SpillReason::Shutdown {
            self.shutdown_spilled.fetch_add(1, Relaxed);
        }
        self.overflow.spill(vec![env], reason);
    }

    async fn deliver(&self, env: Envelope, jitter: &mut Jitter, abort: &mut watch::Receiver<bool>) {
        let requested_at = match self.body.wire {
            Wire::Edge => Some(utc_now_iso8601()),
            Wire::Classic => None,
        };
        let ctx = BodyContext {
            client_key: &self.body.client_key,
            point_of_sale: &self.body.point_of_sale,
            wire: self.body.wire,
            requested_at: requested_at.as_deref(),
        };
        let body = bytes::Bytes::from(env.event.to_body(&ctx));
        let mut attempt: u32 = 1;
        loop {
            self.stats.in_flight.fetch_add(1, Relaxed);
            let outcome = tokio::select! {
                o = self.transport.send_event(body.clone(), env.user_agent.as_deref()) => Some(o),
                _ = abort.wait_for(|a| *a) => None,
            };
            self.stats.in_flight.fetch_sub(1, Relaxed);
            let Some(outcome) = outcome else {
                return self.spill(env, SpillReason::Shutdown);
            };
            match outcome {
                Outcome::Delivered(_) => {
                    self.stats.latency.record(env.enqueued_at.elapsed());
                    self.stats.sent.fetch_add(1, Relaxed);
                    return self.release(env.bytes);
                }
                Outcome::Reject { reason } => {
                    let label = reason.label();
                    log::emit_once(
                        &format!("reject-{label}"),
                        log::Level::Warn,
                        format!("xmcdp: CDP rejected a {} event with {label}; events rejected this way are not retried (see stats.failed_by_reason)", env.event.event_type()),
                    );
                    PipelineStats::bump(&self.stats.failed, label);
                    return self.release(env.bytes);
                }
                Outcome::Retry { reason, retry_after } => {
                    let label = reason.label();
                    if attempt >= self.retry.max_attempts {
                        log::emit_once(
                            &format!("exhausted-{label}"),
                            log::Level::Warn,
                            format!("xmcdp: giving up on an event after {attempt} attempts ({label}); it goes to the overflow seam"),
                        );
                        PipelineStats::bump(&self.stats.failed, format!("retries_exhausted_{label}"));
                        return self.spill(env, SpillReason::RetriesExhausted);
                    }
                    let wait = backoff::delay(&self.retry, attempt, retry_after, jitter);
                    if self.closing.load(Acquire) {
                        let deadline = *self.close_deadline.lock();
                        if deadline.is_some_and(|d| Instant::now() + wait > d) {
                            return self.spill(env, SpillReason::Shutdown);
                        }
                    }
                    PipelineStats::bump(&self.stats.retried, label);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = abort.wait_for(|a| *a) => return self.spill(env, SpillReason::Shutdown),
                    }
                    attempt += 1;
                }
            }
        }
    }
}
