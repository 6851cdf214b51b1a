//! HTTP/1.1 client codec: request encoding, response heads, bodies (length, chunked, until close)
//! and connection upgrade, all without I/O.

mod chunked;
mod complete_response;
mod input;
mod query;
mod request;
mod response;

pub use chunked::{encode_chunk, Chunk, ChunkedDecoder, CHUNKED_END};
pub use complete_response::Response;
pub use query::{percent_encode, Query};
pub use request::{Method, Request, RequestBody};
pub use response::{BodyKind, Expect, ResponseDecoder, ResponseEvent, ResponseHead};

/// Limits applied to untrusted response bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted response head (status line and headers).
    pub max_head_bytes: usize,
    /// Most headers accepted in one response.
    pub max_headers: usize,
    /// Longest accepted chunk-size line (with extensions) or trailer line.
    pub max_chunk_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head_bytes: 64 * 1024,
            max_headers: 64,
            max_chunk_line: 4096,
        }
    }
}
