//! Helpers of the fault tests: the private engines a test may stop and start
//! (`scripts/fault-engines.sh`), container names removed even when a test fails, a watchdog
//! that turns a hang into a failure, and the raw engine calls that act behind a sandbox's back.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pocketdock_proto::Error;

/// Every container the fault tests create carries this prefix.
pub const PREFIX: &str = "h16b-";

/// How long a caller may wait for an error once the fault happened: a hang breaks it, a slow
/// machine does not.
pub const PROMPTLY: Duration = Duration::from_secs(30);

/// A unique container name with the fault tests' prefix.
pub fn fault_name(tag: &str) -> String {
    crate::prefixed_unique_name(PREFIX, tag)
}

/// The socket of the private engine `which` (`podman` or `docker`), from
/// `POCKETDOCK_FAULT_PODMAN` / `POCKETDOCK_FAULT_DOCKER` (`scripts/fault-engines.sh env`). A
/// missing engine is a failure, never a skip.
pub fn fault_socket(which: &str) -> String {
    let var = format!("POCKETDOCK_FAULT_{}", which.to_ascii_uppercase());
    match std::env::var(&var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: start the private engines with `scripts/fault-engines.sh up` and \
             `eval \"$(scripts/fault-engines.sh env)\"`"
        ),
    }
}

/// The script that owns the private engines.
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/fault-engines.sh")
}

/// Stop (`"stop"`) or start (`"start"`) the private engine `which`, panicking when the script
/// fails.
pub fn fault_engine(action: &str, which: &str) {
    let out = std::process::Command::new(script())
        .args([action, which])
        .output()
        .expect("run scripts/fault-engines.sh");
    assert!(
        out.status.success(),
        "fault-engines.sh {action} {which}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One test at a time per private engine: a test that stops it must not stop it under another.
pub fn engine_lock(which: &str) -> MutexGuard<'static, ()> {
    static PODMAN: Mutex<()> = Mutex::new(());
    static DOCKER: Mutex<()> = Mutex::new(());
    let m = if which == "podman" { &PODMAN } else { &DOCKER };
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Containers removed (forced) when this guard drops, also when the test panicked.
#[derive(Debug)]
pub struct Names {
    socket: String,
    names: Mutex<Vec<String>>,
}

impl Names {
    /// Names on the engine at `socket`.
    pub fn new(socket: &str) -> Self {
        Self {
            socket: socket.to_string(),
            names: Mutex::default(),
        }
    }

    /// A fresh name, removed at the end.
    pub fn name(&self, tag: &str) -> String {
        let n = fault_name(tag);
        self.names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(n.clone());
        n
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.names.lock().unwrap_or_else(PoisonError::into_inner));
        for n in names {
            raw(
                &self.socket,
                "DELETE",
                &format!("/containers/{n}?force=true"),
                b"",
            );
        }
    }
}

/// One request on a fresh connection; the status and body (`None` when the engine could not be
/// reached or did not answer).
pub fn raw(socket: &str, method: &str, path: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
    match raw_call(socket, method, path, body) {
        Ok(v) => Some(v),
        Err(e) => {
            eprintln!("{method} {path}: {e}");
            None
        }
    }
}

fn raw_call(
    socket: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    use std::io::{Error as IoError, ErrorKind};
    let p = socket.strip_prefix("unix://").unwrap_or(socket);
    let mut s = std::os::unix::net::UnixStream::connect(p)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut out = Vec::new();
    // An engine may reset the connection right after its answer: keep what arrived.
    if let Err(e) = s.read_to_end(&mut out) {
        if out.is_empty() {
            return Err(e);
        }
    }
    let bad = || {
        IoError::new(
            ErrorKind::InvalidData,
            String::from_utf8_lossy(&out).into_owned(),
        )
    };
    let text = String::from_utf8_lossy(out.get(..out.len().min(64)).unwrap_or_default());
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)?;
    let at = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?
        + 4;
    Ok((status, out.split_off(at)))
}

/// Names of the containers on the engine at `socket` (all states).
pub fn container_names(socket: &str) -> Vec<String> {
    let (status, body) = raw(socket, "GET", "/containers/json?all=true", b"").expect("list");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // The body may be chunked: keep what parses as names.
    let text = String::from_utf8_lossy(&body);
    let mut names: Vec<String> = text
        .split("\"Names\":[")
        .skip(1)
        .filter_map(|s| s.split('"').nth(1))
        .map(|s| s.trim_start_matches('/').to_string())
        .collect();
    names.sort();
    names
}

/// Run `f` on a thread of its own and wait at most `limit` for it: a hang is a failure with
/// `what` in the message, not a test run that never ends.
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let t0 = Instant::now();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            let _ = handle.join();
            v
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("{what}: the worker ended without an answer"),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: no answer after {:?} (a hang)", t0.elapsed())
        }
    }
}

/// The errors that say the engine went away under a call: the connection broke, could not be
/// made, the engine's bytes stopped mid-protocol, a deadline passed, or the container (whose
/// engine is gone) can no longer be used. Anything else is a wrong answer.
pub fn is_engine_loss(e: &Error) -> bool {
    matches!(
        e,
        Error::SocketConnection { .. }
            | Error::SocketCommunication(_)
            | Error::Protocol(_)
            | Error::Io(_)
            | Error::Timeout { .. }
            | Error::SessionClosed
            | Error::ContainerGone(_)
            | Error::ContainerNotRunning(_)
            | Error::ContainerNotFound(_)
    )
}

/// The errors that say the container went away or stopped under a call.
pub fn is_container_loss(e: &Error) -> bool {
    matches!(
        e,
        Error::ContainerGone(_)
            | Error::ContainerNotRunning(_)
            | Error::ContainerNotFound(_)
            | Error::SessionClosed
    )
}

/// Read the peak resident set (`VmHWM`, bytes) of process `pid` from `/proc`.
pub fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
