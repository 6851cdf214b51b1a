//! Projects on the blocking adapter: `init_project`, `find_project_root`, `pocketdock.yaml`
//! actually applied (`default_persist`, `default_profile`, `socket`, logging limits), instance
//! directories, `history.jsonl`, retention, the doctor, and profiles. Ports the Python pocketdock's
//! project scenarios (their numbers in the comments), corrected where it fell short: the config is
//! applied, the profile's network default is applied, sessions and detached commands reach the
//! history.
//!
//! Engine scenarios run on Podman and Docker, each in its own temporary project with a unique
//! project name; guards remove containers and directories even when a test fails.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use pocketdock_blocking::{
    find_project_root, init_project, list_profiles, resolve_profile, ContainerSpec, Engine, Error,
    HistoryKind, Project, RunOptions,
};
use pocketdock_tests::{per_engine, unique_name, TEST_IMAGE};

#[track_caller]
fn ok<T>(r: pocketdock_blocking::Result<T>) -> T {
    r.expect("the call should succeed")
}

#[track_caller]
fn io<T>(r: std::io::Result<T>) -> T {
    r.expect("the file operation should succeed")
}

/// Removes containers and directories, even on panic.
struct Cleanup {
    engine: Option<Engine>,
    containers: Vec<String>,
    dirs: Vec<PathBuf>,
}

impl Cleanup {
    fn new(socket: Option<&str>) -> Self {
        Self {
            engine: socket.map(Engine::new),
            containers: Vec::new(),
            dirs: Vec::new(),
        }
    }

    fn container(&mut self, name: &str) {
        self.containers.push(name.to_string());
    }

    fn temp_dir(&mut self, tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(unique_name(tag));
        io(std::fs::create_dir_all(&dir));
        let dir = io(std::fs::canonicalize(&dir));
        self.dirs.push(dir.clone());
        dir
    }

    /// A project with a unique name whose `pocketdock.yaml` is `yaml` (the template if empty).
    fn project(&mut self, tag: &str, yaml: &str) -> Project {
        let dir = self.temp_dir(tag);
        let name = unique_name(tag);
        ok(init_project(Some(&dir), Some(&name)));
        if !yaml.is_empty() {
            io(std::fs::write(
                dir.join(".pocketdock/pocketdock.yaml"),
                format!("project_name: {name}\n{yaml}"),
            ));
        }
        ok(Project::open(&dir))
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(engine) = &self.engine {
            for c in &self.containers {
                let _ = engine.remove_container(c, true);
            }
        }
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn spec(name: &str) -> ContainerSpec {
    ContainerSpec::new().image(TEST_IMAGE).name(name)
}

// ---- no engine needed -------------------------------------------------------------------------

/// 214, 215: init writes the template once and creates `instances/`; the root is found from a
/// subdirectory; a bare `.pocketdock/` is not a project.
#[test]
fn init_project_and_find_root_from_subdirectory() {
    let mut guard = Cleanup::new(None);
    let dir = guard.temp_dir("init");
    let root = ok(init_project(Some(&dir), Some("my-widget")));
    assert_eq!(root, dir);
    let yaml = io(std::fs::read_to_string(
        root.join(".pocketdock/pocketdock.yaml"),
    ));
    assert!(yaml.starts_with("# Project configuration for pocketdock\nproject_name: my-widget\n"));
    assert!(root.join(".pocketdock/instances").is_dir());
    let config = ok(pocketdock_blocking::load_config(Some(&root)));
    assert_eq!(config.project_name, "my-widget");
    assert_eq!(config.default_profile, "minimal-python");
    assert!(!config.default_persist);
    assert!(config.auto_log);
    // Re-init does not overwrite.
    ok(init_project(Some(&dir), Some("other")));
    assert_eq!(pocketdock_blocking::get_project_name(&root), "my-widget");
    // Found from a deep subdirectory, and through a relative-looking path.
    let deep = root.join("a/b/c");
    io(std::fs::create_dir_all(&deep));
    assert_eq!(find_project_root(Some(&deep)), Some(root.clone()));
    assert_eq!(
        find_project_root(Some(&deep.join("../.."))),
        Some(root.clone())
    );
    let p = ok(Project::discover(Some(&deep))).expect("no project");
    assert_eq!(p.root(), root);
    assert_eq!(p.name(), "my-widget");
    // A bare .pocketdock directory does not make a project.
    let bare = guard.temp_dir("bare");
    io(std::fs::create_dir_all(bare.join(".pocketdock/instances")));
    assert!(matches!(
        Project::open(&bare),
        Err(Error::ProjectNotInitialized)
    ));
    // The default name is the directory name.
    let named = guard.temp_dir("dirname");
    ok(init_project(Some(&named), None));
    let dir_name = named
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    assert_eq!(ok(Project::open(&named)).name(), dir_name);
}

/// 221, 222: files layer key by key; a broken file is an error naming it (the Python pocketdock
/// ignored it silently).
#[test]
fn config_layers_and_broken_files() {
    let mut guard = Cleanup::new(None);
    let dir = guard.temp_dir("layers");
    let install = dir.join("install.yaml");
    let project = dir.join("project.yaml");
    io(std::fs::write(
        &install,
        "socket: /custom/sock\nlog_level: debug\ndefault_profile: dev\n",
    ));
    io(std::fs::write(
        &project,
        "default_profile: agent\nlogging:\n  auto_log: false\n  max_log_size: \"50MB\"\n  retention_days: 7\n",
    ));
    let c = ok(pocketdock_blocking::load_config_files(
        Some(&install),
        Some(&project),
    ));
    assert_eq!(c.default_profile, "agent");
    assert_eq!(c.log_level, "debug");
    assert_eq!(c.socket.as_deref(), Some("/custom/sock"));
    assert!(!c.auto_log);
    assert_eq!(c.max_log_size, "50MB");
    assert_eq!(c.retention_days, 7);
    let c = ok(pocketdock_blocking::load_config_files(
        Some(&dir.join("missing.yaml")),
        None,
    ));
    assert_eq!(c, pocketdock_blocking::PocketDockConfig::default());
    io(std::fs::write(&project, ": invalid: yaml: {["));
    match pocketdock_blocking::load_config_files(None, Some(&project)) {
        Err(Error::Config { path, .. }) => assert_eq!(path, project.display().to_string()),
        other => panic!("expected a config error, got {other:?}"),
    }
}

/// 230-232: the six profiles, their metadata and the error for an unknown one.
#[test]
fn profiles_metadata() {
    let names: Vec<&str> = list_profiles().iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "minimal-python",
            "minimal-node",
            "minimal-bun",
            "dev",
            "agent",
            "embedded"
        ]
    );
    for p in list_profiles() {
        let r = ok(resolve_profile(p.name));
        assert_eq!(r.image_tag, format!("pocketdock/{}", p.name));
        assert!(!r.description.is_empty() && !r.size_estimate.is_empty());
        assert_eq!(r.network_default, matches!(p.name, "dev" | "embedded"));
    }
    let e = match resolve_profile("nope") {
        Err(e) => e.to_string(),
        Ok(p) => panic!("resolved {p:?}"),
    };
    assert!(e.contains("Unknown profile \"nope\""), "{e}");
    assert!(
        e.contains("agent, dev, embedded, minimal-bun, minimal-node, minimal-python"),
        "{e}"
    );
}

/// 223: the doctor needs a project.
#[test]
fn doctor_without_project() {
    let mut guard = Cleanup::new(None);
    let dir = guard.temp_dir("noproj");
    assert!(matches!(
        pocketdock_blocking::doctor(Some(&dir)),
        Err(Error::ProjectNotInitialized)
    ));
}

// ---- engine scenarios -------------------------------------------------------------------------

/// `default_persist: true` makes a create persistent, with its instance directory; an explicit
/// `persist(false)` wins.
fn default_persist_applies(socket: &str) {
    let mut guard = Cleanup::new(Some(socket));
    let engine = Engine::new(socket);
    let project = guard.project("dpersist", "default_persist: true\n");
    assert!(project.config().default_persist);
    let name = unique_name("dp");
    guard.container(&name);
    let mut c = ok(engine.create_container_in(spec(&name), Some(&project)));
    assert!(c.persist());
    assert_eq!(c.project(), project.name());
    let meta = ok(project.read_instance(&name)).expect("no instance.toml");
    assert_eq!(meta.container.id, c.id());
    assert_eq!(meta.container.name, name);
    assert_eq!(meta.container.project, project.name());
    assert!(meta.container.persist);
    assert_eq!(meta.container.network, Some(false));
    assert!(meta.provenance.pid > 0);
    let dir = ok(project.instance_dir(&name));
    assert!(dir.join("data").is_dir() && dir.join("logs").is_dir());
    let labels = ok(engine.inspect_container(&name)).config.labels;
    assert_eq!(
        labels.get("pocketdock.data-path").map(String::as_str),
        Some(dir.display().to_string().as_str())
    );
    assert_eq!(
        labels.get("pocketdock.project").map(String::as_str),
        Some(project.name())
    );
    ok(c.shutdown(false));
    assert!(!ok(engine.inspect_container(&name)).state.running);

    let eph = unique_name("dp-eph");
    guard.container(&eph);
    let mut e = ok(engine.create_container_in(spec(&eph).persist(false), Some(&project)));
    assert!(!e.persist());
    assert_eq!(e.instance_dir(), None);
    assert!(!ok(project.instance_dir(&eph)).exists());
    ok(e.shutdown(false));
    assert!(matches!(
        engine.inspect_container(&eph),
        Err(Error::ContainerNotFound(_))
    ));
    // A persistent container of another project gets no directory here.
    let other = unique_name("dp-other");
    guard.container(&other);
    let o = ok(engine.create_container_in(
        spec(&other).project(unique_name("elsewhere")),
        Some(&project),
    ));
    assert!(o.persist());
    assert_eq!(o.instance_dir(), None);
    ok(engine.destroy_container(&name));
    ok(engine.destroy_container(&other));
}

/// `default_profile` is used when the spec names no image and no profile (here `dev`, whose
/// image is not built, so the create fails on that image), and a failed create leaves no
/// instance directory behind (the Python pocketdock left one).
fn default_profile_applies_and_failed_create_rolls_back(socket: &str) {
    let mut guard = Cleanup::new(Some(socket));
    let engine = Engine::new(socket);
    let project = guard.project("dprofile", "default_profile: dev\ndefault_persist: true\n");
    let name = unique_name("dprof");
    guard.container(&name);
    match engine.create_container_in(ContainerSpec::new().name(&name), Some(&project)) {
        Err(Error::ImageNotFound(image)) => assert!(image.contains("pocketdock/dev"), "{image}"),
        other => panic!("expected ImageNotFound(pocketdock/dev), got {other:?}"),
    }
    assert!(!ok(project.instance_dir(&name)).exists());
    assert!(ok(project.instance_names()).is_empty());
    // An explicit image wins over the default profile.
    let c = ok(engine.create_container_in(spec(&name).persist(false), Some(&project)));
    let image = ok(engine.inspect_container(c.id())).config.image;
    assert!(image.contains(TEST_IMAGE), "{image}");
    drop(c);
    // An unknown default profile is a config error.
    let bad = guard.project("badprofile", "default_profile: nope\n");
    assert!(matches!(
        engine.create_container_in(ContainerSpec::new(), Some(&bad)),
        Err(Error::Config { .. })
    ));
}

/// The profile's network default is applied (the Python pocketdock only stored it): `dev` has a
/// network, `minimal-python` none; an explicit choice wins.
fn profile_network_default(socket: &str) {
    let engine = Engine::new(socket);
    let mode = |spec: ContainerSpec| {
        let c = ok(engine.create_container_in(spec, None));
        let inspect = ok(engine.inspect_container(c.id()));
        (
            inspect.host_config["NetworkMode"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            inspect.config.labels.get("pocketdock.profile").cloned(),
        )
    };
    assert_eq!(
        mode(spec(&unique_name("net-dev")).profile("dev")),
        ("bridge".to_string(), Some("dev".to_string()))
    );
    assert_eq!(
        mode(spec(&unique_name("net-min")).profile("minimal-python")),
        ("none".to_string(), Some("minimal-python".to_string()))
    );
    assert_eq!(
        mode(
            spec(&unique_name("net-off"))
                .profile("dev")
                .network(pocketdock_proto::spec::NetworkMode::Off)
        )
        .0,
        "none"
    );
}

/// Every blocking run, streamed run and detached command gets a `history.jsonl` line with its
/// exit code, and a log file in the Python pocketdock's layout.
fn history_line_per_run(socket: &str) {
    let mut guard = Cleanup::new(Some(socket));
    let engine = Engine::new(socket);
    let project = guard.project("hist", "");
    let name = unique_name("hist");
    guard.container(&name);
    let c = ok(engine.create_container_in(spec(&name).persist(true), Some(&project)));
    assert_eq!(ok(c.run("echo hello")).exit_code, 0);
    assert_eq!(ok(c.run("echo oops >&2; exit 3")).exit_code, 3);
    let timed = ok(c.run_with(
        "sleep 5",
        &RunOptions::new().timeout(Duration::from_millis(300)),
    ));
    assert!(timed.timed_out);
    let streamed = ok(c.stream("echo streamed; exit 4", &RunOptions::new()));
    assert_eq!(ok(streamed.finish()).exit_code, 4);
    let bg = ok(c.detach("echo bg; echo bgerr >&2; exit 5", &RunOptions::new()));
    assert_eq!(ok(bg.wait(Some(Duration::from_secs(20)))).exit_code, 5);
    // The exit callback (which writes the detach line) runs on the reader thread.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ok(project.history(&name)).len() < 5 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let hist = ok(project.history(&name));
    let got: Vec<(HistoryKind, &str, i64, bool)> = hist
        .iter()
        .map(|e| (e.kind.clone(), e.command.as_str(), e.exit_code, e.timed_out))
        .collect();
    assert_eq!(
        got,
        [
            (HistoryKind::Run, "echo hello", 0, false),
            (HistoryKind::Run, "echo oops >&2; exit 3", 3, false),
            (HistoryKind::Run, "sleep 5", -1, true),
            (HistoryKind::Run, "echo streamed; exit 4", 4, false),
            (
                HistoryKind::Detach,
                "echo bg; echo bgerr >&2; exit 5",
                5,
                false
            ),
        ]
    );
    assert!(hist.iter().all(|e| e.timestamp.ends_with("+00:00")));
    assert_eq!(hist[4].exec_id.as_deref(), Some(bg.id()));
    let logs = ok(project.instance_dir(&name)).join("logs");
    let read = |entry: &pocketdock_blocking::HistoryEntry| {
        let file = entry.log.clone().expect("no log name");
        io(std::fs::read_to_string(logs.join(file)))
    };
    assert_eq!(
        read(&hist[0]).lines().take(4).collect::<Vec<_>>()[..2],
        ["# command: echo hello", "# exit_code: 0"]
    );
    assert!(read(&hist[0]).ends_with("--- stdout ---\nhello\n"));
    assert!(read(&hist[1]).ends_with("--- stderr ---\noops\n"));
    assert!(read(&hist[2]).contains("# timed_out: True"));
    assert!(read(&hist[3]).contains("--- stdout ---\nstreamed\n"));
    let detach = read(&hist[4]);
    assert!(detach.starts_with("# command: echo bg; echo bgerr >&2; exit 5\n\n"));
    assert!(detach.contains("] [stdout] bg\n") && detach.contains("] [stderr] bgerr\n"));
    assert!(detach.contains("\n# exit_code: 5\n# duration_ms: "));
    ok(engine.destroy_container(&name));
}

/// `auto_log: false` leaves no logs; the instance directory is still made.
fn auto_log_off(socket: &str) {
    let mut guard = Cleanup::new(Some(socket));
    let engine = Engine::new(socket);
    let project = guard.project("nolog", "logging:\n  auto_log: false\n");
    let name = unique_name("nolog");
    guard.container(&name);
    let c = ok(engine.create_container_in(spec(&name).persist(true), Some(&project)));
    ok(c.run("echo quiet"));
    assert!(ok(project.history(&name)).is_empty());
    let logs = ok(project.instance_dir(&name)).join("logs");
    assert_eq!(io(std::fs::read_dir(&logs)).count(), 0);
    ok(engine.destroy_container(&name));
}

/// `retention_days`, `max_logs_per_instance` and `max_log_size` are enforced (the Python pocketdock
/// never did): old log files go, the newest few stay, big outputs are cut, unrelated files stay.
fn retention_deletes_old_logs(socket: &str) {
    let mut guard = Cleanup::new(Some(socket));
    let engine = Engine::new(socket);
    let project = guard.project(
        "retain",
        "logging:\n  retention_days: 1\n  max_logs_per_instance: 3\n  max_log_size: 2k\n",
    );
    let name = unique_name("retain");
    guard.container(&name);
    let dir = ok(project.instance_dir(&name));
    let logs = dir.join("logs");
    // Leftovers of an earlier instance of that name: an old log and a user's file.
    io(std::fs::create_dir_all(&logs));
    let old = SystemTime::now() - Duration::from_secs(5 * 86_400);
    for f in ["run-2020-01-01T00-00-00p00-00.log", "notes.txt"] {
        io(std::fs::write(logs.join(f), "old"));
        let file = io(std::fs::File::options().write(true).open(logs.join(f)));
        io(file.set_modified(old));
    }
    let c = ok(engine.create_container_in(spec(&name).persist(true), Some(&project)));
    assert!(!logs.join("run-2020-01-01T00-00-00p00-00.log").exists());
    assert!(logs.join("notes.txt").exists());
    let r = ok(c.run("head -c 10000 /dev/zero | tr '\\0' x"));
    assert_eq!(r.stdout.len(), 10_000);
    let h = ok(project.history(&name));
    let big = io(std::fs::read_to_string(
        logs.join(h[0].log.clone().unwrap_or_default()),
    ));
    assert!(big.len() < 2048 + 100, "{}", big.len());
    assert!(big.ends_with("# log truncated: max_log_size reached\n"));
    for i in 0..6 {
        ok(c.run(&format!("echo {i}")));
    }
    let names: Vec<String> = io(std::fs::read_dir(&logs))
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    let managed: Vec<&String> = names
        .iter()
        .filter(|n| {
            std::path::Path::new(n.as_str())
                .extension()
                .is_some_and(|e| e == "log")
                || n.starts_with("history-")
        })
        .collect();
    assert!(managed.len() <= 3, "{names:?}");
    assert!(names.iter().any(|n| n == "notes.txt"));
    assert!(!ok(project.history(&name)).is_empty());
    ok(engine.destroy_container(&name));
}

/// 223-225: orphaned, stale, healthy, plus the extra checks; the free function finds the engine
/// through the project's `socket:` setting.
fn doctor_reports(socket: &str) {
    let mut guard = Cleanup::new(Some(socket));
    let engine = Engine::new(socket);
    let socket_path = socket.strip_prefix("unix://").unwrap_or(socket);
    let project = guard.project("doctor", &format!("socket: {socket_path}\n"));
    let empty = ok(engine.doctor_project(&project));
    assert_eq!(
        (
            empty.orphaned_containers.len(),
            empty.stale_instance_dirs.len(),
            empty.healthy
        ),
        (0, 0, 0)
    );
    let (healthy, orphan, eph) = (
        unique_name("doc-ok"),
        unique_name("doc-orphan"),
        unique_name("doc-eph"),
    );
    for n in [&healthy, &orphan, &eph] {
        guard.container(n);
    }
    let _h = ok(engine.create_container_in(spec(&healthy).persist(true), Some(&project)));
    // Labelled with the project but made without it: no instance directory.
    let _o =
        ok(engine.create_container_in(spec(&orphan).persist(true).project(project.name()), None));
    let _e = ok(engine.create_container_in(spec(&eph).project(project.name()), None));
    let stale = unique_name("doc-stale");
    io(std::fs::create_dir_all(ok(project.instance_dir(&stale))));
    let mut meta = pocketdock_blocking::InstanceMetadata::default();
    meta.container.id = "(pending)".into();
    meta.container.name.clone_from(&stale);
    ok(pocketdock_blocking::write_instance_metadata(
        &ok(project.instance_dir(&stale)),
        &meta,
    ));

    let r = if std::env::var_os("POCKETDOCK_SOCKET").is_some() {
        ok(engine.doctor(Some(project.root())))
    } else {
        ok(pocketdock_blocking::doctor(Some(project.root())))
    };
    assert_eq!(r.project, project.name());
    assert_eq!(r.orphaned_containers, vec![orphan.clone()]);
    assert_eq!(r.stale_instance_dirs, vec![stale.clone()]);
    assert_eq!(r.healthy, 1);
    assert_eq!(r.pending_instance_dirs, vec![stale.clone()]);
    assert_eq!(r.ephemeral_containers, vec![eph.clone()]);
    assert!(r.id_mismatches.is_empty() && r.data_path_mismatches.is_empty());
    assert!(!r.is_healthy());
    assert_eq!(r.problems().len(), 3, "{:?}", r.problems());
    ok(engine.destroy_container(&healthy));
    ok(engine.destroy_container(&orphan));
}

/// The project's `socket:` is used after an explicit socket and `POCKETDOCK_SOCKET`.
fn project_socket_setting(socket: &str) {
    let mut guard = Cleanup::new(Some(socket));
    let socket_path = socket.strip_prefix("unix://").unwrap_or(socket);
    let project = guard.project("sock", &format!("socket: unix://{socket_path}\n"));
    let engine = ok(Engine::for_project(&project));
    match std::env::var("POCKETDOCK_SOCKET") {
        Ok(env) if !env.is_empty() => assert_eq!(
            engine.socket(),
            std::path::Path::new(env.strip_prefix("unix://").unwrap_or(&env))
        ),
        _ => {
            assert_eq!(engine.socket(), std::path::Path::new(socket_path));
            assert_eq!(ok(engine.ping()), "OK");
        }
    }
    let explicit = ok(Engine::detect_with(
        Some("/explicit.sock"),
        Some(socket_path),
    ));
    assert_eq!(explicit.socket(), std::path::Path::new("/explicit.sock"));
}

/// `reboot(fresh)` keeps `instance.toml` in step with the new container id (the Python pocketdock
/// left the old one).
fn reboot_fresh_updates_instance_toml(socket: &str) {
    let mut guard = Cleanup::new(Some(socket));
    let engine = Engine::new(socket);
    let project = guard.project("reboot", "");
    let name = unique_name("reboot");
    guard.container(&name);
    let mut c = ok(engine.create_container_in(spec(&name).persist(true), Some(&project)));
    let old = c.id().to_string();
    ok(c.reboot(true));
    assert_ne!(c.id(), old);
    let meta = ok(project.read_instance(&name)).expect("no instance.toml");
    assert_eq!(meta.container.id, c.id());
    let labels = ok(engine.inspect_container(c.id())).config.labels;
    assert_eq!(
        labels.get("pocketdock.data-path").map(String::as_str),
        Some(
            ok(project.instance_dir(&name))
                .display()
                .to_string()
                .as_str()
        )
    );
    ok(engine.destroy_container(&name));
}

/// Session commands reach the history (the Python pocketdock only wrote a session log, and left
/// `send_and_wait` commands out of it).
fn session_commands_are_logged(socket: &str) {
    let mut guard = Cleanup::new(Some(socket));
    let engine = Engine::new(socket);
    let project = guard.project("sesslog", "");
    let name = unique_name("sesslog");
    guard.container(&name);
    let c = ok(engine.create_container_in(spec(&name).persist(true), Some(&project)));
    let session = ok(c.session());
    ok(session.send_and_wait("cd /tmp", None));
    let r = ok(session.send_and_wait("pwd; exit_code_is() { return 7; }; exit_code_is", None));
    assert_eq!((r.stdout_str().as_ref(), r.exit_code), ("/tmp\n", 7));
    ok(session.close());
    let hist = ok(project.history(&name));
    assert_eq!(hist.len(), 2, "{hist:?}");
    assert!(hist.iter().all(|e| e.kind == HistoryKind::Session));
    assert_eq!(hist[1].exit_code, 7);
    assert_eq!(hist[1].session_id.as_deref(), Some(session.id()));
    let log = io(std::fs::read_to_string(
        ok(project.instance_dir(&name))
            .join("logs")
            .join(hist[1].log.clone().unwrap_or_default()),
    ));
    assert!(
        log.starts_with(&format!("# session_id: {}\n\n", session.id())),
        "{log}"
    );
    assert!(
        log.contains("] >>> cd /tmp\n") && log.contains("/tmp\n"),
        "{log}"
    );
    ok(engine.destroy_container(&name));
}

per_engine!(
    default_persist_applies,
    default_profile_applies_and_failed_create_rolls_back,
    profile_network_default,
    history_line_per_run,
    auto_log_off,
    retention_deletes_old_logs,
    doctor_reports,
    project_socket_setting,
    reboot_fresh_updates_instance_toml,
    session_commands_are_logged,
);
