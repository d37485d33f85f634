//! Test helpers: requests through reqwest's blocking client (one connection per request, so a fault that
//! drops the connection is seen as an error), and `raw_target`, a plain socket for the few tests that must
//! send bytes no HTTP client sends (a literal `"` or UTF-8 in the request target).
#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;
pub use xmcdp_emulator::{spawn, EmulatorConfig, EmulatorHandle};

pub const POS: &str = "myretailsite/ireland";
pub const BASIC: &str = "Basic Y2tfdGVzdDp0b2tfdGVzdA=="; // ck_test:tok_test

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    /// Lower-case names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn client() -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::blocking::Client::builder()
            // No pooled connection: a request never lands on a connection an earlier fault dropped.
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(20))
            .build()
            .expect("reqwest client")
    })
}

/// Sends one request; `target` is the path and query (a client escapes what HTTP forbids in it).
pub fn request(
    base: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> reqwest::Result<Resp> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = client().request(method, format!("{base}{target}"));
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    if let Some(b) = body {
        rb = rb.body(b.to_vec());
    }
    let r = rb.send()?;
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = r.bytes()?.to_vec();
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// `GET target` written to the socket byte for byte (no escaping), `Connection: close`; the emulator always
/// answers with a `Content-Length` body.
pub fn raw_target(base: &str, target: &str) -> std::io::Result<Resp> {
    let hostport = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(hostport)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    let mut heads = [httparse::EMPTY_HEADER; 32];
    let mut head = httparse::Response::new(&mut heads);
    let end = match head.parse(&buf) {
        Ok(httparse::Status::Complete(n)) => n,
        other => return Err(bad(format!("no complete response head: {other:?}"))),
    };
    let headers: Vec<(String, String)> = head
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| bad(format!("no Content-Length in {headers:?}")))?;
    let body = buf[end..].to_vec();
    if body.len() != len {
        return Err(bad(format!(
            "body of {} bytes, Content-Length {len}",
            body.len()
        )));
    }
    Ok(Resp {
        status: head.code.unwrap_or(0),
        headers,
        body,
    })
}

pub fn get(base: &str, target: &str) -> Resp {
    request(base, "GET", target, &[], None).expect("GET")
}

pub fn send_json(base: &str, method: &str, target: &str, body: &Value) -> Resp {
    request(
        base,
        method,
        target,
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    )
    .expect("request")
}

pub fn post_json(base: &str, target: &str, body: &Value) -> Resp {
    send_json(base, "POST", target, body)
}

pub fn rest(base: &str, method: &str, target: &str, body: Option<&Value>) -> Resp {
    let b = body.map(|b| b.to_string());
    let mut h = vec![("Authorization", BASIC), ("Accept", "application/json")];
    if b.is_some() {
        h.push(("Content-Type", "application/json"));
    }
    request(base, method, target, &h, b.as_deref().map(str::as_bytes)).expect("request")
}

pub fn emu() -> EmulatorHandle {
    spawn(EmulatorConfig::default()).expect("spawn emulator")
}

/// Creates a browser; returns (browser ref, guest ref).
pub fn new_browser(base: &str) -> (String, String) {
    let r = get(
        base,
        "/v1.2/browser/create.json?client_key=ck_test&message={}",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    (
        v["ref"].as_str().unwrap().to_string(),
        v["customer_ref"].as_str().unwrap().to_string(),
    )
}

pub fn event(base: &str, bid: &str, kind: &str, extra: Value) -> Resp {
    let mut ev = serde_json::json!({"type": kind, "browser_id": bid, "channel": "WEB", "client_key": "ck_test", "currency": "EUR", "page": "", "pos": POS});
    if let Value::Object(o) = extra {
        for (k, v) in o {
            ev[k] = v;
        }
    }
    post_json(base, "/v1.2/events", &ev)
}

pub fn show_guest(base: &str, bid: &str) -> String {
    let r = get(
        base,
        &format!("/v1.2/browser/{bid}/show.json?client_key=ck_test&api_token=ck_test"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["customer"]["ref"].as_str().unwrap().to_string()
}

pub fn admin(base: &str, target: &str) -> Value {
    let r = get(base, target);
    assert_eq!(r.status, 200, "{target}: {}", r.text());
    r.json()
}

pub fn admin_post(base: &str, target: &str) -> Value {
    let r = request(base, "POST", target, &[], Some(b"")).expect("POST");
    assert_eq!(r.status, 200, "{target}: {}", r.text());
    r.json()
}

pub fn call_flow(base: &str, body: Value) -> Resp {
    post_json(base, "/v2/callFlows", &body)
}
