//! One connection to the engine, with deadlines (the runtime's stream).
//!
//! To a local engine, the runtime connects to its Unix socket. To a remote one (tcp, TLS,
//! ssh), `pocketdock_host::remote` makes the connection on a thread of its own (a tcp
//! connect, a TLS handshake or an ssh login would block the runtime) and hands it over as a
//! local stream, which the runtime then adopts: everything after the connection step is the
//! same on every transport.

use std::future::Future;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use pocketdock_host::remote::EngineEndpoint;

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

/// A connection-per-operation transport over the runtime's stream.
#[derive(Debug)]
pub(crate) struct Transport<R: Runtime> {
    endpoint: EngineEndpoint,
    stream: Option<R::Stream>,
}

impl<R: Runtime> Transport<R> {
    pub(crate) fn new(endpoint: &EngineEndpoint) -> Self {
        Self {
            endpoint: endpoint.clone(),
            stream: None,
        }
    }

    pub(crate) async fn connect(&mut self) -> Result<(), Error> {
        self.stream = None;
        let stream = if let Some(path) = self.endpoint.unix_path() {
            R::connect(path)
                .await
                .map_err(|e| Error::SocketConnection {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                })?
        } else {
            let endpoint = self.endpoint.clone();
            let local = unblock::<R, _>(move || endpoint.dial()).await??;
            R::adopt(local).map_err(|e| Error::SocketConnection {
                path: self.endpoint.address().to_string(),
                detail: e.to_string(),
            })?
        };
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

/// Run blocking `work` on a thread of its own and wait for it without blocking the runtime:
/// the thread leaves its result in a shared slot and closes one end of a socket pair, whose
/// other end the runtime reads. No runtime-specific blocking pool is needed.
async fn unblock<R: Runtime, T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    let (wait, done) = UnixStream::pair().map_err(comm)?;
    let slot = Arc::new(Mutex::new(None));
    let filled = Arc::clone(&slot);
    std::thread::Builder::new()
        .name("pocketdock-connect".into())
        .spawn(move || {
            let out = work();
            *filled.lock().unwrap_or_else(PoisonError::into_inner) = Some(out);
            drop(done);
        })
        .map_err(comm)?;
    let mut wait = R::adopt(wait).map_err(comm)?;
    let mut byte = [0u8; 1];
    ended(R::read(&mut wait, &mut byte, None)).await;
    let out = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    out.ok_or_else(|| Error::SocketCommunication("the connecting thread ended early".into()))
}

/// Wait for a read to end (it ends with the writer's end of the pair), whatever it gave.
async fn ended<T>(read: impl Future<Output = T>) {
    let _ = read.await;
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "used as `map_err(comm)`, which hands the error over by value"
)]
pub(crate) fn comm(e: std::io::Error) -> Error {
    Error::SocketCommunication(e.to_string())
}
