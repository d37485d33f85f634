//! Identity rules for IDENTITY events: attaching identifiers, turning visitors into customers, merging guests.

use super::*;
use serde_json::json;

impl Store {
    /// Runs the tenant's identity rules for an IDENTITY event; returns the surviving guest.
    pub(super) fn identify(
        &mut self,
        t: &Tenant,
        guest: &str,
        bid: &str,
        ev: &Value,
        now: i64,
    ) -> String {
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

    pub(super) fn move_browser(&mut self, bid: &str, from: &str, to: &str) {
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
    pub(super) fn merge_guest(&mut self, from: &str, to: &str, now: i64) {
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
