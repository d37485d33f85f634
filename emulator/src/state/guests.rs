//! Guests, browsers, identifiers and guest data extensions (Guest REST shapes included).

use super::*;
use crate::clock::iso_ms;
use crate::ids::uuid_v4;
use serde_json::json;

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
