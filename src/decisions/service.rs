//! The flow service behind [`super::Decisions`]: validation, cache, breaker, coalescing of identical requests,
//! the callFlows HTTP call and its classification, the ticket sweeper.

use super::*;
use super::request::{DecisionFields, DecisionKey};
use std::collections::hash_map::Entry;
use store::{Cache, Tickets};

#[derive(Default)]
pub(super) struct Counters {
    requests: AtomicU64,
    http_calls: AtomicU64,
    coalesced: AtomicU64,
    cache_hits: AtomicU64,
    pub(super) timeouts: AtomicU64,
    failures: AtomicU64,
    breaker_rejections: AtomicU64,
    tickets_expired: AtomicU64,
}

pub(super) fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// The decision path's state, shared with the tasks that make the HTTP calls.
pub(super) struct FlowService {
    pub(super) cfg: DecisionSettings,
    url: String,
    wire: Wire,
    client_key: String,
    point_of_sale: String,
    channel: String,
    currency: Option<String>,
    language: Option<String>,
    forward_user_agent: bool,
    http: reqwest::Client,
    pub(super) breaker: Breaker,
    cache: Cache,
    pub(super) tickets: Tickets,
    inflight: Mutex<HashMap<Arc<str>, Arc<Slot<Outcome>>>>,
    pub(super) stats: Counters,
    cid_keys: RandomState,
    cid_counter: AtomicU64,
}

pub(super) enum Start {
    Ready(Decision),
    Pending(Arc<Slot<Outcome>>, bool),
}

pub(super) fn spawn_sweeper(engine: Weak<FlowService>, rt: &tokio::runtime::Handle) {
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
    pub(super) fn new(settings: &Settings, transport: &Transport) -> FlowService {
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

    pub(super) fn body_ctx(&self) -> BodyContext<'_> {
        let ctx = match self.wire {
            Wire::Classic => BodyContext::classic(&self.client_key, &self.point_of_sale),
            Wire::Edge => BodyContext::edge(None),
        };
        ctx.with_defaults(Defaults { channel: Some(&self.channel), currency: self.currency.as_deref(), language: self.language.as_deref() })
    }

    pub(super) fn cache_ttl(&self, friendly_id: &str) -> Option<Duration> {
        match self.cfg.cache_ttl_by_flow.iter().find(|(f, _)| f == friendly_id) {
            Some((_, ttl)) => Some(*ttl).filter(|t| !t.is_zero()),
            None => self.cfg.cache_ttl,
        }
    }

    /// Uuid-v4-like 32 hex characters (Cloud SDK `x-sc-correlation-id`), unique per call.
    pub(super) fn correlation_id(&self) -> String {
        let n = self.cid_counter.fetch_add(1, Ordering::Relaxed);
        let a = self.cid_keys.hash_one(n);
        let b = self.cid_keys.hash_one((n, a));
        format!("{a:016x}{b:016x}")
    }

    /// Validation, cache, breaker, coalescing; spawns the HTTP call when this request leads.
    ///
    /// On the caller's thread only the checks, one copy of the fields (the key, which is also the request the
    /// task renders the body from), the table entries and the spawn: the body, the params' `Value` tree and the
    /// User-Agent header are built by the task.
    ///
    /// The HTTP call is bounded by `max(budget, decisionTimeoutMs)`, so a coalesced caller with a longer
    /// budget than the leader's is not cut short. For the breaker, an answer that arrives after the leader's
    /// budget counts as a failure ("slower than the budget"): a service that is up but always too slow would
    /// otherwise cost every page its whole budget.
    pub(super) fn start(self: &Arc<Self>, rt: &RuntimeLink, req: &DecisionFields, user_agent: Option<&str>, budget: Duration) -> Result<Start> {
        let now = Instant::now();
        let leader_deadline = now + budget;
        inc(&self.stats.requests);
        req.validate_with(&self.body_ctx())?;
        let ttl = self.cache_ttl(req.friendly_id);
        let key = req.key();
        if ttl.is_some() {
            if let Some(mut d) = self.cache.get(&key.0, now) {
                inc(&self.stats.cache_hits);
                d.source = DecisionSource::Cache;
                return Ok(Start::Ready(d));
            }
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
        let slot = {
            let mut inflight = self.inflight.lock();
            match inflight.entry(key.0.clone()) {
                Entry::Occupied(e) => {
                    let s = e.get().clone();
                    drop(inflight);
                    inc(&self.stats.coalesced);
                    if permit == Permit::Probe {
                        self.breaker.release_probe();
                    }
                    return Ok(Start::Pending(s, true));
                }
                Entry::Vacant(e) => e.insert(Slot::new()).clone(),
            }
        };
        // Copied only when it is forwarded; made a header value by the task.
        let ua = user_agent.filter(|_| self.forward_user_agent).map(|ua| {
            let mut cut = ua.len().min(MAX_USER_AGENT);
            while !ua.is_char_boundary(cut) {
                cut -= 1;
            }
            ua[..cut].to_owned()
        });
        let mut guard = CallGuard { engine: self.clone(), key, slot: slot.clone(), permit, done: false };
        let engine = self.clone();
        let call_timeout = budget.max(self.cfg.timeout).min(MAX_CALL);
        rt.spawn(async move {
            inc(&engine.stats.http_calls);
            let r = match engine.body(&guard.key) {
                Ok(body) => {
                    let ua = ua.and_then(|ua| HeaderValue::from_str(&ua).ok());
                    match tokio::time::timeout(call_timeout, engine.call(body, ua)).await {
                        Ok(r) => r,
                        Err(_) => Err(Error::new(ErrorKind::Timeout, format!("the flow service did not answer within {} ms", call_timeout.as_millis()))),
                    }
                }
                Err(e) => Err(e),
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
                engine.cache.insert(guard.key.0.clone(), d.clone(), Instant::now() + ttl);
            }
            guard.finish(r);
        });
        Ok(Start::Pending(slot, false))
    }

    /// The callFlows body of a request packed by [`DecisionFields::key`] (on the runtime).
    fn body(&self, key: &DecisionKey) -> Result<Vec<u8>> {
        let req = key
            .request()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "a decision request could not be read back from its key"))?;
        Ok(req.to_body(&self.body_ctx()))
    }

    pub(super) async fn call(&self, body: Vec<u8>, user_agent: Option<HeaderValue>) -> Outcome {
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

    pub(super) fn stats(&self) -> DecisionStats {
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
pub(super) struct CallGuard {
    engine: Arc<FlowService>,
    key: DecisionKey,
    slot: Arc<Slot<Outcome>>,
    permit: Permit,
    done: bool,
}

impl CallGuard {
    pub(super) fn finish(&mut self, r: Outcome) {
        self.done = true;
        // Leave the table first: a request arriving now starts a fresh call instead of picking up an answer
        // (or a timeout) meant for an earlier budget.
        {
            let mut inflight = self.engine.inflight.lock();
            if inflight.get(&self.key.0).is_some_and(|s| Arc::ptr_eq(s, &self.slot)) {
                inflight.remove(&self.key.0);
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

pub(super) fn counts_against_breaker(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::Timeout | ErrorKind::ServerError | ErrorKind::ConnectFailed | ErrorKind::Http)
}

pub(super) fn kind_label(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Timeout => "timeout",
        ErrorKind::ServerError => "server error",
        ErrorKind::ConnectFailed => "connect failed",
        _ => "network error",
    }
}

pub(super) fn status_error(status: u16, body: &[u8]) -> Error {
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
