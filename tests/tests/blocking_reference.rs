//! The integration scenarios of the Python pocketdock for commands, containers, streams, detached
//! processes and callbacks (their numbers in the names), ported to the blocking adapter and run
//! on Podman and Docker. Where the Python package behaved wrongly, the expectation here is the
//! corrected one (noted inline).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pocketdock_blocking::{Container, ContainerSpec, Engine, Error, Lang, RunOptions, StreamKind};
use pocketdock_tests::{per_engine, unique_name, TEST_IMAGE};

fn create(socket: &str, spec: ContainerSpec) -> Container {
    Engine::new(socket).create_container(spec).expect("create")
}

fn sandbox(socket: &str, tag: &str) -> Container {
    create(
        socket,
        ContainerSpec::new()
            .image(TEST_IMAGE)
            .name(unique_name(tag)),
    )
}

#[track_caller]
fn ok<T>(r: pocketdock_blocking::Result<T>) -> T {
    r.expect("the call should succeed")
}

/// 103: generated names are `pd-` + 8 hex; a custom name is kept.
fn r103_names(socket: &str) {
    let mut c = create(socket, ContainerSpec::new().image(TEST_IMAGE));
    assert!(
        c.name().starts_with("pd-") && c.name().len() == 11,
        "{}",
        c.name()
    );
    assert!(!c.id().is_empty());
    ok(c.shutdown(true));
    let name = unique_name("custom");
    let c = create(socket, ContainerSpec::new().image(TEST_IMAGE).name(&name));
    assert_eq!(c.name(), name);
}

/// 104, 105: output, stderr, exit codes, duration.
fn r104_105_results(socket: &str) {
    let c = sandbox(socket, "r104");
    let r = ok(c.run("echo hello"));
    assert!(r.ok() && r.exit_code == 0 && r.stdout_str().trim() == "hello" && r.stderr.is_empty());
    assert!(r.duration_ms() > 0.0);
    let r = ok(c.run("echo err >&2"));
    assert!(r.ok() && r.stderr_str().trim() == "err");
    let r = ok(c.run("exit 42"));
    assert!(!r.ok() && r.exit_code == 42);
}

/// 106: python, one line and several.
fn r106_python(socket: &str) {
    let c = sandbox(socket, "r106");
    let py = RunOptions::new().lang(Lang::Python);
    assert_eq!(ok(c.run_with("print(1 + 2)", &py)).stdout_str().trim(), "3");
    let multi = "import sys\nprint(sys.version_info.major)";
    assert_eq!(ok(c.run_with(multi, &py)).stdout_str().trim(), "3");
}

/// 107, 108: timeout and `max_output` (a timeout now kills the process and keeps the output
/// collected so far; the Python package did neither).
fn r107_108_timeout_and_cap(socket: &str) {
    let c = sandbox(socket, "r107");
    let r = ok(c.run_with(
        "sleep 60",
        &RunOptions::new().timeout(Duration::from_secs(1)),
    ));
    assert!(!r.ok() && r.timed_out && r.exit_code == -1 && r.duration_ms() >= 900.0);
    let r = ok(c.run_with(
        "python3 -c \"print('x' * 10000)\"",
        &RunOptions::new().max_output(1024),
    ));
    assert!(r.truncated && r.stdout.len() == 1024);
}

/// 109: sequential and concurrent runs.
fn r109_sequential_and_concurrent(socket: &str) {
    let c = sandbox(socket, "r109");
    assert_eq!(ok(c.run("echo first")).stdout_str(), "first\n");
    assert_eq!(ok(c.run("echo second")).stdout_str(), "second\n");
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| c.run("echo alpha"));
        let b = s.spawn(|| c.run("echo bravo"));
        (a.join(), b.join())
    });
    let a = ok(a.expect("thread"));
    let b = ok(b.expect("thread"));
    assert_eq!(
        (a.stdout_str().trim(), b.stdout_str().trim()),
        ("alpha", "bravo")
    );
}

/// 110, 114: shutdown twice is fine; run after shutdown is a typed error.
fn r110_114_shutdown(socket: &str) {
    let mut c = sandbox(socket, "r110");
    ok(c.shutdown(false));
    ok(c.shutdown(false));
    let r = c.run("echo x");
    assert!(
        matches!(
            r,
            Err(Error::ContainerNotFound(_) | Error::ContainerNotRunning(_))
        ),
        "{r:?}"
    );
    let mut c = sandbox(socket, "r110f");
    ok(c.shutdown(true));
}

/// 111-113: containers are independent.
fn r111_113_independence(socket: &str) {
    let mut c1 = sandbox(socket, "r111a");
    let c2 = sandbox(socket, "r111b");
    assert_eq!(ok(c1.run("echo one")).stdout_str(), "one\n");
    assert_eq!(ok(c2.run("echo two")).stdout_str(), "two\n");
    ok(c1.shutdown(true));
    assert_eq!(ok(c2.run("echo still-alive")).stdout_str(), "still-alive\n");
    let cs: Vec<Container> = (0..3)
        .map(|i| sandbox(socket, &format!("r113-{i}")))
        .collect();
    let mut outs: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = cs
            .iter()
            .enumerate()
            .map(|(i, c)| s.spawn(move || c.run(&format!("echo {i}"))))
            .collect();
        hs.into_iter()
            .map(|h| {
                ok(h.join().expect("thread"))
                    .stdout_str()
                    .trim()
                    .to_string()
            })
            .collect()
    });
    outs.sort();
    assert_eq!(outs, ["0", "1", "2"]);
}

/// 139-145: info, reboot, limits.
fn r139_145_info_and_reboot(socket: &str) {
    let mut c = create(
        socket,
        ContainerSpec::new()
            .image(TEST_IMAGE)
            .name(unique_name("r139"))
            .mem_limit("64m")
            .cpu_percent(25),
    );
    let i = ok(c.info());
    assert_eq!(i.status, "running");
    assert_eq!((i.id.as_str(), i.name.as_str()), (c.id(), c.name()));
    assert!(
        !i.created_at.is_empty() && i.started_at.is_some() && i.uptime.is_some_and(|u| u >= 0.0)
    );
    assert!(
        !i.image.is_empty()
            && i.pids >= 1
            && !i.memory_usage.is_empty()
            && !i.memory_limit.is_empty()
    );
    ok(c.run("touch /tmp/marker"));
    let id = c.id().to_string();
    ok(c.reboot(false));
    assert_eq!(c.id(), id);
    assert_eq!(ok(c.run("ls /tmp/marker")).exit_code, 0);
    ok(c.reboot(true));
    assert_ne!(c.id(), id);
    let r = ok(c.run("ls /tmp/marker 2>/dev/null || echo gone"));
    assert!(r.stdout_str().contains("gone"));
    assert!(!ok(c.info()).memory_limit.is_empty());
    // 144: after an external stop, info reports it and fetches no stats.
    let key = c.id().to_string();
    ok(pocketdock_tests::raw::drive(
        socket,
        pocketdock_proto::op::CallOp::new(
            "stop",
            &pocketdock_proto::api::containers::stop(&key, 5),
            |r: pocketdock_proto::http::Response| {
                pocketdock_proto::api::check(&r, "stop", pocketdock_proto::api::Subject::None)
            },
        ),
    ));
    let i = ok(c.info());
    assert_eq!(
        (i.status.as_str(), i.memory_usage.as_str(), i.pids),
        ("exited", "", 0)
    );
}

/// 146-148: streaming.
fn r146_148_stream(socket: &str) {
    let c = sandbox(socket, "r146");
    let collect = |cmd: &str| {
        let mut s = ok(c.stream(cmd, &RunOptions::new()));
        let mut out = String::new();
        let mut err = String::new();
        let mut n = 0;
        for ch in s.by_ref() {
            let ch = ok(ch);
            n += 1;
            if ch.stream == StreamKind::Stdout {
                out.push_str(&ch.text());
            } else {
                err.push_str(&ch.text());
            }
        }
        let r = s.result().cloned().expect("no result");
        (n, out, err, r)
    };
    let (n, out, _, r) = collect("echo hello");
    assert!(n >= 1 && out.contains("hello") && r.exit_code == 0);
    let (_, out, err, _) = collect("echo out && echo err >&2 && echo out2");
    assert!(out.contains("out") && out.contains("out2") && err.contains("err"));
    let (_, _, _, r) = collect("echo hello && echo world");
    assert!(
        r.exit_code == 0 && r.stdout_str().contains("hello") && r.stdout_str().contains("world")
    );
    let (_, out, _, _) = collect("seq 1 100");
    assert!(out.starts_with("1\n") && out.contains("\n100\n"));
}

/// 149-152, 160: detached processes, buffers, kill (which now delivers the signal; the Python
/// package's did not).
fn r149_152_detach(socket: &str) {
    let mut c = sandbox(socket, "r149");
    let p = ok(c.detach("echo detached", &RunOptions::new()));
    let r = ok(p.wait(Some(Duration::from_secs(10))));
    assert!(r.exit_code == 0 && r.stdout_str().contains("detached"));
    let p = ok(c.detach("sleep 1 && echo done", &RunOptions::new()));
    assert!(p.is_running());
    let r = ok(p.wait(Some(Duration::from_secs(10))));
    assert!(r.exit_code == 0 && r.stdout_str().contains("done") && !p.is_running());
    let p = ok(c.detach("echo hello", &RunOptions::new()));
    ok(p.wait(Some(Duration::from_secs(10))));
    assert!(p.peek().stdout_str().contains("hello"));
    assert_eq!(p.peek(), p.peek());
    assert!(p.read().stdout_str().contains("hello"));
    assert!(p.read().stdout.is_empty());
    let p = ok(c.detach("sleep 60", &RunOptions::new()));
    std::thread::sleep(Duration::from_millis(500));
    assert!(p.is_running());
    ok(p.kill(9));
    let r = ok(p.wait(Some(Duration::from_secs(20))));
    assert!(!r.timed_out && !p.is_running());
    c.set_buffer_capacity(50);
    let p = ok(c.detach("printf '%0100d' 0", &RunOptions::new()));
    ok(p.wait(Some(Duration::from_secs(10))));
    assert!(p.buffer_overflow() && p.buffer_size() <= 50);
}

/// 153: callbacks, once each, in order; a panicking callback does not stop the others
/// (the Python package's scenario 173 checks that too).
fn r153_callbacks(socket: &str) {
    let c = sandbox(socket, "r153");
    let out = Arc::new(Mutex::new(Vec::<u8>::new()));
    let err = Arc::new(Mutex::new(Vec::<u8>::new()));
    let exits = Arc::new(Mutex::new(Vec::<i64>::new()));
    c.on_stdout(|_| panic!("a failing callback"));
    let out_seen = Arc::clone(&out);
    c.on_stdout(move |d| {
        out_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(d);
    });
    let err_seen = Arc::clone(&err);
    c.on_stderr(move |d| {
        err_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(d);
    });
    let exits_seen = Arc::clone(&exits);
    c.on_exit(move |code| {
        exits_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(code);
    });
    let p = ok(c.detach("echo cb_out && echo cb_err >&2", &RunOptions::new()));
    ok(p.wait(Some(Duration::from_secs(10))));
    let p = ok(c.detach("exit 42", &RunOptions::new()));
    ok(p.wait(Some(Duration::from_secs(10))));
    // Exit callbacks ran before `wait` returned.
    let lock = |m: &Arc<Mutex<Vec<u8>>>| {
        String::from_utf8_lossy(&m.lock().unwrap_or_else(PoisonError::into_inner)).to_string()
    };
    assert!(lock(&out).contains("cb_out"));
    assert!(lock(&err).contains("cb_err"));
    assert_eq!(
        *exits.lock().unwrap_or_else(PoisonError::into_inner),
        vec![0, 42]
    );
}

/// 154: shutdown with an un-iterated stream and a running detached process returns promptly.
fn r154_shutdown_with_live_work(socket: &str) {
    let mut c = sandbox(socket, "r154");
    let s = ok(c.stream("seq 1 10000", &RunOptions::new()));
    let p = ok(c.detach("sleep 60", &RunOptions::new()));
    let t0 = std::time::Instant::now();
    ok(c.shutdown(false));
    assert!(t0.elapsed() < Duration::from_secs(10));
    drop(s);
    // The process ended with its container: either its last exit code is known, or the engine
    // already forgot the exec with the container (a typed error, never a hang or a timeout).
    match p.wait(Some(Duration::from_secs(20))) {
        Ok(r) => assert!(!r.timed_out, "the process ended with its container"),
        Err(e) => assert!(
            matches!(
                e,
                Error::ContainerGone(_)
                    | Error::ContainerNotFound(_)
                    | Error::ContainerNotRunning(_)
            ),
            "{e}"
        ),
    }
}

per_engine!(
    r103_names,
    r104_105_results,
    r106_python,
    r107_108_timeout_and_cap,
    r109_sequential_and_concurrent,
    r110_114_shutdown,
    r111_113_independence,
    r139_145_info_and_reboot,
    r146_148_stream,
    r149_152_detach,
    r153_callbacks,
    r154_shutdown_with_live_work,
);
