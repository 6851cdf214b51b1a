//! An interactive program on a TTY inside the container (`pocketdock shell`): raw bytes in and
//! out, window size changes, and the exit code. Terminal handling on the host side (raw mode,
//! `SIGWINCH`) is the caller's.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

use bytes::{Buf, Bytes};
use pocketdock_proto::op::signal_name;
use pocketdock_proto::session::attach::{
    resize_op, tty_exec_spec, AttachConfig, AttachEvent, AttachOp, ExecWaitOp,
};
use pocketdock_proto::{Error, Result};

use crate::container::Container;
use crate::driver::{Driver, Progress};
use crate::engine::Engine;
use crate::session::attach;
use pocketdock_host::owner::{owned_nonce, record_commands, CommandRecord};

use pocketdock_proto::run::TtyOptions;

/// A program running on a TTY in the container. See [`Container::open_tty`].
///
/// Take the two halves with [`take_reader`](Self::take_reader) (the program's output, raw) and
/// [`take_writer`](Self::take_writer) (its input) and move them to the threads that copy them;
/// keep this handle (it is `Sync`) for [`resize`](Self::resize) and [`wait`](Self::wait).
/// Dropping everything leaves the program running unless it exits when its input closes: use
/// [`kill`](Self::kill) to stop it.
#[derive(Debug)]
pub struct TtyExec {
    id: String,
    engine: Engine,
    container: String,
    nonce: String,
    /// This process's record of running commands in the container, while the program runs.
    _running: CommandRecord,
    user: Option<String>,
    conn: UnixStream,
    reader: Option<TtyReader>,
    writer: Option<TtyWriter>,
}

/// The output half of a [`TtyExec`]: raw bytes as the program wrote them to its terminal
/// (stdout and stderr merged, `\r\n` line ends). `read` returns 0 once the program has exited
/// and the engine closed the stream.
pub struct TtyReader {
    driver: Driver<AttachOp>,
    pending: Bytes,
    finished: bool,
}

impl std::fmt::Debug for TtyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtyReader")
            .field("pending", &self.pending.len())
            .field("finished", &self.finished)
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
    /// # fn main() -> pocketdock_blocking::Result<()> {
    /// use std::io::{Read, Write};
    /// # let c = pocketdock_blocking::create_new_container(Default::default())?;
    /// let mut tty = c.open_tty(&["sh"], &Default::default())?;
    /// let (mut out, mut input) = (tty.take_reader().unwrap(), tty.take_writer().unwrap());
    /// input.write_all(b"echo hi; exit 4\n")?;
    /// let mut text = String::new();
    /// out.read_to_string(&mut text)?;
    /// assert_eq!(tty.wait()?, 4);
    /// # Ok(()) }
    /// ```
    pub fn open_tty(&self, argv: &[&str], opts: &TtyOptions) -> Result<TtyExec> {
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
            attach(&self.engine, AttachConfig::new(&self.id, spec, &marker))?;
        let writer = conn.try_clone().map_err(Error::Io)?;
        let tty = TtyExec {
            id: exec_id,
            engine: self.engine.clone(),
            container: self.id.clone(),
            nonce: marker,
            _running: running,
            user: opts.user.clone(),
            conn,
            reader: Some(TtyReader {
                driver,
                pending: Bytes::new(),
                finished: false,
            }),
            writer: Some(TtyWriter { stream: writer }),
        };
        // A program that already exited cannot be resized ("cannot resize a stopped exec"): its
        // output is still there to read and its exit code to wait for, so that is not an error.
        let _ = tty.resize(rows, cols);
        Ok(tty)
    }
}

impl TtyExec {
    /// The exec id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The output half (once; `None` afterwards).
    pub fn take_reader(&mut self) -> Option<TtyReader> {
        self.reader.take()
    }

    /// The input half (once; `None` afterwards).
    pub fn take_writer(&mut self) -> Option<TtyWriter> {
        self.writer.take()
    }

    /// Set the window size (`POST /exec/{id}/resize`); the program gets `SIGWINCH`.
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        if rows == 0 || cols == 0 {
            return Err(Error::invalid(
                "size",
                "rows and columns must be at least 1",
            ));
        }
        self.engine.drive(resize_op(&self.id, rows, cols), |()| {})
    }

    /// Wait until the program has exited and return its exit code (polling exec inspect until
    /// the engine says it stopped). Keep reading its output meanwhile (from another thread),
    /// or a program blocked on a full terminal never exits.
    pub fn wait(&self) -> Result<i64> {
        self.engine
            .drive(ExecWaitOp::new(&self.container, &self.id, None), |()| {})
    }

    /// Send `signal` (a number such as 15 or 9) to the program and everything it started.
    pub fn kill(&self, signal: i32) -> Result<()> {
        let name = signal_name(&signal.to_string())?;
        self.engine
            .kill_tree(&self.container, &self.nonce, &name, self.user.clone())
    }

    /// Close the connection in both directions: a blocked [`TtyReader::read`] returns 0 and
    /// writes fail. The program sees its terminal input end; it may keep running (see
    /// [`kill`](Self::kill)).
    pub fn close(&self) {
        let _ = self.conn.shutdown(Shutdown::Both);
    }
}

impl Read for TtyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.pending.is_empty() {
                let n = buf.len().min(self.pending.len());
                buf[..n].copy_from_slice(&self.pending[..n]);
                self.pending.advance(n);
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            match self.driver.advance() {
                Progress::Event(AttachEvent::Output { data, .. }) => self.pending = data,
                Progress::Event(AttachEvent::Attached { .. }) => {}
                Progress::Done(Ok(())) => self.finished = true,
                Progress::Done(Err(e)) => {
                    self.finished = true;
                    return Err(io::Error::other(e));
                }
            }
        }
    }
}

impl TtyWriter {
    /// End the program's input (half-close the connection): like closing the terminal's input,
    /// not like typing Ctrl-D.
    pub fn close_stdin(&mut self) -> io::Result<()> {
        match self.stream.shutdown(Shutdown::Write) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Err(e),
            _ => Ok(()),
        }
    }
}

impl Write for TtyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
