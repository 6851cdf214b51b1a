//! The stdio transport: one client, one session, for as long as stdin stays open.
//!
//! Written here rather than taken from the SDK for two things an agent host relies on:
//!
//! * Every malformed line gets its JSON-RPC error (`-32700` for text that is not JSON,
//!   `-32600` for JSON that is not a message), and the server reads on. A malformed
//!   notification is dropped, as JSON-RPC wants.
//! * The end of input is noticed as it happens, not when the SDK has drained its calls, so
//!   the server removes its sandboxes and exits within the short grace period MCP clients
//!   give a server after closing its stdin.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rmcp::model::ClientJsonRpcMessage;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::{RoleServer, ServiceExt};
use serde_json::Value;
use tokio::io::{AsyncWriteExt, Stdout};
use tokio::sync::{mpsc, Mutex};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::sync::CancellationToken;

use crate::registry::Registry;
use crate::server::McpServer;

/// How long calls still running when stdin ends may take to answer. MCP clients give a
/// server about 2 s after closing its stdin before they signal it; the sandboxes' removal
/// must fit in that too.
const EOF_GRACE: Duration = Duration::from_millis(800);

/// The longest line read (a `write_file` of several MiB of base64 fits).
const MAX_LINE: usize = 64 * 1024 * 1024;

type Writer = Arc<Mutex<Stdout>>;

async fn write_line(out: &Writer, bytes: &[u8]) -> io::Result<()> {
    let mut w = out.lock().await;
    w.write_all(bytes).await?;
    w.write_all(b"\n").await?;
    w.flush().await
}

/// The error a line that is not a message gets, if any.
fn rejection(line: &str) -> Option<Value> {
    let (code, message, id) = match serde_json::from_str::<Value>(line) {
        Err(e) => (-32700, format!("Parse error: {e}"), Value::Null),
        Ok(v) => {
            let is_notification = v.get("method").is_some() && v.get("id").is_none();
            if is_notification {
                return None;
            }
            let id = match v.get("id") {
                Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
                _ => Value::Null,
            };
            (-32600, "Invalid Request".to_string(), id)
        }
    };
    Some(serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": message},
    }))
}

/// Messages from stdin (read by a task of their own, so a read is never lost to a `select!`),
/// answers to stdout.
struct StdioTransport {
    incoming: mpsc::Receiver<RxJsonRpcMessage<RoleServer>>,
    out: Writer,
}

impl StdioTransport {
    /// Start reading stdin; `eof` is cancelled when it ends.
    fn start(eof: CancellationToken) -> Self {
        let out: Writer = Arc::new(Mutex::new(tokio::io::stdout()));
        let (tx, incoming) = mpsc::channel(64);
        let errors = Arc::clone(&out);
        tokio::spawn(async move {
            let mut lines = FramedRead::new(
                tokio::io::stdin(),
                LinesCodec::new_with_max_length(MAX_LINE),
            );
            while let Some(line) = lines.next().await {
                let answer = match line {
                    Ok(line) if line.trim().is_empty() => continue,
                    Ok(line) => match serde_json::from_str::<ClientJsonRpcMessage>(&line) {
                        Ok(msg) => {
                            if tx.send(msg).await.is_err() {
                                break;
                            }
                            continue;
                        }
                        Err(_) => rejection(&line),
                    },
                    Err(LinesCodecError::MaxLineLengthExceeded) => Some(serde_json::json!({
                        "jsonrpc": "2.0",
                        "id": null,
                        "error": {"code": -32600, "message": "Invalid Request: line too long"},
                    })),
                    Err(LinesCodecError::Io(_)) => break,
                };
                if let Some(answer) = answer {
                    if write_line(&errors, answer.to_string().as_bytes())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
            eof.cancel();
        });
        Self { incoming, out }
    }
}

impl Transport<RoleServer> for StdioTransport {
    type Error = io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let out = Arc::clone(&self.out);
        async move {
            let bytes = serde_json::to_vec(&item).map_err(io::Error::other)?;
            write_line(&out, &bytes).await
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        self.incoming.recv().await
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.incoming.close();
        Ok(())
    }
}

/// Serve one session on stdin and stdout until the input ends, the client goes, or
/// `shutdown` is cancelled (a signal). Calls still running when the input ends get
/// [`EOF_GRACE`] to answer; then they are cancelled (their commands killed).
pub async fn serve(registry: Arc<Registry>, shutdown: CancellationToken) -> io::Result<()> {
    let eof = CancellationToken::new();
    let transport = StdioTransport::start(eof.clone());
    let server = McpServer::new(registry);
    let running = tokio::select! {
        r = server.serve(transport) => match r {
            Ok(running) => running,
            // A client that leaves before the handshake is not an error of ours.
            Err(_) if eof.is_cancelled() => return Ok(()),
            Err(e) => return Err(io::Error::other(e.to_string())),
        },
        () = shutdown.cancelled() => return Ok(()),
    };
    let ct = running.cancellation_token();
    let waiting = running.waiting();
    tokio::pin!(waiting);
    tokio::select! {
        _ = &mut waiting => return Ok(()),
        () = eof.cancelled() => {}
        () = shutdown.cancelled() => {
            ct.cancel();
            return Ok(());
        }
    }
    if tokio::time::timeout(EOF_GRACE, &mut waiting).await.is_err() {
        ct.cancel();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::rejection;

    #[test]
    fn malformed_lines_get_the_right_error() {
        let parse = rejection("{not json").unwrap_or_default();
        assert_eq!(parse["error"]["code"], -32700);
        assert!(parse["id"].is_null());
        let invalid = rejection(r#"{"jsonrpc":"2.0","id":7}"#).unwrap_or_default();
        assert_eq!(invalid["error"]["code"], -32600);
        assert_eq!(invalid["id"], 7);
        let odd_id = rejection(r#"{"jsonrpc":"2.0","id":[1]}"#).unwrap_or_default();
        assert!(odd_id["id"].is_null());
        // A notification is never answered, even a malformed one.
        assert!(rejection(r#"{"jsonrpc":"2.0","method":"x","params":5}"#).is_none());
    }
}
