//! [`Smol`]: the transport glue under the facade (`async_io::Async<UnixStream>`,
//! `async_io::Timer`, threads). Remote engines' connections arrive as local streams and are
//! adopted as they are.

use std::future::Future;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use pocketdock_async::{Runtime, TtyOutput};

use crate::tty::{TtyReader, TtyWriter};

/// async-io, as the [`Runtime`] of this crate's types (`Container` is
/// `pocketdock_async::Container<Smol>`): it serves smol, async-std and any futures-io executor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Smol;

/// `Some(fut's output)`, or `None` when `deadline` came first.
async fn before<T>(deadline: Instant, fut: impl Future<Output = T>) -> Option<T> {
    future::or(async { Some(fut.await) }, async {
        Timer::at(deadline).await;
        None
    })
    .await
}

impl Runtime for Smol {
    type Stream = Async<UnixStream>;
    type TtyReader = TtyReader;
    type TtyWriter = TtyWriter;

    async fn connect(path: &Path) -> io::Result<Async<UnixStream>> {
        Async::<UnixStream>::connect(path).await
    }

    fn adopt(stream: UnixStream) -> io::Result<Async<UnixStream>> {
        Async::new(stream)
    }

    async fn read(
        stream: &mut Async<UnixStream>,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Option<io::Result<usize>> {
        match deadline {
            Some(d) => before(d, stream.read(buf)).await,
            None => Some(stream.read(buf).await),
        }
    }

    async fn write_all(
        stream: &mut Async<UnixStream>,
        data: &[u8],
        timeout: Duration,
    ) -> Option<io::Result<()>> {
        before(Instant::now() + timeout, stream.write_all(data)).await
    }

    async fn shutdown_write(stream: &mut Async<UnixStream>) -> io::Result<()> {
        // `AsyncWriteExt::close` on an `Async<UnixStream>` is `shutdown(Write)`: a half-close.
        stream.close().await
    }

    fn try_clone(stream: &Async<UnixStream>) -> io::Result<UnixStream> {
        stream.get_ref().try_clone()
    }

    fn writer(stream: UnixStream) -> io::Result<TtyWriter> {
        Ok(TtyWriter {
            stream: Async::new(stream)?,
        })
    }

    async fn write_shared(writer: &TtyWriter, data: &[u8]) -> io::Result<()> {
        (&writer.stream).write_all(data).await
    }

    fn tty_reader(output: TtyOutput<Self>) -> TtyReader {
        TtyReader { output }
    }

    async fn sleep_until(deadline: Instant) {
        Timer::at(deadline).await;
    }

    /// A thread of its own running the reader with `async_io::block_on`: this crate knows no
    /// executor, and the reader keeps going whatever happens to the caller's.
    fn spawn_reader(
        name: &'static str,
        reader: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || async_io::block_on(reader))
            .map(drop)
    }

    /// A short-lived thread of its own (`async_io::block_on`), which the end of the process
    /// cuts short.
    fn spawn_cleanup(work: impl Future<Output = ()> + Send + 'static) {
        let _ = std::thread::Builder::new()
            .name("pocketdock-cleanup".into())
            .spawn(move || async_io::block_on(work));
    }
}
