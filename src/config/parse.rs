//! One parser per group of settings, in the order `Settings::from_json` applies them (the first bad value
//! met is the one reported). Messages name the setting, never its value.

use super::*;

pub(super) struct Reader<'a>(pub(super) &'a Map<String, Value>);

/// `clientKey` and `allowInsecureHttp` (both shape the rest).
pub(super) fn identity(r: &Reader) -> Result<(String, bool)> {
    let client_key = r.req_str("clientKey")?;
    check_token_chars("clientKey", &client_key)?;
    // The default cookie names embed it (`bid_{clientKey}`, at most 128 characters): a longer key must be
    // reported as itself, not as a cookieName the user never set. Real client keys have 32 characters.
    if client_key.len() > MAX_CLIENT_KEY {
        return Err(Error::new(ErrorKind::ConfigInvalid, format!("\"clientKey\" is longer than {MAX_CLIENT_KEY} characters")));
    }
    let allow_insecure_http = r.bool("allowInsecureHttp", false)?;
    Ok((client_key, allow_insecure_http))
}

/// `targetUrl` (classic) or `edgeUrl` + `contextId` + `siteName` (Edge), and `pointOfSale`.
pub(super) fn endpoint(r: &Reader, allow_insecure_http: bool) -> Result<(Endpoint, String)> {
    let map = r.0;
    let target = r.opt_str("targetUrl")?;
    let edge = r.opt_str("edgeUrl")?;
    let endpoint = match (target, edge) {
        (Some(_), Some(_)) => {
            return Err(Error::new(ErrorKind::ConfigInvalid, "set either targetUrl (classic) or edgeUrl (Edge), not both"))
        }
        (None, None) => {
            return Err(Error::new(ErrorKind::ConfigMissing, "missing setting \"targetUrl\" (or \"edgeUrl\" with \"contextId\" and \"siteName\")"))
        }
        (Some(t), None) => {
            for k in ["contextId", "siteName"] {
                if map.contains_key(k) {
                    return Err(Error::new(ErrorKind::ConfigInvalid, format!("\"{k}\" only applies in Edge mode (edgeUrl)")));
                }
            }
            Endpoint::Classic { target_url: base_url("targetUrl", &t, allow_insecure_http)? }
        }
        (None, Some(e)) => {
            // Edge bodies carry no point of sale (the site name selects it): accepting one would silently
            // ignore it, so it is refused as contextId/siteName are in classic mode.
            if map.contains_key("pointOfSale") {
                return Err(Error::new(ErrorKind::ConfigInvalid, "\"pointOfSale\" only applies in classic mode (targetUrl); on Edge, siteName selects it"));
            }
            Endpoint::Edge {
                edge_url: base_url("edgeUrl", &e, allow_insecure_http)?,
                context_id: {
                    let c = r.req_str("contextId")?;
                    check_token_chars("contextId", &c)?;
                    c
                },
                site_name: r.req_str("siteName")?,
            }
        }
    };

    let point_of_sale = match (&endpoint, r.opt_str("pointOfSale")?) {
        (_, Some(p)) if p.trim().is_empty() => {
            return Err(Error::new(ErrorKind::ConfigInvalid, "\"pointOfSale\" cannot be empty"))
        }
        (_, Some(p)) => p,
        (Endpoint::Classic { .. }, None) => return Err(Error::new(ErrorKind::ConfigMissing, "missing setting \"pointOfSale\"")),
        (Endpoint::Edge { .. }, None) => String::new(),
    };
    Ok((endpoint, point_of_sale))
}

/// Site defaults of events and decisions: `channel`, `currency`, `language`.
pub(super) fn site_defaults(r: &Reader) -> Result<(String, Option<String>, Option<String>)> {
    let channel = r.opt_str("channel")?.unwrap_or_else(|| "WEB".to_owned());
    const CHANNELS: &[&str] = &[
        "AIRPORT_KIOSK", "BRANCH", "CALL_CENTER", "EMAIL", "GDS", "KIOSK", "MOBILE_APP", "MOBILE_WEB", "SMS", "OFFLINE", "OTA", "OTHER", "WEB",
    ];
    if !CHANNELS.contains(&channel.as_str()) {
        return Err(Error::new(ErrorKind::ConfigInvalid, format!("\"channel\" must be one of {}", CHANNELS.join(", "))));
    }
    let currency = r.opt_str("currency")?;
    if let Some(c) = &currency {
        if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Error::new(ErrorKind::ConfigInvalid, "\"currency\" must be an upper-case ISO 4217 code such as EUR"));
        }
    }
    let language = r.opt_str("language")?;
    if let Some(l) = &language {
        if l.len() < 2 || l.len() > 8 || !l.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
            return Err(Error::new(ErrorKind::ConfigInvalid, "\"language\" must be a language code such as EN"));
        }
    }
    Ok((channel, currency, language))
}

pub(super) struct Cookie {
    pub(super) name: String,
    pub(super) legacy_name: Option<String>,
    pub(super) domain: Option<String>,
    pub(super) expiry_days: u32,
}

/// `cookieName`, `legacyCookieName`, `cookieDomain`, `cookieExpiryDays`.
pub(super) fn cookie(r: &Reader, client_key: &str) -> Result<Cookie> {
    let map = r.0;
    let cookie_name = r.opt_str("cookieName")?.unwrap_or_else(|| format!("bid_{client_key}"));
    check_cookie_name("cookieName", &cookie_name)?;
    let legacy_cookie_name = match map.get("legacyCookieName") {
        Some(Value::Null) => None,
        Some(_) => r.opt_str("legacyCookieName")?,
        None => Some(format!("BID_{client_key}")),
    };
    if let Some(n) = &legacy_cookie_name {
        check_cookie_name("legacyCookieName", n)?;
    }
    let cookie_domain = r.opt_str("cookieDomain")?;
    if let Some(d) = &cookie_domain {
        // Same rule as cookie::CookieSpec::validate (found by fuzzing: "..", "a..b" passed here).
        let host = d.trim_start_matches('.');
        if host.is_empty() || d.len() > 253 || d.contains("..") || !d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
            return Err(Error::new(ErrorKind::ConfigInvalid, "\"cookieDomain\" must be a host name such as .example.com"));
        }
    }
    let cookie_expiry_days = r.uint("cookieExpiryDays", 730, 1, 3650)? as u32;
    Ok(Cookie { name: cookie_name, legacy_name: legacy_cookie_name, domain: cookie_domain, expiry_days: cookie_expiry_days })
}

pub(super) struct Delivery {
    pub(super) connect_timeout: Duration,
    pub(super) request_timeout: Duration,
    pub(super) pool_idle_timeout: Duration,
    pub(super) queue_capacity: usize,
    pub(super) queue_max_bytes: usize,
    pub(super) overflow_policy: OverflowPolicy,
    pub(super) delivery_concurrency: usize,
    pub(super) retry: RetryPolicy,
    pub(super) forward_user_agent: bool,
    pub(super) proxy: Option<Secret>,
    pub(super) worker_threads: usize,
    pub(super) worker_threads_batch: bool,
}

/// HTTP timeouts, the queue, retries, the proxy and the runtime's threads.
pub(super) fn delivery(r: &Reader) -> Result<Delivery> {
    let connect_timeout = r.millis("connectTimeoutMs", 2_000, 1, 60_000)?;
    let request_timeout = r.millis("requestTimeoutMs", 5_000, 1, 300_000)?;
    let pool_idle_timeout = r.millis("poolIdleTimeoutMs", 50_000, 1, 600_000)?;
    let queue_capacity = r.uint("queueCapacity", 10_000, 1, 10_000_000)? as usize;
    let queue_max_bytes = r.uint("queueMaxBytes", 16 * 1024 * 1024, 64 * 1024, 4 * 1024 * 1024 * 1024)? as usize;
    let overflow_policy = match r.opt_str("overflowPolicy")?.as_deref() {
        None | Some("dropNewest") => OverflowPolicy::DropNewest,
        Some("dropOldest") => OverflowPolicy::DropOldest,
        Some(_) => return Err(Error::new(ErrorKind::ConfigInvalid, "\"overflowPolicy\" must be \"dropNewest\" or \"dropOldest\"")),
    };
    let delivery_concurrency = r.uint("deliveryConcurrency", 16, 1, 1024)? as usize;
    let retry = RetryPolicy {
        max_attempts: r.uint("retryMaxAttempts", 5, 1, 100)? as u32,
        base: r.millis("retryBaseMs", 200, 1, 60_000)?,
        max_backoff: r.millis("retryMaxBackoffMs", 30_000, 1, 3_600_000)?,
        retry_after_cap: r.millis("retryAfterCapMs", 30_000, 0, 3_600_000)?,
    };
    let forward_user_agent = r.bool("forwardUserAgent", true)?;
    let proxy = match r.opt_str("proxy")? {
        Some(p) => {
            let url = reqwest::Url::parse(&p)
                .map_err(|_| Error::new(ErrorKind::ConfigInvalidUrl, "\"proxy\" is not a valid URL"))?;
            if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h") || url.host_str().is_none() {
                return Err(Error::new(ErrorKind::ConfigInvalidUrl, "\"proxy\" must be an http://, https:// or socks5:// URL with a host"));
            }
            Some(Secret::new(p))
        }
        None => None,
    };
    let worker_threads = r.uint("workerThreads", 2, 1, 64)? as usize;
    let worker_threads_batch = r.bool("workerThreadsBatch", true)?;
    Ok(Delivery {
        connect_timeout,
        request_timeout,
        pool_idle_timeout,
        queue_capacity,
        queue_max_bytes,
        overflow_policy,
        delivery_concurrency,
        retry,
        forward_user_agent,
        proxy,
        worker_threads,
        worker_threads_batch,
    })
}

/// `spoolDirectory` and its limits.
pub(super) fn spool(r: &Reader) -> Result<SpoolSettings> {
    let spool = SpoolSettings {
        directory: match r.opt_str("spoolDirectory")? {
            Some(d) if d.trim().is_empty() => return Err(Error::new(ErrorKind::ConfigInvalid, "\"spoolDirectory\" cannot be empty (use null to turn the spool off)")),
            d => d,
        },
        max_bytes: r.uint("spoolMaxBytes", 256 * 1024 * 1024, 1024 * 1024, 1 << 40)?,
        commit_interval: r.millis("spoolCommitIntervalMs", 100, 1, 60_000)?,
        commit_max_events: r.uint("spoolCommitMaxEvents", 1_000, 1, 1_000_000)? as usize,
        journal: match r.opt_str("durability")?.as_deref() {
            None | Some("overflow") => false,
            Some("journal") => true,
            Some(_) => return Err(Error::new(ErrorKind::ConfigInvalid, "\"durability\" must be \"overflow\" or \"journal\"")),
        },
    };
    if spool.journal && spool.directory.is_none() {
        return Err(Error::new(ErrorKind::ConfigInvalid, "\"durability\": \"journal\" needs \"spoolDirectory\""));
    }
    Ok(spool)
}

/// `apiToken` (Guest REST API, server-side only).
pub(super) fn api_token(r: &Reader) -> Result<Option<Secret>> {
    let api_token = r.opt_str("apiToken")?.map(Secret::new);
    if let Some(t) = &api_token {
        if t.expose().is_empty() || t.expose().bytes().any(|b| b.is_ascii_control()) {
            return Err(Error::new(ErrorKind::ConfigInvalid, "\"apiToken\" must be a non-empty string without control characters"));
        }
    }
    Ok(api_token)
}

/// `decision*` and `breaker*`.
pub(super) fn decisions(r: &Reader) -> Result<DecisionSettings> {
    let map = r.0;
    let mut decisions = DecisionSettings {
        timeout: r.millis("decisionTimeoutMs", 400, 1, 60_000)?,
        cache_ttl: None,
        cache_ttl_by_flow: Vec::new(),
        cache_max_entries: r.uint("decisionCacheMaxEntries", 10_000, 1, 10_000_000)? as usize,
        ticket_ttl: r.millis("decisionTicketTtlMs", 30_000, 1, 3_600_000)?,
        max_tickets: r.uint("decisionMaxTickets", 100_000, 1, 10_000_000)? as usize,
        breaker_failure_threshold: r.uint("breakerFailureThreshold", 5, 1, 1_000_000)? as u32,
        breaker_cooldown: r.millis("breakerCooldownMs", 5_000, 1, 3_600_000)?,
    };
    match map.get("decisionCacheTtlMs") {
        None | Some(Value::Null) => {}
        Some(Value::Object(flows)) => {
            for (flow, v) in flows {
                let ms = v.as_u64().filter(|ms| *ms <= 86_400_000).ok_or_else(|| {
                    Error::new(ErrorKind::ConfigInvalid, "\"decisionCacheTtlMs\" values must be whole numbers of milliseconds up to 86400000")
                })?;
                if flow == "*" {
                    decisions.cache_ttl = (ms > 0).then(|| Duration::from_millis(ms));
                } else {
                    decisions.cache_ttl_by_flow.push((flow.clone(), Duration::from_millis(ms)));
                }
            }
        }
        Some(_) => decisions.cache_ttl = Some(r.millis("decisionCacheTtlMs", 0, 0, 86_400_000)?).filter(|d| !d.is_zero()),
    }
    Ok(decisions)
}

pub(super) struct Remote {
    pub(super) browser_id_pool_size: usize,
    pub(super) browser_create_timeout: Duration,
    pub(super) guest_api_url: Option<String>,
    pub(super) guest_api_timeout: Duration,
}

/// Browser ids (`browserIdPoolSize`, `browserCreateTimeoutMs`) and the Guest REST API (`guestApiUrl`, `guestApiTimeoutMs`).
pub(super) fn remote(r: &Reader) -> Result<Remote> {
    let browser_id_pool_size = r.uint("browserIdPoolSize", 0, 0, 10_000)? as usize;
    let browser_create_timeout = r.millis("browserCreateTimeoutMs", 1_000, 1, 60_000)?;
    // Never allowInsecureHttp here: the API token must not cross a network in clear text.
    let guest_api_url = match r.opt_str("guestApiUrl")? {
        Some(u) => Some(base_url("guestApiUrl", &u, false)?),
        None => None,
    };
    let guest_api_timeout = r.millis("guestApiTimeoutMs", 5_000, 1, 300_000)?;
    Ok(Remote { browser_id_pool_size, browser_create_timeout, guest_api_url, guest_api_timeout })
}


impl Reader<'_> {
    pub(super) fn opt_str(&self, key: &str) -> Result<Option<String>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                if s.len() > MAX_STRING {
                    return Err(Error::new(ErrorKind::ConfigInvalid, format!("\"{key}\" is longer than {MAX_STRING} bytes")));
                }
                Ok(Some(s.clone()))
            }
            Some(_) => Err(Error::new(ErrorKind::ConfigInvalid, format!("\"{key}\" must be a string"))),
        }
    }
    pub(super) fn req_str(&self, key: &str) -> Result<String> {
        match self.opt_str(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(Error::new(ErrorKind::ConfigInvalid, format!("\"{key}\" cannot be empty"))),
            None => Err(Error::new(ErrorKind::ConfigMissing, format!("missing setting \"{key}\""))),
        }
    }
    pub(super) fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(Error::new(ErrorKind::ConfigInvalid, format!("\"{key}\" must be true or false"))),
        }
    }
    pub(super) fn uint(&self, key: &str, default: u64, min: u64, max: u64) -> Result<u64> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if (min..=max).contains(&v) => Ok(v),
                _ => Err(Error::new(ErrorKind::ConfigInvalid, format!("\"{key}\" must be a whole number from {min} to {max}"))),
            },
            Some(_) => Err(Error::new(ErrorKind::ConfigInvalid, format!("\"{key}\" must be a number"))),
        }
    }
    pub(super) fn millis(&self, key: &str, default: u64, min: u64, max: u64) -> Result<Duration> {
        self.uint(key, default, min, max).map(Duration::from_millis)
    }
}

fn base_url(key: &str, raw: &str, allow_insecure_http: bool) -> Result<String> {
    let url = reqwest::Url::parse(raw).map_err(|_| Error::new(ErrorKind::ConfigInvalidUrl, format!("\"{key}\" is not a valid absolute URL")))?;
    let host = url.host_str().ok_or_else(|| Error::new(ErrorKind::ConfigInvalidUrl, format!("\"{key}\" has no host")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::new(ErrorKind::ConfigInvalidUrl, format!("\"{key}\" must not carry credentials")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::new(ErrorKind::ConfigInvalidUrl, format!("\"{key}\" must not have a query or fragment")));
    }
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure_http || is_loopback(host) => {}
        "http" => {
            return Err(Error::new(
                ErrorKind::ConfigInvalidUrl,
                format!("\"{key}\" must use https:// (http:// is allowed only to loopback, or with allowInsecureHttp)"),
            ))
        }
        _ => return Err(Error::new(ErrorKind::ConfigInvalidUrl, format!("\"{key}\" must be an http(s) URL"))),
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn check_token_chars(key: &str, v: &str) -> Result<()> {
    if v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b)) {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::ConfigInvalid, format!("\"{key}\" may contain only letters, digits and - _ . ~")))
    }
}

fn check_cookie_name(key: &str, v: &str) -> Result<()> {
    // RFC 6265 token: visible ASCII except separators.
    let ok = !v.is_empty()
        && v.len() <= 128
        && v.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::ConfigInvalid, format!("\"{key}\" is not a valid cookie name")))
    }
}
