//! Request heads and bodies.

use bytes::{BufMut, Bytes, BytesMut};

/// HTTP methods pocketdock uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
    /// HEAD
    Head,
}

impl Method {
    /// The method token.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Head => "HEAD",
        }
    }
}

/// How the request body is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBody {
    /// No body.
    Empty,
    /// A body known in full, sent with `Content-Length`.
    Full {
        /// MIME type, e.g. `application/json`.
        content_type: &'static str,
        /// The bytes.
        data: Bytes,
    },
    /// A body streamed by the caller after the head, with `Transfer-Encoding: chunked`
    /// (see [`super::encode_chunk`] and [`super::CHUNKED_END`]).
    Chunked {
        /// MIME type, e.g. `application/x-tar`.
        content_type: &'static str,
    },
    /// A body streamed by the caller after the head, whose length is known up front.
    Sized {
        /// MIME type.
        content_type: &'static str,
        /// Exact number of bytes the caller will write.
        length: u64,
    },
}

/// One HTTP/1.1 request to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Path and query, already encoded (e.g. `/containers/json?all=true`).
    pub target: String,
    /// Body.
    pub body: RequestBody,
    /// Ask the engine to hijack the connection (`Connection: Upgrade`, `Upgrade: tcp`).
    pub upgrade: bool,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

impl Request {
    /// A request without a body.
    pub fn new(method: Method, target: impl Into<String>) -> Self {
        Self {
            method,
            target: target.into(),
            body: RequestBody::Empty,
            upgrade: false,
            headers: Vec::new(),
        }
    }

    /// A request with a JSON body.
    pub fn json(method: Method, target: impl Into<String>, value: &serde_json::Value) -> Self {
        let data = Bytes::from(value.to_string());
        Self {
            body: RequestBody::Full {
                content_type: "application/json",
                data,
            },
            ..Self::new(method, target)
        }
    }

    /// A request with a JSON body serialized from `value` (a typed body: no JSON tree built on
    /// the way). A value whose `Serialize` fails (a map with non-string keys) sends `null`.
    pub fn serialized(
        method: Method,
        target: impl Into<String>,
        value: &impl serde::Serialize,
    ) -> Self {
        let data = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
        Self {
            body: RequestBody::Full {
                content_type: "application/json",
                data: Bytes::from(data),
            },
            ..Self::new(method, target)
        }
    }

    /// Set the body.
    pub fn with_body(mut self, body: RequestBody) -> Self {
        self.body = body;
        self
    }

    /// Ask for a connection upgrade (exec/attach hijack).
    pub fn with_upgrade(mut self) -> Self {
        self.upgrade = true;
        self
    }

    /// Encode head and (for [`RequestBody::Full`]) body into one buffer.
    pub fn encode(&self) -> Bytes {
        let extra = match &self.body {
            RequestBody::Full { data, .. } => data.len(),
            _ => 0,
        };
        let mut out = BytesMut::with_capacity(256 + self.target.len() + extra);
        out.put_slice(self.method.as_str().as_bytes());
        out.put_u8(b' ');
        out.put_slice(sanitize(&self.target).as_bytes());
        out.put_slice(b" HTTP/1.1\r\nHost: localhost\r\nUser-Agent: pocketdock/");
        out.put_slice(env!("CARGO_PKG_VERSION").as_bytes());
        out.put_slice(b"\r\n");
        if self.upgrade {
            out.put_slice(b"Connection: Upgrade\r\nUpgrade: tcp\r\n");
        } else {
            out.put_slice(b"Connection: close\r\n");
        }
        match &self.body {
            RequestBody::Empty => {
                if matches!(self.method, Method::Post | Method::Put) {
                    out.put_slice(b"Content-Length: 0\r\n");
                }
            }
            RequestBody::Full { content_type, data } => {
                header(&mut out, "Content-Type", content_type);
                header(&mut out, "Content-Length", &data.len().to_string());
            }
            RequestBody::Chunked { content_type } => {
                header(&mut out, "Content-Type", content_type);
                out.put_slice(b"Transfer-Encoding: chunked\r\n");
            }
            RequestBody::Sized {
                content_type,
                length,
            } => {
                header(&mut out, "Content-Type", content_type);
                header(&mut out, "Content-Length", &length.to_string());
            }
        }
        for (name, value) in &self.headers {
            header(&mut out, name, value);
        }
        out.put_slice(b"\r\n");
        if let RequestBody::Full { data, .. } = &self.body {
            out.put_slice(data);
        }
        out.freeze()
    }
}

fn header(out: &mut BytesMut, name: &str, value: &str) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(sanitize(value).as_bytes());
    out.put_slice(b"\r\n");
}

/// Header values and targets never carry CR, LF or NUL (no request splitting).
fn sanitize(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        std::borrow::Cow::Owned(s.replace(['\r', '\n', '\0'], ""))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_json_request() {
        let r = Request::json(
            Method::Post,
            "/containers/create",
            &serde_json::json!({"Image":"x"}),
        );
        let s = String::from_utf8(r.encode().to_vec()).unwrap_or_default();
        assert!(s.starts_with("POST /containers/create HTTP/1.1\r\nHost: localhost\r\n"));
        assert!(s.contains("Connection: close\r\n"));
        assert!(s.contains("Content-Type: application/json\r\nContent-Length: 13\r\n"));
        assert!(s.ends_with("\r\n\r\n{\"Image\":\"x\"}"));
    }

    #[test]
    fn encodes_upgrade_and_chunked() {
        let r = Request::new(Method::Post, "/exec/1/start").with_upgrade();
        let s = String::from_utf8(r.encode().to_vec()).unwrap_or_default();
        assert!(s.contains("Connection: Upgrade\r\nUpgrade: tcp\r\n"));
        assert!(s.contains("Content-Length: 0\r\n"));
        let r = Request::new(Method::Put, "/x").with_body(RequestBody::Chunked {
            content_type: "application/x-tar",
        });
        let s = String::from_utf8(r.encode().to_vec()).unwrap_or_default();
        assert!(s.contains("Transfer-Encoding: chunked\r\n"));
    }

    #[test]
    fn strips_crlf_injection() {
        let r = Request::new(Method::Get, "/a\r\nX: y");
        let s = String::from_utf8(r.encode().to_vec()).unwrap_or_default();
        assert!(s.starts_with("GET /aX: y HTTP/1.1\r\n"));
    }
}
