//! The JSON-lines progress stream that answers a build, load or import: decoded as it arrives,
//! every event handed out and summarised, the first in-stream error kept for the end.

use crate::api::images::{Progress, ProgressDecoder, ProgressSummary};
use crate::error::Result;

/// A decoder and the summary of what it decoded.
#[derive(Debug, Default)]
pub(crate) struct ProgressStream {
    decoder: ProgressDecoder,
    summary: ProgressSummary,
}

impl ProgressStream {
    /// Bytes of the response body, in any split.
    pub(crate) fn feed(&mut self, data: &[u8]) {
        self.decoder.feed(data);
    }

    /// The body ended.
    pub(crate) fn finish(&mut self) {
        self.decoder.finish();
    }

    /// The next complete event, already taken into the summary.
    pub(crate) fn next_event(&mut self) -> Result<Option<Progress>> {
        let event = self.decoder.next_event()?;
        if let Some(p) = &event {
            self.summary.observe(p);
        }
        Ok(event)
    }

    /// The summary, or the stream's first error for `op` (see [`ProgressSummary::into_result`]).
    pub(crate) fn into_result(self, op: &'static str) -> Result<ProgressSummary> {
        self.summary.into_result(op)
    }
}
