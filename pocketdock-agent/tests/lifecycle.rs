//! The agent's own life on this host: signals to process groups, orphans it reaps as a
//! subreaper, and what it does when the host goes away or breaks the protocol.

mod support;

use pocketdock_proto::agent::{ExitReport, Kind};
use support::{children_of, eventually, group_members, proc_stat, sh, Agent, Heard};

/// Spawn a shell that leaves two sleeps in its group; the group's members once both run.
fn sleeping_tree(agent: &mut Agent, id: u32) -> (u32, Vec<u32>) {
    agent.spawn(id, &sh("sleep 100 & sleep 100"));
    let started = agent.frame();
    assert_eq!(
        (started.kind, started.id),
        (Kind::Started, id),
        "{started:?}"
    );
    let pgid = started.payload_u32().expect("pid");
    let mut members = Vec::new();
    assert!(
        eventually(|| {
            members = group_members(pgid);
            members.len() >= 2 && members.iter().any(|p| *p != pgid)
        }),
        "the tree of {pgid} never showed two processes: {members:?}"
    );
    (pgid, members)
}

fn all_gone(pids: &[u32]) -> bool {
    pids.iter().all(|p| proc_stat(*p).is_none())
}

#[test]
fn a_signal_reaches_the_whole_process_group() {
    let mut agent = Agent::start();
    let (pgid, members) = sleeping_tree(&mut agent, 1);
    agent.send(Kind::Signal, 1, &15u32.to_be_bytes());
    let out = agent.finish(1, pgid);
    let exit = out.exit();
    assert_eq!((exit.code, exit.signal), (143, Some(15)));
    // Every member is gone, reaped (not a zombie): the leader by the agent, the background
    // sleep as an orphan the agent inherited.
    assert!(
        eventually(|| all_gone(&members)),
        "group {pgid} left {members:?}: {:?}",
        group_members(pgid)
    );
    assert!(
        eventually(|| children_of(agent.pid()).is_empty()),
        "{:?}",
        children_of(agent.pid())
    );
}

#[test]
fn signals_to_ids_that_do_not_run_are_ignored() {
    let mut agent = Agent::start();
    agent.send(Kind::Signal, 404, &9u32.to_be_bytes());
    // A number no signal has: kill refuses it, the agent carries on.
    agent.send(Kind::Signal, 404, &u32::MAX.to_be_bytes());
    agent.send(Kind::Ping, 1, b"");
    assert_eq!(agent.frame().kind, Kind::Pong);
}

#[test]
fn closing_the_agents_stdin_kills_every_live_group_and_the_agent_exits_0() {
    let mut agent = Agent::start();
    let (_, first) = sleeping_tree(&mut agent, 1);
    let (_, second) = sleeping_tree(&mut agent, 2);
    agent.close_stdin();
    let status = agent.wait();
    assert_eq!(status.code(), Some(0), "{status:?}");
    // The agent reaped them before it exited: not even zombies are left.
    let everyone: Vec<u32> = first.iter().chain(&second).copied().collect();
    let left: Vec<_> = everyone
        .iter()
        .filter_map(|p| proc_stat(*p).map(|s| (p, s)))
        .collect();
    assert!(left.is_empty(), "left after the agent exited: {left:?}");
    // While the host still reads, each killed command is reported before the stream ends
    // (between frames).
    let mut killed = Vec::new();
    loop {
        match agent.hear() {
            Heard::Frame(f) => {
                assert_eq!(f.kind, Kind::Exit, "{f:?}");
                let exit: ExitReport = serde_json::from_slice(&f.payload).expect("exit JSON");
                assert_eq!((exit.code, exit.signal), (137, Some(9)), "{exit:?}");
                killed.push(f.id);
            }
            Heard::End => break,
            Heard::Broken(e) => panic!("{e}"),
        }
    }
    killed.sort_unstable();
    assert_eq!(killed, [1, 2]);
}

#[test]
fn orphans_are_reparented_to_the_agent_and_reaped() {
    let mut agent = Agent::start();
    // The shell ends at once; its child lives on without the command's pipes.
    let out = agent.run(1, &sh("sleep 100 >/dev/null 2>&1 & echo $!"));
    assert_eq!(out.exit().code, 0);
    let orphan: u32 = out.stdout_str().trim().parse().expect("orphan pid");
    let (state, parent, _) = proc_stat(orphan).expect("the orphan runs");
    assert_eq!(
        parent,
        agent.pid(),
        "the orphan (state {state}) went to {parent}, not the agent"
    );
    let killed = std::process::Command::new("kill")
        .args(["-9", &orphan.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert!(
        eventually(|| proc_stat(orphan).is_none()),
        "orphan {orphan} not reaped: {:?}",
        proc_stat(orphan)
    );

    // The same with the orphan keeping the output open: the Exit waits for it, and nothing
    // is left behind, not even a zombie.
    let out = agent.run(2, &sh("sleep 0.2 & exit 0"));
    assert_eq!(out.exit().code, 0);
    assert!(
        eventually(|| children_of(agent.pid()).is_empty()),
        "children of the agent left: {:?}",
        children_of(agent.pid())
    );
}

#[test]
fn malformed_input_ends_the_stream_kills_the_groups_and_exits_non_zero() {
    let frame = |kind: Kind, payload: &[u8]| {
        let mut buf = bytes::BytesMut::new();
        pocketdock_proto::agent::encode_frame(&mut buf, kind, 3, payload);
        buf.to_vec()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("length below a header", vec![0, 0, 0, 2, 0x05, 0, 0, 0, 1]),
        (
            "length past the bound",
            vec![0xff, 0, 0, 0, 0x05, 0, 0, 0, 1],
        ),
        ("unknown kind", vec![0, 0, 0, 5, 0x42, 0, 0, 0, 1]),
        (
            "spawn with bad JSON",
            frame(Kind::Spawn, b"{\"argv\": nope"),
        ),
        ("signal of two bytes", frame(Kind::Signal, b"\x00\x09")),
        ("a frame only the agent sends", frame(Kind::Stdout, b"x")),
    ];
    for (what, bytes) in cases {
        let mut agent = Agent::start();
        let (pgid, members) = sleeping_tree(&mut agent, 1);
        agent.write_raw(&bytes);
        // Nothing more is written: the stream ends right after the bad frame, cleanly.
        match agent.hear() {
            Heard::End => {}
            other => panic!("{what}: the agent said {other:?} after malformed input"),
        }
        let status = agent.wait();
        assert!(
            status.code().is_some_and(|c| c != 0),
            "{what}: the agent exited with {status:?}"
        );
        assert!(
            all_gone(&members),
            "{what}: group {pgid} left {:?}",
            group_members(pgid)
        );
    }
}

#[test]
fn a_stream_that_ends_inside_a_frame_is_malformed() {
    let mut agent = Agent::start();
    agent.write_raw(&[0, 0, 0, 9, 0x05, 0, 0]);
    agent.close_stdin();
    assert!(matches!(agent.hear(), Heard::End));
    assert_eq!(agent.wait().code(), Some(2));
}

#[test]
fn a_host_that_stops_reading_is_gone_the_agent_kills_its_groups_and_exits_0() {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};

    use pocketdock_proto::agent::{encode_frame, FrameDecoder};

    let mut child = Command::new(support::agent_program())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the agent");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut frames = Vec::new();
    let mut decoder = FrameDecoder::new();
    let mut read_frames = |stdout: &mut std::process::ChildStdout, want: usize| {
        let mut buf = [0u8; 4096];
        while frames.len() < want {
            let n = stdout.read(&mut buf).expect("read the agent");
            assert!(n > 0, "the agent's stream ended after {frames:?}");
            decoder.feed(&buf[..n]);
            while let Some(f) = decoder.next_frame().expect("frame") {
                frames.push(f);
            }
        }
        frames.clone()
    };
    let mut buf = bytes::BytesMut::new();
    let spawn = serde_json::to_vec(&sh("sleep 100 & sleep 100")).expect("json");
    encode_frame(&mut buf, Kind::Spawn, 1, &spawn);
    stdin.write_all(&buf).expect("spawn");
    let seen = read_frames(&mut stdout, 2);
    assert_eq!(
        (seen[0].kind, seen[1].kind),
        (Kind::Hello, Kind::Started),
        "{seen:?}"
    );
    let pgid = seen[1].payload_u32().expect("pid");
    let mut members = Vec::new();
    assert!(eventually(|| {
        members = group_members(pgid);
        members.len() >= 2
    }));
    // The host stops reading; the next frame the agent writes meets a broken pipe.
    drop(stdout);
    buf.clear();
    encode_frame(&mut buf, Kind::Ping, 2, b"");
    stdin.write_all(&buf).expect("ping");
    let mut status = None;
    assert!(eventually(|| {
        status = child.try_wait().expect("wait");
        status.is_some()
    }));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{status:?}");
    assert!(
        all_gone(&members),
        "group {pgid} left {:?}",
        group_members(pgid)
    );
}
