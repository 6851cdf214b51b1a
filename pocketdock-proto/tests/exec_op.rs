//! The exec operation against a scripted engine with a virtual clock: every path (output, exit
//! code polling, timeout and kill, output cap, engine errors, truncated streams) with no sleeps
//! and no sockets, each response delivered at every split size.

mod support;

use std::time::Duration;

use pocketdock_proto::api::exec::ExecSpec;
use pocketdock_proto::demux::encode_frame;
use pocketdock_proto::op::{ExecConfig, ExecEvent, ExecOp};
use pocketdock_proto::{Error, LimitPolicy, OutputLimit, StreamKind};
use support::{drive, every_delivery, every_step, json, reply, Delivery, Reply, STEPS};

fn upgrade(frames: &[(StreamKind, &[u8])]) -> Vec<u8> {
    let mut v = b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_vec();
    for (k, p) in frames {
        v.extend(encode_frame(*k, p));
    }
    v
}

fn config(timeout: Option<Duration>) -> ExecConfig {
    let mut c = ExecConfig::new(
        "ctr",
        ExecSpec {
            cmd: vec!["sh".into(), "-c".into(), "x".into()],
            ..ExecSpec::default()
        },
        "nonce1",
    );
    c.timeout = timeout;
    c
}

fn created() -> Reply {
    reply(
        "POST /containers/ctr/exec",
        json("201 Created", r#"{"Id":"e1"}"#),
    )
}

fn inspect(running: bool, code: &str) -> Reply {
    reply(
        "GET /exec/e1/json",
        json(
            "200 OK",
            &format!(r#"{{"Running":{running},"ExitCode":{code},"Pid":4242}}"#),
        ),
    )
}

#[test]
fn output_and_exit_code_at_every_split() {
    let script = vec![
        created(),
        reply(
            "POST /exec/e1/start",
            upgrade(&[
                (StreamKind::Stdout, b"hello\n"),
                (StreamKind::Stderr, b"warn"),
            ]),
        ),
        inspect(false, "3"),
    ];
    let deliveries = STEPS
        .into_iter()
        .map(Delivery::from)
        .chain(every_delivery(&script));
    for delivery in deliveries {
        let out = drive(ExecOp::new(config(None)), script.clone(), delivery);
        let r = out.result.unwrap_or_else(|e| panic!("{delivery:?}: {e}"));
        assert_eq!(r.stdout, b"hello\n");
        assert_eq!(r.stderr, b"warn");
        assert_eq!(r.exit_code, 3);
        assert!(!r.timed_out && !r.truncated);
        assert_eq!(
            out.events,
            vec![ExecEvent::Created {
                exec_id: "e1".into()
            }]
        );
    }
}

#[test]
fn exit_code_is_read_only_once_stopped() {
    // Podman says ExitCode 0 while running; Docker says null: both mean "not yet".
    let out = drive(
        ExecOp::new(config(None)),
        vec![
            created(),
            reply("POST /exec/e1/start", upgrade(&[])),
            inspect(true, "0"),
            inspect(false, "null"),
            inspect(false, "7"),
        ],
        64,
    );
    assert_eq!(out.result.map(|r| r.exit_code).ok(), Some(7));
    assert_eq!(out.requests.len(), 5);
}

#[test]
fn exit_code_that_never_comes_is_a_timeout() {
    let mut cfg = config(None);
    cfg.exit_wait = Duration::from_millis(500);
    let out = drive(
        ExecOp::new(cfg),
        vec![
            created(),
            reply("POST /exec/e1/start", upgrade(&[])),
            inspect(true, "0").repeat(),
        ],
        64,
    );
    assert!(matches!(
        out.result,
        Err(Error::Timeout {
            op: "exec exit code",
            ..
        })
    ));
    assert!(out.elapsed >= Duration::from_millis(500));
    // Backoff, not a busy loop: a handful of inspects in half a second.
    assert!(out.requests.len() < 20, "{} requests", out.requests.len());
}

#[test]
fn timeout_kills_the_tree_and_keeps_partial_output() {
    every_step(|step| {
        let stream = upgrade(&[(StreamKind::Stdout, b"partial")]);
        let out = drive(
            ExecOp::new(config(Some(Duration::from_secs(2)))),
            vec![
                created(),
                reply("POST /exec/e1/start", stream).hang(),
                reply(
                    "POST /containers/ctr/exec",
                    json("201 Created", r#"{"Id":"k1"}"#),
                ),
                reply("POST /exec/k1/start", upgrade(&[])),
                inspect(false, "137"),
            ],
            step,
        );
        let r = out.result.unwrap_or_else(|e| panic!("{e}"));
        assert!(r.timed_out);
        assert!(!r.ok());
        assert_eq!(r.exit_code, -1);
        assert_eq!(r.stdout, b"partial");
        assert!(out.elapsed >= Duration::from_secs(2));
        assert!(out.elapsed < Duration::from_secs(3));
    });
}

#[test]
fn kill_exec_targets_the_nonce_as_the_same_user() {
    let mut cfg = config(Some(Duration::from_secs(1)));
    cfg.spec.user = Some("sandbox".into());
    let op = ExecOp::new(cfg);
    assert_eq!(op.nonce(), "nonce1");
    let req = pocketdock_proto::api::exec::create(
        "ctr",
        &ExecSpec {
            cmd: pocketdock_proto::op::kill_command("nonce1", "KILL"),
            user: Some("sandbox".into()),
            ..ExecSpec::default()
        },
    );
    let body = String::from_utf8_lossy(&req.encode()).to_string();
    assert!(body.contains(r#""User":"sandbox""#));
    assert!(body.contains("nonce1"));
    assert!(body.contains("KILL"));
}

#[test]
fn output_cap_stops_the_command() {
    let mut cfg = config(None);
    cfg.limit = Some(OutputLimit {
        max_bytes: 100,
        policy: LimitPolicy::Stop,
    });
    let big = vec![b'x'; 1000];
    let out = drive(
        ExecOp::new(cfg),
        vec![
            created(),
            reply(
                "POST /exec/e1/start",
                upgrade(&[(StreamKind::Stdout, &big)]),
            )
            .hang(),
            reply(
                "POST /containers/ctr/exec",
                json("201 Created", r#"{"Id":"k1"}"#),
            ),
            reply("POST /exec/k1/start", upgrade(&[])),
            inspect(false, "137"),
        ],
        64,
    );
    let r = out.result.unwrap_or_else(|e| panic!("{e}"));
    assert!(r.truncated && !r.timed_out);
    assert_eq!(r.stdout.len(), 100);
}

#[test]
fn head_and_tail_keeps_running_to_the_real_exit_code() {
    let mut cfg = config(None);
    cfg.limit = Some(OutputLimit {
        max_bytes: 40,
        policy: LimitPolicy::HeadAndTail,
    });
    let data: Vec<u8> = (0..200u8).collect();
    let out = drive(
        ExecOp::new(cfg),
        vec![
            created(),
            reply(
                "POST /exec/e1/start",
                upgrade(&[(StreamKind::Stdout, &data)]),
            ),
            inspect(false, "1"),
        ],
        13,
    );
    let r = out.result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.exit_code, 1);
    assert!(r.truncated);
    assert_eq!(&r.stdout[..20], &data[..20]);
    assert_eq!(&r.stdout[20..], &data[190..]);
    assert_eq!(r.elided_bytes, 170);
}

#[test]
fn events_in_stream_mode() {
    let mut cfg = config(None);
    cfg.emit = true;
    let out = drive(
        ExecOp::new(cfg),
        vec![
            created(),
            reply(
                "POST /exec/e1/start",
                upgrade(&[(StreamKind::Stdout, b"a"), (StreamKind::Stderr, b"b")]),
            ),
            inspect(false, "0"),
        ],
        100,
    );
    let outputs: Vec<_> = out
        .events
        .iter()
        .filter_map(|e| match e {
            ExecEvent::Output { stream, data } => Some((*stream, data.to_vec())),
            ExecEvent::Created { .. } => None,
        })
        .collect();
    assert_eq!(
        outputs,
        vec![
            (StreamKind::Stdout, b"a".to_vec()),
            (StreamKind::Stderr, b"b".to_vec())
        ]
    );
}

#[test]
fn engine_errors_are_typed() {
    type Check = fn(&Error) -> bool;
    let cases: Vec<(Reply, Check)> = vec![
        (
            reply(
                "POST /containers/ctr/exec",
                json("404 Not Found", r#"{"message":"No such container: ctr"}"#),
            ),
            |e| matches!(e, Error::ContainerNotFound(id) if id == "ctr"),
        ),
        (
            reply(
                "POST /containers/ctr/exec",
                json(
                    "409 Conflict",
                    r#"{"message":"Container ctr is not running"}"#,
                ),
            ),
            |e| matches!(e, Error::ContainerNotRunning(_)),
        ),
        (
            reply(
                "POST /containers/ctr/exec",
                json(
                    "500 Internal Server Error",
                    r#"{"cause":"container state improper","message":"can only create exec sessions on running containers: container state improper","response":500}"#,
                ),
            ),
            |e| matches!(e, Error::ContainerNotRunning(_)),
        ),
        (
            reply("POST /containers/ctr/exec", b"garbage\r\n\r\n".to_vec()),
            |e| matches!(e, Error::Protocol(_)),
        ),
    ];
    for (r, check) in cases {
        let out = drive(ExecOp::new(config(None)), vec![r], 5);
        let err = out
            .result
            .err()
            .unwrap_or_else(|| panic!("expected an error"));
        assert!(check(&err), "unexpected error {err:?}");
    }
}

#[test]
fn truncated_frame_is_an_error_not_a_silent_end() {
    let mut stream = upgrade(&[]);
    stream.extend([1, 0, 0, 0, 0, 0, 0, 10, b'a']);
    let out = drive(
        ExecOp::new(config(None)),
        vec![created(), reply("POST /exec/e1/start", stream)],
        3,
    );
    assert!(matches!(
        out.result,
        Err(Error::Protocol(
            pocketdock_proto::ProtocolError::TruncatedFramePayload { missing: 9 }
        ))
    ));
}

#[test]
fn raw_200_and_chunked_start_replies_work() {
    let mut raw =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n".to_vec();
    raw.extend(encode_frame(StreamKind::Stdout, b"raw"));
    let frame = encode_frame(StreamKind::Stdout, b"chunky");
    let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    chunked.extend(format!("{:x}\r\n", 5).as_bytes());
    chunked.extend(&frame[..5]);
    chunked.extend(b"\r\n");
    chunked.extend(format!("{:x}\r\n", frame.len() - 5).as_bytes());
    chunked.extend(&frame[5..]);
    chunked.extend(b"\r\n0\r\n\r\n");
    for (body, want) in [(raw, &b"raw"[..]), (chunked, &b"chunky"[..])] {
        let out = drive(
            ExecOp::new(config(None)),
            vec![
                created(),
                reply("POST /exec/e1/start", body),
                inspect(false, "0"),
            ],
            4,
        );
        assert_eq!(out.result.map(|r| r.stdout).ok().as_deref(), Some(want));
    }
}

#[test]
fn container_removed_mid_run_is_gone() {
    let out = drive(
        ExecOp::new(config(None)),
        vec![
            created(),
            reply(
                "POST /exec/e1/start",
                upgrade(&[(StreamKind::Stdout, b"x")]),
            ),
            reply(
                "GET /exec/e1/json",
                json(
                    "404 Not Found",
                    r#"{"message":"No such exec instance: e1"}"#,
                ),
            ),
        ],
        64,
    );
    assert!(matches!(out.result, Err(Error::ContainerGone(ref id)) if id == "ctr"));
}
