//! xmcdp-emulator: a faithful local Sitecore CDP (Stream API, Edge proxy, Guest REST v2.1) and Personalize
//! (`/v2/callFlows`) for development, tests, demos and benchmarks. It is an independent reading of the
//! protocol (`shared/spec/cdp-protocol.md`) and shares no code with the `xmcdp` client.
//!
//! In-process use (from a plain `#[test]`, no tokio runtime needed):
//! ```no_run
//! let emu = xmcdp_emulator::spawn(xmcdp_emulator::EmulatorConfig::default()).unwrap();
//! println!("{}", emu.base_url());
//! emu.stop();
//! ```

mod admin;
mod app;
mod clock;
mod codec;
mod config;
mod edge;
mod faults;
mod guest_rest;
mod http;
mod ids;
mod personalize;
mod routes;
mod state;
mod stream;
mod template;

pub use config::{
    default_tenants, EdgeContext, EmulatorConfig, Flow, Limits, PosConfig, TenantConfig, Variant,
};
pub use faults::{apply_cli_flag, FaultConfig, FaultRule};

use std::net::SocketAddr;
use std::sync::Arc;

/// A running emulator. Dropping it stops the emulator (gracefully) and joins its thread.
pub struct EmulatorHandle {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish (bounded), and joins the emulator thread.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

/// Starts the emulator on its own thread with its own tokio runtime; returns once it accepts connections.
pub fn spawn(cfg: EmulatorConfig) -> std::io::Result<EmulatorHandle> {
    cfg.validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let std_listener = std::net::TcpListener::bind(cfg.listen)?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let router = routes::router(Arc::new(app::App::new(&cfg, format!("http://{addr}"))));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
    let thread = std::thread::Builder::new()
        .name(format!("xmcdp-emulator-{}", addr.port()))
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                http::server::serve(listener, router, async move {
                    let _ = rx.await;
                })
                .await;
            });
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            return Err(std::io::Error::other(
                "emulator thread exited during start-up",
            ))
        }
    }
    Ok(EmulatorHandle {
        addr,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}

/// Runs the emulator on the current thread until `shutdown` resolves (used by the binary).
/// `on_ready` is called with the bound address once it accepts connections.
pub fn run(
    cfg: EmulatorConfig,
    on_ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    cfg.validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // One core (e.g. pinned with taskset): the current-thread scheduler avoids cross-thread wake-ups.
    let threads = cfg.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
        let addr = listener.local_addr()?;
        let router = routes::router(Arc::new(app::App::new(&cfg, format!("http://{addr}"))));
        // Poll the shutdown future once before announcing readiness, so that signal handlers it installs are
        // in place before anyone can send SIGTERM to a process that said it is listening.
        let mut shutdown = Box::pin(shutdown);
        tokio::select! {
            biased;
            _ = &mut shutdown => return Ok(()),
            _ = std::future::ready(()) => {}
        }
        on_ready(addr);
        http::server::serve(listener, router, shutdown).await;
        Ok::<(), std::io::Error>(())
    })?;
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(())
}
