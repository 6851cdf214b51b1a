//! Streaming mode: output chunks as they arrive, then the final result.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pocketdock_proto::op::{ExecEvent, ExecOp};
use pocketdock_proto::result::StreamEnd;
use pocketdock_proto::{ExecResult, Result, StreamChunk};

use crate::agent::{when_the_agent_failed, AgentStream, Piece};
use crate::driver::{Driver, Progress};
use crate::engine::{Engine, KillGuard};
use crate::runtime::Runtime;

type Advance<R> =
    Pin<Box<dyn Future<Output = (Box<Driver<ExecOp, R>>, Progress<ExecEvent, ExecResult>)> + Send>>;

type AgentNext<R> = Pin<Box<dyn Future<Output = (AgentPath<R>, Piece)> + Send>>;

enum Inner<R: Runtime> {
    /// An engine exec, between polls.
    Idle(Box<Driver<ExecOp, R>>),
    /// An engine exec, advancing.
    Busy(Advance<R>),
    /// A command through the agent, between polls.
    AgentIdle(AgentPath<R>),
    /// A command through the agent, waiting for its next piece (dropping this future kills
    /// the command).
    AgentBusy(AgentNext<R>),
    Finished,
}

/// A command through the agent, with what it takes to tell a lost container from a lost agent.
struct AgentPath<R: Runtime> {
    stream: AgentStream<R>,
    engine: Engine<R>,
    container: String,
}

impl<R: Runtime> AgentPath<R> {
    /// The next piece; a failure is the container's when the container is what went away.
    async fn next(self) -> (Self, Piece) {
        let Self {
            stream,
            engine,
            container,
        } = self;
        let (stream, piece) = stream.next().await;
        let piece = match piece {
            Piece::Done(Err(e)) => {
                Piece::Done(Err(when_the_agent_failed(&engine, &container, e).await))
            }
            other => other,
        };
        let this = Self {
            stream,
            engine,
            container,
        };
        (this, piece)
    }
}

/// A [`Stream`](futures_core::Stream) of output chunks of a running command. When it ends,
/// [`result`](Self::result) holds the exit code and the captured output (bounded by the cap),
/// or no output when the options keep nothing
/// ([`RunOptions::keep_output`](pocketdock_proto::RunOptions::keep_output)).
/// Dropping it before the end kills the command's process tree (the kill is handed to
/// [`Runtime::spawn_cleanup`], since a `Drop` cannot await).
#[must_use = "a stream does nothing unless polled"]
pub struct ExecStream<R: Runtime> {
    inner: Inner<R>,
    guard: KillGuard<R>,
    end: StreamEnd,
}

impl<R: Runtime> std::fmt::Debug for ExecStream<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecStream")
            .field("done", &matches!(self.inner, Inner::Finished))
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> ExecStream<R> {
    pub(crate) fn new(engine: &Engine<R>, op: ExecOp, guard: KillGuard<R>) -> Self {
        Self {
            inner: Inner::Idle(Box::new(Driver::new(op, engine.endpoint()))),
            guard,
            end: StreamEnd::default(),
        }
    }

    /// A stream of a command started through the agent in `container` (the guard stays
    /// unarmed: the agent stream kills its own command when dropped).
    pub(crate) fn through_agent(
        engine: &Engine<R>,
        container: &str,
        stream: AgentStream<R>,
        guard: KillGuard<R>,
    ) -> Self {
        let path = AgentPath {
            stream,
            engine: engine.clone(),
            container: container.to_string(),
        };
        Self {
            inner: Inner::AgentIdle(path),
            guard,
            end: StreamEnd::default(),
        }
    }

    /// Call `f` with the final result when the stream ends successfully.
    pub(crate) fn on_finish(mut self, f: impl FnOnce(&ExecResult) + Send + Sync + 'static) -> Self {
        self.end.on_finish(f);
        self
    }

    /// The final result, once the stream has ended (`None` before, or after an error).
    pub fn result(&self) -> Option<&ExecResult> {
        self.end.result()
    }

    /// The next chunk (`None` at the end): the same as `StreamExt::next`, without needing an
    /// extension trait.
    pub async fn next(&mut self) -> Option<Result<StreamChunk>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next_chunk(cx)).await
    }

    /// Consume the rest of the stream, discarding chunks, and return the result.
    pub async fn finish(mut self) -> Result<ExecResult> {
        while let Some(chunk) = self.next().await {
            chunk?;
        }
        self.end.take()
    }

    fn poll_next_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<StreamChunk>>> {
        loop {
            let mut fut = match std::mem::replace(&mut self.inner, Inner::Finished) {
                Inner::Finished => return Poll::Ready(None),
                Inner::AgentIdle(path) => {
                    self.inner = Inner::AgentBusy(Box::pin(path.next()));
                    continue;
                }
                Inner::AgentBusy(mut next) => {
                    let Poll::Ready((path, piece)) = next.as_mut().poll(cx) else {
                        self.inner = Inner::AgentBusy(next);
                        return Poll::Pending;
                    };
                    return Poll::Ready(match piece {
                        Piece::Output(chunk) => {
                            self.inner = Inner::AgentIdle(path);
                            Some(Ok(chunk))
                        }
                        Piece::Done(Ok(r)) => {
                            self.end.complete(r);
                            None
                        }
                        Piece::Done(Err(e)) => Some(Err(e)),
                    });
                }
                Inner::Idle(mut driver) => {
                    if driver.is_done() {
                        return Poll::Ready(None);
                    }
                    Box::pin(async move {
                        let progress = driver.advance().await;
                        (driver, progress)
                    })
                }
                Inner::Busy(fut) => fut,
            };
            let Poll::Ready((driver, progress)) = fut.as_mut().poll(cx) else {
                self.inner = Inner::Busy(fut);
                return Poll::Pending;
            };
            match progress {
                Progress::Event(ExecEvent::Created { exec_id }) => {
                    self.guard.arm(&exec_id);
                    self.inner = Inner::Idle(driver);
                }
                Progress::Event(ExecEvent::Output { stream, data }) => {
                    self.inner = Inner::Idle(driver);
                    return Poll::Ready(Some(Ok(StreamChunk { stream, data })));
                }
                Progress::Done(Ok(r)) => {
                    self.guard.disarm();
                    self.end.complete(r);
                    return Poll::Ready(None);
                }
                Progress::Done(Err(e)) => {
                    self.guard.disarm();
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

impl<R: Runtime> futures_core::Stream for ExecStream<R> {
    type Item = Result<StreamChunk>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_chunk(cx)
    }
}

impl<R: Runtime> futures_core::FusedStream for ExecStream<R> {
    fn is_terminated(&self) -> bool {
        matches!(self.inner, Inner::Finished)
    }
}
