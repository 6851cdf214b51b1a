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
    let mut config =
        StreamableHttpServerConfig::default().with_cancellation_token(shutdown.child_token());
    if !addr.ip().is_loopback() {
        // Reached under names the server cannot know; the token guards it.
        config = config.disable_allowed_hosts();
    }
    let mcp = StreamableHttpService::new(
        move || Ok(McpServer::new(Arc::clone(&registry))),
        Arc::new(LocalSessionManager::default()),
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
                    if req.uri().path() != PATH {
                        return Ok::<_, Infallible>(plain(StatusCode::NOT_FOUND, "not found\n"));
                    }
                    if let Some(t) = &token {
                        let header = req
                            .headers()
                            .get(http::header::AUTHORIZATION)
                            .map(http::HeaderValue::as_bytes);
                        if !t.accepts(header) {
                            return Ok(plain(
                                StatusCode::UNAUTHORIZED,
                                "a bearer token is required\n",
                            ));
                        }
                    }
                    mcp.call(req).await
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
