//! The engine stops while a call is under way (a streaming run, a detached process, a session
//! command, a push, a run through the in-sandbox agent): each caller gets a typed error promptly, never a hang, and once the engine
//! is back the same sandbox works again.
//!
//! These run on the private engines of `scripts/fault-engines.sh` (the shared ones are never
//! stopped), on the blocking adapter and on tokio, one test at a time per engine.
#![expect(
    clippy::unwrap_used,
    reason = "test bodies: a failed unwrap is the test failure"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use pocketdock_proto::agent::AgentStatus;
use pocketdock_proto::files::TransferOptions;
use pocketdock_proto::spec::ContainerSpec;
use pocketdock_proto::{Error, Result, RunOptions};
use pocketdock_tests::conformance::{ChunkStream, Detached, Sandbox, ShellSession};
use pocketdock_tests::faults::{
    engine_lock, fault_engine, fault_socket, is_engine_loss, within, Names, PROMPTLY,
};
use pocketdock_tests::BUSYBOX_IMAGE;

/// What one scenario gets: the private engine, and names removed after the engine is back.
struct Case {
    socket: String,
    engine: &'static str,
    names: Arc<Names>,
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

    /// Stop the engine after `delay`, on a thread of its own; it answers when the stop began.
    fn stop_after(&self, delay: Duration) -> std::thread::JoinHandle<Instant> {
        let engine = self.engine;
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let t = Instant::now();
            fault_engine("stop", engine);
            t
        })
    }

    /// The call failed with an engine-loss error soon enough after the stop began.
    fn check_failure(&self, what: &str, outcome: Result<()>, stopped_at: Instant) {
        let Err(err) = outcome else {
            panic!(
                "{}: {what} succeeded although the engine stopped",
                self.engine
            );
        };
        let after = stopped_at.elapsed();
        eprintln!("{} {what}: {err:?} after {after:?}", self.engine);
        assert!(is_engine_loss(&err), "{what}: untyped answer {err:?}");
        assert!(after < PROMPTLY, "{what}: {after:?} after the stop");
    }

    /// Start the engine again; the sandbox answers and runs a command.
    async fn back<S: Sandbox>(&self, s: &S) {
        fault_engine("start", self.engine);
        let r = s
            .run("echo back")
            .await
            .expect("run after the engine is back");
        assert_eq!(r.stdout_str(), "back\n");
        assert_eq!(r.exit_code, 0);
    }
}

const TICKER: &str = "while :; do echo tick; sleep 0.1; done";

async fn streaming_run<S: Sandbox>(case: Case) {
    let s: S = case.sandbox("stop-stream").await;
    let mut stream = s
        .stream(TICKER, &RunOptions::new().no_timeout())
        .expect("stream");
    let first = stream.next_chunk().await.expect("a first chunk");
    assert!(first.is_ok(), "{first:?}");
    let stopper = case.stop_after(Duration::ZERO);
    let outcome = loop {
        match stream.next_chunk().await {
            Some(Ok(_)) => {}
            Some(Err(e)) => break Err(e),
            None => break Ok(()),
        }
    };
    case.check_failure("stream", outcome, stopper.join().unwrap());
    drop(stream);
    case.back(&s).await;
}

/// A run through the in-sandbox agent (started first, so the command takes its path); once the
/// engine is back, commands work again (on the engine path, or through a new agent).
async fn agent_run<S: Sandbox>(case: Case) {
    let s: S = case.sandbox("stop-agent").await;
    let status = s.start_agent().await;
    assert!(matches!(status, Ok(AgentStatus::Up { .. })), "{status:?}");
    let stopper = case.stop_after(Duration::from_millis(500));
    let outcome = s
        .run_with(TICKER.into(), &RunOptions::new().no_timeout())
        .await
        .map(drop);
    case.check_failure("run through the agent", outcome, stopper.join().unwrap());
    case.back(&s).await;
}

async fn detached_process<S: Sandbox>(case: Case) {
    let s: S = case.sandbox("stop-detach").await;
    let p = s
        .detach(TICKER, &RunOptions::new().no_timeout())
        .await
        .expect("detach");
    let t0 = Instant::now();
    while p.peek().stdout.is_empty() {
        assert!(
            t0.elapsed() < PROMPTLY,
            "no output from the detached process"
        );
        S::sleep(Duration::from_millis(50)).await;
    }
    let stopper = case.stop_after(Duration::ZERO);
    let outcome = p.wait(None).await.map(drop);
    case.check_failure("detached wait", outcome, stopper.join().unwrap());
    assert!(!p.is_running());
    case.back(&s).await;
}

async fn session_command<S: Sandbox>(case: Case) {
    let s: S = case.sandbox("stop-session").await;
    let session = s.session().await.expect("session");
    let r = session.send_and_wait("echo ready", None).await.unwrap();
    assert_eq!(r.stdout_str(), "ready\n");
    let stopper = case.stop_after(Duration::from_millis(500));
    let outcome = session.send_and_wait("sleep 300", None).await;
    let stopped_at = stopper.join().unwrap();
    // A session that ends under a command answers the command with exit code -1 (its documented
    // result), or with an error; either way promptly, and the session says it is closed.
    match outcome {
        Ok(r) => {
            assert_eq!(r.exit_code, -1, "{r:?}");
            assert!(stopped_at.elapsed() < PROMPTLY);
        }
        Err(e) => case.check_failure("session command", Err(e), stopped_at),
    }
    assert!(session.is_closed());
    // The session is over: a later command is refused, not sent into the void.
    let later = session.send_and_wait("echo again", None).await;
    assert!(
        matches!(later, Err(ref e) if is_engine_loss(e)),
        "{later:?}"
    );
    case.back(&s).await;
}

async fn push<S: Sandbox>(case: Case) {
    let s: S = case.sandbox("stop-push").await;
    let dir = std::env::temp_dir().join(pocketdock_tests::faults::fault_name("push-src"));
    std::fs::create_dir_all(&dir).unwrap();
    // A sparse file: gigabytes on the wire, nothing on the host's disk.
    let big = std::fs::File::create(dir.join("big")).unwrap();
    big.set_len(4 << 30).unwrap();
    drop(big);
    let stopper = case.stop_after(Duration::from_millis(300));
    let outcome = s.push(&dir, "/tmp/pushed", &TransferOptions::new()).await;
    let stopped_at = stopper.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    case.check_failure("push", outcome, stopped_at);
    case.back(&s).await;
    // What a broken push left is the sandbox's to clean; it does not break the next one.
    let r = s.run("rm -rf /tmp/pushed; echo clean").await.unwrap();
    assert_eq!(r.stdout_str(), "clean\n");
}

/// Run one scenario on the private `engine` with `block_on`, the engine's lock held; the engine
/// is started again and the containers removed afterwards, whatever happened.
fn run_case<F>(engine: &'static str, scenario: F)
where
    F: FnOnce(Case) + Send + 'static,
{
    let _lock = engine_lock(engine);
    let socket = fault_socket(engine);
    let names = Arc::new(Names::new(&socket));
    let case = Case {
        socket,
        engine,
        names: Arc::clone(&names),
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        within(Duration::from_secs(300), engine, move || scenario(case));
    }));
    fault_engine("start", engine);
    drop(names);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

macro_rules! stamp {
    ($adapter:ident, $ty:ty, $rt:path; $($scenario:ident),*) => {
        mod $adapter {
            mod podman {
                $(#[test] fn $scenario() {
                    crate::run_case("podman", |case| $rt(crate::$scenario::<$ty>(case)));
                })*
            }
            mod docker {
                $(#[test] fn $scenario() {
                    crate::run_case("docker", |case| $rt(crate::$scenario::<$ty>(case)));
                })*
            }
        }
    };
}

stamp!(blocking, pocketdock_blocking::Container, pocketdock_tests::conformance::runtime::blocking;
    streaming_run, agent_run, detached_process, session_command, push);
stamp!(tokio, pocketdock_tokio::Container, pocketdock_tests::conformance::runtime::tokio;
    streaming_run, agent_run, detached_process, session_command, push);

#[test]
fn error_variants_are_what_the_checks_expect() {
    // The check above must be able to fail: an answer that is not about the engine is refused.
    assert!(!is_engine_loss(&Error::invalid("name", "x")));
    assert!(is_engine_loss(&Error::SocketCommunication("eof".into())));
}
