//! The container is killed or removed from outside while a call uses it (a run, a stream, a
//! detached process, a session command, a push, a pull; a run through the in-sandbox agent):
//! the caller gets `ContainerGone` or
//! `ContainerNotRunning` promptly, never a panic or a hang, and nothing is left behind.
#![expect(
    clippy::unwrap_used,
    reason = "test bodies: a failed unwrap is the test failure"
)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pocketdock_proto::agent::AgentStatus;
use pocketdock_proto::files::TransferOptions;
use pocketdock_proto::spec::ContainerSpec;
use pocketdock_proto::{Error, Result, RunOptions};
use pocketdock_tests::conformance::{ChunkStream, Detached, Sandbox, ShellSession};
use pocketdock_tests::faults::{fault_name, raw, within, Names, PROMPTLY};
use pocketdock_tests::BUSYBOX_IMAGE;

/// What happens to the container behind the caller's back.
#[derive(Debug, Clone, Copy)]
enum Blow {
    /// `POST /containers/{id}/kill`: it stops, and stays.
    Kill,
    /// `DELETE /containers/{id}?force=true`: it is gone.
    Remove,
}

/// Kill or remove the container now; answers when it was done.
fn deal(socket: &str, id: &str, blow: Blow) -> Instant {
    let t = Instant::now();
    let (method, path) = match blow {
        Blow::Kill => ("POST", format!("/containers/{id}/kill")),
        Blow::Remove => ("DELETE", format!("/containers/{id}?force=true")),
    };
    let (status, body) =
        raw(socket, method, &path, b"").unwrap_or_else(|| panic!("{method} {path}: no answer"));
    assert!(
        status / 100 == 2,
        "{method} {path}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    t
}

struct Case {
    socket: String,
    engine: &'static str,
    blow: Blow,
    names: Names,
}

impl Case {
    async fn sandbox<S: Sandbox>(&self, tag: &str) -> S {
        S::create(
            &self.socket,
            ContainerSpec::new()
                .image(BUSYBOX_IMAGE)
                .name(self.names.name(tag)),
        )
        .await
        .expect("create")
    }

    /// Deal the blow after `delay` on a thread of its own; it answers when the blow was dealt.
    fn blow_after(&self, id: &str, delay: Duration) -> std::thread::JoinHandle<Instant> {
        let (socket, id, blow) = (self.socket.clone(), id.to_string(), self.blow);
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            deal(&socket, &id, blow)
        })
    }

    /// Transfer options whose first progress report deals the blow, on a thread of its own
    /// (both engines hold the container while they stream its archive: the kill or removal
    /// waits for the transfer, or the transfer is cut, as the engine decides). The cell says
    /// when it was dealt.
    fn blow_on_progress(&self, id: &str) -> (TransferOptions, Arc<Mutex<Option<Instant>>>) {
        let (socket, id, blow) = (self.socket.clone(), id.to_string(), self.blow);
        let dealt = Arc::new(Mutex::new(None));
        let cell = Arc::clone(&dealt);
        let started = std::sync::atomic::AtomicBool::new(false);
        let opts = TransferOptions::new()
            .max_bytes(8 << 30)
            .on_progress(move |_| {
                if !started.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    let (socket, id, cell) = (socket.clone(), id.clone(), Arc::clone(&cell));
                    std::thread::spawn(move || {
                        let t = deal(&socket, &id, blow);
                        *cell.lock().unwrap() = Some(t);
                    });
                }
            });
        (opts, dealt)
    }

    /// The answer is one of the two container errors, and came soon after the blow.
    fn check(&self, what: &str, outcome: Result<()>, dealt: Instant) {
        let after = dealt.elapsed();
        eprintln!(
            "{} {:?} {what}: {outcome:?} after {after:?}",
            self.engine, self.blow
        );
        match outcome {
            Err(Error::ContainerGone(_) | Error::ContainerNotRunning(_)) => {}
            other => panic!("{what}: expected ContainerGone or ContainerNotRunning, got {other:?}"),
        }
        assert!(after < PROMPTLY, "{what}: {after:?} after the blow");
    }

    /// A later call on the same handle is refused at once: the container is not running, or
    /// (removed) not found, as for any call on a container that is no longer there.
    async fn later<S: Sandbox>(&self, s: &S) {
        let t = Instant::now();
        let r = s.run("true").await;
        match (self.blow, r) {
            (Blow::Kill, Err(Error::ContainerNotRunning(_)))
            | (Blow::Remove, Err(Error::ContainerNotFound(_) | Error::ContainerGone(_))) => {}
            (_, r) => panic!("{:?}: a later run answered {r:?}", self.blow),
        }
        assert!(t.elapsed() < PROMPTLY);
    }
}

async fn run<S: Sandbox>(case: Case) {
    let s: S = case.sandbox("gone-run").await;
    let blow = case.blow_after(s.id(), Duration::from_millis(500));
    let r = s.run("sleep 300").await;
    eprintln!("run result: {r:?}");
    case.check("run", r.map(drop), blow.join().unwrap());
    case.later(&s).await;
}

/// A run through the in-sandbox agent (started first, so the command takes its path).
async fn agent_run<S: Sandbox>(case: Case) {
    let s: S = case.sandbox("gone-agent").await;
    let status = s.start_agent().await;
    assert!(matches!(status, Ok(AgentStatus::Up { .. })), "{status:?}");
    let blow = case.blow_after(s.id(), Duration::from_millis(500));
    let r = s.run("sleep 300").await;
    eprintln!("agent run result: {r:?}");
    case.check("run through the agent", r.map(drop), blow.join().unwrap());
    case.later(&s).await;
}

async fn stream<S: Sandbox>(case: Case) {
    let s: S = case.sandbox("gone-stream").await;
    let mut st = s
        .stream(
            "while :; do echo tick; sleep 0.1; done",
            &RunOptions::new().no_timeout(),
        )
        .unwrap();
    assert!(st.next_chunk().await.is_some_and(|c| c.is_ok()));
    let blow = case.blow_after(s.id(), Duration::ZERO);
    let outcome = loop {
        match st.next_chunk().await {
            Some(Ok(_)) => {}
            Some(Err(e)) => break Err(e),
            None => break Ok(()),
        }
    };
    case.check("stream", outcome, blow.join().unwrap());
    drop(st);
    case.later(&s).await;
}

async fn detached<S: Sandbox>(case: Case) {
    let s: S = case.sandbox("gone-detach").await;
    let p = s
        .detach(
            "while :; do echo tick; sleep 0.1; done",
            &RunOptions::new().no_timeout(),
        )
        .await
        .unwrap();
    let blow = case.blow_after(s.id(), Duration::from_millis(500));
    let r = p.wait(None).await.map(drop);
    case.check("detached wait", r, blow.join().unwrap());
    assert!(!p.is_running());
    case.later(&s).await;
}

async fn session<S: Sandbox>(case: Case) {
    let s: S = case.sandbox("gone-session").await;
    let sess = s.session().await.unwrap();
    assert_eq!(
        sess.send_and_wait("echo ready", None)
            .await
            .unwrap()
            .stdout_str(),
        "ready\n"
    );
    let blow = case.blow_after(s.id(), Duration::from_millis(500));
    let r = sess.send_and_wait("sleep 300", None).await;
    let dealt = blow.join().unwrap();
    // The session answers a command its shell did not finish with the shell's end (exit code
    // -1, or the code the killed shell gave) and closes; what the container became is said by
    // the next call, at once.
    match r {
        Ok(r) => assert!(r.exit_code == -1 || r.exit_code > 128, "{r:?}"),
        Err(e) => case.check("session command", Err(e), dealt),
    }
    assert!(dealt.elapsed() < PROMPTLY);
    assert!(sess.is_closed());
    let again = sess.send_and_wait("echo again", None).await;
    assert!(matches!(again, Err(Error::SessionClosed)), "{again:?}");
    case.later(&s).await;
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(fault_name(tag));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// When the blow of [`Case::blow_on_progress`] was dealt (waiting for it).
fn when_dealt(cell: &Mutex<Option<Instant>>) -> Option<Instant> {
    let t0 = Instant::now();
    loop {
        if let Some(t) = *cell.lock().unwrap() {
            return Some(t);
        }
        if t0.elapsed() > PROMPTLY * 2 {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A transfer under a blow fails with a container error, or completes: both engines hold the
/// container while an archive streams, so a kill or a removal may wait for the transfer; a
/// stopped container's files also stay reachable through the archive endpoint. A completed
/// pull is whole (checked by the caller).
fn check_transfer(case: &Case, what: &str, r: Result<()>, dealt: Option<Instant>) -> bool {
    let dealt = dealt.expect("the transfer reported progress");
    match r {
        Ok(()) => {
            eprintln!("{} {:?} {what}: completed", case.engine, case.blow);
            true
        }
        r => {
            case.check(what, r, dealt);
            false
        }
    }
}

async fn push<S: Sandbox>(case: Case) {
    let s: S = case.sandbox("gone-push").await;
    let dir = scratch("push-src");
    // Sparse: hundreds of megabytes on the wire, nothing on the host's disk.
    let big = std::fs::File::create(dir.join("big")).unwrap();
    big.set_len(256 << 20).unwrap();
    drop(big);
    let (opts, dealt) = case.blow_on_progress(s.id());
    let r = s.push(&dir, "/tmp/pushed", &opts).await;
    std::fs::remove_dir_all(&dir).unwrap();
    let dealt = when_dealt(&dealt);
    check_transfer(&case, "push", r, dealt);
    case.later(&s).await;
}

async fn pull<S: Sandbox>(case: Case) {
    let s: S = case.sandbox("gone-pull").await;
    let r = s
        .run("mkdir /tmp/out && truncate -s 256M /tmp/out/big && echo ok")
        .await
        .unwrap();
    assert_eq!(r.stdout_str(), "ok\n");
    let dest = scratch("pull-dest");
    let (opts, dealt) = case.blow_on_progress(s.id());
    let r = s.pull("/tmp/out", &dest.join("out"), &opts).await;
    let size = std::fs::metadata(dest.join("out/big")).map(|m| m.len());
    let left: Vec<_> = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    std::fs::remove_dir_all(&dest).unwrap();
    let dealt = when_dealt(&dealt);
    if check_transfer(&case, "pull", r, dealt) {
        assert_eq!(size.ok(), Some(256 << 20), "a completed pull is whole");
    } else {
        assert!(left.is_empty(), "a failed pull left {left:?}");
    }
    case.later(&s).await;
}

fn run_case<F>(engine: &'static str, blow: Blow, scenario: F)
where
    F: FnOnce(Case) + Send + 'static,
{
    let socket = pocketdock_tests::socket(engine);
    let case = Case {
        names: Names::new(&socket),
        socket,
        engine,
        blow,
    };
    within(Duration::from_secs(300), engine, move || scenario(case));
}

macro_rules! stamp {
    ($adapter:ident, $ty:ty, $rt:path; $($scenario:ident),*) => {
        mod $adapter {
            mod podman {
                mod kill { $(#[test] fn $scenario() {
                    crate::run_case("podman", crate::Blow::Kill, |c| $rt(crate::$scenario::<$ty>(c)));
                })* }
                mod remove { $(#[test] fn $scenario() {
                    crate::run_case("podman", crate::Blow::Remove, |c| $rt(crate::$scenario::<$ty>(c)));
                })* }
            }
            mod docker {
                mod kill { $(#[test] fn $scenario() {
                    crate::run_case("docker", crate::Blow::Kill, |c| $rt(crate::$scenario::<$ty>(c)));
                })* }
                mod remove { $(#[test] fn $scenario() {
                    crate::run_case("docker", crate::Blow::Remove, |c| $rt(crate::$scenario::<$ty>(c)));
                })* }
            }
        }
    };
}

stamp!(blocking, pocketdock_blocking::Container, pocketdock_tests::conformance::runtime::blocking;
    run, agent_run, stream, detached, session, push, pull);
stamp!(tokio, pocketdock_tokio::Container, pocketdock_tests::conformance::runtime::tokio;
    run, agent_run, stream, detached, session, push, pull);
