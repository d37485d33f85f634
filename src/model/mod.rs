//! The pure wire model: event and callFlows bodies byte-equal to what the official SDKs send
//! (`@sitecore/engage` 1.4.3 `initServer` for the classic Stream API, Cloud SDK 0.6.1 for the Edge proxy).
//! No I/O here; bodies are built from validated values and key order follows the SDKs
//! (serde_json's `preserve_order` keeps insertion order).

mod error;
mod event;
mod flatten;
mod flows;
pub mod query;
pub mod validate;

pub use error::{ModelError, ModelErrorKind};
pub use event::{CustomEvent, Event, EventCommon, Identifier, Identity, PageView, RESERVED_DATA_KEYS};
pub use flatten::{flatten, Ext, MAX_EXT_ATTRIBUTES};
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
}

impl<'a> BodyContext<'a> {
    pub fn classic(client_key: &'a str, point_of_sale: &'a str) -> BodyContext<'a> {
        BodyContext { client_key, point_of_sale, wire: Wire::Classic, requested_at: None }
    }

    pub fn edge(requested_at: Option<&'a str>) -> BodyContext<'a> {
        BodyContext { client_key: "", point_of_sale: "", wire: Wire::Edge, requested_at }
    }

    /// Settings-level checks (Engage MV-0001 / MV-0009). Classic needs a client key; a settings pos, when
    /// given, must not be blank. Edge needs neither.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.wire == Wire::Edge {
            return Ok(());
        }
        if self.client_key.trim().is_empty() {
            return Err(ModelError::new(ModelErrorKind::InvalidField, "\"clientKey\" is required."));
        }
        if !self.point_of_sale.is_empty() && self.point_of_sale.trim().is_empty() {
            return Err(ModelError::new(ModelErrorKind::MissingPointOfSale, "\"pointOfSale\" cannot be empty."));
        }
        Ok(())
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
