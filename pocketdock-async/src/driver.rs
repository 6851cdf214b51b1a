//! The driver: performs the I/O steps a proto operation asks for, through the runtime, on the
//! runtime's clock.

use pocketdock_proto::op::{Io, Operation, ReadBuffer, Step, WriteOutcome};
use pocketdock_proto::{Error, Result};

use crate::runtime::Runtime;
use crate::transport::{ReadOutcome, Transport};
use pocketdock_host::remote::EngineEndpoint;

#[cfg(test)]
mod tests;

/// What one [`Driver::advance`] produced.
pub(crate) enum Progress<E, T> {
    /// An event for the caller.
    Event(E),
    /// The operation is over.
    Done(Result<T>),
}

/// Drives one operation over its own connections.
pub(crate) struct Driver<O, R: Runtime> {
    op: O,
    transport: Transport<R>,
    buf: ReadBuffer,
    done: bool,
}

impl<O: Operation, R: Runtime> Driver<O, R> {
    pub(crate) fn new(op: O, endpoint: &EngineEndpoint) -> Self {
        Self {
            op,
            transport: Transport::new(endpoint),
            buf: ReadBuffer::new(),
            done: false,
        }
    }

    /// The operation being driven.
    pub(crate) fn op_mut(&mut self) -> &mut O {
        &mut self.op
    }

    /// The transport (for a stdin writer beside the reader).
    pub(crate) fn transport(&self) -> &Transport<R> {
        &self.transport
    }

    /// True once `Done` was returned.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Perform I/O until the operation yields an event or finishes. Once it has finished,
    /// [`Error::InvalidUse`]: the operation is not polled again.
    pub(crate) async fn advance(&mut self) -> Progress<O::Event, O::Output> {
        if self.done {
            return Progress::Done(Err(Error::InvalidUse(
                "operation driven again after it finished",
            )));
        }
        loop {
            let step = self.op.poll(R::now());
            match step {
                Step::Event(e) => return Progress::Event(e),
                Step::Done(r) => {
                    self.done = true;
                    self.transport.close();
                    return Progress::Done(r);
                }
                Step::Io(io) => {
                    if let Err(e) = self.perform(io).await {
                        self.done = true;
                        self.transport.close();
                        return Progress::Done(Err(e));
                    }
                }
            }
        }
    }

    async fn perform(&mut self, io: Io) -> Result<()> {
        match io {
            Io::Connect => self.transport.connect().await?,
            Io::Write(bytes) => {
                if self.transport.write_all(&bytes).await? == WriteOutcome::PeerClosed
                    && !self.op.handle_write_refused(R::now())
                {
                    return Err(WriteOutcome::closed_error());
                }
            }
            Io::ShutdownWrite => self.transport.shutdown_write().await?,
            Io::Close => self.transport.close(),
            Io::Read { deadline } => match self.transport.read(self.buf.space(), deadline).await? {
                ReadOutcome::Data(n) => {
                    let data = self.buf.filled(n);
                    self.op.handle_bytes(R::now(), data);
                }
                ReadOutcome::Eof => self.op.handle_eof(R::now()),
                ReadOutcome::TimedOut => self.op.handle_timeout(R::now()),
            },
            Io::Wait(until) => {
                R::sleep_until(until).await;
                self.op.handle_timeout(R::now());
            }
        }
        Ok(())
    }

    /// Run to completion, handing every event to `on_event`.
    pub(crate) async fn run(mut self, mut on_event: impl FnMut(O::Event)) -> Result<O::Output> {
        loop {
            match self.advance().await {
                Progress::Event(e) => on_event(e),
                Progress::Done(r) => return r,
            }
        }
    }
}
