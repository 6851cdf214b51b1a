//! A complete response: its head and its whole (bounded) body, as handed to the parsers of
//! single engine calls.

use bytes::Bytes;

use super::ResponseHead;
use crate::error::{Error, ProtocolError, Result};

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status line and headers.
    pub head: ResponseHead,
    /// The body.
    pub body: Bytes,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.head.status
    }

    /// The engine's error message: the `message` field of a JSON body, or the body as text.
    pub fn message(&self) -> String {
        #[derive(serde::Deserialize)]
        struct Msg {
            message: Option<String>,
            cause: Option<String>,
        }
        match serde_json::from_slice::<Msg>(&self.body) {
            Ok(Msg {
                message: Some(m), ..
            }) => m,
            Ok(Msg { cause: Some(c), .. }) => c,
            _ => String::from_utf8_lossy(&self.body).trim().to_string(),
        }
    }

    /// Decode a JSON body.
    pub fn json<T: serde::de::DeserializeOwned>(&self, context: &'static str) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Protocol(ProtocolError::Json {
                context,
                detail: e.to_string(),
            })
        })
    }
}
