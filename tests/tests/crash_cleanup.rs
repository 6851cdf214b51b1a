//! Crash-safe cleanup without a daemon, against Podman and Docker: a process killed with
//! `SIGKILL` leaves nothing running after the next pocketdock start (its ephemeral sandbox is
//! removed; the command a killed `pocketdock run` left in a persistent container is killed, and
//! so are a killed library owner's session command and command through the agent; a killed
//! owner's warm pool is removed too), a
//! container past its TTL is removed, a live owner's container is never touched, and one owned
//! in an earlier boot of this machine is removed.
//!
//! The killed owners are child processes: this test binary run again in `child_entry` (which
//! does nothing unless told to by its environment), and the `pocketdock` CLI. Each scenario's
//! "next start" uses its own runtime directory (`XDG_RUNTIME_DIR`), so the once-a-minute stamp
//! of other processes does not hold it back.
#![expect(
    clippy::unwrap_used,
    reason = "the scenarios are test bodies run by per_engine!, where a failed unwrap is the test failure"
)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use pocketdock_blocking::{AgentStatus, Container, ContainerSpec, Engine, Error, Pool, RunOptions};
use pocketdock_proto::op::calls;
use pocketdock_proto::reap::{Owner, ReapReason};
use pocketdock_proto::spec::Labels;
use pocketdock_tests::{eventually, per_engine, raw, TEST_IMAGE};

/// Set in a child's environment: the engine socket it works on.
const CHILD_SOCKET: &str = "H16A_CRASH_CHILD_SOCKET";
/// Set in a child's environment: the name of its sandbox.
const CHILD_NAME: &str = "H16A_CRASH_CHILD_NAME";

fn name(tag: &str) -> String {
    format!(
        "h16a-{tag}-{}-{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            & 0xffff
    )
}

/// A fresh runtime directory for one scenario's processes.
fn runtime_dir(tag: &str, socket: &str) -> PathBuf {
    let engine = pocketdock_tests::engine_of(socket);
    let d = std::env::temp_dir().join(format!("h16a-rt-{tag}-{engine}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Set in a child's environment: what it does (see `child_entry`); unset: `ephemeral`.
const CHILD_MODE: &str = "H16A_CRASH_CHILD_MODE";

/// The child's body. Without its environment variables it does nothing (an ordinary test
/// run). Otherwise, by `CHILD_MODE`:
/// - `ephemeral`: create an ephemeral sandbox named `CHILD_NAME` and detach `sleep 300` in it;
/// - `session`: open a session in the existing container `CHILD_NAME` and send `sleep 302`;
/// - `agent`: start the agent in the existing container `CHILD_NAME` and run `sleep 303`
///   through it (on a thread of its own: the run never ends);
/// - `pool`: fill a warm pool of two sandboxes whose names begin with `CHILD_NAME`.
///
/// It then says `READY` and waits to be killed.
#[test]
fn child_entry() {
    let (Ok(socket), Ok(name)) = (std::env::var(CHILD_SOCKET), std::env::var(CHILD_NAME)) else {
        return;
    };
    let engine = Engine::new(&socket);
    let mode = std::env::var(CHILD_MODE).unwrap_or_else(|_| "ephemeral".into());
    // Everything the child made, held until it is killed.
    let mut held: Vec<Box<dyn std::any::Any>> = Vec::new();
    match mode.as_str() {
        "session" => {
            let c = engine.attach(&name).unwrap();
            let s = c.session().unwrap();
            s.send("sleep 302").unwrap();
            held.push(Box::new(s));
            held.push(Box::new(c));
        }
        "agent" => {
            let c = Arc::new(engine.attach(&name).unwrap());
            let status = c.start_agent();
            assert!(matches!(status, Ok(AgentStatus::Up { .. })), "{status:?}");
            let runner = Arc::clone(&c);
            held.push(Box::new(std::thread::spawn(move || {
                runner.run("sleep 303")
            })));
            held.push(Box::new(c));
        }
        "pool" => {
            let spec = ContainerSpec::new().image(TEST_IMAGE).name(&name);
            held.push(Box::new(Pool::new(&engine, spec, 2).unwrap()));
        }
        _ => {
            let c = engine
                .create_container(ContainerSpec::new().image(TEST_IMAGE).name(&name))
                .unwrap();
            held.push(Box::new(
                c.detach("sleep 300", &RunOptions::default()).unwrap(),
            ));
            held.push(Box::new(c));
        }
    }
    println!("READY {name}");
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// Start this test binary again as a child in `mode` on `name` with the runtime directory
/// `rt`, and wait for it to say it is ready. The child is killed when the handle goes, so a
/// failed scenario leaves no live owner behind (a live owner's sandbox is never reaped).
fn spawn_child(socket: &str, mode: &str, name: &str, rt: &PathBuf) -> KillOnDrop {
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_SOCKET, socket)
        .env(CHILD_NAME, name)
        .env(CHILD_MODE, mode)
        .env("XDG_RUNTIME_DIR", rt)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    wait_ready(&mut child.0);
    child
}

/// A child process killed when the scenario ends, whatever happens.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Wait for a child to print `READY`, with a deadline.
fn wait_ready(child: &mut Child) {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            // The test harness prints `test child_entry ... ` before it on the same line.
            if line.contains("READY h16a-") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the child never got ready");
}

/// A pocketdock start in `rt`: the CLI's first engine use looks for orphans (and gives the
/// look up to 5 s before it exits).
fn next_start(socket: &str, rt: &PathBuf) {
    // The killed process's own start took this minute's turn: make it a minute later.
    for e in std::fs::read_dir(rt.join("pocketdock")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "stamp") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let out = Command::new(assert_cmd::cargo::cargo_bin("pocketdock"))
        .args(["--socket", socket, "list"])
        .env("XDG_RUNTIME_DIR", rt)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

fn gone(socket: &str, name: &str) -> bool {
    matches!(
        Engine::new(socket).inspect_container(name),
        Err(Error::ContainerNotFound(_))
    )
}

/// How many processes in `c` run exactly `cmdline` (read from `/proc`, no `ps` needed).
fn count(c: &Container, cmdline: &str) -> usize {
    let r = c
        .run(&format!(
            "for d in /proc/[0-9]*; do tr '\\0' ' ' < $d/cmdline 2>/dev/null; echo; done \
             | grep -cx '{cmdline} ' || true"
        ))
        .unwrap();
    r.stdout_str().trim().parse().unwrap()
}

fn killed_owner_loses_its_ephemeral_sandbox(socket: &str) {
    let rt = runtime_dir("eph", socket);
    let sandbox = name("eph");
    let mut child = spawn_child(socket, "ephemeral", &sandbox, &rt);
    let child = &mut child.0;
    let engine = Engine::new(socket);
    let labels = engine.inspect_container(&sandbox).unwrap().config.labels;
    let owner = Owner::from_labels(&labels).expect("an ephemeral sandbox carries its owner");
    assert_eq!(owner.pid, child.id());
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    assert!(!gone(socket, &sandbox), "nothing removed it yet");
    next_start(socket, &rt);
    assert!(
        eventually(Duration::from_secs(20), || gone(socket, &sandbox)),
        "{sandbox} is still there after the next start"
    );
    let _ = std::fs::remove_dir_all(rt);
}

/// The scenario's core once `owner` (a process that runs `cmdline` in `c`, described by `who`)
/// is started: wait for the command, kill the owner with SIGKILL, say what is left, then the
/// next start (in the runtime directory `rt`) must kill the command and leave the container
/// alone.
fn killed_owner_leaves_nothing(
    socket: &str,
    rt: &PathBuf,
    c: &Container,
    cmdline: &str,
    who: &str,
    owner: &mut Child,
) {
    assert!(
        eventually(Duration::from_secs(30), || count(c, cmdline) == 1),
        "{who}: `{cmdline}` never started"
    );
    owner.kill().unwrap();
    owner.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let left = count(c, cmdline);
    eprintln!("after SIGKILL of {who}: {left} `{cmdline}` left in the container");
    next_start(socket, rt);
    assert!(
        eventually(Duration::from_secs(20), || count(c, cmdline) == 0),
        "{who}: the killed owner's `{cmdline}` still runs"
    );
    assert_eq!(
        c.run("echo alive").unwrap().stdout_str(),
        "alive\n",
        "the container itself is left alone"
    );
}

fn killed_cli_run_leaves_no_command(socket: &str) {
    let rt = runtime_dir("cmd", socket);
    let engine = Engine::new(socket);
    let mut c = engine
        .create_container(
            ContainerSpec::new()
                .image(TEST_IMAGE)
                .name(name("cmd"))
                .persist(true),
        )
        .unwrap();
    let run = Command::new(assert_cmd::cargo::cargo_bin("pocketdock"))
        .args(["--socket", socket, "run", c.name(), "sleep 300"])
        .env("XDG_RUNTIME_DIR", &rt)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut run = KillOnDrop(run);
    killed_owner_leaves_nothing(socket, &rt, &c, "sleep 300", "`pocketdock run`", &mut run.0);
    c.shutdown(true).unwrap();
    engine.remove_container(c.id(), true).unwrap();
    let _ = std::fs::remove_dir_all(rt);
}

/// A library owner killed with `SIGKILL` while a command runs in a container it does not
/// own (here: one this test made, so the container itself stays): `mode` says how the child
/// ran `cmdline`. After the next start the command is gone and the container is left alone.
fn killed_owner_leaves_no_command(socket: &str, mode: &str, cmdline: &str) {
    let rt = runtime_dir(mode, socket);
    let engine = Engine::new(socket);
    let c = engine
        .create_container(ContainerSpec::new().image(TEST_IMAGE).name(name(mode)))
        .unwrap();
    let mut child = spawn_child(socket, mode, c.name(), &rt);
    let who = format!("the {mode} owner");
    killed_owner_leaves_nothing(socket, &rt, &c, cmdline, &who, &mut child.0);
    let _ = std::fs::remove_dir_all(rt);
}

/// The pocketdock containers whose names begin with `prefix`.
fn named_like(socket: &str, prefix: &str) -> Vec<String> {
    Engine::new(socket)
        .list_containers(None)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Removes the containers whose names begin with its prefix when the scenario ends, whatever
/// happened (what the reaper should have removed, should the scenario fail before).
struct RemoveLike<'a>(&'a str, &'a str);

impl Drop for RemoveLike<'_> {
    fn drop(&mut self) {
        for n in named_like(self.0, self.1) {
            let _ = Engine::new(self.0).remove_container(&n, true);
        }
    }
}

/// A warm pool's sandboxes are ephemeral sandboxes of the pool's owner: when it is killed,
/// the next start removes them.
fn killed_owner_loses_its_pool(socket: &str) {
    let rt = runtime_dir("pool", socket);
    let prefix = name("pool");
    let _remove = RemoveLike(socket, &prefix);
    let mut child = spawn_child(socket, "pool", &prefix, &rt);
    let members = named_like(socket, &prefix);
    assert_eq!(members.len(), 2, "{members:?}");
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    assert_eq!(
        named_like(socket, &prefix).len(),
        2,
        "nothing removed them yet"
    );
    next_start(socket, &rt);
    assert!(
        eventually(Duration::from_secs(20), || named_like(socket, &prefix)
            .is_empty()),
        "the killed owner's pool is still there: {:?}",
        named_like(socket, &prefix)
    );
    let _ = std::fs::remove_dir_all(rt);
}

fn killed_owner_leaves_no_session_command(socket: &str) {
    killed_owner_leaves_no_command(socket, "session", "sleep 302");
}

fn killed_owner_leaves_no_agent_command(socket: &str) {
    killed_owner_leaves_no_command(socket, "agent", "sleep 303");
}

fn ttl_ends_a_container_and_live_owners_are_left_alone(socket: &str) {
    let engine = Engine::new(socket);
    let live = engine
        .create_container(ContainerSpec::new().image(TEST_IMAGE).name(name("live")))
        .unwrap();
    let ttl = engine
        .create_container(
            ContainerSpec::new()
                .image(TEST_IMAGE)
                .name(name("ttl"))
                .ttl(Duration::from_secs(2)),
        )
        .unwrap();
    let report = engine.reap_orphans().unwrap();
    let names: Vec<&str> = report.containers.iter().map(|c| c.name.as_str()).collect();
    assert!(
        !names.contains(&ttl.name()) && !gone(socket, ttl.name()),
        "not before its TTL: {names:?}"
    );
    std::thread::sleep(Duration::from_secs(3));
    let report = engine.reap_orphans().unwrap();
    // Another scenario of this binary looking for orphans at the same time may take it first;
    // either way it is gone, and when this look took it, for its TTL.
    if let Some(reaped) = report.containers.iter().find(|c| c.name == ttl.name()) {
        assert!(
            matches!(reaped.reason, ReapReason::TtlPassed(age) if age >= 2),
            "{report:?}"
        );
    }
    assert!(
        eventually(Duration::from_secs(10), || gone(socket, ttl.name())),
        "{} not reaped: {report:?}",
        ttl.name()
    );
    // This process owns `live` and runs: never touched.
    assert!(report.containers.iter().all(|c| c.name != live.name()));
    assert_eq!(live.run("echo alive").unwrap().stdout_str(), "alive\n");
}

fn another_boot_owner_is_gone(socket: &str) {
    let me = this_process_as_owner(socket);
    let stale = Owner {
        boot_id: "00000000-0000-4000-8000-000000000000".into(),
        ..me
    };
    let n = name("boot");
    let mut labels = Labels::new(&n, "2026-01-01T00:00:00+00:00");
    labels.owner = Some(stale);
    let body = ContainerSpec::new().image(TEST_IMAGE).create_body(&labels);
    let id = raw::drive(socket, calls::create(&n, &body, TEST_IMAGE)).unwrap();
    raw::drive(socket, calls::start(&id)).unwrap();
    let report = Engine::new(socket).reap_orphans().unwrap();
    // This process's own background look, at its first use of the engine, may have taken it
    // first; either way it is gone, and when this look took it, for that reason.
    if let Some(reaped) = report.containers.iter().find(|c| c.id == id) {
        assert!(
            matches!(&reaped.reason, ReapReason::OwnerGone(why) if why.contains("rebooted")),
            "{report:?}"
        );
    }
    assert!(
        eventually(Duration::from_secs(10), || gone(socket, &n)),
        "{report:?}"
    );
}

/// This test process as an owner, as the library labels its containers.
fn this_process_as_owner(socket: &str) -> Owner {
    let engine = Engine::new(socket);
    let c = engine
        .create_container(ContainerSpec::new().image(TEST_IMAGE).name(name("me")))
        .unwrap();
    let labels = engine.inspect_container(c.id()).unwrap().config.labels;
    Owner::from_labels(&labels).unwrap()
}

fn cli_create_ttl_outlives_the_command_until_prune(socket: &str) {
    let n = name("clittl");
    let out = Command::new(assert_cmd::cargo::cargo_bin("pocketdock"))
        .args([
            "--socket", socket, "create", "--image", TEST_IMAGE, "--name", &n, "--ttl", "2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let labels = Engine::new(socket)
        .inspect_container(&n)
        .unwrap()
        .config
        .labels;
    assert_eq!(labels.get("pocketdock.ttl").map(String::as_str), Some("2"));
    assert_eq!(
        Owner::from_labels(&labels),
        None,
        "a CLI container outlives the command that made it"
    );
    std::thread::sleep(Duration::from_secs(3));
    let out = Command::new(assert_cmd::cargo::cargo_bin("pocketdock"))
        .args(["--socket", socket, "prune", "-y"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    // Another scenario of this binary looking for orphans at the same time may take it
    // first; the prune names it otherwise.
    let named = text.contains(&format!("reaped container {n} (time to live passed"));
    assert!(gone(socket, &n), "{text}");
    eprintln!("prune named the TTL'd container: {named}");
}

per_engine!(
    killed_owner_loses_its_ephemeral_sandbox,
    killed_cli_run_leaves_no_command,
    killed_owner_leaves_no_session_command,
    killed_owner_leaves_no_agent_command,
    killed_owner_loses_its_pool,
    ttl_ends_a_container_and_live_owners_are_left_alone,
    another_boot_owner_is_gone,
    cli_create_ttl_outlives_the_command_until_prune,
);
