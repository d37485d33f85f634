//! The emulator's shared state as the routes see it: tenants and Edge contexts, the store, the emulator
//! clock, fault configuration and counters, the request ring and the idempotency-key memory, plus the
//! stats and request-ring JSON shapes.

use crate::clock::{iso_ms, system_ms};
use crate::config::{EdgeContext, EmulatorConfig, Limits};
use crate::faults::{FaultConfig, Faults};
use crate::state::{Store, Tenant};
use axum::http::{HeaderMap, Method, Uri};
use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// Route names for stats and fault rules.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RouteName {
    BrowserCreate,
    BrowserShow,
    Events,
    CallFlows,
    Guests,
    Other,
    Admin,
}

impl RouteName {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteName::BrowserCreate => "browser_create",
            RouteName::BrowserShow => "browser_show",
            RouteName::Events => "events",
            RouteName::CallFlows => "callflows",
            RouteName::Guests => "guests",
            RouteName::Other => "other",
            RouteName::Admin => "admin",
        }
    }
    const ALL: [RouteName; 7] = [
        RouteName::BrowserCreate,
        RouteName::BrowserShow,
        RouteName::Events,
        RouteName::CallFlows,
        RouteName::Guests,
        RouteName::Other,
        RouteName::Admin,
    ];
}

const FAULT_KINDS: [&str; 7] = [
    "latency",
    "error",
    "throttle",
    "reset",
    "slow_body",
    "outage",
    "blackhole",
];

pub struct RequestRec {
    pub seq: u64,
    pub at: i64,
    pub method: String,
    pub path: String,
    pub query: String,
    /// `name \0 value` lines; copied (not sliced) so the connection's read buffers are not kept alive.
    pub headers: Box<str>,
    pub body: Box<[u8]>,
    pub status: u16,
    pub route: &'static str,
    pub fault: Option<&'static str>,
    pub truncated: bool,
}

/// A request copied for the ring before it is handled; `App::record` completes it with the outcome.
pub struct PendingRec {
    method: String,
    path: String,
    query: String,
    headers: Box<str>,
    body: Box<[u8]>,
    truncated: bool,
}

pub struct App {
    pub tenants: HashMap<String, Arc<Tenant>>,
    pub contexts: HashMap<String, (Arc<Tenant>, EdgeContext)>,
    pub limits: Limits,
    pub base_url: String,
    pub store: Mutex<Store>,
    pub ring: Mutex<(u64, VecDeque<RequestRec>)>,
    pub faults: Mutex<Faults>,
    faults_active: AtomicBool,
    initial_faults: FaultConfig,
    clock_offset_ms: AtomicI64,
    route_counts: [AtomicU64; 7],
    fault_counts: [AtomicU64; 7],
    /// `Idempotency-Key` of accepted events → the answer given, so a replayed event is acknowledged again but
    /// stored once (and counted as a duplicate).
    idem: Mutex<Idem>,
}

/// Bounded memory of idempotency keys (oldest forgotten first).
#[derive(Default)]
struct Idem {
    seen: HashMap<Box<str>, Bytes>,
    order: VecDeque<Box<str>>,
    duplicates: u64,
}

const IDEM_KEYS: usize = 1_000_000;

/// How far the emulator clock may be moved ahead in total: far enough for any session timeout, near enough
/// that every instant still prints as a four-digit year.
pub const MAX_CLOCK_OFFSET_MS: i64 = 100 * 366 * 86_400_000;

impl App {
    pub fn new(cfg: &EmulatorConfig, base_url: String) -> App {
        let mut tenants = HashMap::new();
        let mut contexts = HashMap::new();
        for t in &cfg.tenants {
            let tenant = Arc::new(Tenant::from_config(t));
            for c in &t.edge_contexts {
                contexts.insert(c.context_id.clone(), (tenant.clone(), c.clone()));
            }
            tenants.insert(t.client_key.clone(), tenant);
        }
        let app = App {
            tenants,
            contexts,
            limits: cfg.limits.clone(),
            base_url: cfg
                .public_base_url
                .clone()
                .unwrap_or(base_url)
                .trim_end_matches('/')
                .to_string(),
            store: Mutex::new(Store::default()),
            ring: Mutex::new((0, VecDeque::new())),
            faults: Mutex::new(Faults::default()),
            faults_active: AtomicBool::new(false),
            initial_faults: cfg.faults.clone(),
            clock_offset_ms: AtomicI64::new(0),
            route_counts: Default::default(),
            fault_counts: Default::default(),
            idem: Mutex::new(Idem::default()),
        };
        app.set_faults(cfg.faults.clone());
        app
    }

    /// The emulator clock: wall clock plus the offset moved by `/__emulator/clock/advance`.
    pub fn now(&self) -> i64 {
        system_ms() + self.clock_offset_ms.load(Ordering::Relaxed)
    }

    pub fn clock_offset_ms(&self) -> i64 {
        self.clock_offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the clock ahead by `ms`; refuses (returns false) a move past `MAX_CLOCK_OFFSET_MS` in total.
    pub fn advance_clock(&self, ms: i64) -> bool {
        self.clock_offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |off| {
                off.checked_add(ms)
                    .filter(|n| (0..=MAX_CLOCK_OFFSET_MS).contains(n))
            })
            .is_ok()
    }

    pub fn set_faults(&self, cfg: FaultConfig) {
        let mut f = self.faults.lock();
        self.faults_active.store(!cfg.is_empty(), Ordering::Release);
        f.config = cfg;
        f.used.clear();
    }

    pub fn faults_active(&self) -> bool {
        self.faults_active.load(Ordering::Acquire)
    }

    pub fn count_route(&self, r: RouteName) {
        self.route_counts[r as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_fault(&self, kind: &str) {
        if let Some(i) = FAULT_KINDS.iter().position(|k| *k == kind) {
            self.fault_counts[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Clears guests, browsers, sessions, events, executions, the ring, counters and the clock offset;
    /// faults go back to the start-up ones.
    pub fn reset(&self) {
        *self.store.lock() = Store::default();
        *self.ring.lock() = (0, VecDeque::new());
        self.set_faults(self.initial_faults.clone());
        self.clock_offset_ms.store(0, Ordering::Relaxed);
        for c in &self.route_counts {
            c.store(0, Ordering::Relaxed);
        }
        for c in &self.fault_counts {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// The answer already given to an event with this idempotency key (counted as a duplicate).
    pub fn idempotent_answer(&self, key: &str) -> Option<Bytes> {
        let mut i = self.idem.lock();
        let body = i.seen.get(key).cloned();
        if body.is_some() {
            i.duplicates += 1;
        }
        body
    }

    pub fn remember_answer(&self, key: &str, body: Bytes) {
        let mut i = self.idem.lock();
        if i.order.len() >= IDEM_KEYS {
            if let Some(old) = i.order.pop_front() {
                i.seen.remove(&old);
            }
        }
        i.seen.insert(key.into(), body);
        i.order.push_back(key.into());
    }

    /// Copies what the ring keeps of a request; None when recording is off (`maxRequests` 0).
    pub fn pending_rec(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<PendingRec> {
        if self.limits.max_requests == 0 {
            return None;
        }
        let max_body = self.limits.max_recorded_body_bytes;
        let mut h = String::with_capacity(256);
        for (k, v) in headers.iter() {
            h.push_str(k.as_str());
            h.push('\0');
            h.push_str(&String::from_utf8_lossy(v.as_bytes()));
            h.push('\n');
        }
        Some(PendingRec {
            method: method.to_string(),
            path: uri.path().to_string(),
            query: uri.query().unwrap_or("").to_string(),
            headers: h.into_boxed_str(),
            body: body[..body.len().min(max_body)].into(),
            truncated: body.len() > max_body,
        })
    }

    pub fn record(
        &self,
        rec: Option<PendingRec>,
        status: u16,
        route: RouteName,
        fault: Option<&'static str>,
    ) {
        let Some(p) = rec else { return };
        let at = self.now();
        let mut ring = self.ring.lock();
        ring.0 += 1;
        let seq = ring.0;
        while ring.1.len() >= self.limits.max_requests {
            ring.1.pop_front();
        }
        ring.1.push_back(RequestRec {
            seq,
            at,
            method: p.method,
            path: p.path,
            query: p.query,
            headers: p.headers,
            body: p.body,
            status,
            route: route.as_str(),
            fault,
            truncated: p.truncated,
        });
    }

    pub fn stats_json(&self) -> Value {
        let st = self.store.lock();
        let s = &st.stats;
        let mut by_route = BTreeMap::new();
        let mut total = 0;
        for r in RouteName::ALL {
            let n = self.route_counts[r as usize].load(Ordering::Relaxed);
            by_route.insert(r.as_str(), n);
            if r != RouteName::Admin {
                total += n;
            }
        }
        json!({
            "requests": {"total": total, "by_route": by_route},
            "events": {
                "accepted": s.events_accepted.values().sum::<u64>(),
                "accepted_by_type": s.events_accepted,
                "rejected": s.events_rejected.values().sum::<u64>(),
                "rejected_by_reason": s.events_rejected,
                "flagged_unknown_pos": s.flagged_unknown_pos,
                "identity": s.identity_events,
                "duplicates": self.idem.lock().duplicates,
            },
            "faults": self.fault_stats_json(),
            "browsers_created": s.browsers_created,
            "guests_created": s.guests_created,
            "guests_evicted": s.guests_evicted,
            "merges": s.merges,
            "sessions_opened": s.sessions_opened,
            "sessions_closed": s.sessions_closed,
            "flow_executions": s.flow_executions,
            "flow_not_found": s.flow_not_found,
            "live": {"browsers": st.browsers.len(), "guests": st.guests.len(), "sessions": st.sessions.len(), "events_kept": st.events.len()},
        })
    }

    pub fn fault_stats_json(&self) -> Value {
        let mut faults = BTreeMap::new();
        let mut total = 0;
        for (i, k) in FAULT_KINDS.iter().enumerate() {
            let n = self.fault_counts[i].load(Ordering::Relaxed);
            faults.insert(*k, n);
            total += n;
        }
        json!({"total": total, "by_kind": faults})
    }
}

pub fn request_json(r: &RequestRec) -> Value {
    let mut headers = serde_json::Map::new();
    for (k, v) in r.headers.lines().filter_map(|l| l.split_once('\0')) {
        match headers.get_mut(k) {
            Some(Value::String(old)) => {
                old.push_str(", ");
                old.push_str(v);
            }
            _ => {
                headers.insert(k.to_string(), Value::String(v.to_string()));
            }
        }
    }
    let mut body = String::from_utf8_lossy(&r.body).into_owned();
    if r.truncated {
        body.push_str("…[truncated]");
    }
    json!({
        "seq": r.seq, "at": iso_ms(r.at), "method": r.method, "path": r.path, "query": r.query,
        "headers": headers, "body": body, "status": r.status, "route": r.route, "fault": r.fault,
    })
}
