//! Who is calling: a classic client key (body or query) or an Edge context (`sitecoreContextId` query or
//! `x-sitecore-contextid` header) with the `siteId` → point-of-sale map; and the Edge-only route
//! `/v1/personalize/cdn-url`. The Edge path aliases themselves are listed in `routes`.

use crate::app::App;
use crate::config::EdgeContext;
use crate::http::{header, stream_error, Out, Params};
use crate::state::Tenant;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::sync::Arc;

/// Extractor: the query and the Edge context header, enough to resolve the tenant.
pub struct Caller {
    params: Params,
    context_header: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Infallible> {
        let params = Params::from_request_parts(parts, s).await?;
        let context_header = header(&parts.headers, "x-sitecore-contextid").map(str::to_string);
        Ok(Caller {
            params,
            context_header,
        })
    }
}

impl Caller {
    pub fn q(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// The `client_key` query parameter as sent ("" when absent), for error bodies.
    pub fn client_key(&self) -> &str {
        self.q("client_key").unwrap_or("")
    }

    /// Client key first (body or query); otherwise the Edge context.
    pub fn tenant<'a>(
        &self,
        app: &'a App,
        body_ck: &str,
    ) -> Option<(Arc<Tenant>, Option<&'a EdgeContext>)> {
        let ck = if !body_ck.is_empty() {
            body_ck
        } else {
            self.client_key()
        };
        if !ck.is_empty() {
            return app.tenants.get(ck).map(|t| (t.clone(), None));
        }
        let ctx = self
            .q("sitecoreContextId")
            .filter(|c| !c.is_empty())
            .or(self.context_header.as_deref())?;
        app.contexts.get(ctx).map(|(t, c)| (t.clone(), Some(c)))
    }

    /// The point of sale an Edge call means: `siteId` through the context's sites, else its default pos,
    /// else its first site ("" for a classic call).
    pub fn edge_pos(&self, ctx: Option<&EdgeContext>) -> String {
        let Some(c) = ctx else { return String::new() };
        self.q("siteId")
            .and_then(|s| c.sites.get(s))
            .cloned()
            .or_else(|| c.default_pos.clone())
            .or_else(|| c.sites.values().next().cloned())
            .unwrap_or_default()
    }
}

/// `GET /v1/personalize/cdn-url`: the Personalize script URL for the caller's tenant, as text.
pub async fn cdn_url(State(app): State<Arc<App>>, caller: Caller) -> Out {
    match caller.tenant(&app, "") {
        Some((t, _)) => Out::text(
            200,
            "text/plain",
            format!(
                "{}/web-flow-libs/{}/web-version.min.js",
                app.base_url, t.client_key
            ),
        ),
        None => stream_error(401, "", "Unknown sitecoreContextId"),
    }
}
