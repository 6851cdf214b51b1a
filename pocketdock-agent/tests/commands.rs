//! The agent on this host: hello, commands started, their output and their exit, spoken to in
//! frames exactly as the host speaks to it in a sandbox.

mod support;

use std::os::unix::fs::MetadataExt;

use pocketdock_proto::agent::{Kind, AGENT_PROTOCOL};
use support::{argv, sh, Agent};

#[test]
fn the_first_frame_is_hello_with_protocol_version_and_ids() {
    let agent = Agent::start();
    let me = std::fs::metadata("/proc/self").expect("/proc/self");
    assert_eq!(agent.hello.protocol, AGENT_PROTOCOL);
    assert_eq!(agent.hello.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(agent.hello.pid, agent.pid());
    assert_eq!((agent.hello.uid, agent.hello.gid), (me.uid(), me.gid()));
}

#[test]
fn echo_runs_and_reports_its_output_and_exit() {
    let mut agent = Agent::start();
    let out = agent.run(1, &argv(&["echo", "hello", "world"]));
    assert!(out.pid.is_some_and(|p| p > 1), "{out:?}");
    assert_eq!(out.stdout_str(), "hello world\n");
    assert_eq!(out.stderr_str(), "");
    assert_eq!((out.exit().code, out.exit().signal), (0, None));
}

#[test]
fn stdout_and_stderr_stay_apart() {
    let mut agent = Agent::start();
    let out = agent.run(3, &sh("echo out; echo err >&2; echo out2; echo err2 >&2"));
    assert_eq!(out.stdout_str(), "out\nout2\n");
    assert_eq!(out.stderr_str(), "err\nerr2\n");
    assert_eq!(out.exit().code, 0);
}

#[test]
fn exit_codes_and_deaths_by_signal_are_reported_as_a_shell_would() {
    let mut agent = Agent::start();
    let out = agent.run(1, &sh("exit 7"));
    assert_eq!((out.exit().code, out.exit().signal), (7, None));
    let out = agent.run(2, &sh("kill -TERM $$"));
    assert_eq!((out.exit().code, out.exit().signal), (143, Some(15)));
    let out = agent.run(3, &sh("kill -KILL $$"));
    assert_eq!((out.exit().code, out.exit().signal), (137, Some(9)));
    assert!(!out.exit().oom_killed, "a plain SIGKILL is no OOM kill");
}

#[test]
fn ping_is_answered_with_pong_of_the_same_id() {
    let mut agent = Agent::start();
    agent.send(Kind::Ping, 42, b"");
    let f = agent.frame();
    assert_eq!((f.kind, f.id, f.payload.len()), (Kind::Pong, 42, 0));
}
