//! What an async runtime supplies: the transport glue under the facade.
//!
//! Everything else (the driver loop, timeouts, cancellation, sessions, files, images) is written
//! once in this crate against [`Runtime`]; `pocketdock-tokio` and `pocketdock-smol` each
//! implement it in about a hundred lines.

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::tty::TtyOutput;

#[cfg(test)]
pub(crate) mod fake;

/// An async runtime's Unix sockets, timer and background work, as the facade needs them.
/// Remote engines (tcp, TLS, ssh) need nothing more: their connections arrive as local
/// streams for [`adopt`](Self::adopt).
///
/// Implemented by a zero-sized marker type per adapter (`pocketdock_tokio::Tokio`,
/// `pocketdock_smol::Smol`); the facade's types are generic over it
/// ([`Container<R>`](crate::Container), [`Engine<R>`](crate::Engine), ...) and each adapter
/// names them for its runtime (`pocketdock_tokio::Container = Container<Tokio>`). Errors are
/// plain [`io::Error`]s: the facade turns them into [`pocketdock_proto::Error`]s.
pub trait Runtime: Copy + Debug + Eq + Send + Sync + 'static {
    /// One connection to the engine, registered with the runtime.
    type Stream: Debug + Send + Sync + 'static;
    /// The output half of a TTY program ([`TtyExec::take_reader`](crate::TtyExec::take_reader)):
    /// a [`TtyOutput`] behind the runtime's own `AsyncRead` trait.
    type TtyReader: Debug + Send + 'static;
    /// The input half of an attached exec, behind the runtime's own `AsyncWrite` trait: the
    /// stdin of a TTY program ([`TtyExec::take_writer`](crate::TtyExec::take_writer)), and of a
    /// session's shell (written through [`write_shared`](Self::write_shared)).
    type TtyWriter: Debug + Send + Sync + 'static;

    /// Connect to the Unix socket at `path`.
    fn connect(path: &Path) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// Register a connected stream with the runtime: a remote engine's connection, which
    /// `pocketdock_host::remote` hands out as a local stream, or the waiting end of work done
    /// on a thread.
    fn adopt(stream: UnixStream) -> io::Result<Self::Stream>;

    /// Read some bytes (0 at the end of the stream); `None` when `deadline` passed first.
    fn read(
        stream: &mut Self::Stream,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> impl Future<Output = Option<io::Result<usize>>> + Send;

    /// Write all of `data`; `None` when that took longer than `timeout`.
    fn write_all(
        stream: &mut Self::Stream,
        data: &[u8],
        timeout: Duration,
    ) -> impl Future<Output = Option<io::Result<()>>> + Send;

    /// Half-close: `shutdown(Write)`.
    fn shutdown_write(stream: &mut Self::Stream) -> impl Future<Output = io::Result<()>> + Send;

    /// A second handle on the connection (a duplicated descriptor, not registered with the
    /// runtime): for the input half beside the reader, or to shut the connection down.
    fn try_clone(stream: &Self::Stream) -> io::Result<UnixStream>;

    /// The input half of an attached exec over `stream` (a [`try_clone`](Self::try_clone)),
    /// registered with the runtime.
    fn writer(stream: UnixStream) -> io::Result<Self::TtyWriter>;

    /// Write all of `data` through a shared input half (one writer at a time is the caller's
    /// business).
    fn write_shared(
        writer: &Self::TtyWriter,
        data: &[u8],
    ) -> impl Future<Output = io::Result<()>> + Send;

    /// The output half of a TTY program, wrapped in the runtime's reader type.
    fn tty_reader(output: TtyOutput<Self>) -> Self::TtyReader;

    /// Sleep until `deadline` (a deadline on the clock of [`now`](Self::now)).
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send;

    /// The time now, as the operations' deadlines see it. The driver reads the time only from
    /// here, so a runtime with a virtual clock (a test runtime) runs every deadline with no
    /// waiting. The default is the system clock.
    fn now() -> Instant {
        Instant::now()
    }

    /// Start a reader that runs on its own until its stream ends: the reader of a session
    /// (`name` is `"pocketdock-session"`) or of a detached process (`"pocketdock-process"`).
    fn spawn_reader(
        name: &'static str,
        reader: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()>;

    /// Run cleanup work that a `Drop` cannot await (killing a cancelled command, removing an
    /// ephemeral container, ending a dropped session), best effort.
    fn spawn_cleanup(work: impl Future<Output = ()> + Send + 'static);
}

/// Run `fut` until `deadline`: `None` if the deadline came first (`fut` is dropped).
pub(crate) async fn timeout_at<R: Runtime, T>(
    deadline: Instant,
    fut: impl Future<Output = T>,
) -> Option<T> {
    futures_lite::future::or(async { Some(fut.await) }, async {
        R::sleep_until(deadline).await;
        None
    })
    .await
}
