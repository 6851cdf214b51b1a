//! A flood of output (a gigabyte of stdout and one of stderr, binary, no newline, interleaved)
//! in every mode, on the engine path and (for runs) through the in-sandbox agent: the host
//! process's peak memory stays under the cap plus a small constant.
//! Each mode runs in a child process of its own (`flood_child`), on the blocking adapter and on
//! tokio, which reports its peak resident set (`VmHWM` from /proc) before and after the flood.
#![expect(
    clippy::unwrap_used,
    reason = "test bodies: a failed unwrap is the test failure"
)]

use std::time::Duration;

use pocketdock_blocking::{ContainerSpec, Engine};
use pocketdock_tests::faults::{within, Names};
use pocketdock_tests::BUSYBOX_IMAGE;

/// Bytes of stdout, and as many of stderr, per flood.
const FLOOD: u64 = 1 << 30;
/// The cap each mode keeps (`flood_child`'s).
const CAP: u64 = 1 << 20;
/// What a mode may add to its peak beyond the cap of each stream: buffers of the driver and the
/// demultiplexer, allocator slack.
const SLACK: u64 = 16 << 20;

fn flood(adapter: &'static str, socket: &str, mode: &'static str) {
    let names = Names::new(socket);
    let c = Engine::new(socket)
        .create_container(
            ContainerSpec::new()
                .image(BUSYBOX_IMAGE)
                .name(names.name("flood")),
        )
        .unwrap();
    let (child_socket, name) = (socket.to_string(), c.name().to_string());
    let out = within(Duration::from_secs(600), mode, move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_flood_child"))
            .args([adapter, mode, &child_socket, &name, &FLOOD.to_string()])
            .output()
            .unwrap()
    });
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{adapter} {mode}: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |k: &str| -> u64 {
        text.split_whitespace()
            .find_map(|f| f.strip_prefix(k)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{adapter} {mode}: no {k} in {text:?}"))
    };
    let (before, after, seen) = (field("before"), field("after"), field("seen"));
    eprintln!(
        "flood {adapter} {mode} on {socket}: peak {} MiB (before the flood {} MiB), {} MiB of output seen",
        after >> 20,
        before >> 20,
        seen >> 20
    );
    assert!(
        after <= before + 2 * CAP + SLACK,
        "{adapter} {mode}: peak grew from {before} to {after} bytes"
    );
    // The flood really went through (a stopped run sees at least the cap; the ring buffer keeps
    // its capacity at most, and the child checked that it overflowed).
    let least = match mode.trim_start_matches("agent-") {
        "run-capped" => CAP,
        "detached" => CAP / 2,
        _ => 2 * FLOOD,
    };
    assert!(seen >= least, "{adapter} {mode}: only {seen} bytes seen");
    let mib = pocketdock_tests::mib;
    pocketdock_tests::report(format_args!(
        "flood {adapter} {} {mode} peak_mib={:.1} before_mib={:.1} seen_mib={:.0}",
        pocketdock_tests::engine_of(socket),
        mib(after),
        mib(before),
        mib(seen)
    ));
    drop(c);
}

macro_rules! stamp {
    ($adapter:ident; $($test:ident => $mode:literal),*) => {
        mod $adapter {
            mod podman {
                $(#[test] fn $test() {
                    crate::flood(stringify!($adapter), &pocketdock_tests::socket("podman"), $mode);
                })*
            }
            mod docker {
                $(#[test] fn $test() {
                    crate::flood(stringify!($adapter), &pocketdock_tests::socket("docker"), $mode);
                })*
            }
        }
    };
}

stamp!(blocking; run_capped => "run-capped", run_head_tail => "run-head-tail", stream => "stream",
    detached => "detached", session => "session", agent_run_capped => "agent-run-capped",
    agent_run_head_tail => "agent-run-head-tail", agent_stream => "agent-stream",
    agent_detached => "agent-detached");
stamp!(tokio; run_capped => "run-capped", run_head_tail => "run-head-tail", stream => "stream",
    detached => "detached", session => "session", agent_run_capped => "agent-run-capped",
    agent_run_head_tail => "agent-run-head-tail", agent_stream => "agent-stream",
    agent_detached => "agent-detached");
