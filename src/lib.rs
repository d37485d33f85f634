//! xmcdp: server-side Sitecore CDP / Personalize client for Sitecore XM.
//!
//! Calls go one way: `ffi` → `client` → features (`pipeline` + `spool`, `decisions`, `browser`, `guests`) →
//! `transport` (all HTTP) → `model` (wire payloads, pure). See ARCHITECTURE.md. `ffi` is the only place with
//! `extern "C"`; the core knows nothing of it.

pub mod browser;
pub mod client;
pub mod config;
pub mod cookie;
pub mod decisions;
pub mod error;
pub mod ffi;
pub mod guests;
pub mod log;
pub mod model;
pub mod nesting;
pub mod pipeline;
pub mod spool;
pub mod stats;
pub mod transport;

pub use client::Client;
pub use error::{Error, ErrorKind, Result};

// The request thread allocates each event's strings and a runtime thread frees them; mimalloc's free lists
// make that cross-thread hand-off cheap where glibc's arenas contend. Applies to this library's Rust code only,
// never to the host process.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
