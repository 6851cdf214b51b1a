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
use pocketdock_proto::op::signal_name;
use pocketdock_proto::session::attach::{
    resize_op, tty_exec_spec, AttachConfig, AttachEvent, AttachOp, ExecWaitOp,
};
use pocketdock_proto::{Error, Result};

use pocketdock_proto::run::TtyOptions;

use crate::container::Container;
use crate::driver::{Driver, Progress};
use crate::engine::Engine;
use crate::runtime::Runtime;
use crate::session::attach;
use pocketdock_host::owner::{owned_nonce, record_commands, CommandRecord};

async fn resize<R: Runtime>(engine: &Engine<R>, exec_id: &str, rows: u16, cols: u16) -> Result<()> {
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
/// Take the two halves with [`take_reader`](Self::take_reader) (the program's output, raw, the
/// runtime's `AsyncRead`: [`Runtime::TtyReader`]) and [`take_writer`](Self::take_writer) (its
/// input, the runtime's `AsyncWrite`: [`Runtime::TtyWriter`]) and move them to the tasks that
/// copy them; keep this handle (it is `Sync`) for
/// [`resize`](Self::resize) and [`wait`](Self::wait). Dropping everything leaves the program
/// running unless it exits when its input closes: use [`kill`](Self::kill) to stop it.
#[derive(Debug)]
pub struct TtyExec<R: Runtime> {
    id: String,
    engine: Engine<R>,
    container: String,
    nonce: String,
    /// This process's record of running commands in the container, while the program runs.
    _running: CommandRecord,
    user: Option<String>,
    conn: StdUnixStream,
    /// In a mutex only so that the handle is `Sync` while the reader waits to be taken.
    reader: std::sync::Mutex<Option<R::TtyReader>>,
    writer: Option<R::TtyWriter>,
}

type Advance<R> =
    Pin<Box<dyn Future<Output = (Box<Driver<AttachOp, R>>, Progress<AttachEvent, ()>)> + Send>>;

enum ReadState<R: Runtime> {
    Idle(Box<Driver<AttachOp, R>>),
    Busy(Advance<R>),
    Finished,
}

/// The output of a [`TtyExec`], for the adapters' reader types ([`Runtime::TtyReader`]) to put
/// behind their runtime's `AsyncRead`: raw bytes as the program wrote them to its terminal
/// (stdout and stderr merged, `\r\n` line ends), through
/// [`poll_fill_buf`](Self::poll_fill_buf) and [`consume`](Self::consume). The bytes end (an
/// empty slice) once the program has exited and the engine closed the stream.
pub struct TtyOutput<R: Runtime> {
    state: ReadState<R>,
    pending: Bytes,
}

impl<R: Runtime> std::fmt::Debug for TtyOutput<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtyOutput")
            .field("pending", &self.pending.len())
            .field("finished", &matches!(self.state, ReadState::Finished))
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> Container<R> {
    /// Start `argv` on a TTY of `opts.size`, with stdin attached, on its own connection.
    ///
    ///
    /// Each adapter's `TtyReader` shows it in use with its runtime's I/O traits.
    pub async fn open_tty(&self, argv: &[&str], opts: &TtyOptions) -> Result<TtyExec<R>> {
        let spec = tty_exec_spec(argv, opts)?;
        let (rows, cols) = opts.size;
        // As a session's shell: owned, and recorded while it may run.
        let marker = owned_nonce();
        let running = record_commands(
            self.engine.socket(),
            &self.id,
            opts.user.as_deref().unwrap_or(""),
        );
        let (driver, exec_id, conn) =
            attach(&self.engine, AttachConfig::new(&self.id, spec, &marker)).await?;
        let writer = R::writer(conn.try_clone().map_err(Error::Io)?).map_err(Error::Io)?;
        // A program that already exited cannot be resized ("cannot resize a stopped exec"): its
        // output is still there to read and its exit code to wait for, so that is not an error.
        let _ = resize(&self.engine, &exec_id, rows, cols).await;
        Ok(TtyExec {
            id: exec_id,
            engine: self.engine.clone(),
            container: self.id.clone(),
            nonce: marker,
            _running: running,
            user: opts.user.clone(),
            conn,
            reader: std::sync::Mutex::new(Some(R::tty_reader(TtyOutput {
                state: ReadState::Idle(Box::new(driver)),
                pending: Bytes::new(),
            }))),
            writer: Some(writer),
        })
    }
}

impl<R: Runtime> TtyExec<R> {
    /// The exec id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The output half (once; `None` afterwards).
    pub fn take_reader(&mut self) -> Option<R::TtyReader> {
        self.reader
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// The input half (once; `None` afterwards).
    pub fn take_writer(&mut self) -> Option<R::TtyWriter> {
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

    /// Close the connection in both directions: a pending read of the output half returns 0
    /// and writes fail. The program sees its terminal input end; it may keep running (see
    /// [`kill`](Self::kill)).
    pub fn close(&self) {
        let _ = self.conn.shutdown(Shutdown::Both);
    }
}

impl<R: Runtime> TtyOutput<R> {
    /// The bytes ready to read, waiting for more when there are none; an empty slice at the
    /// end. A broken connection is an [`io::Error`] wrapping the [`Error`].
    pub fn poll_fill_buf(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        loop {
            if !self.pending.is_empty() {
                return Poll::Ready(Ok(&self.pending));
            }
            let mut fut = match std::mem::replace(&mut self.state, ReadState::Finished) {
                ReadState::Finished => return Poll::Ready(Ok(&[])),
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

    /// Mark `n` bytes of [`poll_fill_buf`](Self::poll_fill_buf)'s slice as read.
    pub fn consume(&mut self, n: usize) {
        self.pending.advance(n.min(self.pending.len()));
    }

    /// Copy ready bytes into `buf` (waiting for some), the `AsyncRead::poll_read` of the
    /// futures-io world: 0 at the end, or when `buf` is empty.
    pub fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        match self.poll_fill_buf(cx) {
            Poll::Ready(Ok(data)) => {
                let n = buf.len().min(data.len());
                buf[..n].copy_from_slice(&data[..n]);
                self.consume(n);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}
