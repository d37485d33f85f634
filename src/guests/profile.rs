//! Client-side checks of a guest body for `POST /v2.1/guests` (create), `PUT` (replace) and `PATCH`
//! (partial update), so a mistake gets a clear error before any request and no half-written guest.
//!
//! Only the documented guest attributes are accepted; an unknown key is refused rather than sent, because
//! the Stream spellings (`firstname`, `postal_code`, `expiry_date`) differ from the REST ones (`firstName`,
//! `postCode`, `expiryDate`) and a silently dropped field is worse than an error. Messages name the key,
//! never the value (values are personal data).

use crate::error::{Error, ErrorKind, Result};
use crate::model::validate::{check_no_control, is_valid_email, MAX_SHORT, MAX_TEXT};
use serde_json::{Map, Value};

pub const GUEST_TYPES: &[&str] = &["visitor", "customer", "traveller"];
/// Identifiers per guest body: far more than any real registration sends, small enough to keep bodies sane.
pub const MAX_IDENTIFIERS: usize = 32;
/// Entries of `emails`, `phoneNumbers` and `street`.
pub const MAX_LIST: usize = 32;

/// Short text attributes (names, codes).
const SHORT: &[&str] = &["title", "firstName", "lastName", "gender", "nationality", "passportNumber", "city", "state", "postCode", "language"];
/// Attributes CDP sets itself; sending them back is a caller mistake worth naming.
const OUTPUT_ONLY: &[&str] = &["href", "ref", "createdAt", "modifiedAt", "firstSeen", "lastSeen", "extensions"];
const LISTS: &[&str] = &["emails", "phoneNumbers", "street"];

/// Which guest write a body is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileMode {
    /// `POST /v2.1/guests`: `guestType` required, no nulls.
    Create,
    /// `PUT /v2.1/guests/{ref}`: the whole guest; `guestType` required, no nulls.
    Replace,
    /// `PATCH /v2.1/guests/{ref}`: only the keys sent; `null` clears an attribute, `guestType` may not be cleared.
    Patch,
}

fn bad(kind: ErrorKind, msg: impl Into<String>) -> Error {
    Error::new(kind, msg)
}

fn shown(k: &str) -> String {
    k.chars().filter(|c| c.is_ascii_graphic()).take(40).collect()
}

/// The body to send, checked: every key documented, every value of its type and within its limit.
pub fn guest_body(data: &Value, mode: ProfileMode) -> Result<Map<String, Value>> {
    let Value::Object(o) = data else {
        return Err(bad(ErrorKind::InvalidArgument, "a guest must be a JSON object of attributes"));
    };
    if mode == ProfileMode::Patch && o.is_empty() {
        return Err(bad(ErrorKind::InvalidArgument, "a guest update needs at least one attribute"));
    }
    if mode != ProfileMode::Patch && !o.contains_key("guestType") {
        return Err(bad(ErrorKind::InvalidField, "\"guestType\" is required (visitor, customer or traveller)"));
    }
    for (k, v) in o {
        if v.is_null() {
            if mode != ProfileMode::Patch || k == "guestType" {
                return Err(bad(ErrorKind::InvalidField, format!("\"{}\" is null (only a partial update may clear an attribute, and never guestType)", shown(k))));
            }
            check_known(k)?;
            continue;
        }
        check_attribute(k, v)?;
    }
    Ok(o.clone())
}

fn check_known(k: &str) -> Result<()> {
    let known = k == "guestType" || k == "email" || k == "dateOfBirth" || k == "passportExpiry" || k == "country" || k == "identifiers";
    if known || SHORT.contains(&k) || LISTS.contains(&k) {
        return Ok(());
    }
    if OUTPUT_ONLY.contains(&k) {
        return Err(bad(ErrorKind::InvalidField, format!("\"{k}\" is set by CDP and cannot be written")));
    }
    Err(bad(ErrorKind::InvalidField, format!("\"{}\" is not a Guest REST v2.1 attribute (data of your own goes into a data extension)", shown(k))))
}

fn text<'v>(k: &str, v: &'v Value, max: usize) -> Result<&'v str> {
    let s = v.as_str().ok_or_else(|| bad(ErrorKind::InvalidField, format!("\"{k}\" must be a string")))?;
    if s.len() > max {
        return Err(bad(ErrorKind::TooLarge, format!("\"{k}\" is longer than {max} bytes")));
    }
    check_no_control(k, s)?;
    Ok(s)
}

fn check_attribute(k: &str, v: &Value) -> Result<()> {
    check_known(k)?;
    match k {
        "guestType" => {
            if !v.as_str().is_some_and(|s| GUEST_TYPES.contains(&s)) {
                return Err(bad(ErrorKind::InvalidField, "\"guestType\" must be visitor, customer or traveller"));
            }
        }
        "email" => check_email(k, v)?,
        "dateOfBirth" => {
            let d = check_date(k, v)?;
            if d.as_str() >= today().as_str() {
                return Err(bad(ErrorKind::InvalidDate, "\"dateOfBirth\" must be in the past"));
            }
        }
        "passportExpiry" => {
            check_date(k, v)?;
        }
        "country" => {
            let s = text(k, v, 2)?;
            if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(bad(ErrorKind::InvalidField, "\"country\" must be an ISO 3166-1 alpha-2 code such as \"IE\""));
            }
        }
        "identifiers" => check_identifiers(v)?,
        "emails" | "phoneNumbers" | "street" => {
            let a = v.as_array().ok_or_else(|| bad(ErrorKind::InvalidField, format!("\"{k}\" must be an array of strings")))?;
            if a.len() > MAX_LIST {
                return Err(bad(ErrorKind::TooLarge, format!("\"{k}\" holds at most {MAX_LIST} entries")));
            }
            for item in a {
                if k == "emails" {
                    check_email(k, item)?;
                } else {
                    text(k, item, MAX_SHORT)?;
                }
            }
        }
        _ => {
            text(k, v, MAX_SHORT)?;
        }
    }
    Ok(())
}

fn check_email(k: &str, v: &Value) -> Result<()> {
    let s = text(k, v, MAX_TEXT)?;
    if !is_valid_email(s) {
        return Err(bad(ErrorKind::InvalidEmail, format!("\"{k}\" holds an invalid e-mail address")));
    }
    Ok(())
}

fn check_identifiers(v: &Value) -> Result<()> {
    let a = v.as_array().ok_or_else(|| bad(ErrorKind::MissingIdentifiers, "\"identifiers\" must be an array of {provider, id[, expiryDate]}"))?;
    if a.len() > MAX_IDENTIFIERS {
        return Err(bad(ErrorKind::TooLarge, format!("\"identifiers\" holds at most {MAX_IDENTIFIERS} entries")));
    }
    for (i, it) in a.iter().enumerate() {
        let Some(o) = it.as_object() else {
            return Err(bad(ErrorKind::MissingIdentifiers, format!("identifiers[{i}] must be an object {{provider, id[, expiryDate]}}")));
        };
        for (k, v) in o {
            match k.as_str() {
                "provider" | "id" => {
                    let s = text(&format!("identifiers[{i}].{k}"), v, if k == "id" { MAX_TEXT } else { MAX_SHORT })?;
                    if s.trim().is_empty() {
                        return Err(bad(ErrorKind::MissingIdentifiers, format!("identifiers[{i}].{k} is empty")));
                    }
                }
                "expiryDate" => {
                    check_date(&format!("identifiers[{i}].expiryDate"), v)?;
                }
                "expiry_date" => return Err(bad(ErrorKind::InvalidField, format!("identifiers[{i}]: Guest REST spells it \"expiryDate\""))),
                _ => return Err(bad(ErrorKind::InvalidField, format!("identifiers[{i}].{} is not an identifier attribute", shown(k)))),
            }
        }
        if !o.contains_key("provider") || !o.contains_key("id") {
            return Err(bad(ErrorKind::MissingIdentifiers, format!("identifiers[{i}] needs a provider and an id")));
        }
    }
    Ok(())
}

/// An ISO 8601 date (`YYYY-MM-DD`) or date-time (`YYYY-MM-DDTHH:MM…`) naming a real day; returns `YYYY-MM-DD`.
fn check_date(k: &str, v: &Value) -> Result<String> {
    let s = text(k, v, 64)?;
    let invalid = || bad(ErrorKind::InvalidDate, format!("\"{k}\" must be an ISO 8601 date or date-time such as 1990-05-17T00:00:00.000Z"));
    let day = s.get(..10).ok_or_else(invalid)?;
    let rest = &s[10..];
    if !rest.is_empty() && !rest.starts_with('T') {
        return Err(invalid());
    }
    let minute = if rest.len() >= 6 { format!("{day}{}", &rest[..6]) } else { format!("{day}T00:00") };
    if !crate::model::validate::is_short_iso_date(&minute) {
        return Err(invalid());
    }
    Ok(day.to_string())
}

fn today() -> String {
    crate::transport::utc_now_iso8601()[..10].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documented_attributes_pass_and_mistakes_are_named() {
        let ok = json!({"guestType": "customer", "email": "a@b.co", "firstName": "Ann", "lastName": "Lee", "country": "IE",
            "dateOfBirth": "1990-05-17T00:00:00.000Z", "emails": ["a@b.co"], "street": ["1 Main St"],
            "identifiers": [{"provider": "CRM", "id": "C-1", "expiryDate": "2030-01-01T00:00:00.000Z"}]});
        assert_eq!(guest_body(&ok, ProfileMode::Create).unwrap().len(), 9);
        let cases = [
            (json!({"email": "a@b.co"}), ProfileMode::Create, ErrorKind::InvalidField),
            (json!({"guestType": "alien"}), ProfileMode::Create, ErrorKind::InvalidField),
            (json!({"guestType": "visitor", "firstname": "x"}), ProfileMode::Create, ErrorKind::InvalidField),
            (json!({"guestType": "visitor", "ref": "x"}), ProfileMode::Create, ErrorKind::InvalidField),
            (json!({"guestType": "visitor", "email": "nope"}), ProfileMode::Create, ErrorKind::InvalidEmail),
            (json!({"guestType": "visitor", "country": "Ireland"}), ProfileMode::Create, ErrorKind::TooLarge),
            (json!({"guestType": "visitor", "country": "ie"}), ProfileMode::Create, ErrorKind::InvalidField),
            (json!({"guestType": "visitor", "dateOfBirth": "2999-01-01"}), ProfileMode::Create, ErrorKind::InvalidDate),
            (json!({"guestType": "visitor", "dateOfBirth": "1990-02-30"}), ProfileMode::Create, ErrorKind::InvalidDate),
            (json!({"guestType": "visitor", "identifiers": [{"provider": "CRM"}]}), ProfileMode::Create, ErrorKind::MissingIdentifiers),
            (json!({"guestType": "visitor", "identifiers": [{"provider": "CRM", "id": "1", "expiry_date": "x"}]}), ProfileMode::Create, ErrorKind::InvalidField),
            (json!({"guestType": "visitor", "firstName": "a\nb"}), ProfileMode::Create, ErrorKind::InvalidField),
            (json!({"guestType": "visitor", "firstName": null}), ProfileMode::Replace, ErrorKind::InvalidField),
            (json!({"guestType": null}), ProfileMode::Patch, ErrorKind::InvalidField),
            (json!({}), ProfileMode::Patch, ErrorKind::InvalidArgument),
            (json!([1]), ProfileMode::Patch, ErrorKind::InvalidArgument),
        ];
        for (body, mode, kind) in cases {
            let e = guest_body(&body, mode).unwrap_err();
            assert_eq!(e.kind, kind, "{body}: {}", e.message);
        }
        assert_eq!(guest_body(&json!({"lastName": null, "firstName": "Jo"}), ProfileMode::Patch).unwrap().len(), 2);
        assert_eq!(guest_body(&json!({"guestType": "visitor", "dateOfBirth": "1990-05-17"}), ProfileMode::Create).unwrap().len(), 2);
    }

    #[test]
    fn messages_never_carry_values() {
        let e = guest_body(&json!({"guestType": "visitor", "email": "secret-person@"}), ProfileMode::Create).unwrap_err();
        assert!(!e.message.contains("secret-person"), "{}", e.message);
    }
}
