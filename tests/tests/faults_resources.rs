//! Resource faults inside the sandbox: an out-of-memory kill is reported as such (exit code 137
//! and `oom_killed`), a `SIGKILL` that is not the OOM killer's is not; a fork bomb is held by the
//! pids limit and the sandbox stays usable afterwards.
#![expect(
    clippy::unwrap_used,
    reason = "test bodies: a failed unwrap is the test failure"
)]

use std::time::{Duration, Instant};

use pocketdock_proto::spec::{ContainerSpec, Hardening};
use pocketdock_proto::RunOptions;
use pocketdock_tests::conformance::Sandbox;
use pocketdock_tests::faults::{within, Names};
use pocketdock_tests::TEST_IMAGE;

async fn out_of_memory<S: Sandbox>(socket: String) {
    let names = Names::new(&socket);
    let s = S::create(
        &socket,
        ContainerSpec::new()
            .image(TEST_IMAGE)
            .name(names.name("oom"))
            .mem_limit("64m"),
    )
    .await
    .unwrap();
    // A SIGKILL from the command itself: 137, not the OOM killer.
    let r = s.run("kill -9 $$").await.unwrap();
    assert_eq!((r.exit_code, r.oom_killed), (137, false), "{r:?}");
    let opts = RunOptions::new().timeout(Duration::from_secs(60));
    let hog = "python3 -c 'b = bytearray(512 * 1024 * 1024); print(len(b))'";
    let r = s.run_with(hog.into(), &opts).await.unwrap();
    assert_eq!(r.exit_code, 137, "{r:?}");
    assert!(r.oom_killed, "{r:?}");
    assert!(!r.timed_out);
    // The sandbox survived its command, and a later SIGKILL is not taken for another OOM kill.
    let r = s.run("kill -9 $$").await.unwrap();
    assert_eq!((r.exit_code, r.oom_killed), (137, false), "{r:?}");
    let r = s.run("echo alive").await.unwrap();
    assert_eq!(r.stdout_str(), "alive\n");
    // Twice: each OOM kill is reported.
    let r = s.run_with(hog.into(), &opts).await.unwrap();
    assert_eq!((r.exit_code, r.oom_killed), (137, true), "{r:?}");
}

async fn fork_bomb<S: Sandbox>(socket: String) {
    let names = Names::new(&socket);
    let limit = 64;
    let s = S::create(
        &socket,
        ContainerSpec::new()
            .image(TEST_IMAGE)
            .name(names.name("forkbomb"))
            .hardening(Hardening {
                pids_limit: Some(limit),
                ..Hardening::default()
            }),
    )
    .await
    .unwrap();
    let t0 = Instant::now();
    let r = s
        .run_with(
            "bomb() { bomb | bomb & }; bomb; sleep 3; echo held".into(),
            &RunOptions::new().timeout(Duration::from_secs(15)),
        )
        .await;
    if let Ok(r) = &r {
        eprintln!(
            "fork bomb: exit {} timed out {} stdout {:?} after {:?}",
            r.exit_code,
            r.timed_out,
            r.stdout_str(),
            t0.elapsed()
        );
    }
    // The bomb's own answer may be an exit code or a timeout; either way the run returns.
    let r = r.unwrap();
    assert!(r.timed_out || r.exit_code >= 0, "{r:?}");
    // The pids limit held it, and the sandbox is usable again once the tree is gone: the
    // timeout killed it, or its processes are killed here with the sandbox's own kill.
    let usable = Instant::now();
    loop {
        let alive = s
            .run_with(
                "pkill -9 -f bomb 2>/dev/null; \
                 for p in /proc/[0-9]*; do echo; done | wc -l; \
                 cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max"
                    .into(),
                &RunOptions::new().timeout(Duration::from_secs(10)),
            )
            .await;
        match alive {
            Ok(r) if r.exit_code == 0 => {
                let text = r.stdout_str();
                let mut lines = text.lines();
                let procs: u32 = lines.next().unwrap().trim().parse().unwrap();
                let max = lines.next().unwrap().trim().to_string();
                assert_eq!(max, limit.to_string(), "{text}");
                assert!(procs <= limit, "{procs} processes");
                if procs < 10 {
                    break;
                }
            }
            other => eprintln!("fork bomb: the sandbox answered {other:?}"),
        }
        assert!(
            usable.elapsed() < Duration::from_secs(60),
            "the sandbox did not become usable after the fork bomb"
        );
        S::sleep(Duration::from_millis(500)).await;
    }
    let r = s.run("echo alive").await.unwrap();
    assert_eq!(r.stdout_str(), "alive\n");
}

fn run<F: FnOnce(String) + Send + 'static>(engine: &'static str, f: F) {
    let socket = pocketdock_tests::socket(engine);
    within(Duration::from_secs(300), engine, move || f(socket));
}

macro_rules! stamp {
    ($adapter:ident, $ty:ty, $rt:path; $($scenario:ident),*) => {
        mod $adapter {
            mod podman {
                $(#[test] fn $scenario() {
                    crate::run("podman", |s| $rt(crate::$scenario::<$ty>(s)));
                })*
            }
            mod docker {
                $(#[test] fn $scenario() {
                    crate::run("docker", |s| $rt(crate::$scenario::<$ty>(s)));
                })*
            }
        }
    };
}

stamp!(blocking, pocketdock_blocking::Container, pocketdock_tests::conformance::runtime::blocking;
    out_of_memory, fork_bomb);
stamp!(tokio, pocketdock_tokio::Container, pocketdock_tests::conformance::runtime::tokio;
    out_of_memory, fork_bomb);
