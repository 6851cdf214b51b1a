//! The exec operation of a stream that keeps nothing (`ExecConfig::keep` false), against a
//! scripted engine with a virtual clock: every byte within the cap is handed out as an event
//! and none is kept; at the cap each policy hands out what it promises (`Stop` exactly the
//! cap, then the kill; `KeepRunning` the cap, then the real exit code; `HeadAndTail` the head,
//! then each stream's tail once the output ends, also at a timeout), at every split size.

mod support;

use std::time::Duration;

use pocketdock_proto::api::exec::ExecSpec;
use pocketdock_proto::demux::encode_frame;
use pocketdock_proto::op::{ExecConfig, ExecEvent, ExecOp};
use pocketdock_proto::{ExecResult, LimitPolicy, OutputLimit, StreamKind};
use support::{drive, every_step, json, reply, Outcome, Reply};

fn upgrade(frames: &[(StreamKind, &[u8])]) -> Vec<u8> {
    let mut v = b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_vec();
    for (k, p) in frames {
        v.extend(encode_frame(*k, p));
    }
    v
}

/// A streamed run that keeps nothing, under `limit`.
fn passing(limit: OutputLimit, timeout: Option<Duration>) -> ExecOp {
    let mut c = ExecConfig::new(
        "ctr",
        ExecSpec {
            cmd: vec!["sh".into(), "-c".into(), "x".into()],
            ..ExecSpec::default()
        },
        "nonce1",
    );
    c.timeout = timeout;
    c.limit = Some(limit);
    c.keep = false;
    c.emit = true;
    ExecOp::new(c)
}

fn limit(max_bytes: usize, policy: LimitPolicy) -> OutputLimit {
    OutputLimit { max_bytes, policy }
}

fn created() -> Reply {
    reply(
        "POST /containers/ctr/exec",
        json("201 Created", r#"{"Id":"e1"}"#),
    )
}

fn inspect(code: &str) -> Reply {
    reply(
        "GET /exec/e1/json",
        json(
            "200 OK",
            &format!(r#"{{"Running":false,"ExitCode":{code},"Pid":4242}}"#),
        ),
    )
}

/// The kill exec of a stopped command.
fn kill() -> [Reply; 2] {
    [
        reply(
            "POST /containers/ctr/exec",
            json("201 Created", r#"{"Id":"k1"}"#),
        ),
        reply("POST /exec/k1/start", upgrade(&[])),
    ]
}

/// The output events, joined per stream: `(stdout, stderr)`.
fn handed_out(out: &Outcome<ExecEvent, ExecResult>) -> (Vec<u8>, Vec<u8>) {
    let (mut o, mut e) = (Vec::new(), Vec::new());
    for ev in &out.events {
        if let ExecEvent::Output { stream, data } = ev {
            assert!(!data.is_empty(), "no empty chunk is handed out");
            match stream {
                StreamKind::Stdout => o.extend_from_slice(data),
                _ => e.extend_from_slice(data),
            }
        }
    }
    (o, e)
}

/// Output that is not the same byte over and over, so a lost or repeated piece shows.
fn counting(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[test]
fn every_byte_within_the_cap_goes_out_and_none_is_kept() {
    let out_bytes = counting(5000);
    every_step(|step| {
        let out = drive(
            passing(limit(10_000, LimitPolicy::Stop), None),
            vec![
                created(),
                reply(
                    "POST /exec/e1/start",
                    upgrade(&[
                        (StreamKind::Stdout, &out_bytes[..3000]),
                        (StreamKind::Stderr, b"warn\n"),
                        (StreamKind::Stdout, &out_bytes[3000..]),
                    ]),
                ),
                inspect("3"),
            ],
            step,
        );
        assert_eq!(handed_out(&out), (out_bytes.clone(), b"warn\n".to_vec()));
        let r = out.result.unwrap_or_else(|e| panic!("step {step}: {e}"));
        assert_eq!(r.exit_code, 3);
        assert!(r.stdout.is_empty() && r.stderr.is_empty(), "nothing kept");
        assert!(!r.truncated && !r.timed_out);
        assert_eq!(r.elided_bytes, 0);
    });
}

#[test]
fn stop_hands_out_exactly_the_cap_then_kills() {
    let big = counting(1000);
    every_step(|step| {
        let [k1, k2] = kill();
        let out = drive(
            passing(limit(100, LimitPolicy::Stop), None),
            vec![
                created(),
                reply(
                    "POST /exec/e1/start",
                    upgrade(&[(StreamKind::Stdout, &big)]),
                )
                .hang(),
                k1,
                k2,
                inspect("137"),
            ],
            step,
        );
        let (o, e) = handed_out(&out);
        assert_eq!(o, &big[..100], "step {step}");
        assert!(e.is_empty());
        let r = out.result.unwrap_or_else(|e| panic!("step {step}: {e}"));
        assert!(r.truncated && !r.timed_out);
        assert_eq!(r.exit_code, -1);
        assert!(r.stdout.is_empty());
        assert!(
            r.elided_bytes > 0,
            "the bytes read past the cap are counted"
        );
    });
}

#[test]
fn keep_running_hands_out_the_cap_and_waits_for_the_real_exit_code() {
    let big = counting(1000);
    every_step(|step| {
        let out = drive(
            passing(limit(100, LimitPolicy::KeepRunning), None),
            vec![
                created(),
                reply(
                    "POST /exec/e1/start",
                    upgrade(&[(StreamKind::Stdout, &big), (StreamKind::Stderr, b"late")]),
                ),
                inspect("0"),
            ],
            step,
        );
        assert_eq!(handed_out(&out), (big[..100].to_vec(), Vec::new()));
        let r = out.result.unwrap_or_else(|e| panic!("step {step}: {e}"));
        assert_eq!(r.exit_code, 0);
        assert!(r.truncated && r.stdout.is_empty() && r.stderr.is_empty());
        assert_eq!(r.elided_bytes, 904);
    });
}

#[test]
fn head_and_tail_hands_out_the_tails_when_the_output_ends() {
    let data = counting(200);
    every_step(|step| {
        let out = drive(
            passing(limit(40, LimitPolicy::HeadAndTail), None),
            vec![
                created(),
                reply(
                    "POST /exec/e1/start",
                    upgrade(&[
                        (StreamKind::Stdout, &data),
                        (StreamKind::Stderr, b"error\n"),
                    ]),
                ),
                inspect("1"),
            ],
            step,
        );
        let (o, e) = handed_out(&out);
        assert_eq!(&o[..20], &data[..20], "step {step}: the head");
        assert_eq!(&o[20..], &data[190..], "step {step}: the tail");
        assert_eq!(e, b"error\n");
        let r = out.result.unwrap_or_else(|e| panic!("step {step}: {e}"));
        assert_eq!(r.exit_code, 1);
        assert!(r.truncated && r.stdout.is_empty() && r.stderr.is_empty());
        assert_eq!(r.elided_bytes, 170);
    });
}

#[test]
fn head_and_tail_hands_out_the_tails_at_a_timeout_too() {
    let data = counting(200);
    every_step(|step| {
        let [k1, k2] = kill();
        let out = drive(
            passing(
                limit(40, LimitPolicy::HeadAndTail),
                Some(Duration::from_secs(2)),
            ),
            vec![
                created(),
                reply(
                    "POST /exec/e1/start",
                    upgrade(&[(StreamKind::Stdout, &data)]),
                )
                .hang(),
                k1,
                k2,
                inspect("137"),
            ],
            step,
        );
        let (o, _) = handed_out(&out);
        assert_eq!(o.len(), 30, "step {step}");
        assert_eq!(&o[20..], &data[190..]);
        let r = out.result.unwrap_or_else(|e| panic!("step {step}: {e}"));
        assert!(r.timed_out && r.truncated && r.stdout.is_empty());
        assert_eq!(r.exit_code, -1);
    });
}
