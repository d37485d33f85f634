//! Browser identity on the network side: `browser/create.json` within a budget, a small pool of ids created
//! ahead of time, `ensure_browser_id` for a request's `Cookie` header, and browser → guest via `show.json`.
//! The cookie parsing and `Set-Cookie` strings are `cookie`'s (pure, Engage-compatible).
//!
//! The pool trade-off: a first visit takes an id without waiting for the network, but every id in the pool
//! was created in CDP and is an anonymous guest there even if no visitor ever gets it (and ids left in the pool
//! at shutdown are never used). The refill starts once half of the pool is taken, so size it to twice the burst
//! of first visits expected within one refill (a handful), or set `browserIdPoolSize` to 0 (the default) to create ids only on demand.

use crate::config::Settings;
use crate::transport::call::{run_within, RuntimeLink};
use crate::transport::response::{network_error, read_capped, server_message};
use crate::transport::urls::BrowserUrls;
use crate::error::{Error, ErrorKind, Result};
use crate::cookie::{read_cookie_header, CookieSpec, SetCookie};
use crate::model::validate_browser_id;
use crate::log;
use crate::transport::Transport;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Where the browser id of [`BrowserIdResult`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserIdSource {
    /// The current cookie (`bid_{clientKey}` or the configured name).
    Cookie,
    /// The legacy cookie (`BID_{clientKey}`), migrated: the current cookie is set, the legacy one expired.
    Legacy,
    /// A pre-created id from the pool (no network wait).
    Pool,
    /// Created on demand (`browser/create.json`) within the budget.
    Created,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserIdResult {
    pub browser_id: String,
    /// The guest ref CDP returned with a newly created id (`customer_ref`); `None` for cookie ids.
    pub guest_ref: Option<String>,
    /// `Set-Cookie` header values to emit, in order (empty when the cookie is already right).
    pub set_cookies: Vec<String>,
    /// True when the id is new to this visitor (pool or create).
    pub created: bool,
    pub source: BrowserIdSource,
}

/// A browser id fresh from `browser/create.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedBrowser {
    pub browser_id: String,
    pub guest_ref: Option<String>,
}

/// The browser ids of one client (cookie, pool, create, show); reach it with `Client::browser_ids`.
pub struct BrowserIds {
    pool: Arc<Pool>,
    rt: RuntimeLink,
}

struct Pool {
    ids: Mutex<VecDeque<CreatedBrowser>>,
    size: usize,
    refill: tokio::sync::Notify,
    api: Api,
    spec: CookieSpec,
    set_cookie: SetCookie,
    create_timeout: Duration,
}

#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    urls: BrowserUrls,
}

impl Api {
    fn new(settings: &Settings, transport: &Transport) -> Api {
        Api { http: transport.http().clone(), urls: BrowserUrls::new(settings) }
    }

    async fn create(&self) -> Result<CreatedBrowser> {
        let resp = self.http.get(&self.urls.create).send().await.map_err(|e| network_error("browser/create.json", &e))?;
        let status = resp.status().as_u16();
        let body = read_capped(resp, MAX_RESPONSE_BYTES).await?;
        if !(200..300).contains(&status) {
            return Err(stream_status_error("browser/create.json", status, &body, None));
        }
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let browser_id = v.get("ref").and_then(|r| r.as_str()).unwrap_or("");
        // The id goes into a Set-Cookie header and URLs: the server's answer is checked like a cookie value.
        validate_browser_id(browser_id)
            .map_err(|_| Error::new(ErrorKind::UnexpectedStatus, "browser/create.json returned no usable browser id (\"ref\")"))?;
        let guest_ref = v.get("customer_ref").and_then(|r| r.as_str()).filter(|g| validate_browser_id(g).is_ok()).map(str::to_string);
        Ok(CreatedBrowser { browser_id: browser_id.to_string(), guest_ref })
    }

    async fn show(&self, browser_id: String) -> Result<String> {
        let url = self.urls.show(&browser_id);
        let resp = self.http.get(&url).send().await.map_err(|e| network_error("browser/show.json", &e))?;
        let status = resp.status().as_u16();
        let body = read_capped(resp, MAX_RESPONSE_BYTES).await?;
        if !(200..300).contains(&status) {
            return Err(stream_status_error("browser/show.json", status, &body, Some(&browser_id)));
        }
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        v.pointer("/customer/ref")
            .and_then(|r| r.as_str())
            .filter(|g| validate_browser_id(g).is_ok())
            .map(str::to_string)
            .ok_or_else(|| Error::new(ErrorKind::UnexpectedStatus, "browser/show.json returned no guest ref (\"customer.ref\")"))
    }
}

/// Maps a Stream API error; the browser id (a cookie value) is masked out of the server's message.
fn stream_status_error(what: &str, status: u16, body: &[u8], browser_id: Option<&str>) -> Error {
    let mut msg = server_message(body);
    if let Some(b) = browser_id {
        msg = msg.replace(b, "<browser id>");
    }
    let detail = if msg.is_empty() { String::new() } else { format!(": {msg}") };
    let kind = match status {
        401 | 403 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        429 | 500..=599 => ErrorKind::ServerError,
        _ => ErrorKind::UnexpectedStatus,
    };
    Error::new(kind, format!("{what} answered {status}{detail}"))
}

impl Pool {
    fn start(settings: &Settings, transport: &Transport, rt: &RuntimeLink) -> Arc<Pool> {
        let spec = CookieSpec {
            name: settings.cookie_name.clone(),
            legacy_name: settings.legacy_cookie_name.clone(),
            domain: settings.cookie_domain.clone(),
            max_age_days: settings.cookie_expiry_days,
        };
        let pool = Arc::new(Pool {
            ids: Mutex::new(VecDeque::with_capacity(settings.browser_id_pool_size)),
            size: settings.browser_id_pool_size,
            refill: tokio::sync::Notify::new(),
            api: Api::new(settings, transport),
            set_cookie: SetCookie::new(&spec),
            spec,
            create_timeout: settings.browser_create_timeout,
        });
        if pool.size > 0 {
            if let Ok(h) = rt.handle() {
                h.spawn(refill_loop(pool.clone()));
            }
        }
        pool
    }

    fn take(&self) -> Option<CreatedBrowser> {
        let (id, left) = {
            let mut ids = self.ids.lock();
            let id = ids.pop_front();
            (id, ids.len())
        };
        // Waking the parked refill task costs the request thread a cross-thread wake-up (≈ 10 µs, more when the
        // woken worker shares its core), so it is woken once half of the pool is gone, not for every id taken;
        // it then refills to the full size. Pools of 1 or 2 still wake on every take.
        if self.size > 0 && left <= self.size / 2 {
            self.refill.notify_one();
        }
        id
    }
}

/// Keeps the pool full; backs off (1 s doubling to 60 s) while creates fail, so an outage is not hammered.
/// Runs until the client's runtime shuts down.
async fn refill_loop(p: Arc<Pool>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        if p.ids.lock().len() >= p.size {
            p.refill.notified().await;
            continue;
        }
        let r = match tokio::time::timeout(p.create_timeout, p.api.create()).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(ErrorKind::Timeout, "browser/create.json did not answer in time")),
        };
        match r {
            Ok(b) => {
                backoff = Duration::from_secs(1);
                let mut ids = p.ids.lock();
                if ids.len() < p.size {
                    ids.push_back(b);
                }
            }
            Err(e) => {
                log::emit_once("browser-pool-create", log::Level::Warn, format!("xmcdp: cannot fill the browser id pool: {}", e.message));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

impl BrowserIds {
    pub(crate) fn new(settings: &Settings, transport: &Transport, rt: RuntimeLink) -> BrowserIds {
        BrowserIds { pool: Pool::start(settings, transport, &rt), rt }
    }

    /// The visitor's browser id for a raw `Cookie:` header, within `browserCreateTimeoutMs`. See
    /// [`BrowserIds::ensure_browser_id_within`].
    pub fn ensure_browser_id(&self, cookie_header: &str) -> Result<BrowserIdResult> {
        self.ensure_browser_id_within(cookie_header, self.pool.create_timeout)
    }

    /// The visitor's browser id: the current cookie; else the legacy cookie (migrated: `Set-Cookie` for the
    /// current name plus the legacy one's expiry); else an id from the pool; else a blocking create within
    /// `budget`. Invalid (hostile) cookie values are ignored, never echoed, and never reach a URL or header.
    pub fn ensure_browser_id_within(&self, cookie_header: &str, budget: Duration) -> Result<BrowserIdResult> {
        let pool = &self.pool;
        let read = read_cookie_header(&pool.spec, cookie_header);
        if read.rejected.is_some() {
            log::emit_once("browser-cookie-rejected", log::Level::Warn, "xmcdp: ignored an invalid browser id cookie value (not shown)");
        }
        if let Some(bid) = read.browser_id {
            if read.from_legacy {
                let mut set_cookies = vec![pool.set_cookie.render(&bid)];
                set_cookies.extend(pool.spec.expire_legacy());
                return Ok(BrowserIdResult { browser_id: bid, guest_ref: None, set_cookies, created: false, source: BrowserIdSource::Legacy });
            }
            return Ok(BrowserIdResult { browser_id: bid, guest_ref: None, set_cookies: Vec::new(), created: false, source: BrowserIdSource::Cookie });
        }
        let (b, source) = match pool.take() {
            Some(b) => (b, BrowserIdSource::Pool),
            None => (self.create_browser_id(budget)?, BrowserIdSource::Created),
        };
        Ok(BrowserIdResult {
            set_cookies: vec![pool.set_cookie.render(&b.browser_id)],
            browser_id: b.browser_id,
            guest_ref: b.guest_ref,
            created: true,
            source,
        })
    }

    /// `browser/create.json` (classic or Edge), waiting at most `budget`.
    pub fn create_browser_id(&self, budget: Duration) -> Result<CreatedBrowser> {
        let rt = self.rt.handle()?;
        let api = self.pool.api.clone();
        run_within(&rt, budget, "browser/create.json", async move { api.create().await })
    }

    /// The guest ref behind a browser id (`browser/{id}/show.json`), waiting at most `budget`. After an
    /// IDENTITY merge this is the surviving guest. The id is validated first (`InvalidBrowserId`).
    pub fn guest_ref_for_browser(&self, browser_id: &str, budget: Duration) -> Result<String> {
        validate_browser_id(browser_id).map_err(Error::from)?;
        let rt = self.rt.handle()?;
        let api = self.pool.api.clone();
        let bid = browser_id.to_string();
        run_within(&rt, budget, "browser/show.json", async move { api.show(bid).await })
    }

    /// Ids waiting in the pool.
    pub fn pool_len(&self) -> usize {
        self.pool.ids.lock().len()
    }
}
