//! What the driver needs from outside the operation: connections to the engine, and a clock.
//!
//! [`EngineTransport`] is the real one (a connection per operation, the system clock): to a
//! local engine, a Unix socket connection; to a remote one (tcp, TLS, ssh), the local stream
//! that `pocketdock_host::remote` hands out for each connection. Either way the connection is
//! a [`UnixStream`], so deadlines, a duplicated handle for a stdin writer and a shutdown from
//! outside work the same on every transport. The clock sits beside the connections, as in quinn's `Runtime`, so that a test
//! transport can keep virtual time: a read that waits out its deadline moves that clock, and
//! the driver's deadlines follow it with no sleeping.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use pocketdock_host::remote::EngineEndpoint;
use pocketdock_proto::op::{WriteOutcome, WRITE_TIMEOUT};
use pocketdock_proto::Error;

#[cfg(test)]
pub(crate) mod fake;

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

/// One connection at a time to the engine, and the time.
pub(crate) trait Transport {
    /// Open a fresh connection, dropping any previous one.
    fn connect(&mut self) -> Result<(), Error>;
    /// Write all of `data` to the connection.
    fn write_all(&mut self, data: &[u8]) -> Result<WriteOutcome, Error>;
    /// Half-close the connection.
    fn shutdown_write(&mut self) -> Result<(), Error>;
    /// Read some bytes into `buf`, or report the end of the stream or a passed `deadline`.
    fn read(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> Result<ReadOutcome, Error>;
    /// Drop the connection.
    fn close(&mut self);
    /// The time now, as the operation's deadlines see it.
    fn now(&self) -> Instant;
    /// Block until `deadline` ([`Transport::now`] is then at or past it).
    fn sleep_until(&mut self, deadline: Instant);
}

/// Below this much time left, a read timeout is armed for all of it; above, for half of it.
const EXACT_BELOW: Duration = Duration::from_millis(2);

/// A connection-per-operation transport to an engine's address, on the system clock.
///
/// The read timeout of the socket is armed when the deadline changes, not before every read: a
/// stream of many reads under one deadline costs one `setsockopt`, not one per read. A socket
/// timeout counts from the start of each read, so one armed for the whole time left would let a
/// later read overshoot the deadline; it is armed for half the time left instead, every read
/// whose time left still covers the armed timeout reuses it, and a read that wakes up early
/// (its timeout passed, the deadline not yet) re-arms for the rest and reads again.
#[derive(Debug)]
pub(crate) struct EngineTransport {
    endpoint: EngineEndpoint,
    stream: Option<UnixStream>,
    /// The read timeout armed on `stream` (`None`: blocks, as a fresh socket does).
    armed: Option<Duration>,
}

impl EngineTransport {
    pub(crate) fn new(endpoint: &EngineEndpoint) -> Self {
        Self {
            endpoint: endpoint.clone(),
            stream: None,
            armed: None,
        }
    }

    /// Make sure no read blocks past `deadline`, touching the socket only when the armed timeout
    /// would not do. `Ok(false)` when the deadline has passed.
    fn arm(&mut self, deadline: Option<Instant>) -> Result<bool, Error> {
        let want = match deadline {
            None if self.armed.is_none() => return Ok(true),
            None => None,
            Some(d) => {
                let left = d.saturating_duration_since(self.now());
                if left.is_zero() {
                    return Ok(false);
                }
                if self.armed.is_some_and(|a| a <= left) {
                    return Ok(true);
                }
                Some(if left < EXACT_BELOW { left } else { left / 2 })
            }
        };
        self.stream()?.set_read_timeout(want).map_err(comm)?;
        self.armed = want;
        Ok(true)
    }

    fn stream(&mut self) -> Result<&mut UnixStream, Error> {
        self.stream
            .as_mut()
            .ok_or_else(|| Error::SocketCommunication("not connected".into()))
    }

    /// A second handle on the current connection (for writing stdin beside a reader).
    pub(crate) fn try_clone(&self) -> Result<UnixStream, Error> {
        self.stream
            .as_ref()
            .ok_or_else(|| Error::SocketCommunication("not connected".into()))?
            .try_clone()
            .map_err(comm)
    }
}

impl Transport for EngineTransport {
    fn connect(&mut self) -> Result<(), Error> {
        self.stream = None;
        self.armed = None;
        // A local socket connects here; a remote engine's connection is made by the endpoint
        // (tcp, a TLS handshake, or ssh) and handed over as a local stream.
        let stream = if let Some(path) = self.endpoint.unix_path() {
            UnixStream::connect(path).map_err(|e| Error::SocketConnection {
                path: path.display().to_string(),
                detail: e.to_string(),
            })?
        } else {
            self.endpoint.dial()?
        };
        stream
            .set_write_timeout(Some(WRITE_TIMEOUT))
            .map_err(comm)?;
        self.stream = Some(stream);
        Ok(())
    }

    fn write_all(&mut self, data: &[u8]) -> Result<WriteOutcome, Error> {
        WriteOutcome::of(self.stream()?.write_all(data)).map_err(comm)
    }

    fn shutdown_write(&mut self) -> Result<(), Error> {
        match self.stream()?.shutdown(Shutdown::Write) {
            Err(e) if e.kind() != ErrorKind::NotConnected => Err(comm(e)),
            _ => Ok(()),
        }
    }

    fn read(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> Result<ReadOutcome, Error> {
        loop {
            if !self.arm(deadline)? {
                return Ok(ReadOutcome::TimedOut);
            }
            return match self.stream()?.read(buf) {
                Ok(0) => Ok(ReadOutcome::Eof),
                Ok(n) => Ok(ReadOutcome::Data(n)),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // The armed timeout passed: the deadline too, or `arm` re-arms for the rest.
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue
                }
                Err(e) if e.kind() == ErrorKind::ConnectionReset => Ok(ReadOutcome::Eof),
                Err(e) => Err(comm(e)),
            };
        }
    }

    fn close(&mut self) {
        self.stream = None;
        self.armed = None;
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&mut self, deadline: Instant) {
        let left = deadline.saturating_duration_since(self.now());
        if !left.is_zero() {
            std::thread::sleep(left);
        }
    }
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "used as `map_err(comm)`, which hands the error over by value"
)]
fn comm(e: std::io::Error) -> Error {
    Error::SocketCommunication(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::{EngineTransport, ReadOutcome, Transport};
    use pocketdock_host::remote::EngineEndpoint;
    use pocketdock_proto::Error;
    use std::io::Write;
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    /// A listening socket in a fresh directory, a transport connected to it, and the peer.
    fn connected(name: &str) -> (EngineTransport, UnixStream, PathBuf) {
        let dir = std::env::temp_dir().join(format!("pd-transport-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("s.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        let mut t = EngineTransport::new(&EngineEndpoint::parse(&path.display().to_string()));
        t.connect().expect("connect");
        let (peer, _) = listener.accept().expect("accept");
        (t, peer, dir)
    }

    #[test]
    fn reads_under_one_deadline_arm_the_socket_timeout_once() {
        let (mut t, mut peer, dir) = connected("once");
        let deadline = Some(Instant::now() + Duration::from_secs(60));
        let mut buf = [0u8; 8];
        peer.write_all(b"a").expect("write");
        assert_eq!(t.read(&mut buf, deadline).ok(), Some(ReadOutcome::Data(1)));
        let armed = t.armed;
        assert!(armed.is_some_and(|a| a <= Duration::from_secs(30)));
        peer.write_all(b"b").expect("write");
        assert_eq!(t.read(&mut buf, deadline).ok(), Some(ReadOutcome::Data(1)));
        assert_eq!(t.armed, armed, "armed again for the same deadline");
        // No deadline: back to blocking reads, once.
        peer.write_all(b"c").expect("write");
        assert_eq!(t.read(&mut buf, None).ok(), Some(ReadOutcome::Data(1)));
        assert_eq!(t.armed, None);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_later_read_under_the_same_deadline_does_not_overshoot_it() {
        let (mut t, mut peer, dir) = connected("overshoot");
        let start = Instant::now();
        let deadline = start + Duration::from_millis(400);
        let mut buf = [0u8; 8];
        peer.write_all(b"a").expect("write");
        assert_eq!(
            t.read(&mut buf, Some(deadline)).ok(),
            Some(ReadOutcome::Data(1))
        );
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(
            t.read(&mut buf, Some(deadline)).ok(),
            Some(ReadOutcome::TimedOut)
        );
        let at = Instant::now();
        assert!(at >= deadline, "woke before the deadline");
        // A timeout armed for the whole 400 ms at the first read would end this one at 650 ms.
        assert!(
            at < start + Duration::from_millis(600),
            "overshot: {:?}",
            at - start
        );
        drop(peer);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_missing_socket_is_a_connection_error_naming_the_path() {
        let mut t =
            EngineTransport::new(&EngineEndpoint::parse("/nonexistent/pocketdock-test.sock"));
        match t.connect() {
            Err(Error::SocketConnection { path, .. }) => {
                assert_eq!(path, "/nonexistent/pocketdock-test.sock");
            }
            other => panic!("expected a connection error, got {other:?}"),
        }
        assert!(matches!(
            t.write_all(b"x"),
            Err(Error::SocketCommunication(_))
        ));
    }
}
