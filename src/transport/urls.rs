//! Every URL the client calls, for both front doors (classic Stream API / Personalize, and the Edge proxy):
//! events, callFlows, browser create/show, and the Guest REST base. Query values are percent-encoded here.

use crate::config::{is_loopback, Endpoint, Settings};
use crate::error::{Error, ErrorKind, Result};

/// `POST` target of one event.
pub(crate) fn events(endpoint: &Endpoint) -> String {
    match endpoint {
        Endpoint::Classic { target_url } => format!("{target_url}/v1.2/events"),
        Endpoint::Edge { edge_url, context_id, site_name } => {
            format!("{edge_url}/v1/events/v1.2/events?sitecoreContextId={}&siteId={}", encode(context_id), encode(site_name))
        }
    }
}

/// `POST` target of a decision (classic `/v2/callFlows`, Edge `/v1/personalize`).
pub(crate) fn call_flows(endpoint: &Endpoint) -> String {
    match endpoint {
        Endpoint::Classic { target_url } => format!("{target_url}/v2/callFlows"),
        Endpoint::Edge { edge_url, context_id, site_name } => {
            format!("{edge_url}/v1/personalize?sitecoreContextId={}&siteId={}", encode(context_id), encode(site_name))
        }
    }
}

/// `browser/create.json` and `browser/{id}/show.json`.
#[derive(Clone)]
pub(crate) struct BrowserUrls {
    pub(crate) create: String,
    show_prefix: String,
    show_suffix: String,
}

impl BrowserUrls {
    pub(crate) fn new(settings: &Settings) -> BrowserUrls {
        let ck = encode(&settings.client_key);
        let (create, show_prefix, show_suffix) = match &settings.endpoint {
            // Engage builds this URL by concatenation: `message={}` is sent as is.
            Endpoint::Classic { target_url } => (
                format!("{target_url}/v1.2/browser/create.json?client_key={ck}&message={{}}"),
                format!("{target_url}/v1.2/browser/"),
                // Engage sends the client key as api_token (never the Guest REST API token).
                format!("/show.json?client_key={ck}&api_token={ck}"),
            ),
            Endpoint::Edge { edge_url, context_id, .. } => {
                let ctx = encode(context_id);
                (
                    format!("{edge_url}/v1/events/v1.2/browser/create.json?sitecoreContextId={ctx}&client_key="),
                    format!("{edge_url}/v1/events/v1.2/browser/"),
                    format!("/show.json?sitecoreContextId={ctx}&client_key=&api_token="),
                )
            }
        };
        BrowserUrls { create, show_prefix, show_suffix }
    }

    /// The caller has validated `browser_id` (it goes into the path as is).
    pub(crate) fn show(&self, browser_id: &str) -> String {
        format!("{}{}{}", self.show_prefix, browser_id, self.show_suffix)
    }
}

/// The Guest REST API base (`guestApiUrl`, else the classic `targetUrl`). The API token rides on these calls, so
/// only https:// is accepted, or plain http:// to loopback.
pub(crate) fn guest_base(settings: &Settings) -> Result<String> {
    let base = match (&settings.guest_api_url, &settings.endpoint) {
        (Some(u), _) => u.clone(),
        (None, Endpoint::Classic { target_url }) => target_url.clone(),
        (None, Endpoint::Edge { .. }) => {
            return Err(Error::new(ErrorKind::ConfigMissing, "the Guest REST API needs \"guestApiUrl\" in Edge mode (e.g. https://api-engage-eu.sitecorecloud.io)"))
        }
    };
    let url = reqwest::Url::parse(&base).map_err(|_| Error::new(ErrorKind::ConfigInvalidUrl, "the Guest REST API base URL is not valid"))?;
    let secure = match url.scheme() {
        "https" => true,
        "http" => url.host_str().is_some_and(is_loopback),
        _ => false,
    };
    if !secure {
        return Err(Error::new(
            ErrorKind::ConfigInvalidUrl,
            "the Guest REST API needs an https:// URL: the API token is never sent over plain HTTP except to loopback",
        ));
    }
    Ok(base)
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass through).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_url_is_encoded() {
        let u = events(&Endpoint::Edge { edge_url: "https://e.io".into(), context_id: "ctx-1".into(), site_name: "a b&c".into() });
        assert_eq!(u, "https://e.io/v1/events/v1.2/events?sitecoreContextId=ctx-1&siteId=a%20b%26c");
    }
}
