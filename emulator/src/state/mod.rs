//! The emulated tenant state: browsers, guests, sessions, events, identity resolution and flow execution.
//! All of it lives in one `Store` behind one mutex; request parsing and serialisation happen outside it, so
//! the critical section of the events hot path is a few map operations. One file per aggregate:
//! `guests` (guests, browsers, identifiers, extensions), `sessions`, `events` (acceptance, carts),
//! `identity` (identity rules and merges), `flows` (Personalize execution).

mod events;
mod flows;
mod guests;
mod identity;
mod sessions;

pub use guests::ext_json;

use crate::config::{Flow, Limits, TenantConfig, DEFAULT_TIMEOUT_MINUTES};
use crate::template;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};

pub struct Tenant {
    pub client_key: String,
    pub api_token: String,
    pub pos_timeout_ms: HashMap<String, i64>,
    pub identity_rules: Vec<String>,
    /// Sorted by friendlyId, so a trailing-`*` lookup takes the first lexicographic match.
    pub flows: BTreeMap<String, Flow>,
}

impl Tenant {
    pub fn from_config(t: &TenantConfig) -> Tenant {
        Tenant {
            client_key: t.client_key.clone(),
            api_token: t.api_token.clone(),
            pos_timeout_ms: t
                .points_of_sale
                .iter()
                .map(|(k, v)| (k.clone(), v.timeout_minutes() as i64 * 60_000))
                .collect(),
            identity_rules: t.identity_rules.clone(),
            flows: t
                .flows
                .iter()
                .map(|f| (f.friendly_id.clone(), f.clone()))
                .collect(),
        }
    }

    pub fn known_pos(&self, pos: &str) -> bool {
        self.pos_timeout_ms.contains_key(pos)
    }

    pub(super) fn timeout_ms(&self, pos: &str) -> i64 {
        self.pos_timeout_ms
            .get(pos)
            .copied()
            .unwrap_or(DEFAULT_TIMEOUT_MINUTES as i64 * 60_000)
    }

    pub(super) fn is_rule(&self, provider: &str) -> bool {
        self.identity_rules
            .iter()
            .any(|r| r.eq_ignore_ascii_case(provider))
    }

    /// Exact live flow, or for `prefix*` the first live flow (lexicographic) whose id starts with prefix.
    pub fn find_flow(&self, friendly_id: &str) -> Option<&Flow> {
        if let Some(prefix) = friendly_id.strip_suffix('*') {
            self.flows
                .range(prefix.to_string()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(_, f)| f)
                .find(|f| f.is_live())
        } else {
            self.flows.get(friendly_id).filter(|f| f.is_live())
        }
    }
}

#[derive(Clone, Debug)]
pub struct Identifier {
    pub provider: String,
    pub id: String,
    pub expiry_date: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Extension {
    pub ext_ref: String,
    pub created_at: i64,
    pub modified_at: i64,
    pub fields: Map<String, Value>,
}

#[derive(Clone, Debug)]
pub struct Guest {
    /// Creation order (timestamps can tie within a millisecond).
    pub seq: u64,
    pub gref: String,
    pub client_key: String,
    pub guest_type: String,
    pub created_at: i64,
    pub modified_at: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Profile attributes in Guest REST naming (`firstName`, `email`, `phoneNumbers`...).
    pub profile: Map<String, Value>,
    pub identifiers: Vec<Identifier>,
    pub browsers: Vec<String>,
    pub extensions: BTreeMap<String, Extension>,
    pub merged_into: Option<String>,
}

#[allow(dead_code)]
pub struct Browser {
    pub client_key: String,
    pub guest_ref: String,
    pub created_at: i64,
    pub last_seen: i64,
}

pub struct SessionEvent {
    pub event_ref: String,
    pub kind: String,
    pub at: i64,
}

pub struct Session {
    /// Creation order (timestamps can tie within a millisecond).
    pub seq: u64,
    pub sref: String,
    pub client_key: String,
    pub browser_ref: Option<String>,
    pub guest_ref: String,
    pub channel: String,
    pub pos: String,
    pub open: bool,
    pub timeout_ms: i64,
    pub started_at: i64,
    pub last_at: i64,
    pub ended_at: Option<i64>,
    pub close_reason: Option<&'static str>,
    pub events: Vec<SessionEvent>,
    pub event_count: u64,
    pub cart: BTreeMap<String, Value>,
    pub cart_cleared: bool,
    pub confirmed: Vec<String>,
    pub checkouts: u32,
    pub purchased: bool,
    pub payments: u32,
    pub cart_outcome: Option<Value>,
    pub session_data: Map<String, Value>,
    pub flow_executions: Vec<Value>,
}

pub struct EventRec {
    pub seq: u64,
    pub event_ref: String,
    pub at: i64,
    pub client_key: String,
    pub browser_id: String,
    pub guest_ref: String,
    pub kind: String,
    pub channel: String,
    pub pos: String,
    pub flag: Option<&'static str>,
    pub session_ref: Option<String>,
    pub via: &'static str,
    pub body: Box<str>,
}

#[derive(Default)]
pub struct Stats {
    pub events_accepted: BTreeMap<String, u64>,
    pub events_rejected: BTreeMap<String, u64>,
    pub flagged_unknown_pos: u64,
    pub browsers_created: u64,
    pub guests_created: u64,
    pub guests_evicted: u64,
    pub merges: u64,
    pub identity_events: u64,
    pub sessions_opened: u64,
    pub sessions_closed: u64,
    pub flow_executions: u64,
    pub flow_not_found: u64,
}

#[derive(Default)]
pub struct Store {
    pub browsers: HashMap<String, Browser>,
    pub guests: HashMap<String, Guest>,
    guest_order: VecDeque<String>,
    /// `ck \0 provider \0 id` → guest ref.
    ident_index: HashMap<String, String>,
    pub sessions: HashMap<String, Session>,
    session_order: VecDeque<String>,
    /// browser → open sessions `(channel, pos, session ref)`; looked up by `&str` without allocating.
    open: HashMap<String, Vec<(String, String, String)>>,
    pub events: VecDeque<EventRec>,
    event_seq: u64,
    pub flow_execs: VecDeque<Value>,
    pub stats: Stats,
}

pub enum EventError {
    MissingBrowserId,
    MissingType,
    UnknownBrowser,
}

/// The few event fields the hot path needs, borrowed from the request body.
pub struct EventHead<'a> {
    pub browser_id: &'a str,
    pub kind: &'a str,
    pub channel: &'a str,
}

/// Event types whose payload the emulator interprets (so the full JSON must be parsed).
pub fn needs_full_parse(kind: &str) -> bool {
    matches!(
        kind,
        "IDENTITY" | "ADD" | "CONFIRM" | "CHECKOUT" | "PURCHASE" | "PAYMENT" | "CLEAR_CART"
    )
}

pub struct Accepted {
    pub event_ref: String,
    pub guest_ref: String,
}

/// Distinct event types counted separately in stats; the rest are counted as `(other)`.
const MAX_DISTINCT_TYPES: usize = 1000;

fn next_seq() -> u64 {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn ident_key(ck: &str, provider: &str, id: &str) -> String {
    let mut s = String::with_capacity(ck.len() + provider.len() + id.len() + 2);
    s.push_str(ck);
    s.push('\0');
    s.push_str(&provider.to_ascii_lowercase());
    s.push('\0');
    s.push_str(id);
    s
}

fn str_field<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Identity event field → Guest REST profile attribute.
const PII_MAP: &[(&str, &str)] = &[
    ("email", "email"),
    ("firstname", "firstName"),
    ("lastname", "lastName"),
    ("title", "title"),
    ("gender", "gender"),
    ("dob", "dateOfBirth"),
    ("street", "street"),
    ("city", "city"),
    ("state", "state"),
    ("country", "country"),
    ("postal_code", "postCode"),
];
