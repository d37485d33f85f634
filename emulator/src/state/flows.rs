//! Personalize flow execution: guest lookup, sticky experiment bucketing, template rendering, recording.

use super::*;
use crate::clock::iso_ms;
use crate::ids::{fnv1a, uuid_v4};
use serde_json::json;

impl Store {
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
}
