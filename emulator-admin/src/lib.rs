//! One blocking HTTP client for the emulator's inspection and fault API (`/__emulator/...`), used by the Rust
//! integration tests and by xtask (demo, bench, Windows runs), plus [`send`] for the few other plain requests those
//! make (the emulator's own Stream endpoints, the xsp4 test site).
//!
//! Errors are strings naming the request: xtask reports them as they are, tests `expect` them.

use serde_json::Value;
use std::sync::OnceLock;
use std::time::Duration;

pub use reqwest;

/// A whole response: status, headers (lower-case names, in the order received) and body text.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.body).map_err(|e| format!("not JSON ({e}): {}", self.body))
    }

    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every header of that name, e.g. all `Set-Cookie` lines.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn client() -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::blocking::Client::builder()
            // No pooled connection: a request never lands on a connection an earlier fault (or process) dropped.
            .pool_max_idle_per_host(0)
            // The xsp4 site compiles pages on first hit; under load that takes tens of seconds.
            .timeout(Duration::from_secs(60))
            // Tests and the demo look at redirects and cookies themselves.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("reqwest blocking client")
    })
}

/// Sends one request and reads the whole answer, whatever its status. A body is sent as `application/json`
/// unless `headers` names another Content-Type.
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Result<Response, String> {
    let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| format!("method {method}: {e}"))?;
    let mut rb = client().request(m, url);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    if let Some(b) = body {
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            rb = rb.header("Content-Type", "application/json");
        }
        rb = rb.body(b.to_string());
    }
    let r = rb.send().map_err(|e| format!("{method} {url}: {e}"))?;
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = r.text().map_err(|e| format!("{method} {url}: reading the body: {e}"))?;
    Ok(Response { status, headers, body })
}

/// `GET url`, a 2xx status, a JSON body.
pub fn get_json(url: &str) -> Result<Value, String> {
    let r = send("GET", url, &[], None)?;
    if !r.is_success() {
        return Err(format!("GET {url} answered {}: {}", r.status, r.body));
    }
    r.json()
}

/// The emulator at `base` (e.g. `http://127.0.0.1:5123`), through its inspection and fault API.
#[derive(Debug, Clone)]
pub struct Admin {
    base: String,
}

impl Admin {
    pub fn new(base: impl Into<String>) -> Admin {
        Admin { base: base.into().trim_end_matches('/').to_string() }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /__emulator{path}` as JSON; `path` starts with `/` and may carry a query.
    pub fn get(&self, path: &str) -> Result<Value, String> {
        get_json(&format!("{}/__emulator{path}", self.base))
    }

    fn call(&self, method: &str, path: &str, body: Option<&str>) -> Result<Value, String> {
        let url = format!("{}/__emulator{path}", self.base);
        let r = send(method, &url, &[], body)?;
        if !r.is_success() {
            return Err(format!("{method} {url} answered {}: {}", r.status, r.body));
        }
        r.json()
    }

    /// Every request the emulator received (`{"count", "items"}`).
    pub fn requests(&self) -> Result<Value, String> {
        self.get("/requests")
    }

    /// Events received; `query` is the query string without `?` (`browser_id=...`, `limit=...`), or empty.
    pub fn events(&self, query: &str) -> Result<Value, String> {
        self.get(&with_query("/events", query))
    }

    pub fn events_of(&self, browser_id: &str) -> Result<Value, String> {
        self.events(&format!("browser_id={browser_id}"))
    }

    pub fn guests(&self, query: &str) -> Result<Value, String> {
        self.get(&with_query("/guests", query))
    }

    pub fn guest(&self, guest_ref: &str) -> Result<Value, String> {
        self.get(&format!("/guests/{guest_ref}"))
    }

    pub fn sessions(&self, query: &str) -> Result<Value, String> {
        self.get(&with_query("/sessions", query))
    }

    pub fn flow_executions(&self, query: &str) -> Result<Value, String> {
        self.get(&with_query("/flows/executions", query))
    }

    pub fn stats(&self) -> Result<Value, String> {
        self.get("/stats")
    }

    /// Replaces the fault configuration (`{}` clears it).
    pub fn set_faults(&self, faults: &Value) -> Result<Value, String> {
        self.call("PUT", "/faults", Some(&faults.to_string()))
    }

    pub fn clear_faults(&self) -> Result<Value, String> {
        self.call("DELETE", "/faults", None)
    }

    pub fn clock(&self) -> Result<Value, String> {
        self.get("/clock")
    }

    pub fn reset(&self) -> Result<Value, String> {
        self.call("POST", "/reset", None)
    }

    /// A new browser id from the emulator's Stream API, as a site's first page view would get one.
    pub fn create_browser(&self) -> Result<String, String> {
        let v = get_json(&format!("{}/v1.2/browser/create.json?client_key=ck_test&message=%7B%7D", self.base))?;
        v["ref"].as_str().map(str::to_string).ok_or_else(|| format!("no ref in browser/create answer: {v}"))
    }
}

fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}
