//! Emulator configuration: tenants (client keys, points of sale, identity rules, Edge contexts, flows),
//! memory caps and start-up faults. Read from JSON (`--config FILE`) or built in (`Default`).

use crate::faults::FaultConfig;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Default session inactivity timeout of a point of sale, in minutes.
pub const DEFAULT_TIMEOUT_MINUTES: u64 = 20;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Requests kept in the inspection ring (`/__emulator/requests`).
    #[serde(default = "d_max_requests")]
    pub max_requests: usize,
    /// Accepted events kept for `/__emulator/events` (oldest dropped first).
    #[serde(default = "d_max_events")]
    pub max_events: usize,
    /// Guests kept; creating one more evicts the oldest with its browsers and sessions.
    #[serde(default = "d_max_guests")]
    pub max_guests: usize,
    /// Sessions kept (oldest dropped first).
    #[serde(default = "d_max_sessions")]
    pub max_sessions: usize,
    /// Flow executions kept for `/__emulator/flows/executions`.
    #[serde(default = "d_max_flow_executions")]
    pub max_flow_executions: usize,
    /// Event summaries kept on one session.
    #[serde(default = "d_max_session_events")]
    pub max_session_events: usize,
    /// Largest accepted request body; larger bodies get 413.
    #[serde(default = "d_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Longest request body kept as text in the request ring (the rest is cut).
    #[serde(default = "d_max_recorded_body_bytes")]
    pub max_recorded_body_bytes: usize,
}

fn d_max_requests() -> usize {
    1000
}
fn d_max_events() -> usize {
    10_000
}
fn d_max_guests() -> usize {
    100_000
}
fn d_max_sessions() -> usize {
    100_000
}
fn d_max_flow_executions() -> usize {
    1000
}
fn d_max_session_events() -> usize {
    500
}
fn d_max_body_bytes() -> usize {
    256 * 1024
}
fn d_max_recorded_body_bytes() -> usize {
    16 * 1024
}

impl Default for Limits {
    fn default() -> Self {
        serde_json::from_value(json!({})).expect("defaults")
    }
}

/// A point of sale: either a bare number of minutes or `{"timeoutMinutes": N}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PosConfig {
    Minutes(u64),
    Full {
        #[serde(rename = "timeoutMinutes", default = "d_timeout")]
        timeout_minutes: u64,
    },
}

fn d_timeout() -> u64 {
    DEFAULT_TIMEOUT_MINUTES
}

impl PosConfig {
    pub fn timeout_minutes(&self) -> u64 {
        match self {
            PosConfig::Minutes(m) => *m,
            PosConfig::Full { timeout_minutes } => *timeout_minutes,
        }
    }
}

/// An Edge context: the proxy's tenant identity (`sitecoreContextId`), mapped to a client key, with
/// `siteId` → point of sale.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EdgeContext {
    pub context_id: String,
    #[serde(default)]
    pub sites: BTreeMap<String, String>,
    /// Point of sale used when the request's `siteId` is missing or not in `sites`.
    #[serde(default)]
    pub default_pos: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Variant {
    #[serde(default)]
    pub name: String,
    #[serde(default = "d_weight")]
    pub weight: u32,
    pub template: Value,
}

fn d_weight() -> u32 {
    1
}

/// A Personalize flow. Either `template` (a decision / web experience) or `variants` (an experiment).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Flow {
    pub friendly_id: String,
    /// `LIVE` (default) or `PAUSED`; a paused flow answers like an unknown one.
    #[serde(default = "d_status")]
    pub status: String,
    #[serde(default)]
    pub template: Option<Value>,
    #[serde(default)]
    pub variants: Vec<Variant>,
}

fn d_status() -> String {
    "LIVE".into()
}

impl Flow {
    pub fn is_live(&self) -> bool {
        !self.status.eq_ignore_ascii_case("PAUSED")
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantConfig {
    pub client_key: String,
    pub api_token: String,
    #[serde(default)]
    pub points_of_sale: BTreeMap<String, PosConfig>,
    #[serde(default)]
    pub identity_rules: Vec<String>,
    #[serde(default)]
    pub edge_contexts: Vec<EdgeContext>,
    #[serde(default)]
    pub flows: Vec<Flow>,
}

/// Everything the emulator needs to start. `Default` is the built-in tenant `ck_test`, no faults,
/// listening on `127.0.0.1:0`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmulatorConfig {
    #[serde(default = "d_listen")]
    pub listen: SocketAddr,
    /// When absent, the built-in default tenant is used.
    #[serde(default = "default_tenants")]
    pub tenants: Vec<TenantConfig>,
    /// Also add the built-in default tenant to the configured ones (ignored if `ck_test` is configured).
    #[serde(default)]
    pub include_default_tenant: bool,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub faults: FaultConfig,
    /// Runtime worker threads for the binary (`run`); default = available CPUs; 1 = current-thread runtime.
    #[serde(default)]
    pub threads: Option<usize>,
    /// Base URL used in Guest REST `href`s; default is the emulator's own `http://ADDR`.
    #[serde(default)]
    pub public_base_url: Option<String>,
}

fn d_listen() -> SocketAddr {
    "127.0.0.1:0".parse().expect("addr")
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: d_listen(),
            tenants: default_tenants(),
            include_default_tenant: false,
            limits: Limits::default(),
            faults: FaultConfig::default(),
            public_base_url: None,
            threads: None,
        }
    }
}

impl EmulatorConfig {
    /// Parses a JSON configuration (the `--config FILE` format, see README) and validates it.
    pub fn from_json(s: &str) -> Result<Self, String> {
        let mut cfg: EmulatorConfig =
            serde_json::from_str(s).map_err(|e| format!("invalid emulator config: {e}"))?;
        if cfg.include_default_tenant && !cfg.tenants.iter().any(|t| t.client_key == "ck_test") {
            cfg.tenants.extend(default_tenants());
        }
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), String> {
        let mut keys = std::collections::HashSet::new();
        let mut ctxs = std::collections::HashSet::new();
        for t in &self.tenants {
            if t.client_key.is_empty() {
                return Err("tenant clientKey must not be empty".into());
            }
            if !keys.insert(t.client_key.clone()) {
                return Err(format!("duplicate tenant clientKey {:?}", t.client_key));
            }
            for c in &t.edge_contexts {
                if !ctxs.insert(c.context_id.clone()) {
                    return Err(format!("duplicate edge contextId {:?}", c.context_id));
                }
            }
            let mut ids = std::collections::HashSet::new();
            for f in &t.flows {
                if f.friendly_id.is_empty() || f.friendly_id.ends_with('*') {
                    return Err(format!("invalid flow friendlyId {:?}", f.friendly_id));
                }
                if !ids.insert(f.friendly_id.clone()) {
                    return Err(format!(
                        "duplicate flow {:?} in tenant {:?}",
                        f.friendly_id, t.client_key
                    ));
                }
                match (&f.template, f.variants.is_empty()) {
                    (Some(_), true) => {}
                    (None, false) => {
                        if f.variants.iter().map(|v| v.weight as u64).sum::<u64>() == 0 {
                            return Err(format!(
                                "flow {:?}: variant weights sum to 0",
                                f.friendly_id
                            ));
                        }
                    }
                    _ => {
                        return Err(format!(
                            "flow {:?}: give exactly one of template or variants",
                            f.friendly_id
                        ))
                    }
                }
            }
        }
        self.faults.validate()?;
        Ok(())
    }
}

/// The built-in tenant other tests rely on (names are part of the contract; see README).
pub fn default_tenants() -> Vec<TenantConfig> {
    let v = json!([{
        "clientKey": "ck_test",
        "apiToken": "tok_test",
        "pointsOfSale": {"myretailsite/ireland": 20, "other-pos": 20, "pos1": 20},
        "identityRules": ["email", "CRM"],
        "edgeContexts": [{"contextId": "ctx-123", "sites": {"spinair.com": "myretailsite/ireland"}, "defaultPos": "myretailsite/ireland"}],
        "flows": [
            {"friendlyId": "home_page_banner",
             "template": {"variantId": "banner-{{guest.guestType}}", "guestRef": "{{guest.ref}}"}},
            {"friendlyId": "hero_experiment", "variants": [
                {"name": "A", "weight": 50, "template": {"variantId": "hero-a"}},
                {"name": "B", "weight": 50, "template": {"variantId": "hero-b"}}]},
            {"friendlyId": "promo_spring", "template": {"variantId": "promo-spring"}},
            {"friendlyId": "promo_summer", "template": {"variantId": "promo-summer"}},
            {"friendlyId": "params_echo",
             "template": {"params": "{{params}}", "x": "{{params.x|none}}", "guestType": "{{guest.guestType}}",
                          "channel": "{{request.channel}}", "pointOfSale": "{{request.pointOfSale}}",
                          "sessionRef": "{{session.ref}}"}},
            {"friendlyId": "paused_flow", "status": "PAUSED", "template": {"variantId": "paused"}}
        ]
    }]);
    serde_json::from_value(v).expect("default tenant")
}
