//! The halves of a TTY program ([`TtyExec`](crate::TtyExec)) as futures-io `AsyncRead` and
//! `AsyncWrite`.

use std::io;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_io::Async;
use futures_io::{AsyncRead, AsyncWrite};
use pocketdock_async::TtyOutput;

use crate::runtime::Smol;

/// The output half of a [`TtyExec`](crate::TtyExec): raw bytes as the program wrote them to its
/// terminal (stdout and stderr merged, `\r\n` line ends). A read returns 0 bytes once the
/// program has exited and the engine closed the stream.
///
/// ```no_run
/// # async fn demo() -> pocketdock_smol::Result<()> {
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// # let c = pocketdock_smol::create_new_container(Default::default()).await?;
/// let mut tty = c.open_tty(&["sh"], &Default::default()).await?;
/// let (mut out, mut input) = (tty.take_reader().unwrap(), tty.take_writer().unwrap());
/// input.write_all(b"echo hi; exit 4\n").await?;
/// let mut text = String::new();
/// out.read_to_string(&mut text).await?;
/// assert_eq!(tty.wait().await?, 4);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TtyReader {
    pub(crate) output: TtyOutput<Smol>,
}

/// The input half of a [`TtyExec`](crate::TtyExec): bytes written go to the program's terminal
/// as typed (`\x03` is Ctrl-C, `\x04` Ctrl-D).
#[derive(Debug)]
pub struct TtyWriter {
    pub(crate) stream: Async<UnixStream>,
}

impl AsyncRead for TtyReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().output.poll_read(cx, buf)
    }
}

impl TtyWriter {
    /// End the program's input (half-close the connection): like closing the terminal's input,
    /// not like typing Ctrl-D.
    pub async fn close_stdin(&mut self) -> io::Result<()> {
        // `close` on an `Async<UnixStream>` is `shutdown(Write)`: a half-close.
        match futures_lite::AsyncWriteExt::close(&mut self.stream).await {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Err(e),
            _ => Ok(()),
        }
    }
}

impl AsyncWrite for TtyWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    /// Half-closes the connection (see [`TtyWriter::close_stdin`]).
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_close(cx)
    }
}
