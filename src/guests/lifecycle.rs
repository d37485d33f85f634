//! The guest lifecycle over Guest REST v2.1: registration (`POST /v2.1/guests`, then its data extensions),
//! replace (`PUT`), partial update (`PATCH`) and delete (`DELETE`, the right to be forgotten).
//!
//! Everything a registration sends is checked before the first request, so bad input never leaves a guest
//! half-made. A registration is one budget: the guest and its extensions share the call's timeout.

use super::profile::{guest_body, ProfileMode};
use super::validate;
use super::GuestApi;
use crate::error::{Error, ErrorKind, Result};
use reqwest::Method;
use serde_json::{Map, Value};
use std::time::Instant;

/// The guest ref of a Guest REST answer: `ref`, else the last segment of `href`.
pub fn guest_ref_of(guest: &Value) -> Option<String> {
    guest
        .get("ref")
        .and_then(Value::as_str)
        .or_else(|| guest.get("href").and_then(Value::as_str).and_then(|h| h.rsplit('/').next()))
        .filter(|r| validate::check_guest_ref(r).is_ok())
        .map(str::to_string)
}

/// The values a server message may echo that must not reach an error (personal data of the body).
fn personal_values(body: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in body {
        match v {
            Value::String(s) if k != "guestType" => out.push(s.clone()),
            Value::Array(a) => {
                for it in a {
                    match it {
                        Value::String(s) => out.push(s.clone()),
                        Value::Object(o) => out.extend(o.get("id").and_then(Value::as_str).map(str::to_string)),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Extensions of a registration, checked: `{"ext": {...}, "ext1": {...}}` (or null / absent for none).
fn extension_bodies(extensions: &Value) -> Result<Vec<(String, Map<String, Value>)>> {
    let list = match extensions {
        Value::Null => return Ok(Vec::new()),
        Value::Object(o) => o,
        _ => return Err(Error::new(ErrorKind::InvalidExt, "extensions must be a JSON object of extension name to key/values")),
    };
    let mut out = Vec::with_capacity(list.len());
    for (name, data) in list {
        out.push((name.clone(), validate::extension_body(name, data)?));
    }
    // Keys are unique across a guest's extensions: a new guest has only these.
    let known: Vec<(String, Vec<String>)> = out.iter().map(|(n, b)| (n.clone(), b.keys().cloned().collect())).collect();
    for (name, body) in &out {
        validate::check_against(name, body, &known, true)?;
    }
    Ok(out)
}

impl GuestApi<'_> {
    /// `POST /v2.1/guests`: creates a guest (no de-duplication: search first). Returns the created guest.
    pub fn create_guest(&self, guest: &Value) -> Result<Value> {
        self.register(guest, &Value::Null)
    }

    /// Registration: `POST /v2.1/guests` with `guest` (guestType, email, names, identifiers, ...), then one
    /// `POST …/extensions` per entry of `extensions` (`{"ext": {"loyaltyTier": "gold"}}`), all within this
    /// value's one timeout. Returns the guest with `extensions` replaced by the created extensions. When an
    /// extension fails after the guest was created the error says so and names the guest ref (the guest is
    /// kept: it was accepted, and the caller may retry the extension).
    pub fn register(&self, guest: &Value, extensions: &Value) -> Result<Value> {
        let body = guest_body(guest, ProfileMode::Create)?;
        let exts = extension_bodies(extensions)?;
        let deadline = Instant::now() + self.timeout;
        let mask = personal_values(&body);
        let mask: Vec<&str> = mask.iter().map(String::as_str).collect();
        let mut created = self.call(Method::POST, "/v2.1/guests".to_string(), Some(Value::Object(body)), &mask)?;
        if exts.is_empty() {
            return Ok(created);
        }
        let gref = guest_ref_of(&created)
            .ok_or_else(|| Error::new(ErrorKind::UnexpectedStatus, "the Guest API created a guest but its answer names no guest ref"))?;
        let mut done = Vec::with_capacity(exts.len());
        for (name, body) in exts {
            let left = deadline.saturating_duration_since(Instant::now());
            let outcome = if left.is_zero() {
                Err(Error::new(ErrorKind::Timeout, "the budget was spent"))
            } else {
                let values = personal_values(&body);
                let values: Vec<&str> = values.iter().map(String::as_str).collect();
                let mut ordered = Map::new();
                ordered.insert("name".into(), Value::String(name.clone()));
                ordered.extend(body);
                let api = GuestApi { guests: self.guests, timeout: left };
                api.call(Method::POST, format!("/v2.1/guests/{gref}/extensions"), Some(Value::Object(ordered)), &values)
            };
            match outcome {
                Ok(x) => done.push(x),
                Err(e) => {
                    return Err(Error::new(e.kind, format!("guest {gref} was created, but its data extension {name} was not: {}", e.message)));
                }
            }
        }
        if let Some(o) = created.as_object_mut() {
            o.insert("extensions".into(), Value::Array(done));
        }
        Ok(created)
    }

    /// `PATCH /v2.1/guests/{ref}`: updates only the attributes sent (`null` clears one). Returns the guest.
    pub fn update_guest(&self, guest_ref: &str, changes: &Value) -> Result<Value> {
        self.write_guest(Method::PATCH, guest_ref, changes, ProfileMode::Patch)
    }

    /// `PUT /v2.1/guests/{ref}`: replaces every attribute (guestType required). Returns the guest.
    pub fn replace_guest(&self, guest_ref: &str, guest: &Value) -> Result<Value> {
        self.write_guest(Method::PUT, guest_ref, guest, ProfileMode::Replace)
    }

    fn write_guest(&self, method: Method, guest_ref: &str, guest: &Value, mode: ProfileMode) -> Result<Value> {
        validate::check_guest_ref(guest_ref)?;
        let body = guest_body(guest, mode)?;
        let mask = personal_values(&body);
        let mask: Vec<&str> = mask.iter().map(String::as_str).collect();
        self.call(method, format!("/v2.1/guests/{guest_ref}"), Some(Value::Object(body)), &mask)
    }

    /// `DELETE /v2.1/guests/{ref}`: irreversible; CDP also deletes the guest's orders, sessions, events and
    /// extensions (the right to be forgotten). `Value::Null` when the server sends no body.
    pub fn delete_guest(&self, guest_ref: &str) -> Result<Value> {
        validate::check_guest_ref(guest_ref)?;
        self.call(Method::DELETE, format!("/v2.1/guests/{guest_ref}"), None, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registration_extensions_are_checked_together() {
        assert!(extension_bodies(&Value::Null).unwrap().is_empty());
        let two = extension_bodies(&json!({"ext": {"tier": "gold"}, "ext1": {"points": 3}})).unwrap();
        assert_eq!(two.len(), 2);
        for bad in [json!({"ext": {"tier": "gold"}, "ext1": {"tier": "x"}}), json!({"ext7": {"a": 1}}), json!([1]), json!({"ext": {"a": [1]}})] {
            assert_eq!(extension_bodies(&bad).unwrap_err().kind, ErrorKind::InvalidExt, "{bad}");
        }
    }

    #[test]
    fn server_echoes_of_personal_data_are_scrubbed() {
        let body = guest_body(
            &json!({"guestType": "customer", "email": "ann.lee@example.com", "lastName": "Lee-Smith", "phoneNumbers": ["+353 1 555 0100"],
                    "identifiers": [{"provider": "CRM", "id": "C-1001"}]}),
            ProfileMode::Create,
        )
        .unwrap();
        // As `call` builds its mask from these values.
        let mask: Vec<String> = personal_values(&body).into_iter().filter(|v| v.len() >= 3).collect();
        let echo = br#"{"message":"The request is invalid.","developerMessage":"ann.lee@example.com Lee-Smith +353 1 555 0100 C-1001 customer"}"#;
        let e = super::super::status_error("Guest API POST", 400, echo, &mask);
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        for pii in ["ann.lee", "Lee-Smith", "555 0100", "C-1001"] {
            assert!(!e.message.contains(pii), "{pii}: {}", e.message);
        }
        assert!(e.message.contains("400") && e.message.contains("customer"), "{}", e.message);
    }

    #[test]
    fn refs_from_answers() {
        assert_eq!(guest_ref_of(&json!({"ref": "abc-1"})).as_deref(), Some("abc-1"));
        assert_eq!(guest_ref_of(&json!({"href": "http://h/v2.1/guests/abc-2"})).as_deref(), Some("abc-2"));
        assert_eq!(guest_ref_of(&json!({"ref": "../x"})), None);
    }
}
