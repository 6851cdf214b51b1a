//! Shared helpers of the integration tests: which engines to test, unique names, cleanup.
//!
//! The engines come from `POCKETDOCK_TEST_PODMAN` and `POCKETDOCK_TEST_DOCKER` (set by
//! `scripts/engines.sh env`). A missing engine fails the test: it is never a silent skip.
#![expect(
    clippy::missing_panics_doc,
    reason = "test helpers and scenarios report a failure by panicking; that is their contract"
)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

pub mod conformance;
pub mod fake_engine;
pub mod faults;
pub mod raw;

/// The image every integration test uses (built by `scripts/engines.sh up`).
pub const TEST_IMAGE: &str = "pocketdock/minimal-python";
/// A 2 MB busybox image for tests that need no Python.
pub const BUSYBOX_IMAGE: &str = "pocketdock/busybox";

/// The socket of engine `which` (`"podman"` or `"docker"`). Panics with a clear message when the
/// variable is missing.
pub fn socket(which: &str) -> String {
    let var = format!("POCKETDOCK_TEST_{}", which.to_ascii_uppercase());
    match std::env::var(&var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: start the engines with `scripts/engines.sh up` and \
             `eval \"$(scripts/engines.sh env)\"` (a missing engine is a failure, never a skip)"
        ),
    }
}

/// Note a figure for the run's report: when `POCKETDOCK_TEST_REPORT` names a file (the test
/// command sets it), `line` is appended to it in one write, so that lines of tests running at
/// once do not mix; `scripts/reliability-report.sh` gathers them. Without the variable it
/// does nothing (the test itself still asserts what it measured).
pub fn report(line: impl std::fmt::Display) {
    use std::io::Write;
    let Some(path) = std::env::var_os("POCKETDOCK_TEST_REPORT").filter(|p| !p.is_empty()) else {
        return;
    };
    let text = format!("{line}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        panic!(
            "the test report {} cannot be written: {e}",
            Path::new(&path).display()
        );
    }
}

/// `bytes` in MiB, for figures in a report.
#[expect(
    clippy::cast_precision_loss,
    reason = "a figure for people: 52 bits of mantissa are exact to 4 PiB"
)]
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// The engine a socket address belongs to, as the report names it: `podman`, `docker`, or
/// the address itself.
pub fn engine_of(socket: &str) -> &str {
    if socket.contains("podman") {
        "podman"
    } else if socket.contains("docker") {
        "docker"
    } else {
        socket
    }
}

/// Poll `check` every 20 ms until it holds, at most `limit`; returns whether it held. For
/// effects that happen on another thread (callbacks run after a wait returns): never a fixed
/// sleep, which a loaded machine outlasts.
pub fn eventually(limit: std::time::Duration, mut check: impl FnMut() -> bool) -> bool {
    let t0 = std::time::Instant::now();
    loop {
        if check() {
            return true;
        }
        if t0.elapsed() > limit {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Records the progress reports of transfers (`TransferOptions::on_progress`).
#[derive(Debug, Default, Clone)]
pub struct ProgressLog(std::sync::Arc<std::sync::Mutex<Vec<u64>>>);

impl ProgressLog {
    /// Transfer options that report into this log.
    pub fn options(&self) -> pocketdock_proto::files::TransferOptions {
        pocketdock_proto::files::TransferOptions::new().on_progress(self.callback())
    }

    /// A progress callback that reports into this log.
    pub fn callback(&self) -> impl Fn(u64) + Send + Sync + 'static {
        let sink = std::sync::Arc::clone(&self.0);
        move |n| {
            sink.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(n);
        }
    }

    /// The last report, if any.
    pub fn last(&self) -> Option<u64> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .last()
            .copied()
    }

    /// Take the reports so far and check them: at least `min_reports`, growing, the last at
    /// least `min_bytes` (the archive adds headers to the file data).
    pub fn take_checked(&self, min_reports: usize, min_bytes: u64) {
        let r = std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        assert!(r.len() >= min_reports, "{} reports", r.len());
        assert!(r.windows(2).all(|w| w[0] <= w[1]), "not growing");
        assert!(r.last().is_some_and(|&n| n >= min_bytes), "{:?}", r.last());
    }
}

/// A container name unique across parallel tests and runs: `pdtest-<tag>-<pid>-<n>`.
pub fn unique_name(tag: &str) -> String {
    prefixed_unique_name("pdtest-", tag)
}

/// [`unique_name`] with another prefix: `<prefix><tag>-<pid>-<n>-<time>`.
pub fn prefixed_unique_name(prefix: &str, tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}{tag}-{}-{n}-{:x}",
        std::process::id(),
        nanos & 0xffff
    )
}

/// Generate one `#[test]` per engine for each listed scenario function `fn(&str socket)`.
#[macro_export]
macro_rules! per_engine {
    ($($scenario:ident),* $(,)?) => {
        mod podman {
            $(#[test] fn $scenario() { super::$scenario(&$crate::socket("podman")) })*
        }
        mod docker {
            $(#[test] fn $scenario() { super::$scenario(&$crate::socket("docker")) })*
        }
    };
}

/// Make the remote engines of `scripts/remote-engines.sh` reachable from this test process
/// (and the `pocketdock` processes it starts): TLS files as the docker CLI reads them
/// (`DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH` from `POCKETDOCK_TEST_TLS_DIR`). The ssh config
/// comes in `POCKETDOCK_SSH_CONFIG` already. Only `tcp://` addresses read these, so the
/// local engines' tests are unaffected. Panics when the remote engines' environment is missing.
pub fn remote_setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = remote_var("POCKETDOCK_TEST_TLS_DIR");
        remote_var("POCKETDOCK_SSH_CONFIG");
        std::env::set_var("DOCKER_TLS_VERIFY", "1");
        std::env::set_var("DOCKER_CERT_PATH", dir);
    });
}

/// A variable of `scripts/remote-engines.sh env`; panics with a clear message when missing.
pub fn remote_var(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: start the remote engines with `scripts/remote-engines.sh up` and \
             `eval \"$(scripts/remote-engines.sh env)\"` (a missing engine is a failure, never a skip)"
        ),
    }
}

/// Generate one `#[test]` per remote engine (`docker_tls`: Docker over tcp with mutual TLS;
/// `podman_ssh` and `docker_ssh`: over ssh) for each listed scenario `fn(&str address)`.
#[macro_export]
macro_rules! per_remote_engine {
    ($($scenario:ident),* $(,)?) => {
        mod docker_tls {
            $(#[test] fn $scenario() { $crate::remote_setup(); super::$scenario(&$crate::socket("docker_tls")) })*
        }
        mod podman_ssh {
            $(#[test] fn $scenario() { $crate::remote_setup(); super::$scenario(&$crate::socket("podman_ssh")) })*
        }
        mod docker_ssh {
            $(#[test] fn $scenario() { $crate::remote_setup(); super::$scenario(&$crate::socket("docker_ssh")) })*
        }
    };
}

/// Remove an image the test made (best effort, so a failed test still cleans up).
pub fn remove_image(socket: &str, image: &str) {
    // Through the engine's endpoint, so that remote engines (tcp, TLS, ssh) are cleaned too.
    if let Ok(mut s) = pocketdock_host::remote::EngineEndpoint::parse(socket).dial() {
        use std::io::{Read, Write};
        let target: String = image
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let req = format!("DELETE /images/{target}?force=true HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        let _ = s.write_all(req.as_bytes());
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
}

/// The `pocketdock` binary of this build (profile and target directory of the running test),
/// built once per test process.
pub fn cli_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        // <target>/<profile>/deps/<test>-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| panic!("unexpected test path {}", exe.display()));
        let target_dir = profile_dir
            .parent()
            .unwrap_or_else(|| panic!("unexpected test path {}", exe.display()));
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let mut build = std::process::Command::new(cargo);
        build
            .args(["build", "-q", "-p", "pocketdock-cli", "--bin", "pocketdock"])
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target-dir")
            .arg(target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo build");
        assert!(status.success(), "cargo build -p pocketdock-cli failed");
        let bin = profile_dir.join("pocketdock");
        assert!(bin.is_file(), "{} missing after the build", bin.display());
        bin
    })
}
