//! Long-lived attached execs: the shell of a session and an interactive TTY program.
//!
//! [`AttachOp`] creates an exec with stdin attached, starts it on a hijacked connection and then
//! keeps that connection: it reports [`AttachEvent::Attached`] as soon as the engine accepted the
//! upgrade (the driver may now write stdin through a second handle on the same connection) and
//! then one [`AttachEvent::Output`] per demultiplexed chunk until the engine closes the stream.
//! It never reads the exit code itself: [`ExecWaitOp`] polls exec inspect until the engine says
//! the exec has stopped (Podman reports `ExitCode: 0` while running, Docker `null`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::api::exec::{self, ExecInspect, ExecSpec};
use crate::api::{check, Subject};
use crate::demux::{DemuxMode, Demuxer, StreamKind};
use crate::error::{Error, ProtocolError, Result};
use crate::http::{Expect, ResponseHead};
use crate::op::exchange::{ExStep, Exchange};
use crate::op::{CallOp, Io, Operation, Response, Step, NONCE_VAR};
use crate::run::{validate_exec_options, TtyOptions};

/// `POST /exec/{id}/resize`: the TTY of exec `exec_id` becomes `rows` x `cols`.
pub fn resize_op(exec_id: &str, rows: u16, cols: u16) -> CallOp<()> {
    CallOp::new(
        "exec resize",
        &exec::resize(exec_id, rows, cols),
        |r: Response| check(&r, "exec resize", Subject::None),
    )
    .with_timeout(Some(Duration::from_secs(30)))
}

/// The exec of an interactive program `argv` on a TTY with `opts` (stdin attached, output
/// raw), checked: an empty argv, a bad environment entry or working directory, or a window of
/// zero rows or columns is invalid input naming the field.
pub fn tty_exec_spec(argv: &[&str], opts: &TtyOptions) -> Result<ExecSpec> {
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
    Ok(ExecSpec {
        cmd: argv.iter().map(|s| (*s).to_string()).collect(),
        env: opts.env.clone(),
        workdir: opts.workdir.clone(),
        user: opts.user.clone(),
        tty: true,
        stdin: true,
    })
}

/// How to start a long-lived attached exec.
#[derive(Debug, Clone)]
pub struct AttachConfig {
    /// Container id or name.
    pub container: String,
    /// What to run; `stdin` is forced on. With `tty` the stream is raw (stderr merged).
    pub spec: ExecSpec,
    /// A unique token put in the exec's environment (`POCKETDOCK_EXEC`), marking its processes.
    pub nonce: String,
    /// Deadline of exec create, and of the start response head.
    pub call_timeout: Duration,
}

impl AttachConfig {
    /// A config with a 60 s deadline for the engine calls.
    pub fn new(container: impl Into<String>, spec: ExecSpec, nonce: impl Into<String>) -> Self {
        Self {
            container: container.into(),
            spec,
            nonce: nonce.into(),
            call_timeout: Duration::from_secs(60),
        }
    }
}

/// Events of an attached exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachEvent {
    /// The engine accepted the upgrade: stdin may be written from now on (through a second
    /// handle on the same connection; the driver keeps reading).
    Attached {
        /// Exec id.
        exec_id: String,
    },
    /// Output, as it arrived (stdout only, with a TTY).
    Output {
        /// Which stream.
        stream: StreamKind,
        /// The bytes.
        data: Bytes,
    },
}

enum AttachState {
    Create(CallOp<String>),
    Start {
        ex: Exchange,
        head: Option<ResponseHead>,
        error_body: BytesMut,
    },
    Finished,
}

/// Create and start an exec with stdin attached, then stream its output until the engine closes
/// the connection. Finishes with `Ok(())` at a clean end of stream; the exit code is read with
/// [`ExecWaitOp`]. See the module docs.
pub struct AttachOp {
    config: AttachConfig,
    state: AttachState,
    demux: Demuxer,
    events: VecDeque<AttachEvent>,
    exec_id: String,
}

impl std::fmt::Debug for AttachOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachOp")
            .field("container", &self.config.container)
            .field("exec_id", &self.exec_id)
            .finish_non_exhaustive()
    }
}

impl AttachOp {
    /// Prepare the exec; nothing happens until it is polled.
    pub fn new(mut config: AttachConfig) -> Self {
        config.spec.stdin = true;
        config
            .spec
            .env
            .push(format!("{NONCE_VAR}={}", config.nonce));
        let create = crate::op::calls::exec_create(&config.container, &config.spec)
            .with_timeout(Some(config.call_timeout));
        let mode = if config.spec.tty {
            DemuxMode::Raw
        } else {
            DemuxMode::Multiplexed
        };
        Self {
            state: AttachState::Create(create),
            demux: Demuxer::new(mode),
            events: VecDeque::new(),
            exec_id: String::new(),
            config,
        }
    }

    /// The exec id, once created.
    pub fn exec_id(&self) -> &str {
        &self.exec_id
    }

    /// The nonce marking the exec's processes.
    pub fn nonce(&self) -> &str {
        &self.config.nonce
    }

    /// The container.
    pub fn container(&self) -> &str {
        &self.config.container
    }

    fn fail(&mut self, e: Error) -> Step<AttachEvent, ()> {
        self.state = AttachState::Finished;
        Step::Done(Err(e))
    }

    fn stream_error(&self, head: &ResponseHead, body: &[u8]) -> Error {
        let resp = Response {
            head: head.clone(),
            body: Bytes::copy_from_slice(body),
        };
        match check(
            &resp,
            "exec start",
            Subject::Container(&self.config.container),
        ) {
            Err(e) => e,
            Ok(()) => Error::Protocol(ProtocolError::UnexpectedStatus(head.status)),
        }
    }
}

fn accepted(head: &ResponseHead) -> bool {
    head.status == 101 || head.is_success()
}

impl Operation for AttachOp {
    type Event = AttachEvent;
    type Output = ();

    fn poll(&mut self, now: Instant) -> Step<AttachEvent, ()> {
        loop {
            if let Some(ev) = self.events.pop_front() {
                return Step::Event(ev);
            }
            match &mut self.state {
                AttachState::Create(call) => match call.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    Step::Done(Ok(id)) => {
                        self.exec_id.clone_from(&id);
                        let mut ex = Exchange::new(
                            "exec start",
                            &exec::start(&id, self.config.spec.tty),
                            Expect::Hijack,
                            None,
                        );
                        ex.set_deadline(Some(now + self.config.call_timeout));
                        self.state = AttachState::Start {
                            ex,
                            head: None,
                            error_body: BytesMut::new(),
                        };
                    }
                    Step::Done(Err(e)) => return self.fail(e),
                },
                AttachState::Start {
                    ex,
                    head,
                    error_body,
                } => match ex.poll(now) {
                    ExStep::Io(io) => return Step::Io(io),
                    ExStep::Head(h) => {
                        if accepted(&h) {
                            // Attached: from now on the stream has no deadline.
                            ex.set_deadline(None);
                            self.events.push_back(AttachEvent::Attached {
                                exec_id: self.exec_id.clone(),
                            });
                        }
                        *head = Some(h);
                    }
                    ExStep::Data(mut d) => {
                        if !head.as_ref().is_some_and(accepted) {
                            if error_body.len() < 64 * 1024 {
                                error_body.extend_from_slice(&d);
                            }
                            continue;
                        }
                        loop {
                            match self.demux.next_chunk(&mut d) {
                                Ok(Some((stream, data))) => {
                                    if !data.is_empty() {
                                        self.events.push_back(AttachEvent::Output { stream, data });
                                    }
                                }
                                Ok(None) => break,
                                Err(e) => return self.fail(e.into()),
                            }
                        }
                    }
                    ExStep::End => {
                        let Some(h) = head.take() else {
                            return self.fail(ProtocolError::EmptyResponse.into());
                        };
                        if !accepted(&h) {
                            let body = std::mem::take(error_body);
                            let e = self.stream_error(&h, &body);
                            return self.fail(e);
                        }
                        if let Err(e) = self.demux.finish() {
                            return self.fail(e.into());
                        }
                        self.state = AttachState::Finished;
                        return Step::Done(Ok(()));
                    }
                    ExStep::Failed(e) => return self.fail(e),
                },
                AttachState::Finished => {
                    return Step::Done(Err(Error::SocketCommunication(
                        "operation polled after completion".into(),
                    )))
                }
            }
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        match &mut self.state {
            AttachState::Create(c) => c.handle_input(now, data),
            AttachState::Start { ex, .. } => ex.handle_input(data),
            AttachState::Finished => {}
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        match &mut self.state {
            AttachState::Create(c) => c.handle_eof(now),
            AttachState::Start { ex, .. } => ex.handle_eof(),
            AttachState::Finished => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match &mut self.state {
            AttachState::Create(c) => c.handle_timeout(now),
            AttachState::Start { ex, .. } => {
                ex.handle_timeout(now);
            }
            AttachState::Finished => {}
        }
    }
}

enum WaitState {
    Inspect { call: Box<CallOp<ExecInspect>> },
    Backoff { until: Instant },
    Finished,
}

/// Poll exec inspect until the engine says exec `exec_id` has stopped, and return its exit
/// code. Backs off from 5 ms to 200 ms between polls.
pub struct ExecWaitOp {
    container: String,
    exec_id: String,
    call_timeout: Duration,
    give_up: Option<Duration>,
    deadline: Option<Instant>,
    attempt: u32,
    state: WaitState,
}

impl std::fmt::Debug for ExecWaitOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecWaitOp")
            .field("exec_id", &self.exec_id)
            .field("give_up", &self.give_up)
            .finish_non_exhaustive()
    }
}

const BACKOFF_START: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_millis(200);

impl ExecWaitOp {
    /// Wait for exec `exec_id` of `container` (the container only names errors). With
    /// `give_up`, fail with [`Error::Timeout`] when the exec is still running that long after the
    /// first poll; with `None`, wait as long as it runs.
    pub fn new(container: &str, exec_id: &str, give_up: Option<Duration>) -> Self {
        let mut op = Self {
            container: container.to_string(),
            exec_id: exec_id.to_string(),
            call_timeout: Duration::from_secs(60),
            give_up,
            deadline: None,
            attempt: 0,
            state: WaitState::Finished,
        };
        op.state = WaitState::Inspect {
            call: Box::new(op.inspect_call()),
        };
        op
    }

    fn inspect_call(&self) -> CallOp<ExecInspect> {
        crate::op::calls::exec_inspect(&self.container, &self.exec_id)
            .with_timeout(Some(self.call_timeout))
    }
}

impl Operation for ExecWaitOp {
    type Event = ();
    type Output = i64;

    fn poll(&mut self, now: Instant) -> Step<(), i64> {
        let deadline = *self
            .deadline
            .get_or_insert_with(|| self.give_up.map_or(now, |g| now + g));
        loop {
            match &mut self.state {
                WaitState::Inspect { call } => match call.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    Step::Done(Ok(info)) => match info.exit_code {
                        Some(code) if !info.running => {
                            self.state = WaitState::Finished;
                            return Step::Done(Ok(code));
                        }
                        _ if self.give_up.is_some() && now >= deadline => {
                            self.state = WaitState::Finished;
                            return Step::Done(Err(Error::Timeout {
                                op: "exec exit code",
                                after_ms: self.give_up.map_or(0, |g| g.as_millis() as u64),
                            }));
                        }
                        _ => {
                            let wait = BACKOFF_START
                                .saturating_mul(1u32 << self.attempt.min(8))
                                .min(BACKOFF_MAX);
                            self.attempt += 1;
                            self.state = WaitState::Backoff { until: now + wait };
                        }
                    },
                    Step::Done(Err(e)) => {
                        self.state = WaitState::Finished;
                        return Step::Done(Err(e));
                    }
                },
                WaitState::Backoff { until } if now < *until => return Step::Io(Io::Wait(*until)),
                WaitState::Backoff { .. } => {
                    self.state = WaitState::Inspect {
                        call: Box::new(self.inspect_call()),
                    };
                }
                WaitState::Finished => {
                    return Step::Done(Err(Error::SocketCommunication(
                        "operation polled after completion".into(),
                    )))
                }
            }
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if let WaitState::Inspect { call } = &mut self.state {
            call.handle_input(now, data);
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        if let WaitState::Inspect { call } = &mut self.state {
            call.handle_eof(now);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let WaitState::Inspect { call } = &mut self.state {
            call.handle_timeout(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demux::encode_frame;
    use crate::error::Result;
    use crate::session::shell::session_shell;

    #[derive(Clone)]
    struct Reply {
        prefix: &'static str,
        bytes: Vec<u8>,
        hang: bool,
        repeat: bool,
    }

    fn reply(prefix: &'static str, bytes: Vec<u8>) -> Reply {
        Reply {
            prefix,
            bytes,
            hang: false,
            repeat: false,
        }
    }

    fn json(status: &str, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn upgrade(frames: &[(StreamKind, &[u8])]) -> Vec<u8> {
        let mut v = b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_vec();
        for (k, p) in frames {
            v.extend(encode_frame(*k, p));
        }
        v
    }

    struct Outcome<E, T> {
        events: Vec<E>,
        result: Result<T>,
        requests: Vec<String>,
        elapsed: Duration,
    }

    /// Drive `op` against scripted replies, delivering each in pieces of `step` bytes, with a
    /// virtual clock.
    fn drive<O: Operation>(
        mut op: O,
        script: Vec<Reply>,
        step: usize,
    ) -> Outcome<O::Event, O::Output> {
        let start = Instant::now();
        let mut now = start;
        let mut script: VecDeque<Reply> = script.into();
        let mut pending: Option<(Vec<u8>, usize, bool)> = None;
        let mut events = Vec::new();
        let mut requests = Vec::new();
        for _ in 0..100_000 {
            match op.poll(now) {
                Step::Io(Io::Connect | Io::Close) => pending = None,
                Step::Io(Io::ShutdownWrite) => {}
                Step::Io(Io::Write(bytes)) => {
                    let text = String::from_utf8_lossy(&bytes);
                    let line = text.lines().next().unwrap_or_default().to_string();
                    let next = script
                        .pop_front()
                        .unwrap_or_else(|| panic!("no reply scripted for {line}"));
                    assert!(
                        line.starts_with(next.prefix),
                        "expected {:?}, got {line:?}",
                        next.prefix
                    );
                    requests.push(text.to_string());
                    if next.repeat {
                        script.push_front(next.clone());
                    }
                    pending = Some((next.bytes, 0, next.hang));
                }
                Step::Io(Io::Read { deadline }) => match &mut pending {
                    Some((bytes, pos, hang)) => {
                        if *pos < bytes.len() {
                            let end = (*pos + step).min(bytes.len());
                            now += Duration::from_millis(1);
                            op.handle_input(now, &bytes[*pos..end]);
                            *pos = end;
                        } else if *hang {
                            let d =
                                deadline.unwrap_or_else(|| panic!("hanging read without deadline"));
                            now = now.max(d);
                            op.handle_timeout(now);
                        } else {
                            op.handle_eof(now);
                        }
                    }
                    None => panic!("read without a request"),
                },
                Step::Io(Io::Wait(t)) => {
                    assert!(t >= now);
                    now = t;
                    op.handle_timeout(now);
                }
                Step::Event(e) => events.push(e),
                Step::Done(result) => {
                    assert!(
                        script.iter().all(|r| r.repeat),
                        "unused replies: {}",
                        script.len()
                    );
                    return Outcome {
                        events,
                        result,
                        requests,
                        elapsed: now - start,
                    };
                }
            }
        }
        panic!("operation did not finish");
    }

    fn config(tty: bool) -> AttachConfig {
        AttachConfig::new(
            "ctr",
            ExecSpec {
                cmd: session_shell(),
                tty,
                ..ExecSpec::default()
            },
            "sess1",
        )
    }

    fn created() -> Reply {
        reply(
            "POST /containers/ctr/exec",
            json("201 Created", r#"{"Id":"e1"}"#),
        )
    }

    fn outputs(events: &[AttachEvent]) -> Vec<(StreamKind, Vec<u8>)> {
        let mut v: Vec<(StreamKind, Vec<u8>)> = Vec::new();
        for e in events {
            if let AttachEvent::Output { stream, data } = e {
                match v.last_mut() {
                    Some((k, d)) if k == stream => d.extend_from_slice(data),
                    _ => v.push((*stream, data.to_vec())),
                }
            }
        }
        v
    }

    #[test]
    fn attach_then_output_until_eof_at_every_split() {
        for step in [1, 2, 3, 7, 8, 9, 64, 100_000] {
            let out = drive(
                AttachOp::new(config(false)),
                vec![
                    created(),
                    reply(
                        "POST /exec/e1/start",
                        upgrade(&[
                            (StreamKind::Stdout, b"hello\n"),
                            (StreamKind::Stderr, b"warn"),
                        ]),
                    ),
                ],
                step,
            );
            assert!(out.result.is_ok(), "step {step}: {:?}", out.result.err());
            assert_eq!(
                out.events.first(),
                Some(&AttachEvent::Attached {
                    exec_id: "e1".into()
                })
            );
            assert_eq!(
                outputs(&out.events),
                vec![
                    (StreamKind::Stdout, b"hello\n".to_vec()),
                    (StreamKind::Stderr, b"warn".to_vec())
                ]
            );
            let create = &out.requests[0];
            assert!(create.contains(r#""AttachStdin":true"#), "{create}");
            assert!(create.contains(r#""Tty":false"#), "{create}");
            assert!(create.contains("POCKETDOCK_EXEC=sess1"), "{create}");
            assert!(out.requests[1].contains("Upgrade: tcp"));
        }
    }

    #[test]
    fn tty_stream_is_raw() {
        let mut raw =
            b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_vec();
        raw.extend_from_slice(b"\x01\x00\x00\x00prompt$ ");
        for step in [1, 5, 1000] {
            let out = drive(
                AttachOp::new(config(true)),
                vec![created(), reply("POST /exec/e1/start", raw.clone())],
                step,
            );
            assert!(out.result.is_ok());
            assert_eq!(
                outputs(&out.events),
                vec![(StreamKind::Stdout, b"\x01\x00\x00\x00prompt$ ".to_vec())]
            );
            assert!(out.requests[0].contains(r#""Tty":true"#));
        }
    }

    #[test]
    fn plain_200_stream_is_accepted() {
        let mut r =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n\r\n"
                .to_vec();
        r.extend(encode_frame(StreamKind::Stdout, b"x"));
        let out = drive(
            AttachOp::new(config(false)),
            vec![created(), reply("POST /exec/e1/start", r)],
            3,
        );
        assert!(out.result.is_ok());
        assert_eq!(
            outputs(&out.events),
            vec![(StreamKind::Stdout, b"x".to_vec())]
        );
    }

    #[test]
    fn no_deadline_once_attached() {
        let t0 = Instant::now();
        let mut op = AttachOp::new(config(false));
        assert!(matches!(op.poll(t0), Step::Io(Io::Connect)));
        assert!(matches!(op.poll(t0), Step::Io(Io::Write(_))));
        assert!(matches!(
            op.poll(t0),
            Step::Io(Io::Read { deadline: Some(_) })
        ));
        op.handle_input(t0, &json("201 Created", r#"{"Id":"e1"}"#));
        assert!(matches!(op.poll(t0), Step::Io(Io::Connect)));
        assert!(matches!(op.poll(t0), Step::Io(Io::Write(_))));
        match op.poll(t0) {
            Step::Io(Io::Read { deadline: Some(d) }) => assert_eq!(d, t0 + Duration::from_secs(60)),
            other => panic!("{other:?}"),
        }
        op.handle_input(t0, &upgrade(&[]));
        match op.poll(t0) {
            Step::Event(AttachEvent::Attached { exec_id }) => assert_eq!(exec_id, "e1"),
            other => panic!("{other:?}"),
        }
        assert_eq!(op.exec_id(), "e1");
        assert!(matches!(op.poll(t0), Step::Io(Io::Read { deadline: None })));
        // Hours later, still attached.
        let later = t0 + Duration::from_secs(7200);
        op.handle_input(later, &encode_frame(StreamKind::Stdout, b"late"));
        assert!(matches!(
            op.poll(later),
            Step::Event(AttachEvent::Output { .. })
        ));
        op.handle_eof(later);
        assert!(matches!(op.poll(later), Step::Done(Ok(()))));
    }

    #[test]
    fn errors_are_typed() {
        let out = drive(
            AttachOp::new(config(false)),
            vec![reply(
                "POST /containers/ctr/exec",
                json("404 Not Found", r#"{"message":"No such container: ctr"}"#),
            )],
            7,
        );
        assert!(matches!(out.result, Err(Error::ContainerNotFound(_))));
        let out = drive(
            AttachOp::new(config(false)),
            vec![
                created(),
                reply(
                    "POST /exec/e1/start",
                    json(
                        "409 Conflict",
                        r#"{"message":"container ctr is not running"}"#,
                    ),
                ),
            ],
            7,
        );
        assert!(matches!(out.result, Err(Error::ContainerNotRunning(_))));
        assert!(out.events.is_empty(), "no Attached on an error status");
        let mut cut = upgrade(&[(StreamKind::Stdout, b"abc")]);
        cut.truncate(cut.len() - 1);
        let out = drive(
            AttachOp::new(config(false)),
            vec![created(), reply("POST /exec/e1/start", cut)],
            4,
        );
        assert!(matches!(
            out.result,
            Err(Error::Protocol(ProtocolError::TruncatedFramePayload { .. }))
        ));
    }

    #[test]
    fn start_head_has_a_deadline() {
        let mut r = reply("POST /exec/e1/start", Vec::new());
        r.hang = true;
        let out = drive(AttachOp::new(config(false)), vec![created(), r], 7);
        assert!(
            matches!(out.result, Err(Error::Timeout { .. })),
            "{:?}",
            out.result.err()
        );
        assert!(out.elapsed >= Duration::from_secs(60));
    }

    fn inspect(running: bool, code: &str) -> Reply {
        reply(
            "GET /exec/e1/json",
            json(
                "200 OK",
                &format!(r#"{{"Running":{running},"ExitCode":{code},"Pid":1}}"#),
            ),
        )
    }

    #[test]
    fn wait_polls_until_stopped() {
        for step in [1, 9, 10_000] {
            let out = drive(
                ExecWaitOp::new("ctr", "e1", Some(Duration::from_secs(5))),
                vec![
                    inspect(true, "0"),
                    inspect(false, "null"),
                    inspect(true, "null"),
                    inspect(false, "4"),
                ],
                step,
            );
            assert_eq!(out.result.ok(), Some(4));
            assert_eq!(out.requests.len(), 4);
        }
    }

    #[test]
    fn wait_gives_up_or_waits_forever() {
        let mut running = inspect(true, "0");
        running.repeat = true;
        let out = drive(
            ExecWaitOp::new("ctr", "e1", Some(Duration::from_secs(1))),
            vec![running.clone()],
            100,
        );
        assert!(
            matches!(out.result, Err(Error::Timeout { .. })),
            "{:?}",
            out.result.err()
        );
        assert!(out.elapsed >= Duration::from_secs(1));
        assert!(out.elapsed < Duration::from_secs(2));
        let mut s: Vec<Reply> = (0..40).map(|_| inspect(true, "0")).collect();
        s.push(inspect(false, "130"));
        let out = drive(ExecWaitOp::new("ctr", "e1", None), s, 100);
        assert_eq!(out.result.ok(), Some(130));
        assert!(
            out.elapsed > Duration::from_secs(5),
            "backs off up to 200 ms"
        );
        let out = drive(
            ExecWaitOp::new("ctr", "e1", None),
            vec![reply(
                "GET /exec/e1/json",
                json("404 Not Found", r#"{"message":"no such exec"}"#),
            )],
            100,
        );
        assert!(out.result.is_err());
    }

    #[test]
    fn resize_request() {
        let out = drive(
            resize_op("e1", 40, 120),
            vec![reply(
                "POST /exec/e1/resize?h=40&w=120",
                json("201 Created", ""),
            )],
            5,
        );
        assert!(out.result.is_ok(), "{:?}", out.result.err());
    }
}
