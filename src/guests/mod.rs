//! Guest REST API v2.1 (server-side only): find guests, read a guest, the guest lifecycle (create with its
//! data extensions, replace, partial update, delete) and guest data extensions (create / get / list / put /
//! patch / delete / delete fields).
//!
//! Authentication is HTTP Basic with `clientKey:apiToken`. The token is sent only over https://, or plain
//! http:// to a loopback address (local emulator); any other URL is refused before a request is made. It never
//! appears in an error message or a log record: server messages are scrubbed of it, and the header is marked
//! sensitive. Redirects are never followed (the transport's policy), so the header cannot be forwarded.
//!
//! JSON in and out is `serde_json::Value`; a 204 answer is `Value::Null`.

pub mod lifecycle;
pub mod profile;
pub mod validate;

use crate::config::Settings;
use crate::error::{Error, ErrorKind, Result};
use crate::log;
use crate::transport::call::{run_within, RuntimeLink};
use crate::transport::response::{network_error, read_capped, server_message};
use crate::transport::{encode, urls, Transport};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// Standard base64 (RFC 4648, with padding). A dozen lines do not justify a dependency for one header.
pub(crate) fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for c in input.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if c.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    out
}

/// The Guest REST API of one client, built once from the settings; `Client::guests` hands out a [`GuestApi`].
pub struct Guests {
    /// Base URL and credentials, or why the settings allow no Guest REST call (reported by each call).
    access: Result<GuestAccess>,
    http: reqwest::Client,
    rt: RuntimeLink,
    timeout: Duration,
}

/// Calls to the Guest REST API with one timeout (`guestApiTimeoutMs`, or [`GuestApi::with_timeout`]).
pub struct GuestApi<'c> {
    guests: &'c Guests,
    timeout: Duration,
}

/// Where and as whom Guest REST calls go.
#[derive(Clone)]
struct GuestAccess {
    base: String,
    auth: HeaderValue,
    /// Strings that must not appear in any message: the token, the encoded credentials.
    mask: Vec<String>,
}

impl Guests {
    pub(crate) fn new(settings: &Settings, transport: &Transport, rt: RuntimeLink) -> Guests {
        Guests { access: access(settings), http: transport.http().clone(), rt, timeout: settings.guest_api_timeout }
    }

    /// The calls, with the configured timeout.
    pub fn api(&self) -> GuestApi<'_> {
        GuestApi { guests: self, timeout: self.timeout }
    }
}

fn access(s: &Settings) -> Result<GuestAccess> {
    let base = urls::guest_base(s)?;
    let token = s
        .api_token
        .as_ref()
        .ok_or_else(|| Error::new(ErrorKind::ConfigMissing, "the Guest REST API needs \"apiToken\" in the settings (server-side only)"))?;
    let creds = base64(format!("{}:{}", s.client_key, token.expose()).as_bytes());
    let mut auth = HeaderValue::from_str(&format!("Basic {creds}"))
        .map_err(|_| Error::new(ErrorKind::ConfigInvalid, "\"apiToken\" cannot be sent in an HTTP header"))?;
    auth.set_sensitive(true);
    Ok(GuestAccess { base, auth, mask: vec![token.expose().to_string(), creds] })
}

/// Guest refs from a search or list collection (`items[].href` last segment, or `items[].ref` when expanded).
pub fn guest_refs(collection: &Value) -> Vec<String> {
    collection
        .get("items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|it| {
                    it.get("ref")
                        .and_then(Value::as_str)
                        .or_else(|| it.get("href").and_then(Value::as_str).and_then(|h| h.rsplit('/').next()))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

impl<'c> GuestApi<'c> {
    /// Overrides `guestApiTimeoutMs` for the calls made through this value.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `GET /v2.1/guests?identifiers.provider=&identifiers.id=` (a collection; see [`guest_refs`]).
    pub fn find_by_identifier(&self, provider: &str, id: &str) -> Result<Value> {
        if provider.trim().is_empty() || id.trim().is_empty() {
            return Err(Error::new(ErrorKind::InvalidArgument, "an identifier needs a provider and an id"));
        }
        let q = format!("/v2.1/guests?identifiers.provider={}&identifiers.id={}", encode(provider), encode(id));
        self.call(Method::GET, q, None, &[id])
    }

    /// `GET /v2.1/guests?email=` (a collection; see [`guest_refs`]).
    pub fn find_by_email(&self, email: &str) -> Result<Value> {
        if email.trim().is_empty() {
            return Err(Error::new(ErrorKind::InvalidArgument, "the email is empty"));
        }
        self.call(Method::GET, format!("/v2.1/guests?email={}", encode(email.trim())), None, &[email.trim()])
    }

    /// `GET /v2.1/guests/{ref}[?expand=true]` (expand includes the data extensions).
    pub fn get(&self, guest_ref: &str, expand: bool) -> Result<Value> {
        validate::check_guest_ref(guest_ref)?;
        let q = if expand { "?expand=true" } else { "" };
        self.call(Method::GET, format!("/v2.1/guests/{guest_ref}{q}"), None, &[])
    }

    /// `POST /v2.1/guests/{ref}/extensions` with `name` plus the key/values of `data` (checked locally first).
    pub fn create_extension(&self, guest_ref: &str, name: &str, data: &Value) -> Result<Value> {
        validate::check_guest_ref(guest_ref)?;
        let mut body = validate::extension_body(name, data)?;
        body.insert("name".into(), Value::String(name.to_string()));
        // CDP documents `name` first; keep it first for readability of captures.
        let mut ordered = serde_json::Map::new();
        ordered.insert("name".into(), Value::String(name.to_string()));
        ordered.extend(body.into_iter().filter(|(k, _)| k != "name"));
        self.call(Method::POST, format!("/v2.1/guests/{guest_ref}/extensions"), Some(Value::Object(ordered)), &[])
    }

    /// Like [`GuestApi::create_extension`] (or put / patch), after reading the guest's extensions so a key
    /// already used by another extension, or a patch past 100 keys, is refused locally with a clear error.
    pub fn write_extension_checked(&self, guest_ref: &str, name: &str, data: &Value, mode: WriteMode) -> Result<Value> {
        validate::check_guest_ref(guest_ref)?;
        let body = validate::extension_body(name, data)?;
        let list = self.list_extensions(guest_ref, true)?;
        let known = validate::known_extensions(&list);
        validate::check_against(name, &body, &known, mode != WriteMode::Patch)?;
        match mode {
            WriteMode::Create => self.create_extension(guest_ref, name, data),
            WriteMode::Put => self.put_extension(guest_ref, name, data),
            WriteMode::Patch => self.patch_extension(guest_ref, name, data),
        }
    }

    /// `GET /v2.1/guests/{ref}/extensions/{name}`.
    pub fn get_extension(&self, guest_ref: &str, name: &str) -> Result<Value> {
        validate::check_guest_ref(guest_ref)?;
        validate::check_extension_name(name)?;
        self.call(Method::GET, format!("/v2.1/guests/{guest_ref}/extensions/{name}"), None, &[])
    }

    /// `GET /v2.1/guests/{ref}/extensions[?expand=true]`.
    pub fn list_extensions(&self, guest_ref: &str, expand: bool) -> Result<Value> {
        validate::check_guest_ref(guest_ref)?;
        let q = if expand { "?expand=true" } else { "" };
        self.call(Method::GET, format!("/v2.1/guests/{guest_ref}/extensions{q}"), None, &[])
    }

    /// `PUT /v2.1/guests/{ref}/extensions/{name}`: replaces all key/values.
    pub fn put_extension(&self, guest_ref: &str, name: &str, data: &Value) -> Result<Value> {
        self.update(Method::PUT, guest_ref, name, data)
    }

    /// `PATCH /v2.1/guests/{ref}/extensions/{name}`: updates only the keys sent.
    pub fn patch_extension(&self, guest_ref: &str, name: &str, data: &Value) -> Result<Value> {
        self.update(Method::PATCH, guest_ref, name, data)
    }

    fn update(&self, method: Method, guest_ref: &str, name: &str, data: &Value) -> Result<Value> {
        validate::check_guest_ref(guest_ref)?;
        let body = validate::extension_body(name, data)?;
        self.call(method, format!("/v2.1/guests/{guest_ref}/extensions/{name}"), Some(Value::Object(body)), &[])
    }

    /// `DELETE /v2.1/guests/{ref}/extensions/{name}` (200 with a body, or 204 = `Value::Null`).
    pub fn delete_extension(&self, guest_ref: &str, name: &str) -> Result<Value> {
        validate::check_guest_ref(guest_ref)?;
        validate::check_extension_name(name)?;
        self.call(Method::DELETE, format!("/v2.1/guests/{guest_ref}/extensions/{name}"), None, &[])
    }

    /// `DELETE /v2.1/guests/{ref}/extensions/{name}/fields?name=a|b`; no fields empties the extension.
    /// Returns the remaining extension.
    pub fn delete_extension_fields(&self, guest_ref: &str, name: &str, fields: &[&str]) -> Result<Value> {
        validate::check_guest_ref(guest_ref)?;
        validate::check_extension_name(name)?;
        for f in fields {
            validate::check_key(f)?;
        }
        // Keys are alphanumeric, so the documented `|` separator is the only character needing a thought:
        // it is sent as is, as in the API reference.
        let q = if fields.is_empty() { String::new() } else { format!("?name={}", fields.join("|")) };
        self.call(Method::DELETE, format!("/v2.1/guests/{guest_ref}/extensions/{name}/fields{q}"), None, &[])
    }

    pub(crate) fn call(&self, method: Method, path_and_query: String, body: Option<Value>, mask_values: &[&str]) -> Result<Value> {
        let p = self.guests.access.clone()?;
        let rt = self.guests.rt.handle()?;
        let http = self.guests.http.clone();
        let url = format!("{}{}", p.base, path_and_query);
        let mut mask = p.mask;
        mask.extend(mask_values.iter().filter(|v| v.len() >= 3).map(|v| v.to_string()));
        let body = body.map(|b| serde_json::to_vec(&b).unwrap_or_default());
        let auth = p.auth;
        let timeout = self.timeout;
        let what = format!("Guest API {method}");
        run_within(&rt, timeout, "the Guest API call", async move {
            let mut rb = http.request(method, &url).header(AUTHORIZATION, auth).header(ACCEPT, "application/json").timeout(timeout);
            if let Some(b) = body {
                rb = rb.header(CONTENT_TYPE, "application/json").body(b);
            }
            let resp = rb.send().await.map_err(|e| network_error("the Guest API", &e))?;
            let status = resp.status().as_u16();
            let bytes = read_capped(resp, MAX_RESPONSE_BYTES).await?;
            if (200..300).contains(&status) {
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return Ok(Value::Null);
                }
                return serde_json::from_slice(&bytes)
                    .map_err(|_| Error::new(ErrorKind::UnexpectedStatus, format!("{what} answered {status} with a body that is not JSON")));
            }
            Err(status_error(&what, status, &bytes, &mask))
        })
    }
}

/// How [`GuestApi::write_extension_checked`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    Create,
    Put,
    Patch,
}

fn status_error(what: &str, status: u16, body: &[u8], mask: &[String]) -> Error {
    let mut msg = server_message(body);
    for m in mask {
        if !m.is_empty() {
            msg = msg.replace(m.as_str(), "***");
        }
    }
    let detail = if msg.is_empty() { String::new() } else { format!(": {msg}") };
    let kind = match status {
        400 | 422 => ErrorKind::InvalidArgument,
        401 | 403 => {
            log::emit_once(
                "guest-api-unauthorized",
                log::Level::Warn,
                format!("xmcdp: the Guest REST API refused the credentials ({status}); check clientKey and apiToken"),
            );
            ErrorKind::Unauthorized
        }
        404 => ErrorKind::NotFound,
        429 | 500..=599 => ErrorKind::ServerError,
        _ => ErrorKind::UnexpectedStatus,
    };
    Error::new(kind, format!("{what} answered {status}{detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(i.as_bytes()), o);
        }
        assert_eq!(base64(b"ck_test:tok_test"), "Y2tfdGVzdDp0b2tfdGVzdA==");
    }

    #[test]
    fn server_messages_are_scrubbed() {
        let e = status_error("x", 401, br#"{"message":"bad token tok_secret","developerMessage":"Basic Y2s6dG9rX3NlY3JldA=="}"#, &["tok_secret".into(), "Y2s6dG9rX3NlY3JldA==".into()]);
        assert_eq!(e.kind, ErrorKind::Unauthorized);
        assert!(!e.message.contains("tok_secret") && !e.message.contains("Y2s6"), "{}", e.message);
    }

    #[test]
    fn refs_from_collections() {
        let v = serde_json::json!({"items":[{"href":"http://h/v2.1/guests/abc-1"},{"ref":"r2","href":"x"}]});
        assert_eq!(guest_refs(&v), vec!["abc-1".to_string(), "r2".to_string()]);
    }
}
