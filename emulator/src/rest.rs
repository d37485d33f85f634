//! Guest REST API v2.1: guests (create / search / read / PUT / PATCH / DELETE) and guest data extensions,
//! behind HTTP Basic auth (client key : API token).

use crate::server::{rest_error, App, Out, Req};
use crate::state::{ext_json, Extension, Identifier, Store, Tenant};
use crate::util::{base64_decode, uuid_v4};
use hyper::Method;
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
const EXT_SYSTEM: &[&str] = &[
    "href",
    "ref",
    "name",
    "key",
    "createdAt",
    "modifiedAt",
    "guest",
];
const MAX_EXT_KEYS: usize = 100;
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 100;

fn bad(msg: &str) -> Out {
    rest_error(400, "The request is invalid.", msg)
}

fn guest_404(gref: &str, ck: &str) -> Out {
    rest_error(
        404,
        "The specified resource does not exist.",
        &format!("Guest with ref {gref} for client key {ck} was not found"),
    )
}

fn ext_404(gref: &str, name: &str) -> Out {
    rest_error(
        404,
        "The specified resource does not exist.",
        &format!("Data extension {name} for guest {gref} was not found"),
    )
}

fn authenticate(app: &App, req: &Req) -> Option<Arc<Tenant>> {
    let h = req.header("authorization")?;
    let (scheme, cred) = h.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(cred.trim())?).ok()?;
    let (ck, token) = decoded.split_once(':')?;
    let t = app.tenants.get(ck)?;
    (t.api_token == token).then(|| t.clone())
}

fn body_object(req: &Req) -> Result<Map<String, Value>, Out> {
    if !req.json_content_type_ok() {
        return Err(rest_error(
            415,
            "Unsupported Media Type",
            "send Content-Type: application/json",
        ));
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(bad("the request body must be a JSON object")),
        Err(e) => Err(bad(&format!("malformed JSON: {e}"))),
    }
}

fn paging(req: &Req) -> Result<(usize, usize), Out> {
    let offset = match req.q("offset") {
        None => 0,
        Some(o) => o
            .parse()
            .map_err(|_| bad("offset must be a non-negative integer"))?,
    };
    let limit = match req.q("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(bad(&format!(
                    "limit must be an integer within 1..={MAX_LIMIT}"
                )))
            }
        },
    };
    Ok((offset, limit))
}

fn expand(req: &Req) -> bool {
    req.q("expand").is_some_and(|e| e == "true" || e == "1")
}

pub fn handle(app: &App, req: &Req) -> Out {
    let Some(t) = authenticate(app, req) else {
        return rest_error(
            401,
            "",
            "missing or invalid Basic credentials (client key : API token)",
        );
    };
    let rest = req.path.trim_start_matches("/v2.1/guests");
    let segs: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| crate::util::percent_decode(s, false))
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let now = app.now();
    let base = app.base_url.as_str();
    let m = &req.method;
    let mut st = app.store.lock();
    let st = &mut *st;
    match (m, segs.as_slice()) {
        (&Method::POST, []) => create_guest(app, st, &t, req, now),
        (&Method::GET, []) => search(st, &t, req, base),
        (_, []) => not_allowed(req, "GET, POST"),
        (_, [gref, ..])
            if st
                .guests
                .get(*gref)
                .is_none_or(|g| g.client_key != t.client_key) =>
        {
            guest_404(gref, &t.client_key)
        }
        (&Method::GET, [gref]) => {
            let g = &st.guests[*gref];
            Out::json(200, &st.guest_json(g, base, expand(req)))
        }
        (&Method::PUT, [gref]) | (&Method::PATCH, [gref]) => {
            update_guest(st, &t, req, gref, m == Method::PUT, base, now)
        }
        (&Method::DELETE, [gref]) => {
            st.remove_guest(gref, true);
            Out::empty(200)
        }
        (_, [_]) => not_allowed(req, "GET, PUT, PATCH, DELETE"),
        (&Method::GET, [gref, "extensions"]) => list_extensions(st, req, gref, base),
        (&Method::POST, [gref, "extensions"]) => create_extension(st, req, gref, base, now),
        (_, [_, "extensions"]) => not_allowed(req, "GET, POST"),
        (_, [gref, "extensions", name, ..]) if !st.guests[*gref].extensions.contains_key(*name) => {
            ext_404(gref, name)
        }
        (&Method::GET, [gref, "extensions", name]) => {
            let g = &st.guests[*gref];
            Out::json(200, &ext_json(g, name, &g.extensions[*name], base))
        }
        (&Method::PUT, [gref, "extensions", name])
        | (&Method::PATCH, [gref, "extensions", name]) => {
            update_extension(st, req, gref, name, m == Method::PUT, base, now)
        }
        (&Method::DELETE, [gref, "extensions", name]) => {
            let g = st.guests.get_mut(*gref).expect("checked");
            g.extensions.remove(*name);
            g.modified_at = now;
            Out::empty(200)
        }
        (_, [_, "extensions", _]) => not_allowed(req, "GET, PUT, PATCH, DELETE"),
        (&Method::DELETE, [gref, "extensions", name, "fields"]) => {
            let g = st.guests.get_mut(*gref).expect("checked");
            let e = g.extensions.get_mut(*name).expect("checked");
            match req.q("name").filter(|n| !n.is_empty()) {
                Some(names) => {
                    for n in names.split('|') {
                        e.fields.remove(n.trim());
                    }
                }
                None => e.fields.clear(),
            }
            e.modified_at = now;
            let g = &st.guests[*gref];
            Out::json(200, &ext_json(g, name, &g.extensions[*name], base))
        }
        (_, [_, "extensions", _, "fields"]) => not_allowed(req, "DELETE"),
        _ => rest_error(
            404,
            "The specified resource does not exist.",
            &format!("No route for {} {}", req.method, req.path),
        ),
    }
}

fn not_allowed(req: &Req, allow: &str) -> Out {
    let mut o = rest_error(
        405,
        "Method Not Allowed",
        &format!("{} is not allowed on {}", req.method, req.path),
    );
    o.headers.push(("allow", allow.to_string()));
    o
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

fn check_profile(o: &Map<String, Value>) -> Result<(), Out> {
    if let Some(e) = o.get("email") {
        if !(e.is_string() || e.is_null()) {
            return Err(bad("email must be a string"));
        }
    }
    for k in ["emails", "phoneNumbers", "street"] {
        if let Some(v) = o.get(k) {
            if !(v.is_array() || v.is_null()) {
                return Err(bad(&format!("{k} must be an array")));
            }
        }
    }
    Ok(())
}

fn create_guest(app: &App, st: &mut Store, t: &Tenant, req: &Req, now: i64) -> Out {
    let o = match body_object(req) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let gt = match check_guest_type(&o, true) {
        Ok(g) => g.expect("required"),
        Err(e) => return e,
    };
    if let Err(e) = check_profile(&o) {
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

fn update_guest(
    st: &mut Store,
    t: &Tenant,
    req: &Req,
    gref: &str,
    replace: bool,
    base: &str,
    now: i64,
) -> Out {
    let o = match body_object(req) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let gt = match check_guest_type(&o, replace) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Err(e) = check_profile(&o) {
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
    Out::json(200, &st.guest_json(g, base, expand(req)))
}

fn search(st: &Store, t: &Tenant, req: &Req, base: &str) -> Out {
    let (offset, limit) = match paging(req) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let email = req.q("email").filter(|e| !e.is_empty());
    let provider = req.q("identifiers.provider").filter(|e| !e.is_empty());
    let id = req.q("identifiers.id").filter(|e| !e.is_empty());
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
    let ex = expand(req);
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

fn list_extensions(st: &Store, req: &Req, gref: &str, base: &str) -> Out {
    let (offset, limit) = match paging(req) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let g = &st.guests[gref];
    let ex = expand(req);
    let items: Vec<Value> = g
        .extensions
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(n, e)| {
            if ex {
                ext_json(g, n, e, base)
            } else {
                json!({"href": format!("{base}/v2.1/guests/{gref}/extensions/{n}")})
            }
        })
        .collect();
    let mut href = format!("{base}/v2.1/guests/{gref}/extensions?offset={offset}&limit={limit}");
    if ex {
        href.push_str("&expand=true");
    }
    Out::json(
        200,
        &json!({"href": href, "offset": offset, "limit": limit, "items": items}),
    )
}

fn valid_ext_name(n: &str) -> bool {
    n == "ext" || (n.len() == 4 && n.starts_with("ext") && (b'1'..=b'5').contains(&n.as_bytes()[3]))
}

/// Validates extension key/values; `merged` is the full set after the write, `others` the guest's other
/// extensions (keys must be unique across them).
fn check_ext_fields(merged: &Map<String, Value>, others: &[&Extension]) -> Result<(), Out> {
    if merged.len() > MAX_EXT_KEYS {
        return Err(bad(&format!(
            "a data extension holds at most {MAX_EXT_KEYS} key/value pairs, got {}",
            merged.len()
        )));
    }
    for (k, v) in merged {
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad(&format!(
                "invalid key {k:?}: keys are alphanumeric (camelCase)"
            )));
        }
        if !(v.is_string() || v.is_boolean() || v.is_number()) {
            return Err(bad(&format!(
                "invalid value for {k:?}: values are strings, booleans, integers or floats"
            )));
        }
        if others.iter().any(|e| e.fields.contains_key(k)) {
            return Err(bad(&format!(
                "key {k:?} already exists in another data extension of this guest"
            )));
        }
    }
    Ok(())
}

fn check_key(o: &Map<String, Value>) -> Result<(), Out> {
    match o.get("key") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(k)) if k == "default" => Ok(()),
        _ => Err(bad("key must be \"default\"")),
    }
}

fn user_fields(o: &Map<String, Value>) -> Map<String, Value> {
    o.iter()
        .filter(|(k, _)| !EXT_SYSTEM.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn create_extension(st: &mut Store, req: &Req, gref: &str, base: &str, now: i64) -> Out {
    let o = match body_object(req) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let name = match o.get("name").and_then(Value::as_str) {
        Some(n) if valid_ext_name(n) => n.to_string(),
        _ => return bad("name is required and must be one of ext, ext1, ext2, ext3, ext4, ext5"),
    };
    if let Err(e) = check_key(&o) {
        return e;
    }
    let g = st.guests.get_mut(gref).expect("checked");
    if g.extensions.contains_key(&name) {
        return bad(&format!(
            "data extension {name} already exists for this guest; use PUT or PATCH"
        ));
    }
    let fields = user_fields(&o);
    let others: Vec<&Extension> = g.extensions.values().collect();
    if let Err(e) = check_ext_fields(&fields, &others) {
        return e;
    }
    g.extensions.insert(
        name.clone(),
        Extension {
            ext_ref: uuid_v4(),
            created_at: now,
            modified_at: now,
            fields,
        },
    );
    g.modified_at = now;
    let v = ext_json(g, &name, &g.extensions[&name], base);
    let mut out = Out::json(201, &v);
    out.headers
        .push(("location", v["href"].as_str().unwrap_or("").to_string()));
    out
}

fn update_extension(
    st: &mut Store,
    req: &Req,
    gref: &str,
    name: &str,
    replace: bool,
    base: &str,
    now: i64,
) -> Out {
    let o = match body_object(req) {
        Ok(o) => o,
        Err(e) => return e,
    };
    if let Err(e) = check_key(&o) {
        return e;
    }
    if let Some(n) = o.get("name").and_then(Value::as_str) {
        if n != name {
            return bad("name in the body does not match the extension in the path");
        }
    }
    let g = st.guests.get_mut(gref).expect("checked");
    let current = &g.extensions[name];
    let mut merged = if replace {
        Map::new()
    } else {
        current.fields.clone()
    };
    for (k, v) in user_fields(&o) {
        if v.is_null() && !replace {
            merged.remove(&k);
        } else {
            merged.insert(k, v);
        }
    }
    let others: Vec<&Extension> = g
        .extensions
        .iter()
        .filter(|(n, _)| n.as_str() != name)
        .map(|(_, e)| e)
        .collect();
    if let Err(e) = check_ext_fields(&merged, &others) {
        return e;
    }
    let e = g.extensions.get_mut(name).expect("checked");
    e.fields = merged;
    e.modified_at = now;
    g.modified_at = now;
    Out::json(200, &ext_json(g, name, &g.extensions[name], base))
}
