//! Personalize: `POST /v2/callFlows` and its Edge forms. Validates who the call names (exactly one of
//! `browserId`, `email`, `identifiers`), finds the live flow and lets the store execute it.

use crate::app::App;
use crate::edge::Caller;
use crate::http::{json_content_type_ok, rest_error, Out};
use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;

/// `POST /v2/callFlows` (and the Edge forms): runs one flow for one guest and answers the template output.
pub async fn call_flows(
    State(app): State<Arc<App>>,
    req: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Out {
    let app = &*app;
    if !json_content_type_ok(&headers) {
        return rest_error(
            415,
            "Unsupported Media Type",
            "send Content-Type: application/json",
        );
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return rest_error(400, "Bad Request", "the request body must be a JSON object"),
        Err(e) => return rest_error(400, "Bad Request", &format!("malformed JSON: {e}")),
    };
    let ck = body.get("clientKey").and_then(Value::as_str).unwrap_or("");
    let Some((t, ctx)) = req.tenant(app, ck) else {
        return rest_error(
            401,
            "Unauthorized",
            &format!("unknown clientKey {ck:?} / context"),
        );
    };
    let friendly = body
        .get("friendlyId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    if friendly.is_empty() {
        return rest_error(400, "Bad Request", "friendlyId is required");
    }
    let present: Vec<&str> = ["browserId", "email", "identifiers"]
        .into_iter()
        .filter(|k| body.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    if present.len() != 1 {
        return rest_error(
            400,
            "Bad Request",
            "exactly one of browserId, email or identifiers is required",
        );
    }
    let who = present[0];
    let key = match (who, &body[who]) {
        ("browserId", Value::String(s)) => s.clone(),
        ("email", Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        ("identifiers", Value::Object(o)) => {
            let p = o.get("provider").and_then(Value::as_str).unwrap_or("");
            let i = o.get("id").and_then(Value::as_str).unwrap_or("");
            if p.is_empty() || i.is_empty() {
                return rest_error(400, "Bad Request", "identifiers needs provider and id");
            }
            format!("{p}\0{i}")
        }
        _ => return rest_error(400, "Bad Request", &format!("invalid {who}")),
    };
    let Some(flow) = t.find_flow(&friendly) else {
        app.store.lock().stats.flow_not_found += 1;
        return rest_error(
            404,
            "Not Found",
            &format!(
                "No live flow with friendlyId {friendly} for client key {}",
                t.client_key
            ),
        );
    };
    let channel = body
        .get("channel")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut pos = body
        .get("pointOfSale")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if pos.is_empty() {
        pos = req.edge_pos(ctx);
    }
    let params = match body.get("params") {
        Some(p @ Value::Object(_)) => p.clone(),
        _ => json!({}),
    };
    let mut request_v = body.clone();
    if let Some(o) = request_v.as_object_mut() {
        o.insert("clientKey".into(), json!(t.client_key));
        o.insert("pointOfSale".into(), json!(pos));
    }
    let now = app.now();
    let resp = app.store.lock().execute_flow(
        &t,
        flow,
        &request_v,
        who,
        &key,
        &params,
        &channel,
        &pos,
        &app.base_url,
        now,
        &app.limits,
    );
    match resp {
        Value::String(s) => Out::text(200, "text/plain; charset=utf-8", s),
        v => Out::json(200, &v),
    }
}
