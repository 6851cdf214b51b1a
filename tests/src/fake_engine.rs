//! A deliberately broken engine on a Unix socket. It answers like a small Docker (ping, version,
//! one running pocketdock container, execs that print `ok`) except for one request, the
//! target, which gets a fault: a malformed head, a bad chunk size, a huge chunk, a huge or
//! unknown-type stream frame, slow-loris bytes, an early end, or an endless head.
//!
//! The fault fires once; every later request (a kill helper, an exit-code poll) is answered
//! normally, so what is tested is the caller's answer to the fault itself.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The name of the one container the fake engine has.
pub const FAKE_CONTAINER: &str = "fake";

/// What the target request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A status line that is not HTTP.
    MalformedHead,
    /// A chunked body whose size line is not hexadecimal.
    BadChunkSize,
    /// A chunk that claims far more bytes than follow, then the end.
    HugeChunk,
    /// A stream frame that claims 4 GiB, then a few bytes and the end.
    HugeFrame,
    /// A stream frame of type 7.
    UnknownStream,
    /// A valid head start, one byte every 200 ms, forever.
    SlowLoris,
    /// Half a status line, then the end.
    EarlyEof,
    /// Header lines without end.
    EndlessHead,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Self; 8] = [
        Self::MalformedHead,
        Self::BadChunkSize,
        Self::HugeChunk,
        Self::HugeFrame,
        Self::UnknownStream,
        Self::SlowLoris,
        Self::EarlyEof,
        Self::EndlessHead,
    ];
}

/// Which request gets the fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `GET /_ping`.
    Ping,
    /// `GET /containers/{id}/json`.
    Inspect,
    /// `POST /exec/{id}/start`: runs, streams, detached processes and sessions.
    ExecStart,
    /// `GET /containers/{id}/archive`: pulls and file reads.
    ArchiveGet,
}

/// A running fake engine; stopped (and its socket removed) on drop.
#[derive(Debug)]
pub struct FakeEngine {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    /// Bytes the fault wrote before the caller stopped reading (or the fault ended).
    pub fault_bytes: Arc<AtomicU64>,
}

impl FakeEngine {
    /// Start serving with `fault` on the first `target` request.
    pub fn start(fault: Fault, target: Target) -> Self {
        let path = std::env::temp_dir().join(crate::faults::fault_name("fake-engine"));
        let listener = UnixListener::bind(&path).expect("bind the fake engine");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let fault_bytes = Arc::new(AtomicU64::new(0));
        let fired = Arc::new(AtomicBool::new(false));
        let (stop2, bytes2) = (Arc::clone(&stop), Arc::clone(&fault_bytes));
        std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (stop, bytes, fired) =
                            (Arc::clone(&stop2), Arc::clone(&bytes2), Arc::clone(&fired));
                        std::thread::spawn(move || {
                            let _ = serve(conn, fault, target, &fired, &bytes, &stop);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            path,
            stop,
            fault_bytes,
        }
    }

    /// The socket, as a `unix://` URL.
    pub fn socket(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `/containers/{id}/json`.
fn is_inspect(path: &str) -> bool {
    path.strip_prefix("/containers/")
        .and_then(|rest| rest.strip_suffix("/json"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

fn inspect_json() -> String {
    format!(
        r#"{{"Id":"fakeid","Name":"/{FAKE_CONTAINER}","Created":"2026-01-01T00:00:00Z",
"State":{{"Status":"running","Running":true,"ExitCode":0,"StartedAt":"2026-01-01T00:00:00Z"}},
"Config":{{"Image":"pocketdock/busybox","User":"","Labels":{{"pocketdock.managed":"true",
"pocketdock.instance":"{FAKE_CONTAINER}"}}}},"HostConfig":{{}},"NetworkSettings":{{}}}}"#
    )
}

/// One multiplexed frame.
fn frame(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut f = vec![kind, 0, 0, 0];
    f.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    f.extend_from_slice(data);
    f
}

fn respond(conn: &mut UnixStream, status: &str, ctype: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)
}

fn serve(
    mut conn: UnixStream,
    fault: Fault,
    target: Target,
    fired: &AtomicBool,
    bytes: &AtomicU64,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, full) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    // Without a /v1.xx prefix and the query.
    let path = full.split('?').next().unwrap_or("");
    let path = match path.strip_prefix("/v1.") {
        Some(rest) => rest.find('/').map_or(path, |i| &rest[i..]),
        None => path,
    };
    let this = match (method.as_str(), path) {
        ("GET" | "HEAD", "/_ping") => Target::Ping,
        // One container's inspect, not the list (`/containers/json`, which the background
        // reaper asks for at any time).
        ("GET", p) if is_inspect(p) => Target::Inspect,
        ("POST", p) if p.starts_with("/exec/") && p.ends_with("/start") => Target::ExecStart,
        ("GET", p) if p.starts_with("/containers/") && p.ends_with("/archive") => {
            Target::ArchiveGet
        }
        _ => Target::Ping,
    };
    let is_target = this == target
        && !matches!((method.as_str(), path), ("HEAD", _))
        && (this != Target::Ping || path == "/_ping");
    if is_target && !fired.swap(true, Ordering::SeqCst) {
        return inject(&mut conn, fault, this, bytes, stop);
    }
    match (method.as_str(), path) {
        (_, "/_ping") => respond(&mut conn, "200 OK", "text/plain", b"OK"),
        ("GET", "/version") => respond(
            &mut conn,
            "200 OK",
            "application/json",
            br#"{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux","Arch":"amd64","Components":[{"Name":"Engine","Version":"20.10.24"}]}"#,
        ),
        ("GET", p) if p.starts_with("/containers/json") => respond(
            &mut conn,
            "200 OK",
            "application/json",
            format!(
                r#"[{{"Id":"fakeid","Names":["/{FAKE_CONTAINER}"],"State":"running","Labels":{{"pocketdock.managed":"true","pocketdock.instance":"{FAKE_CONTAINER}"}}}}]"#
            )
            .as_bytes(),
        ),
        ("GET", p) if is_inspect(p) => {
            respond(&mut conn, "200 OK", "application/json", inspect_json().as_bytes())
        }
        ("POST", p) if p.starts_with("/containers/") && p.ends_with("/exec") => respond(
            &mut conn,
            "201 Created",
            "application/json",
            br#"{"Id":"fakeexec"}"#,
        ),
        ("POST", p) if p.starts_with("/exec/") && p.ends_with("/start") => {
            conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n\r\n",
            )?;
            conn.write_all(&frame(1, b"ok\n"))
        }
        ("GET", p) if p.starts_with("/exec/") && p.ends_with("/json") => respond(
            &mut conn,
            "200 OK",
            "application/json",
            br#"{"ID":"fakeexec","Running":false,"ExitCode":0,"Pid":0}"#,
        ),
        _ => respond(
            &mut conn,
            "404 Not Found",
            "application/json",
            br#"{"message":"no such thing in the fake engine"}"#,
        ),
    }
}

/// Write `data` until the caller stops reading, counting what went out.
fn pour(conn: &mut UnixStream, data: &[u8], times: usize, bytes: &AtomicU64) {
    conn.set_write_timeout(Some(Duration::from_secs(30))).ok();
    for _ in 0..times {
        if conn.write_all(data).is_err() {
            return;
        }
        bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
    }
}

fn inject(
    conn: &mut UnixStream,
    fault: Fault,
    this: Target,
    bytes: &AtomicU64,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let stream_head: &[u8] = if this == Target::ExecStart {
        b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n\r\n"
    } else {
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n"
    };
    let block = vec![0x5a_u8; 64 * 1024];
    match fault {
        Fault::MalformedHead => conn.write_all(b"HTTP/9 ??? what\r\nX: y\r\n\r\nbody")?,
        Fault::EarlyEof => conn.write_all(b"HTTP/1.1 20")?,
        Fault::EndlessHead => {
            conn.write_all(b"HTTP/1.1 200 OK\r\n")?;
            let line = format!("X-Filler: {}\r\n", "f".repeat(1000));
            pour(conn, line.as_bytes(), 1 << 20, bytes);
        }
        Fault::SlowLoris => {
            for b in b"HTTP/1.1 200 OK\r\nX-Slow: "
                .iter()
                .chain(std::iter::repeat(&b'z'))
            {
                if stop.load(Ordering::SeqCst) || conn.write_all(&[*b]).is_err() {
                    break;
                }
                bytes.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Fault::BadChunkSize => {
            conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nhello\r\n0\r\n\r\n",
            )?;
        }
        Fault::HugeChunk => {
            conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n",
            )?;
            pour(conn, &block, 256, bytes);
        }
        Fault::HugeFrame => {
            conn.write_all(stream_head)?;
            let mut h = vec![1, 0, 0, 0];
            h.extend_from_slice(&u32::MAX.to_be_bytes());
            conn.write_all(&h)?;
            // 64 MiB of the 4 GiB it claims, then the end.
            pour(conn, &block, 1024, bytes);
        }
        Fault::UnknownStream => {
            conn.write_all(stream_head)?;
            conn.write_all(&frame(1, b"fine\n"))?;
            conn.write_all(&frame(7, b"what is this"))?;
            pour(conn, &frame(1, &block), 16, bytes);
        }
    }
    Ok(())
}
