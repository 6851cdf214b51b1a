//! The CLI's commands through the per-container agent relay, against real Podman and Docker:
//! the first `run` takes the engine path and starts the relay, later calls go through the agent
//! it keeps (with usage figures in `--json`), a client that dies leaves nothing running, and
//! `shutdown` ends the relay. The agent binary is the one `POCKETDOCK_AGENT` names.
#![expect(
    clippy::unwrap_used,
    reason = "the scenarios are test bodies run by per_engine!, where a failed unwrap is the test failure"
)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pocketdock_blocking::{AgentMode, Engine, RunOptions};
use pocketdock_tests::{per_engine, unique_name, TEST_IMAGE};
use serde_json::Value;

/// The `pocketdock` binary of this build (built on first use, beside the test binary).
fn bin() -> &'static Path {
    pocketdock_tests::cli_binary()
}

/// A container made for one scenario, removed at the end whatever happens.
struct Sandbox {
    socket: String,
    name: String,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = Engine::new(&self.socket).remove_container(&self.name, true);
    }
}

fn pd(socket: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin())
        .args(args)
        .env("POCKETDOCK_SOCKET", socket)
        .output()
        .unwrap()
}

fn run_json(socket: &str, name: &str, command: &str) -> (i32, Value) {
    let out = pd(socket, &["run", "--json", name, command]);
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), json)
}

/// Processes in the sandbox whose command line is `needle`, read on the engine path.
fn count(socket: &str, name: &str, needle: &str) -> usize {
    let c = Engine::new(socket).attach(name).unwrap();
    c.set_agent_mode(AgentMode::Off).unwrap();
    let r = c
        .run_with(
            "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done",
            &RunOptions::new(),
        )
        .unwrap();
    r.stdout_str()
        .lines()
        .filter(|l| l.trim_end() == needle)
        .count()
}

fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// The relay's socket, from what `info` says.
fn relay_socket(socket: &str, name: &str) -> Option<PathBuf> {
    let out = pd(socket, &["info", name]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().find(|l| l.contains("agent relay"))?;
    let start = line.find('/')?;
    let path = line[start..].trim_end_matches(')').to_string();
    Some(PathBuf::from(path))
}

/// A client killed mid-command: the relay kills what it left running and keeps serving.
fn a_dead_client_leaves_nothing_running(socket: &str, name: &str) {
    let mut victim = std::process::Command::new(bin())
        .args(["run", name, "sleep 301"])
        .env("POCKETDOCK_SOCKET", socket)
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(30), || count(
        socket,
        name,
        "sleep 301"
    ) == 1));
    victim.kill().unwrap();
    let _ = victim.wait();
    assert!(
        eventually(Duration::from_secs(30), || count(socket, name, "sleep 301")
            == 0),
        "the dead client's command was left running"
    );
    assert_eq!(
        run_json(socket, name, "echo still").1["path"]["path"],
        "agent"
    );
}

fn later_calls_go_through_the_relay(socket: &str) {
    let sandbox = Sandbox {
        socket: socket.to_string(),
        name: unique_name("h15-cli-relay"),
    };
    let name = sandbox.name.as_str();
    let made = pd(
        socket,
        &[
            "create",
            "--name",
            name,
            "--image",
            TEST_IMAGE,
            "--timeout",
            "60",
        ],
    );
    assert!(made.status.success(), "{made:?}");

    // The first call takes the engine path and says so; it starts the relay.
    let first = pd(socket, &["-v", "run", name, "echo first"]);
    let said = String::from_utf8_lossy(&first.stderr);
    assert_eq!(String::from_utf8_lossy(&first.stdout), "first\n");
    assert!(
        said.contains("engine path") && said.contains("for the next call"),
        "{said}"
    );
    assert!(said.contains("not measured on the engine path"), "{said}");

    // Later calls go through the agent, with the command's own exit code and its usage.
    assert!(
        eventually(Duration::from_secs(60), || {
            run_json(socket, name, "true").1["path"]["path"] == "agent"
        }),
        "the relay did not come up"
    );
    let (code, r) = run_json(socket, name, "echo out; echo err >&2; exit 3");
    assert_eq!(code, 3, "{r}");
    assert_eq!(
        (r["stdout"].as_str(), r["stderr"].as_str()),
        (Some("out\n"), Some("err\n"))
    );
    assert_eq!(r["usage"]["advisory"], true, "{r}");
    assert!(
        r["usage"]["peak_rss_bytes"].as_u64().unwrap_or(0) > 0,
        "{r}"
    );
    let verbose = pd(socket, &["-v", "run", name, "echo v"]);
    let said = String::from_utf8_lossy(&verbose.stderr);
    assert!(
        said.contains("through the relay") && said.contains("usage (advisory"),
        "{said}"
    );
    // A stream goes through the relay too: every byte, in order, with the agent's usage.
    let streamed = pd(
        socket,
        &["-v", "run", "--stream", name, "seq 1 200000; echo E >&2"],
    );
    let said = String::from_utf8_lossy(&streamed.stderr);
    let seq: String = (1..=200_000u32).fold(String::new(), |mut s, i| {
        s.push_str(&i.to_string());
        s.push('\n');
        s
    });
    assert!(streamed.stdout == seq.as_bytes(), "{said}");
    assert!(
        said.contains("through the relay") && said.contains("usage (advisory"),
        "{said}"
    );
    assert!(said.contains("E\n"), "{said}");
    let relay = relay_socket(socket, name).expect("info names the relay");
    let dir = relay.parent().unwrap();
    assert_eq!(
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
        0o700,
        "{}",
        dir.display()
    );

    // Timeouts still kill the command, and concurrent calls each get a connection.
    let timed = pd(socket, &["run", "--timeout", "1", name, "sleep 41"]);
    assert_eq!(timed.status.code(), Some(124));
    let calls: Vec<_> = (0..3)
        .map(|i| {
            let socket = socket.to_string();
            let name = name.to_string();
            std::thread::spawn(move || run_json(&socket, &name, &format!("sleep 1; echo {i}")))
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        let (code, r) = call.join().unwrap();
        assert_eq!(
            (code, r["stdout"].as_str()),
            (0, Some(format!("{i}\n").as_str()))
        );
        assert_eq!(r["path"]["path"], "agent", "{r}");
    }

    a_dead_client_leaves_nothing_running(socket, name);

    // shutdown ends the relay.
    assert!(pd(socket, &["shutdown", "-y", name]).status.success());
    assert!(
        eventually(Duration::from_secs(15), || !relay.exists()),
        "{} left behind",
        relay.display()
    );
}

/// An agent that cannot run in the sandbox (here: a file that is no program): the relay gives
/// up, and later calls keep to the engine path and say why, without starting relay after relay.
fn an_agent_that_cannot_run_keeps_the_engine_path_and_says_why(socket: &str) {
    let sandbox = Sandbox {
        socket: socket.to_string(),
        name: unique_name("h15-cli-noagent"),
    };
    let name = sandbox.name.as_str();
    let bogus = std::env::temp_dir().join(format!("{name}-agent"));
    std::fs::write(&bogus, format!("not a program {name}\n")).unwrap();
    std::fs::set_permissions(&bogus, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pd_with = |args: &[&str]| {
        std::process::Command::new(bin())
            .args(args)
            .env("POCKETDOCK_SOCKET", socket)
            .env("POCKETDOCK_AGENT", &bogus)
            .output()
            .unwrap()
    };
    assert!(pd_with(&["create", "--name", name, "--image", TEST_IMAGE])
        .status
        .success());
    let first = pd_with(&["-v", "run", name, "echo one"]);
    assert_eq!(String::from_utf8_lossy(&first.stdout), "one\n");
    let mut said = String::new();
    let gave_up = eventually(Duration::from_secs(90), || {
        let r = pd_with(&["-v", "run", name, "echo again"]);
        assert_eq!(String::from_utf8_lossy(&r.stdout), "again\n");
        said = String::from_utf8_lossy(&r.stderr).into_owned();
        said.contains("the agent cannot run in this container")
    });
    assert!(gave_up, "{said}");
    assert!(said.contains("engine path"), "{said}");
    let _ = std::fs::remove_file(&bogus);
}

per_engine!(
    later_calls_go_through_the_relay,
    an_agent_that_cannot_run_keeps_the_engine_path_and_says_why,
);
