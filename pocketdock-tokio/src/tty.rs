//! The halves of a TTY program ([`TtyExec`](crate::TtyExec)) as tokio's `AsyncRead` and
//! `AsyncWrite`.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use pocketdock_async::TtyOutput;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::UnixStream;

use crate::runtime::Tokio;

/// The output half of a [`TtyExec`](crate::TtyExec): raw bytes as the program wrote them to its
/// terminal (stdout and stderr merged, `\r\n` line ends). A read returns 0 bytes once the
/// program has exited and the engine closed the stream.
///
/// ```no_run
/// # async fn demo() -> pocketdock_tokio::Result<()> {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// # let c = pocketdock_tokio::create_new_container(Default::default()).await?;
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
    pub(crate) output: TtyOutput<Tokio>,
}

/// The input half of a [`TtyExec`](crate::TtyExec): bytes written go to the program's terminal
/// as typed (`\x03` is Ctrl-C, `\x04` Ctrl-D).
#[derive(Debug)]
pub struct TtyWriter {
    pub(crate) stream: UnixStream,
}

impl AsyncRead for TtyReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let data = ready!(this.output.poll_fill_buf(cx))?;
        let n = buf.remaining().min(data.len());
        buf.put_slice(&data[..n]);
        this.output.consume(n);
        Poll::Ready(Ok(()))
    }
}

impl TtyWriter {
    /// End the program's input (half-close the connection): like closing the terminal's input,
    /// not like typing Ctrl-D.
    pub async fn close_stdin(&mut self) -> io::Result<()> {
        match self.stream.shutdown().await {
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
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
