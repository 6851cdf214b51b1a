//! An interactive program on a TTY inside the container (`pocketdock shell`): raw bytes in and
//! out, window size changes, and the exit code. Terminal handling on the host side (raw mode,
//! `SIGWINCH`) is the caller's.

use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use pocketdock_proto::api::exec::ExecSpec;
use pocketdock_proto::op::session::{resize_op, AttachConfig, AttachEvent, AttachOp, ExecWaitOp};
use pocketdock_proto::op::signal_name;
use pocketdock_proto::run::validate_exec_options;
use pocketdock_proto::{Error, Result};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::UnixStream;

pub use pocketdock_proto::run::TtyOptions;

use crate::container::Container;
use crate::driver::{Driver, Progress};
use crate::engine::{nonce, Engine};
use crate::session::attach;

async fn resize(engine: &Engine, exec_id: &str, rows: u16, cols: u16) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Err(Error::invalid(
            "size",
            "rows and columns must be at least 1",
        ));
    }
    engine.drive(resize_op(exec_id, rows, cols), |()| {}).await
}

/// A program running on a TTY in the container. See [`Container::open_tty`].
///
/// Take the two halves with [`take_reader`](Self::take_reader) (the program's output, raw, an
/// [`AsyncRead`]) and [`take_writer`](Self::take_writer) (its input, an [`AsyncWrite`]) and move
/// them to the tasks that copy them; keep this handle (it is `Sync`) for
/// [`resize`](Self::resize) and [`wait`](Self::wait). Dropping everything leaves the program
/// running unless it exits when its input closes: use [`kill`](Self::kill) to stop it.
#[derive(Debug)]
pub struct TtyExec {
    id: String,
    engine: Engine,
    container: String,
    nonce: String,
    user: Option<String>,
    conn: StdUnixStream,
    /// In a mutex only so that the handle is `Sync` while the reader waits to be taken.
    reader: std::sync::Mutex<Option<TtyReader>>,
    writer: Option<TtyWriter>,
}

type Advance =
    Pin<Box<dyn Future<Output = (Box<Driver<AttachOp>>, Progress<AttachEvent, ()>)> + Send>>;

enum ReadState {
    Idle(Box<Driver<AttachOp>>),
    Busy(Advance),
    Finished,
}

/// The output half of a [`TtyExec`]: raw bytes as the program wrote them to its terminal
/// (stdout and stderr merged, `\r\n` line ends). A read returns 0 bytes once the program has
/// exited and the engine closed the stream.
pub struct TtyReader {
    state: ReadState,
    pending: Bytes,
}

impl std::fmt::Debug for TtyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtyReader")
            .field("pending", &self.pending.len())
            .field("finished", &matches!(self.state, ReadState::Finished))
            .finish_non_exhaustive()
    }
}

/// The input half of a [`TtyExec`]: bytes written go to the program's terminal as typed
/// (`\x03` is Ctrl-C, `\x04` Ctrl-D).
#[derive(Debug)]
pub struct TtyWriter {
    stream: UnixStream,
}

impl Container {
    /// Start `argv` on a TTY of `opts.size`, with stdin attached, on its own connection.
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
    pub async fn open_tty(&self, argv: &[&str], opts: &TtyOptions) -> Result<TtyExec> {
        if argv.is_empty() {
            return Err(Error::invalid("argv", "is empty"));
        }
        validate_exec_options(&opts.env, opts.workdir.as_deref())?;
        let (rows, cols) = opts.size;
        if rows == 0 || cols == 0 {
            return Err(Error::invalid(
                "size",
                "rows and columns must be at least 1",
            ));
        }
        let spec = ExecSpec {
            cmd: argv.iter().map(|s| (*s).to_string()).collect(),
            env: opts.env.clone(),
            workdir: opts.workdir.clone(),
            user: opts.user.clone(),
            tty: true,
            stdin: true,
        };
        let marker = nonce();
        let (driver, exec_id, conn) =
            attach(&self.engine, AttachConfig::new(&self.id, spec, &marker)).await?;
        let writer = conn.try_clone().map_err(Error::Io)?;
        writer.set_nonblocking(true).map_err(Error::Io)?;
        let writer = UnixStream::from_std(writer).map_err(Error::Io)?;
        // A program that already exited cannot be resized ("cannot resize a stopped exec"): its
        // output is still there to read and its exit code to wait for, so that is not an error.
        let _ = resize(&self.engine, &exec_id, rows, cols).await;
        Ok(TtyExec {
            id: exec_id,
            engine: self.engine.clone(),
            container: self.id.clone(),
            nonce: marker,
            user: opts.user.clone(),
            conn,
            reader: std::sync::Mutex::new(Some(TtyReader {
                state: ReadState::Idle(Box::new(driver)),
                pending: Bytes::new(),
            })),
            writer: Some(TtyWriter { stream: writer }),
        })
    }
}

impl TtyExec {
    /// The exec id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The output half (once; `None` afterwards).
    pub fn take_reader(&mut self) -> Option<TtyReader> {
        self.reader
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// The input half (once; `None` afterwards).
    pub fn take_writer(&mut self) -> Option<TtyWriter> {
        self.writer.take()
    }

    /// Set the window size (`POST /exec/{id}/resize`); the program gets `SIGWINCH`.
    pub async fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        resize(&self.engine, &self.id, rows, cols).await
    }

    /// Wait until the program has exited and return its exit code (polling exec inspect until
    /// the engine says it stopped). Keep reading its output meanwhile (from another task), or
    /// a program blocked on a full terminal never exits.
    pub async fn wait(&self) -> Result<i64> {
        self.engine
            .drive(ExecWaitOp::new(&self.container, &self.id, None), |()| {})
            .await
    }

    /// Send `signal` (a number such as 15 or 9) to the program and everything it started.
    pub async fn kill(&self, signal: i32) -> Result<()> {
        let name = signal_name(&signal.to_string())?;
        self.engine
            .kill_tree(&self.container, &self.nonce, &name, self.user.clone())
            .await
    }

    /// Close the connection in both directions: a pending read of the [`TtyReader`] returns 0
    /// and writes fail. The program sees its terminal input end; it may keep running (see
    /// [`kill`](Self::kill)).
    pub fn close(&self) {
        let _ = self.conn.shutdown(Shutdown::Both);
    }
}

impl TtyReader {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let mut fut = match std::mem::replace(&mut self.state, ReadState::Finished) {
                ReadState::Finished => return Poll::Ready(Ok(())),
                ReadState::Idle(mut driver) => Box::pin(async move {
                    let progress = driver.advance().await;
                    (driver, progress)
                }),
                ReadState::Busy(fut) => fut,
            };
            let Poll::Ready((driver, progress)) = fut.as_mut().poll(cx) else {
                self.state = ReadState::Busy(fut);
                return Poll::Pending;
            };
            match progress {
                Progress::Event(AttachEvent::Output { data, .. }) => {
                    self.pending = data;
                    self.state = ReadState::Idle(driver);
                }
                Progress::Event(AttachEvent::Attached { .. }) => {
                    self.state = ReadState::Idle(driver);
                }
                Progress::Done(Ok(())) => {}
                Progress::Done(Err(e)) => return Poll::Ready(Err(io::Error::other(e))),
            }
        }
    }
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
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => {
                let n = buf.remaining().min(this.pending.len());
                buf.put_slice(&this.pending[..n]);
                this.pending.advance(n);
                Poll::Ready(Ok(()))
            }
            other => other,
        }
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
