//! Files in and out of containers on the blocking adapter (`write_file`, `read_file`,
//! `list_files`, `push`, `pull`), against real Podman and Docker.
//!
//! Ports the reference scenarios 6.J (115-121) and 6.K (122-126; the pure parts are unit tests
//! in `pocketdock_proto::files`), with the expectations fixed where inventory 7.1 #11/#12 show
//! the reference was wrong: pushed files keep their modes and belong to the sandbox user,
//! `push` into an existing directory copies into it, `pull` of a directory to a new path is not
//! nested, `read_file` of a directory is an error, and paths never reach a shell.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use pocketdock_blocking::{Container, ContainerSpec, Engine, Error, Lang, RunOptions};
use pocketdock_proto::files::TransferOptions;
use pocketdock_proto::ProtocolError;
use pocketdock_tests::{per_engine, unique_name, ProgressLog, TEST_IMAGE};

fn sandbox(socket: &str, tag: &str) -> Container {
    Engine::new(socket)
        .create_container(
            ContainerSpec::new()
                .image(TEST_IMAGE)
                .name(unique_name(tag)),
        )
        .unwrap_or_else(|e| panic!("create: {e}"))
}

/// Run a shell command in the container and return its stdout (panics unless it exits 0).
fn sh(c: &Container, script: &str) -> String {
    let r = c.run(script).unwrap_or_else(|e| panic!("{script}: {e}"));
    assert_eq!(r.exit_code, 0, "{script}: {}", r.stderr_str());
    r.stdout_str().into_owned()
}

/// A unique host directory, removed (with everything in it) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(unique_name(tag));
        fs::create_dir(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        Self(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn join(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        fn writable(p: &Path) {
            if fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()) {
                let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o755));
                if let Ok(rd) = fs::read_dir(p) {
                    for e in rd.flatten() {
                        writable(&e.path());
                    }
                }
            }
        }
        writable(&self.0);
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Deterministic pseudo-random bytes.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// CRC-32 (IEEE), the same as Python's `zlib.crc32`.
fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *slot = c;
    }
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

fn read(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn write(p: &Path, data: &[u8], mode: u32) {
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    fs::write(p, data).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap_or_else(|e| panic!("{e}"));
}

fn mode_of(p: &Path) -> u32 {
    fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Every path under `root` (relative), with what it is: `d MODE`, `f MODE CRC`, `l TARGET`.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .collect();
        entries.sort_by_key(fs::DirEntry::file_name);
        for e in entries {
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            let m = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{e}"));
            let mode = m.permissions().mode() & 0o7777;
            if m.file_type().is_symlink() {
                let t = fs::read_link(&p).unwrap_or_else(|e| panic!("{e}"));
                out.insert(rel, format!("l {}", t.display()));
            } else if m.is_dir() {
                out.insert(rel, format!("d {mode:o}"));
                walk(root, &p, out);
            } else {
                out.insert(rel, format!("f {mode:o} {:08x}", crc32(&read(&p))));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// No file named `pwned0`..`pwned5` anywhere in the container: no path ran a command.
fn assert_no_pwned(c: &Container) {
    let r = c
        .run(
            "find / -xdev \\( -name pwned0 -o -name pwned1 -o -name pwned2 -o -name pwned3 \
             -o -name pwned4 -o -name pwned5 \\) 2>/dev/null",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.stdout_str(), "", "a path ran a command");
}

// ---------------------------------------------------------------- write_file / read_file

/// 6.J 115, 116, 121 and 6.K 122: round trips, parents, overwrite, ownership and modes.
fn write_and_read_round_trip(socket: &str) {
    let c = sandbox(socket, "wr");
    c.write_file("/tmp/hello.txt", "hello world")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.read_file("/tmp/hello.txt")
            .unwrap_or_else(|e| panic!("{e}")),
        b"hello world"
    );
    let all: Vec<u8> = (0..=255u8).collect();
    c.write_file("/tmp/bytes.bin", &all)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.read_file("/tmp/bytes.bin").ok(), Some(all));
    let text = "Unicode: éàü 你好 🚀";
    c.write_file("/tmp/u.txt", text)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.read_file("/tmp/u.txt").ok(),
        Some(text.as_bytes().to_vec())
    );
    c.write_file("/tmp/empty", b"")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.read_file("/tmp/empty").ok(), Some(Vec::new()));

    // Parents created, as the sandbox user; the file is the sandbox user's, 0644.
    c.write_file("/tmp/a/b/c/deep.txt", "nested")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.read_file("/tmp/a/b/c/deep.txt").ok(),
        Some(b"nested".to_vec())
    );
    assert_eq!(
        sh(
            &c,
            "stat -c '%u:%g %a' /tmp/a/b/c/deep.txt /tmp/a/b/c /tmp/a"
        ),
        "1000:1000 644\n1000:1000 755\n1000:1000 755\n"
    );

    // Overwrite: the last write wins; an existing file keeps its mode.
    c.write_file("/tmp/over.sh", "first")
        .unwrap_or_else(|e| panic!("{e}"));
    sh(&c, "chmod 750 /tmp/over.sh");
    c.write_file("/tmp/over.sh", "second")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.read_file("/tmp/over.sh").ok(), Some(b"second".to_vec()));
    assert_eq!(sh(&c, "stat -c '%u %a' /tmp/over.sh"), "1000 750\n");

    // 1 MiB of random bytes, byte-exact, checked inside the container too.
    let big = random_bytes(1 << 20, 11);
    c.write_file("/home/sandbox/big.bin", &big)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sh(
            &c,
            "python3 -c \"import zlib;print(zlib.crc32(open('/home/sandbox/big.bin','rb').read()))\""
        )
        .trim(),
        crc32(&big).to_string()
    );
    assert!(c.read_file("/home/sandbox/big.bin").ok() == Some(big));

    // A symlink is followed by read_file.
    sh(
        &c,
        "ln -s hello.txt /tmp/link && ln -s /tmp/link /tmp/link2",
    );
    assert_eq!(
        c.read_file("/tmp/link2").ok(),
        Some(b"hello world".to_vec())
    );
}

/// 6.J 117, 7.1 #11: missing paths, directories and bad arguments.
fn read_and_write_errors(socket: &str) {
    let c = sandbox(socket, "rwerr");
    assert!(matches!(
        c.read_file("/tmp/no-such-file.txt"),
        Err(Error::PathNotFound(p)) if p == "/tmp/no-such-file.txt"
    ));
    assert!(matches!(
        c.read_file("/no/such/dir/file"),
        Err(Error::PathNotFound(_))
    ));
    // A directory is an error, not an arbitrary file inside it.
    sh(&c, "mkdir -p /tmp/d && echo x > /tmp/d/f");
    assert!(matches!(
        c.read_file("/tmp/d"),
        Err(Error::InvalidInput { field: "path", .. })
    ));
    assert!(matches!(
        c.write_file("/tmp/d", "x"),
        Err(Error::InvalidInput { field: "path", .. })
    ));
    assert_eq!(sh(&c, "cat /tmp/d/f"), "x\n");
    for bad in ["relative.txt", "/", "/tmp/x/", ""] {
        assert!(
            matches!(c.write_file(bad, "x"), Err(Error::InvalidInput { .. })),
            "{bad:?}"
        );
    }
    assert!(matches!(
        c.read_file("rel"),
        Err(Error::InvalidInput { .. })
    ));
    // A parent that cannot be created (a file is in the way): the helper's message.
    assert!(matches!(
        c.write_file("/tmp/d/f/sub/y.txt", "x"),
        Err(Error::InvalidInput { field: "path", reason }) if reason.contains("Not a directory")
    ));
}

/// The read cap: a file over it is refused from its header, before any data is held.
fn read_cap_enforced(socket: &str) {
    let c = sandbox(socket, "rcap");
    sh(&c, "head -c 5000 /dev/zero > /tmp/z");
    assert!(matches!(
        c.read_file_with("/tmp/z", &TransferOptions::new().max_bytes(4999)),
        Err(Error::Protocol(ProtocolError::BodyTooLarge(4999)))
    ));
    assert_eq!(
        c.read_file_with("/tmp/z", &TransferOptions::new().max_bytes(5000))
            .map(|v| v.len())
            .ok(),
        Some(5000)
    );
    // The default cap is 64 MiB.
    sh(&c, "truncate -s 67108865 /tmp/huge");
    assert!(matches!(
        c.read_file("/tmp/huge"),
        Err(Error::Protocol(ProtocolError::BodyTooLarge(_)))
    ));
}

// ---------------------------------------------------------------- list_files

/// 6.J 118 and 6.K 124, with 7.1 #12's quoting fixed.
fn list_files_cases(socket: &str) {
    let c = sandbox(socket, "ls");
    c.write_file("/tmp/listed.txt", "x")
        .unwrap_or_else(|e| panic!("{e}"));
    let names = c.list_files("/tmp").unwrap_or_else(|e| panic!("{e}"));
    assert!(names.contains(&"listed.txt".to_string()));
    assert!(!names.iter().any(|n| n == "." || n == ".." || n.is_empty()));
    sh(
        &c,
        "mkdir -p /tmp/l/sub && touch /tmp/l/.hidden '/tmp/l/a b' \"/tmp/l/new
line\"",
    );
    assert_eq!(
        c.list_files("/tmp/l").ok(),
        Some(vec![
            ".hidden".to_string(),
            "a b".to_string(),
            "new\nline".to_string(),
            "sub".to_string()
        ])
    );
    assert_eq!(c.list_files("/tmp/l/sub").ok(), Some(vec![]));
    assert_eq!(c.list_files("/tmp/l/").ok().map(|v| v.len()), Some(4));
    // A symlink to a directory lists the directory.
    sh(&c, "ln -s /tmp/l /tmp/ll");
    assert_eq!(c.list_files("/tmp/ll").ok().map(|v| v.len()), Some(4));
    assert!(matches!(
        c.list_files("/no/such/dir"),
        Err(Error::PathNotFound(p)) if p == "/no/such/dir"
    ));
    assert!(matches!(
        c.list_files("/tmp/listed.txt"),
        Err(Error::InvalidInput { .. })
    ));
    assert!(!c
        .list_files("/home/sandbox")
        .unwrap_or_else(|e| panic!("{e}"))
        .is_empty());
}

// ---------------------------------------------------------------- hostile names

/// 7.1 #12: names with spaces, quotes, `$()`, backticks and `;` are data everywhere; so are
/// glob characters, which Podman's archive endpoint would otherwise match as patterns.
fn hostile_names_run_nothing(socket: &str) {
    let c = sandbox(socket, "inj");
    let names = [
        "a b.txt",
        "q'uo\"te.txt",
        "$(touch pwned1).txt",
        "`touch pwned2`",
        "x;touch pwned3;",
        "-rf",
        "*",
        "?",
        "[id].tsx",
        "back\\slash",
    ];
    let dir = "/tmp/inj $(touch /tmp/pwned0) 'q'";
    for n in names {
        c.write_file(&format!("{dir}/{n}"), n)
            .unwrap_or_else(|e| panic!("{n}: {e}"));
    }
    let mut want: Vec<String> = names.iter().map(|s| (*s).to_string()).collect();
    want.sort();
    assert_eq!(c.list_files(dir).ok(), Some(want.clone()));
    for n in names {
        assert_eq!(
            c.read_file(&format!("{dir}/{n}")).ok(),
            Some(n.as_bytes().to_vec())
        );
    }
    // push and pull of a host tree with the same names.
    let t = TempDir::new("inj");
    let src = t.join("src $(touch /tmp/pwned4)");
    for n in names {
        write(&src.join(n), n.as_bytes(), 0o644);
    }
    c.push(&src, &format!("{dir}/pushed $(touch /tmp/pwned5)"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.list_files(&format!("{dir}/pushed $(touch /tmp/pwned5)"))
            .ok(),
        Some(want)
    );
    c.pull(dir, t.join("back"))
        .unwrap_or_else(|e| panic!("{e}"));
    for n in names {
        assert_eq!(read(&t.join("back").join(n)), n.as_bytes());
    }
    // Single files and a directory whose names are glob patterns on Podman.
    c.pull(&format!("{dir}/*"), t.join("star"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&t.join("star")), b"*");
    c.pull(&format!("{dir}/?"), t.join("q"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&t.join("q")), b"?");
    c.push(&src, "/tmp/glob*[1]?")
        .unwrap_or_else(|e| panic!("{e}"));
    c.pull("/tmp/glob*[1]?/.", t.join("globdir"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&t.join("globdir/[id].tsx")), b"[id].tsx");
    c.pull("/tmp/glob*[1]?", t.join("globdir2"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&t.join("globdir2/*")), b"*");
    assert!(matches!(
        c.read_file("/tmp/nothing*here"),
        Err(Error::PathNotFound(p)) if p == "/tmp/nothing*here"
    ));
    assert_eq!(
        sh(&c, "ls -A /tmp | grep -c pocketdock-link; true").trim(),
        "0"
    );
    assert_no_pwned(&c);
    assert!(!Path::new("/tmp/pwned4").exists());
}

// ---------------------------------------------------------------- push

/// 6.J 119 and 6.K 125, 7.1 #11: docker-cp semantics.
fn push_semantics(socket: &str) {
    let c = sandbox(socket, "push");
    let t = TempDir::new("push");
    write(&t.join("hello.txt"), b"pushed", 0o644);
    write(&t.join("run.sh"), b"#!/bin/sh\necho ran\n", 0o755);
    write(&t.join("dir/a.txt"), b"A", 0o644);
    write(&t.join("dir/b.txt"), b"B", 0o600);

    // File to a new path, parents created.
    c.push(t.join("hello.txt"), "/tmp/p/q/new.txt")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.read_file("/tmp/p/q/new.txt").ok(),
        Some(b"pushed".to_vec())
    );
    // File into an existing directory keeps its name (the reference replaced the directory).
    c.push(t.join("hello.txt"), "/home/sandbox")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.read_file("/home/sandbox/hello.txt").ok(),
        Some(b"pushed".to_vec())
    );
    // The executable bit is kept and it runs.
    c.push(t.join("run.sh"), "/tmp/")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sh(&c, "/tmp/run.sh"), "ran\n");
    // A file replaces a file.
    c.push(t.join("run.sh"), "/tmp/p/q/new.txt")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sh(&c, "stat -c %a /tmp/p/q/new.txt"), "755\n");
    // A trailing slash names a directory to create.
    c.push(t.join("hello.txt"), "/tmp/newdir/")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sh(&c, "cat /tmp/newdir/hello.txt"), "pushed");

    // Directory to a new path: it becomes that path (not nested).
    c.push(t.join("dir"), "/tmp/copy")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.list_files("/tmp/copy").ok(),
        Some(vec!["a.txt".to_string(), "b.txt".to_string()])
    );
    assert_eq!(sh(&c, "stat -c %a /tmp/copy/b.txt"), "600\n");
    // Directory into an existing directory: nested under its name.
    c.push(t.join("dir"), "/tmp/copy")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.list_files("/tmp/copy/dir").ok(),
        Some(vec!["a.txt".to_string(), "b.txt".to_string()])
    );
    // `dir/.`: the contents, merged.
    sh(&c, "mkdir /tmp/merge && echo keep > /tmp/merge/keep");
    let mut contents = t.join("dir").into_os_string();
    contents.push("/.");
    c.push(PathBuf::from(&contents), "/tmp/merge")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.list_files("/tmp/merge").ok(),
        Some(vec![
            "a.txt".to_string(),
            "b.txt".to_string(),
            "keep".to_string()
        ])
    );

    // A directory onto a file, a missing source, a relative destination.
    assert!(matches!(
        c.push(t.join("dir"), "/tmp/p/q/new.txt"),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        c.push("/no/such/path", "/tmp/x"),
        Err(Error::HostPath { path, .. }) if path == "/no/such/path"
    ));
    assert!(matches!(
        c.push(t.join("hello.txt"), "tmp/x"),
        Err(Error::InvalidInput { .. })
    ));
}

/// The non-root sandbox user can change and delete what was pushed (7.1 #11).
fn sandbox_user_owns_pushed_files(socket: &str) {
    let c = sandbox(socket, "own");
    let t = TempDir::new("own");
    write(&t.join("tree/sub/f.txt"), b"v1", 0o444);
    write(&t.join("one.txt"), b"v1", 0o644);
    fs::set_permissions(t.join("tree/sub"), fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    c.push(t.join("tree"), "/tmp/tree")
        .unwrap_or_else(|e| panic!("{e}"));
    c.push(t.join("one.txt"), "/tmp/one.txt")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sh(&c, "id -un"), "sandbox\n");
    assert_eq!(
        sh(&c, "find /tmp/tree /tmp/one.txt ! -user sandbox | wc -l").trim(),
        "0"
    );
    sh(
        &c,
        "echo v2 >> /tmp/one.txt && chmod u+w /tmp/tree/sub/f.txt && echo v2 > /tmp/tree/sub/f.txt \
         && touch /tmp/tree/sub/new && mv /tmp/tree/sub/new /tmp/tree/new && rm -r /tmp/tree /tmp/one.txt",
    );
    assert!(matches!(
        c.read_file("/tmp/one.txt"),
        Err(Error::PathNotFound(_))
    ));
}

// ---------------------------------------------------------------- uploads: parents, owners, read-only

/// Missing parents of a write and of a push come from the archive itself (nothing runs in the
/// container before the upload): created, `0755`, owned by the sandbox user, as are the file
/// written and every entry of the tree pushed.
fn uploads_create_missing_parents_owned_by_the_sandbox_user(socket: &str) {
    let c = sandbox(socket, "parents");
    c.write_file("/home/sandbox/n1/n2/n3/f.txt", "deep")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sh(
            &c,
            "cd /home/sandbox && stat -c '%n %U:%G %a' n1 n1/n2 n1/n2/n3 n1/n2/n3/f.txt"
        ),
        "n1 sandbox:sandbox 755\nn1/n2 sandbox:sandbox 755\nn1/n2/n3 sandbox:sandbox 755\n\
         n1/n2/n3/f.txt sandbox:sandbox 644\n"
    );
    assert_eq!(
        c.read_file("/home/sandbox/n1/n2/n3/f.txt").ok(),
        Some(b"deep".to_vec())
    );
    // The second write to the same handle (the owner now known) is owned the same way.
    c.write_file("/tmp/w1/w2/g.txt", "again")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sh(&c, "stat -c '%u:%g %a' /tmp/w1 /tmp/w1/w2 /tmp/w1/w2/g.txt"),
        "1000:1000 755\n1000:1000 755\n1000:1000 644\n"
    );

    let t = TempDir::new("parents");
    write(&t.join("tree/sub/f.txt"), b"F", 0o640);
    write(&t.join("tree/top.sh"), b"#!/bin/sh\n", 0o755);
    // A tree to a missing nested path: it becomes that path, its parents are created.
    c.push(t.join("tree"), "/tmp/np/a/b/copy")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sh(
            &c,
            "cd /tmp/np && find . | sort | xargs stat -c '%n %u:%g %a'"
        ),
        ". 1000:1000 755\n./a 1000:1000 755\n./a/b 1000:1000 755\n./a/b/copy 1000:1000 755\n\
         ./a/b/copy/sub 1000:1000 755\n./a/b/copy/sub/f.txt 1000:1000 640\n\
         ./a/b/copy/top.sh 1000:1000 755\n"
    );
    // A file to a missing directory named with a trailing slash, and a directory's contents
    // to a missing directory: both created, nested parents included.
    c.push(t.join("tree/top.sh"), "/tmp/nd/x/")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut contents = t.join("tree").into_os_string();
    contents.push("/.");
    c.push(PathBuf::from(&contents), "/tmp/nc/y/z")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sh(
            &c,
            "stat -c '%n %u:%g %a' /tmp/nd /tmp/nd/x /tmp/nd/x/top.sh /tmp/nc/y/z /tmp/nc/y/z/sub/f.txt"
        ),
        "/tmp/nd 1000:1000 755\n/tmp/nd/x 1000:1000 755\n/tmp/nd/x/top.sh 1000:1000 755\n\
         /tmp/nc/y/z 1000:1000 755\n/tmp/nc/y/z/sub/f.txt 1000:1000 640\n"
    );
    // A parent that is a symlink to a directory is followed, not replaced.
    sh(&c, "mkdir -p /tmp/real && ln -s /tmp/real /tmp/via");
    c.write_file("/tmp/via/new/f.txt", "through")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sh(&c, "cat /tmp/real/new/f.txt"), "through");
    assert_eq!(sh(&c, "test -L /tmp/via && echo link"), "link\n");
}

/// The owner of uploads is the container's default user whatever its form: root, a numeric
/// `uid:gid` that no passwd entry names, or a named user (the image's `sandbox`, uid 1000).
fn uploads_belong_to_the_default_user_in_every_form(socket: &str) {
    for (user, want) in [
        ("root", "0:0"),
        ("1234:5678", "1234:5678"),
        ("sandbox", "1000:1000"),
    ] {
        let c = Engine::new(socket)
            .create_container(
                ContainerSpec::new()
                    .image(TEST_IMAGE)
                    .name(unique_name("owner"))
                    .user(user),
            )
            .unwrap_or_else(|e| panic!("create as {user}: {e}"));
        c.write_file("/tmp/o1/o2/f.txt", "x")
            .unwrap_or_else(|e| panic!("{user}: {e}"));
        let t = TempDir::new("owner");
        write(&t.join("d/g.txt"), b"G", 0o644);
        c.push(t.join("d"), "/tmp/p1/d")
            .unwrap_or_else(|e| panic!("{user}: {e}"));
        assert_eq!(
            sh(
                &c,
                "stat -c '%u:%g' /tmp/o1 /tmp/o1/o2 /tmp/o1/o2/f.txt /tmp/p1 /tmp/p1/d /tmp/p1/d/g.txt"
            ),
            format!("{want}\n").repeat(6),
            "default user {user}"
        );
    }
}

/// A read-only destination is [`Error::InvalidInput`] on `path` with the engine's reason, and
/// nothing is written: a read-only root file system (Docker refuses any upload outside a
/// volume) and a read-only tmpfs (what Podman refuses).
fn read_only_destination_is_a_clear_error(socket: &str) {
    let c = Engine::new(socket)
        .create_container(
            ContainerSpec::new()
                .image(TEST_IMAGE)
                .name(unique_name("ro"))
                .tmpfs("/ro", "ro,size=1m")
                .hardening(pocketdock_proto::spec::Hardening {
                    readonly_rootfs: true,
                    ..pocketdock_proto::spec::Hardening::default()
                }),
        )
        .unwrap_or_else(|e| panic!("create: {e}"));
    let t = TempDir::new("ro");
    write(&t.join("one.txt"), b"1", 0o644);
    let refused = |what: &str, r: Result<(), Error>| {
        assert!(
            matches!(&r, Err(Error::InvalidInput { field: "path", reason }) if reason.contains("read-only")),
            "{what}: {r:?}"
        );
    };
    refused("write", c.write_file("/ro/f.txt", "x"));
    refused("nested write", c.write_file("/ro/a/b/f.txt", "x"));
    refused("push", c.push(t.join("one.txt"), "/ro/one.txt"));
    // Larger than what goes with the request head: the engine may refuse and close while the
    // body is still being written, and its answer is what the caller gets.
    refused("big write", c.write_file("/ro/big.bin", vec![7u8; 8 << 20]));
    assert_eq!(sh(&c, "ls -A /ro | wc -l").trim(), "0");
}

// ---------------------------------------------------------------- pull

/// 6.J 120 and 6.K 126 with the nesting fixed (7.1 #11), plus host-side symlink safety.
fn pull_semantics(socket: &str) {
    let c = sandbox(socket, "pull");
    let t = TempDir::new("pull");
    sh(
        &c,
        "echo -n 'pulled content' > /tmp/pullme.txt && chmod 751 /tmp/pullme.txt \
         && mkdir -p /tmp/pulldir/sub && echo -n x > /tmp/pulldir/x.txt && echo -n y > /tmp/pulldir/sub/y",
    );
    // A file to a file path (parents created).
    c.pull("/tmp/pullme.txt", t.join("a/b/pullme.txt"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&t.join("a/b/pullme.txt")), b"pulled content");
    assert_eq!(mode_of(&t.join("a/b/pullme.txt")), 0o751);
    // A file into an existing directory; then over an existing file.
    c.pull("/tmp/pullme.txt", t.path())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&t.join("pullme.txt")), b"pulled content");
    write(&t.join("old.txt"), b"old", 0o644);
    c.pull("/tmp/pulldir/x.txt", t.join("old.txt"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&t.join("old.txt")), b"x");

    // A directory to a new path becomes that path: dest/x.txt, not dest/pulldir/x.txt.
    c.pull("/tmp/pulldir", t.join("pulldir"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(t.join("pulldir").is_dir());
    assert_eq!(read(&t.join("pulldir/x.txt")), b"x");
    assert_eq!(read(&t.join("pulldir/sub/y")), b"y");
    // Into an existing directory: nested under its name.
    fs::create_dir(t.join("into")).unwrap_or_else(|e| panic!("{e}"));
    c.pull("/tmp/pulldir", t.join("into"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&t.join("into/pulldir/sub/y")), b"y");
    // `dir/.`: the contents into the directory.
    c.pull("/tmp/pulldir/.", t.join("contents"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&t.join("contents/x.txt")), b"x");
    // A directory onto a file; a missing source.
    assert!(matches!(
        c.pull("/tmp/pulldir", t.join("pullme.txt")),
        Err(Error::HostPath { .. })
    ));
    assert!(matches!(
        c.pull("/tmp/nope", t.join("nope")),
        Err(Error::PathNotFound(_))
    ));
    assert!(!t.join("nope").exists());

    // A host symlink where the file lands is replaced, never followed.
    let outside = TempDir::new("pull-outside");
    write(&outside.join("victim"), b"untouched", 0o644);
    fs::create_dir(t.join("links")).unwrap_or_else(|e| panic!("{e}"));
    symlink(outside.join("victim"), t.join("links/pullme.txt")).unwrap_or_else(|e| panic!("{e}"));
    c.pull("/tmp/pullme.txt", t.join("links"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&outside.join("victim")), b"untouched");
    assert!(fs::symlink_metadata(t.join("links/pullme.txt")).is_ok_and(|m| m.is_file()));
    // A host symlink inside an existing target directory is not followed either: merging
    // /tmp/pulldir into links/pulldir, whose `sub` is a symlink to outside.
    fs::create_dir(t.join("links/pulldir")).unwrap_or_else(|e| panic!("{e}"));
    symlink(outside.path(), t.join("links/pulldir/sub")).unwrap_or_else(|e| panic!("{e}"));
    c.pull("/tmp/pulldir", t.join("links"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!outside.join("y").exists());
    assert!(fs::symlink_metadata(t.join("links/pulldir/sub")).is_ok_and(|m| m.is_dir()));
    assert_eq!(read(&t.join("links/pulldir/sub/y")), b"y");

    // Hard links inside the archive (the engines send the second name as a link entry).
    sh(&c, "ln /tmp/pulldir/x.txt /tmp/pulldir/sub/hard");
    c.pull("/tmp/pulldir", t.join("hard"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&t.join("hard/sub/hard")), b"x");
    assert_eq!(read(&t.join("hard/x.txt")), b"x");
    let nlink = |p: PathBuf| {
        std::os::unix::fs::MetadataExt::nlink(&fs::metadata(p).unwrap_or_else(|e| panic!("{e}")))
    };
    assert_eq!(nlink(t.join("hard/sub/hard")), 2);

    // A top-level container symlink is followed.
    sh(&c, "ln -s pulldir /tmp/pl");
    c.pull("/tmp/pl", t.join("followed"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&t.join("followed/x.txt")), b"x");

    // 6.J 120: push then pull keeps the bytes.
    write(&t.join("rt.bin"), &random_bytes(100_000, 3), 0o640);
    c.push(t.join("rt.bin"), "/tmp/rt.bin")
        .unwrap_or_else(|e| panic!("{e}"));
    c.pull("/tmp/rt.bin", t.join("rt-back.bin"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(read(&t.join("rt-back.bin")) == random_bytes(100_000, 3));
    assert_eq!(mode_of(&t.join("rt-back.bin")), 0o640);
}

/// The pull caps: over the byte or entry cap fails and a new target is removed.
fn pull_caps_enforced(socket: &str) {
    let c = sandbox(socket, "pcap");
    let t = TempDir::new("pcap");
    sh(
        &c,
        "mkdir -p /tmp/caps && head -c 3000 /dev/zero > /tmp/caps/a && head -c 3000 /dev/zero > /tmp/caps/b",
    );
    assert!(matches!(
        c.pull_with(
            "/tmp/caps",
            t.join("caps"),
            &TransferOptions::new().max_bytes(5999)
        ),
        Err(Error::Protocol(ProtocolError::BodyTooLarge(5999)))
    ));
    assert!(matches!(
        c.pull_with(
            "/tmp/caps/a",
            t.join("a"),
            &TransferOptions::new().max_bytes(10)
        ),
        Err(Error::Protocol(ProtocolError::BodyTooLarge(10)))
    ));
    assert!(matches!(
        c.pull_with(
            "/tmp/caps",
            t.join("caps"),
            &TransferOptions::new().max_entries(2)
        ),
        Err(Error::Archive(_))
    ));
    assert_eq!(
        snapshot(t.path()),
        BTreeMap::new(),
        "leftovers after refused pulls"
    );
    c.pull_with(
        "/tmp/caps",
        t.join("caps"),
        &TransferOptions::new().max_bytes(6000),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&t.join("caps/b")).len(), 3000);
}

// ---------------------------------------------------------------- big transfers

/// 64 MiB of random bytes pushed and pulled back byte-exact (checked by CRC-32 inside the
/// container too). Prints the throughput.
fn round_trip_64_mib(socket: &str) {
    const SIZE: usize = 64 << 20;
    let c = sandbox(socket, "big");
    let t = TempDir::new("big");
    let data = random_bytes(SIZE, 64);
    write(&t.join("big.bin"), &data, 0o600);
    // Progress reports: many, growing, ending with everything.
    let progress = ProgressLog::default();
    let started = Instant::now();
    c.push_with(t.join("big.bin"), "/tmp/big.bin", &progress.options())
        .unwrap_or_else(|e| panic!("{e}"));
    let push = started.elapsed();
    progress.take_checked(10, SIZE as u64);
    assert_eq!(
        sh(
            &c,
            "python3 -c \"import zlib;print(zlib.crc32(open('/tmp/big.bin','rb').read()))\""
        )
        .trim(),
        crc32(&data).to_string()
    );
    let started = Instant::now();
    c.pull_with("/tmp/big.bin", t.join("back.bin"), &progress.options())
        .unwrap_or_else(|e| panic!("{e}"));
    let pull = started.elapsed();
    progress.take_checked(10, SIZE as u64);
    assert!(read(&t.join("back.bin")) == data, "pulled bytes differ");
    let mib = |d: std::time::Duration| 64.0 / d.as_secs_f64();
    eprintln!(
        "64 MiB on {socket}: push {:.2}s ({:.0} MiB/s), pull {:.2}s ({:.0} MiB/s)",
        push.as_secs_f64(),
        mib(push),
        pull.as_secs_f64(),
        mib(pull)
    );
}

/// A 1000-file tree (nested directories, an executable, a private file, symlinks, an empty
/// directory) pushed and pulled with modes, links and contents intact.
fn tree_of_1000_files(socket: &str) {
    let c = sandbox(socket, "tree");
    let t = TempDir::new("tree");
    let src = t.join("proj");
    for i in 0..1000u32 {
        let p = src.join(format!("d{}/s{}/f{i}.txt", i % 10, (i / 10) % 10));
        write(&p, format!("file {i}\n").as_bytes(), 0o644);
    }
    write(&src.join("bin/tool.sh"), b"#!/bin/sh\necho tool\n", 0o755);
    write(&src.join("secret.key"), b"k", 0o600);
    fs::create_dir_all(src.join("empty")).unwrap_or_else(|e| panic!("{e}"));
    fs::set_permissions(src.join("d3"), fs::Permissions::from_mode(0o750))
        .unwrap_or_else(|e| panic!("{e}"));
    symlink("d0/s0/f0.txt", src.join("link.txt")).unwrap_or_else(|e| panic!("{e}"));
    symlink("../bin", src.join("d1/binlink")).unwrap_or_else(|e| panic!("{e}"));
    let before = snapshot(&src);

    let started = Instant::now();
    c.push(&src, "/home/sandbox/proj")
        .unwrap_or_else(|e| panic!("{e}"));
    let push = started.elapsed();
    assert_eq!(
        sh(&c, "find /home/sandbox/proj -type f | wc -l").trim(),
        "1002"
    );
    assert_eq!(sh(&c, "/home/sandbox/proj/bin/tool.sh"), "tool\n");
    assert_eq!(sh(&c, "cat /home/sandbox/proj/link.txt"), "file 0\n");
    assert_eq!(sh(&c, "readlink /home/sandbox/proj/d1/binlink"), "../bin\n");
    assert_eq!(
        sh(
            &c,
            "stat -c %a /home/sandbox/proj/secret.key /home/sandbox/proj/d3"
        ),
        "600\n750\n"
    );
    assert_eq!(
        sh(&c, "find /home/sandbox/proj ! -user sandbox | wc -l").trim(),
        "0"
    );

    let started = Instant::now();
    c.pull("/home/sandbox/proj", t.join("back"))
        .unwrap_or_else(|e| panic!("{e}"));
    let pull = started.elapsed();
    assert_eq!(snapshot(&t.join("back")), before);
    eprintln!(
        "1000-file tree on {socket}: push {:.2}s, pull {:.2}s",
        push.as_secs_f64(),
        pull.as_secs_f64()
    );
}

// ---------------------------------------------------------------- malicious archives

/// The engine itself sends escaping symlinks when the container has them: refused, and the
/// new target is removed.
fn pull_refuses_escaping_symlinks(socket: &str) {
    let c = sandbox(socket, "esc");
    let t = TempDir::new("esc");
    let deep = t.join("l1/l2/l3");
    fs::create_dir_all(&deep).unwrap_or_else(|e| panic!("{e}"));
    for link in ["../../..", "/etc", ".."] {
        sh(
            &c,
            &format!(
                "rm -rf /tmp/esc && mkdir -p /tmp/esc && echo ok > /tmp/esc/a && ln -s '{link}' /tmp/esc/evil"
            ),
        );
        let before = snapshot(t.path());
        let r = c.pull("/tmp/esc", deep.join("dest"));
        assert!(matches!(r, Err(Error::Archive(_))), "{link}: {r:?}");
        assert_eq!(snapshot(t.path()), before, "{link}: something was left");
    }
}

/// A tiny fake engine serving `inspect` and fixed archives, for archives no real engine makes.
struct FakeEngine {
    socket: PathBuf,
    stop: Arc<AtomicBool>,
    _dir: TempDir,
}

impl FakeEngine {
    fn start(archives: BTreeMap<String, Vec<u8>>) -> Self {
        let dir = TempDir::new("fake");
        let socket = dir.join("engine.sock");
        let listener = UnixListener::bind(&socket).unwrap_or_else(|e| panic!("{e}"));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match conn.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let target = line.split(' ').nth(1).unwrap_or_default().to_string();
                let (status, ctype, body) = if target.starts_with("/containers/fake/json") {
                    let inspect = serde_json::json!({
                        "Id": "fakeid", "Name": "/fake",
                        "State": {"Running": true, "Status": "running"},
                        "Config": {"Labels": {"pocketdock.managed": "true", "pocketdock.instance": "fake"}}
                    });
                    (
                        "200 OK",
                        "application/json",
                        inspect.to_string().into_bytes(),
                    )
                } else if let Some(q) = target.strip_prefix("/containers/fakeid/archive?path=") {
                    let path = q.replace("%2F", "/");
                    match archives.get(&path) {
                        Some(tar) => ("200 OK", "application/x-tar", tar.clone()),
                        None => (
                            "404 Not Found",
                            "application/json",
                            br#"{"message":"no such file"}"#.to_vec(),
                        ),
                    }
                } else {
                    ("404 Not Found", "application/json", b"{}".to_vec())
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(&body);
            }
        });
        Self {
            socket,
            stop,
            _dir: dir,
        }
    }
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = std::os::unix::net::UnixStream::connect(&self.socket);
    }
}

/// The malicious archives, made inside the container with Python's `tarfile`.
const MAKE_EVIL_TARS: &str = r"
import io, os, tarfile
os.makedirs('/tmp/evil', exist_ok=True)
def entry(tf, name, kind='f', link='', data=b'pwned'):
    ti = tarfile.TarInfo(name)
    if kind == 'd':
        ti.type = tarfile.DIRTYPE; ti.mode = 0o755; tf.addfile(ti)
    elif kind == 's':
        ti.type = tarfile.SYMTYPE; ti.linkname = link; tf.addfile(ti)
    elif kind == 'h':
        ti.type = tarfile.LNKTYPE; ti.linkname = link; tf.addfile(ti)
    else:
        ti.size = len(data); ti.mode = 0o644; tf.addfile(ti, io.BytesIO(data))
cases = {
    'dotdot': [('d/', 'd'), ('d/ok', 'f'), ('../../x', 'f')],
    'dotdot_inside': [('d/', 'd'), ('d/../../x', 'f')],
    'absolute': [('d/', 'd'), ('/abs/x', 'f')],
    'absolute_inside': [('d/', 'd'), ('d//abs/../../x', 'f')],
    'symlink_escape': [('d/', 'd'), ('d/evil', 's', '../../..'), ('d/evil/x', 'f')],
    'symlink_absolute': [('d/', 'd'), ('d/evil', 's', '/'), ('d/evil/tmp/x', 'f')],
    'symlink_chain': [('d/', 'd'), ('d/a', 's', '.'), ('d/a/b', 's', '..'), ('d/a/b/x', 'f')],
    'hardlink_escape': [('d/', 'd'), ('d/h', 'h', '../../../x')],
    'hardlink_absolute': [('d/', 'd'), ('d/h', 'h', '/etc/hostname')],
    'hardlink_outside_top': [('d/', 'd'), ('d/h', 'h', 'other/x')],
    'top_escape': [('../../x', 'f')],
    'through_host_symlink': [('d/', 'd'), ('d/sub/x', 'f')],
}
for name, entries in cases.items():
    with tarfile.open('/tmp/evil/' + name + '.tar', 'w', format=tarfile.GNU_FORMAT) as tf:
        for e in entries:
            entry(tf, *e)
print(' '.join(sorted(cases)))
";

/// Malicious archives built in the container are refused on pull with nothing written outside
/// the destination (and a new destination removed).
fn pull_refuses_malicious_archives(socket: &str) {
    let c = sandbox(socket, "evil");
    let r = c
        .run_with(MAKE_EVIL_TARS, &RunOptions::new().lang(Lang::Python))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.exit_code, 0, "{}", r.stderr_str());
    let names: Vec<String> = r
        .stdout_str()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(names.len(), 12);
    let mut archives = BTreeMap::new();
    for n in &names {
        let tar = c
            .read_file(&format!("/tmp/evil/{n}.tar"))
            .unwrap_or_else(|e| panic!("{n}: {e}"));
        archives.insert(format!("/evil/{n}"), tar);
    }
    let fake = FakeEngine::start(archives);
    let handle = Engine::new(fake.socket.to_string_lossy())
        .attach("fake")
        .unwrap_or_else(|e| panic!("attach to the fake engine: {e}"));

    let t = TempDir::new("evil");
    let deep = t.join("l1/l2/l3");
    fs::create_dir_all(&deep).unwrap_or_else(|e| panic!("{e}"));
    for n in names.iter().filter(|n| *n != "through_host_symlink") {
        let before = snapshot(t.path());
        let r = handle.pull(&format!("/evil/{n}"), deep.join("dest"));
        assert!(matches!(r, Err(Error::Archive(_))), "{n}: {r:?}");
        assert_eq!(snapshot(t.path()), before, "{n}: something was written");
    }
    assert!(!Path::new("/abs/x").exists());

    // Merging into an existing directory whose `sub` is a host symlink to outside: the
    // archive's `d/sub/x` (no directory entry for `sub`) must not go through it.
    let outside = TempDir::new("evil-outside");
    fs::create_dir_all(deep.join("into/through_host_symlink")).unwrap_or_else(|e| panic!("{e}"));
    symlink(outside.path(), deep.join("into/through_host_symlink/sub"))
        .unwrap_or_else(|e| panic!("{e}"));
    let r = handle.pull("/evil/through_host_symlink", deep.join("into"));
    assert!(matches!(r, Err(Error::Archive(_))), "{r:?}");
    assert_eq!(snapshot(outside.path()), BTreeMap::new());
    // The same archive into a fresh destination is fine.
    handle
        .pull("/evil/through_host_symlink", deep.join("fresh"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&deep.join("fresh/sub/x")), b"pwned");
}

per_engine!(
    write_and_read_round_trip,
    read_and_write_errors,
    read_cap_enforced,
    list_files_cases,
    hostile_names_run_nothing,
    push_semantics,
    sandbox_user_owns_pushed_files,
    pull_semantics,
    pull_caps_enforced,
    round_trip_64_mib,
    tree_of_1000_files,
    pull_refuses_escaping_symlinks,
    pull_refuses_malicious_archives,
    uploads_create_missing_parents_owned_by_the_sandbox_user,
    uploads_belong_to_the_default_user_in_every_form,
    read_only_destination_is_a_clear_error,
);
