//! The driver loop on a fake transport: no socket, no sleeping, virtual time.

use std::io::ErrorKind;
use std::time::Duration;

use bytes::Bytes;

use pocketdock_proto::http::{Method, Request};
use pocketdock_proto::op::{calls, CallOp, DownloadOp, Io, Operation, Response};
use pocketdock_proto::test_util::{Conn, Fed, Read, ScriptedOp};
use pocketdock_proto::{Error, ProtocolError};

use super::{Driver, Progress};
use crate::transport::fake::FakeTransport;

fn answer(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn driver<O: Operation>(op: O, script: Vec<Conn>) -> Driver<O, FakeTransport> {
    Driver::with_transport(op, FakeTransport::new(script))
}

/// A call to `GET /x` whose value is the length of the body.
fn get_x() -> CallOp<usize> {
    CallOp::new("get", &Request::new(Method::Get, "/x"), |r: Response| {
        Ok(r.body.len())
    })
}

#[test]
fn a_call_is_written_once_and_read_back_in_short_reads() {
    let bytes = answer("200 OK", "OK");
    let reads = bytes.iter().map(|b| Read::Bytes(vec![*b])).collect();
    let mut d = driver(calls::ping(), vec![Ok(reads)]);
    let got = loop {
        match d.advance() {
            Progress::Event(()) => {}
            Progress::Done(r) => break r,
        }
    };
    assert_eq!(got.ok().as_deref(), Some("OK"));
    let t = d.transport();
    assert_eq!(t.written().len(), 1);
    assert!(t.written()[0].starts_with(b"GET /_ping HTTP/1.1\r\n"));
    assert!(t.used_up());
}

#[test]
fn an_answer_larger_than_the_read_buffer_arrives_whole() {
    let body = "x".repeat(3 * pocketdock_proto::op::READ_CHUNK + 17);
    let op = get_x();
    let r = driver(op, vec![Ok(vec![Read::Bytes(answer("200 OK", &body))])]).run(|()| {});
    assert_eq!(r.ok(), Some(body.len()));
}

#[test]
fn a_refused_connection_is_a_connection_error_and_ends_the_operation() {
    let mut d = driver(calls::ping(), vec![Err(ErrorKind::ConnectionRefused)]);
    match d.advance() {
        Progress::Done(Err(Error::SocketConnection { detail, .. })) => {
            assert!(detail.contains("refused"), "{detail}");
        }
        Progress::Done(other) => panic!("expected a connection error, got {other:?}"),
        Progress::Event(()) => panic!("no events expected"),
    }
    assert!(d.is_done());
}

#[test]
fn end_of_stream_mid_body_is_a_truncated_body() {
    let mut cut = answer("200 OK", "0123456789");
    cut.truncate(cut.len() - 7);
    let op = get_x();
    let r = driver(op, vec![Ok(vec![Read::Bytes(cut)])]).run(|()| {});
    assert!(
        matches!(r, Err(Error::Protocol(ProtocolError::TruncatedBody(_)))),
        "{r:?}"
    );
}

#[test]
fn a_socket_error_mid_read_ends_the_operation_with_it() {
    let mut head = answer("200 OK", "0123456789");
    head.truncate(head.len() - 5);
    let reads = vec![Read::Bytes(head), Read::Fails(ErrorKind::ConnectionAborted)];
    let mut d = driver(calls::ping(), vec![Ok(reads)]);
    match d.advance() {
        Progress::Done(Err(Error::SocketCommunication(m))) => assert!(m.contains("failed"), "{m}"),
        Progress::Done(other) => panic!("expected a socket error, got {other:?}"),
        Progress::Event(()) => panic!("no events expected"),
    }
    assert!(d.is_done());
}

#[test]
fn a_silent_engine_times_out_on_the_virtual_clock() {
    for before_the_head in [true, false] {
        let mut reads = vec![];
        if !before_the_head {
            reads.push(Read::Bytes(
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc".to_vec(),
            ));
        }
        reads.push(Read::Silence);
        let op = calls::ping().with_timeout(Some(Duration::from_secs(5)));
        let mut d = driver(op, vec![Ok(reads)]);
        let r = loop {
            if let Progress::Done(r) = d.advance() {
                break r;
            }
        };
        assert!(matches!(r, Err(Error::Timeout { op: "ping", .. })), "{r:?}");
        assert_eq!(d.transport().elapsed(), Duration::from_secs(5));
    }
}

#[test]
fn a_deadline_already_passed_gives_a_timeout_without_reading() {
    let op = calls::ping().with_timeout(Some(Duration::ZERO));
    let r = driver(op, vec![Ok(vec![Read::Bytes(answer("200 OK", "OK"))])]).run(|()| {});
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
}

#[test]
fn each_step_is_performed_as_asked_on_the_transport_clock() {
    let transport = FakeTransport::new(vec![
        Ok(vec![Read::Bytes(b"hi".to_vec())]),
        Ok(vec![Read::Silence]),
    ]);
    let t0 = transport.now();
    let op = ScriptedOp::new(vec![
        Io::Connect,
        Io::Write(Bytes::from_static(b"abc")),
        Io::ShutdownWrite,
        Io::Read { deadline: None },
        Io::Read { deadline: None },
        Io::Close,
        Io::Wait(t0 + Duration::from_secs(3600)),
        Io::Connect,
        Io::Write(Bytes::from_static(b"z")),
        Io::Read {
            deadline: Some(t0 + Duration::from_secs(3605)),
        },
        Io::Close,
    ]);
    let mut d = Driver::with_transport(op, transport);
    let fed = match d.advance() {
        Progress::Done(r) => r.unwrap_or_else(|e| panic!("{e}")),
        Progress::Event(()) => panic!("no events expected"),
    };
    assert_eq!(
        fed,
        vec![
            Fed::Input(t0, b"hi".to_vec()),
            Fed::Eof(t0),
            Fed::Timeout(t0 + Duration::from_secs(3600)),
            Fed::Timeout(t0 + Duration::from_secs(3605)),
        ]
    );
    let t = d.transport();
    assert_eq!(t.written(), [b"abc".to_vec(), b"z".to_vec()]);
    assert_eq!(t.half_closed(), 1);
    assert!(t.used_up());
}

#[test]
fn driving_a_finished_operation_is_invalid_use_and_does_not_poll_it() {
    let mut d = driver(ScriptedOp::new(vec![]), vec![]);
    assert!(matches!(d.advance(), Progress::Done(Ok(_))));
    let polls = d.op().polls();
    assert!(matches!(
        d.advance(),
        Progress::Done(Err(Error::InvalidUse(_)))
    ));
    assert_eq!(d.op().polls(), polls);
    // The same after a failure.
    let mut d = driver(calls::ping(), vec![Err(ErrorKind::ConnectionRefused)]);
    assert!(matches!(d.advance(), Progress::Done(Err(_))));
    assert!(matches!(
        d.advance(),
        Progress::Done(Err(Error::InvalidUse(_)))
    ));
}

#[test]
fn events_reach_the_caller_as_the_body_arrives() {
    let op = DownloadOp::new(
        "get",
        &Request::new(Method::Get, "/x"),
        Some(Duration::from_secs(5)),
        |_r: &Response| Ok(()),
    );
    let mut head = answer("200 OK", "abcdef");
    let body = head.split_off(head.len() - 6);
    let reads = vec![
        Read::Bytes(head),
        Read::Bytes(body[..2].to_vec()),
        Read::Bytes(body[2..].to_vec()),
    ];
    let mut got = Vec::new();
    let r = driver(op, vec![Ok(reads)]).run(|e| got.push(e));
    assert_eq!(r.map(|h| h.status).ok(), Some(200));
    let data: Vec<u8> = got
        .iter()
        .flat_map(|e| match e {
            pocketdock_proto::op::TransferEvent::Data(d) => d.to_vec(),
            pocketdock_proto::op::TransferEvent::NeedBody => vec![],
        })
        .collect();
    assert_eq!(data, b"abcdef");
    assert!(got.len() >= 2, "one event per read: {got:?}");
}

/// An upload of `len` body bytes whose check turns a 500 answer into an error naming its body.
fn upload(len: u64) -> pocketdock_proto::op::UploadOp {
    use pocketdock_proto::http::RequestBody;
    let request = Request::new(Method::Put, "/x").with_body(RequestBody::Sized {
        content_type: "application/x-tar",
        length: len,
    });
    pocketdock_proto::op::UploadOp::new("put", &request, None, |r: &Response| {
        if r.head.status >= 400 {
            return Err(Error::SocketCommunication(
                String::from_utf8_lossy(&r.body).into_owned(),
            ));
        }
        Ok(())
    })
}

/// Drive an upload of three 64 KiB pieces to an engine that reads only the first bytes and
/// answers `status` / `body`.
fn refused_upload(status: &str, body: &str) -> pocketdock_proto::Result<u16> {
    use pocketdock_proto::op::TransferEvent;
    use pocketdock_proto::test_util::ScriptedEngine;
    let piece = Bytes::from(vec![7u8; 64 * 1024]);
    let engine = ScriptedEngine::new(vec![Ok(vec![Read::Bytes(answer(status, body))])])
        .reading_at_most(1000);
    let mut d = Driver::with_transport(upload(3 * 64 * 1024), FakeTransport::over(engine));
    let mut pieces = 3;
    loop {
        match d.advance() {
            Progress::Event(TransferEvent::NeedBody) if pieces > 0 => {
                pieces -= 1;
                d.op_mut().push_body(piece.clone());
            }
            Progress::Event(TransferEvent::NeedBody) => d.op_mut().finish_body(),
            Progress::Event(TransferEvent::Data(_)) => {}
            Progress::Done(r) => return r.map(|h| h.status),
        }
    }
}

#[test]
fn an_engine_that_refuses_mid_body_is_heard_not_a_broken_pipe() {
    let r = refused_upload("500 Internal Server Error", "read-only file system");
    assert!(
        matches!(&r, Err(Error::SocketCommunication(m)) if m == "read-only file system"),
        "{r:?}"
    );
    // A success answer to a body cut short claims a write that did not happen.
    let r = refused_upload("200 OK", "");
    assert!(
        matches!(&r, Err(Error::SocketCommunication(m)) if m.contains("closed the connection")),
        "{r:?}"
    );
}

#[test]
fn a_call_to_an_engine_that_stops_reading_is_the_closed_connection() {
    use pocketdock_proto::test_util::ScriptedEngine;
    let engine =
        ScriptedEngine::new(vec![Ok(vec![Read::Bytes(answer("200 OK", "OK"))])]).reading_at_most(3);
    let r = Driver::with_transport(calls::ping(), FakeTransport::over(engine)).run(|()| {});
    assert!(
        matches!(&r, Err(Error::SocketCommunication(m)) if m.contains("closed the connection")),
        "{r:?}"
    );
}
