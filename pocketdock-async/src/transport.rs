//! One Unix socket connection to the engine, with deadlines (the runtime's stream).

use std::path::{Path, PathBuf};
use std::time::Instant;

use pocketdock_proto::op::{WriteOutcome, WRITE_TIMEOUT};
use pocketdock_proto::Error;

use crate::runtime::Runtime;

/// What a read produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    /// This many bytes.
    Data(usize),
    /// The peer closed.
    Eof,
    /// The deadline passed first.
    TimedOut,
}

/// A connection-per-operation transport over the runtime's Unix stream.
#[derive(Debug)]
pub(crate) struct Transport<R: Runtime> {
    path: PathBuf,
    stream: Option<R::Stream>,
}

impl<R: Runtime> Transport<R> {
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            stream: None,
        }
    }

    pub(crate) async fn connect(&mut self) -> Result<(), Error> {
        self.stream = None;
        let stream = R::connect(&self.path)
            .await
            .map_err(|e| Error::SocketConnection {
                path: self.path.display().to_string(),
                detail: e.to_string(),
            })?;
        self.stream = Some(stream);
        Ok(())
    }

    fn stream(&mut self) -> Result<&mut R::Stream, Error> {
        self.stream
            .as_mut()
            .ok_or_else(|| Error::SocketCommunication("not connected".into()))
    }

    pub(crate) async fn write_all(&mut self, data: &[u8]) -> Result<WriteOutcome, Error> {
        match R::write_all(self.stream()?, data, WRITE_TIMEOUT).await {
            Some(r) => WriteOutcome::of(r).map_err(comm),
            None => Err(Error::SocketCommunication(format!(
                "write blocked for {} s",
                WRITE_TIMEOUT.as_secs()
            ))),
        }
    }

    pub(crate) async fn shutdown_write(&mut self) -> Result<(), Error> {
        match R::shutdown_write(self.stream()?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotConnected => Err(comm(e)),
            _ => Ok(()),
        }
    }

    pub(crate) async fn read(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<ReadOutcome, Error> {
        match R::read(self.stream()?, buf, deadline).await {
            None => Ok(ReadOutcome::TimedOut),
            Some(Ok(0)) => Ok(ReadOutcome::Eof),
            Some(Ok(n)) => Ok(ReadOutcome::Data(n)),
            Some(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(ReadOutcome::Eof),
            Some(Err(e)) => Err(comm(e)),
        }
    }

    pub(crate) fn close(&mut self) {
        self.stream = None;
    }

    /// A second handle on the current connection (a duplicated descriptor, not registered with
    /// the runtime): for a stdin writer beside the reader, or to shut the connection down.
    pub(crate) fn try_clone(&self) -> Result<std::os::unix::net::UnixStream, Error> {
        let stream = self
            .stream
            .as_ref()
            .ok_or_else(|| Error::SocketCommunication("not connected".into()))?;
        R::try_clone(stream).map_err(comm)
    }
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "used as `map_err(comm)`, which hands the error over by value"
)]
pub(crate) fn comm(e: std::io::Error) -> Error {
    Error::SocketCommunication(e.to_string())
}
