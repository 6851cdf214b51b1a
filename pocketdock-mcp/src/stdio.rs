//! The stdio transport: one client, one session, for as long as stdin stays open.
//!
//! End of input is noticed as it happens (not when the SDK has drained its calls), so the
//! server removes its sandboxes and exits within the grace period MCP clients give a server
//! after closing its stdin.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rmcp::ServiceExt;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::sync::CancellationToken;

use crate::registry::Registry;
use crate::server::McpServer;

/// A reader that cancels a token at end of input (or on a read error).
struct EofWatch<R> {
    inner: R,
    eof: CancellationToken,
}

impl<R: AsyncRead + Unpin> AsyncRead for EofWatch<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let had_room = buf.remaining() > 0;
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        match &polled {
            Poll::Ready(Ok(())) if had_room && buf.filled().len() == before => self.eof.cancel(),
            Poll::Ready(Err(_)) => self.eof.cancel(),
            _ => {}
        }
        polled
    }
}

/// Serve one session on stdin and stdout until the input ends, the client goes, or
/// `shutdown` is cancelled (a signal).
pub async fn serve(registry: Arc<Registry>, shutdown: CancellationToken) -> io::Result<()> {
    let eof = CancellationToken::new();
    let input = EofWatch {
        inner: tokio::io::stdin(),
        eof: eof.clone(),
    };
    let server = McpServer::new(registry);
    let running = tokio::select! {
        r = server.serve((input, tokio::io::stdout())) => match r {
            Ok(running) => running,
            Err(e) => {
                // A client that leaves before the handshake is not an error of ours.
                if eof.is_cancelled() {
                    return Ok(());
                }
                return Err(io::Error::other(e.to_string()));
            }
        },
        () = eof.cancelled() => return Ok(()),
        () = shutdown.cancelled() => return Ok(()),
    };
    let ct = running.cancellation_token();
    tokio::select! {
        _ = running.waiting() => {}
        () = eof.cancelled() => ct.cancel(),
        () = shutdown.cancelled() => ct.cancel(),
    }
    Ok(())
}
