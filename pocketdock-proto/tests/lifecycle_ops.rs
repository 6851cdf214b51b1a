//! The composite lifecycle operations (create-and-start, find, recreate, live info) on the
//! scripted engine: the recorded answers of both engines at every split point, each failure of
//! each step, and the deadlines and the stats gap on virtual time.

mod support;

use std::time::Duration;

use pocketdock_proto::op::lifecycle::INFO_SAMPLE_GAP;
use pocketdock_proto::op::{CreateOp, FindOp, Identity, InfoOp, RecreateOp};
use pocketdock_proto::spec::{ContainerSpec, Labels};
use pocketdock_proto::Error;
use support::{
    assert_times_out, check_every_delivery, drive, json, recorded, reply, silent, transcript,
    Delivery, Reply, Script, ENGINES,
};

const CREATED_AT: &str = "2026-12-04T10:00:00.000000";

fn name(engine: &str) -> String {
    format!("pd-transcript-{engine}")
}

fn spec(name: &str) -> ContainerSpec {
    ContainerSpec::new().name(name)
}

fn create_op(name: &str) -> CreateOp {
    CreateOp::new(&spec(name), 0, CREATED_AT).unwrap_or_else(|e| panic!("{e}"))
}

/// The id in a recorded create answer.
fn recorded_id(engine: &str) -> String {
    let raw = transcript(engine, "create");
    let text = String::from_utf8_lossy(&raw);
    let start = text.find(r#""Id":""#).unwrap_or_else(|| panic!("no id")) + 6;
    text[start..start + 64].to_string()
}

fn not_found(prefix: &str, what: &str) -> Reply {
    reply(
        prefix,
        json(
            "404 Not Found",
            &format!(r#"{{"message":"No such container: {what}"}}"#),
        ),
    )
}

fn engine_error(prefix: &str, message: &str) -> Reply {
    reply(
        prefix,
        json(
            "500 Internal Server Error",
            &format!(r#"{{"cause":"{message}","message":"{message}","response":500}}"#),
        ),
    )
}

fn no_content(prefix: &str) -> Reply {
    reply(prefix, json("204 No Content", ""))
}

/// Every delivery of `script` but the two-way splits of its first answer, a recorded container
/// inspect: that answer is still delivered whole and byte by byte, and its every split point is
/// covered where it is parsed (`calls::inspect` in `single_calls.rs`), at a cost (a 5 kB JSON
/// parse per run) that would multiply here by the length of the other answers.
fn all_but_inspect_splits(script: &[Reply]) -> Vec<Delivery> {
    support::every_delivery(script)
        .into_iter()
        .filter(|d| !matches!(d, Delivery::SplitAt { reply: 0, .. }))
        .collect()
}

// --- CreateOp --------------------------------------------------------------------------------

#[test]
fn create_then_start_gives_the_identity() {
    for engine in ENGINES {
        let id = recorded_id(engine);
        let script = [
            recorded(engine, "create"),
            reply(
                format!("POST /containers/{id}/start "),
                transcript(engine, "start"),
            ),
        ];
        check_every_delivery(
            &script,
            || create_op(&name(engine)),
            |d, out| {
                let got = out.result.unwrap_or_else(|e| panic!("{engine} {d:?}: {e}"));
                let want = Identity {
                    id: id.clone(),
                    name: name(engine),
                    ..Identity::default()
                };
                assert_eq!(got, want, "{engine} {d:?}");
                let body = String::from_utf8_lossy(&out.sent[0]).to_string();
                assert!(
                    body.contains(&format!(r#""pocketdock.instance":"{}""#, name(engine))),
                    "{body}"
                );
                assert!(
                    body.contains(&format!(r#""pocketdock.created-at":"{CREATED_AT}""#)),
                    "{body}"
                );
            },
        );
    }
}

#[test]
fn create_without_a_name_uses_the_generated_one() {
    let out = drive(
        CreateOp::new(&ContainerSpec::new(), 0xab, CREATED_AT).unwrap_or_else(|e| panic!("{e}")),
        vec![
            reply(
                "POST /containers/create?name=pd-000000ab ",
                json("201 Created", r#"{"Id":"c1"}"#),
            ),
            no_content("POST /containers/c1/start "),
        ],
        5,
    );
    assert_eq!(
        out.result.map(|i| i.name).ok().as_deref(),
        Some("pd-000000ab")
    );
}

#[test]
fn create_with_labels_keeps_the_project_and_data_path() {
    let mut labels = Labels::new("web", CREATED_AT);
    labels.project = Some("proj".into());
    labels.data_path = Some("/p/.pocketdock/instances/web".into());
    labels.persist = true;
    let op =
        CreateOp::with_labels(&ContainerSpec::new(), &labels).unwrap_or_else(|e| panic!("{e}"));
    let out = drive(
        op,
        vec![
            reply(
                "POST /containers/create?name=web ",
                json("201 Created", r#"{"Id":"c1"}"#),
            ),
            no_content("POST /containers/c1/start "),
        ],
        Delivery::Whole,
    );
    let got = out.result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        got,
        Identity {
            id: "c1".into(),
            name: "web".into(),
            persist: true,
            project: "proj".into(),
            data_path: "/p/.pocketdock/instances/web".into(),
        }
    );
}

#[test]
fn a_bad_spec_is_refused_before_any_call() {
    let bad = [
        ContainerSpec::new().name("no spaces allowed"),
        ContainerSpec::new().mem_limit("1k"),
        ContainerSpec::new().cpu_percent(0),
    ];
    for spec in bad {
        assert!(
            matches!(
                CreateOp::new(&spec, 0, CREATED_AT),
                Err(Error::InvalidInput { .. })
            ),
            "{spec:?}"
        );
    }
    let labels = Labels::new("", CREATED_AT);
    assert!(matches!(
        CreateOp::with_labels(&ContainerSpec::new(), &labels),
        Err(Error::InvalidInput { field: "name", .. })
    ));
}

#[test]
fn a_taken_name_or_a_missing_image_stops_at_the_create() {
    for engine in ENGINES {
        check_every_delivery(
            &[recorded(engine, "create-conflict")],
            || create_op(&name(engine)),
            |d, out| {
                assert!(
                    matches!(out.result, Err(Error::NameInUse(ref n)) if *n == name(engine)),
                    "{engine} {d:?}: {:?}",
                    out.result
                );
                assert_eq!(out.requests.len(), 1);
            },
        );
        let out = drive(
            CreateOp::new(&spec("x").image("pocketdock/does-not-exist"), 0, CREATED_AT)
                .unwrap_or_else(|e| panic!("{e}")),
            vec![reply(
                "POST /containers/create?name=x ",
                transcript(engine, "create-no-image"),
            )],
            Delivery::Whole,
        );
        assert!(
            matches!(out.result, Err(Error::ImageNotFound(ref i)) if i.starts_with("pocketdock/does-not-exist")),
            "{engine}: {:?}",
            out.result
        );
    }
}

#[test]
fn a_container_that_fails_to_start_is_removed_and_the_start_error_reported() {
    let created = || {
        reply(
            "POST /containers/create?name=web ",
            json("201 Created", r#"{"Id":"c1"}"#),
        )
    };
    let start_fails = || engine_error("POST /containers/c1/start ", "OCI runtime error");
    for remove in [
        no_content("DELETE /containers/c1?force=true"),
        engine_error("DELETE /containers/c1?force=true", "removal failed too"),
    ] {
        let script = [created(), start_fails(), remove];
        check_every_delivery(
            &script,
            || create_op("web"),
            |d, out| {
                assert!(
                    matches!(
                        out.result,
                        Err(Error::Engine { op: "start", status: 500, ref message }) if message == "OCI runtime error"
                    ),
                    "{d:?}: {:?}",
                    out.result
                );
                assert_eq!(out.requests.len(), 3);
            },
        );
    }
    // A start that never answers: its deadline, then the removal.
    let out = drive(
        create_op("web"),
        vec![
            created(),
            silent("POST /containers/c1/start "),
            no_content("DELETE /containers/c1?force=true"),
        ],
        Delivery::Whole,
    );
    assert!(
        matches!(out.result, Err(Error::Timeout { op: "start", .. })),
        "{:?}",
        out.result
    );
    assert_eq!(out.requests.len(), 3);
}

#[test]
fn a_create_that_never_answers_times_out() {
    assert_times_out(
        create_op("web"),
        vec![silent("POST /containers/create?name=web ")],
        "create",
        Duration::from_secs(60),
    );
}

// --- FindOp ----------------------------------------------------------------------------------

fn labelled(id: &str, engine_name: &str, instance: &str) -> String {
    format!(
        r#"{{"Id":"{id}","Name":"/{engine_name}","State":{{"Status":"running","Running":true}},"Config":{{"Labels":{{"pocketdock.managed":"true","pocketdock.instance":"{instance}"}}}}}}"#
    )
}

fn list_item(id: &str, engine_name: &str) -> String {
    format!(
        r#"{{"Id":"{id}","Names":["/{engine_name}"],"State":"running","Labels":{{"pocketdock.managed":"true"}}}}"#
    )
}

const LIST: &str = "GET /containers/json?all=true&filters=";

#[test]
fn find_by_engine_name() {
    for engine in ENGINES {
        let script = [recorded(engine, "inspect")];
        for d in all_but_inspect_splits(&script) {
            let out = drive(FindOp::new(&name(engine)), script.to_vec(), d);
            let c = out.result.unwrap_or_else(|e| panic!("{engine} {d:?}: {e}"));
            assert_eq!(
                Identity::from_inspect(&c).name,
                name(engine),
                "{engine} {d:?}"
            );
            assert_eq!(out.requests.len(), 1);
        }
    }
}

#[test]
fn find_by_the_instance_label_when_the_engine_name_differs() {
    for engine in ENGINES {
        let script = [
            recorded(engine, "inspect-missing"),
            reply(
                LIST,
                json(
                    "200 OK",
                    &format!("[{}]", list_item("abc", "reference-name")),
                ),
            ),
            reply(
                "GET /containers/abc/json ",
                json(
                    "200 OK",
                    &labelled("abc", "reference-name", "pd-no-such-container"),
                ),
            ),
        ];
        check_every_delivery(
            &script,
            || FindOp::new("pd-no-such-container"),
            |d, out| {
                let c = out.result.unwrap_or_else(|e| panic!("{engine} {d:?}: {e}"));
                assert_eq!(c.id, "abc");
                assert_eq!(Identity::from_inspect(&c).name, "pd-no-such-container");
                // Both labels in the filter: managed, and the instance asked for.
                assert!(
                    out.requests[1].contains("pocketdock.managed%3Dtrue"),
                    "{}",
                    out.requests[1]
                );
                assert!(
                    out.requests[1].contains("pocketdock.instance%3Dpd-no-such-container"),
                    "{}",
                    out.requests[1]
                );
            },
        );
    }
}

#[test]
fn a_container_that_is_not_pocketdocks_is_not_found() {
    let foreign = r#"{"Id":"f1","Name":"/web","State":{"Running":true},"Config":{"Labels":{}}}"#;
    let out = drive(
        FindOp::new("web"),
        vec![
            reply("GET /containers/web/json ", json("200 OK", foreign)),
            reply(LIST, json("200 OK", "[]")),
        ],
        3,
    );
    assert!(
        matches!(out.result, Err(Error::ContainerNotFound(ref n)) if n == "web"),
        "{:?}",
        out.result
    );
}

#[test]
fn two_containers_with_the_same_label_are_ambiguous() {
    let out = drive(
        FindOp::new("web"),
        vec![
            not_found("GET /containers/web/json ", "web"),
            reply(
                LIST,
                json(
                    "200 OK",
                    &format!("[{},{}]", list_item("a1", "one"), list_item("b2", "two")),
                ),
            ),
        ],
        4,
    );
    match out.result {
        Err(Error::InvalidInput {
            field: "name",
            reason,
        }) => {
            assert!(reason.contains("one") && reason.contains("two"), "{reason}");
        }
        other => panic!("expected an ambiguity, got {other:?}"),
    }
}

#[test]
fn find_passes_other_failures_through() {
    let out = drive(
        FindOp::new("web"),
        vec![engine_error("GET /containers/web/json ", "database locked")],
        Delivery::Whole,
    );
    assert!(matches!(out.result, Err(Error::Engine { status: 500, .. })));
    assert_eq!(out.requests.len(), 1);
    let out = drive(
        FindOp::new("web"),
        vec![
            not_found("GET /containers/web/json ", "web"),
            engine_error(LIST, "database locked"),
        ],
        Delivery::Whole,
    );
    assert!(matches!(out.result, Err(Error::Engine { op: "list", .. })));
    let out = drive(
        FindOp::new("web"),
        vec![
            not_found("GET /containers/web/json ", "web"),
            reply(
                LIST,
                json("200 OK", &format!("[{}]", list_item("a1", "one"))),
            ),
            not_found("GET /containers/a1/json ", "a1"),
        ],
        Delivery::Whole,
    );
    assert!(
        matches!(out.result, Err(Error::ContainerNotFound(ref id)) if id == "a1"),
        "removed between the list and the inspect: {:?}",
        out.result
    );
    assert_times_out(
        FindOp::new("web"),
        vec![silent("GET /containers/web/json ")],
        "inspect",
        Duration::from_secs(60),
    );
}

// --- RecreateOp ------------------------------------------------------------------------------

#[test]
fn recreate_replays_the_containers_own_settings() {
    for engine in ENGINES {
        let n = name(engine);
        let script = [
            recorded(engine, "inspect"),
            recorded(engine, "remove"),
            recorded(engine, "create"),
            reply(
                format!("POST /containers/{}/start ", recorded_id(engine)),
                transcript(engine, "start"),
            ),
        ];
        for d in all_but_inspect_splits(&script) {
            let out = drive(RecreateOp::new(&n, &n, CREATED_AT), script.to_vec(), d);
            {
                let id = out.result.unwrap_or_else(|e| panic!("{engine} {d:?}: {e}"));
                assert_eq!(id, recorded_id(engine), "{engine} {d:?}");
                let sent = &out.sent[2];
                let body_at = sent
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .unwrap_or_else(|| panic!("no head end"))
                    + 4;
                let body: serde_json::Value = serde_json::from_slice(&sent[body_at..])
                    .unwrap_or_else(|e| panic!("{engine}: {e}"));
                let image = body["Image"].as_str().unwrap_or_default();
                assert!(image.contains("pocketdock/busybox"), "{engine}: {image}");
                assert_eq!(
                    body["Labels"]["pocketdock.instance"],
                    n.as_str(),
                    "{engine}"
                );
                assert_eq!(body["Labels"]["pocketdock.managed"], "true", "{engine}");
                assert!(body["HostConfig"].is_object(), "{engine}");
            }
        }
    }
}

#[test]
fn recreate_stops_at_the_first_failure() {
    let out = drive(
        RecreateOp::new("c1", "web", CREATED_AT),
        vec![not_found("GET /containers/c1/json ", "c1")],
        Delivery::Whole,
    );
    assert!(matches!(out.result, Err(Error::ContainerNotFound(_))));
    assert_eq!(out.requests.len(), 1, "nothing removed");
    let inspect = r#"{"Id":"c1","Name":"/web","Config":{"Image":"img","Labels":{"pocketdock.managed":"true","pocketdock.instance":"web","pocketdock.created-at":"old"}},"HostConfig":{"Memory":268435456}}"#;
    let out = drive(
        RecreateOp::new("c1", "web", CREATED_AT),
        vec![
            reply("GET /containers/c1/json ", json("200 OK", inspect)),
            no_content("DELETE /containers/c1?force=true"),
            reply(
                "POST /containers/create?name=web ",
                json(
                    "409 Conflict",
                    r#"{"message":"Conflict. The container name \"/web\" is already in use by container \"x\"."}"#,
                ),
            ),
        ],
        2,
    );
    assert!(
        matches!(out.result, Err(Error::NameInUse(ref n)) if n == "web"),
        "{:?}",
        out.result
    );
    let body = String::from_utf8_lossy(&out.sent[2]).to_string();
    assert!(
        body.contains(r#""pocketdock.created-at":"2026-12-04"#),
        "{body}"
    );
    assert!(body.contains(r#""Memory":268435456"#), "{body}");
    assert_times_out(
        RecreateOp::new("c1", "web", CREATED_AT),
        vec![
            reply("GET /containers/c1/json ", json("200 OK", inspect)),
            silent("DELETE /containers/c1?force=true"),
        ],
        "remove",
        Duration::from_secs(60),
    );
}

// --- InfoOp ----------------------------------------------------------------------------------

#[test]
fn info_of_a_running_container_samples_twice_a_gap_apart() {
    for engine in ENGINES {
        let n = name(engine);
        let script = vec![
            recorded(engine, "inspect"),
            recorded(engine, "stats"),
            recorded(engine, "stats"),
            recorded(engine, "top"),
        ];
        let out = Script::new(script.clone())
            .tick(Duration::ZERO)
            .run(InfoOp::new(&n, 1.8e9));
        assert_eq!(out.elapsed, INFO_SAMPLE_GAP, "{engine}");
        for d in all_but_inspect_splits(&script) {
            let out = drive(InfoOp::new(&n, 1.8e9), script.clone(), d);
            {
                let info = out.result.unwrap_or_else(|e| panic!("{engine} {d:?}: {e}"));
                assert_eq!(info.name, n, "{engine} {d:?}");
                assert_eq!(info.status, "running", "{engine} {d:?}");
                assert_eq!(info.processes.len(), 2, "{engine} {d:?}");
                assert!(!info.memory_usage.is_empty(), "{engine} {d:?}");
                assert!(info.uptime.is_some(), "{engine} {d:?}");
                assert!(out.elapsed >= INFO_SAMPLE_GAP, "{engine} {d:?}");
            }
        }
    }
}

#[test]
fn info_of_a_stopped_container_is_the_inspect_alone() {
    let stopped = r#"{"Id":"c1","Name":"/web","State":{"Status":"exited","Running":false},"Config":{"Labels":{}}}"#;
    check_every_delivery(
        &[reply("GET /containers/c1/json ", json("200 OK", stopped))],
        || InfoOp::new("c1", 1.8e9),
        |d, out| {
            let info = out.result.unwrap_or_else(|e| panic!("{d:?}: {e}"));
            assert_eq!(
                (info.status.as_str(), info.name.as_str()),
                ("exited", "web")
            );
            assert_eq!(info.uptime, None);
            assert!(out.elapsed < INFO_SAMPLE_GAP, "no gap: {:?}", out.elapsed);
        },
    );
}

#[test]
fn a_container_that_stops_meanwhile_gives_info_not_an_error() {
    let running = r#"{"Id":"c1","Name":"/web","State":{"Status":"running","Running":true},"Config":{"Labels":{}}}"#;
    let gone = |prefix: &str| {
        reply(
            prefix,
            json(
                "409 Conflict",
                r#"{"message":"Container c1 is not running"}"#,
            ),
        )
    };
    let out = drive(
        InfoOp::new("c1", 1.8e9),
        vec![
            reply("GET /containers/c1/json ", json("200 OK", running)),
            gone("GET /containers/c1/stats"),
            gone("GET /containers/c1/stats"),
            gone("GET /containers/c1/top "),
        ],
        6,
    );
    let info = out.result.unwrap_or_else(|e| panic!("{e}"));
    assert!(info.processes.is_empty());
    assert!(info.memory_usage.is_empty());
}

#[test]
fn info_failures_are_typed() {
    let out = drive(
        InfoOp::new("c1", 0.0),
        vec![not_found("GET /containers/c1/json ", "c1")],
        Delivery::Whole,
    );
    assert!(matches!(out.result, Err(Error::ContainerNotFound(ref c)) if c == "c1"));
    let running = r#"{"Id":"c1","State":{"Running":true}}"#;
    let out = drive(
        InfoOp::new("c1", 0.0),
        vec![
            reply("GET /containers/c1/json ", json("200 OK", running)),
            engine_error("GET /containers/c1/stats", "cgroup gone"),
        ],
        Delivery::Whole,
    );
    assert!(matches!(out.result, Err(Error::Engine { op: "stats", .. })));
    assert_times_out(
        InfoOp::new("c1", 0.0),
        vec![
            reply("GET /containers/c1/json ", json("200 OK", running)),
            silent("GET /containers/c1/stats"),
        ],
        "stats",
        Duration::from_secs(60),
    );
}
