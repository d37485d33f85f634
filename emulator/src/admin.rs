//! `/__emulator/` inspection and admin API (never subject to faults, never recorded in the request ring).
//! Lists are `{"count","items"}` in arrival order; `?limit=N` keeps the last N.

use crate::app::{request_json, App, MAX_CLOCK_OFFSET_MS};
use crate::clock::iso_ms;
use crate::faults::FaultConfig;
use crate::http::{rest_error, Out, Params};
use axum::extract::{Path, State};
use axum::http::{Method, Uri};
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;

type St = State<Arc<App>>;

fn list(items: Vec<Value>) -> Out {
    Out::json(200, &json!({"count": items.len(), "items": items}))
}

fn limit(q: &Params) -> usize {
    q.get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX)
}

/// Keeps the last `n` items (arrival order preserved).
fn tail<T>(v: Vec<T>, n: usize) -> Vec<T> {
    let skip = v.len().saturating_sub(n);
    v.into_iter().skip(skip).collect()
}

pub async fn health() -> Out {
    Out::json(200, &json!({"status": "OK"}))
}

/// Any other method or path under `/__emulator`.
pub async fn no_route(method: Method, uri: Uri) -> Out {
    rest_error(
        404,
        "The specified resource does not exist.",
        &format!("No emulator route for {method} {}", uri.path()),
    )
}

pub async fn requests(State(app): St, q: Params) -> Out {
    let ring = app.ring.lock();
    let skip = ring.1.len().saturating_sub(limit(&q));
    list(ring.1.iter().skip(skip).map(request_json).collect())
}

pub async fn guests(State(app): St, q: Params) -> Out {
    let st = app.store.lock();
    let mut gs: Vec<_> = st.guests.values().collect();
    gs.sort_by_key(|g| g.seq);
    let items: Vec<Value> = gs
        .iter()
        .map(|g| st.guest_inspect_json(g, &app.base_url))
        .collect();
    list(tail(items, limit(&q)))
}

pub async fn guest(State(app): St, Path(gref): Path<String>) -> Out {
    let mut st = app.store.lock();
    st.sweep(app.now());
    let Some(guest) = st.guests.get(&gref) else {
        return rest_error(
            404,
            "The specified resource does not exist.",
            &format!("Guest with ref {gref} was not found"),
        );
    };
    let mut v = st.guest_inspect_json(guest, &app.base_url);
    let mut sessions: Vec<_> = st
        .sessions
        .values()
        .filter(|s| st.resolve_guest(&s.guest_ref) == gref)
        .collect();
    sessions.sort_by_key(|s| s.seq);
    v["sessions"] = Value::Array(sessions.iter().map(|s| st.session_json(s)).collect());
    Out::json(200, &v)
}

pub async fn sessions(State(app): St, q: Params) -> Out {
    let mut st = app.store.lock();
    st.sweep(app.now());
    let bid = q.get("browser_id");
    let gref = q.get("guest_ref");
    let status = q.get("status");
    let mut ss: Vec<_> = st
        .sessions
        .values()
        .filter(|s| bid.is_none_or(|b| s.browser_ref.as_deref() == Some(b)))
        .filter(|s| gref.is_none_or(|g| st.resolve_guest(&s.guest_ref) == g))
        .filter(|s| {
            status.is_none_or(|x| x.eq_ignore_ascii_case(if s.open { "OPEN" } else { "CLOSED" }))
        })
        .collect();
    ss.sort_by_key(|s| s.seq);
    let items: Vec<Value> = ss.iter().map(|s| st.session_json(s)).collect();
    list(tail(items, limit(&q)))
}

pub async fn events(State(app): St, q: Params) -> Out {
    let st = app.store.lock();
    let bid = q.get("browser_id");
    let gref = q.get("guest_ref");
    let kind = q.get("type");
    let items: Vec<Value> = st
        .events
        .iter()
        .filter(|e| bid.is_none_or(|b| e.browser_id == b))
        .filter(|e| gref.is_none_or(|g| st.resolve_guest(&e.guest_ref) == g))
        .filter(|e| kind.is_none_or(|k| e.kind == k))
        .map(|e| st.event_json(e))
        .collect();
    list(tail(items, limit(&q)))
}

pub async fn flow_executions(State(app): St, q: Params) -> Out {
    let st = app.store.lock();
    let fid = q.get("friendly_id");
    let gref = q.get("guest_ref");
    let items: Vec<Value> = st
        .flow_execs
        .iter()
        .filter(|e| fid.is_none_or(|f| e["flow"] == f || e["friendly_id"] == f))
        .filter(|e| gref.is_none_or(|g| e["guest_ref"] == g))
        .cloned()
        .collect();
    list(tail(items, limit(&q)))
}

pub async fn stats(State(app): St) -> Out {
    Out::json(200, &app.stats_json())
}

pub async fn reset(State(app): St) -> Out {
    app.reset();
    Out::json(200, &json!({"status": "OK"}))
}

pub async fn faults(State(app): St) -> Out {
    faults_json(&app)
}

/// `PUT` / `POST`: replaces the whole fault configuration (400 if invalid).
pub async fn put_faults(State(app): St, body: Bytes) -> Out {
    let cfg: FaultConfig = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return rest_error(400, "Bad Request", &format!("invalid fault config: {e}")),
    };
    if let Err(e) = cfg.validate() {
        return rest_error(400, "Bad Request", &e);
    }
    app.set_faults(cfg);
    faults_json(&app)
}

pub async fn clear_faults(State(app): St) -> Out {
    app.set_faults(FaultConfig::default());
    faults_json(&app)
}

fn faults_json(app: &App) -> Out {
    let config = serde_json::to_value(&app.faults.lock().config).unwrap_or(Value::Null);
    Out::json(
        200,
        &json!({"config": config, "injected": app.fault_stats_json()}),
    )
}

pub async fn clock(State(app): St) -> Out {
    clock_json(&app)
}

/// `POST /clock/advance?seconds=N`: N finite, non-negative, and the clock stays within
/// `MAX_CLOCK_OFFSET_MS` of the wall clock (so it never wraps or leaves four-digit years).
pub async fn advance_clock(State(app): St, q: Params) -> Out {
    let max_s = MAX_CLOCK_OFFSET_MS / 1000;
    let secs = q.get("seconds").and_then(|s| s.parse::<f64>().ok());
    let ms = match secs {
        Some(s) if s.is_finite() && (0.0..=max_s as f64).contains(&s) => (s * 1000.0) as i64,
        _ => {
            return rest_error(
                400,
                "Bad Request",
                &format!("seconds must be a finite, non-negative number of at most {max_s}"),
            )
        }
    };
    if !app.advance_clock(ms) {
        let left = (MAX_CLOCK_OFFSET_MS - app.clock_offset_ms()) / 1000;
        return rest_error(
            400,
            "Bad Request",
            &format!(
                "the emulator clock may run at most {max_s} seconds ahead; it can move {left} more"
            ),
        );
    }
    app.store.lock().sweep(app.now());
    clock_json(&app)
}

fn clock_json(app: &App) -> Out {
    let off = app.clock_offset_ms();
    Out::json(
        200,
        &json!({"now": iso_ms(app.now()), "offset_seconds": off as f64 / 1000.0}),
    )
}

pub async fn config(State(app): St) -> Out {
    let mut tenants: Vec<Value> = app
        .tenants
        .values()
        .map(|t| {
            json!({"clientKey": t.client_key, "pointsOfSale": t.pos_timeout_ms.iter().map(|(k, v)| (k.clone(), json!(v / 60_000))).collect::<serde_json::Map<_, _>>(),
                   "identityRules": t.identity_rules, "flows": t.flows.keys().collect::<Vec<_>>()})
        })
        .collect();
    tenants.sort_by(|a, b| a["clientKey"].as_str().cmp(&b["clientKey"].as_str()));
    let contexts: Vec<Value> = app
        .contexts
        .iter()
        .map(|(id, (t, c))| json!({"contextId": id, "clientKey": t.client_key, "sites": c.sites, "defaultPos": c.default_pos}))
        .collect();
    Out::json(
        200,
        &json!({"tenants": tenants, "edgeContexts": contexts, "limits": app.limits, "baseUrl": app.base_url}),
    )
}
