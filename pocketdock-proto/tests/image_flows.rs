//! The image flows (build with its retry policy, import, export) against a scripted engine on a
//! virtual clock: the recorded build streams of both engines delivered at every split point,
//! in-stream failures, Podman's lost-layer race retried up to the limit, the build deadline,
//! import answers of both shapes and its fallback, and the export's checks before any byte.

mod support;

use std::time::Duration;

use bytes::Bytes;
use pocketdock_proto::api::images::{BuildOptions, Progress};
use pocketdock_proto::build_retry::{BUILD_ATTEMPTS, NOTE_PREFIX};
use pocketdock_proto::image_flow::{
    BuildEvent, BuildOp, BuiltImage, ExportEvent, ExportOp, ImportEvent, ImportOp, BUILD_TIMEOUT,
};
use pocketdock_proto::Error;
use support::{
    every_delivery, json, reply, transcript, transcript_request_line, Delivery, Reply, Script,
    ENGINES,
};

/// A `200` JSON-lines stream, chunked as both engines send it.
fn stream(lines: &[&str]) -> Vec<u8> {
    let mut v =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for l in lines {
        let line = format!("{l}\n");
        v.extend(format!("{:x}\r\n{line}\r\n", line.len()).into_bytes());
    }
    v.extend(b"0\r\n\r\n");
    v
}

fn inspect_reply(tag: &str, id: &str) -> Reply {
    reply(
        format!("GET /images/{tag}/json"),
        json(
            "200 OK",
            &format!(r#"{{"Id":"{id}","RepoTags":["{tag}"]}}"#),
        ),
    )
}

/// What a build run gave: its events (progress texts, contexts opened) and result.
struct Built {
    opened: usize,
    texts: Vec<String>,
    result: Result<BuiltImage, Error>,
    requests: Vec<String>,
    sent: Vec<Vec<u8>>,
    elapsed: Duration,
}

/// Run a build of `tag`, feeding the context `ctx` (in one piece) on every attempt.
fn build(tag: &str, script: Vec<Reply>, delivery: Delivery) -> Built {
    let op = BuildOp::new(&BuildOptions::tagged(tag)).unwrap_or_else(|e| panic!("{e}"));
    let mut fed = false;
    let out = Script::new(script)
        .delivery(delivery)
        .run_with(op, |op, e| match e {
            BuildEvent::OpenContext => fed = false,
            BuildEvent::NeedBody if !fed => {
                fed = true;
                op.push_body(Bytes::from_static(b"ctx"));
            }
            BuildEvent::NeedBody => op.finish_body(),
            BuildEvent::Progress(_) => {}
        });
    let texts = out
        .events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Progress(Progress {
                stream: Some(s), ..
            }) => Some(s.clone()),
            _ => None,
        })
        .collect();
    Built {
        opened: out
            .events
            .iter()
            .filter(|e| **e == BuildEvent::OpenContext)
            .count(),
        texts,
        result: out.result,
        requests: out.requests,
        sent: out.sent,
        elapsed: out.elapsed,
    }
}

fn recorded_build(engine: &str) -> Reply {
    reply(
        transcript_request_line(engine, "build"),
        transcript(engine, "build"),
    )
}

#[test]
fn recorded_builds_at_every_split_point() {
    for engine in ENGINES {
        let tag = format!("localhost/pd-transcript-build-{engine}:latest");
        let script = vec![recorded_build(engine), inspect_reply(&tag, "sha256:abc")];
        let mut first: Option<Vec<String>> = None;
        let mut deliveries = every_delivery(&script[..1]);
        deliveries.push(Delivery::Chunks(1));
        for delivery in deliveries {
            let b = build(&tag, script.clone(), delivery);
            let built = b
                .result
                .unwrap_or_else(|e| panic!("{engine} {delivery:?}: {e}"));
            assert_eq!(built.id, "sha256:abc");
            // As the engine reported them (Podman says "Successfully tagged" twice).
            assert!(!built.tags.is_empty() && built.tags.iter().all(|t| *t == tag));
            assert_eq!(b.opened, 1);
            assert!(b.texts.iter().any(|t| t.contains("built-ok")), "{engine}");
            let body = String::from_utf8_lossy(&b.sent[0]).to_string();
            assert!(body.ends_with("3\r\nctx\r\n0\r\n\r\n"), "{body}");
            match &first {
                Some(f) => assert_eq!(f, &b.texts, "{engine} {delivery:?}"),
                None => first = Some(b.texts),
            }
        }
    }
}

#[test]
fn a_failing_step_fails_the_build_once() {
    for engine in ENGINES {
        let tag = format!("localhost/pd-transcript-build-{engine}:latest");
        let failing = transcript(engine, "build-fails");
        let script = vec![reply("POST /build", failing)];
        for delivery in [Delivery::Whole, Delivery::Chunks(5)] {
            let b = build(&tag, script.clone(), delivery);
            match b.result {
                Err(Error::StreamFailed {
                    op: "build",
                    message,
                }) => {
                    assert!(message.contains('3'), "{message}");
                }
                other => panic!("{engine}: {other:?}"),
            }
            assert_eq!(b.requests.len(), 1);
            assert_eq!(b.opened, 1);
        }
    }
}

fn lost_layer() -> Reply {
    reply(
        "POST /build",
        stream(&[
            r#"{"stream":"STEP 1/2: FROM base\n"}"#,
            r#"{"error":"checking if cached image exists from a previous build: getting top layer info: layer not known"}"#,
        ]),
    )
}

#[test]
fn a_lost_layer_is_built_again_after_a_note() {
    let tag = "localhost/pd-transcript-build-podman:latest";
    let script = vec![
        lost_layer(),
        recorded_build("podman"),
        inspect_reply(tag, "sha256:def"),
    ];
    for delivery in [Delivery::Whole, Delivery::Chunks(3)] {
        let b = build(tag, script.clone(), delivery);
        assert_eq!(b.result.map(|i| i.id).ok().as_deref(), Some("sha256:def"));
        assert_eq!(b.opened, 2, "the context is sent whole again");
        let note = b
            .texts
            .iter()
            .find(|t| t.starts_with(NOTE_PREFIX))
            .unwrap_or_else(|| panic!("no note in {:?}", b.texts));
        assert!(note.contains("attempt 2 of 3"), "{note}");
        assert_eq!(b.requests.len(), 3);
    }
    // The race every time: the last failure is the answer, after BUILD_ATTEMPTS builds.
    let always: Vec<Reply> = (0..BUILD_ATTEMPTS).map(|_| lost_layer()).collect();
    let b = build(tag, always, Delivery::Whole);
    assert!(
        matches!(&b.result, Err(Error::StreamFailed { message, .. }) if message.contains("layer not known")),
        "{:?}",
        b.result
    );
    assert_eq!(b.requests.len(), BUILD_ATTEMPTS as usize);
    assert_eq!(b.opened, BUILD_ATTEMPTS as usize);
}

#[test]
fn an_untagged_build_takes_the_reported_id_or_fails() {
    let op = || BuildOp::new(&BuildOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let feed = |op: &mut BuildOp, e: &BuildEvent| {
        if *e == BuildEvent::NeedBody {
            op.finish_body();
        }
    };
    let ok = vec![reply(
        "POST /build",
        stream(&[r#"{"aux":{"ID":"sha256:fff"}}"#]),
    )];
    let out = Script::new(ok).run_with(op(), feed);
    assert_eq!(out.result.map(|b| b.id).ok().as_deref(), Some("sha256:fff"));
    let silent = vec![reply("POST /build", stream(&[r#"{"stream":"done\n"}"#]))];
    let out = Script::new(silent).run_with(op(), feed);
    assert!(matches!(out.result, Err(Error::StreamFailed { .. })));
}

#[test]
fn a_build_that_never_answers_times_out_on_the_virtual_clock() {
    let tag = "t:1";
    let script = vec![reply(
        "POST /build",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
    )
    .hang()];
    let b = build(tag, script, Delivery::Whole);
    assert!(
        matches!(b.result, Err(Error::Timeout { .. })),
        "{:?}",
        b.result
    );
    assert!(b.elapsed >= BUILD_TIMEOUT);
}

#[test]
fn a_context_that_cannot_be_read_ends_the_build() {
    let op = BuildOp::new(&BuildOptions::tagged("t:1")).unwrap_or_else(|e| panic!("{e}"));
    let out = Script::new(vec![reply("POST /build", json("200 OK", ""))]).run_with(op, |op, e| {
        if *e == BuildEvent::NeedBody {
            op.fail(Error::HostPath {
                path: "/ctx".into(),
                detail: "gone".into(),
            });
        }
    });
    assert!(matches!(out.result, Err(Error::HostPath { .. })));
    assert!(BuildOp::new(&BuildOptions::tagged("bad tag")).is_err());
}

/// Run an import of `pieces`, then `finish_body(archive_tags)`.
fn import(
    script: Vec<Reply>,
    delivery: Delivery,
    archive_tags: &[&str],
) -> (Result<Vec<String>, Error>, Vec<Vec<u8>>) {
    let mut pieces = vec![&b"tar-2"[..], &b"tar-1"[..]];
    let tags: Vec<String> = archive_tags.iter().map(|s| (*s).to_string()).collect();
    let out = Script::new(script).delivery(delivery).run_with(
        ImportOp::new(),
        |op, ImportEvent::NeedBody| match pieces.pop() {
            Some(p) => op.push_body(Bytes::from_static(p)),
            None => op.finish_body(tags.clone()),
        },
    );
    (out.result, out.sent)
}

#[test]
fn import_reads_the_loaded_references_of_both_engines() {
    let podman = stream(&[r#"{"stream":"Loaded image(s): a:1,b:2\n"}"#]);
    let podman_lines = stream(&[
        r#"{"stream":"Loaded image: a:1\n"}"#,
        r#"{"stream":"Loaded image: a:1, b:2\n"}"#,
    ]);
    let docker = stream(&[
        r#"{"stream":"Loaded image: a:1\n"}"#,
        r#"{"stream":"Loaded image ID: sha256:0123\n"}"#,
    ]);
    for (answer, want) in [
        (podman_lines, vec!["a:1", "b:2"]),
        (docker, vec!["a:1", "sha256:0123"]),
    ] {
        let script = vec![reply("POST /images/load?quiet=0", answer)];
        for delivery in every_delivery(&script) {
            let (result, sent) = import(script.clone(), delivery, &["fallback:1"]);
            assert_eq!(
                result.ok(),
                Some(want.iter().map(|s| (*s).to_string()).collect())
            );
            let body = String::from_utf8_lossy(&sent[0]).to_string();
            assert!(
                body.ends_with("5\r\ntar-1\r\n5\r\ntar-2\r\n0\r\n\r\n"),
                "{body}"
            );
        }
    }
    // Nothing reported: the archive's own tags.
    let script = vec![reply("POST /images/load", podman)];
    let (result, _) = import(script, Delivery::Whole, &["fallback:1"]);
    assert_eq!(result.ok(), Some(vec!["fallback:1".to_string()]));
    let quiet = vec![reply(
        "POST /images/load",
        stream(&[r#"{"stream":"ok\n"}"#]),
    )];
    let (result, _) = import(quiet, Delivery::Whole, &["fallback:1"]);
    assert_eq!(result.ok(), Some(vec!["fallback:1".to_string()]));
}

#[test]
fn import_errors_in_stream_and_a_bad_archive_never_end_the_body() {
    let failing = vec![reply(
        "POST /images/load",
        stream(&[
            r#"{"error":"payload does not match","errorDetail":{"message":"payload does not match"}}"#,
        ]),
    )];
    let (result, _) = import(failing, Delivery::Chunks(4), &[]);
    assert!(
        matches!(result, Err(Error::StreamFailed { op: "load", .. })),
        "{result:?}"
    );
    // A corrupt archive: the host fails the import; the body's end is never sent.
    let script = vec![reply("POST /images/load", json("200 OK", ""))];
    let out = Script::new(script).run_with(ImportOp::new(), |op, ImportEvent::NeedBody| {
        op.fail(Error::Archive("truncated".into()));
    });
    assert!(matches!(out.result, Err(Error::Archive(_))));
    assert!(!String::from_utf8_lossy(&out.sent[0]).contains("0\r\n\r\n"));
}

#[test]
fn export_checks_every_image_then_streams_one_archive() {
    let archive = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nContent-Length: 10\r\n\r\n0123456789";
    let script = vec![
        inspect_reply("a:1", "sha256:a"),
        inspect_reply("b:2", "sha256:b"),
        reply("GET /images/get?names=a%3A1&names=b%3A2", archive.to_vec()),
    ];
    for delivery in every_delivery(&script) {
        let op = ExportOp::new(&["a:1", "b:2", "a:1"]).unwrap_or_else(|e| panic!("{e}"));
        let out = Script::new(script.clone()).delivery(delivery).run(op);
        assert!(out.result.is_ok(), "{delivery:?}: {:?}", out.result);
        assert_eq!(out.events.first(), Some(&ExportEvent::Open));
        let data: Vec<u8> = out
            .events
            .iter()
            .filter_map(|e| match e {
                ExportEvent::Data(d) => Some(d.to_vec()),
                ExportEvent::Open => None,
            })
            .flatten()
            .collect();
        assert_eq!(data, b"0123456789");
    }
    // A missing image: nothing is opened, no archive asked for.
    let missing = vec![
        inspect_reply("a:1", "sha256:a"),
        reply(
            "GET /images/nope/json",
            json("404 Not Found", r#"{"message":"no such image"}"#),
        ),
    ];
    let op = ExportOp::new(&["a:1", "nope"]).unwrap_or_else(|e| panic!("{e}"));
    let out = Script::new(missing).run(op);
    assert!(
        matches!(out.result, Err(Error::ImageNotFound(_))),
        "{:?}",
        out.result
    );
    assert!(out.events.is_empty());
    assert!(ExportOp::new::<&str>(&[]).is_err());
    // The destination failed: the export ends with that error.
    let script = vec![
        inspect_reply("a:1", "sha256:a"),
        reply("GET /images/get", archive.to_vec()),
    ];
    let op = ExportOp::new(&["a:1"]).unwrap_or_else(|e| panic!("{e}"));
    let out = Script::new(script).run_with(op, |op, e| {
        if matches!(e, ExportEvent::Data(_)) {
            op.fail(Error::HostPath {
                path: "/out.tar".into(),
                detail: "disk full".into(),
            });
        }
    });
    assert!(matches!(out.result, Err(Error::HostPath { .. })));
}

#[test]
fn a_profile_build_is_tagged_labelled_and_based_as_asked() {
    let (context, options) =
        pocketdock_proto::image_flow::profile_build("minimal-python", Some("local/base:1"))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        context,
        pocketdock_proto::image_flow::BuildContext::profile("minimal-python")
    );
    assert_eq!(options.tags, vec!["pocketdock/minimal-python".to_string()]);
    assert_eq!(
        options.labels.get("pocketdock.profile").map(String::as_str),
        Some("minimal-python")
    );
    assert_eq!(
        options.build_args.get("BASE").map(String::as_str),
        Some("local/base:1")
    );
    let (_, plain) = pocketdock_proto::image_flow::profile_build("minimal-python", None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!plain.build_args.contains_key("BASE"));
    assert!(pocketdock_proto::image_flow::profile_build("no-such-profile", None).is_err());
}
