//! The conformance suite: every scenario is written once, as an `async fn` generic over
//! [`Sandbox`], and run on each adapter (blocking, tokio, smol, and smol under async-std) and
//! each engine (Podman, Docker). [`conformance_tests!`](crate::conformance_tests) stamps one
//! `#[test]` per adapter × engine × scenario, named `<adapter>::<engine>::<scenario>`.
//!
//! The blocking adapter's methods are wrapped in `async fn`s that never yield, so its futures
//! complete on the first poll of any executor. Scenarios that need real concurrency or
//! cancellation (dropping a future mid-run) are run on the async adapters only.
//!
//! Every container a scenario creates is named through [`Ctx::name`] and force-removed after the
//! scenario, whether it passed or panicked.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use pocketdock_proto::agent::{AgentMode, AgentStatus};
use pocketdock_proto::api::containers::ContainerInspect;
use pocketdock_proto::api::images::BuildOptions;
use pocketdock_proto::api::system::VersionInfo;
use pocketdock_proto::files::TransferOptions;
use pocketdock_proto::image_flow::{BuiltImage, ExportedArchive};
use pocketdock_proto::info::ContainerInfo;
use pocketdock_proto::limits::{CgroupVersion, LimitsReport, Reading};
use pocketdock_proto::persistence::{ContainerListItem, DestroyReport, DoctorReport};
use pocketdock_proto::ring::BufferSnapshot;
use pocketdock_proto::spec::{ContainerSpec, PortMapping, Volume};
use pocketdock_proto::{Command, Error, ExecResult, Lang, LimitPolicy, Result, RunOptions};
use pocketdock_proto::{StreamChunk, StreamKind};

use crate::{unique_name, ProgressLog, TEST_IMAGE};

/// A container handle of one adapter, seen through async methods.
#[allow(async_fn_in_trait)]
pub trait Sandbox: Sized {
    /// The adapter's detached process.
    type Process: Detached;
    /// The adapter's output stream.
    type Stream: ChunkStream;
    /// The adapter's session.
    type Session: ShellSession;

    /// Create and start a container on the engine at `socket`.
    fn create(socket: &str, spec: ContainerSpec) -> impl Future<Output = Result<Self>>;
    /// A handle on an existing container by name.
    fn attach(socket: &str, name: &str) -> impl Future<Output = Result<Self>>;
    /// `GET /_ping`.
    fn ping(socket: &str) -> impl Future<Output = Result<String>>;
    /// `GET /version`.
    fn version(socket: &str) -> impl Future<Output = Result<VersionInfo>>;
    /// Inspect any container.
    fn inspect(socket: &str, id: &str) -> impl Future<Output = Result<ContainerInspect>>;
    /// Remove any container.
    fn remove(socket: &str, id: &str) -> impl Future<Output = Result<()>>;
    /// The adapter's way to sleep.
    fn sleep(d: Duration) -> impl Future<Output = ()>;
    /// `init_project` (host files only).
    fn init_project(dir: &Path, name: &str) -> Result<PathBuf>;
    /// `create_container_in` the project at `root`.
    fn create_in(
        socket: &str,
        spec: ContainerSpec,
        root: &Path,
    ) -> impl Future<Output = Result<Self>>;
    /// `resume_container`.
    fn resume(socket: &str, name: &str) -> impl Future<Output = Result<Self>>;
    /// `list_containers`.
    fn list(
        socket: &str,
        project: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ContainerListItem>>>;
    /// `stop_container`.
    fn stop(socket: &str, name: &str) -> impl Future<Output = Result<()>>;
    /// `destroy_container`.
    fn destroy(socket: &str, name: &str) -> impl Future<Output = Result<DestroyReport>>;
    /// `prune`.
    fn prune(socket: &str, project: Option<&str>) -> impl Future<Output = Result<usize>>;
    /// `doctor` of the project at `root`.
    fn doctor(socket: &str, root: &Path) -> impl Future<Output = Result<DoctorReport>>;
    /// `build_image` of a directory context; returns the image and the progress line count.
    fn build_dir(
        socket: &str,
        dir: &Path,
        options: &BuildOptions,
    ) -> impl Future<Output = Result<(BuiltImage, usize)>>;
    /// `export_images_with`, progress into `progress`.
    fn export_images(
        socket: &str,
        images: &[&str],
        dest: &Path,
        gzip: bool,
        progress: &ProgressLog,
    ) -> impl Future<Output = Result<ExportedArchive>>;
    /// `import_images_with`, progress into `progress`.
    fn import_images(
        socket: &str,
        path: &Path,
        progress: &ProgressLog,
    ) -> impl Future<Output = Result<Vec<String>>>;
    /// `remove_image` (forced).
    fn remove_image(socket: &str, name: &str) -> impl Future<Output = Result<()>>;
    /// `inspect_image`: the id.
    fn inspect_image(socket: &str, name: &str) -> impl Future<Output = Result<String>>;

    /// Container id.
    fn id(&self) -> &str;
    /// Pocketdock name.
    fn name(&self) -> &str;
    /// Project name.
    fn project(&self) -> &str;
    /// Checked instance directory.
    fn instance_dir(&self) -> Option<&Path>;
    /// `run`.
    fn run(&self, command: &str) -> impl Future<Output = Result<ExecResult>>;
    /// `run_with`.
    fn run_with(
        &self,
        command: Command,
        opts: &RunOptions,
    ) -> impl Future<Output = Result<ExecResult>>;
    /// `exec` (argv, no shell).
    fn exec(&self, argv: &[&str], opts: &RunOptions) -> impl Future<Output = Result<ExecResult>>;
    /// `start_agent`.
    fn start_agent(&self) -> impl Future<Output = Result<AgentStatus>>;
    /// `agent_status`.
    fn agent_status(&self) -> AgentStatus;
    /// `set_agent_mode`.
    fn set_agent_mode(&self, mode: AgentMode) -> impl Future<Output = Result<()>>;
    /// `stream`.
    fn stream(&self, command: &str, opts: &RunOptions) -> Result<Self::Stream>;
    /// `detach`.
    fn detach(
        &self,
        command: &str,
        opts: &RunOptions,
    ) -> impl Future<Output = Result<Self::Process>>;
    /// `on_stdout`.
    fn on_stdout(&self, f: impl Fn(&[u8]) + Send + Sync + 'static);
    /// `on_stderr`.
    fn on_stderr(&self, f: impl Fn(&[u8]) + Send + Sync + 'static);
    /// `on_exit`.
    fn on_exit(&self, f: impl Fn(i64) + Send + Sync + 'static);
    /// `info`.
    fn info(&self) -> impl Future<Output = Result<ContainerInfo>>;
    /// `limits`: what the sandbox enforced right after its create.
    fn limits(&self) -> Option<LimitsReport>;
    /// `write_file`.
    fn write_file(&self, path: &str, content: &[u8]) -> impl Future<Output = Result<()>>;
    /// `read_file`.
    fn read_file(&self, path: &str) -> impl Future<Output = Result<Vec<u8>>>;
    /// `list_files`.
    fn list_files(&self, path: &str) -> impl Future<Output = Result<Vec<String>>>;
    /// `push_with`.
    fn push(
        &self,
        src: &Path,
        dest: &str,
        opts: &TransferOptions,
    ) -> impl Future<Output = Result<()>>;
    /// `pull_with`.
    fn pull(
        &self,
        src: &str,
        dest: &Path,
        opts: &TransferOptions,
    ) -> impl Future<Output = Result<()>>;
    /// `spawn`.
    fn spawn(&self, command: &str, opts: &RunOptions) -> impl Future<Output = Result<String>>;
    /// `session`.
    fn session(&self) -> impl Future<Output = Result<Self::Session>>;
    /// `open_tty(argv, size)`, write `input`, read the output to its end, `wait`.
    fn tty(
        &self,
        argv: &[&str],
        size: (u16, u16),
        input: &[u8],
    ) -> impl Future<Output = Result<(Vec<u8>, i64)>>;
    /// `reboot`.
    fn reboot(&mut self, fresh: bool) -> impl Future<Output = Result<()>>;
    /// `snapshot`.
    fn snapshot(&self, image: &str) -> impl Future<Output = Result<String>>;
    /// `shutdown`.
    fn shutdown(&mut self, force: bool) -> impl Future<Output = Result<()>>;
    /// `set_buffer_capacity`.
    fn set_buffer_capacity(&mut self, bytes: usize);
    /// `keep`.
    fn keep(self) -> String;
}

/// A detached process of one adapter.
#[allow(async_fn_in_trait)]
pub trait Detached {
    /// Exec id.
    fn id(&self) -> &str;
    /// Still running?
    fn is_running(&self) -> bool;
    /// Signal the tree.
    fn kill(&self, signal: i32) -> impl Future<Output = Result<()>>;
    /// Wait for the exit.
    fn wait(&self, timeout: Option<Duration>) -> impl Future<Output = Result<ExecResult>>;
    /// Take the buffer.
    fn read(&self) -> BufferSnapshot;
    /// Look at the buffer.
    fn peek(&self) -> BufferSnapshot;
    /// Bytes buffered.
    fn buffer_size(&self) -> usize;
    /// Did the buffer drop output?
    fn buffer_overflow(&self) -> bool;
}

/// A session of one adapter.
#[allow(async_fn_in_trait)]
pub trait ShellSession {
    /// `id`: the shell's exec id, or `agent:<n>` when the agent runs it.
    fn id(&self) -> &str;
    /// `send_and_wait`.
    fn send_and_wait(
        &self,
        command: &str,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<ExecResult>>;
    /// `send`.
    fn send(&self, command: &str) -> impl Future<Output = Result<()>>;
    /// `read`.
    fn read(&self) -> String;
    /// `close`.
    fn close(&self) -> impl Future<Output = Result<()>>;
    /// `is_closed`.
    fn is_closed(&self) -> bool;
    /// `exit_code`.
    fn exit_code(&self) -> Option<i64>;
    /// `dropped_output_bytes`.
    fn dropped_output_bytes(&self) -> u64;
}

/// An output stream of one adapter.
#[allow(async_fn_in_trait)]
pub trait ChunkStream {
    /// The next chunk.
    fn next_chunk(&mut self) -> impl Future<Output = Option<Result<StreamChunk>>>;
    /// The result once ended.
    fn result(&self) -> Option<&ExecResult>;
}

mod adapters;

/// Block on a future with each adapter's runtime.
pub mod runtime {
    use std::future::Future;

    /// Blocking adapter: its futures never yield; any executor does.
    pub fn blocking<F: Future>(f: F) -> F::Output {
        futures_lite::future::block_on(f)
    }

    /// A multi-threaded tokio runtime (the Drop-spawned kills run on its workers).
    pub fn tokio<F: Future>(f: F) -> F::Output {
        ::tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
            .block_on(f)
    }

    /// smol's executor.
    pub fn smol<F: Future>(f: F) -> F::Output {
        ::smol::block_on(f)
    }

    /// async-std's executor (the smol adapter is executor-agnostic).
    pub fn async_std<F: Future>(f: F) -> F::Output {
        ::async_std::task::block_on(f)
    }
}

/// What a scenario gets: the engine socket, and names that are cleaned up afterwards.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Engine socket (`unix://...`).
    pub socket: String,
    /// `podman` or `docker`.
    pub engine: &'static str,
    /// Commands go through the in-sandbox agent: [`spec`](Self::spec) starts it at create
    /// ([`AgentMode::On`]) instead of turning it off.
    pub agent: bool,
    names: Arc<Mutex<Vec<String>>>,
    images: Arc<Mutex<Vec<String>>>,
}

impl Ctx {
    fn new(engine: &'static str, agent: bool) -> Self {
        Self {
            socket: crate::socket(engine),
            engine,
            agent,
            names: Arc::default(),
            images: Arc::default(),
        }
    }

    /// A unique container name, removed after the scenario.
    pub fn name(&self, tag: &str) -> String {
        let name = unique_name(tag);
        self.names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(name.clone());
        name
    }

    /// An image tag, removed after the scenario.
    pub fn image(&self, tag: &str) -> String {
        let image = format!(
            "localhost/pdtest-{tag}:{}",
            unique_name("t").replace('-', "")
        );
        self.images
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(image.clone());
        image
    }

    /// The test image with a unique name, its commands on the path under test: the engine
    /// path (the agent off), or the agent path (started at create, so that every command goes
    /// through it). Scenarios about the agent itself set their own mode.
    pub fn spec(&self, tag: &str) -> ContainerSpec {
        let mode = if self.agent {
            AgentMode::On
        } else {
            AgentMode::Off
        };
        ContainerSpec::new()
            .image(TEST_IMAGE)
            .name(self.name(tag))
            .agent(mode)
    }

    /// A session named `id` took the path under test.
    pub fn check_session_path(&self, id: &str) {
        assert_eq!(
            id.starts_with("agent:"),
            self.agent,
            "the session {id} took the wrong path"
        );
    }

    /// `r` came the path under test: only the agent reports usage figures.
    pub fn check_path(&self, r: &ExecResult) {
        let took = if r.usage.is_some() { "agent" } else { "engine" };
        assert_eq!(
            r.usage.is_some(),
            self.agent,
            "the command took the {took} path: {r:?}"
        );
    }

    /// Create a container from `spec`, panicking on error.
    pub async fn create<S: Sandbox>(&self, spec: ContainerSpec) -> S {
        S::create(&self.socket, spec).await.expect("create")
    }

    /// A fresh sandbox of the test image.
    pub async fn sandbox<S: Sandbox>(&self, tag: &str) -> S {
        self.create(self.spec(tag)).await
    }

    fn cleanup(&self) {
        let names = std::mem::take(&mut *self.names.lock().unwrap_or_else(PoisonError::into_inner));
        for name in &names {
            raw_request(
                &self.socket,
                "DELETE",
                &format!("/containers/{name}?force=true"),
            );
        }
        // A removal already under way (a dropped async handle removes its container in the
        // background) makes the DELETE above answer at once while the container is still
        // there; removing its image then would only untag it, leaving a dangling image behind.
        // So the images go once the containers are gone.
        for name in &names {
            crate::eventually(Duration::from_secs(30), || {
                raw_request(&self.socket, "GET", &format!("/containers/{name}/json"))
                    .is_none_or(|status| status == 404)
            });
        }
        let images =
            std::mem::take(&mut *self.images.lock().unwrap_or_else(PoisonError::into_inner));
        for image in images {
            crate::remove_image(&self.socket, &image);
        }
    }
}

/// One request on a fresh connection (cleanup only): the answer's status, `None` when the
/// engine could not be reached or gave no status line.
fn raw_request(socket: &str, method: &str, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    // Through the engine's endpoint, so that remote engines (tcp, TLS, ssh) are cleaned too.
    let mut s = pocketdock_host::remote::EngineEndpoint::parse(socket)
        .dial()
        .ok()?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    let req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    // `HTTP/1.1 404 Not Found`
    std::str::from_utf8(answer.get(9..12)?).ok()?.parse().ok()
}

/// Run one scenario on `engine` with `block_on`, then remove what it created, even after a panic.
pub fn run_test<F, B>(engine: &'static str, block_on: B, scenario: impl FnOnce(Ctx) -> F)
where
    F: Future<Output = ()>,
    B: FnOnce(F),
{
    run_on(&Ctx::new(engine, false), block_on, scenario);
}

/// [`run_test`] with the sandboxes' commands through the in-sandbox agent.
pub fn run_test_on_agent<F, B>(engine: &'static str, block_on: B, scenario: impl FnOnce(Ctx) -> F)
where
    F: Future<Output = ()>,
    B: FnOnce(F),
{
    run_on(&Ctx::new(engine, true), block_on, scenario);
}

fn run_on<F, B>(ctx: &Ctx, block_on: B, scenario: impl FnOnce(Ctx) -> F)
where
    F: Future<Output = ()>,
    B: FnOnce(F),
{
    let fut = scenario(ctx.clone());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| block_on(fut)));
    ctx.cleanup();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Poll every future to completion concurrently, on the caller's task; results in order.
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// The first of two futures to finish; the other is dropped (cancelled).
pub async fn race<A: Future, B: Future>(a: A, b: B) -> either::Either<A::Output, B::Output> {
    futures_lite::future::or(async { either::Either::Left(a.await) }, async {
        either::Either::Right(b.await)
    })
    .await
}

/// Two results side by side.
pub mod either {
    /// One of two values.
    #[derive(Debug)]
    pub enum Either<A, B> {
        /// The first future finished first.
        Left(A),
        /// The second future finished first.
        Right(B),
    }
}

fn snapshot<T: Clone>(m: &Mutex<Vec<T>>) -> Vec<T> {
    m.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

#[track_caller]
fn ok<T>(r: Result<T>) -> T {
    r.expect("the call should succeed")
}

/// Wait (with the adapter's sleep) until `check` holds, at most `limit`.
async fn eventually<S: Sandbox, F: Future<Output = bool>>(
    limit: Duration,
    mut check: impl FnMut() -> F,
) -> bool {
    let t0 = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if t0.elapsed() > limit {
            return false;
        }
        S::sleep(Duration::from_millis(100)).await;
    }
}

/// Processes whose command line contains `pattern`, one per line (empty when none). The test
/// image has no `ps`: this reads `/proc/*/cmdline`, leaving out the scanning shell itself.
async fn processes<S: Sandbox>(c: &S, pattern: &str) -> String {
    let script = format!(
        "for d in /proc/[0-9]*; do [ \"$d\" = /proc/$$ ] && continue; \
         tr '\\0' ' ' < $d/cmdline 2>/dev/null; echo; done \
         | grep -F '{pattern}' | grep -v -e grep -e /proc || true"
    );
    let r = ok(c.run(&script).await);
    assert!(r.ok(), "process scan failed: {}", r.stderr_str());
    r.stdout_str().into_owned()
}

const MEMORY_LIMIT_CMD: &str = "cat /sys/fs/cgroup/memory.max 2>/dev/null \
    || cat /sys/fs/cgroup/memory/memory.limit_in_bytes";

// ---------------------------------------------------------------------------------------------
// Scenarios of every adapter.

/// The engine answers ping and version.
pub async fn ping_and_version<S: Sandbox>(ctx: Ctx) {
    assert_eq!(ok(S::ping(&ctx.socket).await), "OK");
    assert!(!ok(S::version(&ctx.socket).await).version.is_empty());
}

/// `run("echo hello")`; shutdown removes an ephemeral container.
pub async fn echo_hello<S: Sandbox>(ctx: Ctx) {
    let mut c: S = ctx.sandbox("hello").await;
    let r = ok(c.run("echo hello").await);
    ctx.check_path(&r);
    assert_eq!(r.stdout_str(), "hello\n");
    assert_eq!(r.stderr_str(), "");
    assert!(r.ok() && r.exit_code == 0 && !r.timed_out && !r.truncated);
    assert!(r.duration > Duration::ZERO);
    let id = c.id().to_string();
    ok(c.shutdown(false).await);
    ok(c.shutdown(false).await);
    assert!(matches!(
        S::inspect(&ctx.socket, &id).await,
        Err(Error::ContainerNotFound(_))
    ));
}

/// Stdout and stderr apart, the exit code, output without a trailing newline.
pub async fn stderr_exit_code_and_no_trailing_newline<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("codes").await;
    let r = ok(c
        .run("echo out; echo err >&2; printf 'tail'; exit 42")
        .await);
    ctx.check_path(&r);
    assert_eq!(r.stdout_str(), "out\ntail");
    assert_eq!(r.stderr_str(), "err\n");
    assert_eq!(r.exit_code, 42);
    assert!(!r.ok());
}

/// An argv runs without a shell; `lang = python`.
pub async fn argv_without_shell_and_python<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("argv").await;
    let r = ok(c
        .exec(
            &["printf", "%s|", "a b", "$(touch /tmp/pwned)", "'q'"],
            &RunOptions::new(),
        )
        .await);
    assert_eq!(r.stdout_str(), "a b|$(touch /tmp/pwned)|'q'|");
    ctx.check_path(&r);
    let r = ok(c.run("test -e /tmp/pwned; echo $?").await);
    assert_eq!(r.stdout_str(), "1\n");
    let r = ok(c
        .run_with(
            Command::from("print(2+2)"),
            &RunOptions::new().lang(Lang::Python),
        )
        .await);
    assert_eq!(r.stdout_str(), "4\n");
    let r = ok(c
        .run_with(
            Command::from("echo $FOO; pwd; id -u"),
            &RunOptions::new()
                .env("FOO", "bar")
                .workdir("/tmp")
                .user("0"),
        )
        .await);
    // Root is a user the sandbox's (non-root) agent cannot become: this one takes the
    // engine path on either ctx.
    assert_eq!(r.stdout_str(), "bar\n/tmp\n0\n");
    assert!(r.usage.is_none(), "{r:?}");
}

/// Multibyte characters split across frames come out whole.
pub async fn utf8_is_lossless<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("utf8").await;
    let r = ok(c
        .run("python3 -c \"import sys; sys.stdout.write('é€𝄞' * 20000)\"")
        .await);
    assert_eq!(r.stdout_str(), "é€𝄞".repeat(20000));
    ctx.check_path(&r);
}

/// A timeout kills the whole tree (checked with `ps`) and keeps the partial output.
pub async fn timeout_kills_the_whole_tree_and_keeps_partial_output<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("timeout").await;
    for cmd in [
        "echo started; sleep 61",
        "echo started; sh -c 'sleep 61 & sleep 61'",
        "echo started; trap '' TERM; sleep 61",
    ] {
        let t0 = Instant::now();
        let r = ok(c
            .run_with(
                Command::from(cmd),
                &RunOptions::new().timeout(Duration::from_secs(1)),
            )
            .await);
        assert!(r.timed_out, "{cmd}");
        assert_eq!(r.exit_code, -1);
        assert!(!r.ok());
        assert_eq!(r.stdout_str(), "started\n", "{cmd}");
        assert!(r.duration >= Duration::from_millis(900));
        assert!(t0.elapsed() < Duration::from_secs(30), "{cmd}");
        assert_eq!(processes(&c, "sleep 61").await, "", "{cmd}: left running");
    }
}

/// The output cap stops the command; head-and-tail keeps the end.
pub async fn output_cap_stops_and_head_tail_keeps_the_end<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("cap").await;
    let r = ok(c
        .run_with(
            Command::from("yes x | head -c 5000000; sleep 30"),
            &RunOptions::new().max_output(1000),
        )
        .await);
    assert!(r.truncated);
    assert_eq!(r.stdout.len(), 1000);
    assert_eq!(r.exit_code, -1);
    let r = ok(c
        .run_with(
            Command::from("seq 1 100000; echo THE-END >&2; exit 3"),
            &RunOptions::new()
                .max_output(4000)
                .policy(LimitPolicy::HeadAndTail),
        )
        .await);
    assert!(r.truncated);
    assert_eq!(r.exit_code, 3);
    ctx.check_path(&r);
    assert!(r.stdout_str().starts_with("1\n2\n3\n"));
    assert!(r.stdout_str().ends_with("99999\n100000\n"));
    assert_eq!(r.stderr_str(), "THE-END\n");
    assert!(r.elided_bytes > 500_000);
}

/// Chunks arrive as produced, then the result.
pub async fn stream_delivers_chunks_then_result<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("stream").await;
    let mut s = ok(c.stream(
        "for i in 1 2 3; do echo $i; sleep 0.2; done; echo bad >&2; exit 5",
        &RunOptions::new(),
    ));
    let (mut out, mut err, mut n) = (Vec::new(), Vec::new(), 0);
    while let Some(chunk) = s.next_chunk().await {
        let chunk = ok(chunk);
        n += 1;
        match chunk.stream {
            StreamKind::Stdout => out.extend_from_slice(&chunk.data),
            _ => err.extend_from_slice(&chunk.data),
        }
    }
    assert!(n >= 3, "chunks arrive as produced");
    assert_eq!(out, b"1\n2\n3\n");
    assert_eq!(err, b"bad\n");
    let r = s.result().expect("no result");
    assert_eq!(r.exit_code, 5);
    ctx.check_path(r);
    assert_eq!(r.stdout, b"1\n2\n3\n");
    assert!(s.next_chunk().await.is_none(), "fused");
}

/// The timeout applies to a stream, with the partial output, and kills the command.
pub async fn stream_timeout_keeps_partial_output<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("stream-timeout").await;
    let mut s = ok(c.stream(
        "echo first; sleep 62",
        &RunOptions::new().timeout(Duration::from_secs(1)),
    ));
    let mut out = Vec::new();
    while let Some(chunk) = s.next_chunk().await {
        out.extend_from_slice(&ok(chunk).data);
    }
    assert_eq!(out, b"first\n");
    let r = s.result().expect("no result");
    assert!(r.timed_out && r.exit_code == -1);
    assert_eq!(r.stdout, b"first\n");
    assert_eq!(processes(&c, "sleep 62").await, "");
}

/// Dropping a stream before its end kills the command.
pub async fn dropped_stream_kills_the_command<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("stream-drop").await;
    let mut s = ok(c.stream("echo first; sleep 63", &RunOptions::new()));
    let first = ok(s.next_chunk().await.expect("no chunk"));
    assert_eq!(&first.data[..], b"first\n");
    assert!(!processes(&c, "sleep 63").await.is_empty());
    drop(s);
    let gone = eventually::<S, _>(Duration::from_secs(15), || async {
        processes(&c, "sleep 63").await.is_empty()
    })
    .await;
    assert!(gone, "the command outlived its dropped stream");
}

/// Every chunk of a stream, joined per stream: `(stdout, stderr, chunks)`.
async fn drain<T: ChunkStream>(s: &mut T) -> (Vec<u8>, Vec<u8>, usize) {
    let (mut out, mut err, mut n) = (Vec::new(), Vec::new(), 0);
    while let Some(chunk) = s.next_chunk().await {
        let chunk = ok(chunk);
        n += 1;
        match chunk.stream {
            StreamKind::Stdout => out.extend_from_slice(&chunk.data),
            _ => err.extend_from_slice(&chunk.data),
        }
    }
    (out, err, n)
}

/// `seq 1 N` as the engine prints it.
fn seq(n: u32) -> Vec<u8> {
    (1..=n)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect()
}

/// A stream that keeps nothing hands out every byte (megabytes of them, in many chunks), and
/// its result has the exit code, the duration and no output.
pub async fn stream_keeping_nothing_delivers_every_byte<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("stream-nothing").await;
    let mut s = ok(c.stream(
        "seq 1 400000; echo done >&2; exit 4",
        &RunOptions::new().keep_output(false),
    ));
    let (out, err, n) = drain(&mut s).await;
    assert_eq!(out.len(), seq(400_000).len());
    assert!(out == seq(400_000), "every byte, in order");
    assert_eq!(err, b"done\n");
    assert!(n > 1, "handed out as it came");
    let r = s.result().expect("no result");
    assert_eq!(r.exit_code, 4);
    ctx.check_path(r);
    assert!(r.stdout.is_empty() && r.stderr.is_empty(), "nothing kept");
    assert!(!r.truncated && !r.timed_out);
    assert_eq!(r.elided_bytes, 0);
    assert!(r.duration > Duration::ZERO);
}

/// For a stream that keeps nothing the cap bounds the bytes handed out: `Stop` hands out
/// exactly the cap and stops the command, `KeepRunning` hands out the cap and lets the command
/// finish, `HeadAndTail` hands out the head, then each stream's last bytes once the output ends.
pub async fn stream_keeping_nothing_caps_what_it_hands_out<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("stream-cap").await;
    let opts = |policy| {
        RunOptions::new()
            .keep_output(false)
            .max_output(1000)
            .policy(policy)
    };

    let mut s = ok(c.stream(
        "yes x | head -c 5000000; sleep 30",
        &opts(LimitPolicy::Stop),
    ));
    let (out, err, _) = drain(&mut s).await;
    assert_eq!(out, b"x\n".repeat(500), "exactly the cap");
    assert!(err.is_empty());
    let r = s.result().expect("no result");
    assert!(r.truncated && r.exit_code == -1 && r.stdout.is_empty());

    let mut s = ok(c.stream(
        "yes y | head -c 100000; exit 3",
        &opts(LimitPolicy::KeepRunning),
    ));
    let (out, err, _) = drain(&mut s).await;
    assert_eq!(out, b"y\n".repeat(500), "exactly the cap");
    assert!(err.is_empty());
    let r = s.result().expect("no result");
    assert_eq!(r.exit_code, 3, "ran to its end");
    ctx.check_path(r);
    assert!(r.truncated && r.stdout.is_empty() && r.stderr.is_empty());
    assert_eq!(r.elided_bytes, 100_000 - 1000);

    let mut s = ok(c.stream(
        "seq 1 100000; echo THE-END >&2; exit 2",
        &opts(LimitPolicy::HeadAndTail),
    ));
    let (out, err, _) = drain(&mut s).await;
    let all = seq(100_000);
    // The engine reads stdout and stderr concurrently: THE-END may take a few bytes of the head.
    assert_eq!(err, b"THE-END\n", "in the head or as stderr's tail");
    assert!(out.len() <= 750 && out.len() >= 742, "{}", out.len());
    assert!(out[..492] == all[..492], "the head");
    assert!(
        out[out.len() - 250..] == all[all.len() - 250..],
        "stdout's tail"
    );
    let r = s.result().expect("no result");
    assert_eq!(r.exit_code, 2);
    ctx.check_path(r);
    assert!(r.truncated && r.stdout.is_empty() && r.stderr.is_empty());
    let handed_out = (out.len() + err.len()) as u64;
    assert_eq!(r.elided_bytes, all.len() as u64 + 8 - handed_out);
}

/// Detach, kill(9) really kills, the ring buffer, callbacks fire once each.
pub async fn detach_kill_ring_buffer_and_callbacks<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("detach").await;
    let exits = Arc::new(Mutex::new(Vec::new()));
    let outs = Arc::new(Mutex::new(Vec::new()));
    let errs = Arc::new(Mutex::new(Vec::new()));
    let (seen_exit, seen_out, seen_err) =
        (Arc::clone(&exits), Arc::clone(&outs), Arc::clone(&errs));
    c.on_exit(move |code| {
        seen_exit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(code);
    });
    c.on_stdout(move |d| {
        seen_out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(d);
    });
    c.on_stderr(move |d| {
        seen_err
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(d);
    });
    let p = ok(c
        .detach(
            "echo ready; echo oops >&2; exec sleep 600",
            &RunOptions::new(),
        )
        .await);
    assert!(!p.id().is_empty());
    assert_eq!(p.id().starts_with("agent:"), ctx.agent, "{}", p.id());
    let ready = eventually::<S, _>(Duration::from_secs(10), || async {
        !p.peek().stdout.is_empty() && !p.peek().stderr.is_empty()
    })
    .await;
    assert!(ready);
    assert_eq!(p.peek().stdout_str(), "ready\n");
    assert!(p.is_running());
    let r = ok(p.wait(Some(Duration::from_millis(300))).await);
    assert!(
        r.timed_out && p.is_running(),
        "wait(timeout) leaves it running"
    );
    ok(p.kill(9).await);
    let r = ok(p.wait(Some(Duration::from_secs(20))).await);
    assert!(!r.timed_out, "kill(9) did not stop the process");
    assert!(!p.is_running());
    assert_eq!(r.exit_code, 137);
    ctx.check_path(&r);
    assert_eq!(r.stdout, b"ready\n");
    let snap = p.read();
    assert_eq!(snap.stdout_str(), "ready\n");
    assert_eq!(snap.stderr_str(), "oops\n");
    assert!(p.read().is_empty());
    assert_eq!(p.buffer_size(), 0);
    ok(p.kill(9).await);
    // The exit callback ran before `wait` returned.
    assert_eq!(snapshot(&exits), vec![137i64]);
    assert_eq!(snapshot(&outs), b"ready\n".to_vec());
    assert_eq!(snapshot(&errs), b"oops\n".to_vec());
}

/// A small ring buffer keeps the newest output and says it overflowed.
pub async fn ring_buffer_overflow<S: Sandbox>(ctx: Ctx) {
    let mut c: S = ctx.sandbox("ring").await;
    c.set_buffer_capacity(1000);
    let p = ok(c.detach("seq 1 2000; echo LAST", &RunOptions::new()).await);
    let r = ok(p.wait(Some(Duration::from_secs(20))).await);
    assert_eq!(r.exit_code, 0);
    ctx.check_path(&r);
    assert!(p.buffer_overflow());
    assert!(p.buffer_size() <= 500, "{}", p.buffer_size());
    let snap = p.peek();
    assert!(snap.stdout_str().ends_with("1999\n2000\nLAST\n"));
    assert!(!snap.stdout_str().starts_with("1\n"));
}

/// info: the live fields.
pub async fn info_reports_live_state<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx
        .create(ctx.spec("info").mem_limit("256m").cpu_percent(50))
        .await;
    let p = ok(c.detach("while :; do :; done", &RunOptions::new()).await);
    S::sleep(Duration::from_millis(500)).await;
    let info = ok(c.info().await);
    assert_eq!(info.id, c.id());
    assert_eq!(info.name, c.name());
    assert_eq!(info.status, "running");
    assert!(info.image.contains("pocketdock/minimal-python"));
    assert_eq!(info.memory_limit, "256.0 MB");
    assert!(info.memory_percent > 0.0 && info.memory_percent < 100.0);
    assert!(
        info.cpu_percent > 0.5 && info.cpu_percent <= 400.0,
        "cpu {}",
        info.cpu_percent
    );
    assert!(info.pids >= 2);
    assert!(info.uptime.is_some_and(|u| u >= 0.0));
    assert!(!info.network, "network is off by default");
    // The process list on both engines: the busy loop is in it, with its pid.
    assert!(
        info.processes.iter().any(|p| {
            p.get("PID").is_some_and(|pid| pid.parse::<u32>().is_ok())
                && p.get("CMD")
                    .or_else(|| p.get("COMMAND"))
                    .is_some_and(|cmd| cmd.contains("while :; do :; done"))
        }),
        "{:?}",
        info.processes
    );
    // What it enforces, read live: the cap it was created with.
    let limits = info
        .limits
        .clone()
        .expect("a running container's info has limits");
    assert!(limits.verified, "{limits:?}");
    assert_eq!(limits.memory, Reading::Limit(256 << 20));
    assert_eq!(limits.cpu_percent(), Some(50.0));
    assert!(limits.unenforced.is_empty(), "{:?}", limits.unenforced);
    // The Python pocketdock's 16 keys, plus the limits.
    let json = serde_json::to_value(&info).unwrap_or_default();
    assert_eq!(json.as_object().map(serde_json::Map::len), Some(17));
    assert_eq!(json["limits"]["memory"], 256 << 20);
    ok(p.kill(9).await);
}

/// What a sandbox enforces is read back at its create: memory, no swap beyond it, pids, CPU,
/// no capability, `no_new_privs`, no way out, each as the sandbox itself sees it.
pub async fn limits_read_back_at_create<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx
        .create(
            ctx.spec("limits")
                .mem_limit("64m")
                .cpu_percent(50)
                .hardening(pocketdock_proto::spec::Hardening {
                    pids_limit: Some(40),
                    ..pocketdock_proto::spec::Hardening::default()
                }),
        )
        .await;
    let l = c.limits().expect("a created sandbox has its limits report");
    assert!(l.verified, "{l:?}");
    assert_ne!(l.cgroup, CgroupVersion::Unknown);
    assert_eq!(l.memory, Reading::Limit(64 << 20));
    assert_eq!(l.swap, Reading::Limit(0), "no swap beyond the memory limit");
    assert_eq!(l.pids, Reading::Limit(40));
    assert_eq!(l.cpu_percent(), Some(50.0));
    assert_eq!(l.cap_bnd, Some(0), "no capability can ever be gained");
    assert_eq!(l.cap_eff, Some(0));
    assert_eq!(l.no_new_privs, Some(true));
    assert!(
        l.network_isolated(),
        "{:?} {}",
        l.interfaces,
        l.default_route
    );
    assert!(l.unenforced.is_empty(), "{:?}", l.unenforced);
    // And the sandbox stays usable.
    assert_eq!(ok(c.run("echo alive").await).stdout, b"alive\n");
}

/// reboot in place keeps files; fresh keeps limits and hardening, not files.
pub async fn reboot_in_place_and_fresh<S: Sandbox>(ctx: Ctx) {
    let mut c: S = ctx.create(ctx.spec("reboot").mem_limit("128m")).await;
    ok(c.run("echo kept > /home/sandbox/f").await);
    ok(c.reboot(false).await);
    assert_eq!(ok(c.run("cat /home/sandbox/f").await).stdout, b"kept\n");
    let old = c.id().to_string();
    ok(c.reboot(true).await);
    assert_ne!(c.id(), old);
    assert_ne!(ok(c.run("cat /home/sandbox/f").await).exit_code, 0);
    let r = ok(c.run(MEMORY_LIMIT_CMD).await);
    assert_eq!(r.stdout_str().trim(), (128 * 1024 * 1024).to_string());
    let r = ok(c.run("grep NoNewPrivs /proc/self/status").await);
    assert!(r.stdout_str().contains('1'));
}

/// snapshot makes an image a new container starts from.
pub async fn snapshot_makes_an_image<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("snap").await;
    ok(c.run("echo snap > /home/sandbox/s").await);
    let tag = ctx.image("snap");
    assert!(!ok(c.snapshot(&tag).await).is_empty());
    let c2: S = ctx
        .create(ContainerSpec::new().image(&tag).name(ctx.name("snap2")))
        .await;
    assert_eq!(ok(c2.run("cat /home/sandbox/s").await).stdout, b"snap\n");
    assert!(matches!(
        c.snapshot("bad ref!").await,
        Err(Error::InvalidInput { .. })
    ));
}

/// A snapshot right after a sandbox's first command, while the agent starts in the background,
/// waits for that start to settle before it commits: Docker pauses a container to commit it,
/// and a pause that lands while the agent's engine exec is being set up leaves the exec and
/// the commit waiting on each other for good (found as a hung `snapshot` in the reference's
/// own tests).
pub async fn snapshot_waits_for_the_agent_start<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx
        .create(ctx.spec("snap-agent").agent(AgentMode::Auto))
        .await;
    ok(c.run("echo snap > /home/sandbox/s").await);
    assert_eq!(
        c.agent_status(),
        AgentStatus::Starting,
        "the first command begins the agent's start"
    );
    let tag = ctx.image("snap-agent");
    assert!(!ok(c.snapshot(&tag).await).is_empty());
    assert!(
        matches!(c.agent_status(), AgentStatus::Up { .. }),
        "the snapshot did not wait for the agent: {:?}",
        c.agent_status()
    );
    let c2: S = ctx
        .create(
            ContainerSpec::new()
                .image(&tag)
                .name(ctx.name("snap-agent2")),
        )
        .await;
    assert_eq!(ok(c2.run("cat /home/sandbox/s").await).stdout, b"snap\n");
}

/// A taken name is refused with `NameInUse`.
pub async fn name_clash_is_refused<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("clash").await;
    let again = S::create(
        &ctx.socket,
        ContainerSpec::new().image(TEST_IMAGE).name(c.name()),
    )
    .await;
    assert!(
        matches!(again, Err(Error::NameInUse(ref n)) if n == c.name()),
        "{:?}",
        again.err()
    );
}

/// Invalid input is refused before any engine call, naming the field.
pub async fn invalid_input_is_refused_before_the_engine<S: Sandbox>(ctx: Ctx) {
    let cases = [
        (ContainerSpec::new().mem_limit("12x"), "mem_limit"),
        (ContainerSpec::new().cpu_percent(0), "cpu_percent"),
        (ContainerSpec::new().cpu_percent(101), "cpu_percent"),
        (ContainerSpec::new().port(PortMapping::tcp(0, 80)), "ports"),
        (
            ContainerSpec::new().volume(Volume::new("rel/path", "/data")),
            "volumes",
        ),
        (ContainerSpec::new().name("bad name!"), "name"),
    ];
    for (spec, field) in cases {
        match S::create(&ctx.socket, spec).await {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected invalid {field}, got {:?}", other.err()),
        }
    }
    let c: S = ctx.sandbox("badrun").await;
    for (opts, field) in [
        (RunOptions::new().max_output(0), "max_output"),
        (RunOptions::new().timeout(Duration::ZERO), "timeout"),
        (RunOptions::new().workdir("rel"), "workdir"),
    ] {
        match c.run_with(Command::from("true"), &opts).await {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected invalid {field}, got {other:?}"),
        }
    }
}

/// A missing image and a vanished container are typed errors.
pub async fn missing_image_and_vanished_container<S: Sandbox>(ctx: Ctx) {
    let r = S::create(
        &ctx.socket,
        ContainerSpec::new()
            .image("pocketdock/no-such-image")
            .name(ctx.name("noimg")),
    )
    .await;
    assert!(matches!(r, Err(Error::ImageNotFound(_))), "{:?}", r.err());
    let c: S = ctx.sandbox("gone").await;
    let name = c.name().to_string();
    let id = c.keep();
    ok(S::remove(&ctx.socket, &id).await);
    assert!(matches!(
        S::inspect(&ctx.socket, &id).await,
        Err(Error::ContainerNotFound(_))
    ));
    assert!(matches!(
        S::attach(&ctx.socket, &name).await,
        Err(Error::ContainerNotFound(_))
    ));
}

/// attach by name; dropping an attached handle leaves the container alone.
pub async fn attach_by_name<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("attach").await;
    ok(c.run("echo x > /tmp/mark").await);
    let a = ok(S::attach(&ctx.socket, c.name()).await);
    assert_eq!(a.id(), c.id());
    assert_eq!(a.name(), c.name());
    assert_eq!(ok(a.run("cat /tmp/mark").await).stdout, b"x\n");
    drop(a);
    S::sleep(Duration::from_millis(300)).await;
    assert_eq!(ok(c.run("echo alive").await).stdout, b"alive\n");
}

/// A persistent container is only stopped by shutdown, and quickly.
pub async fn persistent_shutdown_only_stops<S: Sandbox>(ctx: Ctx) {
    let mut c: S = ctx.create(ctx.spec("persist").persist(true)).await;
    // PID 1 installs its SIGTERM trap as its first statement; let it get there (a stop sent
    // right after start can beat it, and is then answered only after the grace period).
    ok(c.run("true").await);
    ok(c.shutdown(false).await);
    let insp = ok(S::inspect(&ctx.socket, c.id()).await);
    assert!(!insp.state.running);
    // Quick because PID 1 exits on SIGTERM (status 0) instead of being killed after the grace
    // period (137); scripts/bench.sh measures the time.
    assert_eq!(insp.state.exit_code, 0, "{:?}", insp.state);
    assert!(matches!(
        c.run("true").await,
        Err(Error::ContainerNotRunning(_))
    ));
}

/// A project's persistent container: instance directory and history log, stop, list, resume
/// (files kept), doctor, destroy (directory removed), prune.
pub async fn persistence_in_a_project<S: Sandbox>(ctx: Ctx) {
    let base = std::env::temp_dir().join(unique_name("pdproj"));
    let project = unique_name("proj");
    let root = ok(S::init_project(&base, &project));
    let c: S = ok(S::create_in(&ctx.socket, ctx.spec("pers").persist(true), &root).await);
    let name = c.name().to_string();
    assert_eq!(c.project(), project);
    let dir = c.instance_dir().expect("no instance dir").to_path_buf();
    assert!(dir.join("instance.toml").is_file());
    ok(c.run("echo kept > /home/sandbox/k").await);
    let history = std::fs::read_to_string(dir.join("logs/history.jsonl")).unwrap_or_default();
    assert!(history.contains("echo kept"), "{history}");
    drop(c);
    ok(S::stop(&ctx.socket, &name).await);
    let listed = ok(S::list(&ctx.socket, Some(&project)).await);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].name == name && listed[0].persist && listed[0].is_stopped());
    let r = ok(S::resume(&ctx.socket, &name).await);
    assert_eq!(ok(r.run("cat /home/sandbox/k").await).stdout, b"kept\n");
    assert_eq!(r.instance_dir(), Some(dir.as_path()));
    let report = ok(S::doctor(&ctx.socket, &root).await);
    assert!(report.is_healthy() && report.healthy == 1, "{report:?}");
    let other: S = ok(S::create_in(&ctx.socket, ctx.spec("pers2").persist(true), &root).await);
    let other_name = other.name().to_string();
    drop(other);
    ok(S::stop(&ctx.socket, &other_name).await);
    assert_eq!(ok(S::prune(&ctx.socket, Some(&project)).await), 1);
    let report = ok(S::destroy(&ctx.socket, &name).await);
    assert_eq!(report.removed_dir.as_deref(), Some(dir.as_path()));
    assert!(!dir.exists());
    assert!(matches!(
        S::resume(&ctx.socket, &name).await,
        Err(Error::ContainerNotFound(_))
    ));
    assert!(ok(S::list(&ctx.socket, Some(&project)).await).is_empty());
    let _ = std::fs::remove_dir_all(&base);
}

/// Files: write (parents created) and read back byte-exact, list, typed errors, names that
/// would run code in a shell, push and pull of a tree with modes and a symlink kept.
pub async fn files_round_trip<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("files").await;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    ok(c.write_file("/home/sandbox/a/b/data.bin", &data).await);
    assert!(ok(c.read_file("/home/sandbox/a/b/data.bin").await) == data);
    ok(c.write_file("/home/sandbox/a/b/note.txt", b"hello").await);
    assert_eq!(
        ok(c.list_files("/home/sandbox/a/b").await),
        ["data.bin", "note.txt"]
    );
    assert!(matches!(
        c.read_file("/home/sandbox/missing").await,
        Err(Error::PathNotFound(_))
    ));
    assert!(matches!(
        c.read_file("/home/sandbox/a").await,
        Err(Error::InvalidInput { .. })
    ));
    let odd = "/home/sandbox/sp ace $(touch /tmp/pwned) 'q'.txt";
    ok(c.write_file(odd, b"odd").await);
    assert_eq!(ok(c.read_file(odd).await), b"odd");
    assert_eq!(
        ok(c.run("test -e /tmp/pwned; echo $?").await).stdout_str(),
        "1\n"
    );

    let base = std::env::temp_dir().join(unique_name("pdfiles"));
    let src = base.join("tree");
    let _ = std::fs::create_dir_all(src.join("sub"));
    let _ = std::fs::write(src.join("run.sh"), "#!/bin/sh\necho ran\n");
    let _ = std::fs::write(src.join("sub/plain.txt"), "plain");
    {
        use std::os::unix::fs::PermissionsExt;
        let _ =
            std::fs::set_permissions(src.join("run.sh"), std::fs::Permissions::from_mode(0o755));
    }
    let _ = std::os::unix::fs::symlink("sub/plain.txt", src.join("link"));
    // Progress: told the bytes moved so far, growing, at least the file data in the end.
    let progress = ProgressLog::default();
    ok(c.push(&src, "/home/sandbox/pushed", &progress.options())
        .await);
    progress.take_checked(1, 40);
    assert_eq!(
        ok(c.run("/home/sandbox/pushed/run.sh").await).stdout_str(),
        "ran\n"
    );
    assert_eq!(ok(c.read_file("/home/sandbox/pushed/link").await), b"plain");
    let back = base.join("back");
    ok(c.pull("/home/sandbox/pushed", &back, &progress.options())
        .await);
    progress.take_checked(1, 40);
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(back.join("run.sh")).map_or(0, |m| m.permissions().mode() & 0o777)
    };
    assert_eq!(mode, 0o755);
    assert_eq!(
        std::fs::read_to_string(back.join("sub/plain.txt")).unwrap_or_default(),
        "plain"
    );
    assert_eq!(
        std::fs::read_link(back.join("link")).ok(),
        Some(PathBuf::from("sub/plain.txt"))
    );
    let _ = std::fs::remove_dir_all(&base);
}

/// A read-only destination is [`Error::InvalidInput`] with the engine's reason, small or large:
/// a body larger than what goes with the request head meets an engine that has answered and
/// stopped reading, and its answer is what the caller gets, not a broken pipe. On the agent
/// path `/ro` is a read-only bind mount of an empty host directory in a writable root: the
/// agent cannot be copied into a read-only root, and Docker's archive endpoint does not see a
/// tmpfs in a writable one (docs/engine-facts.md).
pub async fn read_only_destination_is_refused<S: Sandbox>(ctx: Ctx) {
    let host_dir = std::env::temp_dir().join(unique_name("pdro"));
    let spec = if ctx.agent {
        let _ = std::fs::create_dir_all(&host_dir);
        ctx.spec("ro")
            .volume(pocketdock_proto::spec::Volume::read_only(
                host_dir.display().to_string(),
                "/ro",
            ))
    } else {
        ctx.spec("ro")
            .tmpfs("/ro", "ro,size=1m")
            .hardening(pocketdock_proto::spec::Hardening {
                readonly_rootfs: true,
                ..pocketdock_proto::spec::Hardening::default()
            })
    };
    let c: S = ctx.create(spec).await;
    for size in [1, 8 << 20] {
        let r = c.write_file("/ro/f.bin", &vec![7u8; size]).await;
        assert!(
            matches!(&r, Err(Error::InvalidInput { field: "path", reason }) if reason.contains("read-only")),
            "{size} bytes: {r:?}"
        );
    }
    assert_eq!(ok(c.run("ls -A /ro | wc -l").await).stdout_str(), "0\n");
    let _ = std::fs::remove_dir_all(&host_dir);
}

/// A spawned command runs unwatched, with its env and workdir; a timeout is refused.
pub async fn spawn_runs_unwatched<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("spawn").await;
    let id = ok(c
        .spawn(
            "echo \"$GREETING from $(pwd)\" > /tmp/spawned; exec sleep 600",
            &RunOptions::new().env("GREETING", "hi").workdir("/tmp"),
        )
        .await);
    assert!(!id.is_empty());
    let ran = eventually::<S, _>(Duration::from_secs(10), || async {
        c.run("cat /tmp/spawned").await.is_ok_and(|r| r.ok())
    })
    .await;
    assert!(ran, "the spawned command never ran");
    assert_eq!(
        ok(c.run("cat /tmp/spawned").await).stdout_str(),
        "hi from /tmp\n"
    );
    let refused = c
        .spawn("true", &RunOptions::new().timeout(Duration::from_secs(1)))
        .await;
    assert!(
        matches!(
            refused,
            Err(Error::InvalidInput {
                field: "timeout",
                ..
            })
        ),
        "{refused:?}"
    );
}

/// A program on a TTY: input typed in, output with CRLF, the window size, the exit code.
pub async fn tty_program<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("tty").await;
    let (out, code) = ok(c
        .tty(&["sh"], (24, 80), b"echo hi-$((40+2)); exit 4\n")
        .await);
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("hi-42\r\n"), "{text:?}");
    assert_eq!(code, 4);
    // The size is set by a resize right after the start (the engines' API 1.41 has no size at
    // creation), so the program waits a moment: one that exits at once makes open_tty fail
    // with the engine's "cannot resize a stopped exec" (the same in every adapter).
    let (out, code) = ok(c
        .tty(
            &["sh", "-c", "sleep 0.5; stty size; exit 3"],
            (30, 100),
            b"",
        )
        .await);
    assert!(String::from_utf8_lossy(&out).contains("30 100"), "{out:?}");
    assert_eq!(code, 3);
    assert!(matches!(
        c.tty(&[], (24, 80), b"").await,
        Err(Error::InvalidInput { .. })
    ));
}

/// Images: build from a directory (FROM the busybox test image, a COPY), export to a
/// `.tar.gz`, remove, import, and run the imported image.
pub async fn images_build_export_import<S: Sandbox>(ctx: Ctx) {
    let base = std::env::temp_dir().join(unique_name("pdimg"));
    let context = base.join("ctx");
    let _ = std::fs::create_dir_all(&context);
    let _ = std::fs::write(
        context.join("Dockerfile"),
        "ARG BASE\nFROM ${BASE}\nCOPY unique.txt /unique.txt\n",
    );
    let _ = std::fs::write(context.join("unique.txt"), ctx.engine);
    let tag = ctx.image("img");
    let mut options = BuildOptions::tagged(tag.clone());
    options
        .build_args
        .insert("BASE".into(), crate::BUSYBOX_IMAGE.into());
    let (built, lines) = ok(S::build_dir(&ctx.socket, &context, &options).await);
    assert!(!built.id.is_empty() && lines > 0, "{built:?}");
    let dest = base.join("images.tar.gz");
    let progress = ProgressLog::default();
    let exported = ok(S::export_images(&ctx.socket, &[&tag], &dest, true, &progress).await);
    assert!(exported.gzip && exported.file_bytes > 0, "{exported:?}");
    // Export reports the bytes written, import the bytes of the file read: both end at its size.
    assert_eq!(progress.last(), Some(exported.file_bytes));
    progress.take_checked(1, exported.file_bytes);
    let short = tag.trim_start_matches("localhost/");
    assert!(
        exported.images.iter().any(|n| n.ends_with(short)),
        "{exported:?}"
    );
    ok(S::remove_image(&ctx.socket, &tag).await);
    assert!(matches!(
        S::inspect_image(&ctx.socket, &tag).await,
        Err(Error::ImageNotFound(_))
    ));
    let names = ok(S::import_images(&ctx.socket, &dest, &progress).await);
    assert_eq!(progress.last(), Some(exported.file_bytes));
    progress.take_checked(1, exported.file_bytes);
    assert!(names.iter().any(|n| n.ends_with(short)), "{names:?}");
    assert_eq!(ok(S::inspect_image(&ctx.socket, &tag).await), built.id);
    let c: S = ctx
        .create(ContainerSpec::new().image(&tag).name(ctx.name("imgrun")))
        .await;
    assert_eq!(ok(c.run("cat /unique.txt").await).stdout_str(), ctx.engine);
    let _ = std::fs::remove_dir_all(&base);
}

/// Sessions: state persists, exact boundaries and exit codes, a timeout leaves the session
/// clean, 50 commands in a row, `send` output in `read`, `exit` ends the session, `close`.
pub async fn session_state_and_boundaries<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("session").await;
    let s = ok(c.session().await);
    ctx.check_session_path(s.id());
    ok(s.send_and_wait("cd /tmp && export X=forty-two", None).await);
    assert_eq!(
        ok(s.send_and_wait("pwd; echo $X", None).await).stdout_str(),
        "/tmp\nforty-two\n"
    );
    assert_eq!(
        ok(s.send_and_wait("printf abc", None).await).stdout_str(),
        "abc"
    );
    let r = ok(s.send_and_wait("echo e >&2; (exit 3)", None).await);
    assert_eq!((r.stderr_str().as_ref(), r.exit_code), ("e\n", 3));
    let r = ok(s
        .send_and_wait("echo before; sleep 30", Some(Duration::from_secs(1)))
        .await);
    assert!(r.timed_out && r.exit_code == -1, "{r:?}");
    assert_eq!(r.stdout_str(), "before\n");
    assert_eq!(
        ok(s.send_and_wait("echo clean", None).await).stdout_str(),
        "clean\n"
    );
    for i in 0..50 {
        let r = ok(s.send_and_wait(&format!("echo {i}"), None).await);
        assert_eq!(r.stdout_str(), format!("{i}\n"));
    }
    let _ = s.read();
    ok(s.send("echo from-send").await);
    let seen = eventually::<S, _>(Duration::from_secs(10), || async {
        s.read().contains("from-send")
    })
    .await;
    assert!(seen);
    let r = ok(s.send_and_wait("exit 4", None).await);
    assert_eq!(r.exit_code, 4);
    assert!(s.is_closed());
    assert_eq!(s.exit_code(), Some(4));
    assert!(matches!(
        s.send_and_wait("true", None).await,
        Err(Error::SessionClosed)
    ));
    let t = ok(c.session().await);
    ok(t.close().await);
    ok(t.close().await);
    assert!(matches!(
        t.send_and_wait("true", None).await,
        Err(Error::SessionClosed)
    ));
}

// ---------------------------------------------------------------------------------------------
// Scenarios of the async adapters (concurrency and cancellation).

/// Dropping a `run` future mid-run leaves no process behind.
pub async fn dropped_run_future_kills_the_command<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("cancel").await;
    let outcome = race(
        c.run("echo started; sh -c 'sleep 64 & sleep 64'"),
        S::sleep(Duration::from_millis(1500)),
    )
    .await;
    assert!(
        matches!(outcome, either::Either::Right(())),
        "run ended early"
    );
    let gone = eventually::<S, _>(Duration::from_secs(15), || async {
        processes(&c, "sleep 64").await.is_empty()
    })
    .await;
    assert!(gone, "the command outlived its dropped future");
}

/// Run `command` once per delay and drop the `run` future after it; each run must still be
/// going when its future is dropped.
async fn drop_runs_after<S: Sandbox>(c: &S, command: &str, delays_ms: &[u64]) {
    for delay_ms in delays_ms {
        let outcome = race(c.run(command), S::sleep(Duration::from_millis(*delay_ms))).await;
        assert!(
            matches!(outcome, either::Either::Right(())),
            "run ended early"
        );
    }
}

/// A `run` future dropped at any moment (before the exec exists, while the engine starts it,
/// once it runs) leaves no process behind.
pub async fn run_cancelled_at_any_moment_leaves_nothing<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("cancel-early").await;
    drop_runs_after(
        &c,
        "sh -c 'sleep 66 & sleep 66'",
        &[0, 5, 20, 50, 100, 200, 400, 800],
    )
    .await;
    let gone = eventually::<S, _>(Duration::from_secs(20), || async {
        processes(&c, "sleep 66").await.is_empty()
    })
    .await;
    assert!(
        gone,
        "a cancelled command outlived its future: {}",
        processes(&c, "sleep 66").await
    );
}

/// A `send_and_wait` future dropped mid-command interrupts the command; the session stays
/// usable and exact.
pub async fn dropped_session_command_is_interrupted<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("session-cancel").await;
    let s = ok(c.session().await);
    ctx.check_session_path(s.id());
    let outcome = race(
        s.send_and_wait("echo started; sleep 67", None),
        S::sleep(Duration::from_millis(1500)),
    )
    .await;
    assert!(matches!(outcome, either::Either::Right(())), "ended early");
    let gone = eventually::<S, _>(Duration::from_secs(15), || async {
        processes(&c, "sleep 67").await.is_empty()
    })
    .await;
    assert!(gone, "the command outlived its dropped future");
    assert_eq!(
        ok(s.send_and_wait("echo next", None).await).stdout_str(),
        "next\n"
    );
    ok(s.close().await);
}

/// 64 concurrent `run("echo $i")` on one container each get their own output.
///
/// The deadline is raised from the default 30 s: Podman starts execs one after another (64 take
/// about 16 s on the test machine alone, more while the rest of the suite runs), and a run that
/// waits for its turn past its deadline is (rightly) killed and reported as timed out.
pub async fn concurrent_runs_on_one_container<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("par").await;
    let commands: Vec<Command> = (0..64)
        .map(|i| Command::from(format!("echo {i}")))
        .collect();
    let opts = RunOptions::new().timeout(Duration::from_secs(300));
    let runs = commands
        .iter()
        .map(|cmd| c.run_with(cmd.clone(), &opts))
        .collect();
    let results = join_all(runs).await;
    assert_eq!(results.len(), 64);
    for (i, r) in results.into_iter().enumerate() {
        let r = ok(r);
        assert!(!r.timed_out, "run {i} timed out: {r:?}");
        assert_eq!(r.stdout_str(), format!("{i}\n"), "run {i}: {r:?}");
        assert_eq!(r.exit_code, 0, "run {i}: {r:?}");
    }
}

/// A long streaming producer (30 s) runs while 20 `info()`, 20 `write_file` and 20 `run` calls
/// on the same container complete, all at once; the stream is still producing afterwards (it is then
/// dropped, which kills it, so the test takes the time of the calls, not of the producer).
pub async fn long_stream_does_not_delay_other_calls<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("busy").await;
    let mut s = ok(c.stream(
        "i=0; while [ $i -lt 300 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done",
        &RunOptions::new().timeout(Duration::from_secs(60)),
    ));
    let first = ok(s.next_chunk().await.expect("no chunk"));
    assert!(first.data.starts_with(b"tick 0"));
    let t0 = Instant::now();
    let mut ticks = 0usize;
    let commands: Vec<String> = (0..20)
        .map(|i| format!("echo {i} > /tmp/f{i} && cat /tmp/f{i}"))
        .collect();
    let paths: Vec<String> = (0..20).map(|i| format!("/tmp/w{i}")).collect();
    let calls = async {
        let infos = join_all((0..20).map(|_| c.info()).collect()).await;
        let writes = join_all(
            paths
                .iter()
                .map(|p| c.write_file(p, p.as_bytes()))
                .collect(),
        );
        let runs = join_all(commands.iter().map(|cmd| c.run(cmd)).collect());
        for info in infos {
            assert_eq!(ok(info).status, "running");
        }
        for w in writes.await {
            ok(w);
        }
        for (i, r) in runs.await.into_iter().enumerate() {
            assert_eq!(ok(r).stdout_str(), format!("{i}\n"));
        }
        for p in &paths {
            assert_eq!(ok(c.read_file(p).await), p.as_bytes());
        }
    };
    let drain = async {
        while let Some(chunk) = s.next_chunk().await {
            ok(chunk);
            ticks += 1;
        }
    };
    match race(calls, drain).await {
        either::Either::Left(()) => {}
        either::Either::Right(()) => panic!("the 30 s stream ended before the calls did"),
    }
    let elapsed = t0.elapsed();
    assert!(elapsed < Duration::from_secs(25), "calls took {elapsed:?}");
    assert!(
        ticks >= 5,
        "the stream kept producing meanwhile ({ticks} chunks)"
    );
    // The producer is still running; the next chunk comes promptly.
    let next = race(s.next_chunk(), S::sleep(Duration::from_secs(2))).await;
    assert!(
        matches!(next, either::Either::Left(Some(Ok(_)))),
        "stream stalled"
    );
    drop(s);
}

/// Hands `$m!` its arguments followed by every scenario each adapter runs, on any engine: the
/// one list the local suite (`tests/tests/conformance.rs`) and the remote one
/// (`tests/tests/remote.rs`) both take, so a new scenario runs everywhere at once. The
/// scenarios that also run through the agent come from
/// [`with_every_agent_path_scenario!`](crate::with_every_agent_path_scenario), the rest are
/// here.
#[macro_export]
macro_rules! with_every_scenario {
    ($m:ident! { $($args:tt)* }) => {
        $crate::with_every_agent_path_scenario!($m! { $($args)*
            ping_and_version,
            spawn_runs_unwatched,
            info_reports_live_state,
            limits_read_back_at_create,
            reboot_in_place_and_fresh,
            snapshot_makes_an_image,
            snapshot_waits_for_the_agent_start,
            name_clash_is_refused,
            invalid_input_is_refused_before_the_engine,
            missing_image_and_vanished_container,
            attach_by_name,
            persistent_shutdown_only_stops,
            persistence_in_a_project,
            agent_path_keeps_the_contract,
            agent_starts_on_its_own_or_says_why_not,
            tty_program,
            images_build_export_import,
            pool_hands_out_fresh_agent_ready_sandboxes,
        });
    };
}

/// Hands `$m!` its arguments followed by the scenarios that run a second time with every
/// command through the in-sandbox agent ([`Ctx::agent`]): every scenario about running
/// commands: to completion, streamed, detached or in a session. Each checks the path its results took.
#[macro_export]
macro_rules! with_every_agent_path_scenario {
    ($m:ident! { $($args:tt)* }) => {
        $m! { $($args)*
            echo_hello,
            stderr_exit_code_and_no_trailing_newline,
            argv_without_shell_and_python,
            utf8_is_lossless,
            timeout_kills_the_whole_tree_and_keeps_partial_output,
            output_cap_stops_and_head_tail_keeps_the_end,
            stream_delivers_chunks_then_result,
            stream_timeout_keeps_partial_output,
            dropped_stream_kills_the_command,
            stream_keeping_nothing_delivers_every_byte,
            stream_keeping_nothing_caps_what_it_hands_out,
            detach_kill_ring_buffer_and_callbacks,
            ring_buffer_overflow,
            session_state_and_boundaries,
            files_round_trip,
            read_only_destination_is_refused,
        }
    };
}

/// One `#[test]` per engine and scenario for an adapter, named `<adapter>::<engine>::<scenario>`:
/// `conformance_tests!(tokio, pocketdock_tokio::Container, runtime::tokio; echo_hello, ...)`.
/// The runtime is a path to a `fn(F) -> F::Output` (see [`runtime`]). With a leading
/// `@on runner;` the tests run through `runner` instead of [`run_test`] (e.g.
/// [`run_test_on_agent`]).
#[macro_export]
macro_rules! conformance_tests {
    ($adapter:ident, $sandbox:ty, $runtime:path; $($scenario:ident),* $(,)?) => {
        $crate::conformance_tests! {
            @on $crate::conformance::run_test; $adapter, $sandbox, $runtime; $($scenario),*
        }
    };
    (@on $runner:path; $adapter:ident, $sandbox:ty, $runtime:path; $($scenario:ident),* $(,)?) => {
        mod $adapter {
            mod podman {
                $(
                    #[test]
                    fn $scenario() {
                        $runner("podman", $runtime, |ctx| {
                            $crate::conformance::$scenario::<$sandbox>(ctx)
                        });
                    }
                )*
            }
            mod docker {
                $(
                    #[test]
                    fn $scenario() {
                        $runner("docker", $runtime, |ctx| {
                            $crate::conformance::$scenario::<$sandbox>(ctx)
                        });
                    }
                )*
            }
        }
    };
}

/// The agent path keeps the engine path's contract: the same output, exit codes and streams
/// apart, a timeout that kills the whole tree and keeps the output read so far, the cap, plus
/// usage figures; a dead agent fails its command and the engine path takes over.
pub async fn agent_path_keeps_the_contract<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.create(ctx.spec("agent").agent(AgentMode::Auto)).await;
    assert_eq!(c.agent_status(), AgentStatus::Off);
    let pid = match c.start_agent().await {
        Ok(AgentStatus::Up { pid, .. }) => pid,
        other => panic!("the agent did not start: {other:?}"),
    };
    let r = ok(c
        .run("echo out; echo err >&2; printf 'tail'; exit 42")
        .await);
    assert_eq!(
        (
            r.stdout_str().as_ref(),
            r.stderr_str().as_ref(),
            r.exit_code
        ),
        ("out\ntail", "err\n", 42)
    );
    assert!(r.usage.is_some());
    let argv = ok(c
        .exec(
            &["printf", "%s|", "a b", "$(x)"],
            &RunOptions::new().workdir("/tmp"),
        )
        .await);
    assert_eq!(argv.stdout_str(), "a b|$(x)|");
    let timed = ok(c
        .run_with(
            Command::from("echo started; sleep 311 & sleep 312"),
            &RunOptions::new().timeout(Duration::from_secs(1)),
        )
        .await);
    assert!(timed.timed_out && timed.exit_code == -1, "{timed:?}");
    assert_eq!(timed.stdout_str(), "started\n");
    let left = ok(c
        .run("for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^sleep 31[12]' || true")
        .await);
    assert_eq!(left.stdout_str().trim(), "0");
    let capped = ok(c
        .run_with(
            Command::from("head -c 100000 /dev/zero; sleep 313"),
            &RunOptions::new().max_output(100),
        )
        .await);
    assert!(capped.truncated && capped.stdout.len() == 100, "{capped:?}");
    // A hostile command kills the agent: its run fails, the engine path takes over.
    assert!(matches!(
        c.run(&format!("kill -9 {pid}; sleep 5")).await,
        Err(Error::Agent(_))
    ));
    assert!(matches!(c.agent_status(), AgentStatus::Unavailable(_)));
    let after = ok(c.run("echo engine").await);
    assert_eq!(after.stdout_str(), "engine\n");
    assert!(after.usage.is_none());
}

/// By default the agent starts on its own after a sandbox's first command (which takes the
/// engine path and is not delayed), and later commands go through it; `info` says which path
/// and why. `AgentMode::Off` keeps every command on the engine path, `AgentMode::On` has the
/// agent up when the create returns, and a sandbox where the agent cannot be put (a read-only
/// root) keeps to the engine path with the reason recorded.
pub async fn agent_starts_on_its_own_or_says_why_not<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.create(ctx.spec("auto").agent(AgentMode::Auto)).await;
    assert_eq!(c.agent_status(), AgentStatus::Off);
    let info = ok(c.info().await);
    assert_eq!(info.agent.as_ref().map(|p| p.path.as_str()), Some("engine"));
    let first = ok(c.run("echo first").await);
    assert_eq!(first.stdout_str(), "first\n");
    assert!(
        first.usage.is_none(),
        "the first command takes the engine path"
    );
    assert!(
        eventually::<S, _>(Duration::from_secs(60), || async {
            matches!(c.agent_status(), AgentStatus::Up { .. })
        })
        .await,
        "the agent did not come up: {:?}",
        c.agent_status()
    );
    let later = ok(c.run("echo later; exit 3").await);
    assert_eq!(
        (later.stdout_str().as_ref(), later.exit_code),
        ("later\n", 3)
    );
    assert!(later.usage.is_some(), "later commands go through the agent");
    let info = ok(c.info().await);
    let path = info.agent.expect("info says which path");
    assert!(path.is_agent(), "{path}");

    let off: S = ctx.create(ctx.spec("auto-off")).await;
    for _ in 0..3 {
        assert!(ok(off.run("true").await).usage.is_none());
    }
    S::sleep(Duration::from_millis(500)).await;
    assert!(ok(off.run("true").await).usage.is_none());
    match off.agent_status() {
        AgentStatus::Unavailable(why) => assert!(why.contains("turned off"), "{why}"),
        other => panic!("{other:?}"),
    }
    let path = ok(off.info().await).agent.expect("info says which path");
    assert!(
        !path.is_agent() && path.reason.contains("turned off"),
        "{path}"
    );

    let on: S = ctx.create(ctx.spec("auto-on").agent(AgentMode::On)).await;
    assert!(matches!(on.agent_status(), AgentStatus::Up { .. }));
    assert!(ok(on.run("true").await).usage.is_some());

    // Where the agent goes is read-only, or mounted noexec: no agent, the reason kept. (Docker
    // copies below a tmpfs mount, so there the copy "works" and the start fails.)
    for (tag, options, expected) in [
        (
            "auto-ro",
            "ro,size=1m",
            ["copying the agent", "the agent did not start"],
        ),
        (
            "auto-noexec",
            "noexec,size=8m",
            ["the agent did not start"; 2],
        ),
    ] {
        let spec = ctx
            .spec(tag)
            .agent(AgentMode::Auto)
            .tmpfs("/.pocketdock", options);
        let c: S = ctx.create(spec).await;
        assert_eq!(ok(c.run("echo one").await).stdout_str(), "one\n");
        assert!(
            eventually::<S, _>(Duration::from_secs(60), || async {
                matches!(c.agent_status(), AgentStatus::Unavailable(_))
            })
            .await,
            "{tag}: {:?}",
            c.agent_status()
        );
        let path = ok(c.info().await).agent.expect("info says which path");
        assert!(
            !path.is_agent() && expected.iter().any(|e| path.reason.contains(e)),
            "{tag}: {path}"
        );
        let still = ok(c.run("echo still").await);
        assert_eq!(still.stdout_str(), "still\n");
        assert!(still.usage.is_none());
    }
}

/// A `run` future dropped while its command runs through the agent kills the command's tree.
pub async fn dropped_agent_run_kills_the_command<S: Sandbox>(ctx: Ctx) {
    let c: S = ctx.sandbox("agent-cancel").await;
    assert!(matches!(c.start_agent().await, Ok(AgentStatus::Up { .. })));
    drop_runs_after(
        &c,
        "echo started; sh -c 'sleep 67 & sleep 67'",
        &[0, 5, 50, 300],
    )
    .await;
    let gone = eventually::<S, _>(Duration::from_secs(15), || async {
        processes(&c, "sleep 67").await.is_empty()
    })
    .await;
    assert!(gone, "a command outlived its dropped future");
    assert!(matches!(c.agent_status(), AgentStatus::Up { .. }));
    assert_eq!(ok(c.run("echo still").await).stdout_str(), "still\n");
}

/// A warm pool of one adapter, seen through async methods: the scenarios below take the
/// sandbox type and reach its pool through [`Pooled`].
pub trait WarmPool: Sized {
    /// The adapter's container.
    type Sandbox: Sandbox;
    /// What `acquire` hands out.
    type Guard: std::ops::Deref<Target = Self::Sandbox>;

    /// `Pool::new` on the engine at `socket`.
    fn new(socket: &str, spec: ContainerSpec, size: usize) -> impl Future<Output = Result<Self>>;
    /// The pool id (its members' `pocketdock.pool` label).
    fn id(&self) -> &str;
    /// `acquire`.
    fn acquire(&self) -> impl Future<Output = Result<Self::Guard>>;
    /// `release` a guard.
    fn release(guard: Self::Guard) -> impl Future<Output = Result<()>>;
    /// `wait_ready`.
    fn wait_ready(&self, timeout: Duration) -> impl Future<Output = bool>;
    /// `close`.
    fn close(self) -> impl Future<Output = Result<()>>;
}

/// A sandbox type whose adapter has a warm pool.
pub trait Pooled: Sandbox {
    /// The adapter's pool.
    type Pool: WarmPool<Sandbox = Self>;
}

impl WarmPool for pocketdock_blocking::Pool {
    type Sandbox = pocketdock_blocking::Container;
    type Guard = pocketdock_blocking::PoolGuard;

    async fn new(socket: &str, spec: ContainerSpec, size: usize) -> Result<Self> {
        Self::new(&pocketdock_blocking::Engine::new(socket), spec, size)
    }
    fn id(&self) -> &str {
        Self::id(self)
    }
    async fn acquire(&self) -> Result<Self::Guard> {
        Self::acquire(self)
    }
    async fn release(guard: Self::Guard) -> Result<()> {
        guard.release()
    }
    async fn wait_ready(&self, timeout: Duration) -> bool {
        Self::wait_ready(self, timeout)
    }
    async fn close(self) -> Result<()> {
        Self::close(self)
    }
}

impl Pooled for pocketdock_blocking::Container {
    type Pool = pocketdock_blocking::Pool;
}

/// [`WarmPool`] and [`Pooled`] for an async adapter (its types are the same generic ones).
macro_rules! async_pool {
    ($krate:ident) => {
        impl WarmPool for $krate::Pool {
            type Sandbox = $krate::Container;
            type Guard = $krate::PoolGuard;

            async fn new(socket: &str, spec: ContainerSpec, size: usize) -> Result<Self> {
                Self::new(&$krate::Engine::new(socket), spec, size).await
            }
            fn id(&self) -> &str {
                Self::id(self)
            }
            async fn acquire(&self) -> Result<Self::Guard> {
                Self::acquire(self).await
            }
            async fn release(guard: Self::Guard) -> Result<()> {
                guard.release().await
            }
            async fn wait_ready(&self, timeout: Duration) -> bool {
                Self::wait_ready(self, timeout).await
            }
            async fn close(self) -> Result<()> {
                Self::close(self).await
            }
        }

        impl Pooled for $krate::Container {
            type Pool = $krate::Pool;
        }
    };
}
async_pool!(pocketdock_tokio);
async_pool!(pocketdock_smol);

/// Removes, when dropped (the scenario passed or panicked), every container whose name starts
/// with its prefix: a pool names its members `<prefix>-<hex>`, which [`Ctx::name`]'s exact
/// names cannot cover.
struct PrefixSweep {
    socket: String,
    prefix: String,
}

impl PrefixSweep {
    fn named(&self) -> Vec<String> {
        let engine = pocketdock_blocking::Engine::new(&self.socket);
        engine
            .list_raw(&["pocketdock.managed=true".to_string()])
            .unwrap_or_default()
            .into_iter()
            .filter(|i| {
                i.names
                    .iter()
                    .any(|n| n.trim_start_matches('/').starts_with(&self.prefix))
            })
            .map(|i| i.id)
            .collect()
    }
}

impl Drop for PrefixSweep {
    fn drop(&mut self) {
        let engine = pocketdock_blocking::Engine::new(&self.socket);
        for id in self.named() {
            let _ = engine.remove_container(&id, true);
        }
    }
}

/// The running members of pool `id`, as the engine lists them by label.
fn pool_members(socket: &str, id: &str) -> Vec<String> {
    pocketdock_blocking::Engine::new(socket)
        .list_raw(&pocketdock_proto::pool::member_filter(id))
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i.state == "running")
        .map(|i| i.id)
        .collect()
}

/// Kill the in-sandbox agent of container `id` from inside, through the engine path of
/// another handle. (The pattern's bracket keeps the shell from matching its own command line.)
async fn kill_agent<S: Sandbox>(socket: &str, id: &str) {
    let outside: S = ok(S::attach(socket, id).await);
    let kill = ok(outside
        .exec(
            &[
                "sh",
                "-c",
                "for p in /proc/[0-9]*; do \
                 case \"$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)\" in \
                 */.pocketdock/agent-[0-9a-f]*) kill -9 ${p#/proc/} && echo killed;; esac; done",
            ],
            &RunOptions::new(),
        )
        .await);
    assert_eq!(kill.stdout_str(), "killed\n", "{kill:?}");
}

/// `close()` does what dropping the pool does, for sure; a guard outlives its closed pool and
/// still cleans up.
async fn close_leaves_only_held_members<S: Pooled>(socket: &str, prefix: &str) {
    let spec = ContainerSpec::new().image(TEST_IMAGE).name(prefix);
    let pool = ok(S::Pool::new(socket, spec, 1).await);
    let id = pool.id().to_string();
    let held = ok(pool.acquire().await);
    ok(pool.close().await);
    assert_eq!(
        pool_members(socket, &id),
        vec![held.id().to_string()],
        "close leaves only the member a guard holds"
    );
    assert_eq!(ok(held.run("echo alive").await).stdout_str(), "alive\n");
    ok(S::Pool::release(held).await);
    let left = pocketdock_blocking::Engine::new(socket)
        .list_raw(&pocketdock_proto::pool::member_filter(&id));
    assert!(left.as_ref().is_ok_and(Vec::is_empty), "{left:?}");
}

/// A warm pool hands out agent-ready sandboxes (the first command goes through the agent),
/// never the same one twice, never one whose agent died; a released sandbox is destroyed and
/// replaced (the label count returns to the size); concurrent acquires get distinct sandboxes;
/// dropping the pool leaves no container with its label, and neither does closing it once the
/// guards are released.
pub async fn pool_hands_out_fresh_agent_ready_sandboxes<S: Pooled>(ctx: Ctx) {
    let refill = Duration::from_secs(90);
    let sweep = PrefixSweep {
        socket: ctx.socket.clone(),
        prefix: unique_name("pool"),
    };
    let spec = ContainerSpec::new()
        .image(TEST_IMAGE)
        .name(sweep.prefix.clone());
    let pool = ok(S::Pool::new(&ctx.socket, spec, 1).await);
    let id = pool.id().to_string();
    assert_eq!(pool_members(&ctx.socket, &id).len(), 1);

    let a = ok(pool.acquire().await);
    assert!(matches!(a.agent_status(), AgentStatus::Up { .. }));
    let r = ok(a.run("echo first").await);
    assert_eq!(r.stdout_str(), "first\n");
    assert!(
        r.usage.is_some(),
        "the first command goes through the agent"
    );
    let b = ok(pool.acquire().await);
    assert_ne!(a.id(), b.id());

    // Liveness: the idle member's agent is killed from inside; it is not handed out.
    assert!(pool.wait_ready(refill).await, "the pool refills");
    let idle: Vec<String> = pool_members(&ctx.socket, &id)
        .into_iter()
        .filter(|m| m != a.id() && m != b.id())
        .collect();
    assert_eq!(idle.len(), 1, "{idle:?}");
    kill_agent::<S>(&ctx.socket, &idle[0]).await;
    let c = ok(pool.acquire().await);
    assert_ne!(
        c.id(),
        idle[0],
        "a member whose agent died is not handed out"
    );
    assert!(ok(c.run("true").await).usage.is_some());

    // Released: destroyed, then replaced.
    let released: Vec<String> = [a.id(), b.id(), c.id()].map(String::from).to_vec();
    ok(S::Pool::release(a).await);
    ok(S::Pool::release(b).await);
    ok(S::Pool::release(c).await);
    for gone in &released {
        assert!(
            S::inspect(&ctx.socket, gone).await.is_err(),
            "released {gone} still exists"
        );
    }
    assert!(
        eventually::<S, _>(refill, || async {
            pool_members(&ctx.socket, &id).len() == 1
        })
        .await,
        "the label count returns to the size"
    );

    // Concurrent acquires.
    let guards: Vec<_> = join_all((0..3).map(|_| pool.acquire()).collect())
        .await
        .into_iter()
        .map(ok)
        .collect();
    let mut ids: Vec<&str> = guards.iter().map(|g| g.id()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "{ids:?}");
    for g in guards {
        ok(S::Pool::release(g).await);
    }

    drop(pool);
    assert!(
        eventually::<S, _>(refill, || async {
            pocketdock_blocking::Engine::new(&ctx.socket)
                .list_raw(&pocketdock_proto::pool::member_filter(&id))
                .is_ok_and(|l| l.is_empty())
        })
        .await,
        "dropping the pool leaves no container with its label"
    );

    close_leaves_only_held_members::<S>(&ctx.socket, &sweep.prefix).await;
    drop(sweep);
}

/// Compile-time: the pools and guards can be shared across threads and tasks, and the async
/// pools' futures can be spawned on a multi-threaded runtime.
#[expect(dead_code, reason = "checked by the compiler, never called")]
fn pools_are_send_and_sync(tokio_pool: &pocketdock_tokio::Pool, smol_pool: &pocketdock_smol::Pool) {
    fn shared<T: Send + Sync>() {}
    fn spawnable<F: Future + Send>(_: F) {}
    shared::<pocketdock_blocking::Pool>();
    shared::<pocketdock_blocking::PoolGuard>();
    shared::<pocketdock_tokio::Pool>();
    shared::<pocketdock_tokio::PoolGuard>();
    shared::<pocketdock_smol::Pool>();
    shared::<pocketdock_smol::PoolGuard>();
    spawnable(tokio_pool.acquire());
    spawnable(smol_pool.acquire());
    spawnable(tokio_pool.wait_ready(Duration::ZERO));
}
