//! Decisions: Personalize callFlows (classic `POST {target}/v2/callFlows`, Edge `POST {edge}/v1/personalize`)
//! with a latency budget, prefetch tickets, coalescing of identical concurrent requests, an opt-in per-flow
//! cache and a circuit breaker.
//!
//! Every call is made from a host (CLR) thread and is bounded: the HTTP work runs on the client's runtime and
//! the host thread waits on a condvar with a deadline (`slot`). No callbacks, no runtime context needed on
//! the caller's side, so the C ABI can wrap each call as one blocking-with-timeout function.
//!
//! Coalescing: identical concurrent requests (same `DecisionRequest::cache_key`: visitor, friendlyId, params…)
//! share one HTTP call; a caller that joins waits its own budget, and the shared call is bounded by
//! `max(leader's budget, decisionTimeoutMs)`. The breaker is one per client (the flow service is one endpoint);
//! 404 / 4xx answers show the service is up and never open it. Every call carries a fresh
//! `x-sc-correlation-id` (32 hex, as Cloud SDK sends on Edge; harmless and useful for tracing on classic).
//!
//! Outcomes a page renders its fallback for: `Timeout`, `CircuitOpen`, `FlowNotFound` (404 with the
//! Personalize error body), `Unauthorized`, `DecisionFailed` (other 4xx), `ServerError` (5xx / 429),
//! `ConnectFailed`, `Http` (other network errors).

mod breaker;
mod store;

pub use breaker::BreakerState;

use crate::config::{DecisionSettings, Endpoint, Settings};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{BodyContext, DecisionRequest, Defaults, Wire};
use crate::transport::call::{timeout_error, RuntimeLink, Slot};
use crate::transport::response::{network_error, read_capped, server_message};
use crate::transport::{urls, Transport};
use breaker::{Breaker, Permit};
use bytes::Bytes;
use parking_lot::Mutex;
use reqwest::header::{HeaderValue, CONTENT_TYPE, USER_AGENT};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use store::{Cache, Tickets};

/// Longest flow response read; a template that renders more than this is a misconfiguration.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Longest User-Agent forwarded (as for events).
const MAX_USER_AGENT: usize = 512;
/// Upper bound of one HTTP call, whatever budget a caller passes.
const MAX_CALL: Duration = Duration::from_secs(60);

/// Where a decision came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionSource {
    /// This call made the HTTP request.
    Network,
    /// Another identical request was in flight; this call shared its answer.
    Coalesced,
    /// From the per-flow cache (`decisionCacheTtlMs`).
    Cache,
}

/// A flow's answer: the raw body the flow's template rendered (usually JSON, e.g. `{"variantId":"..."}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub status: u16,
    pub body: Bytes,
    pub source: DecisionSource,
}

impl Decision {
    /// The body as JSON (`DecisionFailed` when the template rendered something else).
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
            .map_err(|_| Error::new(ErrorKind::DecisionFailed, "the flow's response is not JSON (use the raw body)"))
    }
}

/// A prefetch started by [`Decisions::begin_decide`]; claimed once by [`Decisions::wait_decision`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Ticket(pub u64);

/// Counters of the decision path (since the client started).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecisionStats {
    pub requests: u64,
    pub http_calls: u64,
    pub coalesced: u64,
    pub cache_hits: u64,
    /// Callers whose budget ran out.
    pub timeouts: u64,
    /// HTTP calls that failed in a way that counts against the breaker.
    pub failures: u64,
    pub breaker_rejections: u64,
    pub breaker_opened: u64,
    pub tickets_outstanding: u64,
    pub tickets_expired: u64,
    pub cache_entries: u64,
}

pub(crate) type Outcome = Result<Decision>;

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    http_calls: AtomicU64,
    coalesced: AtomicU64,
    cache_hits: AtomicU64,
    timeouts: AtomicU64,
    failures: AtomicU64,
    breaker_rejections: AtomicU64,
    tickets_expired: AtomicU64,
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// The decision path's state, shared with the tasks that make the HTTP calls.
struct FlowService {
    cfg: DecisionSettings,
    url: String,
    wire: Wire,
    client_key: String,
    point_of_sale: String,
    channel: String,
    currency: Option<String>,
    language: Option<String>,
    forward_user_agent: bool,
    http: reqwest::Client,
    breaker: Breaker,
    cache: Cache,
    tickets: Tickets,
    inflight: Mutex<HashMap<String, Arc<Slot<Outcome>>>>,
    stats: Counters,
    cid_keys: RandomState,
    cid_counter: AtomicU64,
}

enum Start {
    Ready(Decision),
    Pending(Arc<Slot<Outcome>>, bool),
}

fn spawn_sweeper(engine: Weak<FlowService>, rt: &tokio::runtime::Handle) {
    let period = match engine.upgrade() {
        Some(e) => (e.cfg.ticket_ttl / 4).clamp(Duration::from_millis(10), Duration::from_secs(1)),
        None => return,
    };
    rt.spawn(async move {
        let mut iv = tokio::time::interval(period);
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            iv.tick().await;
            let Some(e) = engine.upgrade() else { break };
            let now = Instant::now();
            let n = e.tickets.sweep(now);
            e.stats.tickets_expired.fetch_add(n as u64, Ordering::Relaxed);
            e.cache.sweep(now);
        }
    });
}

impl FlowService {
    fn new(settings: &Settings, transport: &Transport) -> FlowService {
        let wire = match &settings.endpoint {
            Endpoint::Classic { .. } => Wire::Classic,
            Endpoint::Edge { .. } => Wire::Edge,
        };
        let cfg = settings.decisions.clone();
        FlowService {
            url: urls::call_flows(&settings.endpoint),
            wire,
            client_key: settings.client_key.clone(),
            point_of_sale: settings.point_of_sale.clone(),
            channel: settings.channel.clone(),
            currency: settings.currency.clone(),
            language: settings.language.clone(),
            forward_user_agent: settings.forward_user_agent,
            http: transport.http().clone(),
            breaker: Breaker::new(cfg.breaker_failure_threshold, cfg.breaker_cooldown),
            cache: Cache::new(cfg.cache_max_entries),
            tickets: Tickets::new(cfg.max_tickets),
            inflight: Mutex::new(HashMap::new()),
            stats: Counters::default(),
            cid_keys: RandomState::new(),
            cid_counter: AtomicU64::new(0),
            cfg,
        }
    }

    fn body_ctx(&self) -> BodyContext<'_> {
        let ctx = match self.wire {
            Wire::Classic => BodyContext::classic(&self.client_key, &self.point_of_sale),
            Wire::Edge => BodyContext::edge(None),
        };
        ctx.with_defaults(Defaults { channel: Some(&self.channel), currency: self.currency.as_deref(), language: self.language.as_deref() })
    }

    fn cache_ttl(&self, friendly_id: &str) -> Option<Duration> {
        match self.cfg.cache_ttl_by_flow.iter().find(|(f, _)| f == friendly_id) {
            Some((_, ttl)) => Some(*ttl).filter(|t| !t.is_zero()),
            None => self.cfg.cache_ttl,
        }
    }

    /// Uuid-v4-like 32 hex characters (Cloud SDK `x-sc-correlation-id`), unique per call.
    fn correlation_id(&self) -> String {
        let n = self.cid_counter.fetch_add(1, Ordering::Relaxed);
        let a = self.cid_keys.hash_one(n);
        let b = self.cid_keys.hash_one((n, a));
        format!("{a:016x}{b:016x}")
    }

    /// Validation, cache, breaker, coalescing; spawns the HTTP call when this request leads.
    ///
    /// The HTTP call is bounded by `max(budget, decisionTimeoutMs)`, so a coalesced caller with a longer
    /// budget than the leader's is not cut short. For the breaker, an answer that arrives after the leader's
    /// budget counts as a failure ("slower than the budget"): a service that is up but always too slow would
    /// otherwise cost every page its whole budget.
    fn start(self: &Arc<Self>, rt: &RuntimeLink, req: &DecisionRequest, user_agent: Option<&str>, budget: Duration) -> Result<Start> {
        let leader_deadline = Instant::now() + budget;
        inc(&self.stats.requests);
        let ctx = self.body_ctx();
        req.validate_with(&ctx).map_err(Error::from)?;
        let ttl = self.cache_ttl(&req.friendly_id);
        let mut key = None;
        if ttl.is_some() {
            let k = req.cache_key();
            if let Some(mut d) = self.cache.get(&k, Instant::now()) {
                inc(&self.stats.cache_hits);
                d.source = DecisionSource::Cache;
                return Ok(Start::Ready(d));
            }
            key = Some(k);
        }
        let Some(permit) = self.breaker.acquire() else {
            inc(&self.stats.breaker_rejections);
            return Err(Error::new(ErrorKind::CircuitOpen, "decisions are failing fast: the circuit breaker is open"));
        };
        let rt = match rt.handle() {
            Ok(rt) => rt,
            Err(e) => {
                if permit == Permit::Probe {
                    self.breaker.release_probe();
                }
                return Err(e);
            }
        };
        let key = key.unwrap_or_else(|| req.cache_key());
        let slot = {
            let mut inflight = self.inflight.lock();
            if let Some(s) = inflight.get(&key) {
                let s = s.clone();
                drop(inflight);
                inc(&self.stats.coalesced);
                if permit == Permit::Probe {
                    self.breaker.release_probe();
                }
                return Ok(Start::Pending(s, true));
            }
            let slot = Slot::new();
            inflight.insert(key.clone(), slot.clone());
            slot
        };
        let body = req.to_body(&ctx);
        let ua = user_agent.filter(|_| self.forward_user_agent).and_then(|ua| {
            let mut cut = ua.len().min(MAX_USER_AGENT);
            while !ua.is_char_boundary(cut) {
                cut -= 1;
            }
            HeaderValue::from_str(&ua[..cut]).ok()
        });
        let mut guard = CallGuard { engine: self.clone(), key, slot: slot.clone(), permit, done: false };
        let engine = self.clone();
        let call_timeout = budget.max(self.cfg.timeout).min(MAX_CALL);
        rt.spawn(async move {
            inc(&engine.stats.http_calls);
            let r = match tokio::time::timeout(call_timeout, engine.call(body, ua)).await {
                Ok(r) => r,
                Err(_) => Err(Error::new(ErrorKind::Timeout, format!("the flow service did not answer within {} ms", call_timeout.as_millis()))),
            };
            match &r {
                Err(e) if counts_against_breaker(e.kind) => {
                    inc(&engine.stats.failures);
                    engine.breaker.on_failure(guard.permit, kind_label(e.kind));
                }
                Ok(_) if Instant::now() > leader_deadline => {
                    inc(&engine.stats.failures);
                    engine.breaker.on_failure(guard.permit, "slower than the budget");
                }
                _ => engine.breaker.on_success(),
            }
            if let (Ok(d), Some(ttl)) = (&r, ttl) {
                engine.cache.insert(guard.key.clone(), d.clone(), Instant::now() + ttl);
            }
            guard.finish(r);
        });
        Ok(Start::Pending(slot, false))
    }

    async fn call(&self, body: Vec<u8>, user_agent: Option<HeaderValue>) -> Outcome {
        let mut rb = self
            .http
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header("x-sc-correlation-id", self.correlation_id())
            .body(body);
        if let Some(ua) = user_agent {
            rb = rb.header(USER_AGENT, ua);
        }
        let resp = rb.send().await.map_err(|e| network_error("the flow service", &e))?;
        let status = resp.status().as_u16();
        let body = read_capped(resp, MAX_RESPONSE_BYTES).await?;
        if (200..300).contains(&status) {
            Ok(Decision { status, body, source: DecisionSource::Network })
        } else {
            Err(status_error(status, &body))
        }
    }

    fn stats(&self) -> DecisionStats {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let s = &self.stats;
        DecisionStats {
            requests: l(&s.requests),
            http_calls: l(&s.http_calls),
            coalesced: l(&s.coalesced),
            cache_hits: l(&s.cache_hits),
            timeouts: l(&s.timeouts),
            failures: l(&s.failures),
            breaker_rejections: l(&s.breaker_rejections),
            breaker_opened: self.breaker.opened.load(Ordering::Relaxed),
            tickets_outstanding: self.tickets.len() as u64,
            tickets_expired: l(&s.tickets_expired),
            cache_entries: self.cache.len() as u64,
        }
    }
}

/// Fills the shared slot and leaves the in-flight table exactly once, even when the task is dropped
/// (runtime shut down mid-call): waiters then see `ShutDown` instead of waiting out their budget.
struct CallGuard {
    engine: Arc<FlowService>,
    key: String,
    slot: Arc<Slot<Outcome>>,
    permit: Permit,
    done: bool,
}

impl CallGuard {
    fn finish(&mut self, r: Outcome) {
        self.done = true;
        // Leave the table first: a request arriving now starts a fresh call instead of picking up an answer
        // (or a timeout) meant for an earlier budget.
        {
            let mut inflight = self.engine.inflight.lock();
            if inflight.get(&self.key).is_some_and(|s| Arc::ptr_eq(s, &self.slot)) {
                inflight.remove(&self.key);
            }
        }
        self.slot.set(r);
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.done {
            if self.permit == Permit::Probe {
                self.engine.breaker.release_probe();
            }
            self.finish(Err(Error::new(ErrorKind::ShutDown, "the client shut down during the decision")));
        }
    }
}

fn counts_against_breaker(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::Timeout | ErrorKind::ServerError | ErrorKind::ConnectFailed | ErrorKind::Http)
}

fn kind_label(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Timeout => "timeout",
        ErrorKind::ServerError => "server error",
        ErrorKind::ConnectFailed => "connect failed",
        _ => "network error",
    }
}

fn status_error(status: u16, body: &[u8]) -> Error {
    let msg = server_message(body);
    let detail = if msg.is_empty() { String::new() } else { format!(": {msg}") };
    let kind = match status {
        404 => ErrorKind::FlowNotFound,
        401 | 403 => ErrorKind::Unauthorized,
        429 | 500..=599 => ErrorKind::ServerError,
        _ => ErrorKind::DecisionFailed,
    };
    Error::new(kind, format!("callFlows answered {status}{detail}"))
}

/// Decisions of one client; reach it with `Client::decisions`.
pub struct Decisions {
    service: Arc<FlowService>,
    rt: RuntimeLink,
}

impl Decisions {
    pub(crate) fn new(settings: &Settings, transport: &Transport, rt: RuntimeLink) -> Decisions {
        let service = Arc::new(FlowService::new(settings, transport));
        if let Ok(h) = rt.handle() {
            spawn_sweeper(Arc::downgrade(&service), &h);
        }
        Decisions { service, rt }
    }

    /// Asks Personalize for `request.friendly_id`'s decision and waits at most `budget` (from a host thread;
    /// never from inside this client's runtime). Returns the flow's response or an outcome to render the
    /// fallback for (see the module docs). `user_agent` is the visitor's, forwarded when `forwardUserAgent`.
    pub fn decide(&self, request: &DecisionRequest, user_agent: Option<&str>, budget: Duration) -> Result<Decision> {
        let e = &self.service;
        let deadline = Instant::now() + budget;
        match e.start(&self.rt, request, user_agent, budget)? {
            Start::Ready(d) => Ok(d),
            Start::Pending(slot, coalesced) => wait_slot(e, &slot, deadline, budget, coalesced),
        }
    }

    /// The default budget (`decisionTimeoutMs`).
    pub fn default_decision_budget(&self) -> Duration {
        self.service.cfg.timeout
    }

    /// Starts a decision and returns at once (prefetch at request begin). The HTTP call is bounded by
    /// `decisionTimeoutMs` (also the budget the breaker judges it by); claim the answer with [`Decisions::wait_decision`] within `decisionTicketTtlMs`, after
    /// which the ticket is dropped by the background sweep. An open breaker yields a ticket whose answer is
    /// already `CircuitOpen`. Invalid requests fail here; so does a full ticket table (`QueueFull`).
    pub fn begin_decide(&self, request: &DecisionRequest, user_agent: Option<&str>) -> Result<Ticket> {
        let e = &self.service;
        let slot = match e.start(&self.rt, request, user_agent, e.cfg.timeout) {
            Ok(Start::Ready(d)) => Slot::filled(Ok(d)),
            Ok(Start::Pending(s, _)) => s,
            Err(err) if err.kind == ErrorKind::CircuitOpen => Slot::filled(Err(err)),
            Err(err) => return Err(err),
        };
        e.tickets
            .insert(slot, Instant::now() + e.cfg.ticket_ttl)
            .map(Ticket)
            .ok_or_else(|| Error::new(ErrorKind::QueueFull, "too many outstanding decision tickets (decisionMaxTickets)"))
    }

    /// Claims a prefetch's answer, waiting at most `budget`. A ticket is claimed once, whatever the result;
    /// an unknown, expired or already claimed ticket is `TicketUnknown`.
    pub fn wait_decision(&self, ticket: Ticket, budget: Duration) -> Result<Decision> {
        let e = &self.service;
        let now = Instant::now();
        let slot = e.tickets.take(ticket.0, now).ok_or_else(|| {
            Error::new(ErrorKind::TicketUnknown, "unknown, expired or already claimed decision ticket")
        })?;
        wait_slot(e, &slot, now + budget, budget, false)
    }

    /// Whether a prefetch's answer is there (without claiming it); `TicketUnknown` as for `wait_decision`.
    pub fn decision_ready(&self, ticket: Ticket) -> Result<bool> {
        self.service
            .tickets
            .peek_ready(ticket.0)
            .ok_or_else(|| Error::new(ErrorKind::TicketUnknown, "unknown, expired or already claimed decision ticket"))
    }

    pub fn stats(&self) -> DecisionStats {
        self.service.stats()
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.service.breaker.state()
    }
}

fn wait_slot(e: &FlowService, slot: &Slot<Outcome>, deadline: Instant, budget: Duration, coalesced: bool) -> Result<Decision> {
    match slot.wait_until(deadline) {
        Some(Ok(mut d)) => {
            if coalesced && d.source == DecisionSource::Network {
                d.source = DecisionSource::Coalesced;
            }
            Ok(d)
        }
        Some(Err(err)) => Err(err),
        None => {
            inc(&e.stats.timeouts);
            Err(timeout_error("the decision", budget))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_errors_carry_the_server_message() {
        let b = br#"{"status":404,"code":404,"message":"Not Found","developerMessage":"No live flow with friendlyId x","moreInfoUrl":"u"}"#;
        let e = status_error(404, b);
        assert_eq!(e.kind, ErrorKind::FlowNotFound);
        assert_eq!(e.message, "callFlows answered 404: Not Found: No live flow with friendlyId x");
        assert_eq!(status_error(503, b"").kind, ErrorKind::ServerError);
        assert_eq!(status_error(429, b"").kind, ErrorKind::ServerError);
        assert_eq!(status_error(401, b"").kind, ErrorKind::Unauthorized);
        assert_eq!(status_error(400, b"{\"message\":\"bad\\r\\nX: y\"}").message, "callFlows answered 400: badX: y");
    }
}
