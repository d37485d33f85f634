//! Sessions keyed by (browser, channel, point of sale): opening, inactivity timeout, closing with the cart outcome.

use super::*;
use crate::clock::iso_ms;
use crate::ids::uuid_v4;
use serde_json::json;

impl Store {
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

    pub(super) fn close_session(&mut self, sref: &str, end: i64, reason: &'static str) {
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

    pub(super) fn push_session(&mut self, s: Session, limits: &Limits) {
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

    pub(super) fn new_session(
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
    pub(super) fn session_for(
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
}
