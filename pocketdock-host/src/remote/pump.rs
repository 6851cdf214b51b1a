//! A tcp connection (plain, or TLS driven by hand) seen by the adapters as one end of a local
//! socket pair.
//!
//! Every adapter already knows how to use a Unix stream: deadlines, a duplicated handle for a
//! stdin writer beside the reader, a shutdown from outside. Handing remote connections out as
//! the same kind of stream keeps all of that unchanged, and one TLS implementation serves the
//! blocking adapter and every async runtime. Two threads move the bytes, one per direction, so
//! a full buffer one way never stalls the other; the TLS state between them is behind a lock
//! held only to encrypt or decrypt, never across a socket call.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How bytes change between the local stream and the wire.
pub(crate) trait Codec: Send + 'static {
    /// Turn `plain` into bytes for the wire, appended to `wire`.
    fn encode(&mut self, plain: &[u8], wire: &mut Vec<u8>) -> io::Result<()>;
    /// The bytes that end the writing direction (TLS's `close_notify`), appended to `wire`.
    fn close_write(&mut self, wire: &mut Vec<u8>);
    /// Take `wire` bytes from the peer: plaintext goes to `plain`, anything the protocol must
    /// answer to `reply`. `Ok(true)` when the peer ended its writing direction.
    fn decode(&mut self, wire: &[u8], plain: &mut Vec<u8>, reply: &mut Vec<u8>)
        -> io::Result<bool>;
}

/// Plain tcp: bytes pass unchanged.
pub(crate) struct Plain;

impl Codec for Plain {
    fn encode(&mut self, plain: &[u8], wire: &mut Vec<u8>) -> io::Result<()> {
        wire.extend_from_slice(plain);
        Ok(())
    }

    fn close_write(&mut self, _wire: &mut Vec<u8>) {}

    fn decode(
        &mut self,
        wire: &[u8],
        plain: &mut Vec<u8>,
        _reply: &mut Vec<u8>,
    ) -> io::Result<bool> {
        plain.extend_from_slice(wire);
        Ok(false)
    }
}

/// A rustls client connection, after its handshake.
pub(crate) struct Tls(pub(crate) rustls::ClientConnection);

impl Tls {
    fn drain(&mut self, wire: &mut Vec<u8>) {
        while self.0.wants_write() {
            if self.0.write_tls(wire).is_err() {
                break;
            }
        }
    }
}

impl Codec for Tls {
    fn encode(&mut self, plain: &[u8], wire: &mut Vec<u8>) -> io::Result<()> {
        self.0.writer().write_all(plain)?;
        self.drain(wire);
        Ok(())
    }

    fn close_write(&mut self, wire: &mut Vec<u8>) {
        self.0.send_close_notify();
        self.drain(wire);
    }

    fn decode(
        &mut self,
        mut wire: &[u8],
        plain: &mut Vec<u8>,
        reply: &mut Vec<u8>,
    ) -> io::Result<bool> {
        let mut closed = false;
        while !wire.is_empty() {
            self.0.read_tls(&mut wire)?;
            let state = self
                .0
                .process_new_packets()
                .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
            let n = state.plaintext_bytes_to_read();
            if n > 0 {
                let start = plain.len();
                plain.resize(start + n, 0);
                self.0.reader().read_exact(&mut plain[start..])?;
            }
            closed |= state.peer_has_closed();
        }
        self.drain(reply);
        Ok(closed)
    }
}

/// While the local end is half-closed, how often the pump checks whether it was closed whole.
const CLOSED_CHECK: Duration = Duration::from_millis(50);
const BUF: usize = 64 * 1024;

/// Start the two threads that carry `tcp` through `codec`, and return the local end the
/// adapter uses. Closing that end closes the tcp connection; the peer's end of the stream
/// is the local end's end of stream.
pub(crate) fn spawn(tcp: TcpStream, codec: impl Codec) -> io::Result<UnixStream> {
    let (outer, inner) = UnixStream::pair()?;
    let codec = Arc::new(Mutex::new(codec));
    let wire_out = Arc::new(Mutex::new(tcp.try_clone()?));
    let wire_ended = Arc::new(AtomicBool::new(false));

    let up = Up {
        local: inner.try_clone()?,
        codec: Arc::clone(&codec),
        wire: Arc::clone(&wire_out),
        wire_ended: Arc::clone(&wire_ended),
    };
    let down = Down {
        local: inner,
        codec,
        wire_in: tcp,
        wire_out,
        wire_ended,
    };
    std::thread::Builder::new()
        .name("pocketdock-remote-up".into())
        .spawn(move || up.run())?;
    std::thread::Builder::new()
        .name("pocketdock-remote-down".into())
        .spawn(move || down.run())?;
    Ok(outer)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Local stream to the wire.
struct Up<C> {
    local: UnixStream,
    codec: Arc<Mutex<C>>,
    wire: Arc<Mutex<TcpStream>>,
    wire_ended: Arc<AtomicBool>,
}

impl<C: Codec> Up<C> {
    fn run(mut self) {
        let mut buf = vec![0u8; BUF];
        let mut wire = Vec::with_capacity(BUF + 1024);
        loop {
            let n = match self.local.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            wire.clear();
            let mut out = lock(&self.wire);
            if n == 0 {
                // The adapter half-closed (or closed): end the writing direction.
                lock(&self.codec).close_write(&mut wire);
                let _ = out.write_all(&wire);
                let _ = out.shutdown(Shutdown::Write);
                break;
            }
            let Some(data) = buf.get(..n) else { break };
            // The write lock is taken before encoding so that records reach the wire in order.
            let sent = lock(&self.codec)
                .encode(data, &mut wire)
                .and_then(|()| out.write_all(&wire));
            if sent.is_err() {
                // The wire is gone: the adapter's next writes fail too.
                let _ = self.local.shutdown(Shutdown::Read);
                let _ = out.shutdown(Shutdown::Both);
                return;
            }
        }
        // Half-closed: wait until the adapter closes its end whole (a write of nothing then
        // fails) or the other direction ends, then drop the tcp connection.
        while !self.wire_ended.load(Ordering::Acquire) {
            if self.local.write(&[]).is_err() {
                break;
            }
            std::thread::sleep(CLOSED_CHECK);
        }
        let _ = lock(&self.wire).shutdown(Shutdown::Both);
    }
}

/// The wire to the local stream.
struct Down<C> {
    local: UnixStream,
    codec: Arc<Mutex<C>>,
    wire_in: TcpStream,
    wire_out: Arc<Mutex<TcpStream>>,
    wire_ended: Arc<AtomicBool>,
}

impl<C: Codec> Down<C> {
    fn run(mut self) {
        let mut buf = vec![0u8; BUF];
        let mut plain = Vec::with_capacity(BUF);
        let mut reply = Vec::new();
        loop {
            let n = match self.wire_in.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            let Some(data) = buf.get(..n).filter(|d| !d.is_empty()) else {
                break;
            };
            plain.clear();
            reply.clear();
            let decoded = lock(&self.codec).decode(data, &mut plain, &mut reply);
            if !reply.is_empty() {
                let _ = lock(&self.wire_out).write_all(&reply);
            }
            let Ok(closed) = decoded else { break };
            if self.local.write_all(&plain).is_err() {
                // The adapter closed its end: nobody reads any more.
                let _ = self.wire_in.shutdown(Shutdown::Both);
                break;
            }
            if closed {
                break;
            }
        }
        let _ = self.local.shutdown(Shutdown::Write);
        self.wire_ended.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Instant;

    fn pair() -> (UnixStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let tcp = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        (spawn(tcp, Plain).expect("spawn"), server)
    }

    #[test]
    fn bytes_cross_both_ways_and_a_half_close_reaches_the_peer() {
        let (mut local, mut server) = pair();
        local.write_all(b"ping").expect("write");
        local.shutdown(Shutdown::Write).expect("half-close");
        let mut got = Vec::new();
        server
            .read_to_end(&mut got)
            .expect("server reads to the end");
        assert_eq!(got, b"ping");
        // The other direction still works after the half-close.
        server.write_all(b"pong").expect("write");
        server.shutdown(Shutdown::Write).expect("close");
        let mut back = Vec::new();
        local
            .read_to_end(&mut back)
            .expect("local reads to the end");
        assert_eq!(back, b"pong");
    }

    #[test]
    fn closing_the_local_end_closes_the_tcp_connection() {
        let (local, mut server) = pair();
        drop(local);
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let start = Instant::now();
        let mut buf = [0u8; 8];
        assert_eq!(server.read(&mut buf).ok(), Some(0), "the peer saw the end");
        // A peer that keeps writing sees the connection gone.
        let mut gone = false;
        for _ in 0..100 {
            if server.write_all(&[0u8; 4096]).is_err() {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(gone, "the tcp connection stayed open");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_write_of_nothing_fails_once_the_other_end_is_closed_whole() {
        // What the half-closed pump relies on to tell a half-close from a close.
        let (a, b) = UnixStream::pair().expect("pair");
        b.shutdown(Shutdown::Write).expect("half-close");
        assert!((&a).write(&[]).is_ok(), "a half-close is not a close");
        drop(b);
        assert!((&a).write(&[]).is_err(), "a close is seen");
    }
}
