//! Containers and commands on the blocking adapter, against real Podman and Docker.
#![expect(
    clippy::unwrap_used,
    reason = "the scenarios are test bodies run by per_engine!, where a failed unwrap is the test failure"
)]

use std::time::{Duration, Instant};

use pocketdock_blocking::{ContainerSpec, Engine, Error, LimitPolicy, RunOptions, StreamKind};
use pocketdock_tests::{per_engine, unique_name, TEST_IMAGE};

fn sandbox(socket: &str, tag: &str) -> pocketdock_blocking::Container {
    Engine::new(socket)
        .create_container(
            ContainerSpec::new()
                .image(TEST_IMAGE)
                .name(unique_name(tag)),
        )
        .expect("create")
}

fn ping_and_version(socket: &str) {
    let e = Engine::new(socket);
    assert_eq!(e.ping().unwrap(), "OK");
    let v = e.version().unwrap();
    assert!(!v.version.is_empty());
}

fn echo_hello(socket: &str) {
    let mut c = sandbox(socket, "hello");
    let r = c.run("echo hello").unwrap();
    assert_eq!(r.stdout_str(), "hello\n");
    assert_eq!(r.stderr_str(), "");
    assert_eq!(r.exit_code, 0);
    assert!(r.ok());
    let id = c.id().to_string();
    c.shutdown(false).unwrap();
    assert!(matches!(
        Engine::new(socket).inspect_container(&id),
        Err(Error::ContainerNotFound(_))
    ));
}

fn stderr_exit_code_and_no_trailing_newline(socket: &str) {
    let c = sandbox(socket, "codes");
    let r = c
        .run("echo out; echo err >&2; printf 'tail'; exit 42")
        .unwrap();
    assert_eq!(r.stdout_str(), "out\ntail");
    assert_eq!(r.stderr_str(), "err\n");
    assert_eq!(r.exit_code, 42);
    assert!(!r.ok());
}

fn argv_without_shell_and_python(socket: &str) {
    let c = sandbox(socket, "argv");
    let r = c
        .exec(
            &["printf", "%s|", "a b", "$(touch /tmp/pwned)", "'q'"],
            &RunOptions::new(),
        )
        .unwrap();
    assert_eq!(r.stdout_str(), "a b|$(touch /tmp/pwned)|'q'|");
    let r = c.run("test -e /tmp/pwned; echo $?").unwrap();
    assert_eq!(r.stdout_str(), "1\n");
    let r = c
        .run_with(
            "print(2+2)",
            &RunOptions::new().lang(pocketdock_blocking::Lang::Python),
        )
        .unwrap();
    assert_eq!(r.stdout_str(), "4\n");
}

fn utf8_is_lossless(socket: &str) {
    let c = sandbox(socket, "utf8");
    let r = c
        .run("python3 -c \"import sys; sys.stdout.write('é€𝄞' * 20000)\"")
        .unwrap();
    assert_eq!(r.stdout_str(), "é€𝄞".repeat(20000));
}

fn timeout_kills_the_whole_tree_and_keeps_partial_output(socket: &str) {
    let c = sandbox(socket, "timeout");
    for cmd in [
        "echo started; sleep 60",
        "echo started; sh -c 'sleep 60 & sleep 60'",
        "echo started; trap '' TERM; sleep 60",
    ] {
        let t0 = Instant::now();
        let r = c
            .run_with(cmd, &RunOptions::new().timeout(Duration::from_secs(1)))
            .unwrap();
        assert!(r.timed_out, "{cmd}");
        assert_eq!(r.exit_code, -1);
        assert!(!r.ok());
        assert_eq!(r.stdout_str(), "started\n", "{cmd}");
        assert!(r.duration >= Duration::from_millis(900));
        assert!(t0.elapsed() < Duration::from_secs(30), "{cmd}");
        let ps = c
            // The image has no ps: scan /proc (the pattern does not match its own command line).
            .run("for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep 'sleep 6[0]' || true")
            .unwrap();
        assert_eq!(ps.stdout_str(), "", "{cmd}: left running");
    }
}

fn output_cap_stops_and_head_tail_keeps_the_end(socket: &str) {
    let c = sandbox(socket, "cap");
    let r = c
        .run_with(
            "yes x | head -c 5000000; sleep 30",
            &RunOptions::new().max_output(1000),
        )
        .unwrap();
    assert!(r.truncated);
    assert_eq!(r.stdout.len(), 1000);
    assert_eq!(r.exit_code, -1);
    let r = c
        .run_with(
            "seq 1 100000; echo THE-END >&2; exit 3",
            &RunOptions::new()
                .max_output(4000)
                .policy(LimitPolicy::HeadAndTail),
        )
        .unwrap();
    assert!(r.truncated);
    assert_eq!(r.exit_code, 3);
    assert!(r.stdout_str().starts_with("1\n2\n3\n"));
    assert!(r.stdout_str().ends_with("99999\n100000\n"));
    assert_eq!(r.stderr_str(), "THE-END\n");
    assert!(r.elided_bytes > 500_000);
}

fn stream_delivers_chunks_then_result(socket: &str) {
    let c = sandbox(socket, "stream");
    let mut s = c
        .stream(
            "for i in 1 2 3; do echo $i; sleep 0.2; done; echo bad >&2; exit 5",
            &RunOptions::new(),
        )
        .unwrap();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut n = 0;
    for chunk in s.by_ref() {
        let chunk = chunk.unwrap();
        n += 1;
        match chunk.stream {
            StreamKind::Stdout => out.extend_from_slice(&chunk.data),
            _ => err.extend_from_slice(&chunk.data),
        }
    }
    assert!(n >= 3, "chunks arrive as produced");
    assert_eq!(out, b"1\n2\n3\n");
    assert_eq!(err, b"bad\n");
    let r = s.result().expect("no result");
    assert_eq!(r.exit_code, 5);
    assert_eq!(r.stdout, b"1\n2\n3\n");
}

fn detach_kill_and_ring_buffer(socket: &str) {
    let c = sandbox(socket, "detach");
    let exits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&exits);
    c.on_exit(move |code| {
        seen.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(code);
    });
    let p = c
        .detach("echo ready; exec sleep 600", &RunOptions::new())
        .unwrap();
    assert!(!p.id().is_empty());
    let t0 = Instant::now();
    while p.peek().stdout.is_empty() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(p.peek().stdout_str(), "ready\n");
    assert!(p.is_running());
    p.kill(9).unwrap();
    let r = p.wait(Some(Duration::from_secs(20))).unwrap();
    assert!(!r.timed_out, "kill(9) did not stop the process");
    assert!(!p.is_running());
    assert_eq!(r.exit_code, 137);
    let snap = p.read();
    assert_eq!(snap.stdout_str(), "ready\n");
    assert!(p.read().is_empty());
    // The exit callback ran before `wait` returned.
    assert_eq!(
        *exits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        vec![137]
    );
}

fn name_clash_is_refused(socket: &str) {
    let c = sandbox(socket, "clash");
    let again =
        Engine::new(socket).create_container(ContainerSpec::new().image(TEST_IMAGE).name(c.name()));
    assert!(
        matches!(again, Err(Error::NameInUse(ref n)) if n == c.name()),
        "{again:?}"
    );
}

fn invalid_input_is_refused_before_the_engine(socket: &str) {
    let e = Engine::new(socket);
    let cases = [
        (ContainerSpec::new().mem_limit("12x"), "mem_limit"),
        (ContainerSpec::new().cpu_percent(0), "cpu_percent"),
        (ContainerSpec::new().cpu_percent(101), "cpu_percent"),
        (
            ContainerSpec::new().port(pocketdock_proto::spec::PortMapping::tcp(0, 80)),
            "ports",
        ),
        (
            ContainerSpec::new().volume(pocketdock_proto::spec::Volume::new("rel/path", "/data")),
            "volumes",
        ),
        (ContainerSpec::new().name("bad name!"), "name"),
    ];
    for (spec, field) in cases {
        match e.create_container(spec) {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected invalid {field}, got {other:?}"),
        }
    }
}

fn missing_image_and_vanished_container(socket: &str) {
    let e = Engine::new(socket);
    let r = e.create_container(
        ContainerSpec::new()
            .image("pocketdock/no-such-image")
            .name(unique_name("noimg")),
    );
    assert!(matches!(r, Err(Error::ImageNotFound(_))), "{r:?}");
    let c = sandbox(socket, "gone");
    let id = c.id().to_string();
    pocketdock_blocking::Container::keep(c);
    e.remove_container(&id, true).unwrap();
    // The handle is gone with keep(); use a fresh lookup to show the typed error.
    assert!(matches!(
        e.inspect_container(&id),
        Err(Error::ContainerNotFound(_))
    ));
}

per_engine!(
    ping_and_version,
    echo_hello,
    stderr_exit_code_and_no_trailing_newline,
    argv_without_shell_and_python,
    utf8_is_lossless,
    timeout_kills_the_whole_tree_and_keeps_partial_output,
    output_cap_stops_and_head_tail_keeps_the_end,
    stream_delivers_chunks_then_result,
    detach_kill_and_ring_buffer,
    name_clash_is_refused,
    invalid_input_is_refused_before_the_engine,
    missing_image_and_vanished_container,
);
