//! Operations as state machines.
//!
//! An operation says what it needs next through [`Operation::poll`] and is fed what happened through
//! `handle_*`. Time is always passed in, never read. A driver (one per adapter, about a hundred
//! lines) performs exactly the [`Io`] steps asked for:
//!
//! ```text
//! loop {
//!     match op.poll(now()) {
//!         Step::Io(Io::Connect) => open a new connection to the engine socket (dropping any old one),
//!         Step::Io(Io::Write(bytes)) => write all bytes,
//!         Step::Io(Io::ShutdownWrite) => half-close the connection,
//!         Step::Io(Io::Read { deadline }) => read; then handle_bytes(now, bytes) / handle_eof(now),
//!                                            or handle_timeout(now) when the deadline passed,
//!         Step::Io(Io::Wait(deadline)) => sleep until deadline, then handle_timeout(now),
//!         Step::Io(Io::Close) => drop the connection,
//!         Step::Event(e) => hand e to the caller,
//!         Step::Done(result) => return result,
//!     }
//! }
//! ```

mod call_op;
pub mod calls;
mod cancel;
mod container_check;
pub(crate) mod exchange;
mod exec;
pub(crate) mod exec_start;
mod kill;
pub mod lifecycle;
mod read_buf;
mod transfer;

pub(crate) mod sub_op;

use std::time::{Duration, Instant};

use bytes::Bytes;

/// The complete response a [`CallOp`] hands to its parser; it belongs to the HTTP model and is
/// re-exported here for the callers that write parsers.
/// The most bytes a driver reads from the engine at once: large reads keep the system calls
/// per gigabyte of streamed output few.
pub const READ_CHUNK: usize = 256 * 1024;

/// Longest a single write to the engine may block before the connection is given up.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

#[doc(no_inline)]
pub use crate::http::Response;
pub use call_op::{CallOp, DEFAULT_CALL_TIMEOUT};
pub use cancel::{CancelOp, CANCEL_RETRY, CANCEL_WINDOW};
pub use container_check::ContainerCheckOp;
pub use exec::{ExecConfig, ExecEvent, ExecOp};
pub use kill::{kill_command, signal_name, KillOp, NONCE_VAR};
pub use lifecycle::{CreateOp, FindOp, Identity, InfoOp, RecreateOp};
pub use read_buf::ReadBuffer;
pub use transfer::{DownloadOp, TransferEvent, UploadOp};

use crate::error::{Error, Result};

/// An I/O step asked for by an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Io {
    /// Open a fresh connection to the engine socket, dropping any previous one.
    Connect,
    /// Write all of these bytes to the connection.
    Write(Bytes),
    /// Half-close the connection (no more writes).
    ShutdownWrite,
    /// Read what is available; give up at the deadline.
    Read {
        /// When to stop waiting and call `handle_timeout`.
        deadline: Option<Instant>,
    },
    /// Nothing to do until this instant; then call `handle_timeout`.
    Wait(Instant),
    /// Drop the connection.
    Close,
}

/// What an operation wants next.
#[derive(Debug)]
pub enum Step<E, T> {
    /// Perform this I/O.
    Io(Io),
    /// Hand this event to the caller, then poll again.
    Event(E),
    /// The operation finished.
    Done(Result<T>),
}

/// A sans-IO operation.
pub trait Operation {
    /// Events produced along the way (output chunks, progress lines).
    type Event;
    /// The final value.
    type Output;

    /// The next step. Call again after performing an [`Io`] step or handling an event.
    fn poll(&mut self, now: Instant) -> Step<Self::Event, Self::Output>;
    /// Bytes were read from the connection.
    fn handle_input(&mut self, now: Instant, data: &[u8]);
    /// Bytes were read from the connection into a buffer the operation may keep: operations
    /// that hand stream bytes on split them off it instead of copying them. By default, the
    /// same as [`handle_input`](Self::handle_input).
    fn handle_bytes(&mut self, now: Instant, data: Bytes) {
        self.handle_input(now, &data);
    }
    /// The peer closed the connection.
    fn handle_eof(&mut self, now: Instant);
    /// A deadline given in [`Io::Read`] or [`Io::Wait`] passed.
    fn handle_timeout(&mut self, now: Instant);
    /// The engine closed the connection while an [`Io::Write`] was under way
    /// ([`WriteOutcome::PeerClosed`]). An engine that refuses a request from its head (a
    /// read-only destination, say) answers and closes without reading the rest of the body, so
    /// its answer may be waiting to be read. Returns true when the operation takes that answer
    /// (it stops writing and reads next); false, the default, makes the closed connection the
    /// operation's error.
    fn handle_write_refused(&mut self, now: Instant) -> bool {
        let _ = now;
        false
    }
}

/// How an [`Io::Write`] ended, as a driver reports it to the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Every byte was written.
    Written,
    /// The engine had closed the connection (a broken pipe or a reset): call
    /// [`Operation::handle_write_refused`].
    PeerClosed,
}

impl WriteOutcome {
    /// Sort the result of a socket write: the engine closing the connection is an outcome
    /// (its answer may still be readable), any other failure stays an error.
    pub fn of(written: std::io::Result<()>) -> std::io::Result<Self> {
        match written {
            Ok(()) => Ok(Self::Written),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                Ok(Self::PeerClosed)
            }
            Err(e) => Err(e),
        }
    }

    /// The error of a closed connection that the operation did not take as a refusal.
    pub fn closed_error() -> Error {
        Error::SocketCommunication("the engine closed the connection during a write".into())
    }
}
