//! The accept loop and one connection: hyper's HTTP/1.1 server over the lenient request-target reader, the
//! axum router as the service, and per-connection control so a fault can drop the TCP connection with a RST.

use super::raw_target::RawTargetFix;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tower::ServiceExt;

/// Request extension: notifying it drops the request's connection without a response (reset / outage).
#[derive(Clone)]
pub struct Abort(pub Arc<Notify>);

pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let (closing_tx, closing_rx) = watch::channel(false);
    let active = Arc::new(AtomicUsize::new(0));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            res = listener.accept() => {
                let (stream, _) = match res {
                    Ok(x) => x,
                    Err(_) => { tokio::time::sleep(Duration::from_millis(5)).await; continue; }
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let closing = closing_rx.clone();
                let active = active.clone();
                active.fetch_add(1, Ordering::AcqRel);
                tokio::spawn(async move {
                    connection(stream, router, closing).await;
                    active.fetch_sub(1, Ordering::AcqRel);
                });
            }
        }
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while active.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    router: Router,
    mut closing: watch::Receiver<bool>,
) {
    #[cfg(unix)]
    let fd = {
        use std::os::fd::AsRawFd;
        stream.as_raw_fd()
    };
    let abort = Arc::new(Notify::new());
    let abort2 = abort.clone();
    let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(Abort(abort2.clone()));
        router.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .half_close(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(RawTargetFix::new(stream)), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = abort.notified() => {
            // Drop the connection with a RST and no response (the connection-reset fault / outage).
            #[cfg(unix)]
            {
                use std::os::fd::BorrowedFd;
                // SAFETY: the fd belongs to `conn`, which is still alive here and dropped just after.
                let b = unsafe { BorrowedFd::borrow_raw(fd) };
                let _ = socket2::SockRef::from(&b).set_linger(Some(Duration::ZERO));
            }
        }
        _ = closing.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn.as_mut()).await;
        }
    }
}
