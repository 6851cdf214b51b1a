//! Images on the blocking adapter against real Podman and Docker: build (directory and embedded
//! profile contexts, from local bases only), in-stream build failures, multi-image export to one
//! `.tar.gz`, import, gzip detected by content, truncated and corrupt archives refused.
//!
//! Every image a test makes has a unique name and is removed by a guard, also on failure.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pocketdock_blocking::{
    BuildContext, BuildOptions, ContainerSpec, Engine, Error, ImageProgress,
};
use pocketdock_proto::api::containers;
use pocketdock_proto::op::{CallOp, Response};
use pocketdock_tests::{per_engine, remove_image, unique_name, BUSYBOX_IMAGE};

const DEBIAN_BASE: &str = "pocketdock/debian-base:bookworm";

/// Removes its images (and anything tagged under their names) when dropped.
struct Images {
    socket: String,
    names: Vec<String>,
}

impl Images {
    fn new(socket: &str) -> Self {
        Self {
            socket: socket.to_string(),
            names: Vec::new(),
        }
    }

    /// A fresh unique `name:latest`, removed at the end.
    fn fresh(&mut self, tag: &str) -> String {
        let name = format!("{}:latest", unique_name(tag));
        self.names.push(name.clone());
        name
    }
}

impl Drop for Images {
    fn drop(&mut self) {
        for n in self.names.iter().rev() {
            remove_image(&self.socket, n);
        }
    }
}

/// A temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(unique_name(tag));
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        Self(p)
    }

    fn write(&self, rel: &str, data: &[u8]) -> PathBuf {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(&p, data).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        p
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stream_text(progress: &[ImageProgress]) -> String {
    progress
        .iter()
        .filter_map(|p| p.stream.as_deref())
        .collect::<String>()
}

/// Build `dockerfile` plus `files` as a directory context, tagged `tag`.
fn build_dir(
    engine: &Engine,
    tag: &str,
    dockerfile: &str,
    files: &[(&str, &[u8])],
    args: &[(&str, &str)],
) -> (
    pocketdock_blocking::Result<pocketdock_blocking::BuiltImage>,
    Vec<ImageProgress>,
) {
    let dir = TempDir::new("ctx");
    dir.write("Dockerfile", dockerfile.as_bytes());
    for (rel, data) in files {
        dir.write(rel, data);
    }
    let mut opts = BuildOptions::tagged(tag);
    for (k, v) in args {
        opts.build_args.insert((*k).to_string(), (*v).to_string());
    }
    let mut progress = Vec::new();
    let r = engine.build_image(&BuildContext::dir(&dir.0), &opts, |p| {
        progress.push(p.clone());
    });
    (r, progress)
}

/// A tiny image FROM busybox holding `/unique.txt` with `content`.
fn tiny_image(engine: &Engine, tag: &str, content: &str) {
    let (r, progress) = build_dir(
        engine,
        tag,
        "ARG BASE\nFROM ${BASE}\nCOPY unique.txt /unique.txt\n",
        &[("unique.txt", content.as_bytes())],
        &[("BASE", BUSYBOX_IMAGE)],
    );
    if let Err(e) = r {
        panic!("build {tag}: {e}\n{}", stream_text(&progress));
    }
}

fn run_in(engine: &Engine, image: &str, command: &str) -> String {
    let c = engine
        .create_container(
            ContainerSpec::new()
                .image(image)
                .name(unique_name("img-run")),
        )
        .unwrap_or_else(|e| panic!("create from {image}: {e}"));
    let r = c
        .run(command)
        .unwrap_or_else(|e| panic!("run in {image}: {e}"));
    assert_eq!(r.exit_code, 0, "{command} in {image}: {}", r.stderr_str());
    r.stdout_str().to_string()
}

fn build_from_dir_with_run_and_copy(socket: &str) {
    let engine = Engine::new(socket);
    let mut images = Images::new(socket);
    let tag = images.fresh("img-build");
    let marker = unique_name("content");
    let (r, progress) = build_dir(
        &engine,
        &tag,
        "ARG BASE=nonexistent/never-pulled\nFROM ${BASE}\n\
         COPY data/hello.txt /opt/hello.txt\n\
         RUN cat /opt/hello.txt > /opt/copied && echo run-step-output-$(cat /opt/hello.txt)\n",
        &[("data/hello.txt", marker.as_bytes())],
        &[("BASE", BUSYBOX_IMAGE)],
    );
    let text = stream_text(&progress);
    let built = r.unwrap_or_else(|e| panic!("build: {e}\n{text}"));
    assert!(!built.id.is_empty());
    assert!(
        built.tags.iter().any(|t| t.ends_with(&tag)),
        "{:?} vs {tag}",
        built.tags
    );
    // Progress arrived as lines: the steps and the RUN's own output.
    assert!(progress.len() >= 3, "{progress:?}");
    assert!(text.to_ascii_lowercase().contains("step"), "{text}");
    assert!(
        text.contains(&format!("run-step-output-{marker}")),
        "{text}"
    );
    assert_eq!(run_in(&engine, &tag, "cat /opt/copied"), marker);
    let inspect = engine.inspect_image(&tag).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(inspect.id, built.id);
}

fn failing_run_fails_the_build_with_the_step_message(socket: &str) {
    let engine = Engine::new(socket);
    let mut images = Images::new(socket);
    let tag = images.fresh("img-fail");
    let (r, progress) = build_dir(
        &engine,
        &tag,
        "FROM pocketdock/busybox\nRUN echo step-stderr-marker >&2; exit 3\n",
        &[],
        &[],
    );
    match r {
        Err(Error::StreamFailed { op, message }) => {
            assert_eq!(op, "build");
            // Docker: "The command '/bin/sh -c echo ...; exit 3' returned a non-zero code: 3";
            // Podman: "building at STEP \"RUN echo ...; exit 3\": ... exit status 3".
            assert!(message.contains("step-stderr-marker"), "{message}");
            assert!(message.contains('3'), "{message}");
        }
        other => panic!("expected StreamFailed, got {other:?}"),
    }
    assert!(stream_text(&progress).contains("step-stderr-marker"));
    assert!(matches!(
        engine.inspect_image(&tag),
        Err(Error::ImageNotFound(_))
    ));
    // A missing base (nothing is pulled) fails too, with the engine's message.
    let (r, _) = build_dir(
        &engine,
        &tag,
        "FROM pocketdock/no-such-base-image\n",
        &[],
        &[],
    );
    assert!(
        matches!(r, Err(Error::StreamFailed { .. } | Error::Engine { .. })),
        "{r:?}"
    );
}

/// A local base that already has every tool of every profile (stubs), so each profile's
/// Dockerfile builds offline through its "install only what the base lacks" path. Like the
/// node and oven/bun images, it gives uid 1000 to a user of its own (`node`), which every
/// profile must hand over to `sandbox`.
const STUB_BASE: &str = r#"FROM pocketdock/debian-base:bookworm
RUN set -eu; \
    useradd --uid 1000 --user-group --create-home --home-dir /home/node node; \
    for c in node npm bun curl wget git jq vi tree htop less gcc g++ make cmake ninja gdb \
             valgrind strace unzip arm-none-eabi-gcc gdb-multiarch arduino-cli pio meson; do \
        command -v "$c" >/dev/null 2>&1 && continue; \
        printf '#!/bin/sh\necho "%s stub $*"\n' "$c" > "/usr/local/bin/$c"; \
        chmod 755 "/usr/local/bin/$c"; \
    done; \
    site=$(python3 -c 'import site; print(site.getsitepackages()[0])'); \
    for m in IPython requests httpx bs4 lxml pandas numpy yaml toml PIL; do \
        mkdir -p "$site/$m"; : > "$site/$m/__init__.py"; \
    done; \
    python3 -c 'import IPython, requests, httpx, bs4, lxml, pandas, numpy, yaml, toml, PIL'
"#;

fn every_profile_builds_offline_and_stops_on_sigterm(socket: &str) {
    let engine = Engine::new(socket);
    let mut images = Images::new(socket);
    let base = images.fresh("img-stubbase");
    let (r, progress) = build_dir(&engine, &base, STUB_BASE, &[], &[]);
    r.unwrap_or_else(|e| panic!("stub base: {e}\n{}", stream_text(&progress)));
    for profile in pocketdock_proto::profile::list_profiles() {
        let tag = images.fresh(&format!("img-{}", profile.name));
        let mut opts = BuildOptions::tagged(&tag);
        opts.build_args.insert("BASE".into(), base.clone());
        let mut progress = Vec::new();
        let built = engine.build_image(&BuildContext::profile(profile.name), &opts, |p| {
            progress.push(p.clone());
        });
        let text = stream_text(&progress);
        built.unwrap_or_else(|e| panic!("{}: {e}\n{text}", profile.name));
        assert!(
            text.contains("base already has"),
            "{}: {text}",
            profile.name
        );
        assert!(
            text.contains("uid 1000 belongs to node"),
            "{}: {text}",
            profile.name
        );

        // Run the image's own PID 1 command (pocketdock's default would replace it).
        let cmd = engine
            .inspect_image(&tag)
            .unwrap_or_else(|e| panic!("{e}"))
            .config
            .cmd;
        assert_eq!(
            cmd.first().map(String::as_str),
            Some("sh"),
            "{}",
            profile.name
        );
        let c = engine
            .create_container(
                ContainerSpec::new()
                    .image(&tag)
                    .name(unique_name("img-prof"))
                    .cmd(cmd),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", profile.name));
        let r = c
            .run("id -u; id -un; id -g; pwd; echo $HOME; test ! -e /tmp/pocketdock-setup || echo left")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.stdout_str(),
            "1000\nsandbox\n1000\n/home/sandbox\n/home/sandbox\n",
            "{}: {}",
            profile.name,
            r.stderr_str()
        );
        if profile.name == "minimal-python" {
            let r = c
                .run("test -f demo/index.html && echo demo")
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.stdout_str(), "demo\n");
        }
        // PID 1 exits at once, with status 0, on SIGTERM.
        let id = c.id().to_string();
        let key = id.clone();
        pocketdock_tests::raw::drive(
            socket,
            CallOp::new(
                "kill",
                &containers::kill(&id, "TERM"),
                move |r: Response| {
                    pocketdock_proto::api::check(
                        &r,
                        "kill",
                        pocketdock_proto::api::Subject::Container(&key),
                    )
                },
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        let state = loop {
            let s = engine
                .inspect_container(&id)
                .unwrap_or_else(|e| panic!("{e}"))
                .state;
            if !s.running || Instant::now() > deadline {
                break s;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(
            !state.running,
            "{}: still running after SIGTERM",
            profile.name
        );
        assert_eq!(state.exit_code, 0, "{}", profile.name);
    }
}

fn loaded(names: &[String], image: &str) -> bool {
    names
        .iter()
        .any(|n| n == image || n.ends_with(&format!("/{image}")))
}

fn export_two_images_to_tar_gz_then_import(socket: &str) {
    let engine = Engine::new(socket);
    let mut images = Images::new(socket);
    let a = images.fresh("img-exa");
    let b = images.fresh("img-exb");
    tiny_image(&engine, &a, "from-a");
    tiny_image(&engine, &b, "from-b");
    let dir = TempDir::new("export");
    let dest = dir.path("images.tar.gz");
    let exported = engine
        .export_images(&[a.as_str(), b.as_str(), a.as_str()], &dest, true)
        .unwrap_or_else(|e| panic!("export: {e}"));
    assert!(exported.gzip);
    assert!(
        loaded(&exported.images, &a) && loaded(&exported.images, &b),
        "{exported:?}"
    );
    let bytes = std::fs::read(&dest).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bytes.get(..2), Some(&[0x1f, 0x8b][..]));
    assert_eq!(bytes.len() as u64, exported.file_bytes);
    assert!(exported.tar_bytes > exported.file_bytes);
    // Nothing but the archive in the folder (no leftover temporary file).
    assert_eq!(std::fs::read_dir(&dir.0).map(Iterator::count).ok(), Some(1));

    engine
        .remove_image(&a, true)
        .unwrap_or_else(|e| panic!("{e}"));
    engine
        .remove_image(&b, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        engine.inspect_image(&a),
        Err(Error::ImageNotFound(_))
    ));

    let names = engine
        .import_images(&dest)
        .unwrap_or_else(|e| panic!("import: {e}"));
    assert!(loaded(&names, &a) && loaded(&names, &b), "{names:?}");
    assert_eq!(run_in(&engine, &a, "cat /unique.txt"), "from-a");
    assert_eq!(run_in(&engine, &b, "cat /unique.txt"), "from-b");
}

fn gzip_is_detected_by_content_not_by_name(socket: &str) {
    let engine = Engine::new(socket);
    let mut images = Images::new(socket);
    let a = images.fresh("img-gz");
    tiny_image(&engine, &a, "gz-content");
    let dir = TempDir::new("gz");
    let gz_named_bin = dir.path("archive.bin");
    let plain_named_gz = dir.path("plain.tar.gz");
    engine
        .export_images(&[a.as_str()], &gz_named_bin, true)
        .unwrap_or_else(|e| panic!("{e}"));
    engine
        .export_images(&[a.as_str()], &plain_named_gz, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let head = std::fs::read(&plain_named_gz).unwrap_or_default();
    assert_ne!(head.get(..2), Some(&[0x1f, 0x8b][..]));
    for archive in [&gz_named_bin, &plain_named_gz] {
        engine
            .remove_image(&a, true)
            .unwrap_or_else(|e| panic!("{e}"));
        let names = engine
            .import_images(archive)
            .unwrap_or_else(|e| panic!("{}: {e}", archive.display()));
        assert!(loaded(&names, &a), "{names:?}");
        assert_eq!(run_in(&engine, &a, "cat /unique.txt"), "gz-content");
    }
}

fn cut(src: &Path, dest: &Path, len: usize) {
    let data = std::fs::read(src).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dest, data.get(..len).unwrap_or(&data)).unwrap_or_else(|e| panic!("{e}"));
}

fn truncated_or_corrupt_archives_are_refused_and_change_nothing(socket: &str) {
    let engine = Engine::new(socket);
    let mut images = Images::new(socket);
    let a = images.fresh("img-trunc");
    tiny_image(&engine, &a, "trunc-content");
    let dir = TempDir::new("trunc");
    let tar = dir.path("a.tar");
    let gz = dir.path("a.tar.gz");
    engine
        .export_images(&[a.as_str()], &tar, false)
        .unwrap_or_else(|e| panic!("{e}"));
    engine
        .export_images(&[a.as_str()], &gz, true)
        .unwrap_or_else(|e| panic!("{e}"));
    engine
        .remove_image(&a, true)
        .unwrap_or_else(|e| panic!("{e}"));

    let tar_len = std::fs::metadata(&tar).map_or(0, |m| m.len() as usize);
    let gz_len = std::fs::metadata(&gz).map_or(0, |m| m.len() as usize);
    let mut bad: Vec<(PathBuf, &str)> = Vec::new();
    for (src, len, name) in [
        (&tar, tar_len / 2, "half.tar"),
        // The last three entries are manifest.json, repositories and the end marker, 1 KiB each.
        (&tar, tar_len - 3072, "no-manifest.tar"),
        (&tar, 700, "in-header.tar"),
        (&gz, gz_len / 2, "half.tar.gz"),
        (&gz, gz_len - 4, "no-trailer.tar.gz"),
    ] {
        let p = dir.path(name);
        cut(src, &p, len);
        bad.push((p, name));
    }
    let mut flipped = std::fs::read(&gz).unwrap_or_default();
    if let Some(b) = flipped.get_mut(gz_len / 2) {
        *b ^= 0x5a;
    }
    bad.push((dir.write("flipped.tar.gz", &flipped), "flipped.tar.gz"));
    bad.push((
        dir.write("text.txt", b"not an archive at all\n"),
        "text.txt",
    ));
    bad.push((dir.write("empty.tar", b""), "empty.tar"));
    bad.push((
        dir.write("a.tar.xz", &[0xfd, b'7', b'z', b'X', b'Z', 0, 0, 0]),
        "xz",
    ));

    for (path, name) in &bad {
        match engine.import_images(path) {
            Err(Error::Archive(msg)) => assert!(!msg.is_empty(), "{name}"),
            other => panic!("{name}: expected an archive error, got {other:?}"),
        }
        assert!(
            matches!(engine.inspect_image(&a), Err(Error::ImageNotFound(_))),
            "{name}: the engine loaded something"
        );
    }
    match engine.import_images(dir.path("missing.tar")) {
        Err(Error::HostPath { .. }) => {}
        other => panic!("{other:?}"),
    }
    // The intact archive still loads.
    let names = engine.import_images(&tar).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded(&names, &a), "{names:?}");
}

fn export_of_a_missing_image_fails_and_leaves_no_file(socket: &str) {
    let engine = Engine::new(socket);
    let dir = TempDir::new("exmiss");
    let dest = dir.path("x.tar");
    let missing = format!("{}:latest", unique_name("img-missing"));
    match engine.export_images(&[BUSYBOX_IMAGE, missing.as_str()], &dest, false) {
        Err(Error::ImageNotFound(n)) => assert_eq!(n, missing),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_dir(&dir.0).map(Iterator::count).ok(), Some(0));
    assert!(matches!(
        engine.export_images::<&str>(&[], &dest, false),
        Err(Error::InvalidInput { .. })
    ));
    // The base image exists in both engines: exporting it to a missing folder is a host error.
    assert!(matches!(
        engine.export_images(&[DEBIAN_BASE], dir.path("no/such/dir/x.tar"), false),
        Err(Error::HostPath { .. })
    ));
}

per_engine!(
    build_from_dir_with_run_and_copy,
    failing_run_fails_the_build_with_the_step_message,
    every_profile_builds_offline_and_stops_on_sigterm,
    export_two_images_to_tar_gz_then_import,
    gzip_is_detected_by_content_not_by_name,
    truncated_or_corrupt_archives_are_refused_and_change_nothing,
    export_of_a_missing_image_fails_and_leaves_no_file,
);
