//! Guest REST: guests (create / search / read / PUT / PATCH / DELETE).

use super::{bad, check_path, expand, paging, Authed, JsonBody};
use crate::app::App;
use crate::clock::iso_ms;
use crate::http::{Out, Params};
use crate::state::{Identifier, Store, Tenant};
use axum::extract::{Path, State};
use axum::http::Method;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const GUEST_TYPES: &[&str] = &["visitor", "customer", "traveller"];
/// Output-only attributes: ignored when a client sends them back.
const GUEST_SYSTEM: &[&str] = &[
    "href",
    "ref",
    "createdAt",
    "modifiedAt",
    "firstSeen",
    "lastSeen",
    "extensions",
    "guestType",
    "identifiers",
];

/// `POST /v2.1/guests` (no de-duplication: search first).
pub async fn create(State(app): State<Arc<App>>, Authed(t): Authed, body: JsonBody) -> Out {
    let now = app.now();
    let mut st = app.store.lock();
    create_guest(&app, &mut st, &t, &body, now)
}

/// `GET /v2.1/guests?email=|identifiers.provider=&identifiers.id=`, paged.
pub async fn find(State(app): State<Arc<App>>, Authed(t): Authed, q: Params) -> Out {
    let st = app.store.lock();
    search(&st, &t, &q, &app.base_url)
}

/// `GET /v2.1/guests/{ref}`.
pub async fn read(
    State(app): State<Arc<App>>,
    Authed(t): Authed,
    Path(gref): Path<String>,
    q: Params,
) -> Out {
    let st = app.store.lock();
    if let Err(e) = check_path(&st, &t, &gref, None) {
        return e;
    }
    Out::json(
        200,
        &st.guest_json(&st.guests[&gref], &app.base_url, expand(&q)),
    )
}

/// `PUT` (replace) / `PATCH` (merge; null removes) `/v2.1/guests/{ref}`.
pub async fn update(
    State(app): State<Arc<App>>,
    Authed(t): Authed,
    Path(gref): Path<String>,
    method: Method,
    q: Params,
    body: JsonBody,
) -> Out {
    let now = app.now();
    let mut st = app.store.lock();
    if let Err(e) = check_path(&st, &t, &gref, None) {
        return e;
    }
    let replace = method == Method::PUT;
    update_guest(&mut st, &t, &body, &q, &gref, replace, &app.base_url, now)
}

/// `DELETE /v2.1/guests/{ref}`: 200, cascades to browsers, sessions and extensions.
pub async fn delete(
    State(app): State<Arc<App>>,
    Authed(t): Authed,
    Path(gref): Path<String>,
) -> Out {
    let mut st = app.store.lock();
    if let Err(e) = check_path(&st, &t, &gref, None) {
        return e;
    }
    st.remove_guest(&gref, true);
    Out::empty(200)
}

fn parse_identifiers(v: &Value) -> Result<Vec<Identifier>, Out> {
    let Value::Array(a) = v else {
        return Err(bad("identifiers must be an array"));
    };
    a.iter()
        .map(|i| {
            let provider = i.get("provider").and_then(Value::as_str).unwrap_or("");
            let id = i.get("id").and_then(Value::as_str).unwrap_or("");
            if provider.is_empty() || id.is_empty() {
                return Err(bad("each identifier needs a non-empty provider and id"));
            }
            Ok(Identifier {
                provider: provider.into(),
                id: id.into(),
                expiry_date: i
                    .get("expiryDate")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        })
        .collect()
}

fn check_guest_type(o: &Map<String, Value>, required: bool) -> Result<Option<String>, Out> {
    match o.get("guestType") {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s)) if GUEST_TYPES.contains(&s.as_str()) => Ok(Some(s.clone())),
        _ => Err(bad(
            "guestType is required and must be one of visitor, customer, traveller",
        )),
    }
}

/// Text attributes of a guest.
const TEXT: &[&str] = &[
    "title",
    "firstName",
    "lastName",
    "gender",
    "email",
    "nationality",
    "passportNumber",
    "city",
    "state",
    "country",
    "postCode",
    "language",
    "dateOfBirth",
    "passportExpiry",
];
const LISTS: &[&str] = &["emails", "phoneNumbers", "street"];

/// The documented attributes with their types (null clears one in a PATCH): a misspelt or unknown
/// attribute is a 400, as is a date of birth that is not an ISO 8601 date in the past.
fn check_profile(o: &Map<String, Value>, now: i64) -> Result<(), Out> {
    for (k, v) in o {
        let k = k.as_str();
        if GUEST_SYSTEM.contains(&k) || v.is_null() && (TEXT.contains(&k) || LISTS.contains(&k)) {
            continue;
        }
        if LISTS.contains(&k) {
            if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                return Err(bad(&format!("{k} must be an array of strings")));
            }
            continue;
        }
        if !TEXT.contains(&k) {
            return Err(bad(&format!("{k} is not a guest attribute")));
        }
        let Some(s) = v.as_str() else {
            return Err(bad(&format!("{k} must be a string")));
        };
        match k {
            "email" if !s.contains('@') => return Err(bad("email is not a valid e-mail address")),
            "country" if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_uppercase()) => {
                return Err(bad("country must be an ISO 3166-1 alpha-2 code"))
            }
            "dateOfBirth" | "passportExpiry" => {
                let day = s.get(..10).filter(|d| is_iso_day(d));
                let Some(day) = day else {
                    return Err(bad(&format!("{k} must be an ISO 8601 date-time")));
                };
                if k == "dateOfBirth" && day >= &iso_ms(now)[..10] {
                    return Err(bad("dateOfBirth must be in the past"));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_iso_day(d: &str) -> bool {
    let b = d.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 10 && b[4] == b'-' && b[7] == b'-' && digits(0..4) && digits(5..7) && digits(8..10) && {
        let (m, day): (u32, u32) = (d[5..7].parse().unwrap_or(0), d[8..10].parse().unwrap_or(0));
        (1..=12).contains(&m) && (1..=31).contains(&day)
    }
}

fn create_guest(app: &App, st: &mut Store, t: &Tenant, body: &JsonBody, now: i64) -> Out {
    let o = match body.object() {
        Ok(o) => o,
        Err(e) => return e,
    };
    let gt = match check_guest_type(&o, true) {
        Ok(g) => g.expect("required"),
        Err(e) => return e,
    };
    if let Err(e) = check_profile(&o, now) {
        return e;
    }
    let ids = match o.get("identifiers") {
        Some(v) => match parse_identifiers(v) {
            Ok(i) => i,
            Err(e) => return e,
        },
        None => Vec::new(),
    };
    let gref = st.new_guest(&t.client_key, &gt, now, &app.limits);
    {
        let g = st.guests.get_mut(&gref).expect("new");
        for (k, v) in &o {
            if !GUEST_SYSTEM.contains(&k.as_str()) && !v.is_null() {
                g.profile.insert(k.clone(), v.clone());
            }
        }
    }
    for i in ids {
        st.add_identifier(&gref, i);
    }
    let g = &st.guests[&gref];
    let v = st.guest_json(g, &app.base_url, false);
    let mut out = Out::json(201, &v);
    out.headers
        .push(("location", v["href"].as_str().unwrap_or("").to_string()));
    out
}

#[allow(clippy::too_many_arguments)]
fn update_guest(
    st: &mut Store,
    t: &Tenant,
    body: &JsonBody,
    q: &Params,
    gref: &str,
    replace: bool,
    base: &str,
    now: i64,
) -> Out {
    let o = match body.object() {
        Ok(o) => o,
        Err(e) => return e,
    };
    let gt = match check_guest_type(&o, replace) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Err(e) = check_profile(&o, now) {
        return e;
    }
    let ids = match o.get("identifiers") {
        Some(v) => match parse_identifiers(v) {
            Ok(i) => Some(i),
            Err(e) => return e,
        },
        None => None,
    };
    let old_ids = {
        let g = st.guests.get_mut(gref).expect("checked");
        if replace {
            g.profile.clear();
        }
        for (k, v) in &o {
            if GUEST_SYSTEM.contains(&k.as_str()) {
                continue;
            }
            if v.is_null() {
                g.profile.remove(k);
            } else {
                g.profile.insert(k.clone(), v.clone());
            }
        }
        if let Some(gt) = gt {
            g.guest_type = gt;
        }
        g.modified_at = now;
        if ids.is_some() {
            std::mem::take(&mut g.identifiers)
        } else {
            Vec::new()
        }
    };
    if let Some(ids) = ids {
        st.unindex_identifiers(&t.client_key, gref, &old_ids);
        for i in ids {
            st.add_identifier(gref, i);
        }
    }
    let g = &st.guests[gref];
    Out::json(200, &st.guest_json(g, base, expand(q)))
}

fn search(st: &Store, t: &Tenant, q: &Params, base: &str) -> Out {
    let (offset, limit) = match paging(q) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let email = q.get("email").filter(|e| !e.is_empty());
    let provider = q.get("identifiers.provider").filter(|e| !e.is_empty());
    let id = q.get("identifiers.id").filter(|e| !e.is_empty());
    if provider.is_some() != id.is_some() {
        return bad("identifiers.provider and identifiers.id must be given together");
    }
    let mut gs: Vec<_> = st
        .guests
        .values()
        .filter(|g| {
            g.client_key == t.client_key && g.merged_into.is_none() && g.guest_type != "retired"
        })
        .filter(|g| {
            email.is_none_or(|e| {
                g.profile
                    .get("email")
                    .and_then(Value::as_str)
                    .is_some_and(|x| x.eq_ignore_ascii_case(e))
                    || g.profile
                        .get("emails")
                        .and_then(Value::as_array)
                        .is_some_and(|a| {
                            a.iter()
                                .any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(e)))
                        })
                    || g.identifiers.iter().any(|i| {
                        i.provider.eq_ignore_ascii_case("email") && i.id.eq_ignore_ascii_case(e)
                    })
            })
        })
        .filter(|g| match (provider, id) {
            (Some(p), Some(i)) => g
                .identifiers
                .iter()
                .any(|x| x.provider.eq_ignore_ascii_case(p) && x.id == i),
            _ => true,
        })
        .collect();
    gs.sort_by_key(|g| g.seq);
    let mut href = format!("{base}/v2.1/guests?offset={offset}&limit={limit}");
    for (k, v) in [
        ("email", email),
        ("identifiers.provider", provider),
        ("identifiers.id", id),
    ] {
        if let Some(v) = v {
            href.push_str(&format!("&{k}={}", enc(v)));
        }
    }
    let ex = expand(q);
    if ex {
        href.push_str("&expand=true");
    }
    let items: Vec<Value> = gs
        .iter()
        .skip(offset)
        .take(limit)
        .map(|g| {
            if ex {
                st.guest_json(g, base, true)
            } else {
                json!({"href": format!("{base}/v2.1/guests/{}", g.gref)})
            }
        })
        .collect();
    Out::json(
        200,
        &json!({"href": href, "offset": offset, "limit": limit, "items": items}),
    )
}

fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~@".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}
