//! Sessions and TTY execs on the blocking adapter, against real Podman and Docker.
//!
//! Ports the reference scenarios of inventory §6.S (and the parts of §6.R that are observable
//! through the public API), corrected where §7.1 item 9 shows the reference was wrong: output
//! without a trailing newline is kept, stderr needs no `sleep` before the end, a timeout
//! interrupts the command and its late sentinel never leaks, `cat` and `exit` give clear results.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pocketdock_blocking::{
    AgentMode, Container, ContainerSpec, Engine, Error, LimitPolicy, Session, SessionOptions,
    TtyOptions,
};
use pocketdock_proto::OutputLimit;
use pocketdock_tests::{eventually, unique_name, BUSYBOX_IMAGE, TEST_IMAGE};

/// Where a scenario runs: an engine, and the path its sessions take (the agent started at
/// create, or off).
struct At {
    socket: String,
    agent: AgentMode,
}

fn sandbox_of(at: &At, image: &str, tag: &str) -> Container {
    let spec = ContainerSpec::new()
        .image(image)
        .name(unique_name(tag))
        .agent(at.agent);
    Engine::new(&at.socket)
        .create_container(spec)
        .unwrap_or_else(|e| panic!("create: {e}"))
}

fn sandbox(at: &At, tag: &str) -> Container {
    sandbox_of(at, TEST_IMAGE, tag)
}

/// Open a session, checking that it took the path under test.
fn open(c: &Container) -> Session {
    let s = c.session().unwrap_or_else(|e| panic!("session: {e}"));
    let through_agent = s.id().starts_with("agent:");
    assert_eq!(
        through_agent,
        c.agent_mode() == AgentMode::On,
        "the session {} took the wrong path",
        s.id()
    );
    s
}

fn run(s: &Session, cmd: &str) -> pocketdock_blocking::ExecResult {
    s.send_and_wait(cmd, Some(Duration::from_secs(30)))
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

/// Processes in the container whose command line starts with `prefix`.
fn processes(c: &Container, prefix: &str) -> usize {
    let r = c
        .run(&format!(
            "for d in /proc/[0-9]*; do tr '\\0' ' ' < $d/cmdline 2>/dev/null; echo; done | grep -c '^{prefix}' || true"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    r.stdout_str().trim().parse().unwrap_or(usize::MAX)
}

// §6.S 188, 190
fn echo_hello_and_sequence(at: &At) {
    let c = sandbox(at, "sess-hello");
    let s = open(&c);
    assert!(!s.id().is_empty());
    let r = run(&s, "echo hello");
    assert!(r.ok());
    assert_eq!(r.stdout_str(), "hello\n");
    assert_eq!(r.stderr_str(), "");
    assert!(!r.timed_out && !r.truncated);
    for word in ["first", "second", "third"] {
        let r = run(&s, &format!("echo {word}"));
        assert!(r.ok());
        assert_eq!(r.stdout_str(), format!("{word}\n"));
    }
}

// §6.S 189
fn state_persists(at: &At) {
    let c = sandbox(at, "sess-state");
    let s = open(&c);
    assert_eq!(run(&s, "cd /tmp").exit_code, 0);
    assert_eq!(run(&s, "pwd").stdout_str(), "/tmp\n");
    run(&s, "export A=1");
    assert_eq!(run(&s, "echo $A").stdout_str(), "1\n");
    run(&s, "export MY_VAR=pocketdock_test");
    assert_eq!(run(&s, "echo $MY_VAR").stdout_str(), "pocketdock_test\n");
    run(&s, "plain=var; f() { echo \"f:$plain:$1\"; }");
    assert_eq!(run(&s, "f x").stdout_str(), "f:var:x\n");
}

fn two_hundred_in_a_row(at: &At) {
    let c = sandbox(at, "sess-200");
    let s = open(&c);
    let t = Instant::now();
    for i in 0..200 {
        let r = run(
            &s,
            &format!("echo line-{i}; printf 'tail{i}'; echo err{i} >&2"),
        );
        assert_eq!(r.stdout_str(), format!("line-{i}\ntail{i}"), "command {i}");
        assert_eq!(r.stderr_str(), format!("err{i}\n"), "command {i}");
        assert_eq!(r.exit_code, 0);
    }
    eprintln!("200 send_and_wait in {:?}", t.elapsed());
    assert!(!s.read().contains("__PD_"));
}

fn exact_output(at: &At) {
    let c = sandbox(at, "sess-exact");
    let s = open(&c);
    assert_eq!(run(&s, "printf abc").stdout, b"abc");
    assert_eq!(run(&s, "printf ''").stdout, b"");
    assert_eq!(run(&s, "printf 'a\\n\\n'").stdout, b"a\n\n");
    assert_eq!(run(&s, "printf '\\n'").stdout, b"\n");
    assert_eq!(run(&s, "printf '__PD_x'").stdout, b"__PD_x");
    // Multi-line commands, heredocs, quotes.
    assert_eq!(
        run(&s, "cat <<EOF\nhi 'there'\nEOF\necho \"done\"").stdout_str(),
        "hi 'there'\ndone\n"
    );
    // 200 kB, exact.
    let r = run(&s, "head -c 200000 /dev/zero | tr '\\0' a");
    assert_eq!(r.stdout.len(), 200_000);
    assert!(r.stdout.iter().all(|&b| b == b'a'));
}

// §6.S 192, corrected: no sleep needed.
fn stderr_right_before_the_end(at: &At) {
    let c = sandbox(at, "sess-stderr");
    let s = open(&c);
    for _ in 0..20 {
        let r = run(&s, "echo out; echo e >&2");
        assert_eq!(r.stdout_str(), "out\n");
        assert_eq!(r.stderr_str(), "e\n");
    }
    let r = run(&s, "printf e >&2");
    assert_eq!(r.stderr_str(), "e");
    let r = run(&s, "echo err >&2; sleep 0.05");
    assert!(r.ok());
    assert!(r.stderr_str().contains("err"));
}

// §6.S 191
fn exit_codes(at: &At) {
    let c = sandbox(at, "sess-codes");
    let s = open(&c);
    let r = run(&s, "exit_code_test_cmd_does_not_exist 2>/dev/null; true");
    assert_eq!(r.exit_code, 0);
    assert!(r.ok());
    let r = run(&s, "false");
    assert_eq!(r.exit_code, 1);
    assert!(!r.ok());
    assert_eq!(run(&s, "(exit 42)").exit_code, 42);
    let r = run(&s, "no_such_cmd_xyz");
    assert_eq!(r.exit_code, 127);
    assert!(r.stderr_str().contains("not found"), "{}", r.stderr_str());
    // An unbalanced quote is a syntax error (exit 2), not a hang; the session goes on.
    let r = run(&s, "echo 'oops");
    assert_eq!(r.exit_code, 2);
    assert!(!r.stderr.is_empty());
    assert_eq!(run(&s, "echo fine").stdout_str(), "fine\n");
}

// §6.S 193, corrected: the command is interrupted and the session stays clean.
fn timeout_then_clean(at: &At) {
    let c = sandbox(at, "sess-timeout");
    let s = open(&c);
    run(&s, "cd /tmp; export KEEP=kept");
    let _ = s.read();
    let t = Instant::now();
    let r = s
        .send_and_wait("echo before; sleep 30", Some(Duration::from_secs(1)))
        .unwrap_or_else(|e| panic!("{e}"));
    let took = t.elapsed();
    assert!(r.timed_out);
    assert_eq!(r.exit_code, -1);
    assert!(!r.ok());
    assert_eq!(r.stdout_str(), "before\n");
    assert!(r.duration >= Duration::from_secs(1));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(processes(&c, "sleep 30"), 0, "the sleep was killed");
    let r = run(&s, "echo after; pwd; echo $KEEP");
    assert_eq!(r.stdout_str(), "after\n/tmp\nkept\n");
    assert_eq!(r.stderr_str(), "");
    assert_eq!(r.exit_code, 0);
    let general = s.read();
    assert!(!general.contains("__PD_"), "{general:?}");
    assert!(!s.is_closed());
}

fn timeout_spares_the_shell_and_background_jobs(at: &At) {
    let c = sandbox(at, "sess-loop");
    let s = open(&c);
    // A background job of an earlier command survives a later command's timeout.
    run(&s, "sleep 300 >/dev/null 2>&1 &");
    // A loop that starts a new program after each kill is interrupted too.
    let r = s
        .send_and_wait(
            "for i in 1 2 3 4 5; do sleep 20; echo $i; done",
            Some(Duration::from_secs(1)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.timed_out);
    // A forked subshell of the command (environment of the shell) is caught too.
    let r = s
        .send_and_wait(
            "(while true; do sleep 20; done) | cat",
            Some(Duration::from_secs(1)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.timed_out);
    assert!(!s.is_closed());
    assert_eq!(run(&s, "echo alive").stdout_str(), "alive\n");
    assert_eq!(processes(&c, "sleep 20"), 0);
    assert_eq!(processes(&c, "sleep 300"), 1, "the background job survived");
}

fn stuck_shell_ends_the_session(at: &At) {
    let c = sandbox(at, "sess-stuck");
    let s = open(&c);
    let r = s
        .send_and_wait("while :; do :; done", Some(Duration::from_secs(1)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.timed_out);
    // The shell itself could not be interrupted: it was killed and the session ended.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.is_closed() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(s.is_closed());
    assert!(matches!(
        s.send_and_wait("echo x", None),
        Err(Error::SessionClosed)
    ));
    assert_eq!(c.run("echo ok").map(|r| r.exit_code).ok(), Some(0));
}

fn stdin_readers_return(at: &At) {
    let c = sandbox(at, "sess-stdin");
    let s = open(&c);
    let r = run(&s, "cat");
    assert_eq!((r.exit_code, r.stdout.len()), (0, 0));
    let r = run(&s, "read x; echo \"got[$x] $?\"");
    assert_eq!(r.stdout_str(), "got[] 1\n");
    assert_eq!(
        run(&s, "python3 -c 'import sys; print(len(sys.stdin.read()))'").stdout_str(),
        "0\n"
    );
    assert_eq!(run(&s, "echo next").stdout_str(), "next\n");
}

fn exit_ends_the_session(at: &At) {
    let c = sandbox(at, "sess-exit");
    let s = open(&c);
    let r = run(&s, "echo bye; exit 3");
    assert_eq!(r.exit_code, 3);
    assert_eq!(r.stdout_str(), "bye\n");
    assert!(!r.timed_out);
    assert!(s.is_closed());
    assert_eq!(s.exit_code(), Some(3));
    assert!(matches!(
        s.send_and_wait("echo x", None),
        Err(Error::SessionClosed)
    ));
    assert!(matches!(s.send("echo x"), Err(Error::SessionClosed)));
    assert!(s.close().is_ok());
}

// §6.R 176, 180, 183; §6.S 194
fn close_then_send(at: &At) {
    let c = sandbox(at, "sess-close");
    let s = open(&c);
    run(&s, "sleep 300 >/dev/null 2>&1 &");
    s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(s.is_closed());
    assert!(s.close().is_ok(), "idempotent");
    assert!(matches!(s.send("echo hi"), Err(Error::SessionClosed)));
    assert!(matches!(
        s.send_and_wait("echo hi", None),
        Err(Error::SessionClosed)
    ));
    assert_eq!(s.exit_code(), None);
    let r = c.run("echo alive").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.stdout_str(), "alive\n");
    assert_eq!(
        processes(&c, "sleep 300"),
        0,
        "close ends what the shell started"
    );
    // A waiting send_and_wait is released by close from another thread.
    let s = Arc::new(open(&c));
    let s2 = Arc::clone(&s);
    let waiter = std::thread::spawn(move || s2.send_and_wait("sleep 60", None));
    std::thread::sleep(Duration::from_millis(300));
    s.close().unwrap_or_else(|e| panic!("{e}"));
    let r = waiter.join().unwrap_or_else(|_| panic!("waiter panicked"));
    assert!(matches!(r, Err(Error::SessionClosed)), "{r:?}");
}

// §6.S 195
fn session_env_is_private(at: &At) {
    let c = sandbox(at, "sess-env");
    let s = open(&c);
    run(&s, "export SESSION_VAR=yes");
    let r = c
        .run("echo \"[$SESSION_VAR]\"")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.stdout_str(), "[]\n");
    assert_eq!(run(&s, "echo $SESSION_VAR").stdout_str(), "yes\n");
}

// §6.R 181, 182, 185
fn on_output_and_read(at: &At) {
    let c = sandbox(at, "sess-output");
    let s = Arc::new(open(&c));
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&seen);
    s.on_output(move |t| {
        sink.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_str(t);
    });
    s.on_output(|_| panic!("a panicking callback is contained"));
    let refused = Arc::new(Mutex::new(None));
    {
        let refused = Arc::clone(&refused);
        let weak = Arc::downgrade(&s);
        // Output may arrive split anywhere: look for the word in what arrived so far.
        let so_far = Mutex::new(String::new());
        s.on_output(move |t| {
            let mut buf = so_far
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let before = buf.contains("try-nested");
            buf.push_str(t);
            if !before && buf.contains("try-nested") {
                if let Some(s) = weak.upgrade() {
                    let r = s.send_and_wait("echo nested", None);
                    *refused
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(matches!(r, Err(Error::InvalidInput { .. })));
                }
            }
        });
    }
    s.send("echo via-send; echo err-send >&2; cd /var")
        .unwrap_or_else(|e| panic!("{e}"));
    let r = run(&s, "echo via-wait; echo try-nested; pwd");
    // The sent command ran first (cd persisted) and its output is not in this result.
    assert_eq!(r.stdout_str(), "via-wait\ntry-nested\n/var\n");
    assert_eq!(r.stderr_str(), "");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        // Stdout and stderr interleave in any order: look for the words and count the lines.
        let words = ["via-send", "err-send", "via-wait", "try-nested", "/var"];
        // Callbacks run one after another on each chunk: the nested one may still be running
        // when the first one has seen everything.
        let nested_done = refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some();
        if nested_done && words.iter().all(|w| text.contains(w)) && text.matches('\n').count() == 5
        {
            assert!(!text.contains("__PD_"), "{text:?}");
            break;
        }
        assert!(Instant::now() < deadline, "callback saw only {text:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        *refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        Some(true)
    );
    let text = s.read();
    for w in ["via-send", "err-send", "via-wait", "try-nested", "/var"] {
        assert!(text.contains(w), "{text:?}");
    }
    assert_eq!(text.matches('\n').count(), 5, "{text:?}");
    assert!(!text.contains("__PD_"));
    assert_eq!(s.read(), "", "read drains");
}

fn send_input_feeds_a_program(at: &At) {
    let c = sandbox(at, "sess-input");
    let s = open(&c);
    s.send_input("read line; echo \"got:$line\"")
        .unwrap_or_else(|e| panic!("{e}"));
    s.send_input("hello there")
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut text = String::new();
    while !text.contains("got:hello there\n") {
        assert!(Instant::now() < deadline, "read only {text:?}");
        std::thread::sleep(Duration::from_millis(20));
        text.push_str(&s.read());
    }
    assert_eq!(run(&s, "echo next").stdout_str(), "next\n");
    // `exit` sent without waiting ends the session too.
    s.send("exit 5").unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.exit_code().is_none() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(s.exit_code(), Some(5));
    assert!(matches!(s.send_input("x"), Err(Error::SessionClosed)));
}

fn output_is_bounded(at: &At) {
    let c = sandbox(at, "sess-bounded");
    let s = c
        .session_with(&SessionOptions {
            limit: OutputLimit {
                max_bytes: 100,
                policy: LimitPolicy::KeepRunning,
            },
            max_buffered: 1000,
            ..SessionOptions::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let r = run(&s, "head -c 5000 /dev/zero | tr '\\0' a; echo done >&2");
    assert_eq!(r.exit_code, 0);
    assert!(r.truncated);
    assert_eq!(r.stdout.len() + r.stderr.len(), 100);
    assert_eq!(r.elided_bytes, 4905);
    let buffered = s.read_bytes();
    assert!(buffered.len() <= 1000, "{}", buffered.len());
    assert!(s.dropped_output_bytes() >= 4000);
}

fn options_env_user_workdir(at: &At) {
    let c = sandbox(at, "sess-opts");
    let s = c
        .session_with(&SessionOptions {
            env: vec!["GREETING=hi there".into()],
            user: Some("root".into()),
            workdir: Some("/usr".into()),
            ..SessionOptions::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        run(&s, "echo \"$GREETING\"; pwd; id -u").stdout_str(),
        "hi there\n/usr\n0\n"
    );
    assert_eq!(run(&s, "echo ${BASH_VERSION:+bash}").stdout_str(), "bash\n");
    let bad = c.session_with(&SessionOptions {
        workdir: Some("relative".into()),
        ..SessionOptions::default()
    });
    assert!(matches!(bad, Err(Error::InvalidInput { .. })));
}

fn busybox_sh_session(at: &At) {
    let c = sandbox_of(at, BUSYBOX_IMAGE, "sess-busybox");
    let s = open(&c);
    run(&s, "cd /tmp");
    assert_eq!(run(&s, "pwd").stdout_str(), "/tmp\n");
    assert_eq!(
        run(&s, "echo ${BASH_VERSION:-nobash}").stdout_str(),
        "nobash\n"
    );
    assert_eq!(run(&s, "printf abc").stdout, b"abc");
    let r = s
        .send_and_wait("sleep 30", Some(Duration::from_secs(1)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.timed_out);
    assert_eq!(run(&s, "echo after").stdout_str(), "after\n");
    assert!(!s.read().contains("__PD_"));
}

fn concurrent_callers_are_serialized(at: &At) {
    let c = sandbox(at, "sess-threads");
    let s = Arc::new(open(&c));
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for i in 0..25 {
                    let r = s
                        .send_and_wait(&format!("echo t{t}-{i}"), Some(Duration::from_secs(30)))
                        .unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(r.stdout_str(), format!("t{t}-{i}\n"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap_or_else(|_| panic!("thread panicked"));
    }
    // A caller whose timeout passes while another command runs gets a Timeout error.
    let s2 = Arc::clone(&s);
    let long = std::thread::spawn(move || {
        s2.send_and_wait("touch /tmp/long-started; sleep 3; echo long", None)
    });
    let started = eventually(Duration::from_secs(20), || {
        c.run("test -e /tmp/long-started").is_ok_and(|r| r.ok())
    });
    assert!(started, "the long command never started");
    let r = s.send_and_wait("echo queued", Some(Duration::from_millis(500)));
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    let r = long
        .join()
        .unwrap_or_else(|_| panic!("thread panicked"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.stdout_str(), "long\n");
}

// §6.S 196
fn shutdown_with_open_session(at: &At) {
    let mut c = sandbox(at, "sess-shutdown");
    let s = open(&c);
    run(&s, "echo hi");
    c.shutdown(true).unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(15);
    while !s.is_closed() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(s.is_closed(), "the shell's stream ended with the container");
    assert!(matches!(
        s.send_and_wait("echo x", None),
        Err(Error::SessionClosed)
    ));
    drop(s);
}

fn read_tty_until(out: &mut impl Read, needle: &str, text: &mut String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    while !text.contains(needle) {
        assert!(Instant::now() < deadline, "no {needle:?} in {text:?}");
        let n = out.read(&mut buf).unwrap_or_else(|e| panic!("{e}"));
        assert!(n > 0, "EOF before {needle:?}: {text:?}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

fn tty_exec(at: &At) {
    let c = sandbox(at, "tty");
    let mut tty = c
        .open_tty(
            &["sh"],
            &TtyOptions {
                size: (30, 90),
                env: vec!["TERM=xterm".into()],
                ..TtyOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!tty.id().is_empty());
    let mut out = tty.take_reader().unwrap_or_else(|| panic!("reader"));
    let mut input = tty.take_writer().unwrap_or_else(|| panic!("writer"));
    assert!(tty.take_reader().is_none());
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&seen);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = out.read(&mut buf) {
            sink.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let text = || {
        seen.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    };
    input
        .write_all(b"stty size; echo $TERM\n")
        .unwrap_or_else(|e| panic!("{e}"));
    // Resize only once the first size was printed.
    assert!(
        eventually(Duration::from_secs(20), || text().contains("xterm\r\n")),
        "{:?}",
        text()
    );
    tty.resize(40, 100).unwrap_or_else(|e| panic!("{e}"));
    input
        .write_all(b"stty size; echo h''i; exit 4\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tty.wait().unwrap_or_else(|e| panic!("{e}")), 4);
    reader.join().unwrap_or_else(|_| panic!("reader panicked"));
    let text = text();
    assert!(text.contains("30 90\r\n"), "{text:?}");
    assert!(text.contains("xterm\r\n"), "{text:?}");
    assert!(text.contains("40 100\r\n"), "{text:?}");
    assert!(text.contains("\nhi\r\n"), "{text:?}");
    assert!(matches!(tty.resize(0, 10), Err(Error::InvalidInput { .. })));
}

fn tty_read_until_and_ctrl_c(at: &At) {
    let c = sandbox(at, "tty-ctrlc");
    let mut tty = c
        .open_tty(&["sh"], &TtyOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = tty.take_reader().unwrap_or_else(|| panic!("reader"));
    let mut input = tty.take_writer().unwrap_or_else(|| panic!("writer"));
    let mut text = String::new();
    input
        .write_all(b"echo h''i\n")
        .unwrap_or_else(|e| panic!("{e}"));
    read_tty_until(&mut out, "hi\r\n", &mut text);
    // Ctrl-C reaches the program through the terminal.
    input
        .write_all(b"sleep 30\n")
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    input.write_all(b"\x03").unwrap_or_else(|e| panic!("{e}"));
    input
        .write_all(b"echo after-$((6*7))\n")
        .unwrap_or_else(|e| panic!("{e}"));
    read_tty_until(&mut out, "after-42", &mut text);
    assert!(t.elapsed() < Duration::from_secs(20));
    input
        .write_all(b"exit 4\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
    assert_eq!(tty.wait().unwrap_or_else(|e| panic!("{e}")), 4);
    let bad = c.open_tty(&[], &TtyOptions::default());
    assert!(matches!(bad, Err(Error::InvalidInput { .. })));
}

/// One test per engine, path and scenario: `<group>::<engine>::<path>::<scenario>`.
macro_rules! per_engine_and_path {
    ($group:ident: $($path:ident = $mode:ident),* ; $($scenario:ident),* $(,)?) => {
        mod $group {
            per_engine_and_path!(@engine podman [$($path = $mode),*] [$($scenario),*]);
            per_engine_and_path!(@engine docker [$($path = $mode),*] [$($scenario),*]);
        }
    };
    (@engine $engine:ident [$($path:ident = $mode:ident),*] $scenarios:tt) => {
        mod $engine {
            $(per_engine_and_path!(@path $engine $path $mode $scenarios);)*
        }
    };
    (@path $engine:ident $path:ident $mode:ident [$($scenario:ident),*]) => {
        mod $path {
            $(
                #[test]
                fn $scenario() {
                    super::super::super::$scenario(&super::super::super::At {
                        socket: pocketdock_tests::socket(stringify!($engine)),
                        agent: pocketdock_blocking::AgentMode::$mode,
                    });
                }
            )*
        }
    };
}

per_engine_and_path!(
    sessions: engine_path = Off, agent_path = On;
    echo_hello_and_sequence,
    state_persists,
    two_hundred_in_a_row,
    exact_output,
    stderr_right_before_the_end,
    exit_codes,
    timeout_then_clean,
    timeout_spares_the_shell_and_background_jobs,
    stuck_shell_ends_the_session,
    stdin_readers_return,
    exit_ends_the_session,
    close_then_send,
    session_env_is_private,
    on_output_and_read,
    send_input_feeds_a_program,
    output_is_bounded,
    options_env_user_workdir,
    busybox_sh_session,
    concurrent_callers_are_serialized,
    shutdown_with_open_session,
);

// TTY programs take the engine path only (the agent gives commands pipes).
per_engine_and_path!(
    tty: engine_path = Off;
    tty_exec,
    tty_read_until_and_ctrl_c,
);
