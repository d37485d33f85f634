//! xmcdp: server-side Sitecore CDP / Personalize client.
