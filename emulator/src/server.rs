//! HTTP front end: the accept loop (per-connection control so faults can drop a TCP connection), routing of
//! the classic and Edge paths, the Stream and Personalize handlers, fault injection, the request ring and the
//! `/__emulator/` inspection and admin API.

use crate::config::{EdgeContext, EmulatorConfig, Limits};
use crate::faults::{Decision, FaultConfig, Faults};
use crate::state::{EventError, Store, Tenant};
use crate::util::{iso_ms, parse_query, system_ms};
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

pub type ResBody = UnsyncBoxBody<Bytes, Infallible>;

const MORE_INFO: &str =
    "https://doc.sitecore.com/cdp/en/developers/api/troubleshooting-1153275.html";
const SUPPORT: &str = "https://support.sitecore.com";

/// Route names for stats and fault rules.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RouteName {
    BrowserCreate,
    BrowserShow,
    Events,
    CallFlows,
    Guests,
    Other,
    Admin,
}

impl RouteName {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteName::BrowserCreate => "browser_create",
            RouteName::BrowserShow => "browser_show",
            RouteName::Events => "events",
            RouteName::CallFlows => "callflows",
            RouteName::Guests => "guests",
            RouteName::Other => "other",
            RouteName::Admin => "admin",
        }
    }
    const ALL: [RouteName; 7] = [
        RouteName::BrowserCreate,
        RouteName::BrowserShow,
        RouteName::Events,
        RouteName::CallFlows,
        RouteName::Guests,
        RouteName::Other,
        RouteName::Admin,
    ];
    fn idx(self) -> usize {
        self as usize
    }
}

const FAULT_KINDS: [&str; 6] = [
    "latency",
    "error",
    "throttle",
    "reset",
    "slow_body",
    "outage",
];

pub struct RequestRec {
    pub seq: u64,
    pub at: i64,
    pub method: String,
    pub path: String,
    pub query: String,
    /// `name: value` lines; copied (not sliced) so the connection's read buffers are not kept alive.
    pub headers: Box<str>,
    pub body: Box<[u8]>,
    pub status: u16,
    pub route: &'static str,
    pub fault: Option<&'static str>,
    pub truncated: bool,
}

pub struct App {
    pub tenants: HashMap<String, Arc<Tenant>>,
    pub contexts: HashMap<String, (Arc<Tenant>, EdgeContext)>,
    pub limits: Limits,
    pub base_url: String,
    pub store: Mutex<Store>,
    pub ring: Mutex<(u64, VecDeque<RequestRec>)>,
    pub faults: Mutex<Faults>,
    faults_active: AtomicBool,
    initial_faults: FaultConfig,
    clock_offset_ms: AtomicI64,
    route_counts: [AtomicU64; 7],
    fault_counts: [AtomicU64; 6],
    /// `Idempotency-Key` of accepted events → the answer given, so a replayed event is acknowledged again but
    /// stored once (and counted as a duplicate).
    idem: Mutex<Idem>,
}

/// Bounded memory of idempotency keys (oldest forgotten first).
#[derive(Default)]
pub struct Idem {
    seen: HashMap<Box<str>, Bytes>,
    order: VecDeque<Box<str>>,
    duplicates: u64,
}

const IDEM_KEYS: usize = 1_000_000;

impl App {
    pub fn new(cfg: &EmulatorConfig, base_url: String) -> App {
        let mut tenants = HashMap::new();
        let mut contexts = HashMap::new();
        for t in &cfg.tenants {
            let tenant = Arc::new(Tenant::from_config(t));
            for c in &t.edge_contexts {
                contexts.insert(c.context_id.clone(), (tenant.clone(), c.clone()));
            }
            tenants.insert(t.client_key.clone(), tenant);
        }
        let app = App {
            tenants,
            contexts,
            limits: cfg.limits.clone(),
            base_url: cfg
                .public_base_url
                .clone()
                .unwrap_or(base_url)
                .trim_end_matches('/')
                .to_string(),
            store: Mutex::new(Store::default()),
            ring: Mutex::new((0, VecDeque::new())),
            faults: Mutex::new(Faults::default()),
            faults_active: AtomicBool::new(false),
            initial_faults: cfg.faults.clone(),
            clock_offset_ms: AtomicI64::new(0),
            route_counts: Default::default(),
            fault_counts: Default::default(),
            idem: Mutex::new(Idem::default()),
        };
        app.set_faults(cfg.faults.clone());
        app
    }

    pub fn now(&self) -> i64 {
        system_ms() + self.clock_offset_ms.load(Ordering::Relaxed)
    }

    fn set_faults(&self, cfg: FaultConfig) {
        let mut f = self.faults.lock();
        self.faults_active.store(!cfg.is_empty(), Ordering::Release);
        f.config = cfg;
        f.used.clear();
    }

    fn count_fault(&self, kind: &str) {
        if let Some(i) = FAULT_KINDS.iter().position(|k| *k == kind) {
            self.fault_counts[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn reset(&self) {
        *self.store.lock() = Store::default();
        *self.ring.lock() = (0, VecDeque::new());
        self.set_faults(self.initial_faults.clone());
        self.clock_offset_ms.store(0, Ordering::Relaxed);
        for c in &self.route_counts {
            c.store(0, Ordering::Relaxed);
        }
        for c in &self.fault_counts {
            c.store(0, Ordering::Relaxed);
        }
    }
}

// ----- connection handling -----------------------------------------------------------------------------

pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let (closing_tx, closing_rx) = watch::channel(false);
    let active = Arc::new(AtomicUsize::new(0));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            res = listener.accept() => {
                let (stream, _) = match res {
                    Ok(x) => x,
                    Err(_) => { tokio::time::sleep(Duration::from_millis(5)).await; continue; }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let closing = closing_rx.clone();
                let active = active.clone();
                active.fetch_add(1, Ordering::AcqRel);
                tokio::spawn(async move {
                    connection(stream, app, closing).await;
                    active.fetch_sub(1, Ordering::AcqRel);
                });
            }
        }
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while active.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    app: Arc<App>,
    mut closing: watch::Receiver<bool>,
) {
    #[cfg(unix)]
    let fd = {
        use std::os::fd::AsRawFd;
        stream.as_raw_fd()
    };
    let abort = Arc::new(Notify::new());
    let abort2 = abort.clone();
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let app = app.clone();
        let abort = abort2.clone();
        async move { Ok::<_, Infallible>(handle(app, req, abort).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .half_close(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(crate::rawfix::RawTargetFix::new(stream)), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = abort.notified() => {
            // Drop the connection with a RST and no response (the connection-reset fault / outage).
            #[cfg(unix)]
            {
                use std::os::fd::BorrowedFd;
                // SAFETY: the fd belongs to `conn`, which is still alive here and dropped just after.
                let b = unsafe { BorrowedFd::borrow_raw(fd) };
                let _ = socket2::SockRef::from(&b).set_linger(Some(Duration::ZERO));
            }
        }
        _ = closing.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn.as_mut()).await;
        }
    }
}

// ----- responses -------------------------------------------------------------------------------------------

pub struct Out {
    pub status: u16,
    pub body: Bytes,
    pub ctype: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

impl Out {
    pub fn json(status: u16, v: &Value) -> Out {
        Out {
            status,
            body: Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
            ctype: "application/json",
            headers: Vec::new(),
        }
    }
    fn raw_json(status: u16, s: String) -> Out {
        Out {
            status,
            body: Bytes::from(s),
            ctype: "application/json",
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

fn not_found_route(method: &Method, path: &str) -> Out {
    rest_error(
        404,
        "The specified resource does not exist.",
        &format!("No route for {method} {path}"),
    )
}

/// Sends a body `chunk` bytes at a time with `delay` between chunks (the slow-body fault).
struct SlowBody {
    data: Bytes,
    chunk: usize,
    delay: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for SlowBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.data.is_empty() {
            return Poll::Ready(None);
        }
        if let Some(s) = self.sleep.as_mut() {
            if s.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        let d = self.delay;
        self.sleep = Some(Box::pin(tokio::time::sleep(d)));
        let n = self.chunk.min(self.data.len());
        let part = self.data.split_to(n);
        Poll::Ready(Some(Ok(Frame::data(part))))
    }
    fn is_end_stream(&self) -> bool {
        self.data.is_empty()
    }
    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.data.len() as u64)
    }
}

use std::future::Future;

fn to_response(out: Out, slow: Option<(Duration, usize)>, cors: bool) -> Response<ResBody> {
    let body: ResBody = match slow {
        Some((delay, chunk)) if !out.body.is_empty() => SlowBody {
            data: out.body,
            chunk,
            delay,
            sleep: None,
        }
        .boxed_unsync(),
        _ => Full::new(out.body).boxed_unsync(),
    };
    let mut r = Response::new(body);
    *r.status_mut() =
        hyper::StatusCode::from_u16(out.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    if !out.ctype.is_empty() {
        h.insert(
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static(out.ctype),
        );
    }
    if cors {
        h.insert(
            hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    for (k, v) in out.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            h.insert(n, v);
        }
    }
    r
}

// ----- request dispatch ----------------------------------------------------------------------------------

pub struct Req {
    pub method: Method,
    pub path: String,
    pub raw_query: String,
    pub query: Vec<(String, String)>,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Req {
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// False when a content type is given and it is neither JSON nor text/plain.
    pub fn json_content_type_ok(&self) -> bool {
        match self.header("content-type") {
            None => true,
            Some(ct) => {
                let ct = ct.to_ascii_lowercase();
                ct.contains("json") || ct.starts_with("text/plain")
            }
        }
    }
}

enum Route {
    BrowserCreate,
    BrowserShow(String),
    EventsPost,
    EventGet,
    CallFlows,
    CdnUrl,
    Guests,
    Options,
    Admin,
    MethodNotAllowed(&'static str),
    NotFound,
}

fn route(method: &Method, path: &str) -> (Route, RouteName, bool) {
    if path.starts_with("/__emulator/") || path == "/__emulator" {
        return (Route::Admin, RouteName::Admin, false);
    }
    let (p, edge) = if let Some(r) = path
        .strip_prefix("/v1/events")
        .filter(|r| r.starts_with("/v1.2/"))
    {
        (r, true)
    } else if let Some(r) = path
        .strip_prefix("/events")
        .filter(|r| r.starts_with("/v1.2/"))
    {
        (r, true)
    } else {
        (path, false)
    };
    let is_opt = method == Method::OPTIONS;
    let m = |allowed: &Method,
             r: Route,
             name: RouteName,
             allow: &'static str|
     -> (Route, RouteName, bool) {
        if is_opt {
            (Route::Options, name, edge)
        } else if method == allowed {
            (r, name, edge)
        } else {
            (Route::MethodNotAllowed(allow), name, edge)
        }
    };
    if p == "/v1.2/browser/create.json" {
        return m(
            &Method::GET,
            Route::BrowserCreate,
            RouteName::BrowserCreate,
            "GET, OPTIONS",
        );
    }
    if let Some(rest) = p.strip_prefix("/v1.2/browser/") {
        if let Some(id) = rest.strip_suffix("/show.json") {
            if !id.is_empty() && !id.contains('/') {
                let id = crate::util::percent_decode(id, false);
                return m(
                    &Method::GET,
                    Route::BrowserShow(id),
                    RouteName::BrowserShow,
                    "GET, OPTIONS",
                );
            }
        }
    }
    if p == "/v1.2/events" {
        return m(
            &Method::POST,
            Route::EventsPost,
            RouteName::Events,
            "POST, OPTIONS",
        );
    }
    if p == "/v1.2/event/create.json" {
        return m(
            &Method::GET,
            Route::EventGet,
            RouteName::Events,
            "GET, OPTIONS",
        );
    }
    match path {
        "/v2/callFlows" => {
            return m(
                &Method::POST,
                Route::CallFlows,
                RouteName::CallFlows,
                "POST, OPTIONS",
            )
        }
        "/v1/personalize" | "/v1/personalize/v2/callFlows" | "/personalize/v2/callFlows" => {
            let (r, n, _) = m(
                &Method::POST,
                Route::CallFlows,
                RouteName::CallFlows,
                "POST, OPTIONS",
            );
            return (r, n, true);
        }
        "/v1/personalize/cdn-url" => {
            let (r, n, _) = m(
                &Method::GET,
                Route::CdnUrl,
                RouteName::Other,
                "GET, OPTIONS",
            );
            return (r, n, true);
        }
        _ => {}
    }
    if path == "/v2.1/guests" || path.starts_with("/v2.1/guests/") {
        return (Route::Guests, RouteName::Guests, false);
    }
    if is_opt {
        return (Route::Options, RouteName::Other, false);
    }
    (Route::NotFound, RouteName::Other, false)
}

async fn handle(app: Arc<App>, req: Request<Incoming>, abort: Arc<Notify>) -> Response<ResBody> {
    let (parts, incoming) = req.into_parts();
    let path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let (rt, rname, edge) = route(&parts.method, &path);
    app.route_counts[rname.idx()].fetch_add(1, Ordering::Relaxed);

    // Body, bounded.
    let limit = app.limits.max_body_bytes;
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body_error = false;
    let body = if declared.is_some_and(|n| n > limit as u64) {
        None
    } else {
        match Limited::new(incoming, limit).collect().await {
            Ok(c) => Some(c.to_bytes()),
            Err(e) => {
                body_error = !e.is::<http_body_util::LengthLimitError>();
                None
            }
        }
    };
    let is_admin = matches!(rt, Route::Admin);
    let req = Req {
        method: parts.method,
        path,
        query: parse_query(&raw_query),
        raw_query,
        headers: parts.headers,
        body: body.clone().unwrap_or_default(),
    };

    let Some(_) = body else {
        let out = if body_error {
            rest_error(400, "Bad Request", "the request body could not be read")
        } else {
            rest_error(
                413,
                "Payload Too Large",
                &format!("request bodies are limited to {limit} bytes"),
            )
        };
        if !is_admin {
            record(&app, &req, out.status, rname, None);
        }
        let mut r = to_response(out, None, true);
        r.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    };

    if is_admin {
        let out = crate::admin::handle(&app, &req);
        return to_response(out, None, false);
    }

    // Faults (never on the admin API).
    let mut decision = Decision::default();
    if app.faults_active.load(Ordering::Acquire) && !matches!(rt, Route::Options | Route::NotFound)
    {
        decision = app.faults.lock().decide(rname.as_str());
    }
    if decision.outage {
        app.count_fault("outage");
        record(&app, &req, 0, rname, Some("outage"));
        abort.notify_one();
        return std::future::pending().await;
    }
    if let Some(d) = decision.delay {
        app.count_fault("latency");
        tokio::time::sleep(d).await;
    }
    if decision.reset {
        app.count_fault("reset");
        record(&app, &req, 0, rname, Some("reset"));
        abort.notify_one();
        return std::future::pending().await;
    }
    if let Some(retry) = decision.throttle {
        app.count_fault("throttle");
        let mut out = rest_error(
            429,
            "Too Many Requests",
            "rate limit injected by xmcdp-emulator",
        );
        out.headers.push(("retry-after", retry.to_string()));
        record(&app, &req, 429, rname, Some("throttle"));
        return to_response(out, None, true);
    }
    if let Some(status) = decision.error {
        app.count_fault("error");
        let out = rest_error(
            status,
            "Injected failure",
            "error injected by xmcdp-emulator",
        );
        record(&app, &req, status, rname, Some("error"));
        return to_response(out, None, true);
    }

    let out = match rt {
        Route::Options => {
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
        Route::BrowserCreate => browser_create(&app, &req),
        Route::BrowserShow(id) => browser_show(&app, &req, &id),
        Route::EventsPost => {
            if !req.json_content_type_ok() {
                rest_error(
                    415,
                    "Unsupported Media Type",
                    "send Content-Type: application/json",
                )
            } else {
                let key = req
                    .headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .filter(|k| !k.is_empty() && k.len() <= 200);
                let seen = key.and_then(|k| {
                    let mut i = app.idem.lock();
                    let body = i.seen.get(k).cloned();
                    if body.is_some() {
                        i.duplicates += 1;
                    }
                    body
                });
                match seen {
                    Some(body) => Out {
                        status: 201,
                        body,
                        ctype: "application/json",
                        headers: Vec::new(),
                    },
                    None => {
                        let text = String::from_utf8_lossy(&req.body);
                        let out = event(&app, &req, &text, "post", edge);
                        if let (Some(k), 201) = (key, out.status) {
                            let mut i = app.idem.lock();
                            if i.order.len() >= IDEM_KEYS {
                                if let Some(old) = i.order.pop_front() {
                                    i.seen.remove(&old);
                                }
                            }
                            i.seen.insert(k.into(), out.body.clone());
                            i.order.push_back(k.into());
                        }
                        out
                    }
                }
            }
        }
        Route::EventGet => match crate::util::extract_message(&req.raw_query) {
            Some(m) => event(&app, &req, &m, "get", edge),
            None => {
                app.store
                    .lock()
                    .stats
                    .events_rejected
                    .entry("missing_message".into())
                    .and_modify(|c| *c += 1)
                    .or_insert(1);
                stream_error(
                    400,
                    req.q("client_key").unwrap_or(""),
                    "The message parameter is required",
                )
            }
        },
        Route::CallFlows => callflows(&app, &req, edge),
        Route::CdnUrl => match resolve_tenant(&app, &req, "") {
            Some((t, _)) => Out {
                status: 200,
                body: Bytes::from(format!(
                    "{}/web-flow-libs/{}/web-version.min.js",
                    app.base_url, t.client_key
                )),
                ctype: "text/plain",
                headers: Vec::new(),
            },
            None => stream_error(401, "", "Unknown sitecoreContextId"),
        },
        Route::Guests => crate::rest::handle(&app, &req),
        Route::MethodNotAllowed(allow) => {
            let mut o = rest_error(
                405,
                "Method Not Allowed",
                &format!("{} is not allowed on {}", req.method, req.path),
            );
            o.headers.push(("allow", allow.into()));
            o
        }
        Route::NotFound => not_found_route(&req.method, &req.path),
        Route::Admin => unreachable!(),
    };
    let fault = if decision.slow.is_some() {
        app.count_fault("slow_body");
        Some("slow_body")
    } else {
        None
    };
    record(&app, &req, out.status, rname, fault);
    to_response(out, decision.slow, rname != RouteName::Guests)
}

fn record(app: &App, req: &Req, status: u16, route: RouteName, fault: Option<&'static str>) {
    let cap = app.limits.max_requests;
    if cap == 0 {
        return;
    }
    let max_body = app.limits.max_recorded_body_bytes;
    let body: Box<[u8]> = if req.body.len() > max_body {
        req.body[..max_body].into()
    } else {
        req.body[..].into()
    };
    let mut headers = String::with_capacity(256);
    for (k, v) in req.headers.iter() {
        headers.push_str(k.as_str());
        headers.push('\0');
        headers.push_str(&String::from_utf8_lossy(v.as_bytes()));
        headers.push('\n');
    }
    let headers = headers.into_boxed_str();
    let at = app.now();
    let mut ring = app.ring.lock();
    ring.0 += 1;
    let seq = ring.0;
    while ring.1.len() >= cap {
        ring.1.pop_front();
    }
    ring.1.push_back(RequestRec {
        seq,
        at,
        method: req.method.to_string(),
        path: req.path.clone(),
        query: req.raw_query.clone(),
        headers,
        body,
        status,
        route: route.as_str(),
        fault,
        truncated: req.body.len() > max_body,
    });
}

// ----- tenant resolution ---------------------------------------------------------------------------------

/// Client key first (body or query); otherwise the Edge context (`sitecoreContextId` / `x-sitecore-contextid`).
pub fn resolve_tenant<'a>(
    app: &'a App,
    req: &Req,
    body_ck: &str,
) -> Option<(Arc<Tenant>, Option<&'a EdgeContext>)> {
    let ck = if !body_ck.is_empty() {
        body_ck
    } else {
        req.q("client_key").unwrap_or("")
    };
    if !ck.is_empty() {
        return app.tenants.get(ck).map(|t| (t.clone(), None));
    }
    let ctx = req
        .q("sitecoreContextId")
        .filter(|c| !c.is_empty())
        .or_else(|| req.header("x-sitecore-contextid"))?;
    app.contexts.get(ctx).map(|(t, c)| (t.clone(), Some(c)))
}

fn edge_pos(req: &Req, ctx: Option<&EdgeContext>) -> String {
    let Some(c) = ctx else { return String::new() };
    req.q("siteId")
        .and_then(|s| c.sites.get(s))
        .cloned()
        .or_else(|| c.default_pos.clone())
        .or_else(|| c.sites.values().next().cloned())
        .unwrap_or_default()
}

// ----- Stream API -----------------------------------------------------------------------------------------

fn browser_create(app: &App, req: &Req) -> Out {
    let Some((t, _)) = resolve_tenant(app, req, "") else {
        return stream_error(
            401,
            req.q("client_key").unwrap_or(""),
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

fn browser_show(app: &App, req: &Req, bid: &str) -> Out {
    let Some((t, ctx)) = resolve_tenant(app, req, "") else {
        return stream_error(
            401,
            req.q("client_key").unwrap_or(""),
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

fn event(app: &App, req: &Req, text: &str, via: &'static str, _edge: bool) -> Out {
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
            req.q("client_key").unwrap_or(""),
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
            return stream_error(
                400,
                req.q("client_key").unwrap_or(""),
                &format!("Malformed event: {e}"),
            );
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
    let Some((t, ctx)) = resolve_tenant(app, req, body_ck) else {
        reject(app, "bad_client_key");
        return stream_error(401, body_ck, "Unauthorized: unknown client key or context");
    };
    let pos_owned;
    let pos = match head.pos.as_deref() {
        Some(p) if !p.is_empty() => p,
        _ => {
            pos_owned = edge_pos(req, ctx);
            pos_owned.as_str()
        }
    };
    let full: Option<Value> =
        if crate::state::needs_full_parse(kind) || text.contains("session_data") {
            serde_json::from_str(text).ok()
        } else {
            None
        };
    let eh = crate::state::EventHead {
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

// ----- Personalize -----------------------------------------------------------------------------------------

fn callflows(app: &App, req: &Req, _edge: bool) -> Out {
    if !req.json_content_type_ok() {
        return rest_error(
            415,
            "Unsupported Media Type",
            "send Content-Type: application/json",
        );
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return rest_error(400, "Bad Request", "the request body must be a JSON object"),
        Err(e) => return rest_error(400, "Bad Request", &format!("malformed JSON: {e}")),
    };
    let ck = body.get("clientKey").and_then(Value::as_str).unwrap_or("");
    let Some((t, ctx)) = resolve_tenant(app, req, ck) else {
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
        pos = edge_pos(req, ctx);
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
        Value::String(s) => Out {
            status: 200,
            body: Bytes::from(s),
            ctype: "text/plain; charset=utf-8",
            headers: Vec::new(),
        },
        v => Out::json(200, &v),
    }
}

// ----- stats ---------------------------------------------------------------------------------------------

pub fn stats_json(app: &App) -> Value {
    let st = app.store.lock();
    let s = &st.stats;
    let mut by_route = BTreeMap::new();
    let mut total = 0;
    for r in RouteName::ALL {
        let n = app.route_counts[r.idx()].load(Ordering::Relaxed);
        by_route.insert(r.as_str(), n);
        if r != RouteName::Admin {
            total += n;
        }
    }
    let mut faults = BTreeMap::new();
    let mut ftotal = 0;
    for (i, k) in FAULT_KINDS.iter().enumerate() {
        let n = app.fault_counts[i].load(Ordering::Relaxed);
        faults.insert(*k, n);
        ftotal += n;
    }
    json!({
        "requests": {"total": total, "by_route": by_route},
        "events": {
            "accepted": s.events_accepted.values().sum::<u64>(),
            "accepted_by_type": s.events_accepted,
            "rejected": s.events_rejected.values().sum::<u64>(),
            "rejected_by_reason": s.events_rejected,
            "flagged_unknown_pos": s.flagged_unknown_pos,
            "identity": s.identity_events,
            "duplicates": app.idem.lock().duplicates,
        },
        "faults": {"total": ftotal, "by_kind": faults},
        "browsers_created": s.browsers_created,
        "guests_created": s.guests_created,
        "guests_evicted": s.guests_evicted,
        "merges": s.merges,
        "sessions_opened": s.sessions_opened,
        "sessions_closed": s.sessions_closed,
        "flow_executions": s.flow_executions,
        "flow_not_found": s.flow_not_found,
        "live": {"browsers": st.browsers.len(), "guests": st.guests.len(), "sessions": st.sessions.len(), "events_kept": st.events.len()},
    })
}

pub fn request_json(r: &RequestRec) -> Value {
    let mut headers = serde_json::Map::new();
    for (k, v) in r.headers.lines().filter_map(|l| l.split_once('\0')) {
        let v = v.to_string();
        match headers.get_mut(k) {
            Some(Value::String(old)) => {
                old.push_str(", ");
                old.push_str(&v);
            }
            _ => {
                headers.insert(k.to_string(), Value::String(v));
            }
        }
    }
    let mut body = String::from_utf8_lossy(&r.body).into_owned();
    if r.truncated {
        body.push_str("…[truncated]");
    }
    let body = body;
    json!({
        "seq": r.seq, "at": iso_ms(r.at), "method": r.method, "path": r.path, "query": r.query,
        "headers": headers, "body": body, "status": r.status, "route": r.route, "fault": r.fault,
    })
}

impl App {
    pub fn advance_clock(&self, ms: i64) {
        self.clock_offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
    pub fn clock_offset_ms(&self) -> i64 {
        self.clock_offset_ms.load(Ordering::Relaxed)
    }
    pub fn put_faults(&self, cfg: FaultConfig) {
        self.set_faults(cfg);
    }
    pub fn do_reset(&self) {
        self.reset();
    }
}
