//! Hostile archives on pull: whatever a container holds (links out of the tree, absolute and
//! climbing link targets, hard links, device nodes, FIFOs, setuid files, a file larger than the
//! cap) and whatever names the engine lets through, a pull writes nothing outside its
//! destination, creates no device, no setuid file and no link that leads out.
//!
//! Each shape is put into the container as crafted tar bytes with the engine's own archive
//! endpoint (a raw `PUT`, as root, as a hostile image or program could leave them), then pulled
//! back by the adapter from the engine.
#![expect(
    clippy::unwrap_used,
    reason = "test bodies: a failed unwrap is the test failure"
)]

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use pocketdock_proto::files::TransferOptions;
use pocketdock_proto::spec::ContainerSpec;
use pocketdock_proto::tar::{
    header_for_file, header_for_hardlink, header_for_symlink, padding, EntryMeta, END_OF_ARCHIVE,
};
use pocketdock_tests::conformance::Sandbox;
use pocketdock_tests::faults::{fault_name, raw, within, Names};
use pocketdock_tests::BUSYBOX_IMAGE;

/// One entry of a crafted archive.
enum Entry<'a> {
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    /// Type flag `3` (character), `4` (block) or `6` (FIFO), with major and minor numbers.
    Special(&'a str, u8, u32, u32),
}

fn meta(mode: u32) -> EntryMeta {
    EntryMeta {
        mode,
        ..EntryMeta::default()
    }
}

/// Change a header's type flag and device numbers, and its checksum with them.
fn retype(mut h: Vec<u8>, flag: u8, major: u32, minor: u32) -> Vec<u8> {
    h[156] = flag;
    h[329..337].copy_from_slice(format!("{major:07o}\0").as_bytes());
    h[337..345].copy_from_slice(format!("{minor:07o}\0").as_bytes());
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h[..512].iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn archive(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        match e {
            Entry::File(p, data, mode) => {
                out.extend(header_for_file(p, data.len() as u64, &meta(*mode)).unwrap());
                out.extend_from_slice(data);
                out.extend_from_slice(padding(data.len() as u64));
            }
            Entry::Symlink(p, t) => out.extend(header_for_symlink(p, t, &meta(0o777)).unwrap()),
            Entry::Hardlink(p, t) => out.extend(header_for_hardlink(p, t, &meta(0o644)).unwrap()),
            Entry::Special(p, flag, major, minor) => {
                let h = header_for_file(p, 0, &meta(0o666)).unwrap();
                // A pax header may come first: retype the last header only.
                let at = h.len() - 512;
                let (pax, last) = h.split_at(at);
                out.extend_from_slice(pax);
                out.extend(retype(last.to_vec(), *flag, *major, *minor));
            }
        }
    }
    out.extend_from_slice(&END_OF_ARCHIVE);
    out
}

/// The host side of one shape: a root with the destination and a victim beside it.
struct Host {
    root: PathBuf,
}

impl Host {
    fn new() -> Self {
        let root = std::env::temp_dir().join(fault_name("hostile"));
        fs::create_dir_all(root.join("dest")).unwrap();
        fs::create_dir_all(root.join("outside")).unwrap();
        fs::write(root.join("outside/victim"), b"original").unwrap();
        Self { root }
    }

    fn victim(&self) -> PathBuf {
        self.root.join("outside/victim")
    }

    /// Nothing outside `dest` changed; nothing inside it is a device, a FIFO, a setuid or
    /// setgid file, or a link that leads out of it.
    fn check(&self, shape: &str) {
        assert_eq!(
            fs::read(self.victim()).unwrap(),
            b"original",
            "{shape}: the victim changed"
        );
        let mut outside: Vec<_> = walk(&self.root.join("outside"));
        outside.sort();
        assert_eq!(outside, vec![self.victim()], "{shape}: written beside dest");
        let top: Vec<_> = fs::read_dir(&self.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(top.len(), 2, "{shape}: written beside dest: {top:?}");
        let dest = self.root.join("dest");
        for p in walk(&dest) {
            let m = fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            assert!(
                !(ft.is_block_device() || ft.is_char_device() || ft.is_fifo() || ft.is_socket()),
                "{shape}: {} is a special file",
                p.display()
            );
            assert_eq!(
                m.mode() & 0o6000,
                0,
                "{shape}: {} is setuid or setgid",
                p.display()
            );
            if ft.is_symlink() {
                let target = fs::read_link(&p).unwrap();
                assert!(
                    stays_inside(&dest, p.parent().unwrap(), &target),
                    "{shape}: {} -> {} leads out of the destination",
                    p.display(),
                    target.display()
                );
            }
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Every path under `dir` (links not followed).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        let is_dir = fs::symlink_metadata(&p).unwrap().is_dir();
        out.push(p.clone());
        if is_dir {
            out.extend(walk(&p));
        }
    }
    out
}

/// A link at `dir` with `target` resolves (lexically) under `root`.
fn stays_inside(root: &Path, dir: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut at = dir.to_path_buf();
    for c in target.components() {
        match c {
            Component::ParentDir if !(at.pop() && at.starts_with(root)) => return false,
            Component::Normal(n) => at.push(n),
            _ => {}
        }
    }
    at.starts_with(root)
}

/// The hostile shapes: a directory each, its entries pointing at `victim` on the host.
fn shapes<'a>(victim: &'a str, climb: &'a str) -> Vec<(&'static str, Vec<Entry<'a>>)> {
    vec![
        (
            "abs-symlink",
            vec![Entry::Symlink("abs-symlink/link", victim)],
        ),
        (
            "climbing-symlink",
            vec![Entry::Symlink("climbing-symlink/link", climb)],
        ),
        (
            "dotdot-symlinks",
            vec![
                Entry::Symlink("dotdot-symlinks/up", ".."),
                Entry::Symlink("dotdot-symlinks/up2", "up/../.."),
            ],
        ),
        (
            "symlink-then-file",
            vec![
                Entry::Symlink("symlink-then-file/link", "/tmp"),
                Entry::File("symlink-then-file/link/x", b"through", 0o644),
            ],
        ),
        (
            "hardlinks",
            vec![
                Entry::File("hardlinks/file", b"data", 0o644),
                Entry::Hardlink("hardlinks/same", "hardlinks/file"),
                Entry::Hardlink("hardlinks/passwd", "etc/passwd"),
            ],
        ),
        (
            "traversal",
            vec![
                Entry::File("traversal/ok", b"ok", 0o644),
                Entry::File("traversal/../../../../escape-traversal", b"x", 0o644),
            ],
        ),
        (
            "absolute-name",
            vec![
                Entry::File("absolute-name/ok", b"ok", 0o644),
                Entry::File("/absolute-name/abs", b"x", 0o644),
            ],
        ),
        (
            "devices",
            vec![
                Entry::Special("devices/null", b'3', 1, 3),
                Entry::Special("devices/loop", b'4', 7, 0),
                Entry::Special("devices/fifo", b'6', 0, 0),
                Entry::File("devices/plain", b"plain", 0o644),
            ],
        ),
        (
            "setuid",
            vec![Entry::File("setuid/suid", b"#!/bin/sh\n", 0o6755)],
        ),
    ]
}

async fn hostile_pulls<S: Sandbox>(socket: String) {
    let names = Names::new(&socket);
    let s = S::create(
        &socket,
        ContainerSpec::new()
            .image(BUSYBOX_IMAGE)
            .name(names.name("hostile")),
    )
    .await
    .unwrap();
    let r = s.run("mkdir -p /tmp/h && echo ok").await.unwrap();
    assert_eq!(r.stdout_str(), "ok\n");
    let host = Host::new();
    let victim = host.victim();
    let victim = victim.to_str().unwrap();
    let climb = format!("../../../../../../../../../..{victim}");
    let shapes = shapes(victim, &climb);
    for (shape, entries) in &shapes {
        let put = raw(
            &socket,
            "PUT",
            &format!("/containers/{}/archive?path=/tmp/h", s.id()),
            &archive(entries),
        )
        .unwrap();
        let dest = host.root.join("dest").join(shape);
        let pulled = s
            .pull(&format!("/tmp/h/{shape}"), &dest, &TransferOptions::new())
            .await;
        eprintln!(
            "hostile {shape}: engine PUT {} ({}), pull {:?}",
            put.0,
            String::from_utf8_lossy(&put.1).trim(),
            pulled.as_ref().map(|()| walk(&dest).len())
        );
        host.check(shape);
        pocketdock_tests::report(format_args!(
            "hostile-archive {} {shape} outside=0",
            pocketdock_tests::engine_of(&socket)
        ));
    }
    // Larger than the cap: refused from the header, before any data; nothing is left.
    let r = s
        .run("mkdir /tmp/h/huge && truncate -s 3G /tmp/h/huge/big && echo ok")
        .await
        .unwrap();
    assert_eq!(r.stdout_str(), "ok\n");
    let dest = host.root.join("dest/huge");
    let pulled = s
        .pull(
            "/tmp/h/huge",
            &dest,
            &TransferOptions::new().max_bytes(1 << 30),
        )
        .await;
    eprintln!("hostile huge: pull {pulled:?}");
    assert!(pulled.is_err(), "a 3 GiB file under a 1 GiB cap");
    assert!(!dest.exists(), "a refused pull left {}", dest.display());
    host.check("huge");
    pocketdock_tests::report(format_args!(
        "hostile-archive {} huge outside=0",
        pocketdock_tests::engine_of(&socket)
    ));
}

fn run<F: FnOnce(String) + Send + 'static>(engine: &'static str, f: F) {
    let socket = pocketdock_tests::socket(engine);
    within(Duration::from_secs(300), engine, move || f(socket));
}

mod blocking {
    use pocketdock_tests::conformance::runtime;
    type C = pocketdock_blocking::Container;
    mod podman {
        #[test]
        fn hostile_pulls() {
            crate::run("podman", |s| {
                super::runtime::blocking(crate::hostile_pulls::<super::C>(s));
            });
        }
    }
    mod docker {
        #[test]
        fn hostile_pulls() {
            crate::run("docker", |s| {
                super::runtime::blocking(crate::hostile_pulls::<super::C>(s));
            });
        }
    }
}

mod tokio {
    use pocketdock_tests::conformance::runtime;
    type C = pocketdock_tokio::Container;
    mod podman {
        #[test]
        fn hostile_pulls() {
            crate::run("podman", |s| {
                super::runtime::tokio(crate::hostile_pulls::<super::C>(s));
            });
        }
    }
    mod docker {
        #[test]
        fn hostile_pulls() {
            crate::run("docker", |s| {
                super::runtime::tokio(crate::hostile_pulls::<super::C>(s));
            });
        }
    }
}
