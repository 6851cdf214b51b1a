//! [`Tokio`]: the transport glue under the facade (`tokio::net::UnixStream`, `tokio::time`,
//! tasks). Remote engines' connections arrive as local streams and are adopted as they are.

use std::future::Future;
use std::io;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use pocketdock_async::{Runtime, TtyOutput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::tty::{TtyReader, TtyWriter};

/// The tokio runtime, as the [`Runtime`] of this crate's types (`Container` is
/// `pocketdock_async::Container<Tokio>`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Tokio;

impl Runtime for Tokio {
    type Stream = UnixStream;
    type TtyReader = TtyReader;
    type TtyWriter = TtyWriter;

    async fn connect(path: &Path) -> io::Result<UnixStream> {
        UnixStream::connect(path).await
    }

    fn adopt(stream: StdUnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_std(stream)
    }

    async fn read(
        stream: &mut UnixStream,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Option<io::Result<usize>> {
        match deadline {
            Some(d) => tokio::time::timeout_at(d.into(), stream.read(buf))
                .await
                .ok(),
            None => Some(stream.read(buf).await),
        }
    }

    async fn write_all(
        stream: &mut UnixStream,
        data: &[u8],
        timeout: Duration,
    ) -> Option<io::Result<()>> {
        tokio::time::timeout(timeout, stream.write_all(data))
            .await
            .ok()
    }

    async fn shutdown_write(stream: &mut UnixStream) -> io::Result<()> {
        // `AsyncWriteExt::shutdown` on a Unix stream is `shutdown(Write)`: a half-close.
        stream.shutdown().await
    }

    fn try_clone(stream: &UnixStream) -> io::Result<StdUnixStream> {
        use std::os::fd::AsFd;
        Ok(StdUnixStream::from(stream.as_fd().try_clone_to_owned()?))
    }

    fn writer(stream: StdUnixStream) -> io::Result<TtyWriter> {
        stream.set_nonblocking(true)?;
        Ok(TtyWriter {
            stream: UnixStream::from_std(stream)?,
        })
    }

    async fn write_shared(writer: &TtyWriter, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            writer.stream.writable().await?;
            match writer.stream.try_write(data) {
                Ok(n) => data = data.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn tty_reader(output: TtyOutput<Self>) -> TtyReader {
        TtyReader { output }
    }

    async fn sleep_until(deadline: Instant) {
        tokio::time::sleep_until(deadline.into()).await;
    }

    /// Tokio's clock, the one [`sleep_until`](Self::sleep_until) sleeps on (the system clock,
    /// unless a test paused tokio's time).
    fn now() -> Instant {
        tokio::time::Instant::now().into_std()
    }

    /// A task of the current runtime (`tokio::spawn`: call from within one).
    fn spawn_reader(
        _name: &'static str,
        reader: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        drop(tokio::spawn(reader));
        Ok(())
    }

    /// On the current tokio runtime when there is one, else on a short-lived thread with its
    /// own current-thread runtime. Work spawned on a runtime that is shutting down is dropped
    /// with it.
    fn spawn_cleanup(work: impl Future<Output = ()> + Send + 'static) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            drop(handle.spawn(work));
            return;
        }
        let _ = std::thread::Builder::new()
            .name("pocketdock-cleanup".into())
            .spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(work);
                }
            });
    }
}
