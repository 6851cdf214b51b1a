//! The long-lived attached exec of sessions and TTY programs, and the poll for its exit code,
//! on the scripted engine: output until the end of stream at every split, raw TTY streams, a
//! plain `200` answer, no deadline once attached, typed errors, and the exit-code poll.

mod support;

use std::time::{Duration, Instant};

use pocketdock_proto::api::exec::ExecSpec;
use pocketdock_proto::demux::encode_frame;
use pocketdock_proto::op::{Io, Operation, Step};
use pocketdock_proto::session::attach::{
    resize_op, AttachConfig, AttachEvent, AttachOp, ExecWaitOp,
};
use pocketdock_proto::session::shell::session_shell;
use pocketdock_proto::{Error, ProtocolError, StreamKind};
use support::{drive, json, reply, Reply};

fn upgrade(frames: &[(StreamKind, &[u8])]) -> Vec<u8> {
    let mut v = b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_vec();
    for (k, p) in frames {
        v.extend(encode_frame(*k, p));
    }
    v
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
        let create = String::from_utf8_lossy(&out.sent[0]);
        assert!(create.contains(r#""AttachStdin":true"#), "{create}");
        assert!(create.contains(r#""Tty":false"#), "{create}");
        assert!(create.contains("POCKETDOCK_EXEC=sess1"), "{create}");
        assert!(String::from_utf8_lossy(&out.sent[1]).contains("Upgrade: tcp"));
    }
}

#[test]
fn tty_stream_is_raw() {
    let mut raw = b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_vec();
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
        assert!(String::from_utf8_lossy(&out.sent[0]).contains(r#""Tty":true"#));
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
    let r = reply("POST /exec/e1/start", Vec::new()).hang();
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
    let running = inspect(true, "0").repeat();
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
