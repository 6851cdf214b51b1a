//! The blocking driver: performs the I/O steps a proto operation asks for, with the time taken
//! from its [`Transport`].

use pocketdock_proto::op::{Io, Operation, ReadBuffer, Step, WriteOutcome};
use pocketdock_proto::{Error, Result};

use pocketdock_host::remote::EngineEndpoint;

use crate::transport::{EngineTransport, ReadOutcome, Transport};

#[cfg(test)]
mod tests;

/// What one [`Driver::advance`] produced.
pub(crate) enum Progress<E, T> {
    /// An event for the caller.
    Event(E),
    /// The operation is over.
    Done(Result<T>),
}

/// Drives one operation over its own connections (by default Unix socket connections to the
/// engine at a path).
pub(crate) struct Driver<O, T = EngineTransport> {
    op: O,
    transport: T,
    buf: ReadBuffer,
    done: bool,
}

impl<O: Operation> Driver<O> {
    /// Drive `op` over connections to the engine socket at `socket`.
    pub(crate) fn new(op: O, endpoint: &EngineEndpoint) -> Self {
        Self::with_transport(op, EngineTransport::new(endpoint))
    }
}

impl<O: Operation, T: Transport> Driver<O, T> {
    /// Drive `op` over `transport`, on its clock.
    pub(crate) fn with_transport(op: O, transport: T) -> Self {
        Self {
            op,
            transport,
            buf: ReadBuffer::new(),
            done: false,
        }
    }

    /// The operation being driven.
    pub(crate) fn op(&self) -> &O {
        &self.op
    }

    /// The operation being driven, to feed it between steps (e.g. an upload's next body chunk).
    pub(crate) fn op_mut(&mut self) -> &mut O {
        &mut self.op
    }

    /// The transport (for a stdin writer beside the reader).
    pub(crate) fn transport(&self) -> &T {
        &self.transport
    }

    /// True once `Done` was returned.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Perform I/O until the operation yields an event or finishes. Once it has finished,
    /// [`Error::InvalidUse`]: the operation is not polled again.
    pub(crate) fn advance(&mut self) -> Progress<O::Event, O::Output> {
        if self.done {
            return Progress::Done(Err(Error::InvalidUse(
                "operation driven again after it finished",
            )));
        }
        loop {
            let step = self.op.poll(self.transport.now());
            match step {
                Step::Event(e) => return Progress::Event(e),
                Step::Done(r) => {
                    self.done = true;
                    self.transport.close();
                    return Progress::Done(r);
                }
                Step::Io(io) => {
                    if let Err(e) = self.perform(io) {
                        self.done = true;
                        self.transport.close();
                        return Progress::Done(Err(e));
                    }
                }
            }
        }
    }

    fn perform(&mut self, io: Io) -> Result<()> {
        match io {
            Io::Connect => self.transport.connect()?,
            Io::Write(bytes) => {
                if self.transport.write_all(&bytes)? == WriteOutcome::PeerClosed
                    && !self.op.handle_write_refused(self.transport.now())
                {
                    return Err(WriteOutcome::closed_error());
                }
            }
            Io::ShutdownWrite => self.transport.shutdown_write()?,
            Io::Close => self.transport.close(),
            Io::Read { deadline } => match self.transport.read(self.buf.space(), deadline)? {
                ReadOutcome::Data(n) => {
                    let data = self.buf.filled(n);
                    self.op.handle_bytes(self.transport.now(), data);
                }
                ReadOutcome::Eof => self.op.handle_eof(self.transport.now()),
                ReadOutcome::TimedOut => self.op.handle_timeout(self.transport.now()),
            },
            Io::Wait(until) => {
                self.transport.sleep_until(until);
                self.op.handle_timeout(self.transport.now());
            }
        }
        Ok(())
    }

    /// Run to completion, handing every event to `on_event`.
    pub(crate) fn run(mut self, mut on_event: impl FnMut(O::Event)) -> Result<O::Output> {
        loop {
            match self.advance() {
                Progress::Event(e) => on_event(e),
                Progress::Done(r) => return r,
            }
        }
    }
}
