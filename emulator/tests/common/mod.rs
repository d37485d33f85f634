//! A tiny blocking HTTP/1.1 client over std `TcpStream` (one request per connection), so the tests need no
//! HTTP client crate and can send raw request targets and observe dropped connections.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
pub use xmcdp_emulator::{spawn, EmulatorConfig, EmulatorHandle};

pub const POS: &str = "myretailsite/ireland";
pub const BASIC: &str = "Basic Y2tfdGVzdDp0b2tfdGVzdA=="; // ck_test:tok_test

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
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

/// Sends one request; `target` is the raw request target (path + query) sent verbatim.
pub fn raw(
    base: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<Resp> {
    let hostport = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(hostport)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut req =
        format!("{method} {target} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    s.write_all(&bytes)?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    parse(&buf)
}

fn parse(buf: &[u8]) -> std::io::Result<Resp> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, m.to_string());
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no response head"))?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| bad("no status line"))?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &buf[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        let mut out = Vec::new();
        let mut r = rest;
        loop {
            let p = r
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| bad("bad chunk"))?;
            let n = usize::from_str_radix(String::from_utf8_lossy(&r[..p]).trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if n == 0 {
                break;
            }
            out.extend_from_slice(&r[p + 2..p + 2 + n]);
            r = &r[p + 2 + n + 2..];
        }
        out
    } else {
        match headers.iter().find(|(k, _)| k == "content-length") {
            Some((_, n)) => rest[..n.parse::<usize>().unwrap_or(0).min(rest.len())].to_vec(),
            None => rest.to_vec(),
        }
    };
    Ok(Resp {
        status,
        headers,
        body,
    })
}

pub fn get(base: &str, target: &str) -> Resp {
    raw(base, "GET", target, &[], None).expect("GET")
}

pub fn send_json(base: &str, method: &str, target: &str, body: &Value) -> Resp {
    raw(
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
    raw(base, method, target, &h, b.as_deref().map(str::as_bytes)).expect("request")
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
    let r = raw(base, "POST", target, &[], Some(b"")).expect("POST");
    assert_eq!(r.status, 200, "{target}: {}", r.text());
    r.json()
}

pub fn call_flow(base: &str, body: Value) -> Resp {
    post_json(base, "/v2/callFlows", &body)
}
