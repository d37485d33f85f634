//! Reading answers: transport errors classified without the URL, bodies read up to a cap, and the server's own
//! words from an error body. Shared by decisions, browser ids and the Guest REST API.

use crate::error::{Error, ErrorKind, Result};
use bytes::Bytes;

/// A transport error without the URL (which may carry query values) in the message.
pub(crate) fn network_error(what: &str, e: &reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::new(ErrorKind::Timeout, format!("{what} did not answer in time"))
    } else if e.is_connect() {
        Error::new(ErrorKind::ConnectFailed, format!("cannot connect to {what}"))
    } else if e.is_body() || e.is_decode() {
        Error::new(ErrorKind::Http, format!("{what} sent an incomplete response"))
    } else {
        Error::new(ErrorKind::Http, format!("network error talking to {what}"))
    }
}

/// Reads a response body, refusing more than `max` bytes.
pub(crate) async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<Bytes> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(Error::new(ErrorKind::TooLarge, format!("the response is larger than {max} bytes")));
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| network_error("the server", &e))? {
        if buf.len() + chunk.len() > max {
            return Err(Error::new(ErrorKind::TooLarge, format!("the response is larger than {max} bytes")));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The server's own words from a Personalize / Guest REST error body (`message`, `developerMessage`), or the
/// Stream shape (`error_msg`), cut to a log-friendly length.
pub(crate) fn server_message(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let pick = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::trim).filter(|s| !s.is_empty());
    let mut parts: Vec<&str> = Vec::new();
    for k in ["message", "developerMessage", "error_msg"] {
        if let Some(s) = pick(k) {
            if !parts.contains(&s) {
                parts.push(s);
            }
        }
    }
    let mut s = parts.join(": ");
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s.retain(|c| !c.is_control());
    s
}
