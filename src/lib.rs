//! xmcdp: server-side Sitecore CDP / Personalize client.
pub mod identity;
pub mod model;
