//! One Unix socket connection to the engine, with deadlines.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pocketdock_proto::Error;

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

/// Longest a single write may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// A connection-per-operation transport over `std::os::unix::net`.
#[derive(Debug)]
pub(crate) struct Transport {
    path: PathBuf,
    stream: Option<UnixStream>,
}

impl Transport {
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            stream: None,
        }
    }

    pub(crate) fn connect(&mut self) -> Result<(), Error> {
        self.stream = None;
        let stream = UnixStream::connect(&self.path).map_err(|e| Error::SocketConnection {
            path: self.path.display().to_string(),
            detail: e.to_string(),
        })?;
        stream
            .set_write_timeout(Some(WRITE_TIMEOUT))
            .map_err(comm)?;
        self.stream = Some(stream);
        Ok(())
    }

    fn stream(&mut self) -> Result<&mut UnixStream, Error> {
        self.stream
            .as_mut()
            .ok_or_else(|| Error::SocketCommunication("not connected".into()))
    }

    pub(crate) fn write_all(&mut self, data: &[u8]) -> Result<(), Error> {
        self.stream()?.write_all(data).map_err(comm)
    }

    pub(crate) fn shutdown_write(&mut self) -> Result<(), Error> {
        match self.stream()?.shutdown(Shutdown::Write) {
            Err(e) if e.kind() != ErrorKind::NotConnected => Err(comm(e)),
            _ => Ok(()),
        }
    }

    pub(crate) fn read(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<ReadOutcome, Error> {
        let stream = self.stream()?;
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(ReadOutcome::TimedOut);
                }
                Some(left)
            }
            None => None,
        };
        stream.set_read_timeout(timeout).map_err(comm)?;
        loop {
            return match stream.read(buf) {
                Ok(0) => Ok(ReadOutcome::Eof),
                Ok(n) => Ok(ReadOutcome::Data(n)),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    Ok(ReadOutcome::TimedOut)
                }
                Err(e) if e.kind() == ErrorKind::ConnectionReset => Ok(ReadOutcome::Eof),
                Err(e) => Err(comm(e)),
            };
        }
    }

    pub(crate) fn close(&mut self) {
        self.stream = None;
    }

    /// A second handle on the current connection (for writing stdin beside a reader).
    pub(crate) fn try_clone(&self) -> Result<UnixStream, Error> {
        self.stream
            .as_ref()
            .ok_or_else(|| Error::SocketCommunication("not connected".into()))?
            .try_clone()
            .map_err(comm)
    }
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "used as `map_err(comm)`, which hands the error over by value"
)]
fn comm(e: std::io::Error) -> Error {
    Error::SocketCommunication(e.to_string())
}
