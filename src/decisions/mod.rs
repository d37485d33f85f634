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
mod request;
mod service;
mod store;

pub use breaker::BreakerState;
pub use request::{DecisionFields, Params, ParamsError, ParamsJson};

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
use service::{inc, spawn_sweeper, FlowService, Start};

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
        self.decide_fields(&DecisionFields::from_request(request), user_agent, budget)
    }

    /// [`Decisions::decide`] on borrowed fields (what the C ABI passes: nothing is copied until the request is
    /// valid).
    pub fn decide_fields(&self, request: &DecisionFields, user_agent: Option<&str>, budget: Duration) -> Result<Decision> {
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
        self.begin_decide_fields(&DecisionFields::from_request(request), user_agent)
    }

    /// [`Decisions::begin_decide`] on borrowed fields.
    pub fn begin_decide_fields(&self, request: &DecisionFields, user_agent: Option<&str>) -> Result<Ticket> {
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
        claimed(e, slot.claim_until(now + budget), budget, false)
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
    claimed(e, slot.wait_until(deadline), budget, coalesced)
}

fn claimed(e: &FlowService, outcome: Option<Outcome>, budget: Duration, coalesced: bool) -> Result<Decision> {
    match outcome {
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
    use super::service::status_error;
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
