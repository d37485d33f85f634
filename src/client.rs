//! The client: one per site/tenant. Owns its tokio runtime (not a global: a new AppDomain makes a new client,
//! and several clients coexist), the HTTP transport, the delivery pipeline and the features built on the
//! transport: [`Client::decisions`], [`Client::browser_ids`], [`Client::guests`]. The features know nothing of
//! the client: each is built from the settings, the transport and a link to the runtime.

use crate::browser::BrowserIds;
use crate::config::Settings;
use crate::decisions::{BreakerState, Decisions};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Event, Ext, PackedView, ViewFields};
use crate::pipeline::overflow::Discard;
use crate::pipeline::{Envelope, Pipeline};
use crate::guests::{GuestApi, Guests};
use crate::transport::call::RuntimeLink;
use crate::transport::Transport;
use crate::log;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

pub use crate::pipeline::ShutdownReport;

/// Deadline used when a client is dropped without an explicit shutdown.
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);

/// Longest User-Agent forwarded; longer ones are cut (real browsers stay far below this).
const MAX_USER_AGENT: usize = 512;

/// Where a user agent is cut: at most [`MAX_USER_AGENT`] bytes, on a char boundary.
fn ua_cut(ua: &str) -> usize {
    let mut cut = ua.len().min(MAX_USER_AGENT);
    while !ua.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

pub struct Client {
    settings: Arc<Settings>,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    /// The features' view of `runtime`; closed when the runtime stops.
    runtime_link: RuntimeLink,
    pipeline: Pipeline,
    /// Durable spool behind the pipeline (`spoolDirectory`); `None` = undelivered events are lost.
    spool: Option<crate::spool::Spool>,
    shutdown: Mutex<Option<ShutdownReport>>,
    decisions: Decisions,
    browser_ids: BrowserIds,
    guests: Guests,
}

/// The runtime's threads do background work (delivery, the decisions a request prefetched). On Linux, unless
/// `workerThreadsBatch` is false, they run as SCHED_BATCH: same CPU share, but waking one (a prefetch, an event
/// for an idle lane) no longer preempts the request thread that woke it on their shared core; the woken thread
/// runs when the request thread blocks, at the next tick, or at once on an idle core. The price is on a
/// saturated core: background work waits for that tick (BENCHMARKS.md, targets item 5). Threads of a real-time
/// process (`chrt -f`) keep their policy. Other systems: unchanged.
fn background_policy() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread with a valid, initialised `sched_param`.
    unsafe {
        if libc::sched_getscheduler(0) == libc::SCHED_OTHER {
            let p = libc::sched_param { sched_priority: 0 };
            libc::sched_setscheduler(0, libc::SCHED_BATCH, &p);
        }
    }
}

impl Client {
    pub fn from_json(settings_json: &str) -> Result<Client> {
        Client::new(Settings::from_json(settings_json)?)
    }

    pub fn new(settings: Settings) -> Result<Client> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(settings.worker_threads).thread_name("xmcdp-worker").enable_all();
        if settings.worker_threads_batch {
            builder.on_thread_start(background_policy);
        }
        let runtime = builder
            .build()
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start the runtime: {e}")))?;
        let transport = Transport::new(&settings)?;
        // A spool that cannot open must not stop the site: log it and run without one.
        let spool = crate::spool::SpoolConfig::from_settings(&settings).and_then(|cfg| {
            crate::spool::Spool::open(cfg, crate::pipeline::BodyRenderer::new(&settings))
                .map_err(|e| log::error(format!("xmcdp: running without the spool: {e}")))
                .ok()
        });
        let overflow = spool.as_ref().map_or_else(|| Box::new(Discard) as Box<dyn crate::pipeline::overflow::Overflow>, |s| s.overflow());
        let pipeline = Pipeline::start(&settings, transport.clone(), overflow, runtime.handle());
        if let Some(s) = &spool {
            s.attach(pipeline.replay_sink());
        }
        let runtime_link = RuntimeLink::new(runtime.handle());
        let decisions = Decisions::new(&settings, &transport, runtime_link.clone());
        let browser_ids = BrowserIds::new(&settings, &transport, runtime_link.clone());
        let guests = Guests::new(&settings, &transport, runtime_link.clone());
        log::info(format!(
            "xmcdp: client started for client key {} ({} lanes, queue {} events / {} bytes)",
            settings.client_key, settings.delivery_concurrency, settings.queue_capacity, settings.queue_max_bytes
        ));
        Ok(Client {
            settings: Arc::new(settings),
            runtime: Mutex::new(Some(runtime)),
            runtime_link,
            pipeline,
            spool,
            shutdown: Mutex::new(None),
            decisions,
            browser_ids,
            guests,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Personalize decisions (callFlows) within a budget, prefetch tickets, cache and breaker.
    pub fn decisions(&self) -> &Decisions {
        &self.decisions
    }

    /// The visitor's browser id (cookie, pool, create) and browser → guest.
    pub fn browser_ids(&self) -> &BrowserIds {
        &self.browser_ids
    }

    /// The Guest REST v2.1 API (needs `apiToken`; `guestApiUrl` or the classic `targetUrl`).
    pub fn guests(&self) -> GuestApi<'_> {
        self.guests.api()
    }

    /// Validates the event on the calling thread (cheap checks only), fills the site defaults and queues it.
    /// Never blocks and never does I/O.
    pub fn send(&self, event: Event, user_agent: Option<String>) -> Result<()> {
        event.validate().map_err(Error::from)?;
        let user_agent = user_agent.map(|mut ua| {
            ua.truncate(ua_cut(&ua));
            ua
        });
        self.pipeline.enqueue(Envelope::new(event, user_agent))
    }

    /// [`Client::send`] for a VIEW whose strings are borrowed (the C ABI's): validated where they are, then
    /// copied into one allocation ([`PackedView`]) with the user agent. Same rules, messages and body.
    pub fn send_view(&self, view: ViewFields<'_>, ext: Ext, user_agent: Option<&str>) -> Result<()> {
        let user_agent = user_agent.map(|ua| &ua[..ua_cut(ua)]);
        let packed = PackedView::new(view, ext, user_agent).map_err(Error::from)?;
        self.pipeline.enqueue(Envelope::packed_view(packed))
    }

    /// Graceful, idempotent shutdown: stop accepting, deliver what fits before `deadline`, stop the runtime.
    pub fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let mut done = self.shutdown.lock();
        if let Some(r) = &*done {
            return r.clone();
        }
        let report = self.pipeline.shutdown(deadline);
        if let Some(spool) = &self.spool {
            // After the pipeline: what it could not deliver is in the spool's channel; commit it and let go of
            // the file so the next client or process adopts it.
            let left = spool.close(Duration::from_secs(2));
            if left > 0 {
                log::info(format!("xmcdp: {left} events wait in the spool for the next start"));
            }
        }
        self.runtime_link.close();
        if let Some(rt) = self.runtime.lock().take() {
            rt.shutdown_timeout(Duration::from_millis(200));
        }
        if report.unsent > 0 {
            log::warn(format!("xmcdp: shut down with {} undelivered events ({} delivered while draining)", report.unsent, report.delivered));
        } else {
            log::info(format!("xmcdp: shut down cleanly ({} delivered while draining)", report.delivered));
        }
        *done = Some(report.clone());
        report
    }

    pub fn is_shut_down(&self) -> bool {
        self.shutdown.lock().is_some()
    }

    pub fn stats_json(&self) -> String {
        let mut v = serde_json::json!({ "events": self.pipeline.stats_json() });
        let d = self.decisions.stats();
        v["decisions"] = serde_json::json!({
            "requests": d.requests,
            "http_calls": d.http_calls,
            "coalesced": d.coalesced,
            "cache_hits": d.cache_hits,
            "cache_entries": d.cache_entries,
            "timeouts": d.timeouts,
            "failures": d.failures,
            "breaker_state": match self.decisions.breaker_state() {
                BreakerState::Closed => "closed",
                BreakerState::Open => "open",
                BreakerState::HalfOpen => "half_open",
            },
            "breaker_opened": d.breaker_opened,
            "breaker_rejections": d.breaker_rejections,
            "tickets_outstanding": d.tickets_outstanding,
            "tickets_expired": d.tickets_expired,
        });
        v["browser_id_pool"] = self.browser_ids.pool_len().into();
        v["spool"] = self.spool.as_ref().map_or_else(|| serde_json::json!({"enabled": false}), |s| s.stats_json());
        v["log_records_dropped"] = log::dropped().into();
        v["shut_down"] = self.is_shut_down().into();
        // try_lock: a stats call while another thread drains must not wait for the drain.
        v["shutdown"] = self.shutdown.try_lock().and_then(|r| r.as_ref().map(ShutdownReport::to_value)).unwrap_or(serde_json::Value::Null);
        v.to_string()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shutdown(DEFAULT_SHUTDOWN_DEADLINE);
    }
}
