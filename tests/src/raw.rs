//! Engine calls that no adapter offers (a create with labels the spec refuses, a stop or a kill
//! behind a container's back), driven over a plain Unix socket: the adapters keep their drivers
//! to themselves, so the tests bring this small one.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::Instant;

use pocketdock_proto::engine::socket_path;
use pocketdock_proto::op::{Io, Operation, Step};
use pocketdock_proto::{Error, Result};

/// Run `op` to completion against the engine at `socket`, dropping its events.
pub fn drive<O: Operation>(socket: &str, mut op: O) -> Result<O::Output> {
    let path = socket_path(socket);
    let mut conn: Option<UnixStream> = None;
    let mut buf = vec![0; 64 * 1024];
    loop {
        match op.poll(Instant::now()) {
            Step::Event(_) => {}
            Step::Done(r) => return r,
            Step::Io(Io::Connect) => conn = Some(UnixStream::connect(path).map_err(Error::Io)?),
            Step::Io(Io::Close) => conn = None,
            Step::Io(Io::Write(bytes)) => open(&mut conn)?.write_all(&bytes).map_err(Error::Io)?,
            Step::Io(Io::ShutdownWrite) => {
                open(&mut conn)?
                    .shutdown(Shutdown::Write)
                    .map_err(Error::Io)?;
            }
            Step::Io(Io::Wait(until)) => {
                std::thread::sleep(until.saturating_duration_since(Instant::now()));
                op.handle_timeout(Instant::now());
            }
            Step::Io(Io::Read { deadline }) => {
                let stream = open(&mut conn)?;
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                if left.is_some_and(|l| l.is_zero()) {
                    op.handle_timeout(Instant::now());
                    continue;
                }
                stream.set_read_timeout(left).map_err(Error::Io)?;
                match stream.read(&mut buf) {
                    Ok(0) => op.handle_eof(Instant::now()),
                    Ok(n) => op.handle_input(Instant::now(), buf.get(..n).unwrap_or_default()),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        op.handle_timeout(Instant::now());
                    }
                    Err(e) => return Err(Error::Io(e)),
                }
            }
        }
    }
}

fn open(conn: &mut Option<UnixStream>) -> Result<&mut UnixStream> {
    conn.as_mut()
        .ok_or_else(|| Error::SocketCommunication("no connection open".into()))
}
