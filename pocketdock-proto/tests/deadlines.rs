//! Every deadline path of the single-call and transfer operations, on a virtual clock: an engine
//! that accepts the connection and then says nothing must give `Error::Timeout`, never a hang.

mod support;

use std::time::Duration;

use bytes::Bytes;
use pocketdock_proto::http::{Method, Request, RequestBody};
use pocketdock_proto::op::{CallOp, DownloadOp, Operation, Response, TransferEvent, UploadOp};
use pocketdock_proto::Error;
use support::{reply, Script};

/// Drive `op` against an engine that accepts the request, sends `prefix` and then says nothing;
/// return the error and the virtual time it took (`None` when the op waits with no deadline).
fn against_silence<O: Operation>(op: O, prefix: &[u8]) -> (Option<Error>, Duration) {
    match Script::new(vec![reply("", prefix).hang()]).try_run(op) {
        Ok(out) => (out.result.err(), out.elapsed),
        Err(stuck) => (None, stuck.elapsed),
    }
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
    let op = UploadOp::new(
        "put",
        &req,
        Some(Duration::from_secs(4)),
        |_r: &Response| Ok(()),
    );
    let out = Script::new(vec![reply("PUT /x", "").hang()]).run_with(op, |op, event| {
        if *event == TransferEvent::NeedBody {
            op.push_body(Bytes::from_static(b"data"));
            op.finish_body();
        }
    });
    let err = out.result.err();
    assert!(
        out.sent[0].ends_with(b"4\r\ndata\r\n0\r\n\r\n"),
        "{:?}",
        out.sent
    );
    assert!(is_timeout(err.as_ref()), "{err:?}");
    assert_eq!(out.elapsed, Duration::from_secs(4));
}

/// An archive download with ten minutes for the whole response and one for its head.
fn archive_download() -> DownloadOp {
    let req = Request::new(Method::Get, "/containers/x/archive");
    DownloadOp::new(
        "get archive",
        &req,
        Some(Duration::from_secs(600)),
        |_r: &Response| Ok(()),
    )
    .with_head_timeout(Duration::from_secs(60))
}

#[test]
fn a_download_whose_head_never_comes_is_given_up_at_the_head_limit() {
    let (e, t) = against_silence(archive_download(), b"HTTP/1.1 200 OK\r\nX-Slow: zz");
    assert!(is_timeout(e.as_ref()), "{e:?}");
    assert_eq!(t, Duration::from_secs(60));
    assert!(
        matches!(
            e,
            Some(Error::Timeout {
                after_ms: 60_000,
                ..
            })
        ),
        "{e:?}"
    );
}

#[test]
fn a_download_whose_head_came_keeps_the_whole_response_deadline() {
    let (e, t) = against_silence(
        archive_download(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    );
    assert!(is_timeout(e.as_ref()), "{e:?}");
    assert_eq!(t, Duration::from_secs(600));
}
