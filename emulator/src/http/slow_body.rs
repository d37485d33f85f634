//! The slow-body fault: the normal response body sent a few bytes at a time with a delay between chunks.

use axum::body::Body as AxumBody;
use bytes::Bytes;
use hyper::body::{Body, Frame};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Wraps a buffered body so it is sent `chunk` bytes every `delay`.
pub fn slow(data: Bytes, delay: Duration, chunk: usize) -> AxumBody {
    AxumBody::new(SlowBody {
        data,
        chunk,
        delay,
        sleep: None,
    })
}

/// Sends a body `chunk` bytes at a time with `delay` between chunks.
struct SlowBody {
    data: Bytes,
    chunk: usize,
    delay: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for SlowBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.data.is_empty() {
            return Poll::Ready(None);
        }
        if let Some(s) = self.sleep.as_mut() {
            if s.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        let d = self.delay;
        self.sleep = Some(Box::pin(tokio::time::sleep(d)));
        let n = self.chunk.min(self.data.len());
        let part = self.data.split_to(n);
        Poll::Ready(Some(Ok(Frame::data(part))))
    }
    fn is_end_stream(&self) -> bool {
        self.data.is_empty()
    }
    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.data.len() as u64)
    }
}
