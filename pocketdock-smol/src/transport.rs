//! One Unix socket connection to the engine, with deadlines (`async_io::Async<UnixStream>`).

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
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

/// A connection-per-operation transport over `async_io::Async<UnixStream>`.
#[derive(Debug)]
pub(crate) struct Transport {
    path: PathBuf,
    stream: Option<Async<UnixStream>>,
}

impl Transport {
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            stream: None,
        }
    }

    pub(crate) async fn connect(&mut self) -> Result<(), Error> {
        self.stream = None;
        let stream = Async::<UnixStream>::connect(&self.path)
            .await
            .map_err(|e| Error::SocketConnection {
                path: self.path.display().to_string(),
                detail: e.to_string(),
            })?;
        self.stream = Some(stream);
        Ok(())
    }

    fn stream(&mut self) -> Result<&mut Async<UnixStream>, Error> {
        self.stream
            .as_mut()
            .ok_or_else(|| Error::SocketCommunication("not connected".into()))
    }

    pub(crate) async fn write_all(&mut self, data: &[u8]) -> Result<(), Error> {
        let stream = self.stream()?;
        let write = async { Some(stream.write_all(data).await) };
        let expire = async {
            Timer::after(WRITE_TIMEOUT).await;
            None
        };
        match future::or(write, expire).await {
            Some(r) => r.map_err(comm),
            None => Err(Error::SocketCommunication(format!(
                "write blocked for {} s",
                WRITE_TIMEOUT.as_secs()
            ))),
        }
    }

    pub(crate) async fn shutdown_write(&mut self) -> Result<(), Error> {
        // `AsyncWriteExt::close` on an `Async<UnixStream>` is `shutdown(Write)`: a half-close.
        match self.stream()?.close().await {
            Err(e) if e.kind() != std::io::ErrorKind::NotConnected => Err(comm(e)),
            _ => Ok(()),
        }
    }

    pub(crate) async fn read(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<ReadOutcome, Error> {
        let stream = self.stream()?;
        let read = match deadline {
            Some(d) => {
                let read = async { Some(stream.read(buf).await) };
                let expire = async {
                    Timer::at(d).await;
                    None
                };
                match future::or(read, expire).await {
                    Some(r) => r,
                    None => return Ok(ReadOutcome::TimedOut),
                }
            }
            None => stream.read(buf).await,
        };
        match read {
            Ok(0) => Ok(ReadOutcome::Eof),
            Ok(n) => Ok(ReadOutcome::Data(n)),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(ReadOutcome::Eof),
            Err(e) => Err(comm(e)),
        }
    }

    pub(crate) fn close(&mut self) {
        self.stream = None;
    }

    /// A second handle on the current connection (a duplicated descriptor, not registered with
    /// the reactor): for a stdin writer beside the reader, or to shut the connection down.
    pub(crate) fn try_clone(&self) -> Result<UnixStream, Error> {
        self.stream
            .as_ref()
            .ok_or_else(|| Error::SocketCommunication("not connected".into()))?
            .get_ref()
            .try_clone()
            .map_err(comm)
    }
}

/// The stdin half of a session: a duplicated descriptor of its connection, registered with the
/// reactor, written through `&self` (one writer at a time is the session's business).
#[derive(Debug)]
pub(crate) struct SessionWriter {
    stream: Async<UnixStream>,
}

impl SessionWriter {
    pub(crate) fn new(stream: UnixStream) -> Result<Self, Error> {
        Ok(Self {
            stream: Async::new(stream).map_err(comm)?,
        })
    }

    pub(crate) async fn write_all(&self, data: &[u8]) -> std::io::Result<()> {
        (&self.stream).write_all(data).await
    }
}

fn comm(e: std::io::Error) -> Error {
    Error::SocketCommunication(e.to_string())
}
