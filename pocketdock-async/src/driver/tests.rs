//! The async driver loop on the [`Fake`] runtime: scripted connections, a virtual clock, the
//! futures run to completion on the test's own thread.

use std::io::ErrorKind;
use std::time::Duration;

use futures_lite::future::block_on;
use pocketdock_proto::op::{calls, CallOp, ExecConfig, ExecEvent, ExecOp, Io};
use pocketdock_proto::test_util::{Conn, Fed, Read, ScriptedOp};
use pocketdock_proto::{Error, ProtocolError, StreamKind};

use super::{Driver, Progress};
use crate::runtime::fake::{with_engine, Fake};
use crate::runtime::Runtime;

type Check = fn(&pocketdock_proto::Result<String>) -> bool;

/// A case: its name, the call, the connections, what the result must be, the virtual time.
type Case = (&'static str, CallOp<String>, Vec<Conn>, Check, Duration);

fn http(status: &str, body: &str) -> Vec<u8> {
    let len = body.len();
    format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\n\r\n{body}").into_bytes()
}

/// Drive `op` on the fake runtime over `script`, to the end.
fn drive(op: CallOp<String>, script: Vec<Conn>) -> (pocketdock_proto::Result<String>, Duration) {
    Fake::script(script);
    let r = block_on(Driver::<_, Fake>::new(op, &scripted()).run(|()| {}));
    (r, with_engine(|e| e.elapsed()))
}

#[test]
fn each_way_a_connection_can_go() {
    let ok = http("200 OK", "OK");
    let bytewise: Vec<Read> = ok.iter().map(|b| Read::Bytes(vec![*b])).collect();
    let mut cut = http("200 OK", "OK, and more");
    cut.truncate(cut.len() - 4);
    let deadline = || calls::ping().with_timeout(Some(Duration::from_secs(9)));
    let cases: Vec<Case> = vec![
        (
            "whole answer",
            calls::ping(),
            vec![Ok(vec![Read::Bytes(ok.clone())])],
            |r| r.as_deref().ok() == Some("OK"),
            Duration::ZERO,
        ),
        (
            "short reads",
            calls::ping(),
            vec![Ok(bytewise)],
            |r| r.as_deref().ok() == Some("OK"),
            Duration::ZERO,
        ),
        (
            "connect refused",
            calls::ping(),
            vec![Err(ErrorKind::ConnectionRefused)],
            |r| matches!(r, Err(Error::SocketConnection { path, .. }) if path == "/scripted"),
            Duration::ZERO,
        ),
        (
            "end of stream mid-body",
            calls::ping(),
            vec![Ok(vec![Read::Bytes(cut.clone())])],
            |r| matches!(r, Err(Error::Protocol(ProtocolError::TruncatedBody(_)))),
            Duration::ZERO,
        ),
        (
            "reset mid-body reads as the end of the stream",
            calls::ping(),
            vec![Ok(vec![
                Read::Bytes(cut.clone()),
                Read::Fails(ErrorKind::ConnectionReset),
            ])],
            |r| matches!(r, Err(Error::Protocol(ProtocolError::TruncatedBody(_)))),
            Duration::ZERO,
        ),
        (
            "socket error mid-body",
            calls::ping(),
            vec![Ok(vec![
                Read::Bytes(cut),
                Read::Fails(ErrorKind::BrokenPipe),
            ])],
            |r| matches!(r, Err(Error::SocketCommunication(_))),
            Duration::ZERO,
        ),
        (
            "silent engine",
            deadline(),
            vec![Ok(vec![Read::Silence])],
            |r| matches!(r, Err(Error::Timeout { op: "ping", .. })),
            Duration::from_secs(9),
        ),
        (
            "silent after the head",
            deadline(),
            vec![Ok(vec![
                Read::Bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nO".to_vec()),
                Read::Silence,
            ])],
            |r| matches!(r, Err(Error::Timeout { op: "ping", .. })),
            Duration::from_secs(9),
        ),
        (
            "deadline passed before the read",
            calls::ping().with_timeout(Some(Duration::ZERO)),
            vec![Ok(vec![Read::Bytes(ok)])],
            |r| matches!(r, Err(Error::Timeout { .. })),
            Duration::ZERO,
        ),
    ];
    for (name, op, script, check, took) in cases {
        let (r, elapsed) = drive(op, script);
        assert!(check(&r), "{name}: {r:?}");
        assert_eq!(elapsed, took, "{name}");
        assert!(with_engine(|e| e.used_up()), "{name}");
    }
}

/// An exec whose exit code is not there yet: the operation waits between inspects, and the
/// driver's waits go by on the runtime's clock.
#[test]
fn waits_pass_on_the_runtime_clock_and_events_come_first() {
    let upgrade = {
        let mut v =
            b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_vec();
        v.extend(pocketdock_proto::demux::encode_frame(
            StreamKind::Stdout,
            b"hi",
        ));
        v
    };
    let running = http("200 OK", r#"{"Running":true,"ExitCode":0,"Pid":7}"#);
    let script = vec![
        Ok(vec![Read::Bytes(http("201 Created", r#"{"Id":"e1"}"#))]),
        Ok(vec![Read::Bytes(upgrade)]),
        Ok(vec![Read::Bytes(running.clone())]),
        Ok(vec![Read::Bytes(running)]),
        Ok(vec![Read::Bytes(http(
            "200 OK",
            r#"{"Running":false,"ExitCode":4,"Pid":7}"#,
        ))]),
    ];
    Fake::script(script);
    let mut config = ExecConfig::new("c", pocketdock_proto::api::exec::ExecSpec::default(), "n");
    config.emit = true;
    let mut driver = Driver::<_, Fake>::new(ExecOp::new(config), &scripted());
    let mut events = Vec::new();
    let result = block_on(async {
        loop {
            match driver.advance().await {
                Progress::Event(e) => events.push(e),
                Progress::Done(r) => break r,
            }
        }
    });
    assert_eq!(
        result.map(|r| (r.exit_code, r.stdout)).ok(),
        Some((4, b"hi".to_vec()))
    );
    assert!(matches!(events.first(), Some(ExecEvent::Created { exec_id }) if exec_id == "e1"));
    assert!(matches!(events.get(1), Some(ExecEvent::Output { data, .. }) if data[..] == b"hi"[..]));
    assert!(
        with_engine(|e| e.elapsed()) > Duration::ZERO,
        "two waits between inspects"
    );
    assert!(driver.is_done());
    let again = block_on(driver.advance());
    assert!(matches!(again, Progress::Done(Err(Error::InvalidUse(_)))));
}

/// The steps no call asks for (a half-close, a bare wait) reach the runtime, and a finished
/// operation is not polled again.
#[test]
fn half_close_and_wait_go_through_the_runtime() {
    Fake::script(vec![Ok(vec![])]);
    let t0 = Fake::now();
    let later = t0 + Duration::from_secs(86_400);
    let steps = vec![Io::Connect, Io::ShutdownWrite, Io::Wait(later), Io::Close];
    let mut driver = Driver::<_, Fake>::new(ScriptedOp::new(steps), &scripted());
    let fed = match block_on(driver.advance()) {
        Progress::Done(r) => r.unwrap_or_else(|e| panic!("{e}")),
        Progress::Event(()) => panic!("no events expected"),
    };
    assert_eq!(fed, [Fed::Timeout(later)]);
    assert_eq!(
        with_engine(|e| (e.half_closed(), e.elapsed())),
        (1, later - t0)
    );
    let polls = driver.op_mut().polls();
    assert!(matches!(
        block_on(driver.advance()),
        Progress::Done(Err(Error::InvalidUse(_)))
    ));
    assert_eq!(driver.op_mut().polls(), polls);
}

#[test]
fn an_engine_that_refuses_mid_body_is_heard_not_a_broken_pipe() {
    use bytes::Bytes;
    use pocketdock_proto::http::{Method, Request, RequestBody};
    use pocketdock_proto::op::{Response, TransferEvent, UploadOp};
    use pocketdock_proto::test_util::ScriptedEngine;
    let request = Request::new(Method::Put, "/x").with_body(RequestBody::Sized {
        content_type: "application/x-tar",
        length: 3 * 64 * 1024,
    });
    let op = UploadOp::new("put", &request, None, |r: &Response| {
        if r.head.status >= 400 {
            return Err(Error::SocketCommunication(
                String::from_utf8_lossy(&r.body).into_owned(),
            ));
        }
        Ok(())
    });
    Fake::engine(
        ScriptedEngine::new(vec![Ok(vec![Read::Bytes(http(
            "500 Internal Server Error",
            "read-only file system",
        ))])])
        .reading_at_most(1000),
    );
    let mut d = Driver::<_, Fake>::new(op, &scripted());
    let piece = Bytes::from(vec![7u8; 64 * 1024]);
    let mut pieces = 3;
    let r = block_on(async {
        loop {
            match d.advance().await {
                Progress::Event(TransferEvent::NeedBody) if pieces > 0 => {
                    pieces -= 1;
                    d.op_mut().push_body(piece.clone());
                }
                Progress::Event(TransferEvent::NeedBody) => d.op_mut().finish_body(),
                Progress::Event(TransferEvent::Data(_)) => {}
                Progress::Done(r) => break r,
            }
        }
    });
    assert!(
        matches!(&r, Err(Error::SocketCommunication(m)) if m == "read-only file system"),
        "{r:?}"
    );
}

/// The endpoint of the fake runtime's engine (its path is never used).
fn scripted() -> pocketdock_host::remote::EngineEndpoint {
    pocketdock_host::remote::EngineEndpoint::parse("/scripted")
}
