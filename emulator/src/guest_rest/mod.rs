//! Guest REST API v2.1 behind HTTP Basic auth (client key : API token): guests (`guests`) and guest data
//! extensions (`extensions`). Every route authenticates first, then checks that the guest (and extension)
//! in the path exists for the caller's tenant, then the method, then the body.

pub mod extensions;
pub mod guests;

use crate::app::App;
use crate::codec::{base64_decode, percent_decode};
use crate::http::{header, json_content_type_ok, method_not_allowed, rest_error, Out, Params};
use crate::state::{Store, Tenant};
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, Uri};
use bytes::Bytes;
use serde_json::{Map, Value};
use std::convert::Infallible;
use std::future::{ready, Ready};
use std::sync::Arc;

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

/// Extractor: the tenant whose client key and API token came in `Authorization: Basic`; 401 otherwise.
pub struct Authed(pub Arc<Tenant>);

impl FromRequestParts<Arc<App>> for Authed {
    type Rejection = Out;
    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Out> {
        let unauthorized = || {
            rest_error(
                401,
                "",
                "missing or invalid Basic credentials (client key : API token)",
            )
        };
        let h = header(&parts.headers, "authorization").ok_or_else(unauthorized)?;
        let (scheme, cred) = h.trim().split_once(' ').ok_or_else(unauthorized)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(unauthorized());
        }
        let decoded = base64_decode(cred.trim())
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(unauthorized)?;
        let (ck, token) = decoded.split_once(':').ok_or_else(unauthorized)?;
        match app.tenants.get(ck) {
            Some(t) if t.api_token == token => Ok(Authed(t.clone())),
            _ => Err(unauthorized()),
        }
    }
}

/// Extractor: the request body, read as a JSON object only once the path has been checked (so a request
/// for a missing guest is a 404 whatever its body).
pub struct JsonBody {
    content_type_ok: bool,
    bytes: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Infallible;
    async fn from_request(req: Request, s: &S) -> Result<Self, Infallible> {
        let content_type_ok = json_content_type_ok(req.headers());
        let bytes = Bytes::from_request(req, s).await.unwrap_or_default();
        Ok(JsonBody {
            content_type_ok,
            bytes,
        })
    }
}

impl JsonBody {
    fn object(&self) -> Result<Map<String, Value>, Out> {
        if !self.content_type_ok {
            return Err(rest_error(
                415,
                "Unsupported Media Type",
                "send Content-Type: application/json",
            ));
        }
        match serde_json::from_slice::<Value>(&self.bytes) {
            Ok(Value::Object(o)) => Ok(o),
            Ok(_) => Err(bad("the request body must be a JSON object")),
            Err(e) => Err(bad(&format!("malformed JSON: {e}"))),
        }
    }
}

fn paging(q: &Params) -> Result<(usize, usize), Out> {
    let offset = match q.get("offset") {
        None => 0,
        Some(o) => o
            .parse()
            .map_err(|_| bad("offset must be a non-negative integer"))?,
    };
    let limit = match q.get("limit") {
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

fn expand(q: &Params) -> bool {
    q.get("expand").is_some_and(|e| e == "true" || e == "1")
}

/// 404 unless the guest exists for this tenant (and, when named, its extension).
fn check_path(st: &Store, t: &Tenant, gref: &str, ext: Option<&str>) -> Result<(), Out> {
    let Some(g) = st.guests.get(gref).filter(|g| g.client_key == t.client_key) else {
        return Err(guest_404(gref, &t.client_key));
    };
    match ext {
        Some(name) if !g.extensions.contains_key(name) => Err(ext_404(gref, name)),
        _ => Ok(()),
    }
}

/// Method fallback of `/v2.1/guests`: authenticated, then 405.
pub fn not_allowed_here(
    allow: &'static str,
) -> impl Fn(Authed, Method, Uri) -> Ready<Out> + Clone + Send + Sync + 'static {
    move |_auth: Authed, method: Method, uri: Uri| {
        ready(method_not_allowed(&method, uri.path(), allow))
    }
}

/// The path parameters of a route under one guest: `[gref]` or `[gref, extension name]`.
type GuestPath = Path<Vec<String>>;

/// Method fallback of a route under one guest (`[gref, ext name]` in the path): authenticated, the path
/// checked, then 405.
pub fn not_allowed_on_guest(
    allow: &'static str,
) -> impl Fn(State<Arc<App>>, Authed, GuestPath, Method, Uri) -> Ready<Out> + Clone + Send + Sync + 'static
{
    move |State(app): State<Arc<App>>,
          Authed(t): Authed,
          Path(p): Path<Vec<String>>,
          method: Method,
          uri: Uri| {
        let st = app.store.lock();
        let out = match check_path(&st, &t, &p[0], p.get(1).map(String::as_str)) {
            Err(e) => e,
            Ok(()) => method_not_allowed(&method, uri.path(), allow),
        };
        ready(out)
    }
}

/// Any other path under `/v2.1/guests/`: authenticated, the guest checked, then 404.
pub async fn no_route(
    State(app): State<Arc<App>>,
    Authed(t): Authed,
    method: Method,
    uri: Uri,
) -> Out {
    let rest = uri.path().trim_start_matches("/v2.1/guests");
    let segs: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    if let Some(gref) = segs.first() {
        let ext = match segs.as_slice() {
            [_, "extensions", name, ..] => Some(*name),
            _ => None,
        };
        if let Err(e) = check_path(&app.store.lock(), &t, gref, ext) {
            return e;
        }
    }
    rest_error(
        404,
        "The specified resource does not exist.",
        &format!("No route for {method} {}", uri.path()),
    )
}
