//! An agent process on this host, spoken to in frames with pocketdock-proto's codec.

#![allow(
    dead_code,
    reason = "each test file uses its own part of these helpers"
)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use pocketdock_proto::agent::{
    encode_frame, ExitReport, Frame, FrameDecoder, Hello, Kind, SpawnRequest,
};

/// How long a test waits for something the agent must do before it calls it a hang. Not a
/// timing assertion: on time the wait ends at once.
pub const HANG: Duration = Duration::from_secs(60);

/// What the agent said, as the test's reader thread saw it.
#[derive(Debug)]
pub enum Heard {
    Frame(Frame),
    /// Its stdout ended cleanly (between frames).
    End,
    /// Its stdout ended inside a frame or with a bad one.
    Broken(String),
}

/// A running agent.
pub struct Agent {
    pub child: Child,
    stdin: Option<ChildStdin>,
    heard: Receiver<Heard>,
    pub hello: Hello,
}

/// One command's frames, collected up to its end.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub pid: Option<u32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Sizes of the output frames, in order.
    pub frame_sizes: Vec<usize>,
    pub exit: Option<ExitReport>,
    pub spawn_failed: Option<String>,
}

impl Outcome {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    pub fn exit(&self) -> &ExitReport {
        self.exit
            .as_ref()
            .unwrap_or_else(|| panic!("no exit report: {self:?}"))
    }

    fn ended(&self) -> bool {
        self.exit.is_some() || self.spawn_failed.is_some()
    }

    /// Add one frame, checking the order the protocol promises: Started first, output next,
    /// Exit last, nothing after it.
    fn add(&mut self, frame: &Frame) {
        assert!(
            !self.ended(),
            "frame after the end of command {}: {frame:?}",
            frame.id
        );
        match frame.kind {
            Kind::Started => {
                assert!(self.pid.is_none(), "second Started: {frame:?}");
                self.pid = Some(frame.payload_u32().expect("Started pid"));
            }
            Kind::Stdout | Kind::Stderr => {
                assert!(self.pid.is_some(), "output before Started: {frame:?}");
                assert!(
                    !frame.payload.is_empty()
                        && frame.payload.len() <= pocketdock_proto::agent::MAX_DATA,
                    "output frame of {} bytes",
                    frame.payload.len()
                );
                self.frame_sizes.push(frame.payload.len());
                let sink = if frame.kind == Kind::Stdout {
                    &mut self.stdout
                } else {
                    &mut self.stderr
                };
                sink.extend_from_slice(&frame.payload);
            }
            Kind::Exit => {
                assert!(self.pid.is_some(), "Exit before Started: {frame:?}");
                self.exit = Some(serde_json::from_slice(&frame.payload).expect("Exit report"));
            }
            Kind::SpawnFailed => {
                assert!(self.pid.is_none(), "SpawnFailed after Started: {frame:?}");
                self.spawn_failed =
                    Some(String::from_utf8(frame.payload.to_vec()).expect("reason"));
            }
            other => panic!("unexpected {other:?} frame for a command: {frame:?}"),
        }
    }
}

pub fn argv(args: &[&str]) -> SpawnRequest {
    SpawnRequest {
        argv: args.iter().map(|s| (*s).to_owned()).collect(),
        ..SpawnRequest::default()
    }
}

pub fn sh(script: &str) -> SpawnRequest {
    argv(&["sh", "-c", script])
}

/// The agent under test: the one cargo built for these tests, or the program named by
/// `POCKETDOCK_AGENT_BIN` (to run the same tests on the static build of
/// `scripts/build-agent.sh`).
pub fn agent_program() -> std::ffi::OsString {
    std::env::var_os("POCKETDOCK_AGENT_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_pocketdock-agent").into())
}

impl Agent {
    /// Start the agent and read its hello.
    pub fn start() -> Self {
        let mut child = Command::new(agent_program())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the agent");
        let mut out = child.stdout.take().expect("agent stdout");
        let stdin = child.stdin.take();
        let (tx, heard) = mpsc::channel();
        std::thread::spawn(move || {
            let mut decoder = FrameDecoder::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = out.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    let end = match decoder.finish() {
                        Ok(()) => Heard::End,
                        Err(e) => Heard::Broken(e.to_string()),
                    };
                    let _ = tx.send(end);
                    return;
                }
                decoder.feed(&buf[..n]);
                loop {
                    match decoder.next_frame() {
                        Ok(Some(f)) => {
                            if tx.send(Heard::Frame(f)).is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx.send(Heard::Broken(e.to_string()));
                            return;
                        }
                    }
                }
            }
        });
        let mut agent = Self {
            child,
            stdin,
            heard,
            hello: Hello {
                protocol: 0,
                version: String::new(),
                pid: 0,
                uid: 0,
                gid: 0,
            },
        };
        let first = agent.frame();
        assert_eq!(
            (first.kind, first.id),
            (Kind::Hello, 0),
            "first frame: {first:?}"
        );
        agent.hello = serde_json::from_slice(&first.payload).expect("hello JSON");
        agent
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Write one frame (raw bytes for tests of malformed input: [`Agent::write_raw`]).
    pub fn send(&mut self, kind: Kind, id: u32, payload: &[u8]) {
        let mut buf = BytesMut::new();
        encode_frame(&mut buf, kind, id, payload);
        self.write_raw(&buf);
    }

    pub fn write_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("agent stdin still open");
        stdin.write_all(bytes).expect("write to the agent");
        stdin.flush().expect("flush to the agent");
    }

    /// A writer for another thread (for stdin larger than the pipes hold).
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("agent stdin still open")
    }

    /// Close the agent's stdin: the host went away.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn spawn(&mut self, id: u32, req: &SpawnRequest) {
        let json = serde_json::to_vec(req).expect("spawn JSON");
        self.send(Kind::Spawn, id, &json);
    }

    /// What the agent says next.
    pub fn hear(&self) -> Heard {
        match self.heard.recv_timeout(HANG) {
            Ok(h) => h,
            Err(RecvTimeoutError::Timeout) => panic!("the agent said nothing for {HANG:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the agent's reader is gone"),
        }
    }

    /// The next frame (panics on the end of the stream).
    pub fn frame(&self) -> Frame {
        match self.hear() {
            Heard::Frame(f) => f,
            other => panic!("expected a frame, the agent's stream: {other:?}"),
        }
    }

    /// Collect frames until every command in `ids` has ended (`Exit` or `SpawnFailed`). Frames of
    /// other ids are a failure.
    pub fn collect(&self, ids: &[u32]) -> BTreeMap<u32, Outcome> {
        self.collect_from(ids.iter().map(|id| (*id, Outcome::default())).collect())
    }

    /// Collect the rest of command `id`, whose `Started` (with `pid`) was already read.
    pub fn finish(&self, id: u32, pid: u32) -> Outcome {
        let started = Outcome {
            pid: Some(pid),
            ..Outcome::default()
        };
        self.collect_from([(id, started)].into())
            .remove(&id)
            .unwrap_or_default()
    }

    fn collect_from(&self, mut outcomes: BTreeMap<u32, Outcome>) -> BTreeMap<u32, Outcome> {
        while !outcomes.values().all(Outcome::ended) {
            let f = self.frame();
            outcomes
                .get_mut(&f.id)
                .unwrap_or_else(|| panic!("frame of an unexpected id: {f:?}"))
                .add(&f);
        }
        outcomes
    }

    /// Spawn `req` as `id` and collect its frames to its end.
    pub fn run(&mut self, id: u32, req: &SpawnRequest) -> Outcome {
        self.spawn(id, req);
        self.collect(&[id]).remove(&id).unwrap_or_default()
    }

    /// Wait for the agent to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let t0 = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the agent") {
                return status;
            }
            assert!(
                t0.elapsed() < HANG,
                "the agent did not exit within {HANG:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `check` until it holds, at most [`HANG`]; whether it held. For effects the agent
/// produces asynchronously (a reap); never a fixed sleep as an assertion.
pub fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    loop {
        if check() {
            return true;
        }
        if t0.elapsed() > HANG {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A process as /proc/<pid>/stat describes it: (state, ppid, pgid), or `None` once it is gone.
pub fn proc_stat(pid: u32) -> Option<(char, u32, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    let group = fields.next()?.parse().ok()?;
    Some((state, parent, group))
}

/// Every process of the host: (pid, state, ppid, pgid).
pub fn processes() -> Vec<(u32, char, u32, u32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            if let Some((state, ppid, pgid)) = proc_stat(pid) {
                out.push((pid, state, ppid, pgid));
            }
        }
    }
    out
}

/// The live members of process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(_, state, _, g)| *g == pgid && *state != 'Z')
        .map(|(pid, ..)| pid)
        .collect()
}

/// The children of `parent` (zombies included).
pub fn children_of(parent: u32) -> Vec<(u32, char)> {
    processes()
        .into_iter()
        .filter(|(_, _, ppid, _)| *ppid == parent)
        .map(|(pid, state, ..)| (pid, state))
        .collect()
}
