//! Where the response decoders take their bytes from: their own buffer (bytes fed as slices, or a
//! partial line kept between reads) or a received buffer taken over whole, so body bytes are
//! split off the buffer they were read into instead of copied.

use bytes::{Buf, Bytes, BytesMut};

/// Received bytes a decoder consumes from the front.
pub(crate) trait Input {
    /// What is left.
    fn bytes(&self) -> &[u8];
    /// Hand out the first `n` bytes (at most what is left) without copying them.
    fn take(&mut self, n: usize) -> Bytes;
    /// Drop the first `n` bytes (at most what is left).
    fn skip(&mut self, n: usize);
}

impl Input for BytesMut {
    fn bytes(&self) -> &[u8] {
        self
    }

    fn take(&mut self, n: usize) -> Bytes {
        self.split_to(n.min(self.len())).freeze()
    }

    fn skip(&mut self, n: usize) {
        self.advance(n.min(self.len()));
    }
}

impl Input for Bytes {
    fn bytes(&self) -> &[u8] {
        self
    }

    fn take(&mut self, n: usize) -> Bytes {
        self.split_to(n.min(self.len()))
    }

    fn skip(&mut self, n: usize) {
        self.advance(n.min(self.len()));
    }
}
