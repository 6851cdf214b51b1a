//! One engine operation inside a composite flow (`read_file` with its link hops, pull, push, an
//! image build with its retries, ...): a call, an exec, or a streamed download or upload, seen
//! through one normalised step so that a flow's state machine handles them alike.
//!
//! Each sub-operation opens its own connection ([`Io::Connect`] drops the previous one), so a
//! flow is driven by the ordinary driver as a single [`Operation`].

use std::time::Instant;

use bytes::Bytes;

use super::{CallOp, DownloadOp, ExecOp, Io, Operation, Step, TransferEvent, UploadOp};
use crate::error::{Error, Result};
use crate::result::ExecResult;

/// The `handle_input`, `handle_eof` and `handle_timeout` of a flow's [`Operation`] impl: every
/// byte, end of stream and deadline goes to the sub-operation the flow's `sub_op()` names (none
/// while the flow waits for its caller), written once for every flow.
macro_rules! feed_sub_op {
    () => {
        fn handle_input(&mut self, now: std::time::Instant, data: &[u8]) {
            if let Some(op) = self.sub_op() {
                op.handle_input(now, data);
            }
        }

        fn handle_bytes(&mut self, now: std::time::Instant, data: bytes::Bytes) {
            if let Some(op) = self.sub_op() {
                op.handle_bytes(now, data);
            }
        }

        fn handle_eof(&mut self, now: std::time::Instant) {
            if let Some(op) = self.sub_op() {
                op.handle_eof(now);
            }
        }

        fn handle_timeout(&mut self, now: std::time::Instant) {
            if let Some(op) = self.sub_op() {
                op.handle_timeout(now);
            }
        }

        fn handle_write_refused(&mut self, now: std::time::Instant) -> bool {
            self.sub_op().is_some_and(|op| op.handle_write_refused(now))
        }
    };
}
pub(crate) use feed_sub_op;

/// An engine operation a flow runs next. `T` is the output of the flow's calls.
pub(crate) enum SubOp<T> {
    /// A single call (e.g. `GET /version`, an image inspect).
    Call(CallOp<T>),
    /// A helper command run to completion (its output chunks are not handed out).
    Exec(Box<ExecOp>),
    /// A download whose body is handed out as it arrives.
    Download(DownloadOp),
    /// An upload whose body the flow feeds.
    Upload(UploadOp),
}

/// What a [`SubOp`] produced.
pub(crate) enum SubStep<T> {
    /// Perform this I/O for it.
    Io(Io),
    /// The upload wants its next piece of body.
    NeedBody,
    /// A piece of a successful response body.
    Data(Bytes),
    /// The call finished with this value.
    Called(T),
    /// The exec finished with this result.
    Ran(ExecResult),
    /// The download or upload completed successfully.
    Transferred,
    /// The operation failed.
    Failed(Error),
}

impl<T> SubOp<T> {
    /// The next step; call again after performing an [`Io`] or handling an event.
    pub(crate) fn poll(&mut self, now: Instant) -> SubStep<T> {
        loop {
            match self {
                Self::Call(op) => match op.poll(now) {
                    Step::Io(io) => return SubStep::Io(io),
                    Step::Event(()) => {}
                    Step::Done(r) => return done(r, SubStep::Called),
                },
                Self::Exec(op) => match op.poll(now) {
                    Step::Io(io) => return SubStep::Io(io),
                    Step::Event(_) => {}
                    Step::Done(r) => return done(r, SubStep::Ran),
                },
                Self::Download(op) => return transfer(op.poll(now)),
                Self::Upload(op) => return transfer(op.poll(now)),
            }
        }
    }

    /// Queue the next piece of an upload's body (ignored by other operations).
    pub(crate) fn push_body(&mut self, chunk: Bytes) {
        if let Self::Upload(op) = self {
            op.push_body(chunk);
        }
    }

    /// End an upload's body (ignored by other operations).
    pub(crate) fn finish_body(&mut self) {
        if let Self::Upload(op) = self {
            op.finish_body();
        }
    }

    /// Bytes were read from the connection.
    pub(crate) fn handle_input(&mut self, now: Instant, data: &[u8]) {
        match self {
            Self::Call(op) => op.handle_input(now, data),
            Self::Exec(op) => op.handle_input(now, data),
            Self::Download(op) => op.handle_input(now, data),
            Self::Upload(op) => op.handle_input(now, data),
        }
    }

    /// Bytes were read into a buffer the operation may keep (a download hands its body on
    /// as slices of it).
    pub(crate) fn handle_bytes(&mut self, now: Instant, data: Bytes) {
        match self {
            Self::Call(op) => op.handle_bytes(now, data),
            Self::Exec(op) => op.handle_bytes(now, data),
            Self::Download(op) => op.handle_bytes(now, data),
            Self::Upload(op) => op.handle_bytes(now, data),
        }
    }

    /// The peer closed the connection.
    pub(crate) fn handle_eof(&mut self, now: Instant) {
        match self {
            Self::Call(op) => op.handle_eof(now),
            Self::Exec(op) => op.handle_eof(now),
            Self::Download(op) => op.handle_eof(now),
            Self::Upload(op) => op.handle_eof(now),
        }
    }

    /// A deadline passed.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        match self {
            Self::Call(op) => op.handle_timeout(now),
            Self::Exec(op) => op.handle_timeout(now),
            Self::Download(op) => op.handle_timeout(now),
            Self::Upload(op) => op.handle_timeout(now),
        }
    }

    /// The engine closed the connection during a write: only an upload takes its answer.
    pub(crate) fn handle_write_refused(&mut self, now: Instant) -> bool {
        match self {
            Self::Upload(op) => op.handle_write_refused(now),
            Self::Call(_) | Self::Exec(_) | Self::Download(_) => false,
        }
    }
}

fn done<T, V>(r: Result<V>, ok: impl FnOnce(V) -> SubStep<T>) -> SubStep<T> {
    match r {
        Ok(v) => ok(v),
        Err(e) => SubStep::Failed(e),
    }
}

fn transfer<T, H>(step: Step<TransferEvent, H>) -> SubStep<T> {
    match step {
        Step::Io(io) => SubStep::Io(io),
        Step::Event(TransferEvent::NeedBody) => SubStep::NeedBody,
        Step::Event(TransferEvent::Data(d)) => SubStep::Data(d),
        Step::Done(r) => done(r, |_| SubStep::Transferred),
    }
}
