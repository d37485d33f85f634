//! `/__emulator/` inspection and admin API (never subject to faults, never recorded in the request ring).

use crate::faults::FaultConfig;
use crate::server::{request_json, rest_error, stats_json, App, Out, Req};
use crate::util::iso_ms;
use hyper::Method;
use serde_json::{json, Value};

fn list(items: Vec<Value>) -> Out {
    Out::json(200, &json!({"count": items.len(), "items": items}))
}

fn limit(req: &Req, default: usize) -> usize {
    req.q("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(default)
}

/// Keeps the last `n` items (arrival order preserved).
fn tail<T>(v: Vec<T>, n: usize) -> Vec<T> {
    let skip = v.len().saturating_sub(n);
    v.into_iter().skip(skip).collect()
}

pub fn handle(app: &App, req: &Req) -> Out {
    let p = req
        .path
        .trim_start_matches("/__emulator")
        .trim_end_matches('/');
    let m = &req.method;
    match (m, p) {
        (&Method::GET, "/health") | (&Method::GET, "") => Out::json(200, &json!({"status": "OK"})),
        (&Method::GET, "/requests") => {
            let ring = app.ring.lock();
            let n = limit(req, usize::MAX);
            let skip = ring.1.len().saturating_sub(n);
            list(ring.1.iter().skip(skip).map(request_json).collect())
        }
        (&Method::GET, "/guests") => {
            let st = app.store.lock();
            let mut gs: Vec<_> = st.guests.values().collect();
            gs.sort_by_key(|g| g.seq);
            let items: Vec<Value> = gs
                .iter()
                .map(|g| st.guest_inspect_json(g, &app.base_url))
                .collect();
            list(tail(items, limit(req, usize::MAX)))
        }
        (&Method::GET, g) if g.starts_with("/guests/") => {
            let gref = &g["/guests/".len()..];
            let mut st = app.store.lock();
            st.sweep(app.now());
            let Some(guest) = st.guests.get(gref) else {
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
        (&Method::GET, "/sessions") => {
            let mut st = app.store.lock();
            st.sweep(app.now());
            let bid = req.q("browser_id");
            let gref = req.q("guest_ref");
            let status = req.q("status");
            let mut ss: Vec<_> = st
                .sessions
                .values()
                .filter(|s| bid.is_none_or(|b| s.browser_ref.as_deref() == Some(b)))
                .filter(|s| gref.is_none_or(|g| st.resolve_guest(&s.guest_ref) == g))
                .filter(|s| {
                    status.is_none_or(|x| {
                        x.eq_ignore_ascii_case(if s.open { "OPEN" } else { "CLOSED" })
                    })
                })
                .collect();
            ss.sort_by_key(|s| s.seq);
            let items: Vec<Value> = ss.iter().map(|s| st.session_json(s)).collect();
            list(tail(items, limit(req, usize::MAX)))
        }
        (&Method::GET, "/events") => {
            let st = app.store.lock();
            let bid = req.q("browser_id");
            let gref = req.q("guest_ref");
            let kind = req.q("type");
            let items: Vec<Value> = st
                .events
                .iter()
                .filter(|e| bid.is_none_or(|b| e.browser_id == b))
                .filter(|e| gref.is_none_or(|g| st.resolve_guest(&e.guest_ref) == g))
                .filter(|e| kind.is_none_or(|k| e.kind == k))
                .map(|e| st.event_json(e))
                .collect();
            list(tail(items, limit(req, usize::MAX)))
        }
        (&Method::GET, "/flows/executions") => {
            let st = app.store.lock();
            let fid = req.q("friendly_id");
            let gref = req.q("guest_ref");
            let items: Vec<Value> = st
                .flow_execs
                .iter()
                .filter(|e| fid.is_none_or(|f| e["flow"] == f || e["friendly_id"] == f))
                .filter(|e| gref.is_none_or(|g| e["guest_ref"] == g))
                .cloned()
                .collect();
            list(tail(items, limit(req, usize::MAX)))
        }
        (&Method::GET, "/stats") => Out::json(200, &stats_json(app)),
        (&Method::POST, "/reset") => {
            app.do_reset();
            Out::json(200, &json!({"status": "OK"}))
        }
        (&Method::GET, "/faults") => faults_json(app),
        (&Method::PUT, "/faults") | (&Method::POST, "/faults") => {
            let cfg: FaultConfig = match serde_json::from_slice(&req.body) {
                Ok(c) => c,
                Err(e) => {
                    return rest_error(400, "Bad Request", &format!("invalid fault config: {e}"))
                }
            };
            if let Err(e) = cfg.validate() {
                return rest_error(400, "Bad Request", &e);
            }
            app.put_faults(cfg);
            faults_json(app)
        }
        (&Method::DELETE, "/faults") => {
            app.put_faults(FaultConfig::default());
            faults_json(app)
        }
        (&Method::GET, "/clock") => clock_json(app),
        (&Method::POST, "/clock/advance") => {
            let secs: f64 = match req.q("seconds").and_then(|s| s.parse().ok()) {
                Some(s) if s >= 0.0 => s,
                _ => {
                    return rest_error(400, "Bad Request", "seconds must be a non-negative number")
                }
            };
            app.advance_clock((secs * 1000.0) as i64);
            app.store.lock().sweep(app.now());
            clock_json(app)
        }
        (&Method::GET, "/config") => {
            let mut tenants: Vec<Value> = app
                .tenants
                .values()
                .map(|t| {
                    json!({"clientKey": t.client_key, "pointsOfSale": t.pos_timeout_ms.iter().map(|(k, v)| (k.clone(), json!(v / 60_000))).collect::<serde_json::Map<_, _>>(),
                           "identityRules": t.identity_rules, "flows": t.flows.keys().collect::<Vec<_>>()})
                })
                .collect();
            tenants.sort_by(|a, b| a["clientKey"].as_str().cmp(&b["clientKey"].as_str()));
            let contexts: Vec<Value> =
                app.contexts.iter().map(|(id, (t, c))| json!({"contextId": id, "clientKey": t.client_key, "sites": c.sites, "defaultPos": c.default_pos})).collect();
            Out::json(
                200,
                &json!({"tenants": tenants, "edgeContexts": contexts, "limits": app.limits, "baseUrl": app.base_url}),
            )
        }
        _ => rest_error(
            404,
            "The specified resource does not exist.",
            &format!("No emulator route for {} {}", req.method, req.path),
        ),
    }
}

fn faults_json(app: &App) -> Out {
    let f = app.faults.lock();
    let stats = stats_json_faults(app);
    Out::json(200, &json!({"config": f.config, "injected": stats}))
}

fn stats_json_faults(app: &App) -> Value {
    stats_json(app)["faults"].clone()
}

fn clock_json(app: &App) -> Out {
    let off = app.clock_offset_ms();
    Out::json(
        200,
        &json!({"now": iso_ms(app.now()), "offset_seconds": off as f64 / 1000.0}),
    )
}
