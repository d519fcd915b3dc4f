//! hyper answers a request whose head it cannot take (a URI over its limit: 414;
//! too many or too large headers: 431; an unparseable head: 400) by itself, before
//! any middleware runs, with an empty body. The real API answers with its error
//! envelope, so the emulator's connections rewrite those answers on the way out.
//!
//! The rewrite recognizes hyper's automatic answer by its shape: a 400, 414 or 431
//! head with `content-length: 0` and nothing after it, written as one buffer. Every answer of the router carries a JSON body, so
//! none of them has that shape.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::StatusCode;
use permissions_types::ApiError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::envelope::envelope_json;
use super::front::new_request_id;

/// A TCP listener whose connections give hyper's own error answers the envelope.
#[derive(Debug)]
pub(crate) struct EnvelopeListener(TcpListener);

impl EnvelopeListener {
    pub(crate) fn new(listener: TcpListener) -> Self {
        Self(listener)
    }
}

impl axum::serve::Listener for EnvelopeListener {
    type Io = EnvelopeIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (EnvelopeIo, SocketAddr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (
            EnvelopeIo {
                stream,
                pending: Vec::new(),
                written: 0,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// A connection that replaces hyper's automatic answer with an enveloped one.
#[derive(Debug)]
pub(crate) struct EnvelopeIo {
    stream: TcpStream,
    /// The replacement answer, and how much of it is written.
    pending: Vec<u8>,
    written: usize,
}

impl EnvelopeIo {
    /// Writes what is left of the replacement answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.stream).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for EnvelopeIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for EnvelopeIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(replacement) = enveloped(buf) {
            // hyper's answer is taken whole; the replacement goes out in its stead.
            self.pending = replacement;
            self.written = 0;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        // An answer without a body is one buffer: the head.
        let mut written = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(head), None) = (written.next(), written.next())
            && let Some(replacement) = enveloped(head)
        {
            self.pending = replacement;
            self.written = 0;
            return Poll::Ready(Ok(head.len()));
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    // As the socket: hyper keeps writing heads and bodies without copying them.
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The enveloped form of `written` when it is hyper's automatic answer to a head
/// it refused; `None` for anything else.
fn enveloped(written: &[u8]) -> Option<Vec<u8>> {
    // Every write passes here: refuse all but a bodiless 4xx head in O(1) first.
    if !written.starts_with(b"HTTP/1.1 4") || !written.ends_with(b"\r\n\r\n") {
        return None;
    }
    let head_end = written.windows(4).position(|w| w == b"\r\n\r\n")?;
    if head_end + 4 != written.len() {
        return None; // It has a body: not hyper's automatic answer.
    }
    let head = std::str::from_utf8(&written[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let code = status_line.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    let status = StatusCode::from_bytes(code.as_bytes()).ok()?;
    let message = match status {
        StatusCode::URI_TOO_LONG => "The request URI is too long.",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            "The request headers are too many or too large."
        }
        StatusCode::BAD_REQUEST => "The request could not be parsed as HTTP/1.1.",
        _ => return None,
    };
    let headers: Vec<&str> = lines.collect();
    if !headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("content-length: 0"))
    {
        return None;
    }
    let body = envelope_json(ApiError::new("invalid_request_error", message));
    let mut out = Vec::with_capacity(head_end + body.len() + 160);
    out.extend_from_slice(status_line.as_bytes());
    out.extend_from_slice(b"\r\n");
    for header in headers {
        if !header.to_ascii_lowercase().starts_with("content-length:") {
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(
        format!(
            "content-type: application/json\r\ncontent-length: {}\r\nx-request-id: {}\r\n\r\n",
            body.len(),
            new_request_id()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bodiless_refusals_are_rewritten() {
        let automatic = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Tue, 01 Dec 2026 09:00:00 GMT\r\n\r\n";
        let rewritten = String::from_utf8(enveloped(automatic).expect("rewritten")).expect("utf-8");
        let (head, body) = rewritten.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(head.contains("connection: close\r\n"), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(!head.contains("content-length: 0"), "{head}");
        let envelope: permissions_types::ErrorResponse =
            serde_json::from_str(body).expect("the envelope");
        assert_eq!(envelope.error.kind, "invalid_request_error");

        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(enveloped(with_body), None);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(enveloped(ok), None);
        assert_eq!(enveloped(b"HTTP/1.1 414 URI Too Long\r\n"), None);
    }
}
