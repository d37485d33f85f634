//! Event acceptance (the hot path), the per-session record and carts, and the inspection shape of an event.

use super::*;
use crate::clock::iso_ms;
use crate::ids::uuid_v4;
use serde_json::json;

impl Store {
    /// Accepts one Stream event (already parsed; `client_key`/`pos` already resolved by the caller).
    /// `ev` is the fully parsed event; it is only needed (and only parsed by the caller) for event types that
    /// carry data the emulator interprets (identity, cart) or when `session_data` is present.
    #[allow(clippy::too_many_arguments)]
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

    pub(super) fn apply_to_session(
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
