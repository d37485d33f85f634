//! Settings: parsed from JSON, validated, with stable error kinds and messages.
//!
//! Unknown keys are an error (a typo must not silently fall back to a default), and the API token is
//! wrapped in [`Secret`] so no `Debug`, log line or error message can ever print it.

use crate::error::{Error, ErrorKind, Result};
use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

mod parse;
mod schema;
mod strict;

use parse::Reader;
pub use schema::{schema_json, SettingType, SCHEMA};

/// A secret string whose `Debug`/`Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The only way to read the value; grep for it when auditing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Which CDP front door events and decisions go through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// Classic Stream API host, e.g. `https://api-engage-eu.sitecorecloud.io` (no trailing slash).
    Classic { target_url: String },
    /// Sitecore Edge proxy (Cloud SDK style): the tenant is found by context id, the point of sale by site name.
    Edge { edge_url: String, context_id: String, site_name: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverflowPolicy {
    DropNewest,
    DropOldest,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per event including the first one.
    pub max_attempts: u32,
    /// Base of the exponential backoff (full jitter: sleep is uniform in `[0, min(cap, base * 2^n))`).
    pub base: Duration,
    pub max_backoff: Duration,
    /// `Retry-After` is honoured up to this cap.
    pub retry_after_cap: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub client_key: String,
    pub endpoint: Endpoint,
    pub point_of_sale: String,
    pub channel: String,
    pub currency: Option<String>,
    pub language: Option<String>,
    pub cookie_name: String,
    pub legacy_cookie_name: Option<String>,
    pub cookie_domain: Option<String>,
    pub cookie_expiry_days: u32,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub pool_idle_timeout: Duration,
    pub queue_capacity: usize,
    pub queue_max_bytes: usize,
    pub overflow_policy: OverflowPolicy,
    pub delivery_concurrency: usize,
    pub retry: RetryPolicy,
    pub forward_user_agent: bool,
    /// May carry credentials (`http://user:pass@proxy`), so it is a [`Secret`] too.
    pub proxy: Option<Secret>,
    pub allow_insecure_http: bool,
    pub worker_threads: usize,
    /// Linux: the runtime's threads run as SCHED_BATCH (see `client.rs`); elsewhere ignored.
    pub worker_threads_batch: bool,
    pub api_token: Option<Secret>,
    /// Decisions (callFlows): budgets, cache, prefetch tickets, circuit breaker.
    pub decisions: DecisionSettings,
    /// Browser ids created ahead of time so a first visit needs no network wait; 0 disables. Every pooled id
    /// is an anonymous guest in CDP even if no visitor ever gets it, so keep the pool small.
    pub browser_id_pool_size: usize,
    pub browser_create_timeout: Duration,
    /// Guest REST v2.1 base URL; defaults to `targetUrl` (classic). Must be https:// (loopback excepted).
    pub guest_api_url: Option<String>,
    pub guest_api_timeout: Duration,
    /// Durable spool for events that cannot be delivered now (`spool` module); off unless a directory is set.
    pub spool: SpoolSettings,
}

/// Settings of the durable spool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpoolSettings {
    /// Directory of the spool files (one per process and client); `None` = no spool (undelivered events are lost).
    pub directory: Option<String>,
    /// Disk cap over the spooled records; the oldest are evicted (and counted) beyond it.
    pub max_bytes: u64,
    /// The writer commits (fsync) at least this often while events wait: the loss window of a hard kill.
    pub commit_interval: Duration,
    /// ... or as soon as this many events wait.
    pub commit_max_events: usize,
    /// `durability: "journal"`: every accepted event is written ahead (in group commits, off the request
    /// thread), not only those that cannot be delivered now. Needs `spoolDirectory`.
    pub journal: bool,
}

/// Settings of the decision path (`decisions` module).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionSettings {
    /// Default budget of a decision, and the bound of a prefetch's HTTP call.
    pub timeout: Duration,
    /// Cache TTL for every flow not listed in `cache_ttl_by_flow`; `None` = no caching (the default:
    /// decisions depend on session state).
    pub cache_ttl: Option<Duration>,
    /// Per-friendlyId cache TTLs (a zero TTL turns caching off for that flow).
    pub cache_ttl_by_flow: Vec<(String, Duration)>,
    pub cache_max_entries: usize,
    /// How long an unclaimed prefetch ticket is kept.
    pub ticket_ttl: Duration,
    pub max_tickets: usize,
    /// Consecutive failures (errors, 5xx, 429, timeouts) that open the circuit breaker.
    pub breaker_failure_threshold: u32,
    /// How long an open breaker fails fast before one probe is let through.
    pub breaker_cooldown: Duration,
}

/// Every accepted key, with a one-line description (kept next to the parser so docs and code agree).
pub const KEYS: &[(&str, &str)] = &[
    ("clientKey", "CDP client key (required; at most 100 characters)"),
    ("targetUrl", "classic Stream API base URL, e.g. https://api-engage-eu.sitecorecloud.io"),
    ("edgeUrl", "Edge proxy base URL (Edge mode; needs contextId and siteName)"),
    ("contextId", "Sitecore Edge context id (Edge mode)"),
    ("siteName", "site name sent as siteId (Edge mode)"),
    ("pointOfSale", "point of sale (classic mode only, and required there)"),
    ("channel", "default channel, WEB"),
    ("currency", "default ISO 4217 currency"),
    ("language", "default language (upper-case two letters)"),
    ("cookieName", "browser id cookie name, bid_{clientKey}"),
    ("legacyCookieName", "legacy cookie name read and migrated, BID_{clientKey}; null disables"),
    ("cookieDomain", "Domain attribute of the cookie"),
    ("cookieExpiryDays", "cookie lifetime in days, 730"),
    ("connectTimeoutMs", "TCP/TLS connect timeout, 2000"),
    ("requestTimeoutMs", "whole-request timeout for event delivery, 5000"),
    ("poolIdleTimeoutMs", "keep-alive idle timeout, 50000 (below common load balancer idle timeouts)"),
    ("queueCapacity", "events held in memory, 10000"),
    ("queueMaxBytes", "bytes held in memory, 16777216"),
    ("overflowPolicy", "dropNewest | dropOldest"),
    ("deliveryConcurrency", "parallel delivery lanes (events of one visitor stay in order), 16"),
    ("retryMaxAttempts", "attempts per event including the first, 5"),
    ("retryBaseMs", "backoff base, 200"),
    ("retryMaxBackoffMs", "backoff cap, 30000"),
    ("retryAfterCapMs", "cap on an honoured Retry-After, 30000"),
    ("forwardUserAgent", "forward the visitor User-Agent, true"),
    ("proxy", "HTTP(S) proxy URL for outbound calls"),
    ("allowInsecureHttp", "allow http:// to non-loopback hosts (never in production), false"),
    ("workerThreads", "native runtime worker threads, 2"),
    ("workerThreadsBatch", "Linux: runtime threads as SCHED_BATCH, so waking one never preempts the request thread, true"),
    ("apiToken", "Guest REST API token (secret; server-side only)"),
    ("decisionTimeoutMs", "default decision budget and bound of a prefetch's HTTP call, 400"),
    ("decisionCacheTtlMs", "decision cache TTL: a number for every flow or {\"friendlyId\": ms, \"*\": ms}; off by default"),
    ("decisionCacheMaxEntries", "decisions kept in the cache, 10000"),
    ("decisionTicketTtlMs", "how long an unclaimed prefetch ticket is kept, 30000"),
    ("decisionMaxTickets", "outstanding prefetch tickets, 100000"),
    ("breakerFailureThreshold", "consecutive decision failures that open the circuit breaker, 5"),
    ("breakerCooldownMs", "how long an open breaker fails fast before one probe, 5000"),
    ("browserIdPoolSize", "browser ids created ahead for first visits, 0 (off; each is an anonymous guest in CDP)"),
    ("browserCreateTimeoutMs", "budget of a blocking browser id create, 1000"),
    ("guestApiUrl", "Guest REST v2.1 base URL (default: targetUrl); https:// except loopback"),
    ("guestApiTimeoutMs", "Guest REST request timeout, 5000"),
    ("spoolDirectory", "directory of the durable event spool (one file per process); null = off (the default)"),
    ("spoolMaxBytes", "disk cap of the spool, oldest evicted beyond it, 268435456"),
    ("spoolCommitIntervalMs", "the spool commits at least this often (the loss window of a hard kill), 100"),
    ("spoolCommitMaxEvents", "... or as soon as this many events wait, 1000"),
    ("durability", "\"overflow\" (default: only undeliverable events go to the spool) or \"journal\" (every accepted event is written ahead; needs spoolDirectory)"),
];

const MAX_STRING: usize = 1024;
/// `bid_` + this stays within the 128-character cookie name limit.
const MAX_CLIENT_KEY: usize = 100;

impl Settings {
    pub fn from_json(json: &str) -> Result<Settings> {
        if !crate::nesting::within(json.as_bytes(), crate::nesting::MAX_NESTING) {
            return Err(Error::new(ErrorKind::ConfigInvalidJson, crate::nesting::too_deep("settings")));
        }
        let value: Value = serde_json::from_str(json).map_err(|e| {
            // serde_json messages name line/column, never echo the input text.
            Error::new(ErrorKind::ConfigInvalidJson, format!("settings are not valid JSON: {e}"))
        })?;
        let Value::Object(map) = value else {
            return Err(Error::new(ErrorKind::ConfigInvalidJson, "settings must be a JSON object"));
        };
        // "Unknown keys are an error" means a repeated one is too: the parsed map keeps only the last value.
        if let Some((setting, inner)) = strict::first_duplicate(json) {
            let msg = match inner {
                None => format!("setting {setting} is given more than once"),
                Some(key) => format!("setting {setting} has the key {key} more than once"),
            };
            return Err(Error::new(ErrorKind::ConfigInvalid, msg));
        }
        for (i, key) in map.keys().enumerate() {
            if !KEYS.iter().any(|(k, _)| k == key) {
                return Err(Error::new(
                    ErrorKind::ConfigUnknownKey,
                    format!(
                        "unknown setting {} (known settings: {})",
                        strict::shown_key(key, i + 1),
                        KEYS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        let r = Reader(&map);
        let (client_key, allow_insecure_http) = parse::identity(&r)?;
        let (endpoint, point_of_sale) = parse::endpoint(&r, allow_insecure_http)?;
        let (channel, currency, language) = parse::site_defaults(&r)?;
        let cookie = parse::cookie(&r, &client_key)?;
        let d = parse::delivery(&r)?;
        let spool = parse::spool(&r)?;
        let api_token = parse::api_token(&r)?;
        let decisions = parse::decisions(&r)?;
        let remote = parse::remote(&r)?;

        Ok(Settings {
            client_key,
            endpoint,
            point_of_sale,
            channel,
            currency,
            language,
            cookie_name: cookie.name,
            legacy_cookie_name: cookie.legacy_name,
            cookie_domain: cookie.domain,
            cookie_expiry_days: cookie.expiry_days,
            connect_timeout: d.connect_timeout,
            request_timeout: d.request_timeout,
            pool_idle_timeout: d.pool_idle_timeout,
            queue_capacity: d.queue_capacity,
            queue_max_bytes: d.queue_max_bytes,
            overflow_policy: d.overflow_policy,
            delivery_concurrency: d.delivery_concurrency,
            retry: d.retry,
            forward_user_agent: d.forward_user_agent,
            proxy: d.proxy,
            allow_insecure_http,
            worker_threads: d.worker_threads,
            worker_threads_batch: d.worker_threads_batch,
            api_token,
            decisions,
            browser_id_pool_size: remote.browser_id_pool_size,
            browser_create_timeout: remote.browser_create_timeout,
            guest_api_url: remote.guest_api_url,
            guest_api_timeout: remote.guest_api_timeout,
            spool,
        })
    }

    /// Base URL used for the Stream / Personalize / Guest APIs (classic target or Edge URL).
    pub fn base_url(&self) -> &str {
        match &self.endpoint {
            Endpoint::Classic { target_url } => target_url,
            Endpoint::Edge { edge_url, .. } => edge_url,
        }
    }
}

pub(crate) fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"{"clientKey":"ck_test","targetUrl":"https://api-engage-eu.sitecorecloud.io/","pointOfSale":"myretailsite/ireland"}"#;

    #[test]
    fn minimal_classic_settings_get_defaults() {
        let s = Settings::from_json(MIN).unwrap();
        assert_eq!(s.endpoint, Endpoint::Classic { target_url: "https://api-engage-eu.sitecorecloud.io".into() });
        assert_eq!(s.cookie_name, "bid_ck_test");
        assert_eq!(s.legacy_cookie_name.as_deref(), Some("BID_ck_test"));
        assert_eq!(s.cookie_expiry_days, 730);
        assert_eq!(s.channel, "WEB");
        assert_eq!(s.pool_idle_timeout, Duration::from_secs(50));
        assert_eq!(s.overflow_policy, OverflowPolicy::DropNewest);
    }

    #[test]
    fn edge_settings() {
        let s = Settings::from_json(r#"{"clientKey":"ck","edgeUrl":"https://edge-platform.sitecorecloud.io","contextId":"ctx-123","siteName":"spinair.com"}"#).unwrap();
        assert!(matches!(s.endpoint, Endpoint::Edge { ref context_id, .. } if context_id == "ctx-123"));
        assert_eq!(s.point_of_sale, "");
    }

    fn kind(json: &str) -> ErrorKind {
        Settings::from_json(json).unwrap_err().kind
    }

    #[test]
    fn bad_settings_have_stable_kinds() {
        assert_eq!(kind("{"), ErrorKind::ConfigInvalidJson);
        assert_eq!(kind("[]"), ErrorKind::ConfigInvalidJson);
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","clientkey":"x"}"#), ErrorKind::ConfigUnknownKey);
        assert_eq!(kind(r#"{"targetUrl":"https://x.io","pointOfSale":"p"}"#), ErrorKind::ConfigMissing);
        assert_eq!(kind(r#"{"clientKey":"ck","pointOfSale":"p"}"#), ErrorKind::ConfigMissing);
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"not a url","pointOfSale":"p"}"#), ErrorKind::ConfigInvalidUrl);
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"http://cdp.example.com","pointOfSale":"p"}"#), ErrorKind::ConfigInvalidUrl);
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"ftp://x.io","pointOfSale":"p"}"#), ErrorKind::ConfigInvalidUrl);
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":" "}"#), ErrorKind::ConfigInvalid);
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","queueCapacity":0}"#), ErrorKind::ConfigInvalid);
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","channel":"web"}"#), ErrorKind::ConfigInvalid);
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","cookieName":"a;b"}"#), ErrorKind::ConfigInvalid);
        assert_eq!(kind(r#"{"clientKey":"c k","targetUrl":"https://x.io","pointOfSale":"p"}"#), ErrorKind::ConfigInvalid);
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"https://x.io","edgeUrl":"https://e.io","pointOfSale":"p"}"#), ErrorKind::ConfigInvalid);
        assert_eq!(kind(r#"{"clientKey":"ck","edgeUrl":"https://e.io","siteName":"s"}"#), ErrorKind::ConfigMissing);
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","proxy":"::"}"#), ErrorKind::ConfigInvalidUrl);
    }

    #[test]
    fn loopback_http_is_allowed() {
        Settings::from_json(r#"{"clientKey":"ck","targetUrl":"http://127.0.0.1:9","pointOfSale":"p"}"#).unwrap();
        Settings::from_json(r#"{"clientKey":"ck","targetUrl":"http://localhost:9","pointOfSale":"p"}"#).unwrap();
        Settings::from_json(r#"{"clientKey":"ck","targetUrl":"http://cdp.local","pointOfSale":"p","allowInsecureHttp":true}"#).unwrap();
    }

    #[test]
    fn decision_and_identity_settings() {
        let s = Settings::from_json(MIN).unwrap();
        assert_eq!(s.decisions.timeout, Duration::from_millis(400));
        assert_eq!((s.decisions.cache_ttl, s.decisions.cache_ttl_by_flow.len()), (None, 0));
        assert_eq!(s.browser_id_pool_size, 0);
        let s = Settings::from_json(
            r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","decisionCacheTtlMs":{"a":1000,"*":50},"breakerCooldownMs":10,"browserIdPoolSize":4,"guestApiUrl":"https://g.io/"}"#,
        )
        .unwrap();
        assert_eq!(s.decisions.cache_ttl, Some(Duration::from_millis(50)));
        assert_eq!(s.decisions.cache_ttl_by_flow, vec![("a".to_string(), Duration::from_secs(1))]);
        assert_eq!((s.browser_id_pool_size, s.guest_api_url.as_deref()), (4, Some("https://g.io")));
        let s = Settings::from_json(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","decisionCacheTtlMs":250}"#).unwrap();
        assert_eq!(s.decisions.cache_ttl, Some(Duration::from_millis(250)));
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","decisionCacheTtlMs":{"a":"x"}}"#), ErrorKind::ConfigInvalid);
        // The token never goes over plain HTTP to a remote host, allowInsecureHttp or not.
        assert_eq!(
            kind(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","allowInsecureHttp":true,"guestApiUrl":"http://g.io"}"#),
            ErrorKind::ConfigInvalidUrl
        );
    }

    #[test]
    fn spool_settings() {
        let s = Settings::from_json(MIN).unwrap();
        assert_eq!(s.spool.directory, None);
        assert_eq!((s.spool.commit_interval, s.spool.commit_max_events), (Duration::from_millis(100), 1000));
        let s = Settings::from_json(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","spoolDirectory":"/var/spool/x","spoolMaxBytes":2097152,"spoolCommitIntervalMs":20}"#).unwrap();
        assert_eq!((s.spool.directory.as_deref(), s.spool.max_bytes, s.spool.commit_interval), (Some("/var/spool/x"), 2097152, Duration::from_millis(20)));
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","spoolDirectory":""}"#), ErrorKind::ConfigInvalid);
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","spoolMaxBytes":10}"#), ErrorKind::ConfigInvalid);
        assert!(!s.spool.journal);
        let s = Settings::from_json(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","spoolDirectory":"/x","durability":"journal"}"#).unwrap();
        assert!(s.spool.journal);
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","durability":"journal"}"#), ErrorKind::ConfigInvalid);
        assert_eq!(kind(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","spoolDirectory":"/x","durability":"wal"}"#), ErrorKind::ConfigInvalid);
    }

    #[test]
    fn proxy_credentials_never_show() {
        let s = Settings::from_json(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","proxy":"http://user:pr0xy-pass@proxy.corp:8080"}"#).unwrap();
        assert!(!format!("{s:?}").contains("pr0xy-pass"));
        assert_eq!(s.proxy.as_ref().unwrap().expose(), "http://user:pr0xy-pass@proxy.corp:8080");
    }

    #[test]
    fn api_token_never_shows() {
        let s = Settings::from_json(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","apiToken":"s3cr3t-token"}"#).unwrap();
        assert!(!format!("{s:?}").contains("s3cr3t"));
        assert_eq!(s.api_token.as_ref().unwrap().expose(), "s3cr3t-token");
        // A token in the wrong place must not be echoed by the error either.
        let e = Settings::from_json(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","apiToken":7}"#).unwrap_err();
        assert!(!e.message.contains('7'));
        let e = Settings::from_json(r#"{"clientKey":"ck","targetUrl":"https://x.io","pointOfSale":"p","s3cr3t-token":1}"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::ConfigUnknownKey);
    }
}
