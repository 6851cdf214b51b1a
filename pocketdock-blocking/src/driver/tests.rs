//! The driver loop on a fake transport: no socket, no sleeping, virtual time.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use pocketdock_proto::http::{Method, Request};
use pocketdock_proto::op::{calls, CallOp, DownloadOp, Io, Operation, Response, Step};
use pocketdock_proto::test_util::{Conn, Read};
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
    let body = "x".repeat(3 * super::READ_BUF + 17);
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

/// An operation that waits `gap`, then reports the time it was woken at and how often it was
/// polled.
struct Nap {
    gap: Duration,
    until: Option<Instant>,
    woke: Option<Instant>,
    polls: usize,
}

impl Nap {
    fn new(gap: Duration) -> Self {
        Self {
            gap,
            until: None,
            woke: None,
            polls: 0,
        }
    }
}

impl Operation for Nap {
    type Event = ();
    type Output = Instant;

    fn poll(&mut self, now: Instant) -> Step<(), Instant> {
        self.polls += 1;
        if let Some(t) = self.woke {
            return Step::Done(Ok(t));
        }
        let until = *self.until.get_or_insert(now + self.gap);
        Step::Io(Io::Wait(until))
    }

    fn handle_input(&mut self, _now: Instant, _data: &[u8]) {}

    fn handle_eof(&mut self, _now: Instant) {}

    fn handle_timeout(&mut self, now: Instant) {
        self.woke = Some(now);
    }
}

#[test]
fn a_wait_moves_the_transport_clock_and_the_op_sees_it() {
    let mut d = driver(Nap::new(Duration::from_secs(3600)), vec![]);
    let start = d.transport().now();
    let woke = match d.advance() {
        Progress::Done(r) => r.unwrap_or_else(|e| panic!("{e}")),
        Progress::Event(()) => panic!("no events expected"),
    };
    assert_eq!(woke - start, Duration::from_secs(3600));
    assert_eq!(d.transport().elapsed(), Duration::from_secs(3600));
}

#[test]
fn driving_a_finished_operation_is_invalid_use_and_does_not_poll_it() {
    let mut d = driver(Nap::new(Duration::from_millis(250)), vec![]);
    assert!(matches!(d.advance(), Progress::Done(Ok(_))));
    let polls = d.op().polls;
    assert!(matches!(
        d.advance(),
        Progress::Done(Err(Error::InvalidUse(_)))
    ));
    assert_eq!(d.op().polls, polls);
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
