//! Guest REST: guest data extensions (`ext`, `ext1`…`ext5`), their keys and values.

use super::{bad, check_path, expand, paging, Authed, JsonBody};
use crate::app::App;
use crate::http::{Out, Params};
use crate::ids::uuid_v4;
use crate::state::{ext_json, Extension, Store};
use axum::extract::{Path, State};
use axum::http::Method;
use serde_json::{json, Map, Value};
use std::sync::Arc;

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

/// `GET /v2.1/guests/{ref}/extensions`, paged.
pub async fn list(
    State(app): State<Arc<App>>,
    Authed(t): Authed,
    Path(gref): Path<String>,
    q: Params,
) -> Out {
    let st = app.store.lock();
    if let Err(e) = check_path(&st, &t, &gref, None) {
        return e;
    }
    list_extensions(&st, &q, &gref, &app.base_url)
}

/// `POST /v2.1/guests/{ref}/extensions`.
pub async fn create(
    State(app): State<Arc<App>>,
    Authed(t): Authed,
    Path(gref): Path<String>,
    body: JsonBody,
) -> Out {
    let now = app.now();
    let mut st = app.store.lock();
    if let Err(e) = check_path(&st, &t, &gref, None) {
        return e;
    }
    create_extension(&mut st, &body, &gref, &app.base_url, now)
}

/// `GET /v2.1/guests/{ref}/extensions/{name}`.
pub async fn read(
    State(app): State<Arc<App>>,
    Authed(t): Authed,
    Path((gref, name)): Path<(String, String)>,
) -> Out {
    let st = app.store.lock();
    if let Err(e) = check_path(&st, &t, &gref, Some(&name)) {
        return e;
    }
    let g = &st.guests[&gref];
    Out::json(
        200,
        &ext_json(g, &name, &g.extensions[&name], &app.base_url),
    )
}

/// `PUT` (replace all keys) / `PATCH` (merge; null removes) `/v2.1/guests/{ref}/extensions/{name}`.
pub async fn update(
    State(app): State<Arc<App>>,
    Authed(t): Authed,
    Path((gref, name)): Path<(String, String)>,
    method: Method,
    body: JsonBody,
) -> Out {
    let now = app.now();
    let mut st = app.store.lock();
    if let Err(e) = check_path(&st, &t, &gref, Some(&name)) {
        return e;
    }
    let replace = method == Method::PUT;
    update_extension(&mut st, &body, &gref, &name, replace, &app.base_url, now)
}

/// `DELETE /v2.1/guests/{ref}/extensions/{name}`: 200, empty body.
pub async fn delete(
    State(app): State<Arc<App>>,
    Authed(t): Authed,
    Path((gref, name)): Path<(String, String)>,
) -> Out {
    let now = app.now();
    let mut st = app.store.lock();
    if let Err(e) = check_path(&st, &t, &gref, Some(&name)) {
        return e;
    }
    let g = st.guests.get_mut(&gref).expect("checked");
    g.extensions.remove(&name);
    g.modified_at = now;
    Out::empty(200)
}

/// `DELETE /v2.1/guests/{ref}/extensions/{name}/fields?name=a|b` (no `name`: all keys): 200 + what remains.
pub async fn delete_fields(
    State(app): State<Arc<App>>,
    Authed(t): Authed,
    Path((gref, name)): Path<(String, String)>,
    q: Params,
) -> Out {
    let now = app.now();
    let mut st = app.store.lock();
    if let Err(e) = check_path(&st, &t, &gref, Some(&name)) {
        return e;
    }
    let g = st.guests.get_mut(&gref).expect("checked");
    let e = g.extensions.get_mut(&name).expect("checked");
    match q.get("name").filter(|n| !n.is_empty()) {
        Some(names) => {
            for n in names.split('|') {
                e.fields.remove(n.trim());
            }
        }
        None => e.fields.clear(),
    }
    e.modified_at = now;
    let g = &st.guests[&gref];
    Out::json(
        200,
        &ext_json(g, &name, &g.extensions[&name], &app.base_url),
    )
}

fn list_extensions(st: &Store, q: &Params, gref: &str, base: &str) -> Out {
    let (offset, limit) = match paging(q) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let g = &st.guests[gref];
    let ex = expand(q);
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

fn create_extension(st: &mut Store, body: &JsonBody, gref: &str, base: &str, now: i64) -> Out {
    let o = match body.object() {
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

#[allow(clippy::too_many_arguments)]
fn update_extension(
    st: &mut Store,
    body: &JsonBody,
    gref: &str,
    name: &str,
    replace: bool,
    base: &str,
    now: i64,
) -> Out {
    let o = match body.object() {
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
