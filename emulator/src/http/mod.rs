//! HTTP plumbing shared by every route: the response value (`Out`) and the two error shapes, the query
//! extractor, the connection loop (`server`), the per-route guard (counting, body limit, faults, request
//! ring, CORS), the lenient request-target reader and the slow-body fault.

pub mod guard;
pub mod raw_target;
pub mod server;
mod slow_body;

use crate::codec::parse_query;
use axum::extract::FromRequestParts;
use axum::http::header::{HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};
use std::convert::Infallible;

pub const MORE_INFO: &str =
    "https://doc.sitecore.com/cdp/en/developers/api/troubleshooting-1153275.html";
const SUPPORT: &str = "https://support.sitecore.com";

/// A finished answer: status, body, content type and extra headers (CORS is added by the guard).
pub struct Out {
    pub status: u16,
    pub body: Bytes,
    pub ctype: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

impl Out {
    pub fn json(status: u16, v: &Value) -> Out {
        Out::raw_json(status, serde_json::to_string(v).unwrap_or_default())
    }
    pub fn raw_json(status: u16, s: String) -> Out {
        Out {
            status,
            body: Bytes::from(s),
            ctype: "application/json",
            headers: Vec::new(),
        }
    }
    pub fn text(status: u16, ctype: &'static str, s: String) -> Out {
        Out {
            status,
            body: Bytes::from(s),
            ctype,
            headers: Vec::new(),
        }
    }
    pub fn empty(status: u16) -> Out {
        Out {
            status,
            body: Bytes::new(),
            ctype: "",
            headers: Vec::new(),
        }
    }
}

impl IntoResponse for Out {
    fn into_response(self) -> Response {
        let mut r = Response::new(axum::body::Body::from(self.body));
        *r.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let h = r.headers_mut();
        if !self.ctype.is_empty() {
            h.insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static(self.ctype),
            );
        }
        for (k, v) in self.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&v),
            ) {
                h.insert(n, v);
            }
        }
        r
    }
}

/// The Stream API error shape `{status:"ERROR",version,client_key,error_msg,moreInfo}`.
pub fn stream_error(status: u16, ck: &str, msg: &str) -> Out {
    Out::json(
        status,
        &json!({"status": "ERROR", "version": "1.2", "client_key": ck, "error_msg": msg, "moreInfo": MORE_INFO}),
    )
}

/// The Personalize / Guest REST error shape `{status,code,message,developerMessage,moreInfoUrl}`.
pub fn rest_error(status: u16, message: &str, dev: &str) -> Out {
    if status == 401 {
        return Out::json(
            401,
            &json!({"status": "UNAUTHORIZED", "code": 401,
                    "message": "Authentication credentials are required to access the resource. All requests must be authenticated.",
                    "developerMessage": dev, "moreInfoUrl": SUPPORT}),
        );
    }
    Out::json(
        status,
        &json!({"status": status, "code": status, "message": message, "developerMessage": dev, "moreInfoUrl": SUPPORT}),
    )
}

pub fn not_found_route(method: &Method, path: &str) -> Out {
    rest_error(
        404,
        "The specified resource does not exist.",
        &format!("No route for {method} {path}"),
    )
}

/// 405 in the REST error shape, with `Allow`.
pub fn method_not_allowed(method: &Method, path: &str, allow: &str) -> Out {
    let mut o = rest_error(
        405,
        "Method Not Allowed",
        &format!("{method} is not allowed on {path}"),
    );
    o.headers.push(("allow", allow.to_string()));
    o
}

/// CORS preflight answer for any CDP route (the guard adds `Access-Control-Allow-Origin`).
pub async fn preflight() -> Out {
    let mut o = Out::empty(204);
    o.headers.push((
        "access-control-allow-methods",
        "GET, POST, PUT, PATCH, DELETE, OPTIONS".into(),
    ));
    o.headers.push((
        "access-control-allow-headers",
        "content-type, x-library-version, x-client-software-id, x-sc-correlation-id, x-sitecore-contextid, accept, authorization".into(),
    ));
    o.headers.push(("access-control-max-age", "86400".into()));
    o
}

/// False when a content type is given and it is neither JSON nor text/plain.
pub fn json_content_type_ok(headers: &HeaderMap) -> bool {
    match headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(ct) => {
            let ct = ct.to_ascii_lowercase();
            ct.contains("json") || ct.starts_with("text/plain")
        }
    }
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The query string as the emulator reads it: percent-decoded pairs in order, the first of a name wins
/// (never rejects, unlike a typed `Query<T>`: unknown and repeated parameters are part of the protocol).
#[derive(Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Params(parse_query(parts.uri.query().unwrap_or(""))))
    }
}
