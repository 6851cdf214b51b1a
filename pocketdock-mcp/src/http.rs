//! The streamable HTTP transport: rmcp's service on hyper, one MCP session per client
//! session (`Mcp-Session-Id`), behind a bearer token when one is set.
//!
//! On a loopback address the token is optional (and rmcp checks the `Host` header against
//! DNS rebinding); on any other address the server refuses to start without one. The token
//! is compared in constant time and never logged.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use crate::registry::Registry;
use crate::server::McpServer;

/// The path the MCP endpoint answers on.
pub const PATH: &str = "/mcp";

/// Largest request body accepted (a `write_file` of a few MiB of base64 fits).
const MAX_BODY: usize = 16 * 1024 * 1024;

type Body = BoxBody<Bytes, Infallible>;

/// A bearer token, kept out of `Debug` output and compared in constant time.
#[derive(Clone)]
pub struct Token(Arc<str>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// A token from its text (surrounding whitespace removed); `None` when empty.
    pub fn new(text: &str) -> Option<Self> {
        let t = text.trim();
        (!t.is_empty()).then(|| Self(Arc::from(t)))
    }

    /// Does the `Authorization` header value carry this token?
    fn accepts(&self, header: Option<&[u8]>) -> bool {
        let Some(h) = header else { return false };
        let Some(given) = h.strip_prefix(b"Bearer ") else {
            return false;
        };
        let want = self.0.as_bytes();
        if given.len() != want.len() {
            return false;
        }
        given
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// A JSON-RPC error answer to a request that could not be read as one.
fn jsonrpc_error(code: i64, message: &str, id: &serde_json::Value) -> Response<Body> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": message},
    });
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

/// The request with its body read, or the JSON-RPC error a malformed message gets (a parse
/// error, or an invalid request for JSON that is not a JSON-RPC 2.0 message).
async fn read_body(req: Request<Incoming>) -> Result<Request<Full<Bytes>>, Response<Body>> {
    let (parts, body) = req.into_parts();
    let bytes = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            return Err(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large\n",
            ))
        }
    };
    if parts.method == http::Method::POST {
        let value: serde_json::Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                return Err(jsonrpc_error(
                    -32700,
                    &format!("Parse error: {e}"),
                    &serde_json::Value::Null,
                ))
            }
        };
        let id = value.get("id").cloned().unwrap_or(serde_json::Value::Null);
        let is_message = value.get("jsonrpc").and_then(serde_json::Value::as_str) == Some("2.0")
            && (value.get("method").is_some()
                || value.get("result").is_some()
                || value.get("error").is_some());
        if !is_message {
            return Err(jsonrpc_error(
                -32600,
                "Invalid Request: not a JSON-RPC 2.0 message",
                &id,
            ));
        }
    }
    Ok(Request::from_parts(parts, Full::new(bytes)))
}

/// Answer a refused request: its body is read first (up to a small bound) so the connection
/// can carry the client's next request; past the bound the connection is closed.
async fn refused(req: Request<Incoming>, mut answer: Response<Body>) -> Response<Body> {
    const DRAIN: usize = 64 * 1024;
    let drained = http_body_util::Limited::new(req.into_body(), DRAIN)
        .collect()
        .await
        .is_ok();
    if !drained {
        answer.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    answer
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
    *r.status_mut() = status;
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
    }
    r
}

/// Serve on `listener` until `shutdown` is cancelled; every session gets its own handler.
pub async fn serve(
    listener: TcpListener,
    token: Option<Token>,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    let mut config = StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown.child_token())
        .with_max_request_body_bytes(MAX_BODY);
    if !addr.ip().is_loopback() {
        // Reached under names the server cannot know; the token guards it.
        config = config.disable_allowed_hosts();
    }
    // A session nobody used for the idle TTL ends (and its sandboxes go with it): a client
    // that vanished without ending its session leaves nothing behind for much longer than
    // that. The session's clock only moves on messages, so it also waits out the longest call.
    let mut sessions = LocalSessionManager::default();
    let longest_call = registry.opts.max_timeout + std::time::Duration::from_secs(60);
    sessions.session_config.keep_alive = Some(registry.opts.idle_ttl.max(longest_call));
    let mcp = StreamableHttpService::new(
        move || Ok(McpServer::new(Arc::clone(&registry))),
        Arc::new(sessions),
        config,
    );
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("pocketdock-mcp: accept: {e}");
                    continue;
                }
            },
            () = shutdown.cancelled() => return Ok(()),
        };
        let mcp = mcp.clone();
        let token = token.clone();
        let conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let mut mcp = mcp.clone();
                let token = token.clone();
                async move {
                    let refusal = if req.uri().path() == PATH {
                        token.as_ref().and_then(|t| {
                            let header = req
                                .headers()
                                .get(http::header::AUTHORIZATION)
                                .map(http::HeaderValue::as_bytes);
                            (!t.accepts(header)).then(|| {
                                plain(StatusCode::UNAUTHORIZED, "a bearer token is required\n")
                            })
                        })
                    } else {
                        Some(plain(StatusCode::NOT_FOUND, "not found\n"))
                    };
                    if let Some(answer) = refusal {
                        return Ok::<_, Infallible>(refused(req, answer).await);
                    }
                    match read_body(req).await {
                        Ok(req) => mcp.call(req).await,
                        Err(answer) => Ok(answer),
                    }
                }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = served => {}
                () = conn_shutdown.cancelled() => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::Token;

    #[test]
    fn the_token_is_checked_exactly() {
        let t = Token::new(" s3cret\n");
        let t = t.as_ref();
        assert!(t.is_some_and(|t| t.accepts(Some(b"Bearer s3cret"))));
        assert!(!t.is_some_and(|t| t.accepts(Some(b"Bearer s3cre"))));
        assert!(!t.is_some_and(|t| t.accepts(Some(b"Bearer s3cretx"))));
        assert!(!t.is_some_and(|t| t.accepts(Some(b"s3cret"))));
        assert!(!t.is_some_and(|t| t.accepts(None)));
        assert!(Token::new("  \n").is_none());
        assert_eq!(format!("{t:?}"), "Some(Token(..))");
    }
}
