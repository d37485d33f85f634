//! The guard every route passes through (an axum middleware, one instance per route name): count the route,
//! read the body within `maxBodyBytes`, inject faults, record the request in the ring and add CORS. The
//! inspection API is only counted and bounded: never faulted, never recorded, no CORS.

use super::server::Abort;
use super::{rest_error, slow_body};
use crate::app::{App, PendingRec, RouteName};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, CONNECTION, CONTENT_LENGTH};
use axum::http::{Extensions, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};
use std::sync::Arc;

/// Which guard a group of routes gets.
#[derive(Clone)]
pub struct Scope {
    pub app: Arc<App>,
    pub route: RouteName,
    /// False for the unknown-route fallback (a 404 or preflight is never faulted).
    pub faultable: bool,
}

impl Scope {
    pub fn new(app: &Arc<App>, route: RouteName) -> Scope {
        Scope {
            app: app.clone(),
            route,
            faultable: true,
        }
    }
    pub fn unfaulted(app: &Arc<App>, route: RouteName) -> Scope {
        Scope {
            faultable: false,
            ..Scope::new(app, route)
        }
    }
}

fn with_cors(mut r: Response) -> Response {
    r.headers_mut()
        .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    r
}

pub async fn guard(State(scope): State<Scope>, req: Request, next: Next) -> Response {
    let app = &scope.app;
    let route = scope.route;
    let admin = route == RouteName::Admin;
    app.count_route(route);
    let (parts, incoming) = req.into_parts();

    let limit = app.limits.max_body_bytes;
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = if declared.is_some_and(|n| n > limit as u64) {
        Err(None)
    } else {
        match Limited::new(incoming, limit).collect().await {
            Ok(c) => Ok(c.to_bytes()),
            Err(e) => Err(Some(e)),
        }
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let unreadable = e.is_some_and(|e| !e.is::<http_body_util::LengthLimitError>());
            let out = if unreadable {
                rest_error(400, "Bad Request", "the request body could not be read")
            } else {
                rest_error(
                    413,
                    "Payload Too Large",
                    &format!("request bodies are limited to {limit} bytes"),
                )
            };
            if !admin {
                let rec = app.pending_rec(&parts.method, &parts.uri, &parts.headers, &[]);
                app.record(rec, out.status, route, None);
            }
            let mut r = with_cors(out.into_response());
            r.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
    };

    if admin {
        return next.run(Request::from_parts(parts, Body::from(body))).await;
    }

    let rec = app.pending_rec(&parts.method, &parts.uri, &parts.headers, &body);
    // A CORS preflight is answered whatever the faults, except on Guest REST (which has no CORS).
    let preflight = parts.method == Method::OPTIONS && route != RouteName::Guests;
    let decision = if scope.faultable && !preflight && app.faults_active() {
        app.faults.lock().decide(route.as_str())
    } else {
        Default::default()
    };
    if decision.outage {
        return drop_connection(app, rec, route, "outage", &parts.extensions).await;
    }
    if let Some(d) = decision.delay {
        app.count_fault("latency");
        tokio::time::sleep(d).await;
    }
    if decision.reset {
        return drop_connection(app, rec, route, "reset", &parts.extensions).await;
    }
    if decision.blackhole {
        // Read, never handled, never answered: the peer sees a request that hangs until its own timeout.
        app.count_fault("blackhole");
        tokio::time::sleep(crate::faults::BLACKHOLE_HOLD).await;
        return drop_connection(app, rec, route, "blackhole_dropped", &parts.extensions).await;
    }
    let injected = if let Some(retry) = decision.throttle {
        let mut out = rest_error(
            429,
            "Too Many Requests",
            "rate limit injected by xmcdp-emulator",
        );
        out.headers.push(("retry-after", retry.to_string()));
        Some((out, "throttle"))
    } else {
        decision.error.map(|status| {
            let out = rest_error(
                status,
                "Injected failure",
                "error injected by xmcdp-emulator",
            );
            (out, "error")
        })
    };
    if let Some((out, kind)) = injected {
        app.count_fault(kind);
        app.record(rec, out.status, route, Some(kind));
        return with_cors(out.into_response());
    }

    let res = next.run(Request::from_parts(parts, Body::from(body))).await;
    let status = res.status().as_u16();
    let (res, fault) = match decision.slow {
        Some((delay, chunk)) => {
            app.count_fault("slow_body");
            let (p, b) = res.into_parts();
            // Handler bodies are buffered (`Out`), so collecting cannot fail or wait.
            let data = b.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
            let b = if data.is_empty() {
                Body::from(data)
            } else {
                slow_body::slow(data, delay, chunk)
            };
            (Response::from_parts(p, b), Some("slow_body"))
        }
        None => (res, None),
    };
    app.record(rec, status, route, fault);
    // Guest REST carries the API token: never invite a browser to call it.
    if route == RouteName::Guests {
        res
    } else {
        with_cors(res)
    }
}

/// Records the request with status 0 and has the connection dropped with a RST; never answers.
async fn drop_connection(
    app: &App,
    rec: Option<PendingRec>,
    route: RouteName,
    kind: &'static str,
    ext: &Extensions,
) -> Response {
    app.count_fault(kind);
    app.record(rec, 0, route, Some(kind));
    if let Some(Abort(abort)) = ext.get::<Abort>() {
        abort.notify_one();
    }
    std::future::pending().await
}
