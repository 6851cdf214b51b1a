//! Streaming mode: output chunks as they arrive, then the final result.

use pocketdock_proto::op::{ExecEvent, ExecOp};
use pocketdock_proto::result::StreamEnd;
use pocketdock_proto::{ExecResult, Result, StreamChunk};

use crate::agent::{when_the_agent_failed, AgentStream, Piece};
use crate::driver::{Driver, Progress};
use crate::engine::Engine;

/// An iterator of output chunks of a running command. When it ends, [`result`](Self::result)
/// holds the exit code and the captured output (bounded by the cap), or no output when the
/// options keep nothing ([`RunOptions::keep_output`](pocketdock_proto::RunOptions::keep_output)).
/// Dropping it before the end kills the command's process tree.
#[must_use = "a stream does nothing unless iterated"]
pub struct ExecStream {
    path: Path,
    engine: Engine,
    container: String,
    failed: bool,
    end: StreamEnd,
}

/// Where the command runs: an engine exec driven here, or the in-sandbox agent.
enum Path {
    Engine {
        driver: Box<Driver<ExecOp>>,
        user: Option<String>,
    },
    Agent {
        stream: AgentStream,
        over: bool,
    },
}

impl std::fmt::Debug for ExecStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecStream")
            .field("container", &self.container)
            .field("done", &self.is_over())
            .finish_non_exhaustive()
    }
}

impl ExecStream {
    pub(crate) fn new(engine: Engine, container: String, user: Option<String>, op: ExecOp) -> Self {
        let driver = Box::new(Driver::new(op, engine.endpoint()));
        Self::on(Path::Engine { driver, user }, engine, container)
    }

    /// A stream of a command started through the agent.
    pub(crate) fn through_agent(engine: Engine, container: String, stream: AgentStream) -> Self {
        let path = Path::Agent {
            stream,
            over: false,
        };
        Self::on(path, engine, container)
    }

    fn on(path: Path, engine: Engine, container: String) -> Self {
        Self {
            path,
            engine,
            container,
            failed: false,
            end: StreamEnd::default(),
        }
    }

    fn is_over(&self) -> bool {
        match &self.path {
            Path::Engine { driver, .. } => driver.is_done(),
            Path::Agent { over, .. } => *over,
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
        if self.is_over() || self.failed {
            return None;
        }
        let ended = match &mut self.path {
            Path::Engine { driver, .. } => loop {
                match driver.advance() {
                    Progress::Event(ExecEvent::Output { stream, data }) => {
                        return Some(Ok(StreamChunk { stream, data }))
                    }
                    Progress::Event(ExecEvent::Created { .. }) => {}
                    Progress::Done(r) => break r,
                }
            },
            Path::Agent { stream, over } => match stream.next() {
                Piece::Output(chunk) => return Some(Ok(chunk)),
                Piece::Done(r) => {
                    *over = true;
                    r.map_err(|e| when_the_agent_failed(&self.engine, &self.container, e))
                }
            },
        };
        match ended {
            Ok(r) => {
                self.end.complete(r);
                None
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl Drop for ExecStream {
    /// A command through the agent is killed by its agent stream's own drop; an engine
    /// exec is killed here, by its nonce.
    fn drop(&mut self) {
        let Path::Engine { driver, user } = &self.path else {
            return;
        };
        if !driver.is_done() && !driver.op().exec_id().is_empty() {
            let op = pocketdock_proto::op::CancelOp::new(
                &self.container,
                driver.op().exec_id(),
                driver.op().nonce(),
                user.clone(),
            );
            let _ = self.engine.drive(op, |()| {});
        }
    }
}
