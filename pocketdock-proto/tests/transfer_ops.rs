//! Streamed transfers (`DownloadOp`, `UploadOp`) on the scripted engine with the recorded
//! archive calls of both engines: the same bytes out at every split point, the recorded request
//! sent byte for byte, and typed failures. (Their deadlines are in `deadlines.rs`.)

mod support;

use std::time::Duration;

use bytes::Bytes;
use pocketdock_proto::api::archive::{self, PathStat};
use pocketdock_proto::http::ResponseHead;
use pocketdock_proto::op::{DownloadOp, Response, TransferEvent, UploadOp};
use pocketdock_proto::Error;
use support::{check_every_delivery, json, recorded, reply, Delivery, Outcome, Script, ENGINES};

const TIMEOUT: Option<Duration> = Some(Duration::from_secs(60));

fn name(engine: &str) -> String {
    format!("pd-transcript-{engine}")
}

fn download(container: &str, path: &str) -> DownloadOp {
    let (c, p) = (container.to_string(), path.to_string());
    DownloadOp::new(
        "archive get",
        &archive::get(container, path),
        TIMEOUT,
        move |r: &Response| archive::check(r, "archive get", &c, &p),
    )
}

fn data(out: &Outcome<TransferEvent, ResponseHead>) -> Vec<u8> {
    out.events
        .iter()
        .flat_map(|e| match e {
            TransferEvent::Data(d) => d.to_vec(),
            TransferEvent::NeedBody => Vec::new(),
        })
        .collect()
}

#[test]
fn a_download_hands_out_the_same_bytes_at_every_split() {
    for engine in ENGINES {
        let script = [recorded(engine, "archive-get")];
        let whole = support::drive(download(&name(engine), "/etc/passwd"), script.to_vec(), 1);
        let tar = data(&whole);
        assert!(tar.starts_with(b"passwd\0"), "{engine}");
        assert_eq!(tar.len() % 512, 0, "{engine}: whole tar blocks");
        check_every_delivery(
            &script,
            || download(&name(engine), "/etc/passwd"),
            |d, out| {
                assert_eq!(data(&out), tar, "{engine} {d:?}");
                let head = out.result.unwrap_or_else(|e| panic!("{engine} {d:?}: {e}"));
                let stat = PathStat::from_head(&head)
                    .unwrap_or_else(|e| panic!("{engine}: {e}"))
                    .unwrap_or_else(|| panic!("{engine}: no stat"));
                assert_eq!(stat.name, "passwd", "{engine} {d:?}");
            },
        );
    }
}

#[test]
fn a_missing_path_is_path_not_found_with_no_data() {
    for engine in ENGINES {
        check_every_delivery(
            &[recorded(engine, "archive-missing")],
            || download(&name(engine), "/nope"),
            |d, out| {
                assert!(data(&out).is_empty(), "{engine} {d:?}");
                assert!(
                    matches!(out.result, Err(Error::PathNotFound(ref p)) if p == "/nope"),
                    "{engine} {d:?}: {:?}",
                    out.result
                );
            },
        );
    }
    let out = support::drive(
        download("c", "/x"),
        vec![reply(
            "GET /containers/c/archive",
            json("404 Not Found", r#"{"message":"No such container: c"}"#),
        )],
        Delivery::Whole,
    );
    assert!(matches!(out.result, Err(Error::ContainerNotFound(ref c)) if c == "c"));
}

/// The recorded upload request: its head and its tar body.
fn recorded_put(engine: &str) -> (Vec<u8>, Vec<u8>) {
    let path = std::fs::read_dir(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/transcripts")
            .join(engine),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .filter_map(Result::ok)
    .map(|e| e.path())
    .find(|p| p.ends_with("18-archive-put.req"))
    .unwrap_or_else(|| panic!("no recorded put"));
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{e}"));
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head end"))
        + 4;
    (raw[..end].to_vec(), raw[end..].to_vec())
}

#[test]
fn an_upload_sends_the_recorded_request_byte_for_byte() {
    for engine in ENGINES {
        let (head, body) = recorded_put(engine);
        let upload = || {
            let (c, p) = (name(engine), "/tmp".to_string());
            UploadOp::new(
                "archive put",
                &archive::put(&name(engine), "/tmp", Some(body.len() as u64)),
                TIMEOUT,
                move |r: &Response| archive::check(r, "archive put", &c, &p),
            )
        };
        let script = vec![recorded(engine, "archive-put")];
        for delivery in support::every_delivery(&script) {
            let mut pieces = body.chunks(4000).map(Bytes::copy_from_slice);
            let out = Script::new(script.clone())
                .delivery(delivery)
                .run_with(upload(), |op, e| {
                    if *e == TransferEvent::NeedBody {
                        match pieces.next() {
                            Some(p) => op.push_body(p),
                            None => op.finish_body(),
                        }
                    }
                });
            let head_out = out
                .result
                .unwrap_or_else(|e| panic!("{engine} {delivery:?}: {e}"));
            assert_eq!(head_out.status, 200, "{engine} {delivery:?}");
            let mut want = head.clone();
            want.extend_from_slice(&body);
            assert!(
                out.sent[0] == want,
                "{engine}: the request differs from the recording"
            );
        }
    }
}

#[test]
fn a_refused_upload_is_typed() {
    for (status, body, check) in [
        (
            "404 Not Found",
            r#"{"message":"No such container: c"}"#,
            (|e: &Error| matches!(e, Error::ContainerNotFound(_))) as fn(&Error) -> bool,
        ),
        (
            "404 Not Found",
            r#"{"message":"Could not find the file /tmp in container c"}"#,
            |e: &Error| matches!(e, Error::PathNotFound(p) if p == "/tmp"),
        ),
        (
            "500 Internal Server Error",
            r#"{"message":"no space left on device"}"#,
            |e: &Error| matches!(e, Error::Engine { status: 500, .. }),
        ),
    ] {
        let op = UploadOp::new(
            "archive put",
            &archive::put("c", "/tmp", None),
            TIMEOUT,
            |r: &Response| archive::check(r, "archive put", "c", "/tmp"),
        );
        let out = Script::new(vec![reply("PUT /containers/c/archive", json(status, body))])
            .delivery(3)
            .run_with(op, |op, e| {
                if *e == TransferEvent::NeedBody {
                    op.finish_body();
                }
            });
        let err = out
            .result
            .err()
            .unwrap_or_else(|| panic!("{body}: no error"));
        assert!(check(&err), "{body}: {err:?}");
    }
}
