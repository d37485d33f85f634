//! Fault injection: per-route latency, errors, throttling (429), connection resets, black holes, slow bodies and a full
//! outage. Configured at start (`faults` in the config, CLI flags) and at run time (`PUT /__emulator/faults`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Route names usable in fault rules (`*` matches every CDP route).
pub const ROUTES: &[&str] = &[
    "browser_create",
    "browser_show",
    "events",
    "callflows",
    "guests",
    "*",
];

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    /// Every CDP route resets the connection without a response; `/__emulator/*` keeps working.
    #[serde(default)]
    pub outage: bool,
    /// Route name (see [`ROUTES`]) → rule. A route's own rule wins over `*`.
    #[serde(default)]
    pub routes: BTreeMap<String, FaultRule>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Fixed delay before the request is handled.
    #[serde(default)]
    pub latency_ms: u64,
    /// Extra uniformly random delay in `[0, jitter_ms]`.
    #[serde(default)]
    pub jitter_ms: u64,
    /// Probability (0..=1) of answering `error_status` instead of handling the request.
    #[serde(default)]
    pub error_rate: f64,
    #[serde(default = "d_error_status")]
    pub error_status: u16,
    /// Probability of answering 429 with `Retry-After: retry_after_secs`.
    #[serde(default)]
    pub throttle_rate: f64,
    #[serde(default = "d_retry_after")]
    pub retry_after_secs: u64,
    /// Probability of dropping the TCP connection (RST) without any response.
    #[serde(default)]
    pub reset_rate: f64,
    /// Probability of a black hole: the request is read and never answered nor handled (the client's timeout
    /// is its only way out); the connection is dropped after [`BLACKHOLE_HOLD`].
    #[serde(default)]
    pub blackhole_rate: f64,
    /// Probability of sending the (normal) response body slowly, `slow_body_chunk_bytes` per
    /// `slow_body_delay_ms`.
    #[serde(default)]
    pub slow_body_rate: f64,
    #[serde(default = "d_slow_delay")]
    pub slow_body_delay_ms: u64,
    #[serde(default = "d_slow_chunk")]
    pub slow_body_chunk_bytes: usize,
    /// Stop injecting errors/throttles/resets/slow bodies from this rule after this many (latency still
    /// applies). `null` = unlimited. Handy for "fail the next N requests" retry tests.
    #[serde(default)]
    pub max_faults: Option<u64>,
}

fn d_error_status() -> u16 {
    500
}
fn d_retry_after() -> u64 {
    1
}
fn d_slow_delay() -> u64 {
    100
}
fn d_slow_chunk() -> usize {
    16
}

impl Default for FaultRule {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults")
    }
}

impl FaultConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (route, r) in &self.routes {
            if !ROUTES.contains(&route.as_str()) {
                return Err(format!(
                    "unknown fault route {route:?}; expected one of {ROUTES:?}"
                ));
            }
            for (name, p) in [
                ("error_rate", r.error_rate),
                ("throttle_rate", r.throttle_rate),
                ("reset_rate", r.reset_rate),
                ("blackhole_rate", r.blackhole_rate),
                ("slow_body_rate", r.slow_body_rate),
            ] {
                if !(0.0..=1.0).contains(&p) {
                    return Err(format!("{route}.{name} must be within 0..=1"));
                }
            }
            if !(100..=599).contains(&r.error_status) {
                return Err(format!("{route}.error_status must be an HTTP status"));
            }
            if r.slow_body_chunk_bytes == 0 {
                return Err(format!("{route}.slow_body_chunk_bytes must be > 0"));
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        !self.outage && self.routes.is_empty()
    }
}

/// What to do to one request.
#[derive(Debug, Default)]
pub struct Decision {
    pub outage: bool,
    pub delay: Option<Duration>,
    pub reset: bool,
    pub blackhole: bool,
    pub throttle: Option<u64>,
    pub error: Option<u16>,
    pub slow: Option<(Duration, usize)>,
}

/// How long a black-holed request holds its connection before it is dropped (never answered).
pub const BLACKHOLE_HOLD: Duration = Duration::from_secs(120);

/// Fault state held by the running emulator.
#[derive(Debug, Default)]
pub struct Faults {
    pub config: FaultConfig,
    /// Faults injected per route rule (for `max_faults`).
    pub used: BTreeMap<String, u64>,
}

impl Faults {
    pub fn decide(&mut self, route: &str) -> Decision {
        let mut d = Decision::default();
        if self.config.outage {
            d.outage = true;
            return d;
        }
        let key = if self.config.routes.contains_key(route) {
            route
        } else if self.config.routes.contains_key("*") {
            "*"
        } else {
            return d;
        };
        let rule = &self.config.routes[key];
        if rule.latency_ms > 0 || rule.jitter_ms > 0 {
            let jitter = if rule.jitter_ms > 0 {
                crate::ids::rand_u64() % (rule.jitter_ms + 1)
            } else {
                0
            };
            d.delay = Some(Duration::from_millis(rule.latency_ms + jitter));
        }
        let used = self.used.get(key).copied().unwrap_or(0);
        if rule.max_faults.is_some_and(|m| used >= m) {
            return d;
        }
        let hit = |p: f64| p > 0.0 && (p >= 1.0 || crate::ids::rand_f64() < p);
        if hit(rule.reset_rate) {
            d.reset = true;
        } else if hit(rule.blackhole_rate) {
            d.blackhole = true;
        } else if hit(rule.throttle_rate) {
            d.throttle = Some(rule.retry_after_secs);
        } else if hit(rule.error_rate) {
            d.error = Some(rule.error_status);
        } else if hit(rule.slow_body_rate) {
            d.slow = Some((
                Duration::from_millis(rule.slow_body_delay_ms),
                rule.slow_body_chunk_bytes,
            ));
        }
        if d.reset || d.blackhole || d.throttle.is_some() || d.error.is_some() || d.slow.is_some() {
            *self.used.entry(key.to_string()).or_insert(0) += 1;
        }
        d
    }
}

/// Parses the CLI fault flags into `cfg`. Forms (ROUTE is a route name or `*`):
/// `--latency ROUTE=MS[+JITTER]`, `--error-rate ROUTE=RATE[:STATUS]`, `--throttle ROUTE=RATE[:RETRY_AFTER]`,
/// `--reset-rate ROUTE=RATE`, `--slow-body ROUTE=RATE[:DELAY_MS]`, `--outage`.
pub fn apply_cli_flag(cfg: &mut FaultConfig, flag: &str, value: &str) -> Result<(), String> {
    let (route, spec) = value
        .split_once('=')
        .ok_or_else(|| format!("{flag} expects ROUTE=VALUE, got {value:?}"))?;
    let bad = |what: &str| format!("{flag} {value:?}: bad {what}");
    let rule = cfg.routes.entry(route.to_string()).or_default();
    match flag {
        "--latency" => {
            let (ms, jitter) = spec.split_once('+').unwrap_or((spec, "0"));
            rule.latency_ms = ms.parse().map_err(|_| bad("milliseconds"))?;
            rule.jitter_ms = jitter.parse().map_err(|_| bad("jitter"))?;
        }
        "--error-rate" => {
            let (rate, status) = spec.split_once(':').unwrap_or((spec, "500"));
            rule.error_rate = rate.parse().map_err(|_| bad("rate"))?;
            rule.error_status = status.parse().map_err(|_| bad("status"))?;
        }
        "--throttle" => {
            let (rate, ra) = spec.split_once(':').unwrap_or((spec, "1"));
            rule.throttle_rate = rate.parse().map_err(|_| bad("rate"))?;
            rule.retry_after_secs = ra.parse().map_err(|_| bad("retry-after"))?;
        }
        "--reset-rate" => rule.reset_rate = spec.parse().map_err(|_| bad("rate"))?,
        "--slow-body" => {
            let (rate, delay) = spec.split_once(':').unwrap_or((spec, "100"));
            rule.slow_body_rate = rate.parse().map_err(|_| bad("rate"))?;
            rule.slow_body_delay_ms = delay.parse().map_err(|_| bad("delay"))?;
        }
        _ => return Err(format!("unknown fault flag {flag}")),
    }
    cfg.validate()
}
