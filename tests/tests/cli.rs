//! The `pocketdock` command line, end to end: every command on Podman and Docker, driven with
//! `assert_cmd` like a user would, checking output, JSON shapes and exit codes (the command's own,
//! 124 on timeout, 125 for pocketdock's failures, 2 for usage errors). `shell` is driven through
//! tmux: keys typed, the screen read back, the pane resized, the exit code checked.
//!
//! The binary is built by the first test that needs it (`cargo build -p pocketdock-cli` into the
//! same target directory; cheap when it is up to date). Every container has a unique name and
//! is removed by a guard even when the test fails; projects live in unique temporary directories.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use pocketdock_blocking::Engine;
use pocketdock_tests::{per_engine, remove_image, unique_name, TEST_IMAGE};
use predicates::prelude::*;
use serde_json::Value;

/// The `pocketdock` binary, built once per test process.
fn bin() -> &'static Path {
    pocketdock_tests::cli_binary()
}

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(unique_name(tag));
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let p = std::fs::canonicalize(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        Self(p)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    fn write(&self, rel: &str, data: &str) -> PathBuf {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create the parent directory");
        }
        std::fs::write(&p, data).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One engine, a working directory outside any project, and the containers and images to
/// remove at the end (even when the test fails).
struct Cli {
    socket: String,
    engine: Engine,
    cwd: TempDir,
    containers: Vec<String>,
    images: Vec<String>,
}

impl Cli {
    fn new(socket: &str) -> Self {
        Self {
            socket: socket.to_string(),
            engine: Engine::new(socket),
            cwd: TempDir::new("cli-cwd"),
            containers: Vec::new(),
            images: Vec::new(),
        }
    }

    /// `pocketdock` on this engine (via `POCKETDOCK_SOCKET`), in the working directory, with no
    /// stdin (not a terminal).
    fn pd(&self) -> Command {
        self.pd_in(&self.cwd.0)
    }

    fn pd_in(&self, dir: &Path) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(dir)
            .env("POCKETDOCK_SOCKET", &self.socket)
            .env_remove("NO_COLOR")
            .timeout(Duration::from_secs(300));
        c
    }

    /// A unique container name, removed at the end.
    fn name(&mut self, tag: &str) -> String {
        let n = unique_name(tag);
        self.containers.push(n.clone());
        n
    }

    /// `create --name <unique> --image TEST_IMAGE EXTRA...` in `dir`; returns the name.
    fn create_in(&mut self, dir: &Path, tag: &str, extra: &[&str]) -> String {
        let name = self.name(tag);
        self.pd_in(dir)
            .args(["create", "--name", &name, "--image", TEST_IMAGE])
            .args(extra)
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(
                "Container {name} created"
            )));
        name
    }

    fn create(&mut self, tag: &str, extra: &[&str]) -> String {
        let dir = self.cwd.0.clone();
        self.create_in(&dir, tag, extra)
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = self.engine.remove_container(c, true);
        }
        for i in &self.images {
            remove_image(&self.socket, i);
        }
    }
}

fn json_of(out: &[u8]) -> Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

/// The `list --json` item named `name`, if listed.
fn listed(cli: &Cli, name: &str) -> Option<Value> {
    let out = cli.pd().args(["list", "--json"]).assert().success();
    let v = json_of(&out.get_output().stdout);
    v.as_array()
        .unwrap_or_else(|| panic!("list --json is not an array: {v}"))
        .iter()
        .find(|i| i["name"] == name)
        .cloned()
}

// ------------------------------------------------------------------------------------------
// Without an engine
// ------------------------------------------------------------------------------------------

#[test]
fn version_help_and_every_command_documented() {
    let out = Command::new(bin()).arg("--version").assert().success();
    let v = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(v.starts_with("pocketdock "), "{v}");
    let help = Command::new(bin()).arg("--help").assert().success();
    let help = String::from_utf8_lossy(&help.get_output().stdout).to_string();
    for word in [
        "--socket",
        "--verbose",
        "--version",
        "124",
        "125",
        "POCKETDOCK_SOCKET",
        "NO_COLOR",
    ] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
    let commands = [
        "quickstart",
        "init",
        "list",
        "info",
        "doctor",
        "status",
        "logs",
        "create",
        "run",
        "push",
        "pull",
        "reboot",
        "stop",
        "resume",
        "shutdown",
        "snapshot",
        "prune",
        "shell",
        "build",
        "export",
        "import",
        "profiles",
        "completions",
    ];
    for c in commands {
        assert!(help.contains(c), "--help does not list {c}");
        Command::new(bin())
            .args([c, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage: pocketdock"));
    }
    // Each option of run is explained.
    Command::new(bin())
        .args(["run", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("--timeout")
                .and(predicate::str::contains("--max-output"))
                .and(predicate::str::contains("--lang"))
                .and(predicate::str::contains("--stream"))
                .and(predicate::str::contains("--detach"))
                .and(predicate::str::contains("-- ls -la /")),
        );
    for shell in ["bash", "zsh", "fish"] {
        Command::new(bin())
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("shutdown"));
    }
}

#[test]
fn profiles_and_quickstart() {
    let out = Command::new(bin())
        .args(["profiles", "--json"])
        .assert()
        .success();
    let v = json_of(&out.get_output().stdout);
    let items = v.as_array().unwrap_or_else(|| panic!("{v}"));
    assert_eq!(items.len(), 6);
    let mut names: Vec<&str> = items.iter().filter_map(|p| p["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "agent",
            "dev",
            "embedded",
            "minimal-bun",
            "minimal-node",
            "minimal-python"
        ]
    );
    assert_eq!(
        keys(&items[0]),
        [
            "description",
            "dockerfile_dir",
            "image_tag",
            "name",
            "network_default",
            "size_estimate"
        ]
    );
    Command::new(bin())
        .arg("profiles")
        .env("NO_COLOR", "1")
        .assert()
        .success()
        .stdout(
            predicate::str::contains("minimal-python")
                .and(predicate::str::contains("embedded"))
                .and(predicate::str::contains("\x1b[").not()),
        );
    Command::new(bin())
        .arg("quickstart")
        .assert()
        .success()
        .stdout(
            predicate::str::contains("build")
                .and(predicate::str::contains("create"))
                .and(predicate::str::contains("run"))
                .and(predicate::str::contains("8080")),
        );
}

#[test]
fn usage_errors_exit_2() {
    let dir = TempDir::new("cli-usage");
    for args in [
        &["no-such-command"][..],
        &["list", "--no-such-option"],
        &["run", "box"],
        &["run", "--timeout", "0", "box", "true"],
        &["run", "--detach", "--timeout", "5", "box", "true"],
        &["create", "-p", "abc:def"],
        &["create", "-v", "no-colon"],
        &["create", "-e", "NOVALUE"],
        &["export", "-o", "x.tar"],
        &["import", "/no/such/archive.tar"],
        &["build", "no-such-profile"],
        &["build", "minimal-python", "--build-arg", "NO_EQUALS_SIGN"],
        &["completions", "no-such-shell"],
    ] {
        Command::new(bin())
            .current_dir(&dir.0)
            .env("POCKETDOCK_SOCKET", "/nonexistent.sock")
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::is_empty().not());
    }
}

#[test]
fn engine_unreachable_exits_125_with_a_hint() {
    let dir = TempDir::new("cli-noengine");
    for args in [&["list"][..], &["info", "x"], &["run", "x", "true"]] {
        Command::new(bin())
            .current_dir(&dir.0)
            .env("POCKETDOCK_SOCKET", dir.path("nothing.sock"))
            .args(args)
            .assert()
            .code(125)
            .stderr(predicate::str::contains("error:").and(predicate::str::contains("hint:")));
    }
}

#[test]
fn project_commands_outside_a_project_exit_125() {
    let dir = TempDir::new("cli-noproject");
    for args in [&["status"][..], &["logs"], &["doctor"]] {
        Command::new(bin())
            .current_dir(&dir.0)
            .env("POCKETDOCK_SOCKET", dir.path("nothing.sock"))
            .args(args)
            .assert()
            .code(125)
            .stderr(predicate::str::contains("pocketdock init"));
    }
}

#[test]
fn init_makes_a_project() {
    let dir = TempDir::new("cli-init");
    Command::new(bin())
        .current_dir(&dir.0)
        .args(["init", "--name", "custom-name", "proj"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Project initialized at"));
    let yaml = std::fs::read_to_string(dir.path("proj/.pocketdock/pocketdock.yaml")).unwrap();
    assert!(yaml.contains("project_name: custom-name"), "{yaml}");
    assert!(dir.path("proj/.pocketdock/instances").is_dir());
    // In the current directory, and again (idempotent, the yaml is kept).
    for _ in 0..2 {
        Command::new(bin())
            .current_dir(dir.path("proj"))
            .arg("init")
            .assert()
            .success();
    }
    let again = std::fs::read_to_string(dir.path("proj/.pocketdock/pocketdock.yaml")).unwrap();
    assert_eq!(yaml, again);
}

// ------------------------------------------------------------------------------------------
// On each engine
// ------------------------------------------------------------------------------------------

fn create_list_info_shutdown(socket: &str) {
    let mut cli = Cli::new(socket);
    let name = cli.create("cli-life", &["--mem-limit", "256m", "-e", "GREETING=a b"]);
    let item = listed(&cli, &name).unwrap_or_else(|| panic!("{name} not listed"));
    assert_eq!(
        keys(&item),
        [
            "created_at",
            "full_id",
            "id",
            "image",
            "name",
            "persist",
            "project",
            "status"
        ]
    );
    assert_eq!(item["status"], "running");
    assert_eq!(item["persist"], false);
    assert_eq!(item["id"].as_str().map(str::len), Some(12));
    cli.pd()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("NAME").and(predicate::str::contains(name.as_str())));

    let out = cli.pd().args(["info", "--json", &name]).assert().success();
    let info = json_of(&out.get_output().stdout);
    assert_eq!(
        keys(&info),
        [
            "cpu_percent",
            "created_at",
            "id",
            "image",
            "ip_address",
            "limits",
            "memory_limit",
            "memory_percent",
            "memory_usage",
            "name",
            "network",
            "pids",
            "ports",
            "processes",
            "started_at",
            "status",
            "uptime"
        ]
    );
    assert_eq!(info["name"], name.as_str());
    assert_eq!(info["status"], "running");
    assert_eq!(info["memory_limit"], "256.0 MB");
    cli.pd()
        .args(["info", &name])
        .assert()
        .success()
        .stdout(predicate::str::contains("ID:").and(predicate::str::contains("running")));
    cli.pd()
        .args(["run", &name, "echo $GREETING"])
        .assert()
        .success()
        .stdout("a b\n");

    // Without a terminal, shutdown refuses (exit 2) and nothing happens.
    cli.pd()
        .args(["shutdown", &name])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("-y"));
    assert!(listed(&cli, &name).is_some());
    cli.pd()
        .args(["shutdown", "-y", &name])
        .assert()
        .success()
        .stdout(predicate::str::contains("shut down and removed"));
    assert!(listed(&cli, &name).is_none());
    cli.pd().args(["info", &name]).assert().code(125).stderr(
        predicate::str::contains("not found").and(predicate::str::contains("pocketdock list")),
    );
    // A taken name is refused.
    let taken = cli.create("cli-taken", &[]);
    cli.pd()
        .args(["create", "--name", &taken, "--image", TEST_IMAGE])
        .assert()
        .code(125)
        .stderr(predicate::str::contains("already in use"));
}

#[expect(clippy::too_many_lines, reason = "one scenario, step by step")]
fn run_argv_and_exit_codes(socket: &str) {
    let mut cli = Cli::new(socket);
    let name = cli.create("cli-run", &[]);
    cli.pd()
        .args(["run", &name, "--", "ls", "-la", "/"])
        .assert()
        .success()
        .stdout(predicate::str::contains("total").and(predicate::str::contains(" bin")));
    // Options after the container belong to the command.
    cli.pd()
        .args(["run", &name, "echo", "--timeout", "3", "-x"])
        .assert()
        .success()
        .stdout("--timeout 3 -x\n");
    // argv kept exactly: quotes, spaces, $, empty words, no shell involved.
    let out = cli
        .pd()
        .args([
            "run",
            &name,
            "--",
            "python3",
            "-c",
            "import sys, json; print(json.dumps(sys.argv[1:]))",
            "a b",
            "\"quoted\"",
            "it's",
            "$HOME",
            "",
            "  two  spaces ",
        ])
        .assert()
        .success();
    let argv = json_of(&out.get_output().stdout);
    assert_eq!(
        argv,
        serde_json::json!(["a b", "\"quoted\"", "it's", "$HOME", "", "  two  spaces "])
    );
    // One word is a shell command line.
    cli.pd()
        .args(["run", &name, "echo $((6*7)) | tr 4 X; echo err >&2"])
        .assert()
        .success()
        .stdout("X2\n")
        .stderr("err\n");
    cli.pd()
        .args(["run", "--lang", "python", &name, "print(6 * 7)"])
        .assert()
        .success()
        .stdout("42\n");
    // Exit codes: the command's own, 124 on timeout, 125 for pocketdock's failures.
    cli.pd().args(["run", &name, "exit 42"]).assert().code(42);
    cli.pd()
        .args(["run", &name, "--", "sh", "-c", "exit 3"])
        .assert()
        .code(3);
    cli.pd()
        .args(["run", "--timeout", "1", &name, "--", "sleep", "30"])
        .assert()
        .code(124)
        .stderr(predicate::str::contains("timed out"));
    cli.pd()
        .args(["run", &name, "no-such-command-here"])
        .assert()
        .code(127);
    cli.pd()
        .args(["run", &unique_name("cli-missing"), "true"])
        .assert()
        .code(125)
        .stderr(predicate::str::contains("not found"));
    cli.pd()
        .args(["run", "--lang", "cobol", &name, "x"])
        .assert()
        .code(2);
    // --max-output stops a flood; pocketdock says so and exits 125.
    let out = cli
        .pd()
        .args([
            "run",
            "--max-output",
            "1000",
            &name,
            "--",
            "sh",
            "-c",
            "yes | head -c 5000000",
        ])
        .assert()
        .code(125)
        .stderr(predicate::str::contains("--max-output"));
    assert!(out.get_output().stdout.len() <= 1000);
    // --stream: output as it comes, on the right stream, the command's exit code.
    cli.pd()
        .args([
            "run",
            "--stream",
            &name,
            "--",
            "sh",
            "-c",
            "echo a; echo b >&2; echo c; exit 7",
        ])
        .assert()
        .code(7)
        .stdout("a\nc\n")
        .stderr("b\n");
    cli.pd()
        .args(["run", "--stream", "--timeout", "1", &name, "sleep 30"])
        .assert()
        .code(124);
    // --detach: returns at once; the command keeps running after pocketdock exits.
    cli.pd()
        .args([
            "run",
            "--detach",
            &name,
            "sleep 1; echo done > /tmp/detached",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("exec ID"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = cli
            .pd()
            .args(["run", &name, "cat /tmp/detached 2>/dev/null"])
            .output()
            .expect("start the pocketdock binary");
        if out.stdout == b"done\n" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the detached command never finished"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // create --timeout becomes run's default.
    let quick = cli.create("cli-quick", &["--timeout", "1"]);
    cli.pd()
        .args(["run", &quick, "sleep 30"])
        .assert()
        .code(124);
}

fn stop_resume_reboot_snapshot_prune(socket: &str) {
    let mut cli = Cli::new(socket);
    let project = unique_name("cli-prj");
    let name = cli.create("cli-persist", &["--persist", "--project", &project]);
    cli.pd()
        .args(["run", &name, "echo kept > /tmp/state"])
        .assert()
        .success();
    cli.pd()
        .args(["stop", &name])
        .assert()
        .success()
        .stdout(predicate::str::contains("stopped"));
    // Read commands never start a stopped container.
    cli.pd()
        .args(["info", "--json", &name])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"status\": \"exited\""));
    cli.pd().args(["list"]).assert().success();
    let item = listed(&cli, &name).unwrap_or_else(|| panic!("{name} not listed"));
    assert_eq!(item["status"], "exited");
    assert_eq!(item["persist"], true);
    assert_eq!(item["project"], project.as_str());
    cli.pd()
        .args(["run", &name, "true"])
        .assert()
        .code(125)
        .stderr(predicate::str::contains("not running").and(predicate::str::contains("resume")));
    cli.pd()
        .args(["resume", &name])
        .assert()
        .success()
        .stdout(predicate::str::contains("resumed"));
    cli.pd()
        .args(["run", &name, "cat /tmp/state"])
        .assert()
        .success()
        .stdout("kept\n");
    cli.pd()
        .args(["reboot", &name])
        .assert()
        .success()
        .stdout(predicate::str::contains("in-place"));
    cli.pd()
        .args(["run", &name, "cat /tmp/state"])
        .assert()
        .success()
        .stdout("kept\n");
    let image = format!("{}:v1", unique_name("cli-snap"));
    cli.images.push(image.clone());
    cli.pd()
        .args(["snapshot", &name, &image])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "Snapshot saved as {image}"
        )));
    cli.pd()
        .args(["reboot", "--fresh", &name])
        .assert()
        .success()
        .stdout(predicate::str::contains("fresh"));
    cli.pd()
        .args(["run", &name, "test -e /tmp/state"])
        .assert()
        .code(1);
    // The snapshot kept the file.
    let from_snapshot = cli.name("cli-from-snap");
    cli.pd()
        .args(["create", "--name", &from_snapshot, "--image", &image])
        .assert()
        .success();
    cli.pd()
        .args(["run", &from_snapshot, "cat /tmp/state"])
        .assert()
        .success()
        .stdout("kept\n");
    cli.pd()
        .args(["shutdown", "-y", &from_snapshot])
        .assert()
        .success();

    // prune: refuses without a terminal, then removes only the project's stopped containers.
    let running = cli.create("cli-running", &["--persist", "--project", &project]);
    cli.pd().args(["stop", &name]).assert().success();
    cli.pd()
        .args(["prune", "--project", &project])
        .write_stdin("")
        .assert()
        .code(2);
    cli.pd()
        .args(["prune", "-y", "--project", &project])
        .assert()
        .success()
        .stdout(predicate::str::contains("Removed 1 container(s)"));
    assert!(listed(&cli, &name).is_none());
    assert!(listed(&cli, &running).is_some());
    cli.pd()
        .args(["stop", &unique_name("cli-missing")])
        .assert()
        .code(125);
}

#[expect(clippy::too_many_lines, reason = "one scenario, step by step")]
fn project_status_logs_doctor(socket: &str) {
    let mut cli = Cli::new(socket);
    let root = TempDir::new("cli-project");
    let project = unique_name("cli-p");
    cli.pd_in(&root.0)
        .args(["init", "--name", &project])
        .assert()
        .success();
    let status = |cli: &Cli| {
        let out = cli
            .pd_in(&root.0)
            .args(["status", "--json"])
            .assert()
            .success();
        json_of(&out.get_output().stdout)
    };
    let s = status(&cli);
    assert_eq!(
        keys(&s),
        [
            "containers",
            "instances",
            "project",
            "root",
            "running",
            "stopped"
        ]
    );
    assert_eq!(s["project"], project.as_str());
    assert_eq!(s["instances"], 0);
    assert_eq!(s["containers"], 0);
    cli.pd_in(&root.0)
        .args(["logs"])
        .assert()
        .success()
        .stdout(predicate::str::contains("No log entries found."));

    let dir = root.0.clone();
    let name = cli.create_in(&dir, "cli-inst", &["--persist"]);
    cli.pd_in(&root.0)
        .args(["run", &name, "echo hi"])
        .assert()
        .success();
    cli.pd_in(&root.0)
        .args(["run", &name, "--", "false"])
        .assert()
        .code(1);
    let logs = |cli: &Cli, args: &[&str]| {
        let out = cli
            .pd_in(&root.0)
            .arg("logs")
            .args(args)
            .arg("--json")
            .assert()
            .success();
        json_of(&out.get_output().stdout)
    };
    let all = logs(&cli, &[]);
    let entries = all.as_array().unwrap_or_else(|| panic!("{all}"));
    assert_eq!(entries.len(), 2, "{all}");
    for key in [
        "type",
        "command",
        "exit_code",
        "duration_ms",
        "timed_out",
        "timestamp",
        "_instance",
    ] {
        assert!(entries[0].get(key).is_some(), "no {key} in {}", entries[0]);
    }
    assert_eq!(entries[0]["_instance"], name.as_str());
    assert_eq!(entries[0]["command"], "echo hi");
    assert_eq!(entries[1]["exit_code"], 1);
    let last = logs(&cli, &[&name, "--last", "1"]);
    assert_eq!(last.as_array().map(Vec::len), Some(1));
    assert_eq!(last[0]["command"], "false");
    assert_eq!(logs(&cli, &["--type", "session"]), serde_json::json!([]));
    cli.pd_in(&root.0)
        .args(["logs", &name])
        .assert()
        .success()
        .stdout(predicate::str::contains("INSTANCE").and(predicate::str::contains("echo hi")));
    cli.pd_in(&root.0)
        .args(["logs", "no-such-instance"])
        .assert()
        .code(125)
        .stderr(predicate::str::contains("No instance directory found"));

    let s = status(&cli);
    assert_eq!(
        (s["instances"].as_u64(), s["containers"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (s["running"].as_u64(), s["stopped"].as_u64()),
        (Some(1), Some(0))
    );
    let out = cli
        .pd_in(&root.0)
        .args(["doctor", "--json"])
        .assert()
        .success();
    let d = json_of(&out.get_output().stdout);
    assert_eq!(d["healthy"], 1, "{d}");
    assert_eq!(d["orphaned_containers"], serde_json::json!([]));
    assert_eq!(d["stale_instance_dirs"], serde_json::json!([]));
    cli.pd_in(&root.0)
        .arg("doctor")
        .assert()
        .success()
        .stdout(predicate::str::contains("Healthy: 1"));
    cli.pd_in(&root.0).args(["stop", &name]).assert().success();
    let s = status(&cli);
    assert_eq!(
        (s["running"].as_u64(), s["stopped"].as_u64()),
        (Some(0), Some(1))
    );
    // shutdown destroys a persistent container and its instance directory, and says so.
    cli.pd_in(&root.0)
        .args(["shutdown", "-y", &name])
        .assert()
        .success()
        .stdout(predicate::str::contains("removed its instance directory"));
    assert!(!root.path(&format!(".pocketdock/instances/{name}")).exists());
    cli.pd_in(&root.0)
        .arg("doctor")
        .assert()
        .success()
        .stdout(predicate::str::contains("Nothing to report."));
}

fn push_and_pull(socket: &str) {
    let mut cli = Cli::new(socket);
    let name = cli.create("cli-files", &[]);
    let host = TempDir::new("cli-files");
    host.write("src dir/a file.txt", "hello\n");
    host.write("src dir/sub/b.txt", "deep\n");
    let src = host.path("src dir");
    let src = src.to_string_lossy();
    cli.pd()
        .args(["push", &name, &src, "/home/sandbox/up loaded"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Copied"));
    cli.pd()
        .args([
            "run",
            &name,
            "--",
            "cat",
            "/home/sandbox/up loaded/a file.txt",
            "/home/sandbox/up loaded/sub/b.txt",
        ])
        .assert()
        .success()
        .stdout("hello\ndeep\n");
    let back = host.path("back");
    cli.pd()
        .args([
            "pull",
            &name,
            "/home/sandbox/up loaded",
            &back.to_string_lossy(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("Copied"));
    let read =
        |p: &str| std::fs::read_to_string(back.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(read("a file.txt"), "hello\n");
    assert_eq!(read("sub/b.txt"), "deep\n");
    cli.pd()
        .args([
            "push",
            &name,
            &host.path("missing").to_string_lossy(),
            "/tmp/x",
        ])
        .assert()
        .code(125);
    cli.pd()
        .args([
            "pull",
            &name,
            "/no/such/path",
            &host.path("nothing").to_string_lossy(),
        ])
        .assert()
        .code(125);
    assert!(!host.path("nothing").exists());
}

fn build_export_import(socket: &str) {
    let mut cli = Cli::new(socket);
    let tag = format!("{}:latest", unique_name("cli-build"));
    cli.images.push(tag.clone());
    // Offline: the base is a local image (the profile's pinned upstream one is unreachable),
    // given as the Dockerfile's BASE argument with --build-arg (--base, which says the same,
    // is used by the failing build below).
    cli.pd()
        .args([
            "build",
            "minimal-python",
            "--build-arg",
            "BASE=pocketdock/debian-base:bookworm",
            "--tag",
            &tag,
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("Built {tag}")));
    let dir = TempDir::new("cli-export");
    let archive = dir.path("images.tar.gz");
    cli.pd()
        .args(["export", "--image", &tag, "-o", &archive.to_string_lossy()])
        .assert()
        .success()
        .stdout(predicate::str::contains("Exported to"));
    remove_image(socket, &tag);
    cli.pd()
        .args(["import", &archive.to_string_lossy()])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Imported from").and(predicate::str::contains(tag.as_str())),
        );
    let name = cli.name("cli-imported");
    cli.pd()
        .args(["create", "--name", &name, "--image", &tag])
        .assert()
        .success();
    cli.pd()
        .args(["run", &name, "--", "python3", "-c", "print('ok')"])
        .assert()
        .success()
        .stdout("ok\n");
    // A build that fails in the engine's stream fails the command.
    cli.pd()
        .args([
            "build",
            "minimal-python",
            "--base",
            "pocketdock/no-such-base",
            "--tag",
            &format!("{}:x", unique_name("cli-nobuild")),
        ])
        .assert()
        .code(125)
        .stderr(predicate::str::contains("build failed"));
    cli.pd()
        .args([
            "export",
            "--image",
            "pocketdock/no-such-image",
            "-o",
            &dir.path("none.tar").to_string_lossy(),
        ])
        .assert()
        .code(125);
    assert!(!dir.path("none.tar").exists());
}

fn verbose_explains_on_stderr(socket: &str) {
    let cli = Cli::new(socket);
    cli.pd()
        .args(["-v", "list", "--json"])
        .assert()
        .success()
        .stderr(
            predicate::str::contains("engine socket")
                .and(predicate::str::contains("POCKETDOCK_SOCKET")),
        )
        .stdout(predicate::str::starts_with("["));
    Command::new(bin())
        .current_dir(&cli.cwd.0)
        .env_remove("POCKETDOCK_SOCKET")
        .args(["--verbose", "--socket", socket, "list"])
        .assert()
        .success()
        .stderr(predicate::str::contains("from --socket"));
}

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(cmd: &str, cols: u16, rows: u16) -> Self {
        let t = Self {
            socket: unique_name("tmux"),
        };
        let status = std::process::Command::new("tmux")
            .args([
                "-L",
                &t.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "main",
            ])
            .args(["-x", &cols.to_string(), "-y", &rows.to_string(), cmd])
            .env_remove("TMUX")
            .status()
            .unwrap_or_else(|e| {
                panic!("tmux: {e} (install it: apt-get install tmux; a missing tool is a failure)")
            });
        assert!(status.success(), "tmux new-session failed");
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-t", "main", "-p"])
    }

    fn keys(&self, text: &str) {
        self.run(&["send-keys", "-t", "main", "-l", text]);
        self.run(&["send-keys", "-t", "main", "Enter"]);
    }

    /// Wait until the screen contains `what`.
    fn wait_for(&self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(Instant::now() < deadline, "{what:?} never appeared:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

fn shell_in_tmux(socket: &str) {
    let mut cli = Cli::new(socket);
    let name = cli.create("cli-shell", &[]);
    let dir = TempDir::new("cli-tmux");
    let script = dir.write(
        "run.sh",
        &format!(
            "stty -g > '{d}/before'\n'{bin}' --socket '{socket}' shell '{name}'\necho $? > '{d}/code.tmp'\n\
             stty -g > '{d}/after'\nmv '{d}/code.tmp' '{d}/code'\nsleep 60\n",
            d = dir.0.display(),
            bin = bin().display(),
        ),
    );
    let tmux = Tmux::start(&format!("sh '{}'", script.display()), 100, 30);
    tmux.wait_for(":~$");
    tmux.keys("echo hello-$((6*7)); stty size; echo $0; echo end-$((1+1))");
    let s = tmux.wait_for("end-2");
    assert!(s.contains("hello-42"), "{s}");
    assert!(s.contains("30 100"), "initial size not passed on:\n{s}");
    assert!(
        s.contains("bash"),
        "bash is in the image, it should be used:\n{s}"
    );
    tmux.run(&["resize-window", "-t", "main", "-x", "120", "-y", "40"]);
    // The resize reaches the container's terminal (the shell sees SIGWINCH).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        tmux.keys("clear; stty size");
        std::thread::sleep(Duration::from_millis(300));
        if tmux.screen().contains("40 120") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "resize never arrived:\n{}",
            tmux.screen()
        );
    }
    // Ctrl-C goes to the container, not to pocketdock.
    tmux.keys("sleep 100");
    std::thread::sleep(Duration::from_millis(300));
    tmux.run(&["send-keys", "-t", "main", "C-c"]);
    tmux.keys("echo after-$((1+1))");
    tmux.wait_for("after-2");
    tmux.keys("exit 7");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.path("code").exists() {
        assert!(
            Instant::now() < deadline,
            "shell never exited:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let read =
        |f: &str| std::fs::read_to_string(dir.path(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    assert_eq!(read("code").trim(), "7");
    assert_eq!(
        read("before"),
        read("after"),
        "the terminal was not restored"
    );
    // Without a terminal: refused.
    cli.pd()
        .args(["shell", &name])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("terminal"));
}

per_engine!(
    create_list_info_shutdown,
    run_argv_and_exit_codes,
    stop_resume_reboot_snapshot_prune,
    project_status_logs_doctor,
    push_and_pull,
    build_export_import,
    verbose_explains_on_stderr,
    shell_in_tmux,
);

/// The same commands on the remote engines (tcp with TLS, ssh) of `scripts/remote-engines.sh`.
mod remote {
    use super::*;
    pocketdock_tests::per_remote_engine!(
        run_argv_and_exit_codes,
        push_and_pull,
        shell_in_tmux,
        project_status_logs_doctor,
        doctor_reports_the_engine_and_its_transport,
    );

    /// `doctor` names the engine, its address, the transport, a measured round trip and the
    /// API version, and says what a remote engine changes.
    fn doctor_reports_the_engine_and_its_transport(address: &str) {
        let cli = Cli::new(address);
        let root = TempDir::new("cli-doctor-remote");
        cli.pd_in(&root.0)
            .args(["init", "--name", &unique_name("cli-dr")])
            .assert()
            .success();
        let out = cli
            .pd_in(&root.0)
            .args(["doctor", "--json"])
            .assert()
            .success();
        let e = &json_of(&out.get_output().stdout)["engine"];
        let transport = if address.starts_with("ssh://") {
            "ssh"
        } else {
            "tls"
        };
        assert_eq!(e["address"], address, "{e}");
        assert_eq!(e["transport"], transport, "{e}");
        assert_eq!(e["remote"], true, "{e}");
        assert!(
            e["api_version"]
                .as_str()
                .is_some_and(|v| v.starts_with("1.")),
            "{e}"
        );
        assert!(
            ["Docker", "Podman"].contains(&e["kind"].as_str().unwrap_or_default()),
            "{e}"
        );
        assert!(
            e["round_trip_ms"].as_f64().is_some_and(|ms| ms > 0.0),
            "{e}"
        );
        cli.pd_in(&root.0).arg("doctor").assert().success().stdout(
            predicate::str::contains(format!("over {transport}, round trip"))
                .and(predicate::str::contains("Remote engine:")),
        );
    }

    /// An ssh host key that does not match the one known for the host: pocketdock fails
    /// with exit 125 and ssh's own message, naming the host key.
    #[test]
    fn an_ssh_host_key_mismatch_is_refused_with_sshs_message() {
        pocketdock_tests::remote_setup();
        let address = pocketdock_tests::socket("podman_ssh");
        Command::new(bin())
            .args(["--socket", &address, "list"])
            .env(
                "POCKETDOCK_SSH_CONFIG",
                pocketdock_tests::remote_var("POCKETDOCK_TEST_SSH_BAD_KEY"),
            )
            .timeout(Duration::from_secs(60))
            .assert()
            .code(125)
            .stderr(
                predicate::str::contains("ssh host key verification failed")
                    .and(predicate::str::contains(
                        "REMOTE HOST IDENTIFICATION HAS CHANGED",
                    ))
                    .and(predicate::str::contains(&address)),
            );
    }

    /// Plain tcp to the remote engine's address (no TLS variables): refused before any
    /// connection, naming the rule.
    #[test]
    fn plain_tcp_to_a_remote_address_is_refused() {
        let tls = pocketdock_tests::socket("docker_tls");
        let plain = tls.replace(":2376", ":2375");
        Command::new(bin())
            .args(["--socket", &plain, "list"])
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_TLS")
            .timeout(Duration::from_secs(60))
            .assert()
            .code(125)
            .stderr(predicate::str::contains(format!(
                "engine at {plain}: plain tcp is allowed only to a loopback address"
            )));
    }

    /// The TLS refusals as a user meets them, through the docker CLI's variables.
    #[test]
    fn a_wrong_ca_and_a_missing_client_certificate_are_refused() {
        pocketdock_tests::remote_setup();
        let tls = pocketdock_tests::socket("docker_tls");
        for (dir, says) in [
            (
                "POCKETDOCK_TEST_TLS_WRONG_CA",
                "certificate is not trusted by the CA in",
            ),
            (
                "POCKETDOCK_TEST_TLS_NO_CERT",
                "requires a client certificate",
            ),
        ] {
            Command::new(bin())
                .args(["--socket", &tls, "list"])
                .env("DOCKER_TLS_VERIFY", "1")
                .env("DOCKER_CERT_PATH", pocketdock_tests::remote_var(dir))
                .timeout(Duration::from_secs(60))
                .assert()
                .code(125)
                .stderr(predicate::str::contains(says));
        }
    }
}

/// `run` finds the container once and names it as typed in every error, `--detach` included;
/// `info` and `doctor` say which engine socket they used and where it came from.
mod lookup_and_engine_origin {
    use super::*;

    fn run_names_the_container_and_commands_name_the_engine(socket: &str) {
        let mut cli = Cli::new(socket);
        let name = cli.create("cli-once", &[]);
        let id = cli
            .engine
            .find_container(&name)
            .unwrap_or_else(|e| panic!("{e}"))
            .id;
        cli.pd()
            .args(["-v", "run", &name, "echo", "hi"])
            .assert()
            .success()
            .stdout("hi\n")
            .stderr(predicate::str::contains("(from POCKETDOCK_SOCKET)"));
        cli.pd().args(["info", &name]).assert().success().stdout(
            predicate::str::contains("Engine:")
                .and(predicate::str::contains("(from POCKETDOCK_SOCKET)")),
        );
        cli.pd().args(["stop", &name]).assert().success();
        for args in [
            &["run", name.as_str(), "true"][..],
            &["run", "--detach", name.as_str(), "sleep", "1"],
        ] {
            cli.pd().args(args).assert().code(125).stderr(
                predicate::str::contains(format!("Container {name}: is not running"))
                    .and(predicate::str::contains(id.as_str()).not()),
            );
        }
        let missing = unique_name("cli-missing");
        cli.pd()
            .args(["run", &missing, "true"])
            .assert()
            .code(125)
            .stderr(predicate::str::contains(format!(
                "Container {missing}: not found"
            )));

        let root = TempDir::new("cli-origin");
        cli.pd_in(&root.0)
            .args(["init", "--name", &unique_name("cli-o")])
            .assert()
            .success();
        cli.pd_in(&root.0).arg("doctor").assert().success().stdout(
            predicate::str::contains("Engine:")
                .and(predicate::str::contains("(from POCKETDOCK_SOCKET)")),
        );
        let out = cli
            .pd_in(&root.0)
            .args(["doctor", "--json"])
            .assert()
            .success();
        let d = json_of(&out.get_output().stdout);
        assert_eq!(d["socket_source"], "POCKETDOCK_SOCKET", "{d}");
        let path = socket.strip_prefix("unix://").unwrap_or(socket);
        assert_eq!(d["engine_socket"], path, "{d}");
        // From --socket, the same engine is said to come from the option.
        Command::new(bin())
            .current_dir(&root.0)
            .env_remove("POCKETDOCK_SOCKET")
            .args(["--socket", socket, "doctor", "--json"])
            .assert()
            .success()
            .stdout(
                predicate::str::contains("\"socket_source\":\"--socket\"")
                    .or(predicate::str::contains("\"socket_source\": \"--socket\"")),
            );
    }

    per_engine!(run_names_the_container_and_commands_name_the_engine);
}

/// `run --on-limit`: what happens at `--max-output`, with and without `--stream`. With
/// `--stream` the cap bounds the bytes printed, since nothing is kept; every byte under it is
/// printed.
mod on_limit {
    use super::*;

    /// `seq 1 N` as the container prints it.
    fn seq(n: u32) -> Vec<u8> {
        (1..=n)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect()
    }

    fn run_on_limit_with_and_without_stream(socket: &str) {
        let mut cli = Cli::new(socket);
        let name = cli.create("cli-limit", &[]);
        // Under the cap, --stream prints every byte (megabytes of them).
        let out = cli
            .pd()
            .args(["run", "--stream", &name, "seq 1 300000"])
            .assert()
            .success();
        assert!(
            out.get_output().stdout == seq(300_000),
            "every byte, in order"
        );
        // stop (the default): exactly the cap is printed, the command is stopped, exit 125.
        for stream in [true, false] {
            let mut pd = cli.pd();
            pd.arg("run");
            if stream {
                pd.arg("--stream");
            }
            let out = pd
                .args(["--max-output", "1000", &name, "yes x; sleep 30"])
                .assert()
                .code(125)
                .stderr(predicate::str::contains("--max-output"));
            assert_eq!(
                out.get_output().stdout,
                b"x\n".repeat(500),
                "stream {stream}"
            );
        }
        // keep-running: the cap is printed, the rest dropped, the command's own exit code.
        for stream in [true, false] {
            let mut pd = cli.pd();
            pd.arg("run");
            if stream {
                pd.arg("--stream");
            }
            let out = pd
                .args(["--max-output", "1000", "--on-limit", "keep-running"])
                .args([&name, "yes y | head -c 100000; exit 3"])
                .assert()
                .code(3)
                .stderr(predicate::str::contains("99000 bytes dropped"));
            assert_eq!(
                out.get_output().stdout,
                b"y\n".repeat(500),
                "stream {stream}"
            );
        }
        // head-tail: the first half of the cap, then the last quarter of each stream.
        let all = seq(100_000);
        for stream in [true, false] {
            let mut pd = cli.pd();
            pd.arg("run");
            if stream {
                pd.arg("--stream");
            }
            let out = pd
                .args(["--max-output", "1000", "--on-limit", "head-tail"])
                .args([&name, "seq 1 100000; echo THE-END >&2; exit 2"])
                .assert()
                .code(2)
                .stderr(predicate::str::starts_with("THE-END\n"));
            // The engine reads stdout and stderr concurrently: THE-END may take a few bytes of
            // the head instead of being stderr's tail.
            let printed = &out.get_output().stdout;
            let n = printed.len();
            assert!((742..=750).contains(&n), "stream {stream}: {n} bytes");
            assert!(printed[..492] == all[..492], "stream {stream}: the head");
            assert!(
                printed[n - 250..] == all[all.len() - 250..],
                "stream {stream}: the tail"
            );
        }
        // Nothing is watched with --detach: a policy is refused, as --max-output is.
        cli.pd()
            .args(["run", "--detach", "--on-limit", "stop", &name, "true"])
            .assert()
            .code(2);
        cli.pd()
            .args(["run", "--on-limit", "sometimes", &name, "true"])
            .assert()
            .code(2);
    }

    per_engine!(run_on_limit_with_and_without_stream);
}
