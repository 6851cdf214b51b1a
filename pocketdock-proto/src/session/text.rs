//! Session output as text for callbacks: a character split between two chunks is kept whole.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use bytes::Bytes;

use crate::demux::StreamKind;

/// A callback that receives a session's output as text (`Session::on_output`).
pub type OutputFn = Arc<dyn Fn(&str) + Send + Sync>;

/// Text of session output for `on_output` callbacks, one decoder per stream (a character split
/// between two chunks of one stream is kept whole).
#[derive(Debug, Default)]
pub struct OutputDecoders {
    out: crate::result::Utf8Decoder,
    err: crate::result::Utf8Decoder,
}

impl OutputDecoders {
    /// The texts of `chunks` (and, with `flush`, whatever is carried), empty ones left out.
    pub fn texts(&mut self, chunks: &[(StreamKind, Bytes)], flush: bool) -> Vec<String> {
        let mut texts: Vec<String> = chunks
            .iter()
            .map(|(stream, data)| match stream {
                StreamKind::Stderr => self.err.decode(data),
                _ => self.out.decode(data),
            })
            .collect();
        if flush {
            texts.push(self.out.finish());
            texts.push(self.err.finish());
        }
        texts.retain(|t| !t.is_empty());
        texts
    }

    /// Hand `chunks` (and, with `flush`, whatever is carried) to each of `callbacks` as text. A
    /// panicking callback is contained: the others and the session go on.
    pub fn deliver(&mut self, callbacks: &[OutputFn], chunks: &[(StreamKind, Bytes)], flush: bool) {
        if callbacks.is_empty() {
            return;
        }
        for text in self.texts(chunks, flush) {
            for f in callbacks {
                let _ = catch_unwind(AssertUnwindSafe(|| f(&text)));
            }
        }
    }
}

/// Length of an incomplete UTF-8 sequence at the end of `buf` (0 to 3).
pub fn incomplete_utf8_tail(buf: &[u8]) -> usize {
    let n = buf.len();
    for back in 1..=3.min(n) {
        let b = buf[n - back];
        if b & 0b1100_0000 == 0b1000_0000 {
            continue;
        }
        let need = match b {
            _ if b & 0b1110_0000 == 0b1100_0000 => 2,
            _ if b & 0b1111_0000 == 0b1110_0000 => 3,
            _ if b & 0b1111_1000 == 0b1111_0000 => 4,
            _ => return 0,
        };
        return if need > back { back } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_tail() {
        assert_eq!(incomplete_utf8_tail(b"abc"), 0);
        assert_eq!(incomplete_utf8_tail("é".as_bytes()), 0);
        assert_eq!(incomplete_utf8_tail(&"é".as_bytes()[..1]), 1);
        assert_eq!(incomplete_utf8_tail(&"€".as_bytes()[..2]), 2);
        assert_eq!(incomplete_utf8_tail(&"𝄞".as_bytes()[..3]), 3);
        assert_eq!(incomplete_utf8_tail(b""), 0);
    }
}
