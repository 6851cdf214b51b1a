//! The [`Transport`] of the driver's tests: a [`ScriptedEngine`] (scripted connections on a
//! virtual clock), with its I/O errors turned into pocketdock errors as the real transport does.

use std::ops::Deref;
use std::time::Instant;

use pocketdock_proto::op::WriteOutcome;
use pocketdock_proto::test_util::{Conn, ScriptedEngine};
use pocketdock_proto::Error;

use super::{comm, ReadOutcome, Transport};

/// A transport with no socket. Derefs to its engine for the test's checks.
#[derive(Debug)]
pub(crate) struct FakeTransport(ScriptedEngine);

impl FakeTransport {
    pub(crate) fn new(script: Vec<Conn>) -> Self {
        Self(ScriptedEngine::new(script))
    }

    /// A transport over an engine the test set up (e.g. one that stops reading).
    pub(crate) fn over(engine: ScriptedEngine) -> Self {
        Self(engine)
    }
}

impl Deref for FakeTransport {
    type Target = ScriptedEngine;

    fn deref(&self) -> &ScriptedEngine {
        &self.0
    }
}

impl Transport for FakeTransport {
    fn connect(&mut self) -> Result<(), Error> {
        self.0.connect().map_err(|e| Error::SocketConnection {
            path: "scripted".into(),
            detail: e.to_string(),
        })
    }

    fn write_all(&mut self, data: &[u8]) -> Result<WriteOutcome, Error> {
        WriteOutcome::of(self.0.write(data)).map_err(comm)
    }

    fn shutdown_write(&mut self) -> Result<(), Error> {
        self.0.shutdown_write().map_err(comm)
    }

    fn read(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> Result<ReadOutcome, Error> {
        match self.0.read(buf, deadline) {
            None => Ok(ReadOutcome::TimedOut),
            Some(Ok(0)) => Ok(ReadOutcome::Eof),
            Some(Ok(n)) => Ok(ReadOutcome::Data(n)),
            Some(Err(e)) => Err(comm(e)),
        }
    }

    fn close(&mut self) {
        self.0.close();
    }

    fn now(&self) -> Instant {
        self.0.now()
    }

    fn sleep_until(&mut self, deadline: Instant) {
        self.0.sleep_until(deadline);
    }
}
