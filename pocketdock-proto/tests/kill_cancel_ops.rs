//! Killing a command's process tree (`KillOp`) and cancelling an abandoned command until it
//! stays dead (`CancelOp`), on the scripted engine: the recorded exec create, start and inspect
//! of both engines at every split point, typed failures, and the retry window on virtual time.

mod support;

use std::time::Duration;

use pocketdock_proto::op::{CancelOp, KillOp, CANCEL_RETRY, CANCEL_WINDOW, NONCE_VAR};
use pocketdock_proto::Error;
use support::{
    assert_times_out, check_every_delivery, drive, json, recorded, reply, silent,
    transcript_request_line, Delivery, Reply, Script, ENGINES,
};

fn name(engine: &str) -> String {
    format!("pd-transcript-{engine}")
}

/// The exec id in a recorded request line (`POST /exec/<id>/start HTTP/1.1`).
fn recorded_exec_id(engine: &str, transcript: &str) -> String {
    transcript_request_line(engine, transcript)
        .split('/')
        .nth(2)
        .unwrap_or_default()
        .to_string()
}

fn kill_created(container: &str, id: &str) -> Reply {
    reply(
        format!("POST /containers/{container}/exec "),
        json("201 Created", &format!(r#"{{"Id":"{id}"}}"#)),
    )
}

fn kill_ran(id: &str) -> Reply {
    reply(
        format!("POST /exec/{id}/start "),
        b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_vec(),
    )
}

fn exec_inspect(id: &str, running: bool, pid: u32) -> Reply {
    reply(
        format!("GET /exec/{id}/json "),
        json(
            "200 OK",
            &format!(r#"{{"ID":"{id}","Running":{running},"ExitCode":137,"Pid":{pid}}}"#),
        ),
    )
}

// --- KillOp ----------------------------------------------------------------------------------

#[test]
fn kill_runs_the_script_and_waits_for_it_to_end() {
    for engine in ENGINES {
        // The recorded exec create answers with the id the recorded start was sent to.
        let script = [
            recorded(engine, "exec-create"),
            recorded(engine, "exec-start-upgrade"),
        ];
        check_every_delivery(
            &script,
            || KillOp::new(&name(engine), "nonce-7", "TERM", Some("sandbox".into())),
            |d, out| {
                assert!(out.result.is_ok(), "{engine} {d:?}: {:?}", out.result);
                assert_eq!(out.requests.len(), 2);
                let create = String::from_utf8_lossy(&out.sent[0]).to_string();
                assert!(create.contains(r#""User":"sandbox""#), "{create}");
                assert!(create.contains(r#""TERM","nonce-7"]"#), "{create}");
                assert!(create.contains(NONCE_VAR), "{create}");
            },
        );
    }
    let op = KillOp::new("c", "n", "KILL", None);
    assert_eq!(op.user(), None);
}

#[test]
fn kill_in_a_stopped_or_missing_container_is_typed() {
    for engine in ENGINES {
        check_every_delivery(
            &[recorded(engine, "exec-create-stopped")],
            || KillOp::new(&name(engine), "n", "KILL", None),
            |d, out| {
                assert!(
                    matches!(out.result, Err(Error::ContainerNotRunning(ref c)) if *c == name(engine)),
                    "{engine} {d:?}: {:?}",
                    out.result
                );
            },
        );
    }
    let out = drive(
        KillOp::new("c", "n", "KILL", None),
        vec![reply(
            "POST /containers/c/exec ",
            json("404 Not Found", r#"{"message":"No such container: c"}"#),
        )],
        Delivery::Whole,
    );
    assert!(matches!(out.result, Err(Error::ContainerNotFound(ref c)) if c == "c"));
}

#[test]
fn a_refused_kill_start_is_an_engine_error() {
    for (status, code) in [("404 Not Found", 404), ("500 Internal Server Error", 500)] {
        let script = [
            kill_created("c", "k1"),
            reply(
                "POST /exec/k1/start ",
                json(status, r#"{"message":"no such exec"}"#),
            ),
        ];
        check_every_delivery(
            &script,
            || KillOp::new("c", "n", "KILL", None),
            |d, out| {
                assert!(
                    matches!(out.result, Err(Error::Engine { op: "kill", status, .. }) if status == code),
                    "{d:?}: {:?}",
                    out.result
                );
            },
        );
    }
}

#[test]
fn kill_gives_up_after_fifteen_seconds_a_step() {
    assert_times_out(
        KillOp::new("c", "n", "KILL", None),
        vec![silent("POST /containers/c/exec ")],
        "exec create",
        Duration::from_secs(15),
    );
    assert_times_out(
        KillOp::new("c", "n", "KILL", None),
        vec![
            kill_created("c", "k1"),
            reply(
                "POST /exec/k1/start ",
                b"HTTP/1.1 101 UPGRADED\r\n\r\n".to_vec(),
            )
            .hang(),
        ],
        "kill",
        Duration::from_secs(15),
    );
}

#[test]
fn a_cut_kill_answer_is_a_protocol_error() {
    let mut cut = json("201 Created", r#"{"Id":"k1"}"#);
    cut.truncate(cut.len() - 2);
    let out = drive(
        KillOp::new("c", "n", "KILL", None),
        vec![reply("POST /containers/c/exec ", cut)],
        3,
    );
    assert!(
        matches!(out.result, Err(Error::Protocol(_))),
        "{:?}",
        out.result
    );
}

// --- CancelOp --------------------------------------------------------------------------------

#[test]
fn cancel_ends_when_the_engine_reports_the_exec_stopped() {
    // Docker's recorded inspect of a finished exec: not running, with its host pid.
    let engine = "docker";
    let exec_id = recorded_exec_id(engine, "exec-inspect");
    let script = [
        kill_created(&name(engine), "k1"),
        kill_ran("k1"),
        recorded(engine, "exec-inspect"),
    ];
    check_every_delivery(
        &script,
        || CancelOp::new(&name(engine), &exec_id, "n", None),
        |d, out| {
            assert!(out.result.is_ok(), "{d:?}: {:?}", out.result);
            assert_eq!(out.requests.len(), 3);
        },
    );
}

#[test]
fn cancel_kills_again_until_the_exec_has_stopped() {
    let script = vec![
        kill_created("c", "k1"),
        kill_ran("k1"),
        exec_inspect("e1", true, 42),
        kill_created("c", "k2"),
        kill_ran("k2"),
        exec_inspect("e1", false, 42),
    ];
    let out = Script::new(script.clone())
        .tick(Duration::ZERO)
        .run(CancelOp::new("c", "e1", "n", None));
    assert!(out.result.is_ok(), "{:?}", out.result);
    assert_eq!(out.elapsed, CANCEL_RETRY);
    check_every_delivery(
        &script,
        || CancelOp::new("c", "e1", "n", None),
        |d, out| assert!(out.result.is_ok(), "{d:?}: {:?}", out.result),
    );
}

/// An exec that never shows as started (no pid) is killed every `CANCEL_RETRY` until
/// `CANCEL_WINDOW` has passed: Podman's recorded inspect of a finished exec says `Pid: 0`, so
/// there it is the window that ends the cancel.
#[test]
fn cancel_gives_up_after_its_window() {
    for engine in ENGINES {
        let exec_id = recorded_exec_id(engine, "exec-inspect");
        let rounds = (CANCEL_WINDOW.as_millis() / CANCEL_RETRY.as_millis()) as usize + 1;
        let mut script = Vec::new();
        for _ in 0..rounds {
            script.push(kill_created(&name(engine), "k1"));
            script.push(kill_ran("k1"));
            script.push(if engine == "podman" {
                recorded(engine, "exec-inspect")
            } else {
                exec_inspect(&exec_id, true, 4325)
            });
        }
        let out = Script::new(script).tick(Duration::ZERO).run(CancelOp::new(
            &name(engine),
            &exec_id,
            "n",
            None,
        ));
        assert!(out.result.is_ok(), "{engine}: {:?}", out.result);
        assert_eq!(out.elapsed, CANCEL_WINDOW, "{engine}");
        assert_eq!(out.requests.len(), 3 * rounds, "{engine}");
    }
}

#[test]
fn nothing_left_to_kill_is_success() {
    let gone = |prefix: &str, status: &str, message: &str| {
        reply(
            prefix,
            json(status, &format!(r#"{{"message":"{message}"}}"#)),
        )
    };
    let cases = [
        vec![gone(
            "POST /containers/c/exec ",
            "404 Not Found",
            "No such container: c",
        )],
        vec![gone(
            "POST /containers/c/exec ",
            "409 Conflict",
            "Container c is not running",
        )],
        vec![
            kill_created("c", "k1"),
            kill_ran("k1"),
            gone(
                "GET /exec/e1/json ",
                "404 Not Found",
                "No such exec instance: e1",
            ),
        ],
    ];
    for script in cases {
        let n = script.len();
        let out = drive(CancelOp::new("c", "e1", "n", None), script, 5);
        assert!(out.result.is_ok(), "{:?}", out.result);
        assert_eq!(out.requests.len(), n);
    }
    for engine in ENGINES {
        let exec_id = recorded_exec_id(engine, "exec-inspect-removed");
        let out = drive(
            CancelOp::new("c", &exec_id, "n", None),
            vec![
                kill_created("c", "k1"),
                kill_ran("k1"),
                recorded(engine, "exec-inspect-removed"),
            ],
            Delivery::Whole,
        );
        assert!(out.result.is_ok(), "{engine}: {:?}", out.result);
    }
}

#[test]
fn other_failures_of_a_cancel_are_reported() {
    let out = drive(
        CancelOp::new("c", "e1", "n", None),
        vec![reply(
            "POST /containers/c/exec ",
            json(
                "500 Internal Server Error",
                r#"{"cause":"disk on fire","message":"disk on fire","response":500}"#,
            ),
        )],
        Delivery::Whole,
    );
    assert!(matches!(out.result, Err(Error::Engine { status: 500, .. })));
    assert_times_out(
        CancelOp::new("c", "e1", "n", None),
        vec![
            kill_created("c", "k1"),
            kill_ran("k1"),
            silent("GET /exec/e1/json "),
        ],
        "exec inspect",
        Duration::from_secs(15),
    );
}
