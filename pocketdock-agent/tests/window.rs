//! Flow control: a command spawned with an output window sends no more than the host credited,
//! and a kill lifts the window so that its pipes drain.

mod support;

use pocketdock_proto::agent::{Frame, Kind};
use support::{sh, Agent};

/// Output bytes of command `id` in `f` (0 for other frames); panics on an early `Exit`.
fn output_of(f: &Frame, id: u32) -> usize {
    assert_eq!(f.id, id, "frame of an unexpected id: {f:?}");
    match f.kind {
        Kind::Started => 0,
        Kind::Stdout | Kind::Stderr => f.payload.len(),
        other => panic!("{other:?} before the window was used up: {f:?}"),
    }
}

#[test]
fn a_windowed_command_sends_its_window_then_waits_for_credit() {
    let mut agent = Agent::start();
    let mut req = sh("head -c 1000000 /dev/zero");
    req.window = Some(100_000);
    agent.spawn(1, &req);
    let mut got = 0;
    while got < 100_000 {
        got += output_of(&agent.frame(), 1);
    }
    assert_eq!(got, 100_000, "no frame goes past the window");
    // With no credit the command's output stays in its pipe: the pong comes next, not more.
    agent.send(Kind::Ping, 77, b"");
    let f = agent.frame();
    assert_eq!((f.kind, f.id), (Kind::Pong, 77), "{f:?}");
    agent.send(Kind::Credit, 1, &900_000u32.to_be_bytes());
    let rest = agent.finish(1, 0);
    assert_eq!(got + rest.stdout.len(), 1_000_000);
    assert_eq!(rest.exit().code, 0);
}

#[test]
fn a_kill_lifts_the_window_and_the_command_reports_its_end() {
    let mut agent = Agent::start();
    let mut req = sh("head -c 1000000 /dev/zero; sleep 30");
    req.window = Some(65_536);
    agent.spawn(2, &req);
    let mut got = 0;
    while got < 65_536 {
        got += output_of(&agent.frame(), 2);
    }
    agent.send(Kind::Signal, 2, &9u32.to_be_bytes());
    let rest = agent.finish(2, 0);
    assert_eq!(rest.exit().code, 137, "{rest:?}");
}

#[test]
fn credit_for_an_unknown_command_is_ignored() {
    let mut agent = Agent::start();
    agent.send(Kind::Credit, 999, &1u32.to_be_bytes());
    let out = agent.run(3, &sh("echo still here"));
    assert_eq!(out.stdout_str(), "still here\n");
}
