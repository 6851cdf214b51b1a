//! Every deadline path of the single-call and transfer operations, on a virtual clock: an engine
//! that accepts the connection and then says nothing must give `Error::Timeout`, never a hang.

use std::time::{Duration, Instant};

use bytes::Bytes;
use pocketdock_proto::http::{Method, Request, RequestBody};
use pocketdock_proto::op::{
    CallOp, DownloadOp, Io, Operation, Response, Step, TransferEvent, UploadOp,
};
use pocketdock_proto::Error;

/// Drive `op` against a silent engine (optionally after `prefix` bytes); return the error and the
/// virtual time it took.
fn against_silence<O: Operation>(mut op: O, prefix: &[u8]) -> (Option<Error>, Duration)
where
    O::Event: std::fmt::Debug,
{
    let start = Instant::now();
    let mut now = start;
    let mut fed = false;
    for _ in 0..10_000 {
        match op.poll(now) {
            Step::Io(Io::Connect | Io::Write(_) | Io::Close | Io::ShutdownWrite)
            | Step::Event(_) => {}
            Step::Io(Io::Read { deadline }) => {
                if !fed && !prefix.is_empty() {
                    fed = true;
                    op.handle_input(now, prefix);
                    continue;
                }
                let Some(d) = deadline else {
                    return (None, now - start);
                };
                now = d;
                op.handle_timeout(now);
            }
            Step::Io(Io::Wait(t)) => {
                now = t;
                op.handle_timeout(now);
            }
            Step::Done(r) => return (r.err(), now - start),
        }
    }
    panic!("never finished");
}

fn is_timeout(e: Option<&Error>) -> bool {
    matches!(e, Some(Error::Timeout { .. }))
}

#[test]
fn call_times_out_before_and_after_the_head() {
    let req = Request::new(Method::Get, "/containers/json");
    let op =
        CallOp::new("list", &req, |_r: Response| Ok(())).with_timeout(Some(Duration::from_secs(7)));
    let (e, t) = against_silence(op, b"");
    assert!(is_timeout(e.as_ref()), "{e:?}");
    assert_eq!(t, Duration::from_secs(7));
    let op =
        CallOp::new("list", &req, |_r: Response| Ok(())).with_timeout(Some(Duration::from_secs(3)));
    let (e, t) = against_silence(op, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[");
    assert!(is_timeout(e.as_ref()), "{e:?}");
    assert_eq!(t, Duration::from_secs(3));
}

#[test]
fn a_call_without_deadline_waits_for_the_engine() {
    let req = Request::new(Method::Get, "/x");
    let op = CallOp::new("x", &req, |_r: Response| Ok(())).with_timeout(None);
    let (e, _) = against_silence(op, b"");
    assert!(
        e.is_none(),
        "no deadline means the driver waits (and the op keeps asking to read)"
    );
}

#[test]
fn download_times_out_mid_body() {
    let req = Request::new(Method::Get, "/images/get");
    let op = DownloadOp::new(
        "save",
        &req,
        Some(Duration::from_secs(5)),
        |_r: &Response| Ok(()),
    );
    let (e, t) = against_silence(op, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    assert!(is_timeout(e.as_ref()), "{e:?}");
    assert_eq!(t, Duration::from_secs(5));
}

#[test]
fn upload_times_out_waiting_for_the_response() {
    let req = Request::new(Method::Put, "/x").with_body(RequestBody::Chunked {
        content_type: "application/x-tar",
    });
    let mut op = UploadOp::new(
        "put",
        &req,
        Some(Duration::from_secs(4)),
        |_r: &Response| Ok(()),
    );
    let start = Instant::now();
    let mut now = start;
    let err = loop {
        match op.poll(now) {
            Step::Event(TransferEvent::NeedBody) => {
                op.push_body(Bytes::from_static(b"data"));
                op.finish_body();
            }
            Step::Io(Io::Read { deadline: Some(d) }) => {
                now = d;
                op.handle_timeout(now);
            }
            Step::Io(_) | Step::Event(_) => {}
            Step::Done(r) => break r.err(),
        }
    };
    assert!(is_timeout(err.as_ref()), "{err:?}");
    assert_eq!(now - start, Duration::from_secs(4));
}
