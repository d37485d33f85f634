//! Helpers for integration tests: the emulator's inspection and fault API through the shared admin client
//! (`xmcdp-emulator-admin`, reqwest's blocking client — tests read the emulator over HTTP like any other peer),
//! and polling.
#![allow(dead_code)]

pub mod child;

use serde_json::Value;
use std::time::{Duration, Instant};
pub use xmcdp_emulator_admin::{Admin, Response};

/// The emulator at `base`, through its inspection and fault API.
pub fn admin(base: &str) -> Admin {
    Admin::new(base)
}

/// One request, whatever its status; panics only if no answer arrives.
pub fn request(method: &str, url: &str, body: Option<&str>) -> Response {
    xmcdp_emulator_admin::send(method, url, &[], body).unwrap_or_else(|e| panic!("{e}"))
}

/// `GET url`, asserting a 2xx JSON answer.
pub fn get_json(url: &str) -> Value {
    xmcdp_emulator_admin::get_json(url).unwrap_or_else(|e| panic!("{e}"))
}

/// Polls `f` until it returns Some or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
