//! Bad input through the CLI and the API (names, limits, ports, paths, images, signals, zero and
//! huge timeouts): a clear error that names the field, nothing created, nothing lost.
#![expect(
    clippy::unwrap_used,
    reason = "test bodies: a failed unwrap is the test failure"
)]

use std::path::PathBuf;
use std::time::Duration;

use assert_cmd::Command;
use pocketdock_blocking::{ContainerSpec, Engine, Error, RunOptions};
use pocketdock_tests::faults::{container_names, fault_name, within, Names};
use pocketdock_tests::BUSYBOX_IMAGE;

fn cli() -> PathBuf {
    pocketdock_tests::cli_binary().to_path_buf()
}

/// `pocketdock create` with bad arguments: refused, naming what is wrong; nothing created.
fn cli_create(socket: &str) {
    let name = fault_name("badcli");
    let dir = std::env::temp_dir().join(fault_name("badcli-cwd"));
    std::fs::create_dir_all(&dir).unwrap();
    // (arguments, a word the error must contain)
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--name", "bad name!"], "name"),
        (vec!["--name", ""], "name"),
        (vec!["--name=-leading-dash"], "name"),
        (vec!["--mem-limit", "lots"], "mem"),
        (vec!["--mem-limit=-5m"], "mem"),
        (vec!["--cpu-percent", "0"], "cpu"),
        (vec!["--cpu-percent", "101"], "cpu"),
        (vec!["--cpu-percent", "abc"], "cpu"),
        (vec!["-p", "70000:80"], "port"),
        (vec!["-p", "abc"], "port"),
        (vec!["-p", "1.2.3.999:8080:80"], "port"),
        (vec!["-v", "relative:/x"], "volume"),
        (vec!["-v", "/tmp:relative"], "volume"),
        // A host path that does not exist (Docker would create it, owned by root).
        (
            vec!["-v", "/nonexistent-h16b-dir:/x"],
            "nonexistent-h16b-dir",
        ),
        (vec!["--image", "Bad Image::x"], "image"),
        (
            vec!["--image", "pocketdock/no-such-image-h16b"],
            "no-such-image-h16b",
        ),
        (vec!["-e", "NOEQUALS"], "env"),
        (vec!["--workdir", "relative/dir"], "workdir"),
        (vec!["--timeout=-1"], "timeout"),
        (vec!["--timeout", "abc"], "timeout"),
        (vec!["-d", "/dev/nonexistent-h16b"], "nonexistent-h16b"),
        (vec!["--profile", "no-such-profile"], "profile"),
    ];
    for (args, word) in cases {
        let mut full = vec!["create"];
        if !args.iter().any(|a| a.starts_with("--name")) {
            full.extend(["--name", &name]);
        }
        full.extend(&args);
        let out = Command::new(cli())
            .args(&full)
            .current_dir(&dir)
            .env("POCKETDOCK_SOCKET", socket)
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        eprintln!("cli {args:?}: exit {:?}: {}", out.status.code(), err.trim());
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(
            err.contains(&word.to_lowercase()),
            "{args:?}: the error does not name {word:?}: {err}"
        );
        let names = container_names(socket);
        assert!(
            !names
                .iter()
                .any(|n| n == &name || n.contains("bad name") || n.contains("leading-dash")),
            "{args:?} created a container"
        );
        tried(socket, format_args!("cli create {args:?}"));
    }
    assert!(
        !std::path::Path::new("/nonexistent-h16b-dir").exists(),
        "a missing volume source was created on the host"
    );
    // Zero and huge timeouts of `run` on a real sandbox: refused or obeyed, never a crash.
    let names = Names::new(socket);
    let keep = names.name("badcli-run");
    let c = Engine::new(socket)
        .create_container(ContainerSpec::new().image(BUSYBOX_IMAGE).name(&keep))
        .unwrap();
    for (timeout, word) in [("0", "timeout"), ("99999999999999999999", "timeout")] {
        let out = Command::new(cli())
            .args(["run", &keep, "--timeout", timeout, "echo", "hi"])
            .current_dir(&dir)
            .env("POCKETDOCK_SOCKET", socket)
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        eprintln!(
            "cli run --timeout {timeout}: exit {:?}: {} {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim(),
            err.trim()
        );
        assert_ne!(out.status.code(), Some(101), "a panic: {err}");
        assert!(
            out.status.success() || err.contains(word),
            "--timeout {timeout}: {err}"
        );
        tried(socket, format_args!("cli run --timeout {timeout}"));
    }
    drop(c);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Note one bad input that was refused (or obeyed) as it should be, for the run's report.
fn tried(socket: &str, what: std::fmt::Arguments<'_>) {
    pocketdock_tests::report(format_args!(
        "bad-input {} {what}",
        pocketdock_tests::engine_of(socket)
    ));
}

/// The API with bad input: `InvalidInput` naming the field (or the engine's typed answer for
/// an image that does not exist), nothing created; zero and huge timeouts never panic.
fn api(socket: &str) {
    let e = Engine::new(socket);
    let name = fault_name("badapi");
    let spec = || ContainerSpec::new().image(BUSYBOX_IMAGE).name(&name);
    let cases: Vec<(ContainerSpec, &str)> = vec![
        (
            ContainerSpec::new().image(BUSYBOX_IMAGE).name("bad name!"),
            "name",
        ),
        (
            ContainerSpec::new()
                .image(BUSYBOX_IMAGE)
                .name("x".repeat(300)),
            "name",
        ),
        (spec().mem_limit("lots"), "mem"),
        (spec().cpu_percent(0), "cpu"),
        (spec().cpu_percent(500), "cpu"),
        (spec().env("", "v"), "env"),
        (spec().env("A=B", "v"), "env"),
        (spec().workdir("relative"), "workdir"),
        (spec().device("relative/dev"), "device"),
        (spec().image(""), "image"),
        (spec().image("Bad Image::x"), "image"),
    ];
    for (spec, field) in cases {
        let r = e.create_container(spec);
        eprintln!("api {field}: {:?}", r.as_ref().err());
        match r {
            Err(Error::InvalidInput { field: f, .. }) => {
                assert!(f.contains(field), "field {f:?} for {field:?}");
            }
            other => panic!("{field}: {:?}", other.map(|c| c.name().to_string())),
        }
        tried(socket, format_args!("api create {field}"));
    }
    let r = e.create_container(spec().image("pocketdock/no-such-image-h16b"));
    assert!(matches!(r, Err(Error::ImageNotFound(_))), "{:?}", r.err());
    assert!(
        !container_names(socket).contains(&name),
        "a refused create left {name}"
    );

    let names = Names::new(socket);
    let c = e
        .create_container(
            ContainerSpec::new()
                .image(BUSYBOX_IMAGE)
                .name(names.name("badapi")),
        )
        .unwrap();
    // Timeouts: zero, and so large that adding it to the clock overflows.
    for t in [
        Duration::ZERO,
        Duration::MAX,
        Duration::from_secs(u64::MAX / 2),
    ] {
        let r = c.run_with("echo hi", &RunOptions::new().timeout(t));
        eprintln!("api timeout {t:?}: {r:?}");
        match r {
            Ok(r) => assert!(r.stdout_str() == "hi\n" || r.timed_out, "{r:?}"),
            Err(Error::InvalidInput { field, .. }) => assert!(field.contains("timeout")),
            Err(other) => panic!("timeout {t:?}: {other:?}"),
        }
        tried(socket, format_args!("api run timeout {t:?}"));
    }
    // Signals: unknown numbers are refused by name of the field.
    let p = c.detach("sleep 30", &RunOptions::new()).unwrap();
    for sig in [0, -1, 999] {
        let r = p.kill(sig);
        eprintln!("api kill({sig}): {r:?}");
        assert!(
            matches!(
                r,
                Err(Error::InvalidInput {
                    field: "signal",
                    ..
                })
            ),
            "kill({sig}): {r:?}"
        );
        tried(socket, format_args!("api kill {sig}"));
    }
    assert!(p.is_running(), "a refused signal stopped the process");
    p.kill(9).unwrap();
    // Paths: relative and empty container paths, a host destination that cannot be written.
    for path in ["", "relative/file"] {
        let r = c.write_file(path, b"x");
        eprintln!("api write_file({path:?}): {r:?}");
        assert!(
            matches!(r, Err(Error::InvalidInput { field: "path", .. })),
            "write_file({path:?}): {r:?}"
        );
        tried(socket, format_args!("api write_file {path:?}"));
    }
    let r = c.read_file("/no/such/file");
    assert!(matches!(r, Err(Error::PathNotFound(_))), "{r:?}");
    // Nothing lost: the sandbox still answers.
    assert_eq!(c.run("echo alive").unwrap().stdout_str(), "alive\n");
}

fn cli_bad_input(socket: &str) {
    let s = socket.to_string();
    within(Duration::from_secs(600), "cli", move || cli_create(&s));
}

fn api_bad_input(socket: &str) {
    let s = socket.to_string();
    within(Duration::from_secs(300), "api", move || api(&s));
}

pocketdock_tests::per_engine!(cli_bad_input, api_bad_input);
