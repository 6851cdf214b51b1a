//! One Unix socket connection to the engine, with deadlines (`tokio::net::UnixStream`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pocketdock_proto::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

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

/// A connection-per-operation transport over `tokio::net::UnixStream`.
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

    pub(crate) async fn connect(&mut self) -> Result<(), Error> {
        self.stream = None;
        let stream =
            UnixStream::connect(&self.path)
                .await
                .map_err(|e| Error::SocketConnection {
                    path: self.path.display().to_string(),
                    detail: e.to_string(),
                })?;
        self.stream = Some(stream);
        Ok(())
    }

    fn stream(&mut self) -> Result<&mut UnixStream, Error> {
        self.stream
            .as_mut()
            .ok_or_else(|| Error::SocketCommunication("not connected".into()))
    }

    pub(crate) async fn write_all(&mut self, data: &[u8]) -> Result<(), Error> {
        let stream = self.stream()?;
        match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(data)).await {
            Ok(r) => r.map_err(comm),
            Err(_) => Err(Error::SocketCommunication(format!(
                "write blocked for {} s",
                WRITE_TIMEOUT.as_secs()
            ))),
        }
    }

    pub(crate) async fn shutdown_write(&mut self) -> Result<(), Error> {
        // `AsyncWriteExt::shutdown` on a Unix stream is `shutdown(Write)`: a half-close.
        match self.stream()?.shutdown().await {
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
                match tokio::time::timeout_at(tokio::time::Instant::from_std(d), stream.read(buf))
                    .await
                {
                    Ok(r) => r,
                    Err(_) => return Ok(ReadOutcome::TimedOut),
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
    /// the runtime): for a stdin writer beside the reader, or to shut the connection down.
    pub(crate) fn try_clone(&self) -> Result<std::os::unix::net::UnixStream, Error> {
        use std::os::fd::AsFd;
        let stream = self
            .stream
            .as_ref()
            .ok_or_else(|| Error::SocketCommunication("not connected".into()))?;
        let fd = stream.as_fd().try_clone_to_owned().map_err(comm)?;
        Ok(std::os::unix::net::UnixStream::from(fd))
    }
}

/// The stdin half of a session: a duplicated descriptor of its connection, registered with the
/// runtime, written through `&self` (one writer at a time is the session's business).
#[derive(Debug)]
pub(crate) struct SessionWriter {
    stream: UnixStream,
}

impl SessionWriter {
    pub(crate) fn new(stream: std::os::unix::net::UnixStream) -> Result<Self, Error> {
        stream.set_nonblocking(true).map_err(comm)?;
        Ok(Self {
            stream: UnixStream::from_std(stream).map_err(comm)?,
        })
    }

    pub(crate) async fn write_all(&self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            self.stream.writable().await?;
            match self.stream.try_write(data) {
                Ok(n) => data = data.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn comm(e: std::io::Error) -> Error {
    Error::SocketCommunication(e.to_string())
}
