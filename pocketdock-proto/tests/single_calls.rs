//! Every single engine call of `op::calls` on the scripted engine: the recorded answers of both
//! engines at every split point (the request line must be the recorded one), engine error
//! statuses mapped to typed errors, malformed bodies, and each call's deadline on virtual time.

mod support;

use std::time::Duration;

use pocketdock_proto::api::exec::ExecSpec;
use pocketdock_proto::op::{calls, CallOp};
use pocketdock_proto::{Error, ProtocolError};
use support::{
    assert_times_out, check_every_delivery, drive, json, recorded, reply, silent, Delivery, ENGINES,
};

const PD: &str = "pd-transcript-";

/// What an error must be.
type Check = fn(&Error) -> bool;

/// The recorded container name of `engine`.
fn name(engine: &str) -> String {
    format!("{PD}{engine}")
}

/// Run `make()` against the recorded `transcript` of each engine at every split point; `check`
/// gets the engine and the result.
fn on_recording<T: std::fmt::Debug>(
    transcript: &str,
    make: impl Fn(&str) -> CallOp<T>,
    check: impl Fn(&str, Delivery, Result<T, Error>),
) {
    for engine in ENGINES {
        let script = [recorded(engine, transcript)];
        check_every_delivery(
            &script,
            || make(engine),
            |d, out| {
                assert_eq!(out.requests.len(), 1);
                check(engine, d, out.result);
            },
        );
    }
}

#[test]
fn ping_and_version() {
    on_recording(
        "ping",
        |_| calls::ping(),
        |e, d, r| assert_eq!(r.ok().as_deref(), Some("OK"), "{e} {d:?}"),
    );
    on_recording(
        "version",
        |_| calls::version(),
        |e, d, r| {
            let v = r.unwrap_or_else(|err| panic!("{e} {d:?}: {err}"));
            assert_eq!(v.api_version, "1.41", "{e} {d:?}");
        },
    );
}

#[test]
fn inspect_parses_the_recorded_container() {
    on_recording(
        "inspect",
        |e| calls::inspect(&name(e)),
        |e, d, r| {
            let c = r.unwrap_or_else(|err| panic!("{e} {d:?}: {err}"));
            assert!(c.state.running, "{e} {d:?}");
            assert_eq!(c.id.len(), 64, "{e} {d:?}");
        },
    );
    // The raw inspect collects the body as the typed one does (split above at every point);
    // only its parse differs, so whole, byte by byte and in odd pieces are enough here.
    for engine in ENGINES {
        for d in [Delivery::Whole, Delivery::Chunks(1), Delivery::Chunks(7)] {
            let out = drive(
                calls::inspect_raw(&name(engine)),
                vec![recorded(engine, "inspect")],
                d,
            );
            let v = out
                .result
                .unwrap_or_else(|err| panic!("{engine} {d:?}: {err}"));
            assert_eq!(v["State"]["Running"], true, "{engine} {d:?}");
        }
    }
}

#[test]
fn a_missing_container_is_not_found() {
    on_recording(
        "inspect-missing",
        |_| calls::inspect("pd-no-such-container"),
        |e, d, r| {
            assert!(
                matches!(r, Err(Error::ContainerNotFound(ref id)) if id == "pd-no-such-container"),
                "{e} {d:?}: {r:?}"
            );
        },
    );
}

#[test]
fn list_parses_the_recorded_listing() {
    on_recording(
        "list",
        |_| calls::list(&["pocketdock.managed=true".into()]),
        |e, d, r| {
            let items = r.unwrap_or_else(|err| panic!("{e} {d:?}: {err}"));
            assert!(
                items
                    .iter()
                    .any(|i| i.names.iter().any(|n| n.ends_with(&name(e)))),
                "{e} {d:?}"
            );
        },
    );
}

#[test]
fn create_returns_the_id_and_types_its_failures() {
    let body = serde_json::json!({"Image": "pocketdock/busybox"});
    on_recording(
        "create",
        |e| calls::create(&name(e), &body, "pocketdock/busybox"),
        |e, d, r| {
            let id = r.unwrap_or_else(|err| panic!("{e} {d:?}: {err}"));
            assert_eq!(id.len(), 64, "{e} {d:?}");
        },
    );
    // Podman answers 500, Docker 409: both are a taken name, named without Docker's slash.
    on_recording(
        "create-conflict",
        |e| calls::create(&name(e), &body, "pocketdock/busybox"),
        |e, d, r| {
            assert!(
                matches!(r, Err(Error::NameInUse(ref n)) if *n == name(e)),
                "{e} {d:?}: {r:?}"
            );
        },
    );
}

#[test]
fn create_of_a_missing_image_is_image_not_found() {
    // Recorded without a name: the request line differs, so match on the path only.
    for engine in ENGINES {
        let script = vec![reply(
            "POST /containers/create?name=x ",
            support::transcript(engine, "create-no-image"),
        )];
        let body = serde_json::json!({});
        let out = drive(
            calls::create("x", &body, "pocketdock/does-not-exist"),
            script,
            Delivery::Whole,
        );
        assert!(
            matches!(out.result, Err(Error::ImageNotFound(ref i)) if i == "pocketdock/does-not-exist"),
            "{engine}: {:?}",
            out.result
        );
    }
}

#[test]
fn start_stop_and_remove() {
    on_recording(
        "start",
        |e| calls::start(&name(e)),
        |e, d, r| assert!(r.is_ok(), "{e} {d:?}: {r:?}"),
    );
    on_recording(
        "stop",
        |e| calls::stop(&name(e), 5),
        |e, d, r| assert!(r.is_ok(), "{e} {d:?}: {r:?}"),
    );
    // 304: already stopped is not an error.
    on_recording(
        "stop-again",
        |e| calls::stop(&name(e), 5),
        |e, d, r| assert!(r.is_ok(), "{e} {d:?}: {r:?}"),
    );
    on_recording(
        "remove",
        |e| calls::remove(&name(e), true),
        |e, d, r| assert!(r.is_ok(), "{e} {d:?}: {r:?}"),
    );
}

#[test]
fn stats_top_and_commit() {
    on_recording(
        "stats",
        |e| calls::stats(&name(e)),
        |e, d, r| {
            let s = r.unwrap_or_else(|err| panic!("{e} {d:?}: {err}"));
            assert!(s.is_some(), "{e} {d:?}: a running container has a sample");
        },
    );
    on_recording(
        "top",
        |e| calls::top(&name(e)),
        |e, d, r| {
            let t = r
                .unwrap_or_else(|err| panic!("{e} {d:?}: {err}"))
                .unwrap_or_else(|| panic!("{e} {d:?}: a running container has processes"));
            assert_eq!(t.processes.len(), 2, "{e} {d:?}");
        },
    );
    on_recording(
        "commit",
        |e| {
            calls::commit(&name(e), &format!("localhost/{}:snap", name(e)))
                .unwrap_or_else(|err| panic!("{err}"))
        },
        |e, d, r| {
            let id = r.unwrap_or_else(|err| panic!("{e} {d:?}: {err}"));
            assert!(id.len() >= 64, "{e} {d:?}: {id}");
        },
    );
    assert!(matches!(
        calls::commit("c", "Not A Valid:Ref:x"),
        Err(Error::InvalidInput { .. })
    ));
}

#[test]
fn stats_and_top_of_a_stopped_container_are_none() {
    for (status, body) in [
        (
            "409 Conflict",
            r#"{"message":"Container c is not running"}"#,
        ),
        (
            "500 Internal Server Error",
            r#"{"cause":"container state improper","message":"container state improper","response":500}"#,
        ),
    ] {
        let out = drive(
            calls::stats("c"),
            vec![reply("GET /containers/c/stats", json(status, body))],
            7,
        );
        assert!(matches!(out.result, Ok(None)), "{status}: {:?}", out.result);
        let out = drive(
            calls::top("c"),
            vec![reply("GET /containers/c/top", json(status, body))],
            7,
        );
        assert!(matches!(out.result, Ok(None)), "{status}: {:?}", out.result);
    }
}

#[test]
fn exec_create_inspect_and_detached_start() {
    let spec = ExecSpec {
        cmd: vec!["true".into()],
        ..ExecSpec::default()
    };
    on_recording(
        "exec-create",
        |e| calls::exec_create(&name(e), &spec),
        |e, d, r| {
            let id = r.unwrap_or_else(|err| panic!("{e} {d:?}: {err}"));
            assert_eq!(id.len(), 64, "{e} {d:?}");
        },
    );
    on_recording(
        "exec-create-stopped",
        |e| calls::exec_create(&name(e), &spec),
        |e, d, r| {
            assert!(
                matches!(r, Err(Error::ContainerNotRunning(ref c)) if *c == name(e)),
                "{e} {d:?}: {r:?}"
            );
        },
    );
    for engine in ENGINES {
        let exec_id = support::transcript_request_line(engine, "exec-inspect")
            .split('/')
            .nth(2)
            .unwrap_or_default()
            .to_string();
        check_every_delivery(
            &[recorded(engine, "exec-inspect")],
            || calls::exec_inspect("c", &exec_id),
            |d, out| {
                let i = out
                    .result
                    .unwrap_or_else(|err| panic!("{engine} {d:?}: {err}"));
                assert_eq!((i.running, i.exit_code), (false, Some(3)), "{engine} {d:?}");
            },
        );
        let removed = support::transcript_request_line(engine, "exec-inspect-removed")
            .split('/')
            .nth(2)
            .unwrap_or_default()
            .to_string();
        let out = drive(
            calls::exec_inspect("c", &removed),
            vec![recorded(engine, "exec-inspect-removed")],
            Delivery::Whole,
        );
        assert!(
            matches!(out.result, Err(Error::ContainerNotFound(ref c)) if c == "c"),
            "{engine}: {:?}",
            out.result
        );
    }
    let out = drive(
        calls::exec_create_detached("c", &spec),
        vec![reply(
            "POST /containers/c/exec ",
            json("201 Created", r#"{"Id":"d1"}"#),
        )],
        3,
    );
    assert_eq!(out.result.ok().as_deref(), Some("d1"));
    let sent = String::from_utf8_lossy(&out.sent[0]).to_string();
    assert!(sent.contains(r#""AttachStdout":false"#), "{sent}");
    let out = drive(
        calls::exec_start_detached("c", "d1"),
        vec![reply("POST /exec/d1/start ", json("200 OK", ""))],
        3,
    );
    assert!(out.result.is_ok(), "{:?}", out.result);
    let sent = String::from_utf8_lossy(&out.sent[0]).to_string();
    assert!(sent.contains(r#""Detach":true"#), "{sent}");
}

#[test]
fn restart_succeeds_and_a_missing_container_is_not_found() {
    let out = drive(
        calls::restart("c", 3),
        vec![reply(
            "POST /containers/c/restart?t=3 ",
            json("204 No Content", ""),
        )],
        2,
    );
    assert!(out.result.is_ok(), "{:?}", out.result);
    let out = drive(
        calls::restart("c", 3),
        vec![reply(
            "POST /containers/c/restart",
            json("404 Not Found", r#"{"message":"No such container: c"}"#),
        )],
        2,
    );
    assert!(matches!(out.result, Err(Error::ContainerNotFound(ref c)) if c == "c"));
}

/// Every call with a container subject, against the three failing statuses.
#[test]
fn engine_statuses_map_to_typed_errors() {
    type Make = fn() -> CallOp<()>;
    let calls: Vec<(&str, Make)> = vec![
        ("GET /containers/c/json", || calls::inspect("c").map(drop)),
        ("GET /containers/c/json", || {
            calls::inspect_raw("c").map(drop)
        }),
        ("POST /containers/c/start", || calls::start("c")),
        ("POST /containers/c/stop", || calls::stop("c", 1)),
        ("DELETE /containers/c?", || calls::remove("c", false)),
        ("POST /containers/c/restart", || calls::restart("c", 1)),
        ("POST /containers/c/exec", || {
            calls::exec_create("c", &ExecSpec::default()).map(drop)
        }),
        ("GET /exec/e/json", || {
            calls::exec_inspect("c", "e").map(drop)
        }),
    ];
    let answers: [(&str, &str, Check); 3] = [
        (
            "404 Not Found",
            r#"{"message":"No such container: c"}"#,
            |e| matches!(e, Error::ContainerNotFound(c) if c == "c"),
        ),
        (
            "409 Conflict",
            r#"{"message":"Container c is not running"}"#,
            |e| matches!(e, Error::ContainerNotRunning(c) if c == "c"),
        ),
        (
            "500 Internal Server Error",
            r#"{"cause":"disk on fire","message":"disk on fire","response":500}"#,
            |e| matches!(e, Error::Engine { status: 500, message, .. } if message == "disk on fire"),
        ),
    ];
    for (prefix, make) in calls {
        for (status, body, check) in answers {
            let out = drive(
                make(),
                vec![reply(prefix, json(status, body))],
                Delivery::Whole,
            );
            let err = out
                .result
                .err()
                .unwrap_or_else(|| panic!("{prefix} {status}: no error"));
            assert!(check(&err), "{prefix} {status}: {err:?}");
        }
    }
    for (make, what) in [
        (calls::ping as fn() -> CallOp<String>, "ping"),
        (|| calls::version().map(|v| v.api_version), "version"),
        (|| calls::list(&[]).map(|l| l.len().to_string()), "list"),
    ] {
        let out = drive(
            make(),
            vec![reply(
                "",
                json("500 Internal Server Error", r#"{"message":"boom"}"#),
            )],
            Delivery::Whole,
        );
        assert!(
            matches!(out.result, Err(Error::Engine { status: 500, .. })),
            "{what}: {:?}",
            out.result
        );
    }
}

#[test]
fn malformed_answers_are_protocol_errors() {
    let bad_json = || json("200 OK", r#"{"Id": tru"#);
    let json_error =
        |r: &Result<String, Error>| matches!(r, Err(Error::Protocol(ProtocolError::Json { .. })));
    let out = drive(
        calls::version().map(|v| v.api_version),
        vec![reply("GET /version", bad_json())],
        1,
    );
    assert!(json_error(&out.result), "{:?}", out.result);
    let out = drive(
        calls::inspect("c").map(|c| c.id),
        vec![reply("GET /containers/c/json", bad_json())],
        1,
    );
    assert!(json_error(&out.result), "{:?}", out.result);
    let body = serde_json::json!({});
    let out = drive(
        calls::create("c", &body, "i"),
        vec![reply("POST /containers/create", bad_json())],
        1,
    );
    assert!(json_error(&out.result), "{:?}", out.result);
    let out = drive(
        calls::exec_create("c", &ExecSpec::default()),
        vec![reply("POST /containers/c/exec", bad_json())],
        1,
    );
    assert!(json_error(&out.result), "{:?}", out.result);
    let out = drive(
        calls::list(&[]).map(|l| l.len().to_string()),
        vec![reply("GET /containers/json", bad_json())],
        1,
    );
    assert!(json_error(&out.result), "{:?}", out.result);
    // Not HTTP at all, and a body cut short by the end of the stream.
    let out = drive(
        calls::start("c"),
        vec![reply("POST /containers/c/start", "garbage\r\n\r\n")],
        2,
    );
    assert!(
        matches!(
            out.result,
            Err(Error::Protocol(ProtocolError::MalformedHead(_)))
        ),
        "{:?}",
        out.result
    );
    let mut cut = json("200 OK", r#"{"Id":"abcdef"}"#);
    cut.truncate(cut.len() - 3);
    let out = drive(
        calls::inspect("c").map(|c| c.id),
        vec![reply("GET /containers/c/json", cut)],
        2,
    );
    assert!(
        matches!(
            out.result,
            Err(Error::Protocol(ProtocolError::TruncatedBody(_)))
        ),
        "{:?}",
        out.result
    );
    let out = drive(calls::ping(), vec![reply("GET /_ping", "")], 2);
    assert!(
        matches!(
            out.result,
            Err(Error::Protocol(ProtocolError::EmptyResponse))
        ),
        "{:?}",
        out.result
    );
}

/// Each call gives up at its own deadline, measured on the virtual clock from the connect.
#[test]
fn each_call_times_out_at_its_deadline() {
    let secs = Duration::from_secs;
    let body = serde_json::json!({});
    let cases: Vec<(CallOp<()>, &str, &str, Duration)> = vec![
        (calls::ping().map(drop), "GET /_ping", "ping", secs(60)),
        (
            calls::inspect("c").map(drop),
            "GET /containers/c/json",
            "inspect",
            secs(60),
        ),
        (
            calls::create("c", &body, "i").map(drop),
            "POST /containers/create",
            "create",
            secs(60),
        ),
        (
            calls::start("c"),
            "POST /containers/c/start",
            "start",
            secs(60),
        ),
        (
            calls::stop("c", 10),
            "POST /containers/c/stop?t=10",
            "stop",
            secs(70),
        ),
        (
            calls::restart("c", 10),
            "POST /containers/c/restart",
            "restart",
            secs(90),
        ),
        (
            calls::commit("c", "img:tag").map_or_else(|e| panic!("{e}"), |c| c.map(drop)),
            "POST /commit",
            "commit",
            secs(600),
        ),
        (
            calls::stats("c").map(drop),
            "GET /containers/c/stats",
            "stats",
            secs(60),
        ),
        (
            calls::top("c").map(drop),
            "GET /containers/c/top",
            "top",
            secs(60),
        ),
        (
            calls::exec_inspect("c", "e").map(drop),
            "GET /exec/e/json",
            "exec inspect",
            secs(60),
        ),
    ];
    for (op, prefix, name, after) in cases {
        assert_times_out(op, vec![silent(prefix)], name, after);
    }
}
