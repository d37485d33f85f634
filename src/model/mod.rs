//! The pure wire model: event and callFlows bodies byte-equal to what the official SDKs send
//! (`@sitecore/engage` 1.4.3 `initServer` for the classic Stream API, Cloud SDK 0.6.1 for the Edge proxy).
//! No I/O here; bodies are built from validated values and key order follows the SDKs
//! (serde_json's `preserve_order` keeps insertion order).

mod decision_fields;
mod event;
mod event_body;
mod flatten;
mod flows;
pub(crate) mod footprint;
mod packed;
mod view;
pub mod query;
pub mod validate;

pub use validate::validate_browser_id;

use crate::error::{Error, ErrorKind};

pub use event::{Base, CustomEvent, Event, EventCommon, Identifier, Identity, PageView, ViewFields, RESERVED_DATA_KEYS};
pub use packed::PackedView;
pub use flatten::{flatten, Ext, MAX_EXT_ATTRIBUTES};
pub use decision_fields::{DecisionFields, Params, ParamsError, ParamsJson};
pub use flows::DecisionRequest;

/// Which API the body is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wire {
    /// Stream API / callFlows, bodies as Engage 1.4.3 sends them.
    Classic,
    /// Edge proxy, bodies as Cloud SDK 0.6.1 sends them: `client_key`/`pos` empty, `requested_at` added.
    Edge,
}

/// Per-client values the body needs (from settings).
#[derive(Clone, Copy, Debug)]
pub struct BodyContext<'a> {
    pub client_key: &'a str,
    pub point_of_sale: &'a str,
    pub wire: Wire,
    /// ISO-8601 UTC timestamp for Edge `requested_at`; when `None` on Edge, the current time is used.
    pub requested_at: Option<&'a str>,
    /// Site defaults for events and decisions that don't carry their own. Applied when the body is built
    /// (on a worker), so the request thread never copies them.
    pub defaults: Defaults<'a>,
}

/// Settings-level defaults; `None` = not sent unless the event carries a value (Engage semantics).
#[derive(Clone, Copy, Debug, Default)]
pub struct Defaults<'a> {
    pub channel: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub language: Option<&'a str>,
}

impl<'a> BodyContext<'a> {
    pub fn classic(client_key: &'a str, point_of_sale: &'a str) -> BodyContext<'a> {
        BodyContext { client_key, point_of_sale, wire: Wire::Classic, requested_at: None, defaults: Defaults::default() }
    }

    pub fn edge(requested_at: Option<&'a str>) -> BodyContext<'a> {
        BodyContext { client_key: "", point_of_sale: "", wire: Wire::Edge, requested_at, defaults: Defaults::default() }
    }

    /// Settings-level checks (Engage MV-0001 / MV-0009). Classic needs a client key; a settings pos, when
    /// given, must not be blank. Edge needs neither.
    pub fn validate(&self) -> Result<(), Error> {
        if self.wire == Wire::Edge {
            return Ok(());
        }
        if self.client_key.trim().is_empty() {
            return Err(Error::new(ErrorKind::InvalidField, "\"clientKey\" is required."));
        }
        if !self.point_of_sale.is_empty() && self.point_of_sale.trim().is_empty() {
            return Err(Error::new(ErrorKind::MissingPointOfSale, "\"pointOfSale\" cannot be empty."));
        }
        Ok(())
    }

    pub fn with_defaults(mut self, defaults: Defaults<'a>) -> BodyContext<'a> {
        self.defaults = defaults;
        self
    }

    /// The `pos` value to send: a non-empty per-event override, else settings. Always `""` on Edge.
    pub fn effective_pos<'b>(&'b self, event_pos: Option<&'b str>) -> &'b str {
        match self.wire {
            Wire::Edge => "",
            Wire::Classic => match event_pos {
                Some(p) if !p.is_empty() => p,
                _ => self.point_of_sale,
            },
        }
    }
}

#[cfg(test)]
mod defaults_tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn site_defaults_fill_only_what_the_event_or_request_leaves_out() {
        let ctx = BodyContext::classic("ck", "pos").with_defaults(Defaults { channel: Some("WEB"), currency: Some("EUR"), language: None });
        let view = Event::View(PageView {
            common: EventCommon { browser_id: "b".into(), currency: Some("USD".into()), ..Default::default() },
            ..Default::default()
        });
        let body: Value = serde_json::from_slice(&view.to_body(&ctx)).unwrap();
        assert_eq!(body["channel"], "WEB");
        assert_eq!(body["currency"], "USD");
        assert!(body.get("language").is_none());
        let req = DecisionRequest { friendly_id: "f".into(), browser_id: Some("b".into()), ..Default::default() };
        let body: Value = serde_json::from_slice(&req.to_body(&ctx)).unwrap();
        assert_eq!(body["channel"], "WEB");
        assert_eq!(body["currencyCode"], "EUR");
    }
}
