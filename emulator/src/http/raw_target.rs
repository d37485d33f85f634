//! Lenient request targets. Legacy Stream clients send the event JSON *raw* in the query
//! (`/v1.2/event/create.json?message={"type":"VIEW",...}`), with literal `"` (and sometimes `<`, `>` or UTF-8 bytes).
//! The HTTP parser rejects those bytes in a request target with a bare 400, so this reader percent-encodes them in
//! the request line before hyper sees it. It follows HTTP/1.1 message framing (Content-Length bodies are passed
//! through untouched; after a chunked body it stops rewriting for that connection).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const MAX_HEADER_LINE: usize = 16 * 1024;

enum State {
    RequestLine,
    Headers {
        line: Vec<u8>,
        content_length: u64,
        chunked: bool,
    },
    Body(u64),
    Passthrough,
}

pub struct RawTargetFix<S> {
    inner: S,
    state: State,
    /// Escaped bytes not yet handed to the reader.
    out: Vec<u8>,
    out_pos: usize,
}

impl<S> RawTargetFix<S> {
    pub fn new(inner: S) -> Self {
        RawTargetFix {
            inner,
            state: State::RequestLine,
            out: Vec::new(),
            out_pos: 0,
        }
    }
}

fn needs_escape(b: u8) -> bool {
    b == b'"' || b == b'<' || b == b'>' || b >= 0x80
}

/// Runs `input` through the framing state machine. With `out`, every byte is written there (escaped where
/// needed) and the result is `None`. Without `out`, it stops at the first byte that needs escaping and returns
/// its index (that byte not consumed), so the common case needs no copy at all.
fn process(state: &mut State, input: &[u8], mut out: Option<&mut Vec<u8>>) -> Option<usize> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut i = 0;
    while i < input.len() {
        match state {
            State::Passthrough => {
                if let Some(o) = out.as_deref_mut() {
                    o.extend_from_slice(&input[i..]);
                }
                return None;
            }
            State::Body(n) => {
                let take = (*n).min((input.len() - i) as u64) as usize;
                if let Some(o) = out.as_deref_mut() {
                    o.extend_from_slice(&input[i..i + take]);
                }
                i += take;
                *n -= take as u64;
                if *n == 0 {
                    *state = State::RequestLine;
                }
            }
            State::RequestLine => {
                let b = input[i];
                if needs_escape(b) {
                    match out.as_deref_mut() {
                        Some(o) => o.extend_from_slice(&[
                            b'%',
                            HEX[(b >> 4) as usize],
                            HEX[(b & 15) as usize],
                        ]),
                        None => return Some(i),
                    }
                } else if let Some(o) = out.as_deref_mut() {
                    o.push(b);
                }
                i += 1;
                if b == b'\n' {
                    *state = State::Headers {
                        line: Vec::new(),
                        content_length: 0,
                        chunked: false,
                    };
                }
            }
            State::Headers {
                line,
                content_length,
                chunked,
            } => {
                let b = input[i];
                i += 1;
                if let Some(o) = out.as_deref_mut() {
                    o.push(b);
                }
                if b != b'\n' {
                    if line.len() < MAX_HEADER_LINE {
                        line.push(b);
                    }
                    continue;
                }
                let l = line.strip_suffix(b"\r").unwrap_or(line);
                if l.is_empty() {
                    let (cl, ch) = (*content_length, *chunked);
                    *state = if ch {
                        State::Passthrough
                    } else if cl > 0 {
                        State::Body(cl)
                    } else {
                        State::RequestLine
                    };
                    continue;
                }
                if let Some(colon) = l.iter().position(|c| *c == b':') {
                    let name = &l[..colon];
                    let value = String::from_utf8_lossy(&l[colon + 1..])
                        .trim()
                        .to_ascii_lowercase();
                    if name.eq_ignore_ascii_case(b"content-length") {
                        *content_length = value.parse().unwrap_or(0);
                    } else if name.eq_ignore_ascii_case(b"transfer-encoding")
                        && value.contains("chunked")
                    {
                        *chunked = true;
                    }
                }
                line.clear();
            }
        }
    }
    None
}

impl<S: AsyncRead + Unpin> AsyncRead for RawTargetFix<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.out_pos < this.out.len() {
            let avail = &this.out[this.out_pos..];
            let k = avail.len().min(buf.remaining());
            buf.put_slice(&avail[..k]);
            this.out_pos += k;
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let filled = buf.filled().len();
        if filled == before || matches!(this.state, State::Passthrough) {
            return Poll::Ready(Ok(()));
        }
        // Fast path: nothing to escape, the bytes stay where they were read.
        let Some(at) = process(&mut this.state, &buf.filled()[before..filled], None) else {
            return Poll::Ready(Ok(()));
        };
        // Slow path: take the rest back, escape it, and hand out as much as fits now.
        let cut = before + at;
        let rest: Vec<u8> = buf.filled()[cut..filled].to_vec();
        buf.set_filled(cut);
        this.out.clear();
        this.out_pos = 0;
        process(&mut this.state, &rest, Some(&mut this.out));
        let k = this.out.len().min(buf.remaining());
        buf.put_slice(&this.out[..k]);
        this.out_pos = k;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for RawTargetFix<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mirrors poll_read: fast scan, and on the first byte to escape, the slow path for the rest of the chunk.
    fn run(chunks: &[&[u8]]) -> Vec<u8> {
        let mut st = State::RequestLine;
        let mut out = Vec::new();
        for c in chunks {
            match process(&mut st, c, None) {
                None => out.extend_from_slice(c),
                Some(at) => {
                    out.extend_from_slice(&c[..at]);
                    process(&mut st, &c[at..], Some(&mut out));
                }
            }
        }
        out
    }

    #[test]
    fn rewrites_only_request_lines() {
        let req1 = b"GET /e?message={\"a\":\"<\xc3\xa9>\"} HTTP/1.1\r\nHost: x\r\n\r\n";
        let req2 = b"POST /v1.2/events HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"a\":\"b\"}";
        let req3 = b"GET /x?q=\"y\" HTTP/1.1\r\n\r\n";
        let mut all = Vec::new();
        all.extend_from_slice(req1);
        all.extend_from_slice(req2);
        all.extend_from_slice(req3);
        let expect = b"GET /e?message={%22a%22:%22%3C%C3%A9%3E%22} HTTP/1.1\r\nHost: x\r\n\r\nPOST /v1.2/events HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"a\":\"b\"}GET /x?q=%22y%22 HTTP/1.1\r\n\r\n";
        assert_eq!(run(&[&all]), expect.to_vec());
        // Byte-at-a-time delivery gives the same result.
        let singles: Vec<&[u8]> = all.chunks(1).collect();
        assert_eq!(run(&singles), expect.to_vec());
    }

    #[test]
    fn chunked_body_stops_rewriting() {
        let r = run(&[b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n\"x\"\r\n0\r\n\r\nGET /b?\" HTTP/1.1\r\n\r\n"]);
        assert!(r.ends_with(b"GET /b?\" HTTP/1.1\r\n\r\n"));
    }
}
