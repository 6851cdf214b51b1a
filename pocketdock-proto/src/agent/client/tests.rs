//! The agent client on a virtual clock, with the agent's frames delivered at every split point.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::*;
use crate::agent::MAX_DATA;
use crate::api::exec::ExecSpec;
use crate::capture::OutputLimit;
use crate::LimitPolicy;

fn config(timeout: Option<Duration>) -> ExecConfig {
    let spec = ExecSpec {
        cmd: vec!["sh".into(), "-c".into(), "echo hi".into()],
        env: vec!["A=1".into()],
        workdir: Some("/tmp".into()),
        user: None,
        tty: false,
        stdin: false,
    };
    let mut c = ExecConfig::new("box", spec, "nonce-1");
    c.timeout = timeout;
    c
}

fn frame(kind: Kind, id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_frame(&mut out, kind, id, payload);
    out.to_vec()
}

/// The agent's output as the adapters hand it over, from a slice.
trait FeedOut {
    fn feed_out(&mut self, now: Instant, stream: StreamKind, data: &[u8]);
}

impl FeedOut for AgentClient {
    fn feed_out(&mut self, now: Instant, stream: StreamKind, data: &[u8]) {
        self.handle_output(now, stream, Bytes::copy_from_slice(data));
    }
}

fn hello() -> Vec<u8> {
    let hello = format!(
        r#"{{"protocol":{AGENT_PROTOCOL},"version":"0.1.0","pid":7,"uid":1000,"gid":1000}}"#
    );
    frame(Kind::Hello, 0, hello.as_bytes())
}

/// Decode every frame the client wrote.
fn written(c: &mut AgentClient) -> Vec<Frame> {
    let mut d = FrameDecoder::new();
    if let Some(b) = c.take_write() {
        d.feed(&b);
    }
    let mut out = Vec::new();
    while let Ok(Some(f)) = d.next_frame() {
        out.push(f);
    }
    out
}

/// Feed `wire` split at `at` (two pieces).
fn feed_split(c: &mut AgentClient, now: Instant, wire: &[u8], at: usize) {
    c.feed_out(now, StreamKind::Stdout, &wire[..at]);
    c.feed_out(now, StreamKind::Stdout, &wire[at..]);
}

fn done(p: AgentPoll) -> Result<ExecResult> {
    match p {
        AgentPoll::Done(r) => r,
        AgentPoll::Pending { deadline } => panic!("still pending (deadline {deadline:?})"),
    }
}

#[test]
fn a_command_runs_at_every_split_of_the_agent_answer() {
    let t0 = Instant::now();
    let mut wire = hello();
    wire.extend(frame(Kind::Started, 1, &42u32.to_be_bytes()));
    wire.extend(frame(Kind::Stdout, 1, b"hi\n"));
    wire.extend(frame(Kind::Stderr, 1, b"warn\n"));
    wire.extend(frame(
        Kind::Exit,
        1,
        br#"{"code":3,"user_usec":1500,"sys_usec":500,"max_rss_kib":2048}"#,
    ));
    for at in 0..=wire.len() {
        let mut c = AgentClient::new();
        let id = c.spawn(t0, &config(None)).unwrap_or_else(|e| panic!("{e}"));
        let out = written(&mut c);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, Kind::Spawn);
        let req: SpawnRequest =
            serde_json::from_slice(&out[0].payload).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.argv, ["sh", "-c", "echo hi"]);
        assert_eq!(req.env, ["A=1", "POCKETDOCK_EXEC=nonce-1"]);
        assert_eq!(req.cwd.as_deref(), Some("/tmp"));
        assert!(matches!(
            c.poll_command(id, t0),
            AgentPoll::Pending { deadline: None }
        ));
        feed_split(&mut c, t0 + Duration::from_millis(2), &wire, at);
        assert_eq!(c.hello().map(|h| h.pid), Some(7));
        let r = done(c.poll_command(id, t0 + Duration::from_millis(3)))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (r.exit_code, r.stdout_str(), r.stderr_str()),
            (3, "hi\n".into(), "warn\n".into())
        );
        assert!(!r.timed_out && !r.truncated);
        assert_eq!(r.duration, Duration::from_millis(3));
        let usage = r.usage.unwrap_or_default();
        assert_eq!(usage.user_cpu, Duration::from_micros(1500));
        assert_eq!(usage.system_cpu, Duration::from_micros(500));
        assert_eq!(usage.peak_rss_bytes, 2048 * 1024);
        // Forgotten once done.
        assert!(matches!(
            c.poll_command(id, t0),
            AgentPoll::Done(Err(Error::InvalidUse(_)))
        ));
    }
}

#[test]
fn the_deadline_kills_the_group_and_keeps_the_output_read_so_far() {
    let t0 = Instant::now();
    let mut c = AgentClient::new();
    let id = c
        .spawn(t0, &config(Some(Duration::from_secs(1))))
        .unwrap_or_else(|e| panic!("{e}"));
    written(&mut c);
    c.feed_out(t0, StreamKind::Stdout, &frame(Kind::Stdout, 1, b"partial"));
    assert!(matches!(
        c.poll_command(id, t0 + Duration::from_millis(999)),
        AgentPoll::Pending { deadline: Some(d) } if d == t0 + Duration::from_secs(1)
    ));
    let at = t0 + Duration::from_secs(1);
    assert!(matches!(
        c.poll_command(id, at),
        AgentPoll::Pending { deadline: Some(d) } if d == at + KILL_GRACE
    ));
    let out = written(&mut c);
    assert_eq!((out[0].kind, out[0].payload_u32()), (Kind::Signal, Ok(9)));
    // Output after the kill is not kept; the agent's exit report ends it.
    c.feed_out(at, StreamKind::Stdout, &frame(Kind::Stdout, 1, b"late"));
    c.feed_out(
        at,
        StreamKind::Stdout,
        &frame(Kind::Exit, 1, br#"{"code":137,"signal":9}"#),
    );
    let r =
        done(c.poll_command(id, at + Duration::from_millis(5))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.exit_code, r.timed_out), (-1, true));
    assert_eq!(r.stdout, b"partial");
}

#[test]
fn a_killed_command_that_never_reports_ends_after_the_grace() {
    let t0 = Instant::now();
    let mut c = AgentClient::new();
    let id = c
        .spawn(t0, &config(Some(Duration::from_secs(1))))
        .unwrap_or_else(|e| panic!("{e}"));
    let at = t0 + Duration::from_secs(1);
    let _ = c.poll_command(id, at);
    assert!(matches!(
        c.poll_command(id, at + KILL_GRACE.saturating_sub(Duration::from_millis(1))),
        AgentPoll::Pending { .. }
    ));
    let r = done(c.poll_command(id, at + KILL_GRACE)).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.timed_out && r.exit_code == -1 && r.usage.is_none());
}

#[test]
fn the_cap_with_stop_kills_and_truncates() {
    let t0 = Instant::now();
    let mut c = AgentClient::new();
    let mut cfg = config(None);
    cfg.limit = Some(OutputLimit {
        max_bytes: 4,
        policy: LimitPolicy::Stop,
    });
    let id = c.spawn(t0, &cfg).unwrap_or_else(|e| panic!("{e}"));
    written(&mut c);
    c.feed_out(t0, StreamKind::Stdout, &frame(Kind::Stdout, 1, b"abcdefgh"));
    let out = written(&mut c);
    assert_eq!((out[0].kind, out[0].payload_u32()), (Kind::Signal, Ok(9)));
    c.feed_out(
        t0,
        StreamKind::Stdout,
        &frame(Kind::Exit, 1, br#"{"code":137,"signal":9}"#),
    );
    let r = done(c.poll_command(id, t0)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.exit_code, r.truncated, r.elided_bytes), (-1, true, 4));
    assert_eq!(r.stdout, b"abcd");
}

#[test]
fn a_program_that_cannot_start_reports_as_a_shell_would() {
    let t0 = Instant::now();
    let mut c = AgentClient::new();
    let id = c.spawn(t0, &config(None)).unwrap_or_else(|e| panic!("{e}"));
    c.feed_out(
        t0,
        StreamKind::Stdout,
        &frame(Kind::SpawnFailed, 1, b"nope: No such file or directory"),
    );
    let r = done(c.poll_command(id, t0)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.exit_code, 127);
    assert_eq!(r.stderr_str(), "nope: No such file or directory\n");
}

#[test]
fn a_closed_connection_or_a_malformed_frame_fails_what_is_pending() {
    let t0 = Instant::now();
    for cut in [
        |c: &mut AgentClient| c.handle_end("the agent's exec ended"),
        |c: &mut AgentClient| c.feed_out(Instant::now(), StreamKind::Stdout, &[0xff; 9]),
        |c: &mut AgentClient| {
            c.feed_out(
                Instant::now(),
                StreamKind::Stdout,
                &frame(Kind::Spawn, 1, b"{}"),
            );
        },
        |c: &mut AgentClient| {
            c.feed_out(
                Instant::now(),
                StreamKind::Stdout,
                &frame(
                    Kind::Hello,
                    0,
                    br#"{"protocol":99,"version":"x","pid":1,"uid":0,"gid":0}"#,
                ),
            );
        },
    ] {
        let mut c = AgentClient::new();
        let id = c.spawn(t0, &config(None)).unwrap_or_else(|e| panic!("{e}"));
        cut(&mut c);
        assert!(c.ended().is_some());
        assert!(matches!(
            c.poll_command(id, t0),
            AgentPoll::Done(Err(Error::Agent(_)))
        ));
        assert!(matches!(c.spawn(t0, &config(None)), Err(Error::Agent(_))));
        assert!(c.take_write().is_none());
    }
}

#[test]
fn stderr_of_the_agent_itself_is_ignored_and_a_cancelled_command_is_killed_and_forgotten() {
    let t0 = Instant::now();
    let mut c = AgentClient::new();
    c.feed_out(t0, StreamKind::Stderr, &[0xff; 64]);
    assert!(c.ended().is_none());
    let id = c.spawn(t0, &config(None)).unwrap_or_else(|e| panic!("{e}"));
    written(&mut c);
    c.cancel(id);
    let out = written(&mut c);
    assert_eq!(
        (out[0].kind, out[0].id, out[0].payload_u32()),
        (Kind::Signal, 1, Ok(9))
    );
    c.feed_out(t0, StreamKind::Stdout, &frame(Kind::Stdout, 1, b"ignored"));
    c.feed_out(
        t0,
        StreamKind::Stdout,
        &frame(Kind::Exit, 1, br#"{"code":0}"#),
    );
    assert!(c.ended().is_none());
    c.ping();
    assert_eq!(written(&mut c)[0].kind, Kind::Ping);
    c.feed_out(t0, StreamKind::Stdout, &frame(Kind::Pong, 0, b""));
    assert_eq!(c.pongs(), 1);
}

#[test]
fn only_users_the_agent_can_become_go_through_it() {
    let with = |c: &AgentClient, u: Option<&str>| {
        let mut cfg = config(None);
        cfg.spec.user = u.map(str::to_string);
        c.can_run(&cfg)
    };
    let t0 = Instant::now();
    // The test agent runs as 1000:1000.
    let mut c = AgentClient::new();
    assert!(!with(&c, Some("1000")), "before the hello nobody is known");
    c.feed_out(t0, StreamKind::Stdout, &hello());
    assert!(with(&c, None) && with(&c, Some("1000")) && with(&c, Some("1000:1000")));
    assert!(
        !with(&c, Some("0")) && !with(&c, Some("1000:0")),
        "not root: itself only"
    );
    assert!(!with(&c, Some("sandbox")) && !with(&c, Some("1000:")) && !with(&c, Some("root:0")));
    assert!(!with(&c, Some("+1000")) && !with(&c, Some("1000:1000:1")));
    let mut cfg = config(None);
    cfg.spec.user = Some("0".into());
    assert!(matches!(
        c.spawn(t0, &cfg),
        Err(Error::InvalidInput { field: "user", .. })
    ));
    let mut root = AgentClient::new();
    let as_root =
        format!(r#"{{"protocol":{AGENT_PROTOCOL},"version":"0.1.0","pid":7,"uid":0,"gid":0}}"#);
    root.feed_out(
        t0,
        StreamKind::Stdout,
        &frame(Kind::Hello, 0, as_root.as_bytes()),
    );
    assert!(with(&root, Some("0")) && with(&root, Some("1000:50")));
    assert!(!with(&root, Some("sandbox")));
}

#[test]
fn only_news_for_a_waiting_caller_wakes_it() {
    let t0 = Instant::now();
    let mut c = AgentClient::new();
    let wake = |c: &mut AgentClient, wire: Vec<u8>| {
        c.handle_output(t0, StreamKind::Stdout, Bytes::from(wire))
    };
    assert!(wake(&mut c, hello()));
    let mut cfg = config(None);
    cfg.limit = Some(OutputLimit {
        max_bytes: 8,
        policy: LimitPolicy::Stop,
    });
    let id = c.spawn(t0, &cfg).unwrap_or_else(|e| panic!("{e}"));
    assert!(!wake(&mut c, frame(Kind::Started, 1, &5u32.to_be_bytes())));
    assert!(!wake(&mut c, frame(Kind::Stdout, 1, b"four")));
    assert!(!c.handle_output(t0, StreamKind::Stderr, Bytes::from_static(b"agent noise")));
    assert!(
        wake(&mut c, frame(Kind::Stdout, 1, b"past the cap")),
        "a stop is news"
    );
    assert!(wake(&mut c, frame(Kind::Exit, 1, br#"{"code":137}"#)));
    assert!(matches!(c.poll_command(id, t0), AgentPoll::Done(Ok(_))));
    assert!(wake(&mut c, vec![0xff; 9]), "a broken stream is news");
}

#[test]
fn an_agent_that_cannot_start_is_ended_with_what_the_engine_said() {
    let t0 = Instant::now();
    // Docker prints the runtime's complaint on the exec's stdout: not frames, but the reason.
    let mut c = AgentClient::new();
    c.feed_out(
        t0,
        StreamKind::Stdout,
        b"OCI runtime exec failed: exec failed: permission denied\r\n",
    );
    let why = c.ended().unwrap_or_default();
    assert!(
        why.contains("no agent frames") && why.contains("permission denied"),
        "{why}"
    );
    // Podman says it on stderr and ends the exec.
    let mut c = AgentClient::new();
    c.feed_out(t0, StreamKind::Stderr, b"crun: executable file not found\n");
    c.handle_end("the agent's exec ended");
    let why = c.ended().unwrap_or_default();
    assert_eq!(
        why,
        "the agent's exec ended: crun: executable file not found"
    );
    // After the hello, what the agent said before it is not kept as a complaint.
    let mut c = AgentClient::new();
    c.feed_out(t0, StreamKind::Stdout, &hello());
    c.handle_end("the agent's exec ended");
    assert_eq!(c.ended(), Some("the agent's exec ended"));
}

#[test]
fn a_client_after_others_on_the_same_connection_ignores_their_frames() {
    let t0 = Instant::now();
    let mut c = AgentClient::with_first_id(1000);
    c.feed_out(t0, StreamKind::Stdout, &hello());
    let id = c.spawn(t0, &config(None)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written(&mut c)[0].id, 1000);
    // A command of an earlier client (id 1) reports; this one's is unaffected.
    c.feed_out(t0, StreamKind::Stdout, &frame(Kind::Stdout, 1, b"not mine"));
    c.feed_out(
        t0,
        StreamKind::Stdout,
        &frame(Kind::Exit, 1, br#"{"code":9}"#),
    );
    c.feed_out(t0, StreamKind::Stdout, &frame(Kind::Stdout, 1000, b"mine"));
    c.feed_out(
        t0,
        StreamKind::Stdout,
        &frame(Kind::Exit, 1000, br#"{"code":0}"#),
    );
    match c.poll_command(id, t0) {
        AgentPoll::Done(Ok(r)) => assert_eq!((r.stdout_str().as_ref(), r.exit_code), ("mine", 0)),
        other => panic!("{other:?}"),
    }
}

/// A streamed command: a run config that emits, with the given cap and keeping nothing.
fn streamed(limit: OutputLimit) -> ExecConfig {
    let mut c = config(None);
    c.emit = true;
    c.keep = false;
    c.limit = Some(limit);
    c
}

/// A client that has heard the agent's hello, and the time it did.
fn greeted() -> (Instant, AgentClient) {
    let t0 = Instant::now();
    let mut c = AgentClient::new();
    c.feed_out(t0, StreamKind::Stdout, &hello());
    (t0, c)
}

/// The next `n` pieces of streamed command `id` that are output.
fn pieces(c: &mut AgentClient, id: CommandId, t0: Instant, n: usize) -> Vec<(StreamKind, Bytes)> {
    (0..n)
        .filter_map(|_| piece(c.poll_stream(id, t0)))
        .collect()
}

fn piece(p: AgentStreamPoll) -> Option<(StreamKind, Bytes)> {
    match p {
        AgentStreamPoll::Output { stream, data } => Some((stream, data)),
        _ => None,
    }
}

#[test]
fn a_streamed_command_asks_for_a_window_and_hands_out_its_output_in_order() {
    let (t0, mut c) = greeted();
    let id = c
        .spawn(t0, &streamed(OutputLimit::default()))
        .unwrap_or_else(|e| panic!("{e}"));
    let spawn = written(&mut c);
    let req: SpawnRequest = serde_json::from_slice(&spawn[0].payload).unwrap_or_default();
    assert_eq!(req.window, Some(STREAM_WINDOW));
    assert!(matches!(
        c.poll_stream(id, t0),
        AgentStreamPoll::Pending { .. }
    ));
    let mut wire = frame(Kind::Stdout, id.0, b"one ");
    wire.extend(frame(Kind::Stderr, id.0, b"oops"));
    wire.extend(frame(Kind::Stdout, id.0, b"two"));
    wire.extend(frame(Kind::Exit, id.0, br#"{"code":3}"#));
    c.feed_out(t0, StreamKind::Stdout, &wire);
    let got = pieces(&mut c, id, t0, 3);
    assert_eq!(
        got,
        [
            (StreamKind::Stdout, Bytes::from_static(b"one ")),
            (StreamKind::Stderr, Bytes::from_static(b"oops")),
            (StreamKind::Stdout, Bytes::from_static(b"two")),
        ]
    );
    match c.poll_stream(id, t0) {
        AgentStreamPoll::Done(Ok(r)) => {
            assert_eq!(r.exit_code, 3);
            assert!(
                r.stdout.is_empty(),
                "a stream that keeps nothing has no output"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn taking_output_credits_the_agent_in_batches() {
    let (t0, mut c) = greeted();
    let limit = OutputLimit {
        max_bytes: usize::MAX / 2,
        policy: LimitPolicy::Stop,
    };
    let id = c
        .spawn(t0, &streamed(limit))
        .unwrap_or_else(|e| panic!("{e}"));
    written(&mut c);
    let data = vec![7u8; MAX_DATA];
    for _ in 0..(STREAM_WINDOW as usize / MAX_DATA) {
        c.feed_out(t0, StreamKind::Stdout, &frame(Kind::Stdout, id.0, &data));
    }
    assert!(
        written(&mut c).is_empty(),
        "nothing is credited before it is taken"
    );
    let mut credited = 0u64;
    for _ in 0..(STREAM_WINDOW as usize / MAX_DATA) {
        assert!(piece(c.poll_stream(id, t0)).is_some());
        for f in written(&mut c) {
            assert_eq!((f.kind, f.id), (Kind::Credit, id.0));
            credited += u64::from(f.payload_u32().unwrap_or(0));
        }
    }
    assert_eq!(
        credited,
        u64::from(STREAM_WINDOW),
        "all of the window, in 4 frames"
    );
}

#[test]
fn a_head_and_tail_stream_hands_out_its_tails_after_the_end() {
    let (t0, mut c) = greeted();
    let limit = OutputLimit {
        max_bytes: 8,
        policy: LimitPolicy::HeadAndTail,
    };
    let id = c
        .spawn(t0, &streamed(limit))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut wire = frame(Kind::Stdout, id.0, b"0123456789abcdef");
    wire.extend(frame(Kind::Exit, id.0, br#"{"code":0}"#));
    c.feed_out(t0, StreamKind::Stdout, &wire);
    let got = pieces(&mut c, id, t0, 2);
    assert_eq!(
        got,
        [
            (StreamKind::Stdout, Bytes::from_static(b"0123")),
            (StreamKind::Stdout, Bytes::from_static(b"ef")),
        ]
    );
    match c.poll_stream(id, t0) {
        AgentStreamPoll::Done(Ok(r)) => assert!(r.truncated && r.elided_bytes == 10),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stream_whose_connection_ends_fails_after_what_arrived() {
    let (t0, mut c) = greeted();
    let id = c
        .spawn(t0, &streamed(OutputLimit::default()))
        .unwrap_or_else(|e| panic!("{e}"));
    c.feed_out(
        t0,
        StreamKind::Stdout,
        &frame(Kind::Stdout, id.0, b"partial"),
    );
    c.handle_end("the agent's exec ended");
    assert!(
        piece(c.poll_stream(id, t0)).is_some(),
        "what arrived is handed out"
    );
    assert!(matches!(
        c.poll_stream(id, t0),
        AgentStreamPoll::Done(Err(Error::Agent(_)))
    ));
}

#[test]
fn a_detached_command_has_no_cap_and_a_signal_goes_to_its_group() {
    let (t0, mut c) = greeted();
    let mut cfg = config(None);
    cfg.emit = true;
    cfg.limit = None;
    let id = c.spawn(t0, &cfg).unwrap_or_else(|e| panic!("{e}"));
    written(&mut c);
    let data = vec![1u8; MAX_DATA];
    // Far past the default cap: nothing is stopped or dropped.
    let mut handed = 0;
    for _ in 0..200 {
        c.feed_out(t0, StreamKind::Stdout, &frame(Kind::Stdout, id.0, &data));
        while let Some((_, d)) = piece(c.poll_stream(id, t0)) {
            handed += d.len();
        }
    }
    assert_eq!(handed, 200 * MAX_DATA);
    assert!(written(&mut c).iter().all(|f| f.kind == Kind::Credit));
    c.signal(id, 15);
    let sent = written(&mut c);
    assert_eq!(
        (sent[0].kind, sent[0].payload_u32().ok()),
        (Kind::Signal, Some(15))
    );
    c.feed_out(
        t0,
        StreamKind::Stdout,
        &frame(Kind::Exit, id.0, br#"{"code":143,"signal":15}"#),
    );
    match c.poll_stream(id, t0) {
        AgentStreamPoll::Done(Ok(r)) => assert_eq!((r.exit_code, r.truncated), (143, false)),
        other => panic!("{other:?}"),
    }
    c.signal(id, 9);
    assert!(written(&mut c).is_empty(), "no signal for an ended command");
}

#[test]
fn a_shell_with_stdin_gets_its_bytes_in_frames_and_its_pid_is_known() {
    let (t0, mut c) = greeted();
    let mut cfg = config(None);
    cfg.spec.stdin = true;
    cfg.emit = true;
    cfg.limit = None;
    let id = c.spawn(t0, &cfg).unwrap_or_else(|e| panic!("{e}"));
    let spawn = written(&mut c);
    let req: SpawnRequest =
        serde_json::from_slice(&spawn[0].payload).unwrap_or_else(|e| panic!("{e}"));
    assert!(req.stdin);
    assert_eq!(c.pid(id), None);
    c.feed_out(
        t0,
        StreamKind::Stdout,
        &frame(Kind::Started, id.0, &77u32.to_be_bytes()),
    );
    assert_eq!(c.pid(id), Some(77));
    // More than one frame's worth is split, in order.
    let input: Vec<u8> = (0..MAX_DATA + 10).map(|i| (i % 251) as u8).collect();
    c.write_stdin(id, &input).unwrap_or_else(|e| panic!("{e}"));
    c.close_stdin(id).unwrap_or_else(|e| panic!("{e}"));
    let sent = written(&mut c);
    let kinds: Vec<Kind> = sent.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [Kind::Stdin, Kind::Stdin, Kind::StdinClose]);
    let joined: Vec<u8> = sent.iter().flat_map(|f| f.payload.to_vec()).collect();
    assert_eq!(joined, input);
    // A malformed Started ends the connection rather than guessing.
    let mut bad = AgentClient::new();
    bad.feed_out(t0, StreamKind::Stdout, &hello());
    bad.feed_out(t0, StreamKind::Stdout, &frame(Kind::Started, 1, b"xy"));
    assert!(bad.ended().is_some());
    // Once the command ended, its stdin is refused with a typed error.
    c.feed_out(
        t0,
        StreamKind::Stdout,
        &frame(Kind::Exit, id.0, br#"{"code":0}"#),
    );
    assert!(matches!(
        c.write_stdin(id, b"late\n"),
        Err(Error::InvalidUse(_))
    ));
    c.handle_end("gone");
    assert!(matches!(c.close_stdin(id), Err(Error::Agent(_))));
}

#[test]
fn a_tty_command_keeps_to_the_engine_path() {
    let (t0, mut c) = greeted();
    let mut cfg = config(None);
    cfg.spec.tty = true;
    assert!(!c.can_run(&cfg));
    assert!(matches!(
        c.spawn(t0, &cfg),
        Err(Error::InvalidInput { field: "tty", .. })
    ));
}

#[test]
fn a_stat_is_answered_once_and_replies_nobody_asked_for_are_dropped() {
    let t0 = Instant::now();
    let mut c = AgentClient::new();
    c.feed_out(t0, StreamKind::Stdout, &hello());
    let id = c.stat("/etc/hosts").unwrap_or_else(|e| panic!("{e}"));
    let sent = written(&mut c);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].kind, &sent[0].payload[..]),
        (Kind::Stat, &b"/etc/hosts"[..])
    );
    assert_eq!(c.take_stat(id), None, "not answered yet");
    // A reply for an id nobody asked about is dropped; so is one for a forgotten stat.
    c.feed_out(
        t0,
        StreamKind::Stdout,
        &frame(Kind::StatReply, 999, br#"{"mode":1}"#),
    );
    let other = c.stat("/x").unwrap_or_else(|e| panic!("{e}"));
    c.forget_stat(other);
    let reply = br#"{"mode":33188,"size":3,"later":true}"#;
    c.feed_out(
        t0,
        StreamKind::Stdout,
        &frame(Kind::StatReply, sent[0].id, reply),
    );
    let got = c.take_stat(id).unwrap_or_default();
    assert_eq!((got.mode, got.size, got.missing), (0o100_644, 3, false));
    assert_eq!(c.take_stat(id), None, "taken once");
    assert!(c.stats.is_empty(), "nothing kept: {:?}", c.stats);
    // A reply that is not JSON breaks the protocol.
    let id = c.stat("/y").unwrap_or_else(|e| panic!("{e}"));
    let wire = written(&mut c);
    c.feed_out(
        t0,
        StreamKind::Stdout,
        &frame(Kind::StatReply, wire[1].id, b"{nope"),
    );
    assert!(c.ended().is_some());
    assert_eq!(c.take_stat(id), None);
    assert!(matches!(c.stat("/z"), Err(Error::Agent(_))));
}
