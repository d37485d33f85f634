//! The one HTTP room: one shared reqwest client (keep-alive pool) per client, every URL (`urls`), reading and
//! classifying answers (`response`: bounded bodies, server messages, network errors; here: event delivery's
//! delivered / retry / reject), and the budgeted call a host thread waits on (`call`). Decisions, browser ids,
//! guests and the pipeline speak HTTP only through this module.

pub(crate) mod call;
pub(crate) mod response;
mod time;
pub(crate) mod urls;

pub use time::utc_now_iso8601;
pub use urls::encode;

use crate::config::Settings;
use crate::error::{Error, ErrorKind, Result};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::StatusCode;
use std::time::Duration;

/// Sent as `X-Library-Version` and as the default User-Agent so CDP-side logs can tell us apart.
pub const LIBRARY_VERSION: &str = concat!("xmcdp/", env!("CARGO_PKG_VERSION"));

/// What happened to one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered(u16),
    /// Worth another attempt: connect errors, timeouts, 408, 429, 5xx. `retry_after` from the server, if any.
    Retry { reason: FailureReason, retry_after: Option<Duration> },
    /// The server will never accept this request as sent (other 4xx); retrying would only repeat it.
    Reject { reason: FailureReason },
}

/// Why an attempt failed; also the key of the `failed`/`retried` counters and of log-once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    Connect,
    Timeout,
    Network,
    Status(u16),
}

impl FailureReason {
    pub fn label(&self) -> String {
        match self {
            FailureReason::Connect => "connect".into(),
            FailureReason::Timeout => "timeout".into(),
            FailureReason::Network => "network".into(),
            FailureReason::Status(s) => format!("http_{s}"),
        }
    }
}

/// Hosts never reached through the proxy. Plain http:// is allowed only to loopback (config, guests), on the
/// grounds that the bytes never leave the machine; sent through a proxy they would (a plain-http proxy sees
/// the Guest API's `Authorization` header in clear). Same set as `config::is_loopback`.
const LOOPBACK: &str = "localhost,127.0.0.0/8,::1";

#[derive(Clone)]
pub struct Transport {
    http: reqwest::Client,
    events_url: String,
    forward_user_agent: bool,
}

impl Transport {
    pub fn new(settings: &Settings) -> Result<Transport> {
        install_crypto_provider();
        let mut headers = HeaderMap::new();
        headers.insert("X-Library-Version", HeaderValue::from_static(LIBRARY_VERSION));
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(LIBRARY_VERSION)
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            // Below the ~60 s idle timeouts of common load balancers, so a pooled connection is never
            // closed by the far side just as we reuse it (reqwest #915-style IncompleteMessage errors).
            .pool_idle_timeout(settings.pool_idle_timeout)
            .pool_max_idle_per_host(settings.delivery_concurrency.max(8))
            .tcp_keepalive(Duration::from_secs(30))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none());
        builder = match &settings.proxy {
            Some(p) => builder.proxy(
                reqwest::Proxy::all(p.expose())
                    .map_err(|_| Error::new(ErrorKind::ConfigInvalidUrl, "\"proxy\" is not usable"))?
                    .no_proxy(reqwest::NoProxy::from_string(LOOPBACK)),
            ),
            None => builder.no_proxy(),
        };
        let http = builder
            .build()
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot build the HTTP client: {e}")))?;
        Ok(Transport { http, events_url: urls::events(&settings.endpoint), forward_user_agent: settings.forward_user_agent })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// One attempt, with the event's stable id as `Idempotency-Key` (the same on every retry and replay, so
    /// the receiver can drop duplicates; the body stays exactly the official SDK's).
    pub async fn send_event(&self, body: bytes::Bytes, user_agent: Option<&str>, idempotency_key: Option<&str>) -> Outcome {
        let mut req = self.http.post(&self.events_url).header(CONTENT_TYPE, "application/json").body(body);
        if let Some(k) = idempotency_key.and_then(|k| HeaderValue::from_str(k).ok()) {
            req = req.header("Idempotency-Key", k);
        }
        if self.forward_user_agent {
            if let Some(ua) = user_agent.and_then(|ua| HeaderValue::from_str(ua).ok()) {
                req = req.header(USER_AGENT, ua);
            }
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                let retry_after = parse_retry_after(resp.headers().get(RETRY_AFTER));
                // Drain the (small) body so the connection goes back to the pool.
                let _ = resp.bytes().await;
                classify(status, retry_after)
            }
            Err(e) => Outcome::Retry { reason: classify_error(&e), retry_after: None },
        }
    }
}

pub fn classify(status: StatusCode, retry_after: Option<Duration>) -> Outcome {
    let code = status.as_u16();
    if status.is_success() {
        Outcome::Delivered(code)
    } else if code == 408 || code == 429 || status.is_server_error() {
        Outcome::Retry { reason: FailureReason::Status(code), retry_after }
    } else {
        Outcome::Reject { reason: FailureReason::Status(code) }
    }
}

pub fn classify_error(e: &reqwest::Error) -> FailureReason {
    if e.is_connect() {
        FailureReason::Connect
    } else if e.is_timeout() {
        FailureReason::Timeout
    } else {
        FailureReason::Network
    }
}

/// `Retry-After` as delta-seconds (the HTTP-date form is rare for APIs and is treated as absent).
fn parse_retry_after(v: Option<&HeaderValue>) -> Option<Duration> {
    let s = v?.to_str().ok()?.trim();
    let secs: f64 = s.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// rustls needs one process-wide crypto provider; ring builds everywhere (Windows MSVC without NASM).
fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means the host process already installed one, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify(StatusCode::CREATED, None), Outcome::Delivered(201));
        for s in [408u16, 429, 500, 502, 503, 504] {
            assert!(matches!(classify(StatusCode::from_u16(s).unwrap(), None), Outcome::Retry { .. }), "{s}");
        }
        for s in [400u16, 401, 403, 404, 413, 422] {
            assert!(matches!(classify(StatusCode::from_u16(s).unwrap(), None), Outcome::Reject { .. }), "{s}");
        }
    }

    #[test]
    fn retry_after_parses_seconds() {
        assert_eq!(parse_retry_after(Some(&HeaderValue::from_static("3"))), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(Some(&HeaderValue::from_static("0.5"))), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after(Some(&HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"))), None);
        assert_eq!(parse_retry_after(Some(&HeaderValue::from_static("-1"))), None);
    }
}
