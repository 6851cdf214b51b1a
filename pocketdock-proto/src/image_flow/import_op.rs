//! An image import as one operation: the archive streamed to `POST /images/load` (checked by the
//! host while it streams; the end of the body is sent only once it passed), the progress stream
//! read for the references loaded, a failure inside the `200` stream turned into
//! [`Error::StreamFailed`].

use std::time::Instant;

use bytes::Bytes;

use crate::api::images;
use crate::api::{check, Subject};
use crate::error::{Error, Result};
use crate::op::sub_op::{SubOp, SubStep};
use crate::op::{Operation, Response, Step, UploadOp};

use super::progress_stream::ProgressStream;
use super::TRANSFER_TIMEOUT;

/// Events of an [`ImportOp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportEvent {
    /// The next piece of the archive: call [`ImportOp::push_body`], or [`ImportOp::finish_body`]
    /// once the whole archive was read and checked.
    NeedBody,
}

/// Load every image of an archive; the output is the references the engine reports loaded
/// (image ids for untagged images), or else the archive's own tags.
pub struct ImportOp {
    op: Option<SubOp<()>>,
    stream: ProgressStream,
    finished: bool,
    archive_tags: Vec<String>,
    failed: Option<Error>,
}

impl std::fmt::Debug for ImportOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportOp").finish_non_exhaustive()
    }
}

impl Default for ImportOp {
    fn default() -> Self {
        Self::new()
    }
}

impl ImportOp {
    /// An import; nothing happens until it is polled.
    pub fn new() -> Self {
        let op = UploadOp::new(
            "import",
            &images::load(false, None),
            Some(TRANSFER_TIMEOUT),
            |r: &Response| check(r, "load", Subject::None),
        );
        Self {
            op: Some(SubOp::Upload(op)),
            stream: ProgressStream::default(),
            finished: false,
            archive_tags: Vec::new(),
            failed: None,
        }
    }

    /// The next piece of the archive (after [`ImportEvent::NeedBody`]).
    pub fn push_body(&mut self, chunk: Bytes) {
        if let Some(op) = &mut self.op {
            op.push_body(chunk);
        }
    }

    /// The archive was read whole and passed its check: end the body. `archive_tags` are the
    /// references its `manifest.json` names, the answer when the engine reports none.
    pub fn finish_body(&mut self, archive_tags: Vec<String>) {
        self.archive_tags = archive_tags;
        if let Some(op) = &mut self.op {
            op.finish_body();
        }
    }

    /// The archive could not be read or failed its check: the connection is dropped mid-body
    /// (the engine loads nothing) and the import ends with `err`.
    pub fn fail(&mut self, err: Error) {
        self.op = None;
        self.failed = Some(err);
    }

    /// The references loaded, from the stream's summary: Podman lists several on one line,
    /// separated by commas; repeats are dropped.
    fn loaded(&mut self) -> Result<Vec<String>> {
        let summary = std::mem::take(&mut self.stream).into_result("load")?;
        let mut loaded: Vec<String> = Vec::new();
        for name in summary
            .images
            .iter()
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            if !loaded.iter().any(|l| l == name) {
                loaded.push(name.to_string());
            }
        }
        if loaded.is_empty() {
            loaded = std::mem::take(&mut self.archive_tags);
        }
        Ok(loaded)
    }

    fn end(&mut self, result: Result<Vec<String>>) -> Step<ImportEvent, Vec<String>> {
        self.op = None;
        Step::Done(result)
    }
}

impl Operation for ImportOp {
    type Event = ImportEvent;
    type Output = Vec<String>;

    fn poll(&mut self, now: Instant) -> Step<ImportEvent, Vec<String>> {
        loop {
            match self.stream.next_event() {
                Ok(Some(_)) => continue,
                Ok(None) if self.finished => {
                    let loaded = self.loaded();
                    return self.end(loaded);
                }
                Ok(None) => {}
                Err(e) => return self.end(Err(e)),
            }
            let Some(op) = &mut self.op else {
                return Step::Done(Err(self
                    .failed
                    .take()
                    .unwrap_or_else(Error::polled_after_completion)));
            };
            match op.poll(now) {
                SubStep::Io(io) => return Step::Io(io),
                SubStep::NeedBody => return Step::Event(ImportEvent::NeedBody),
                SubStep::Data(d) => self.stream.feed(&d),
                SubStep::Transferred => {
                    self.stream.finish();
                    self.finished = true;
                }
                SubStep::Failed(e) => return self.end(Err(e)),
                _ => {
                    return self.end(Err(Error::SocketCommunication(
                        "unexpected step of an import".into(),
                    )))
                }
            }
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if let Some(op) = &mut self.op {
            op.handle_input(now, data);
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        if let Some(op) = &mut self.op {
            op.handle_eof(now);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(op) = &mut self.op {
            op.handle_timeout(now);
        }
    }

    fn handle_write_refused(&mut self, now: Instant) -> bool {
        self.op
            .as_mut()
            .is_some_and(|op| op.handle_write_refused(now))
    }
}
