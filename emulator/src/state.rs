//! The emulated tenant state: browsers, guests, sessions, events, identity resolution and flow execution.
//! All of it lives in one `Store` behind one mutex; request parsing and serialisation happen outside it, so
//! the critical section of the events hot path is a few map operations.

use crate::config::{Flow, Limits, TenantConfig, DEFAULT_TIMEOUT_MINUTES};
use crate::template;
use crate::util::{fnv1a, iso_ms, uuid_v4};
use serde_json::{json, Map, Value};
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

    fn timeout_ms(&self, pos: &str) -> i64 {
        self.pos_timeout_ms
            .get(pos)
            .copied()
            .unwrap_or(DEFAULT_TIMEOUT_MINUTES as i64 * 60_000)
    }

    fn is_rule(&self, provider: &str) -> bool {
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

impl Store {
    // ----- guests & browsers -------------------------------------------------------------------------

    pub fn new_guest(&mut self, ck: &str, guest_type: &str, now: i64, limits: &Limits) -> String {
        while self.guests.len() >= limits.max_guests.max(1) {
            match self.guest_order.pop_front() {
                Some(old) => {
                    if self.guests.contains_key(&old) {
                        self.remove_guest(&old, false);
                        self.stats.guests_evicted += 1;
                    }
                }
                None => break,
            }
        }
        let gref = uuid_v4();
        self.guests.insert(
            gref.clone(),
            Guest {
                seq: next_seq(),
                gref: gref.clone(),
                client_key: ck.to_string(),
                guest_type: guest_type.to_string(),
                created_at: now,
                modified_at: now,
                first_seen: now,
                last_seen: now,
                profile: Map::new(),
                identifiers: Vec::new(),
                browsers: Vec::new(),
                extensions: BTreeMap::new(),
                merged_into: None,
            },
        );
        self.guest_order.push_back(gref.clone());
        self.stats.guests_created += 1;
        gref
    }

    /// Removes a guest, its browsers, identifier index entries and (with `cascade`) sessions and events.
    pub fn remove_guest(&mut self, gref: &str, cascade: bool) {
        let Some(g) = self.guests.remove(gref) else {
            return;
        };
        for b in &g.browsers {
            self.browsers.remove(b);
        }
        for i in &g.identifiers {
            let k = ident_key(&g.client_key, &i.provider, &i.id);
            if self.ident_index.get(&k).map(String::as_str) == Some(gref) {
                self.ident_index.remove(&k);
            }
        }
        let browsers: std::collections::HashSet<&String> = g.browsers.iter().collect();
        self.open.retain(|b, _| !browsers.contains(b));
        if cascade {
            self.sessions.retain(|_, s| s.guest_ref != gref);
            self.events.retain(|e| e.guest_ref != gref);
            // Guests merged into this one would dangle; retire them for good.
            for other in self.guests.values_mut() {
                if other.merged_into.as_deref() == Some(gref) {
                    other.merged_into = None;
                }
            }
        }
    }

    pub fn create_browser(&mut self, ck: &str, now: i64, limits: &Limits) -> (String, String) {
        let gref = self.new_guest(ck, "visitor", now, limits);
        let bref = uuid_v4();
        self.browsers.insert(
            bref.clone(),
            Browser {
                client_key: ck.to_string(),
                guest_ref: gref.clone(),
                created_at: now,
                last_seen: now,
            },
        );
        if let Some(g) = self.guests.get_mut(&gref) {
            g.browsers.push(bref.clone());
        }
        self.stats.browsers_created += 1;
        (bref, gref)
    }

    /// Follows merge pointers to the surviving guest.
    pub fn resolve_guest<'a>(&'a self, mut gref: &'a str) -> &'a str {
        for _ in 0..64 {
            match self.guests.get(gref).and_then(|g| g.merged_into.as_deref()) {
                Some(next) => gref = next,
                None => break,
            }
        }
        gref
    }

    pub fn browser_guest(&self, ck: &str, bid: &str) -> Option<String> {
        let b = self.browsers.get(bid)?;
        if b.client_key != ck {
            return None;
        }
        Some(self.resolve_guest(&b.guest_ref).to_string())
    }

    pub fn find_by_identifier(&self, ck: &str, provider: &str, id: &str) -> Option<String> {
        self.ident_index
            .get(&ident_key(ck, provider, id))
            .map(|g| self.resolve_guest(g).to_string())
    }

    pub fn find_by_email(&self, ck: &str, email: &str) -> Option<String> {
        if let Some(g) = self.find_by_identifier(ck, "email", email) {
            return Some(g);
        }
        let mut best: Option<&Guest> = None;
        for g in self.guests.values() {
            if g.client_key == ck
                && g.merged_into.is_none()
                && g.guest_type != "retired"
                && g.profile
                    .get("email")
                    .and_then(Value::as_str)
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
                && best.is_none_or(|b| g.seq < b.seq)
            {
                best = Some(g);
            }
        }
        best.map(|g| g.gref.clone())
    }

    pub fn add_identifier(&mut self, gref: &str, ident: Identifier) {
        let Some(g) = self.guests.get_mut(gref) else {
            return;
        };
        let k = ident_key(&g.client_key, &ident.provider, &ident.id);
        if let Some(existing) = g
            .identifiers
            .iter_mut()
            .find(|i| i.provider.eq_ignore_ascii_case(&ident.provider) && i.id == ident.id)
        {
            if ident.expiry_date.is_some() {
                existing.expiry_date = ident.expiry_date;
            }
        } else {
            g.identifiers.push(ident);
        }
        self.ident_index
            .entry(k)
            .or_insert_with(|| gref.to_string());
    }

    pub fn unindex_identifiers(&mut self, ck: &str, gref: &str, ids: &[Identifier]) {
        for i in ids {
            let k = ident_key(ck, &i.provider, &i.id);
            if self.ident_index.get(&k).map(String::as_str) == Some(gref) {
                self.ident_index.remove(&k);
            }
        }
    }

    pub fn guest_json(&self, g: &Guest, base: &str, expand: bool) -> Value {
        let mut o = Map::new();
        o.insert(
            "href".into(),
            json!(format!("{base}/v2.1/guests/{}", g.gref)),
        );
        o.insert("ref".into(), json!(g.gref));
        o.insert("createdAt".into(), json!(iso_ms(g.created_at)));
        o.insert("modifiedAt".into(), json!(iso_ms(g.modified_at)));
        o.insert("firstSeen".into(), json!(iso_ms(g.first_seen)));
        o.insert("lastSeen".into(), json!(iso_ms(g.last_seen)));
        o.insert("guestType".into(), json!(g.guest_type));
        for (k, v) in &g.profile {
            o.insert(k.clone(), v.clone());
        }
        o.insert(
            "identifiers".into(),
            Value::Array(
                g.identifiers
                    .iter()
                    .map(|i| {
                        let mut m = Map::new();
                        m.insert("provider".into(), json!(i.provider));
                        m.insert("id".into(), json!(i.id));
                        if let Some(e) = &i.expiry_date {
                            m.insert("expiryDate".into(), json!(e));
                        }
                        Value::Object(m)
                    })
                    .collect(),
            ),
        );
        if expand {
            o.insert(
                "extensions".into(),
                Value::Array(
                    g.extensions
                        .iter()
                        .map(|(n, e)| ext_json(g, n, e, base))
                        .collect(),
                ),
            );
        } else {
            o.insert(
                "extensions".into(),
                json!({"href": format!("{base}/v2.1/guests/{}/extensions", g.gref)}),
            );
        }
        Value::Object(o)
    }

    /// Emulator-only view of a guest: the REST shape plus browsers, merge pointer and tenant.
    pub fn guest_inspect_json(&self, g: &Guest, base: &str) -> Value {
        let mut v = self.guest_json(g, base, true);
        let o = v.as_object_mut().expect("object");
        o.insert("clientKey".into(), json!(g.client_key));
        o.insert("browsers".into(), json!(g.browsers));
        o.insert("mergedInto".into(), json!(g.merged_into));
        v
    }

    // ----- sessions ------------------------------------------------------------------------------------

    /// Closes every open session whose inactivity timeout has passed at `now`.
    pub fn sweep(&mut self, now: i64) {
        let expired: Vec<String> = self
            .open
            .values()
            .flatten()
            .map(|(_, _, r)| r)
            .filter(|r| {
                self.sessions
                    .get(*r)
                    .is_some_and(|s| now - s.last_at > s.timeout_ms)
            })
            .cloned()
            .collect();
        for r in expired {
            let end = self
                .sessions
                .get(&r)
                .map(|s| s.last_at + s.timeout_ms)
                .unwrap_or(now);
            self.close_session(&r, end, "TIMEOUT");
        }
    }

    fn close_session(&mut self, sref: &str, end: i64, reason: &'static str) {
        let Some(s) = self.sessions.get_mut(sref) else {
            return;
        };
        if !s.open {
            return;
        }
        s.open = false;
        s.ended_at = Some(end);
        s.close_reason = Some(reason);
        let value: f64 = s
            .cart
            .values()
            .map(|l| {
                let p = l.get("price").and_then(Value::as_f64).unwrap_or(0.0);
                let q = l.get("quantity").and_then(Value::as_f64).unwrap_or(1.0);
                p * q
            })
            .sum();
        let value = (value * 100.0).round() / 100.0 + 0.0;
        let cart_type = if s.cart.is_empty() {
            if s.cart_cleared {
                "CLEARED"
            } else {
                "NONE"
            }
        } else if s.purchased {
            "PURCHASED"
        } else if !s.confirmed.is_empty() {
            "ABANDONED_CONFIRMED"
        } else {
            "ABANDONED"
        };
        let abandoned = cart_type.starts_with("ABANDONED");
        s.cart_outcome = Some(json!({
            "cartType": cart_type,
            "lines": s.cart.len(),
            "value": value,
            "abandonedRevenue": if abandoned { value } else { 0.0 },
            "revenue": if cart_type == "PURCHASED" { value } else { 0.0 },
        }));
        if let Some(b) = &s.browser_ref {
            if let Some(list) = self.open.get_mut(b) {
                list.retain(|(_, _, r)| r != sref);
                if list.is_empty() {
                    self.open.remove(b);
                }
            }
        }
        self.stats.sessions_closed += 1;
    }

    fn push_session(&mut self, s: Session, limits: &Limits) {
        while self.sessions.len() >= limits.max_sessions.max(1) {
            match self.session_order.pop_front() {
                Some(old) => {
                    if let Some(o) = self.sessions.remove(&old) {
                        if let Some(b) = o.browser_ref {
                            if let Some(list) = self.open.get_mut(&b) {
                                list.retain(|(_, _, r)| *r != o.sref);
                            }
                        }
                    }
                }
                None => break,
            }
        }
        self.session_order.push_back(s.sref.clone());
        self.sessions.insert(s.sref.clone(), s);
        self.stats.sessions_opened += 1;
    }

    fn new_session(
        ck: &str,
        browser: Option<&str>,
        guest: &str,
        channel: &str,
        pos: &str,
        timeout_ms: i64,
        now: i64,
    ) -> Session {
        Session {
            seq: next_seq(),
            sref: uuid_v4(),
            client_key: ck.to_string(),
            browser_ref: browser.map(str::to_string),
            guest_ref: guest.to_string(),
            channel: channel.to_string(),
            pos: pos.to_string(),
            open: true,
            timeout_ms,
            started_at: now,
            last_at: now,
            ended_at: None,
            close_reason: None,
            events: Vec::new(),
            event_count: 0,
            cart: BTreeMap::new(),
            cart_cleared: false,
            confirmed: Vec::new(),
            checkouts: 0,
            purchased: false,
            payments: 0,
            cart_outcome: None,
            session_data: Map::new(),
            flow_executions: Vec::new(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    /// The open session for (browser, channel, pos), closing an expired one and opening a new one as needed.
    fn session_for(
        &mut self,
        t: &Tenant,
        bid: &str,
        guest: &str,
        channel: &str,
        pos: &str,
        now: i64,
        limits: &Limits,
    ) -> String {
        let found = self
            .open
            .get(bid)
            .and_then(|l| l.iter().find(|(c, p, _)| c == channel && p == pos))
            .map(|(_, _, r)| r.clone());
        if let Some(sref) = found {
            match self.sessions.get_mut(&sref) {
                Some(s) if s.open && now - s.last_at <= s.timeout_ms => {
                    s.last_at = now.max(s.last_at);
                    if s.guest_ref != guest {
                        s.guest_ref = guest.to_string();
                    }
                    return sref;
                }
                Some(s) => {
                    let end = s.last_at + s.timeout_ms;
                    self.close_session(&sref, end, "TIMEOUT");
                }
                None => {
                    if let Some(l) = self.open.get_mut(bid) {
                        l.retain(|(_, _, r)| *r != sref);
                    }
                }
            }
        }
        let s = Self::new_session(
            &t.client_key,
            Some(bid),
            guest,
            channel,
            pos,
            t.timeout_ms(pos),
            now,
        );
        let sref = s.sref.clone();
        self.push_session(s, limits);
        self.open.entry(bid.to_string()).or_default().push((
            channel.to_string(),
            pos.to_string(),
            sref.clone(),
        ));
        sref
    }

    // ----- events --------------------------------------------------------------------------------------

    /// Accepts one Stream event (already parsed; `client_key`/`pos` already resolved by the caller).
    #[allow(clippy::too_many_arguments)]
    /// `ev` is the fully parsed event; it is only needed (and only parsed by the caller) for event types that
    /// carry data the emulator interprets (identity, cart) or when `session_data` is present.
    pub fn accept_event(
        &mut self,
        t: &Tenant,
        head: &EventHead,
        ev: Option<&Value>,
        pos: &str,
        body: &str,
        via: &'static str,
        now: i64,
        limits: &Limits,
    ) -> Result<Accepted, EventError> {
        let bid = head.browser_id;
        let kind = head.kind;
        let null = Value::Null;
        let ev = ev.unwrap_or(&null);
        if bid.is_empty() {
            *self
                .stats
                .events_rejected
                .entry("missing_browser_id".into())
                .or_insert(0) += 1;
            return Err(EventError::MissingBrowserId);
        }
        if kind.is_empty() {
            *self
                .stats
                .events_rejected
                .entry("missing_type".into())
                .or_insert(0) += 1;
            return Err(EventError::MissingType);
        }
        let Some(mut guest) = self.browser_guest(&t.client_key, bid) else {
            *self
                .stats
                .events_rejected
                .entry("unknown_browser".into())
                .or_insert(0) += 1;
            return Err(EventError::UnknownBrowser);
        };
        let channel = head.channel;
        let event_ref = uuid_v4();
        let flag = if t.known_pos(pos) {
            None
        } else {
            Some("unknown_pos")
        };
        let mut session_ref = None;
        if let Some(b) = self.browsers.get_mut(bid) {
            b.last_seen = now;
        }
        if flag.is_none() {
            // Events with an unknown point of sale are accepted but invisible (as the CDP docs warn), so
            // they neither open sessions nor resolve identities.
            let sref = self.session_for(t, bid, &guest, channel, pos, now, limits);
            if kind == "IDENTITY" {
                self.stats.identity_events += 1;
                guest = self.identify(t, &guest, bid, ev, now);
            }
            self.apply_to_session(&sref, kind, &event_ref, ev, now, limits);
            if kind == "FORCE_CLOSE" {
                self.close_session(&sref, now, "FORCE_CLOSE");
            }
            if let Some(g) = self.guests.get_mut(&guest) {
                g.last_seen = now;
            }
            session_ref = Some(sref);
        } else {
            self.stats.flagged_unknown_pos += 1;
        }
        match self.stats.events_accepted.get_mut(kind) {
            Some(c) => *c += 1,
            None => {
                // Event types are free-form: bound the number of distinct counters.
                let key = if self.stats.events_accepted.len() < MAX_DISTINCT_TYPES {
                    kind
                } else {
                    "(other)"
                };
                *self
                    .stats
                    .events_accepted
                    .entry(key.to_string())
                    .or_insert(0) += 1;
            }
        }
        self.event_seq += 1;
        while self.events.len() >= limits.max_events.max(1) {
            self.events.pop_front();
        }
        self.events.push_back(EventRec {
            seq: self.event_seq,
            event_ref: event_ref.clone(),
            at: now,
            client_key: t.client_key.clone(),
            browser_id: bid.to_string(),
            guest_ref: guest.clone(),
            kind: kind.to_string(),
            channel: channel.to_string(),
            pos: pos.to_string(),
            flag,
            session_ref,
            via,
            body: body.into(),
        });
        Ok(Accepted {
            event_ref,
            guest_ref: guest,
        })
    }

    fn apply_to_session(
        &mut self,
        sref: &str,
        kind: &str,
        event_ref: &str,
        ev: &Value,
        now: i64,
        limits: &Limits,
    ) {
        let Some(s) = self.sessions.get_mut(sref) else {
            return;
        };
        s.event_count += 1;
        if s.events.len() < limits.max_session_events {
            s.events.push(SessionEvent {
                event_ref: event_ref.to_string(),
                kind: kind.to_string(),
                at: now,
            });
        }
        if let Some(Value::Object(sd)) = ev.get("session_data") {
            for (k, v) in sd {
                s.session_data.insert(k.clone(), v.clone());
            }
        }
        match kind {
            "ADD" => {
                if let Some(p) = ev.get("product") {
                    let item = p.get("item_id").map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                    if let Some(item) = item.filter(|i| {
                        s.cart.contains_key(i) || s.cart.len() < limits.max_session_events
                    }) {
                        s.cart.insert(item, p.clone());
                        s.cart_cleared = false;
                    }
                }
            }
            "CONFIRM" => {
                if let Some(Value::Array(items)) = ev.get("product") {
                    for it in items {
                        if let Some(id) = it.get("item_id").and_then(Value::as_str) {
                            if s.cart.contains_key(id) && !s.confirmed.iter().any(|c| c == id) {
                                s.confirmed.push(id.to_string());
                            }
                        }
                    }
                }
            }
            "CHECKOUT" => {
                s.checkouts += 1;
                let st = str_field(ev, "status");
                if st.is_empty() || st.eq_ignore_ascii_case("PURCHASED") {
                    s.purchased = true;
                }
            }
            "PURCHASE" => s.purchased = true,
            "PAYMENT" => s.payments += 1,
            "CLEAR_CART" => {
                s.cart.clear();
                s.confirmed.clear();
                s.cart_cleared = true;
            }
            _ => {}
        }
    }

    // ----- identity resolution ---------------------------------------------------------------------------

    /// Runs the tenant's identity rules for an IDENTITY event; returns the surviving guest.
    fn identify(&mut self, t: &Tenant, guest: &str, bid: &str, ev: &Value, now: i64) -> String {
        let mut ids: Vec<Identifier> = Vec::new();
        if let Some(Value::Array(arr)) = ev.get("identifiers") {
            for i in arr {
                let provider = str_field(i, "provider");
                let id = str_field(i, "id");
                if !provider.is_empty() && !id.is_empty() {
                    ids.push(Identifier {
                        provider: provider.to_string(),
                        id: id.to_string(),
                        expiry_date: i
                            .get("expiry_date")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    });
                }
            }
        }
        let email = str_field(ev, "email");
        if !email.is_empty()
            && t.is_rule("email")
            && !ids.iter().any(|i| i.provider.eq_ignore_ascii_case("email"))
        {
            // Data model 2.0 tenants identify by the email PII field.
            ids.push(Identifier {
                provider: "email".into(),
                id: email.to_string(),
                expiry_date: None,
            });
        }
        let rule_ids: Vec<&Identifier> = ids.iter().filter(|i| t.is_rule(&i.provider)).collect();
        let owner = rule_ids.iter().find_map(|i| {
            self.find_by_identifier(&t.client_key, &i.provider, &i.id)
                .filter(|g| {
                    g != guest
                        && self
                            .guests
                            .get(g)
                            .is_some_and(|x| x.merged_into.is_none() && x.guest_type != "retired")
                })
        });
        let survivor = match owner {
            Some(target) => {
                let current_is_visitor = self
                    .guests
                    .get(guest)
                    .is_some_and(|g| g.guest_type == "visitor");
                if current_is_visitor {
                    self.merge_guest(guest, &target, now);
                } else {
                    // A known customer's browser is used by another known customer: move only this browser.
                    self.move_browser(bid, guest, &target);
                }
                target
            }
            None => guest.to_string(),
        };
        let has_rule = !rule_ids.is_empty();
        for i in ids {
            self.add_identifier(&survivor, i);
        }
        if let Some(g) = self.guests.get_mut(&survivor) {
            if has_rule && g.guest_type == "visitor" {
                g.guest_type = "customer".into();
            }
            copy_pii(g, ev);
            g.modified_at = now;
        }
        survivor
    }

    fn move_browser(&mut self, bid: &str, from: &str, to: &str) {
        if let Some(b) = self.browsers.get_mut(bid) {
            b.guest_ref = to.to_string();
        }
        if let Some(g) = self.guests.get_mut(from) {
            g.browsers.retain(|b| b != bid);
        }
        if let Some(g) = self.guests.get_mut(to) {
            if !g.browsers.iter().any(|b| b == bid) {
                g.browsers.push(bid.to_string());
            }
        }
        for s in self.sessions.values_mut() {
            if s.open && s.browser_ref.as_deref() == Some(bid) {
                s.guest_ref = to.to_string();
            }
        }
    }

    /// Retires `from` into `to`: browsers, sessions, events, identifiers, profile and extensions move.
    fn merge_guest(&mut self, from: &str, to: &str, now: i64) {
        let Some(mut old) = self.guests.remove(from) else {
            return;
        };
        for b in &old.browsers {
            if let Some(br) = self.browsers.get_mut(b) {
                br.guest_ref = to.to_string();
            }
        }
        for s in self.sessions.values_mut() {
            if s.guest_ref == from {
                s.guest_ref = to.to_string();
            }
        }
        for e in self.events.iter_mut() {
            if e.guest_ref == from {
                e.guest_ref = to.to_string();
            }
        }
        let ids = std::mem::take(&mut old.identifiers);
        for i in &ids {
            let k = ident_key(&old.client_key, &i.provider, &i.id);
            if self.ident_index.get(&k).map(String::as_str) == Some(from) {
                self.ident_index.insert(k, to.to_string());
            }
        }
        if let Some(g) = self.guests.get_mut(to) {
            for b in old.browsers.drain(..) {
                if !g.browsers.contains(&b) {
                    g.browsers.push(b);
                }
            }
            for (k, v) in &old.profile {
                g.profile.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for (n, e) in std::mem::take(&mut old.extensions) {
                g.extensions.entry(n).or_insert(e);
            }
            g.first_seen = g.first_seen.min(old.first_seen);
            g.last_seen = now;
            g.modified_at = now;
        }
        for i in ids {
            self.add_identifier(to, i);
        }
        old.guest_type = "retired".into();
        old.merged_into = Some(to.to_string());
        old.modified_at = now;
        self.guests.insert(from.to_string(), old);
        self.stats.merges += 1;
    }

    // ----- flows ---------------------------------------------------------------------------------------

    /// Executes a flow. `who` is how the guest was named (`browserId`/`email`/`identifiers`).
    #[allow(clippy::too_many_arguments)]
    pub fn execute_flow(
        &mut self,
        t: &Tenant,
        flow: &Flow,
        req: &Value,
        who: &str,
        key: &str,
        params: &Value,
        channel: &str,
        pos: &str,
        base: &str,
        now: i64,
        limits: &Limits,
    ) -> Value {
        let guest: Option<String> = match who {
            "browserId" if !key.is_empty() => self.browser_guest(&t.client_key, key),
            "email" => self.find_by_email(&t.client_key, key),
            "identifiers" => {
                let (p, i) = key.split_once('\0').unwrap_or(("", key));
                self.find_by_identifier(&t.client_key, p, i)
            }
            _ => None,
        };
        let (tpl, variant) = if flow.variants.is_empty() {
            (flow.template.clone().unwrap_or(Value::Null), None)
        } else {
            let bucket_key = guest.clone().unwrap_or_else(|| key.to_string());
            let total: u64 = flow.variants.iter().map(|v| v.weight as u64).sum();
            let mut h =
                fnv1a(format!("{bucket_key}\0{}", flow.friendly_id).as_bytes()) % total.max(1);
            let mut chosen = 0;
            for (i, v) in flow.variants.iter().enumerate() {
                if h < v.weight as u64 {
                    chosen = i;
                    break;
                }
                h -= v.weight as u64;
            }
            let v = &flow.variants[chosen];
            (v.template.clone(), Some((chosen, v.name.clone())))
        };
        // Session: the browser's session for browserId calls, a separate one per call otherwise.
        let mut session_ref: Option<String> = None;
        if let Some(g) = &guest {
            if who == "browserId" {
                session_ref = Some(self.session_for(t, key, g, channel, pos, now, limits));
            } else {
                let s =
                    Self::new_session(&t.client_key, None, g, channel, pos, t.timeout_ms(pos), now);
                let r = s.sref.clone();
                self.push_session(s, limits);
                session_ref = Some(r);
            }
        }
        let guest_v = match guest.as_deref().and_then(|g| self.guests.get(g)) {
            Some(g) => self.guest_json(g, base, true),
            None => json!({"ref": "", "guestType": "visitor"}),
        };
        let session_v = match session_ref.as_deref().and_then(|r| self.sessions.get(r)) {
            Some(s) => {
                json!({"ref": s.sref, "channel": s.channel, "pointOfSale": s.pos, "status": if s.open {"OPEN"} else {"CLOSED"},
                              "eventCount": s.event_count, "startedAt": iso_ms(s.started_at), "data": s.session_data})
            }
            None => json!({}),
        };
        let ctx = json!({
            "guest": guest_v,
            "session": session_v,
            "params": params,
            "request": req,
            "flow": {"friendlyId": flow.friendly_id},
            "variant": {"name": variant.as_ref().map(|v| v.1.clone()).unwrap_or_default(), "index": variant.as_ref().map(|v| v.0)},
        });
        let response = match &tpl {
            Value::String(s) => {
                let text = template::render_text(s, &ctx);
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            }
            other => template::render(other, &ctx),
        };
        let exec = json!({
            "ref": uuid_v4(),
            "at": iso_ms(now),
            "client_key": t.client_key,
            "friendly_id": str_field(req, "friendlyId"),
            "flow": flow.friendly_id,
            "variant": variant.as_ref().map(|v| v.1.clone()),
            "variant_index": variant.as_ref().map(|v| v.0),
            "identified_by": who,
            "key": if who == "identifiers" { key.replace('\0', ":") } else { key.to_string() },
            "guest_ref": guest,
            "session_ref": session_ref,
            "channel": channel,
            "point_of_sale": pos,
            "params": params,
            "response": response,
        });
        if let Some(s) = session_ref
            .as_deref()
            .and_then(|r| self.sessions.get_mut(r))
        {
            if s.flow_executions.len() < limits.max_session_events {
                s.flow_executions.push(exec.clone());
            }
        }
        while self.flow_execs.len() >= limits.max_flow_executions.max(1) {
            self.flow_execs.pop_front();
        }
        self.flow_execs.push_back(exec);
        self.stats.flow_executions += 1;
        response
    }

    // ----- inspection ----------------------------------------------------------------------------------

    pub fn session_json(&self, s: &Session) -> Value {
        json!({
            "ref": s.sref,
            "client_key": s.client_key,
            "browser_ref": s.browser_ref,
            "guest_ref": self.resolve_guest(&s.guest_ref),
            "channel": s.channel,
            "point_of_sale": s.pos,
            "status": if s.open { "OPEN" } else { "CLOSED" },
            "timeout_minutes": s.timeout_ms / 60_000,
            "started_at": iso_ms(s.started_at),
            "last_activity_at": iso_ms(s.last_at),
            "ended_at": s.ended_at.map(iso_ms),
            "duration_ms": s.ended_at.unwrap_or(s.last_at) - s.started_at,
            "close_reason": s.close_reason,
            "event_count": s.event_count,
            "events": s.events.iter().map(|e| json!({"ref": e.event_ref, "type": e.kind, "at": iso_ms(e.at)})).collect::<Vec<_>>(),
            "cart": {
                "lines": s.cart.values().cloned().collect::<Vec<_>>(),
                "confirmed_item_ids": s.confirmed,
                "cleared": s.cart_cleared,
                "checkouts": s.checkouts,
                "payments": s.payments,
                "purchased": s.purchased,
                "outcome": s.cart_outcome,
            },
            "session_data": s.session_data,
            "flow_executions": s.flow_executions,
        })
    }

    pub fn event_json(&self, e: &EventRec) -> Value {
        let body: Value =
            serde_json::from_str(&e.body).unwrap_or_else(|_| Value::String(e.body.to_string()));
        json!({
            "seq": e.seq,
            "ref": e.event_ref,
            "at": iso_ms(e.at),
            "type": e.kind,
            "browser_id": e.browser_id,
            "guest_ref": e.guest_ref,
            "current_guest_ref": self.resolve_guest(&e.guest_ref),
            "client_key": e.client_key,
            "channel": e.channel,
            "pos": e.pos,
            "flag": e.flag,
            "session_ref": e.session_ref,
            "via": e.via,
            "body": body,
        })
    }
}

fn copy_pii(g: &mut Guest, ev: &Value) {
    for (from, to) in PII_MAP {
        match ev.get(*from) {
            Some(Value::Null) | None => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(v) => {
                g.profile.insert((*to).to_string(), v.clone());
            }
        }
    }
    if let Some(e) = ev
        .get("email")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
    {
        let emails = g.profile.entry("emails").or_insert_with(|| json!([]));
        if let Value::Array(a) = emails {
            if !a.iter().any(|x| x.as_str() == Some(e)) {
                a.push(json!(e));
            }
        }
    }
    for k in ["phone", "mobile"] {
        if let Some(p) = ev.get(k).and_then(Value::as_str).filter(|p| !p.is_empty()) {
            let phones = g.profile.entry("phoneNumbers").or_insert_with(|| json!([]));
            if let Value::Array(a) = phones {
                if !a.iter().any(|x| x.as_str() == Some(p)) {
                    a.push(json!(p));
                }
            }
        }
    }
}

pub fn ext_json(g: &Guest, name: &str, e: &Extension, base: &str) -> Value {
    let mut o = Map::new();
    o.insert(
        "href".into(),
        json!(format!("{base}/v2.1/guests/{}/extensions/{name}", g.gref)),
    );
    o.insert("ref".into(), json!(e.ext_ref));
    o.insert("name".into(), json!(name));
    o.insert("key".into(), json!("default"));
    o.insert("createdAt".into(), json!(iso_ms(e.created_at)));
    o.insert("modifiedAt".into(), json!(iso_ms(e.modified_at)));
    o.insert(
        "guest".into(),
        json!({"href": format!("{base}/v2.1/guests/{}", g.gref)}),
    );
    for (k, v) in &e.fields {
        o.insert(k.clone(), v.clone());
    }
    Value::Object(o)
}
