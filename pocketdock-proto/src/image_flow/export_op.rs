//! A multi-image export as one operation: every name inspected first (a missing image is
//! [`Error::ImageNotFound`] before anything is written), then one `GET /images/get?names=..`
//! whose archive is handed out as it arrives for the host to write.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use crate::api::images::{self, ImageInspect};
use crate::api::{check, Subject};
use crate::error::{Error, Result};
use crate::op::sub_op::{feed_sub_op, SubOp, SubStep};
use crate::op::{CallOp, DownloadOp, Operation, Response, Step};

use super::{ExportPlan, TRANSFER_TIMEOUT};

/// Events of an [`ExportOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportEvent {
    /// Every image exists: open the destination now (a failure is reported with
    /// [`ExportOp::fail`]).
    Open,
    /// The next piece of the archive, to write.
    Data(Bytes),
}

enum State {
    Inspect(SubOp<ImageInspect>),
    Open,
    Download(SubOp<ImageInspect>),
    Done,
}

/// Save images into one archive; the output says whether the archive arrived whole.
pub struct ExportOp {
    plan: ExportPlan,
    to_inspect: VecDeque<String>,
    state: State,
    failed: Option<Error>,
}

impl std::fmt::Debug for ExportOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportOp")
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

fn inspect(name: &str) -> SubOp<ImageInspect> {
    let key = name.to_string();
    SubOp::Call(CallOp::new(
        "inspect image",
        &images::inspect(name),
        move |r: Response| images::parse_inspect(&r, &key),
    ))
}

impl ExportOp {
    /// An export of `images` (names or ids; at least one; repeats are dropped).
    pub fn new<S: AsRef<str>>(images: &[S]) -> Result<Self> {
        let plan = ExportPlan::new(images)?;
        let mut to_inspect: VecDeque<String> = plan.names().iter().cloned().collect();
        let first = to_inspect.pop_front().unwrap_or_default();
        Ok(Self {
            plan,
            to_inspect,
            state: State::Inspect(inspect(&first)),
            failed: None,
        })
    }

    /// The destination could not be opened or written: the export ends with `err`.
    pub fn fail(&mut self, err: Error) {
        self.state = State::Done;
        self.failed = Some(err);
    }

    fn end(&mut self, result: Result<()>) -> Step<ExportEvent, ()> {
        self.state = State::Done;
        Step::Done(result)
    }

    fn sub_op(&mut self) -> Option<&mut SubOp<ImageInspect>> {
        match &mut self.state {
            State::Inspect(op) | State::Download(op) => Some(op),
            State::Open | State::Done => None,
        }
    }
}

impl Operation for ExportOp {
    type Event = ExportEvent;
    type Output = ();

    fn poll(&mut self, now: Instant) -> Step<ExportEvent, ()> {
        loop {
            match &mut self.state {
                State::Inspect(op) => match op.poll(now) {
                    SubStep::Io(io) => return Step::Io(io),
                    SubStep::Called(_) => {
                        let Some(next) = self.to_inspect.pop_front() else {
                            self.state = State::Open;
                            return Step::Event(ExportEvent::Open);
                        };
                        self.state = State::Inspect(inspect(&next));
                    }
                    SubStep::Failed(e) => return self.end(Err(e)),
                    _ => return self.end(Err(unexpected())),
                },
                State::Open => {
                    let op = DownloadOp::new(
                        "export",
                        &self.plan.request(),
                        Some(TRANSFER_TIMEOUT),
                        |r: &Response| check(r, "export", Subject::None),
                    );
                    self.state = State::Download(SubOp::Download(op));
                }
                State::Download(op) => match op.poll(now) {
                    SubStep::Io(io) => return Step::Io(io),
                    SubStep::Data(d) => return Step::Event(ExportEvent::Data(d)),
                    SubStep::Transferred => return self.end(Ok(())),
                    SubStep::Failed(e) => return self.end(Err(e)),
                    _ => return self.end(Err(unexpected())),
                },
                State::Done => {
                    return Step::Done(Err(self
                        .failed
                        .take()
                        .unwrap_or_else(Error::polled_after_completion)))
                }
            }
        }
    }

    feed_sub_op!();
}

fn unexpected() -> Error {
    Error::SocketCommunication("export: unexpected request for a body".into())
}
