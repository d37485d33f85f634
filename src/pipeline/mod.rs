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
//! - Whatever cannot be delivered goes to the [`spool::Overflow`] seam. With a durable spool, an event that
//!   exhausts its retries switches the pipeline to *outage mode*: lanes hand queued events to the spool at once
//!   instead of retrying each in memory, until a delivery (usually a replay probe) succeeds again.
//! - Every event carries a stable id, sent as `Idempotency-Key`, so a replay or a retry after a lost response
//!   can be recognised as a duplicate by the receiver. The JSON body is never touched.

pub mod backoff;
pub mod spool;

use crate::config::{OverflowPolicy, RetryPolicy, Settings};
use crate::error::{Error, ErrorKind, Result};
use crate::log;
use crate::model::{BodyContext, Defaults, Event, Wire};
use crate::stats::PipelineStats;
use crate::transport::{utc_now_iso8601, Outcome, Transport};
use backoff::Jitter;
use parking_lot::Mutex;
use spool::{Overflow, SpillReason};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{watch, Notify};

/// Stable id of one accepted event (128 bits, printed like a UUID v4). Random per process, then a counter:
/// unique without a syscall on the request thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventId(pub u128);

impl EventId {
    pub fn next() -> EventId {
        static SEED: once_cell::sync::Lazy<(u64, u64)> = once_cell::sync::Lazy::new(|| {
            use std::hash::{BuildHasher, Hasher};
            // RandomState is keyed from the OS random source once per process.
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(std::process::id());
            h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos());
            let a = h.finish();
            h.write_u64(a);
            (a, h.finish())
        });
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let c = COUNTER.fetch_add(1, Relaxed);
        let hi = mix(SEED.0 ^ c);
        let lo = mix(SEED.1.wrapping_add(c));
        let v = ((hi as u128) << 64) | lo as u128;
        // Version 4, variant 10: reads as a UUID to any tool that checks.
        let v = (v & !(0xF_u128 << 76)) | (0x4_u128 << 76);
        let v = (v & !(0x3_u128 << 62)) | (0x2_u128 << 62);
        EventId(v)
    }

    pub fn to_header(self) -> String {
        let h = format!("{:032x}", self.0);
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn unix_ms_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// An event body rendered before it was spooled; replayed as is (byte for byte what would have been sent).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: bytes::Bytes,
    pub event_type: String,
    pub browser_id: String,
}

#[derive(Debug)]
pub enum Payload {
    Event(Event),
    Rendered(Rendered),
}

/// Where a replayed event comes from: its spool key and the replay epoch it was issued in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    pub key: u64,
    pub epoch: u64,
}

/// What one queued envelope costs in its lane's `VecDeque` (envelopes live inline, `Event` included): a
/// deque grows by doubling and keeps its capacity, so up to two slots per envelope.
const ENVELOPE_SLOT: usize = 2 * std::mem::size_of::<Envelope>();

/// One accepted event and what travels with it outside the body.
#[derive(Debug)]
pub struct Envelope {
    pub payload: Payload,
    pub user_agent: Option<String>,
    pub enqueued_at: Instant,
    /// Wall-clock time of first acceptance (kept across spooling and replay).
    pub accepted_unix_ms: u64,
    pub id: EventId,
    /// Set when the event is a replay from the spool.
    pub origin: Option<Origin>,
    /// Memory charged against `queueMaxBytes`.
    pub bytes: usize,
}

impl Envelope {
    pub fn new(event: Event, user_agent: Option<String>) -> Envelope {
        let bytes = ENVELOPE_SLOT + event.approx_bytes() + user_agent.as_ref().map_or(0, |u| crate::model::footprint::alloc(u.capacity()));
        Envelope {
            payload: Payload::Event(event),
            user_agent,
            enqueued_at: Instant::now(),
            accepted_unix_ms: unix_ms_now(),
            id: EventId::next(),
            origin: None,
            bytes,
        }
    }

    /// A pre-rendered event coming back from the spool.
    pub fn replay(r: Rendered, user_agent: Option<String>, id: EventId, accepted_unix_ms: u64, origin: Origin) -> Envelope {
        let bytes = ENVELOPE_SLOT
            + r.body.len()
            + r.event_type.len()
            + r.browser_id.len()
            + user_agent.as_ref().map_or(0, |u| u.len());
        Envelope { payload: Payload::Rendered(r), user_agent, enqueued_at: Instant::now(), accepted_unix_ms, id, origin: Some(origin), bytes }
    }

    pub fn browser_id(&self) -> &str {
        match &self.payload {
            Payload::Event(e) => e.browser_id(),
            Payload::Rendered(r) => &r.browser_id,
        }
    }

    pub fn event_type(&self) -> &str {
        match &self.payload {
            Payload::Event(e) => e.event_type(),
            Payload::Rendered(r) => &r.event_type,
        }
    }
}

/// Builds request bodies (owned values of the body context). Shared with the spool, which renders events
/// on its writer thread, never on a request thread.
#[derive(Clone, Debug)]
pub struct BodyRenderer {
    client_key: String,
    point_of_sale: String,
    wire: Wire,
    channel: String,
    currency: Option<String>,
    language: Option<String>,
}

impl BodyRenderer {
    pub fn new(settings: &Settings) -> BodyRenderer {
        let wire = match settings.endpoint {
            crate::config::Endpoint::Classic { .. } => Wire::Classic,
            crate::config::Endpoint::Edge { .. } => Wire::Edge,
        };
        BodyRenderer {
            client_key: settings.client_key.clone(),
            point_of_sale: settings.point_of_sale.clone(),
            wire,
            channel: settings.channel.clone(),
            currency: settings.currency.clone(),
            language: settings.language.clone(),
        }
    }

    /// Renders the body now. Edge bodies carry `requested_at`, which is therefore the render time: for a
    /// spooled event, the time it was written to the spool, not the time it is finally delivered.
    pub fn render(&self, event: &Event) -> Vec<u8> {
        let requested_at = match self.wire {
            Wire::Edge => Some(utc_now_iso8601()),
            Wire::Classic => None,
        };
        let ctx = BodyContext {
            client_key: &self.client_key,
            point_of_sale: &self.point_of_sale,
            wire: self.wire,
            requested_at: requested_at.as_deref(),
            defaults: Defaults { channel: Some(&self.channel), currency: self.currency.as_deref(), language: self.language.as_deref() },
        };
        event.to_body(&ctx)
    }

    pub fn to_rendered(&self, env: &Envelope) -> Rendered {
        match &env.payload {
            Payload::Event(e) => Rendered { body: self.render(e).into(), event_type: e.event_type().to_owned(), browser_id: e.browser_id().to_owned() },
            Payload::Rendered(r) => r.clone(),
        }
    }
}

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
        serde_json::json!({
            "delivered": self.delivered,
            "unsent": self.unsent,
            "spooled": self.spooled,
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

/// How soon the ticker looks for idle lanes with work while events arrive...
pub const TICK_MIN: Duration = Duration::from_millis(1);
/// ...and at most this long after the pipeline went quiet (the ticker backs off by doubling, so an idle
/// client costs ~50 timer wake-ups a second). Delivery latency of an event is not a page's latency.
pub const TICK_MAX: Duration = Duration::from_millis(20);

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
    shared: Arc<Shared>,
}

/// How the spool feeds replayed events back in. Holds the pipeline weakly (the pipeline owns the spool).
#[derive(Clone)]
pub struct ReplaySink {
    shared: Weak<Shared>,
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
            .map(|_| Lane { queue: Mutex::new(VecDeque::new()), idle: AtomicBool::new(false), wake: Notify::new() })
            .collect();
        let (abort_tx, _) = watch::channel(false);
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
        // only when they reach its head. Spilling this one now would put it on disk ahead of them.
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
                let n = evicted.len() as u64;
                evicted.push(env);
                if s.overflow.spill(evicted, SpillReason::QueueFull) {
                    // On its way to disk: accepted.
                    s.stats.enqueued.fetch_add(1, Relaxed);
                    s.stats.spilled.fetch_add(n + 1, Relaxed);
                    return Ok(());
                }
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

    /// Wakes idle lanes that have work. Runs inside the runtime, where a wake is a local queue push.
    async fn run_ticker(self: Arc<Self>) {
        let mut tick = TICK_MIN;
        loop {
            tokio::time::sleep(tick).await;
            if self.closing.load(Acquire) {
                // Shutdown wakes every lane itself and lanes drain without waiting.
                return;
            }
            if !self.pending.swap(false, AcqRel) {
                tick = (tick * 2).min(TICK_MAX);
                continue;
            }
            tick = TICK_MIN;
            for lane in self.lanes.iter() {
                if lane.idle.load(Acquire) && !lane.queue.lock().is_empty() && lane.idle.swap(false, AcqRel) {
                    lane.wake.notify_one();
                }
            }
        }
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
                    // Checked when the event reaches the head of its lane, i.e. after every older event of
                    // the same visitor in this lane has finished: if one of them went to the spool, so does this.
                    // The only place a live event is diverted (see `enqueue`).
                    if self.overflow.divert(&env) {
                        self.spill(env, SpillReason::BehindSpooled);
                        continue;
                    }
                    if env.origin.is_none() && self.outage.load(Acquire) && self.overflow.is_durable() && !self.closing.load(Acquire) {
                        self.spill(env, SpillReason::Outage);
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
        let replay = env.origin.is_some();
        let taken = self.overflow.spill(vec![env], reason);
        if replay {
            // A replay going back to the spool it came from: not a new spill.
            return;
        }
        self.stats.spilled.fetch_add(1, Relaxed);
        // Whatever leaves a lane once shutdown started is part of the shutdown's account, whatever the reason
        // (an event behind a visitor's spooled one goes to the spool too).
        if reason == SpillReason::Shutdown || self.closing.load(Acquire) {
            self.shutdown_spilled.fetch_add(1, Relaxed);
            if taken {
                self.shutdown_spooled.fetch_add(1, Relaxed);
            }
        }
    }

    async fn deliver(&self, env: Envelope, jitter: &mut Jitter, abort: &mut watch::Receiver<bool>) {
        let body = match &env.payload {
            Payload::Event(e) => bytes::Bytes::from(self.body.render(e)),
            Payload::Rendered(r) => r.body.clone(),
        };
        let key = env.id.to_header();
        let mut attempt: u32 = 1;
        loop {
            self.stats.in_flight.fetch_add(1, Relaxed);
            let outcome = tokio::select! {
                o = self.transport.send_event(body.clone(), env.user_agent.as_deref(), Some(&key)) => Some(o),
                _ = abort.wait_for(|a| *a) => None,
            };
            self.stats.in_flight.fetch_sub(1, Relaxed);
            let Some(outcome) = outcome else {
                return self.spill(env, SpillReason::Shutdown);
            };
            match outcome {
                Outcome::Delivered(_) => {
                    self.outage.store(false, Release);
                    self.stats.latency.record(env.enqueued_at.elapsed());
                    self.stats.sent.fetch_add(1, Relaxed);
                    self.overflow.settled(&env);
                    return self.release(env.bytes);
                }
                Outcome::Reject { reason } => {
                    let label = reason.label();
                    log::emit_once(
                        &format!("reject-{label}"),
                        log::Level::Warn,
                        format!("xmcdp: CDP rejected a {} event with {label}; events rejected this way are not retried (see stats.failed_by_reason)", env.event_type()),
                    );
                    PipelineStats::bump(&self.stats.failed, label);
                    self.overflow.settled(&env);
                    return self.release(env.bytes);
                }
                Outcome::Retry { reason, retry_after } => {
                    let label = reason.label();
                    // In outage mode a replay is a probe: one attempt, then back to the spool.
                    let probe = env.origin.is_some() && self.outage.load(Acquire);
                    if attempt >= self.retry.max_attempts || probe {
                        log::emit_once(
                            &format!("exhausted-{label}"),
                            log::Level::Warn,
                            format!("xmcdp: giving up on an event after {attempt} attempts ({label}); it goes to the overflow seam"),
                        );
                        if self.overflow.is_durable() {
                            self.outage.store(true, Release);
                        }
                        if !probe {
                            PipelineStats::bump(&self.stats.failed, format!("retries_exhausted_{label}"));
                        }
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
