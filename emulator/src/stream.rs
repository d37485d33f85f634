//! Stream API routes (classic and, under the Edge path aliases, Cloud SDK): browser create / show, `POST`
//! events with `Idempotency-Key` replay, and the legacy `GET /v1.2/event/create.json?message=`.

use crate::app::App;
use crate::codec::extract_message;
use crate::edge::Caller;
use crate::http::{header, json_content_type_ok, rest_error, stream_error, Out, MORE_INFO};
use crate::state::{EventError, EventHead};
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use bytes::Bytes;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;

/// `GET /v1.2/browser/create.json`: a new browser id and its (new, anonymous) guest.
pub async fn browser_create(State(app): State<Arc<App>>, req: Caller) -> Out {
    let app = &*app;
    let Some((t, _)) = req.tenant(app, "") else {
        return stream_error(
            401,
            req.client_key(),
            "Unauthorized: unknown client key or context",
        );
    };
    let now = app.now();
    let (bref, gref) = app
        .store
        .lock()
        .create_browser(&t.client_key, now, &app.limits);
    Out::raw_json(
        200,
        format!(
            r#"{{"status":"OK","version":"1.2","client_key":{},"ref":"{bref}","customer_ref":"{gref}"}}"#,
            json_str(&t.client_key)
        ),
    )
}

/// `GET /v1.2/browser/{id}/show.json`: the guest a browser id belongs to.
pub async fn browser_show(
    State(app): State<Arc<App>>,
    Path(bid): Path<String>,
    req: Caller,
) -> Out {
    let (app, bid) = (&*app, bid.as_str());
    let Some((t, ctx)) = req.tenant(app, "") else {
        return stream_error(
            401,
            req.client_key(),
            "Unauthorized: unknown client key or context",
        );
    };
    if ctx.is_none() {
        if let Some(tok) = req.q("api_token").filter(|x| !x.is_empty()) {
            if tok != t.client_key && tok != t.api_token {
                return stream_error(
                    401,
                    &t.client_key,
                    "Unauthorized: api_token does not match the client key",
                );
            }
        }
    }
    let g = app.store.lock().browser_guest(&t.client_key, bid);
    match g {
        Some(g) => Out::json(
            200,
            &json!({"status": "OK", "version": "1.2", "clientKey": t.client_key, "ref": bid, "customer": {"ref": g}}),
        ),
        None => Out::json(
            404,
            &json!({"status": "ERROR", "version": "1.2", "clientKey": t.client_key, "error_msg": format!("Browser {bid} not found"), "moreInfo": MORE_INFO}),
        ),
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn reject(app: &App, reason: &str) {
    *app.store
        .lock()
        .stats
        .events_rejected
        .entry(reason.to_string())
        .or_insert(0) += 1;
}

#[derive(serde::Deserialize)]
struct WireHead<'a> {
    #[serde(borrow, default)]
    browser_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    channel: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    client_key: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    pos: Option<std::borrow::Cow<'a, str>>,
}

fn event(app: &App, req: &Caller, text: &str, via: &'static str) -> Out {
    // Hot path: borrow the five fields the emulator routes on; parse the full JSON only when needed.
    if !text.trim_start().starts_with('{') {
        let ok_json = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
        reject(
            app,
            if ok_json {
                "not_an_object"
            } else {
                "malformed_json"
            },
        );
        return stream_error(
            400,
            req.client_key(),
            if ok_json {
                "The event must be a JSON object"
            } else {
                "Malformed JSON"
            },
        );
    }
    let head: WireHead = match serde_json::from_str(text) {
        Ok(h) => h,
        Err(e) => {
            let fields_wrong = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            reject(
                app,
                if fields_wrong {
                    "invalid_field"
                } else {
                    "malformed_json"
                },
            );
            return stream_error(400, req.client_key(), &format!("Malformed event: {e}"));
        }
    };
    let body_ck = head.client_key.as_deref().unwrap_or("");
    let bid = head.browser_id.as_deref().unwrap_or("");
    let kind = head.kind.as_deref().unwrap_or("");
    if bid.is_empty() || kind.is_empty() {
        reject(
            app,
            if bid.is_empty() {
                "missing_browser_id"
            } else {
                "missing_type"
            },
        );
        let what = if bid.is_empty() { "browser_id" } else { "type" };
        return stream_error(400, body_ck, &format!("Bad Request: {what} is required"));
    }
    let Some((t, ctx)) = req.tenant(app, body_ck) else {
        reject(app, "bad_client_key");
        return stream_error(401, body_ck, "Unauthorized: unknown client key or context");
    };
    let pos_owned;
    let pos = match head.pos.as_deref() {
        Some(p) if !p.is_empty() => p,
        _ => {
            pos_owned = req.edge_pos(ctx);
            pos_owned.as_str()
        }
    };
    let full: Option<Value> =
        if crate::state::needs_full_parse(kind) || text.contains("session_data") {
            serde_json::from_str(text).ok()
        } else {
            None
        };
    let eh = EventHead {
        browser_id: bid,
        kind,
        channel: head.channel.as_deref().unwrap_or(""),
    };
    let now = app.now();
    let res =
        app.store
            .lock()
            .accept_event(&t, &eh, full.as_ref(), pos, text, via, now, &app.limits);
    match res {
        Ok(a) => Out::raw_json(
            201,
            format!(
                r#"{{"status":"OK","version":"1.2","client_key":{},"ref":"{}","customer_ref":"{}"}}"#,
                json_str(&t.client_key),
                a.event_ref,
                a.guest_ref
            ),
        ),
        Err(EventError::MissingBrowserId) => {
            stream_error(400, &t.client_key, "Bad Request: browser_id is required")
        }
        Err(EventError::MissingType) => {
            stream_error(400, &t.client_key, "Bad Request: type is required")
        }
        Err(EventError::UnknownBrowser) => {
            stream_error(404, &t.client_key, "Not Found: unknown browser_id")
        }
    }
}

/// `POST /v1.2/events`: one event as JSON. A repeated `Idempotency-Key` gets the first answer again and the
/// event is stored once.
pub async fn events_post(
    State(app): State<Arc<App>>,
    req: Caller,
    headers: EventHeaders,
    body: Bytes,
) -> Out {
    if !headers.json_content_type {
        return rest_error(
            415,
            "Unsupported Media Type",
            "send Content-Type: application/json",
        );
    }
    let key = headers.idempotency_key.as_deref();
    if let Some(body) = key.and_then(|k| app.idempotent_answer(k)) {
        return Out {
            status: 201,
            body,
            ctype: "application/json",
            headers: Vec::new(),
        };
    }
    let text = String::from_utf8_lossy(&body);
    let out = event(&app, &req, &text, "post");
    if let (Some(k), 201) = (key, out.status) {
        app.remember_answer(k, out.body.clone());
    }
    out
}

/// Extractor: the two headers an event POST reads (the hot path does not copy the whole header map).
pub struct EventHeaders {
    json_content_type: bool,
    idempotency_key: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for EventHeaders {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(EventHeaders {
            json_content_type: json_content_type_ok(&parts.headers),
            idempotency_key: header(&parts.headers, "idempotency-key")
                .filter(|k| !k.is_empty() && k.len() <= 200)
                .map(str::to_string),
        })
    }
}

/// `GET /v1.2/event/create.json?message={...}`: the legacy form, message raw or percent-encoded.
pub async fn event_get(State(app): State<Arc<App>>, req: Caller, RawQuery(raw): RawQuery) -> Out {
    match extract_message(raw.as_deref().unwrap_or("")) {
        Some(m) => event(&app, &req, &m, "get"),
        None => {
            reject(&app, "missing_message");
            stream_error(400, req.client_key(), "The message parameter is required")
        }
    }
}
