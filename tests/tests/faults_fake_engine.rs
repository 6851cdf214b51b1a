//! A broken engine (`pocketdock_tests::fake_engine`) sends malformed heads, bad chunk sizes,
//! huge chunks and frames, unknown stream types, slow-loris bytes, early ends and endless heads
//! to each kind of operation (ping, inspect, run, stream, detached process, session, file read,
//! pull), on the blocking adapter and on tokio: each gets a typed error (or, for a frame larger
//! than the output cap, a truncated result), within its deadline, with bounded memory. Each
//! cell runs in a child process of its own, where its peak memory is read from `/proc`.
#![expect(
    clippy::unwrap_used,
    reason = "test bodies: a failed unwrap is the test failure"
)]

use std::time::{Duration, Instant};

use pocketdock_proto::files::TransferOptions;
use pocketdock_proto::{Error, ExecResult, Result, RunOptions};
use pocketdock_tests::conformance::{ChunkStream, Detached, Sandbox, ShellSession};
use pocketdock_tests::fake_engine::{FakeEngine, Fault, Target, FAKE_CONTAINER};
use pocketdock_tests::faults::{fault_name, vm_hwm, within};

/// The deadline of a command in these cases.
const COMMAND_DEADLINE: Duration = Duration::from_secs(5);
/// The deadline given to a pull (a transfer's default is ten minutes).
const TRANSFER_DEADLINE: Duration = Duration::from_secs(20);
/// The engine calls' own deadline (`op::DEFAULT_CALL_TIMEOUT`), which a slow-loris ping meets.
const CALL_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
enum Op {
    Ping,
    Attach,
    Run,
    Stream,
    Detached,
    Session,
    ReadFile,
    Pull,
}

impl Op {
    fn target(self) -> Target {
        match self {
            Self::Ping => Target::Ping,
            Self::Attach => Target::Inspect,
            Self::Run | Self::Stream | Self::Detached | Self::Session => Target::ExecStart,
            Self::ReadFile | Self::Pull => Target::ArchiveGet,
        }
    }
}

/// The operation's answer: an error, or a command's result.
async fn operate<S: Sandbox>(socket: &str, op: Op) -> Result<Option<ExecResult>> {
    let opts = RunOptions::new().timeout(COMMAND_DEADLINE);
    if let Op::Ping = op {
        return S::ping(socket).await.map(|_| None);
    }
    let s = S::attach(socket, FAKE_CONTAINER).await?;
    match op {
        Op::Ping | Op::Attach => Ok(None),
        Op::Run => s.run_with("echo hi".into(), &opts).await.map(Some),
        Op::Stream => {
            let mut st = s.stream("echo hi", &opts)?;
            while let Some(chunk) = st.next_chunk().await {
                chunk?;
            }
            Ok(st.result().cloned())
        }
        Op::Detached => {
            let p = s.detach("echo hi", &opts).await?;
            p.wait(Some(COMMAND_DEADLINE * 3)).await.map(Some)
        }
        Op::Session => {
            let sess = s.session().await?;
            let r = sess.send_and_wait("echo hi", Some(COMMAND_DEADLINE)).await;
            let _ = sess.close().await;
            r.map(Some)
        }
        Op::ReadFile => s.read_file("/etc/hostname").await.map(|_| None),
        Op::Pull => {
            let dest = std::env::temp_dir().join(fault_name("fake-pull"));
            let r = s
                .pull(
                    "/etc",
                    &dest,
                    &TransferOptions::new().timeout(TRANSFER_DEADLINE),
                )
                .await
                .map(|()| None);
            let _ = std::fs::remove_dir_all(&dest);
            r
        }
    }
}

/// An answer in a line: a result's output as its length, not its bytes. Printing a capped
/// command's 10 MiB of output with `{:?}` writes about 40 MB of text, which on a one-thread
/// runtime holds up every other case for many seconds (the slow-loris one beside it included).
fn outcome(r: &Result<Option<ExecResult>>) -> String {
    match r {
        Ok(Some(r)) => format!(
            "Ok(exit {} timed_out {} truncated {} stdout {} B stderr {} B after {:?})",
            r.exit_code,
            r.timed_out,
            r.truncated,
            r.stdout.len(),
            r.stderr.len(),
            r.duration
        ),
        Ok(None) => "Ok".into(),
        Err(e) => format!("Err({e:?})"),
    }
}

/// What one fault on one operation must give.
fn check(op: Op, fault: Fault, r: &Result<Option<ExecResult>>, took: Duration, sent: u64) {
    let what = format!("{op:?} under {fault:?}");
    match r {
        Err(
            Error::Protocol(_)
            | Error::SocketCommunication(_)
            | Error::Timeout { .. }
            | Error::Io(_)
            | Error::SessionClosed
            | Error::Engine { .. },
        ) => {}
        // A frame larger than the output cap: the command is stopped at the cap.
        Ok(Some(r)) if fault == Fault::HugeFrame && r.truncated => {}
        // A session whose shell's stream broke answers its command with -1.
        Ok(Some(r)) if matches!(op, Op::Session) && r.exit_code == -1 => {}
        // A command whose deadline passed in a stream that never ends.
        Ok(Some(r)) if fault == Fault::SlowLoris && r.timed_out => {}
        other => panic!("{what}: {}", outcome(other)),
    }
    // Deadlines: a command's, or the call's for a slow-loris head.
    let limit = match (fault, op) {
        // A call's head (a session's shell is attached by a call), and a download's head, which
        // the engine sends at once however long the archive takes (a file read has no shorter
        // deadline than the transfers' ten minutes).
        (Fault::SlowLoris, Op::Ping | Op::Attach | Op::Session | Op::ReadFile) => {
            CALL_DEADLINE + Duration::from_secs(20)
        }
        (Fault::SlowLoris, Op::Pull) => TRANSFER_DEADLINE + Duration::from_secs(20),
        // A command's deadline, then the kill and the exit code, which the fake engine answers
        // at once: the rest is room for a loaded machine.
        _ => COMMAND_DEADLINE + Duration::from_secs(10),
    };
    assert!(took < limit, "{what}: took {took:?}");
    // An endless head is refused after its limit, not read to the end.
    if fault == Fault::EndlessHead {
        assert!(sent < 8 << 20, "{what}: {sent} bytes of head were read");
    }
}

async fn all_faults<S: Sandbox>(adapter: &'static str, op: Op) {
    // The slow-loris case waits out its deadline: it runs beside the others.
    let slow = FakeEngine::start(Fault::SlowLoris, op.target());
    let slow_socket = slow.socket();
    let slow_case = async {
        let t0 = Instant::now();
        let r = operate::<S>(&slow_socket, op).await;
        (r, t0.elapsed())
    };
    let others = async {
        for fault in Fault::ALL {
            if fault == Fault::SlowLoris {
                continue;
            }
            let engine = FakeEngine::start(fault, op.target());
            let t0 = Instant::now();
            let r = operate::<S>(&engine.socket(), op).await;
            let took = t0.elapsed();
            let sent = engine
                .fault_bytes
                .load(std::sync::atomic::Ordering::Relaxed);
            eprintln!(
                "fake engine {adapter} {op:?} {fault:?}: {} in {took:?}",
                outcome(&r)
            );
            check(op, fault, &r, took, sent);
            pocketdock_tests::report(format_args!(
                "fake-engine {adapter} {op:?} {fault:?} ms={}",
                took.as_millis()
            ));
        }
    };
    let (slow_result, ()) = futures_lite::future::zip(slow_case, others).await;
    let (r, took) = slow_result;
    eprintln!(
        "fake engine {adapter} {op:?} SlowLoris: {} in {took:?}",
        outcome(&r)
    );
    check(op, Fault::SlowLoris, &r, took, 0);
    pocketdock_tests::report(format_args!(
        "fake-engine {adapter} {op:?} SlowLoris ms={}",
        took.as_millis()
    ));
    drop(slow);
}

/// Set in the child process that runs one cell (see [`cell`]).
const CELL_ENV: &str = "POCKETDOCK_FAKE_ENGINE_CELL";

/// The most memory one cell's process may reach: the test binary itself (about 12 MiB) and
/// one command's output kept up to its 10 MiB cap, with room to spare, but less than one of
/// the 64 MiB frames the fake engine pours, or the 4 GiB one it claims, held whole.
const CELL_PEAK: u64 = 64 << 20;

/// Run the cell `test` (`adapter::Op`) in a process of its own, so that its peak memory, read
/// from `/proc`, is its own and not the sum of what the allocator kept from every cell this
/// binary ran before on other threads. In that child, `f` runs and the peak is checked.
fn cell<F: FnOnce() + Send + 'static>(test: &'static str, f: F) {
    if std::env::var_os(CELL_ENV).is_some() {
        within(Duration::from_secs(600), test, f);
        let peak = vm_hwm(std::process::id()).unwrap();
        eprintln!("fake engine {test}: peak memory {peak} bytes");
        assert!(peak < CELL_PEAK, "{test}: peak memory {peak} bytes");
        pocketdock_tests::report(format_args!(
            "fake-engine-peak {test} peak_mib={:.1}",
            pocketdock_tests::mib(peak)
        ));
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CELL_ENV, "1")
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{test}: {}", out.status);
}

macro_rules! stamp {
    ($adapter:ident, $ty:ty, $rt:path; $($op:ident),*) => {
        mod $adapter {
            $(#[test] #[allow(non_snake_case)] fn $op() {
                crate::cell(concat!(stringify!($adapter), "::", stringify!($op)), || $rt(crate::all_faults::<$ty>(stringify!($adapter), crate::Op::$op)));
            })*
        }
    };
}

stamp!(blocking, pocketdock_blocking::Container, pocketdock_tests::conformance::runtime::blocking;
    Ping, Attach, Run, Stream, Detached, Session, ReadFile, Pull);
stamp!(tokio, pocketdock_tokio::Container, pocketdock_tests::conformance::runtime::tokio;
    Ping, Attach, Run, Stream, Detached, Session, ReadFile, Pull);
