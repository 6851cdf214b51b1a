//! Streaming mode: output chunks as they arrive, then the final result.

use pocketdock_proto::op::{ExecEvent, ExecOp};
use pocketdock_proto::result::StreamEnd;
use pocketdock_proto::{ExecResult, Result, StreamChunk};

use crate::driver::{Driver, Progress};
use crate::engine::Engine;

/// An iterator of output chunks of a running command. When it ends, [`result`](Self::result)
/// holds the exit code and the captured output (bounded by the cap), or no output when the
/// options keep nothing ([`RunOptions::keep_output`](pocketdock_proto::RunOptions::keep_output)).
/// Dropping it before the end kills the command's process tree.
#[must_use = "a stream does nothing unless iterated"]
pub struct ExecStream {
    driver: Driver<ExecOp>,
    engine: Engine,
    container: String,
    user: Option<String>,
    failed: bool,
    end: StreamEnd,
}

impl std::fmt::Debug for ExecStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecStream")
            .field("container", &self.container)
            .field("done", &self.driver.is_done())
            .finish_non_exhaustive()
    }
}

impl ExecStream {
    pub(crate) fn new(engine: Engine, container: String, user: Option<String>, op: ExecOp) -> Self {
        Self {
            driver: Driver::new(op, engine.endpoint()),
            engine,
            container,
            user,
            failed: false,
            end: StreamEnd::default(),
        }
    }

    /// Call `f` with the final result when the stream ends successfully.
    pub(crate) fn on_finish(mut self, f: impl FnOnce(&ExecResult) + Send + Sync + 'static) -> Self {
        self.end.on_finish(f);
        self
    }

    /// The final result, once iteration has ended (`None` before, or after an error).
    pub fn result(&self) -> Option<&ExecResult> {
        self.end.result()
    }

    /// Consume the rest of the stream, discarding chunks, and return the result.
    pub fn finish(mut self) -> Result<ExecResult> {
        for chunk in self.by_ref() {
            chunk?;
        }
        self.end.take()
    }
}

impl Iterator for ExecStream {
    type Item = Result<StreamChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.driver.is_done() || self.failed {
            return None;
        }
        loop {
            match self.driver.advance() {
                Progress::Event(ExecEvent::Output { stream, data }) => {
                    return Some(Ok(StreamChunk { stream, data }))
                }
                Progress::Event(ExecEvent::Created { .. }) => {}
                Progress::Done(Ok(r)) => {
                    self.end.complete(r);
                    return None;
                }
                Progress::Done(Err(e)) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl Drop for ExecStream {
    fn drop(&mut self) {
        if !self.driver.is_done() && !self.driver.op().exec_id().is_empty() {
            let op = pocketdock_proto::op::CancelOp::new(
                &self.container,
                self.driver.op().exec_id(),
                self.driver.op().nonce(),
                self.user.clone(),
            );
            let _ = self.engine.drive(op, |()| {});
        }
    }
}
