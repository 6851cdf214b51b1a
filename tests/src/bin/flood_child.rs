//! One output flood in one mode, run in a process of its own so that its peak memory is its own:
//! `flood_child ADAPTER MODE SOCKET CONTAINER BYTES`. It warms the mode up with a small command,
//! reads its peak resident set (`VmHWM`), floods (BYTES of stdout and BYTES of stderr, binary, no
//! newline, interleaved), and prints `before=<bytes> after=<bytes> seen=<bytes>` on one line.
//!
//! Adapters: `blocking`, `tokio`. Modes: `run-capped` (cap reached: the command is stopped),
//! `run-head-tail` (head and tail kept, the rest counted), `stream` (every chunk handed out and
//! dropped, head and tail kept), `detached` (the ring buffer), `session` (a session command);
//! `agent-run-capped`, `agent-run-head-tail`, `agent-stream` and `agent-detached` are those
//! modes through the in-sandbox agent (started before the warm-up; the result must carry the
//! agent's usage figures), where a stream's output is held to the agent's window. Every other
//! mode keeps the sandbox's commands on the engine path.

use std::time::Duration;

use pocketdock_proto::agent::{AgentMode, AgentStatus};
use pocketdock_proto::{ExecResult, LimitPolicy, RunOptions};
use pocketdock_tests::conformance::{runtime, ChunkStream, Detached, Sandbox, ShellSession};

/// The output cap every mode uses (the ring and session buffers have it as their default).
const CAP: usize = 1024 * 1024;

/// The unit of a flood: `dd`'s block size, and the first size of the file of 0xff bytes.
const BLOCK: u64 = 64 * 1024;
/// The largest file of 0xff bytes a flood builds in the sandbox's /tmp before repeating it.
const FF_FILE: u64 = 16 << 20;

/// The command that writes `bytes` (a multiple of [`BLOCK`]) of NUL to stdout and as many 0xff
/// bytes to stderr, side by side. Both come in large blocks: busybox `head -c` and `tr` move about
/// 200 MB/s of CPU each, which made the sandbox's generator, not the client, the slow part of a
/// flood. Stdout is `dd` of /dev/zero; stderr is a block of 0xff doubled into a file of up to
/// 16 MiB, written out as many times as it takes.
fn flood(bytes: u64) -> String {
    if bytes == 0 || bytes % BLOCK != 0 {
        fail(
            "usage",
            format_args!("BYTES must be a positive multiple of {BLOCK}"),
        );
    }
    let (mut file, mut doublings) = (BLOCK, 0);
    while bytes % (file * 2) == 0 && file * 2 <= FF_FILE {
        file *= 2;
        doublings += 1;
    }
    let (blocks, copies) = (bytes / BLOCK, bytes / file);
    format!(
        "f=/tmp/pocketdock-flood-$$; dd if=/dev/zero bs={BLOCK} count={blocks} 2>/dev/null & \
         head -c {BLOCK} /dev/zero | tr '\\000' '\\377' >$f; \
         for _ in $(seq {doublings}); do cat $f $f >$f.2; mv $f.2 $f; done; \
         for _ in $(seq {copies}); do cat $f; done >&2; rm -f $f; wait"
    )
}

fn hwm() -> u64 {
    pocketdock_tests::faults::vm_hwm(std::process::id()).unwrap_or(0)
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("flood_child: {what}: {e}");
    std::process::exit(1)
}

/// Check that `r` took the path asked for: only a command through the agent has usage figures.
fn check_path(mode: &str, r: &ExecResult, through_agent: bool) {
    if r.usage.is_some() != through_agent {
        fail(
            mode,
            format!("the command took the wrong path (usage: {:?})", r.usage),
        );
    }
}

/// The output bytes a run saw (kept or elided), after checking it took the path asked for.
fn run_seen(mode: &str, r: &ExecResult, through_agent: bool) -> u64 {
    check_path(mode, r, through_agent);
    (r.stdout.len() + r.stderr.len()) as u64 + r.elided_bytes
}

/// Run a flood of `bytes` in `mode`; the output bytes the mode saw (kept, elided or handed out).
async fn once<S: Sandbox>(c: &S, mode: &str, bytes: u64) -> u64 {
    let command = flood(bytes);
    let command = command.as_str();
    let opts = RunOptions::new().no_timeout().max_output(CAP);
    let (base, through_agent) = match mode.strip_prefix("agent-") {
        Some(base) => (base, true),
        None => (mode, false),
    };
    match base {
        "run-capped" => {
            let r = c
                .run_with(command.into(), &opts)
                .await
                .unwrap_or_else(|e| fail(mode, e));
            run_seen(mode, &r, through_agent)
        }
        "run-head-tail" => {
            let r = c
                .run_with(command.into(), &opts.policy(LimitPolicy::HeadAndTail))
                .await
                .unwrap_or_else(|e| fail(mode, e));
            run_seen(mode, &r, through_agent)
        }
        "stream" => {
            let mut seen = 0;
            // Head and tail: every chunk is handed out, the result keeps the cap.
            let opts = opts.policy(LimitPolicy::HeadAndTail);
            let mut st = c.stream(command, &opts).unwrap_or_else(|e| fail(mode, e));
            while let Some(chunk) = st.next_chunk().await {
                seen += chunk.unwrap_or_else(|e| fail(mode, e)).data.len() as u64;
            }
            match st.result() {
                Some(r) => check_path(mode, r, through_agent),
                None => fail(mode, "the stream ended without a result"),
            }
            seen
        }
        "detached" => {
            let p = c
                .detach(command, &opts)
                .await
                .unwrap_or_else(|e| fail(mode, e));
            let r = p.wait(None).await.unwrap_or_else(|e| fail(mode, e));
            if r.exit_code != 0 {
                fail(mode, format!("exit code {}", r.exit_code));
            }
            check_path(mode, &r, through_agent);
            if bytes > CAP as u64 && !p.buffer_overflow() {
                fail(mode, "a flood did not overflow the ring buffer");
            }
            let snap = p.read();
            (snap.stdout.len() + snap.stderr.len()) as u64
        }
        "session" => {
            let s = c.session().await.unwrap_or_else(|e| fail(mode, e));
            let r = s
                .send_and_wait(command, Some(Duration::from_secs(600)))
                .await
                .unwrap_or_else(|e| fail(mode, e));
            if r.exit_code != 0 {
                fail(mode, format!("exit code {}", r.exit_code));
            }
            let seen = (r.stdout.len() + r.stderr.len()) as u64 + s.dropped_output_bytes();
            let _ = s.close().await;
            seen
        }
        other => fail("mode", format!("unknown mode {other:?}")),
    }
}

/// Warm `mode` up, then flood it; prints the peak before and after and the bytes seen.
async fn measure<S: Sandbox>(mode: &str, socket: &str, name: &str, bytes: u64) {
    let c = S::attach(socket, name)
        .await
        .unwrap_or_else(|e| fail("attach", e));
    if mode.starts_with("agent-") {
        match c.start_agent().await {
            Ok(AgentStatus::Up { .. }) => {}
            other => fail("start_agent", format!("{other:?}")),
        }
    } else {
        c.set_agent_mode(AgentMode::Off)
            .await
            .unwrap_or_else(|e| fail("set_agent_mode", e));
    }
    once(&c, mode, BLOCK).await;
    let before = hwm();
    let seen = once(&c, mode, bytes).await;
    let after = hwm();
    println!("before={before} after={after} seen={seen}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, adapter, mode, socket, name, bytes] = args.as_slice() else {
        fail("usage", "flood_child ADAPTER MODE SOCKET CONTAINER BYTES");
    };
    let bytes: u64 = bytes.parse().unwrap_or_else(|e| fail("BYTES", e));
    match adapter.as_str() {
        "blocking" => runtime::blocking(measure::<pocketdock_blocking::Container>(
            mode, socket, name, bytes,
        )),
        "tokio" => runtime::tokio(measure::<pocketdock_tokio::Container>(
            mode, socket, name, bytes,
        )),
        other => fail("ADAPTER", format!("unknown adapter {other:?}")),
    }
}
