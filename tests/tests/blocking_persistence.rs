//! Persistent containers on the blocking adapter, against real Podman and Docker: resume, list,
//! stop, destroy (with the data-path guard), prune, name clashes, and containers made the way the
//! Python pocketdock makes them. Ports the Python pocketdock's persistence and listing scenarios
//! that need an engine (their numbers in the comments), corrected where it fell short.
//!
//! Every test works in its own temporary project with a unique project name, so the project
//! filters keep parallel tests (and other runs) apart; guards remove containers and directories
//! even when a test fails.

use std::path::{Path, PathBuf};

use pocketdock_blocking::{init_project, ContainerSpec, Engine, Error, Project};
use pocketdock_proto::api::containers;
use pocketdock_proto::api::exec::IdResponse;
use pocketdock_proto::api::{check, Subject};
use pocketdock_proto::http::Response;
use pocketdock_proto::op::CallOp;
use pocketdock_tests::{per_engine, unique_name, TEST_IMAGE};
use serde_json::json;

#[track_caller]
fn ok<T>(r: pocketdock_blocking::Result<T>) -> T {
    r.expect("the call should succeed")
}

/// Removes the containers (by id or engine name) and directories it was given, even on panic.
struct Cleanup {
    engine: Engine,
    containers: Vec<String>,
    dirs: Vec<PathBuf>,
}

impl Cleanup {
    fn new(socket: &str) -> Self {
        Self {
            engine: Engine::new(socket),
            containers: Vec::new(),
            dirs: Vec::new(),
        }
    }

    fn container(&mut self, id_or_name: &str) {
        self.containers.push(id_or_name.to_string());
    }

    /// A fresh temporary directory, removed at the end.
    fn temp_dir(&mut self, tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(unique_name(tag));
        ok(std::fs::create_dir_all(&dir).map_err(Error::Io));
        let dir = ok(std::fs::canonicalize(&dir).map_err(Error::Io));
        self.dirs.push(dir.clone());
        dir
    }

    /// A fresh project with a unique name.
    fn project(&mut self, tag: &str) -> Project {
        let dir = self.temp_dir(tag);
        let name = unique_name(tag);
        ok(init_project(Some(&dir), Some(&name)));
        ok(Project::open(&dir))
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = self.engine.remove_container(c, true);
        }
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn spec(name: &str) -> ContainerSpec {
    ContainerSpec::new().image(TEST_IMAGE).name(name)
}

/// `POST /containers/create` with a body of our own (labels the spec would refuse), not started.
fn raw_create(
    socket: &str,
    name: Option<&str>,
    labels: &serde_json::Value,
    cmd: &[&str],
) -> String {
    let body = json!({ "Image": TEST_IMAGE, "Cmd": cmd, "Labels": labels });
    ok(pocketdock_tests::raw::drive(
        socket,
        CallOp::new("create", &containers::create(name, &body), |r: Response| {
            check(&r, "create", Subject::None)?;
            Ok(r.json::<IdResponse>("create")?.id)
        }),
    ))
}

fn names_in(socket: &str, project: &str) -> Vec<String> {
    let mut v: Vec<String> = ok(Engine::new(socket).list_containers(Some(project)))
        .into_iter()
        .map(|i| i.name)
        .collect();
    v.sort();
    v
}

/// 205: a persistent container keeps its files across stop and resume; its logs continue.
fn persist_stop_resume_keeps_files(socket: &str) {
    let mut guard = Cleanup::new(socket);
    let engine = Engine::new(socket);
    let project = guard.project("resume");
    let name = unique_name("resume");
    guard.container(&name);
    let mut c = ok(engine.create_container_in(spec(&name).persist(true), Some(&project)));
    assert!(c.persist());
    assert_eq!(c.project(), project.name());
    let dir = c
        .instance_dir()
        .map_or_else(|| panic!("no instance dir"), Path::to_path_buf);
    assert_eq!(dir, ok(project.instance_dir(&name)));
    assert_eq!(c.data_path(), dir.display().to_string());
    ok(c.run("touch /tmp/persistence-marker"));
    ok(c.shutdown(false));
    drop(c);
    let item = ok(engine.list_containers(Some(project.name())))
        .into_iter()
        .find(|i| i.name == name)
        .expect("not listed after stop");
    assert_eq!(item.status, "exited");

    let c = ok(engine.resume_container(&name));
    assert!(c.persist());
    assert_eq!(c.project(), project.name());
    assert_eq!(c.instance_dir(), Some(dir.as_path()));
    assert!(ok(c.run("ls /tmp/persistence-marker")).ok());
    let history = ok(project.history(&name));
    assert_eq!(
        history
            .iter()
            .map(|h| h.command.as_str())
            .collect::<Vec<_>>(),
        [
            "touch /tmp/persistence-marker",
            "ls /tmp/persistence-marker"
        ]
    );
    drop(c);
    // Dropping a resumed handle leaves the container alone; resuming a running one just
    // attaches (199).
    assert!(ok(engine.inspect_container(&name)).state.running);
    let again = ok(engine.resume_container(&name));
    assert!(ok(again.run("ls /tmp/persistence-marker")).ok());
    drop(again);

    // 208: destroy removes the container and its instance directory.
    let report = ok(engine.destroy_container(&name));
    assert_eq!(report.name, name);
    assert_eq!(report.removed_dir.as_deref(), Some(dir.as_path()));
    assert_eq!(report.refused_data_path, None);
    assert!(!dir.exists());
    assert!(!names_in(socket, project.name()).contains(&name));
    assert!(matches!(
        engine.resume_container(&name),
        Err(Error::ContainerNotFound(_))
    ));
    assert!(matches!(
        engine.destroy_container(&name),
        Err(Error::ContainerNotFound(_))
    ));
}

/// 207, 211, 212: list includes stopped containers, carries the labels, filters by project.
fn list_with_project_filter(socket: &str) {
    let mut guard = Cleanup::new(socket);
    let engine = Engine::new(socket);
    let (pa, pb) = (unique_name("proj-a"), unique_name("proj-b"));
    let (a, b, e) = (
        unique_name("list-a"),
        unique_name("list-b"),
        unique_name("list-e"),
    );
    for n in [&a, &b, &e] {
        guard.container(n);
    }
    let ca = ok(engine.create_container_in(spec(&a).persist(true).project(&pa), None));
    let _cb = ok(engine.create_container_in(spec(&b).persist(true).project(&pb), None));
    let _ce = ok(engine.create_container_in(spec(&e).project(&pa), None));
    ok(engine.stop_container(&a));
    assert_eq!(names_in(socket, &pa), {
        let mut v = vec![a.clone(), e.clone()];
        v.sort();
        v
    });
    assert_eq!(names_in(socket, &pb), vec![b.clone()]);
    let all = ok(engine.list_containers(None));
    let item = all
        .iter()
        .find(|i| i.name == a)
        .unwrap_or_else(|| panic!("{a} not in the full list"));
    assert_eq!(item.full_id, ca.id());
    assert_eq!(item.id, ca.id()[..12]);
    assert_eq!(item.status, "exited");
    assert!(item.persist);
    assert_eq!(item.project, pa);
    assert!(item.image.contains("minimal-python"), "{}", item.image);
    assert!(item.created_at.ends_with("+00:00"), "{}", item.created_at);
    assert_eq!(item.engine_name, a);
    assert_eq!(item.data_path, "");
    let eph = all
        .iter()
        .find(|i| i.name == e)
        .unwrap_or_else(|| panic!("{e} not listed"));
    assert!(!eph.persist);
    assert_eq!(eph.status, "running");
    assert!(all.iter().any(|i| i.name == b));
    assert!(ok(engine.list_containers(Some(&unique_name("nobody")))).is_empty());
}

/// Destroy never deletes a directory a label names unless it is that container's real
/// instance directory in a pocketdock project.
fn destroy_refuses_forged_data_path(socket: &str) {
    let mut guard = Cleanup::new(socket);
    let engine = Engine::new(socket);
    let victim = guard.temp_dir("victim");
    ok(std::fs::write(victim.join("precious.txt"), "keep me").map_err(Error::Io));
    // A directory shaped like an instance directory, in a "project" without pocketdock.yaml.
    let fake_root = guard.temp_dir("fakeproj");
    let fake_name = unique_name("forged-shape");
    let fake_dir = fake_root.join(".pocketdock/instances").join(&fake_name);
    ok(std::fs::create_dir_all(&fake_dir).map_err(Error::Io));
    // A real project whose instance directory belongs to another container.
    let project = guard.project("real");
    let owner = unique_name("owner");
    let owner_dir = ok(project.instance_dir(&owner));
    ok(std::fs::create_dir_all(&owner_dir).map_err(Error::Io));
    let up = format!("{}/../../..", owner_dir.display());

    for (name, data_path, keep) in [
        (
            unique_name("forged-abs"),
            victim.display().to_string(),
            &victim,
        ),
        (fake_name.clone(), fake_dir.display().to_string(), &fake_dir),
        (
            unique_name("forged-other"),
            owner_dir.display().to_string(),
            &owner_dir,
        ),
        (unique_name("forged-dots"), up, &owner_dir),
    ] {
        let labels = json!({
            "pocketdock.managed": "true",
            "pocketdock.instance": name,
            "pocketdock.persist": "true",
            "pocketdock.data-path": data_path,
        });
        let id = raw_create(socket, Some(&name), &labels, &["sleep", "infinity"]);
        guard.container(&id);
        let report = ok(engine.destroy_container(&name));
        assert_eq!(report.id, id);
        assert_eq!(report.removed_dir, None, "{data_path}");
        assert!(report.refused_data_path.is_some(), "{data_path}");
        assert!(keep.is_dir(), "{data_path} was deleted");
        assert!(matches!(
            engine.inspect_container(&id),
            Err(Error::ContainerNotFound(_))
        ));
    }
    assert!(victim.join("precious.txt").is_file());
    // A label naming a directory that is gone is not an error.
    let name = unique_name("gone");
    let labels = json!({
        "pocketdock.managed": "true",
        "pocketdock.instance": name,
        "pocketdock.data-path": ok(project.instance_dir(&name)).display().to_string(),
    });
    let id = raw_create(socket, Some(&name), &labels, &["sleep", "infinity"]);
    guard.container(&id);
    let report = ok(engine.destroy_container(&name));
    assert_eq!((report.removed_dir, report.refused_data_path), (None, None));
}

/// 209, 213: prune removes the stopped containers of one project only, never running ones.
fn prune_only_within_project(socket: &str) {
    let mut guard = Cleanup::new(socket);
    let engine = Engine::new(socket);
    let (pa, pb) = (unique_name("prune-a"), unique_name("prune-b"));
    let (a1, a2, b1) = (
        unique_name("prune-a1"),
        unique_name("prune-a2"),
        unique_name("prune-b1"),
    );
    for n in [&a1, &a2, &b1] {
        guard.container(n);
    }
    let mut c = ok(engine.create_container_in(spec(&a1).persist(true).project(&pa), None));
    ok(c.shutdown(false));
    let _running = ok(engine.create_container_in(spec(&a2).persist(true).project(&pa), None));
    let mut c = ok(engine.create_container_in(spec(&b1).persist(true).project(&pb), None));
    ok(c.shutdown(false));
    // A created, never started container counts as stopped.
    let a3 = unique_name("prune-a3");
    let id = raw_create(
        socket,
        Some(&a3),
        &json!({"pocketdock.managed": "true", "pocketdock.instance": a3, "pocketdock.project": pa}),
        &["sleep", "infinity"],
    );
    guard.container(&id);
    assert_eq!(ok(engine.prune(Some(&pa))), 2);
    assert_eq!(names_in(socket, &pa), vec![a2.clone()]);
    assert_eq!(names_in(socket, &pb), vec![b1.clone()]);
    assert_eq!(ok(engine.prune(Some(&pa))), 0);
    assert_eq!(ok(engine.prune(Some(&pb))), 1);
    assert!(names_in(socket, &pb).is_empty());
}

/// A name is one container (the Python pocketdock could make several under one name); a clash is
/// refused and leaves the first intact, instance directory included.
fn name_clash(socket: &str) {
    let mut guard = Cleanup::new(socket);
    let engine = Engine::new(socket);
    let project = guard.project("clash");
    let name = unique_name("clash");
    guard.container(&name);
    let first = ok(engine.create_container_in(spec(&name).persist(true), Some(&project)));
    let before = ok(project.read_instance(&name)).expect("no instance.toml");
    assert_eq!(before.container.id, first.id());
    for p in [Some(&project), None] {
        match engine.create_container_in(spec(&name).persist(true), p) {
            Err(Error::NameInUse(n)) => assert_eq!(n, name),
            other => panic!("expected NameInUse, got {other:?}"),
        }
    }
    let after = ok(project.read_instance(&name)).expect("instance.toml gone");
    assert_eq!(after, before);
    assert_eq!(names_in(socket, project.name()), vec![name.clone()]);
    // A label-only duplicate (as the reference could make) is refused, not guessed.
    let dup = unique_name("dup");
    let labels = json!({"pocketdock.managed": "true", "pocketdock.instance": dup});
    for _ in 0..2 {
        let id = raw_create(socket, None, &labels, &["sleep", "infinity"]);
        guard.container(&id);
    }
    assert!(matches!(
        engine.resume_container(&dup),
        Err(Error::InvalidInput { field: "name", .. })
    ));
    // Unmanaged containers are not pocketdock's, even by engine name.
    let plain = unique_name("plain");
    let id = raw_create(socket, Some(&plain), &json!({}), &["sleep", "infinity"]);
    guard.container(&id);
    assert!(matches!(
        engine.destroy_container(&plain),
        Err(Error::ContainerNotFound(_))
    ));
}

/// A container made the way the Python pocketdock makes it (no engine name, its labels,
/// `sleep infinity`, an instance directory it created) is listed, resumed, logged into and
/// destroyed by name.
fn reference_made_container(socket: &str) {
    let mut guard = Cleanup::new(socket);
    let engine = Engine::new(socket);
    let project = guard.project("pyref");
    let name = format!("pd-{:08x}", rand_u32());
    let dir = ok(project.instance_dir(&name));
    for sub in ["data", "logs"] {
        ok(std::fs::create_dir_all(dir.join(sub)).map_err(Error::Io));
    }
    let labels = json!({
        "pocketdock.managed": "true",
        "pocketdock.instance": name,
        "pocketdock.persist": "true",
        "pocketdock.created-at": "2026-02-10T14:30:00.123456+00:00",
        "pocketdock.project": project.name(),
        "pocketdock.data-path": dir.display().to_string(),
    });
    let id = raw_create(socket, None, &labels, &["sleep", "infinity"]);
    guard.container(&id);
    // The reference writes instance.toml by hand, unescaped; this one is what it writes.
    ok(std::fs::write(
        dir.join("instance.toml"),
        format!(
            "# Maintained by pocketdock. Do not edit.\n\n[container]\nid = \"{id}\"\nname = \"{name}\"\n\
             image = \"{TEST_IMAGE}\"\nproject = \"{}\"\ncreated_at = \"2026-02-10T14:30:00.123456+00:00\"\n\
             persist = true\n\n[provenance]\ncreated_by = \"python agent.py\"\npid = 4242\n",
            project.name()
        ),
    )
    .map_err(Error::Io));

    let items = ok(engine.list_containers(Some(project.name())));
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item.name, name);
    assert_eq!(item.full_id, id);
    assert!(item.persist);
    assert_eq!(item.status, "created");
    assert_eq!(item.created_at, "2026-02-10T14:30:00.123456+00:00");
    assert_ne!(item.engine_name, name, "the engine picked its own name");

    let c = ok(engine.resume_container(&name));
    assert_eq!(c.id(), id);
    assert_eq!(c.name(), name);
    assert!(c.persist());
    assert_eq!(c.instance_dir(), Some(dir.as_path()));
    assert_eq!(ok(c.run("echo from-rust")).stdout_str(), "from-rust\n");
    let history = ok(project.history(&name));
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].exit_code, 0);
    drop(c);
    let report = ok(engine.doctor_project(&project));
    assert_eq!(report.healthy, 1);
    assert!(report.is_healthy(), "{:?}", report.problems());

    let report = ok(engine.destroy_container(&name));
    assert_eq!(report.removed_dir.as_deref(), Some(dir.as_path()));
    assert!(!dir.exists());
    assert!(ok(engine.list_containers(Some(project.name()))).is_empty());
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(unique_name("r").as_bytes());
    h.finish() as u32
}

/// 203: stop by name; an already stopped container is fine; a missing one is not found.
fn stop_by_name(socket: &str) {
    let mut guard = Cleanup::new(socket);
    let engine = Engine::new(socket);
    let name = unique_name("stop");
    guard.container(&name);
    let _c = ok(engine.create_container_in(spec(&name).persist(true), None));
    ok(engine.stop_container(&name));
    assert!(!ok(engine.inspect_container(&name)).state.running);
    ok(engine.stop_container(&name));
    assert!(matches!(
        engine.stop_container(&unique_name("missing")),
        Err(Error::ContainerNotFound(_))
    ));
}

/// 210: a host directory mounted into the container is shared both ways.
fn volume_shared_with_host(socket: &str) {
    use std::os::unix::fs::PermissionsExt;
    let mut guard = Cleanup::new(socket);
    let engine = Engine::new(socket);
    let host = guard.temp_dir("vol");
    ok(std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o777)).map_err(Error::Io));
    let name = unique_name("vol");
    guard.container(&name);
    let c = ok(engine.create_container_in(
        spec(&name).volume(pocketdock_proto::spec::Volume::new(
            host.display().to_string(),
            "/mnt/shared",
        )),
        None,
    ));
    assert!(ok(c.run("echo from-container > /mnt/shared/test.txt")).ok());
    assert_eq!(
        ok(c.run("cat /mnt/shared/test.txt")).stdout_str(),
        "from-container\n"
    );
    assert_eq!(
        ok(std::fs::read_to_string(host.join("test.txt")).map_err(Error::Io)),
        "from-container\n"
    );
}

per_engine!(
    persist_stop_resume_keeps_files,
    list_with_project_filter,
    destroy_refuses_forged_data_path,
    prune_only_within_project,
    name_clash,
    reference_made_container,
    stop_by_name,
    volume_shared_with_host,
);

/// The real Python pocketdock (`pip install pocketdock`) and this crate see each other's
/// containers. Needs `POCKETDOCK_TEST_PYTHON`: a Python interpreter with the package installed
/// (e.g. `python3 -m venv /tmp/pdvenv && /tmp/pdvenv/bin/pip install pocketdock`).
fn python_package_interop(socket: &str) {
    let python = std::env::var("POCKETDOCK_TEST_PYTHON")
        .expect("set POCKETDOCK_TEST_PYTHON to a python with `pip install pocketdock` done");
    let mut guard = Cleanup::new(socket);
    let engine = Engine::new(socket);
    let project = guard.project("pyinterop");
    let py_name = unique_name("py");
    let rs_name = unique_name("rs");
    guard.container(&rs_name);
    let socket_path = socket.strip_prefix("unix://").unwrap_or(socket);
    let run_py = |code: &str| -> String {
        let out = std::process::Command::new(&python)
            .arg("-c")
            .arg(code)
            .current_dir(project.root())
            .env("POCKETDOCK_SOCKET", socket_path)
            .output()
            .unwrap_or_else(|e| panic!("{python}: {e}"));
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // Python creates a persistent container in the project (and its instance directory).
    let py_id = run_py(&format!(
        "import pocketdock\nc = pocketdock.create_new_container(name={py_name:?}, persist=True)\n\
         print(c.container_id)"
    ));
    guard.container(&py_id);
    let items = ok(engine.list_containers(Some(project.name())));
    let item = items
        .iter()
        .find(|i| i.name == py_name)
        .unwrap_or_else(|| panic!("python container not listed: {items:?}"));
    assert_eq!(item.full_id, py_id);
    assert!(item.persist);
    let dir = ok(project.instance_dir(&py_name));
    assert_eq!(item.data_path, dir.display().to_string());
    let c = ok(engine.resume_container(&py_name));
    assert_eq!(ok(c.run("echo hi")).stdout_str(), "hi\n");
    assert_eq!(ok(project.history(&py_name)).len(), 1);
    drop(c);
    // Rust creates one; Python lists and resumes it.
    let _rc = ok(engine.create_container_in(spec(&rs_name).persist(true), Some(&project)));
    let listed = run_py(&format!(
        "import pocketdock\nprint(sorted(i.name for i in pocketdock.list_containers(project={:?})))",
        project.name()
    ));
    assert!(
        listed.contains(&rs_name) && listed.contains(&py_name),
        "{listed}"
    );
    let out = run_py(&format!(
        "import pocketdock\nc = pocketdock.resume_container({rs_name:?})\nprint(c.run('echo py').stdout.strip())"
    ));
    assert_eq!(out, "py");
    let report = ok(engine.destroy_container(&py_name));
    assert_eq!(report.removed_dir.as_deref(), Some(dir.as_path()));
    ok(engine.destroy_container(&rs_name));
}

mod python {
    #[test]
    fn podman() {
        super::python_package_interop(&pocketdock_tests::socket("podman"));
    }
    #[test]
    fn docker() {
        super::python_package_interop(&pocketdock_tests::socket("docker"));
    }
}
