//! The agent on this host: hello, commands started, their output and their exit, spoken to in
//! frames exactly as the host speaks to it in a sandbox.

mod support;

use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;

use pocketdock_proto::agent::{Kind, StatReply, AGENT_PROTOCOL};
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

#[test]
fn a_stat_says_what_lstat_found_without_following_a_final_link() {
    let mut agent = Agent::start();
    let dir = std::env::temp_dir().join(format!("pd-agent-stat-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory");
    let file = dir.join("f");
    std::fs::write(&file, b"12345").expect("a file");
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o751))
        .expect("its mode");
    std::os::unix::fs::symlink("f", dir.join("l")).expect("a link");
    let mut ask = |id: u32, path: &std::path::Path| {
        agent.send(Kind::Stat, id, path.to_string_lossy().as_bytes());
        let f = agent.frame();
        assert_eq!((f.kind, f.id), (Kind::StatReply, id));
        serde_json::from_slice::<StatReply>(&f.payload).expect("a stat reply")
    };
    let r = ask(1, &file);
    assert_eq!(
        (r.mode, r.size, r.missing, r.failed),
        (0o100_751, 5, false, None)
    );
    let r = ask(2, &dir.join("l"));
    assert_eq!(
        (r.mode & 0o170_000, r.link_target.as_str()),
        (0o120_000, "f")
    );
    assert_eq!(ask(3, &dir).mode & 0o170_000, 0o040_000);
    assert!(ask(4, &dir.join("none")).missing);
    assert!(ask(5, &file.join("below")).missing, "a path through a file");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// Deterministic pseudo-random bytes (xorshift), so a lost or moved byte shows.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

/// A host file removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn with(tag: &str, content: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!("pdagent-{tag}-{}", std::process::id()));
        std::fs::write(&path, content).expect("write temp file");
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn output_larger_than_a_frame_is_split_and_arrives_byte_exact() {
    use pocketdock_proto::agent::MAX_DATA;
    let data = random_bytes(3 * MAX_DATA + 12_345, 7);
    let file = TempFile::with("large", &data);
    let mut agent = Agent::start();
    let out = agent.run(9, &argv(&["cat", file.path()]));
    assert_eq!(out.exit().code, 0);
    assert_eq!(out.stdout.len(), data.len());
    assert!(out.stdout == data, "stdout differs from the file");
    // Every frame is at most MAX_DATA (checked as they arrive), so at least this many.
    assert!(
        out.frame_sizes.len() >= data.len().div_ceil(MAX_DATA),
        "{:?}",
        out.frame_sizes
    );
}

#[test]
fn exit_comes_after_all_output_even_when_the_leader_ends_first() {
    // The shell exits at once and is reaped; its background child writes everything later
    // through the inherited pipe. The Exit frame must wait for that output's end.
    let data = random_bytes(200_000, 3);
    let file = TempFile::with("late", &data);
    let mut agent = Agent::start();
    let script = format!("(sleep 0.3; cat '{}'; echo done >&2) & exit 5", file.path());
    let out = agent.run(4, &sh(&script));
    assert_eq!(out.exit().code, 5);
    assert!(
        out.stdout == data,
        "stdout: {} of {} bytes before Exit",
        out.stdout.len(),
        data.len()
    );
    assert_eq!(out.stderr_str(), "done\n");
}

#[test]
fn stdin_is_fed_in_order_and_closed_on_request() {
    let mut agent = Agent::start();
    let mut req = argv(&["cat"]);
    req.stdin = true;
    agent.spawn(1, &req);
    agent.send(Kind::Stdin, 1, b"hello ");
    agent.send(Kind::Stdin, 1, b"");
    agent.send(Kind::Stdin, 1, b"world");
    agent.send(Kind::StdinClose, 1, b"");
    // Frames for the closed stdin, and for ids that do not run, are ignored.
    agent.send(Kind::Stdin, 1, b"late");
    agent.send(Kind::Stdin, 77, b"nobody");
    agent.send(Kind::StdinClose, 77, b"");
    let out = agent.collect(&[1]).remove(&1).unwrap_or_default();
    assert_eq!(out.stdout_str(), "hello world");
    assert_eq!(out.exit().code, 0);
}

#[test]
fn stdin_larger_than_the_queue_goes_through_byte_exact() {
    // More than the agent queues per command and the pipes hold: the host's writer and the
    // agent's output must both keep moving.
    let data = random_bytes(5 * 1024 * 1024 + 17, 11);
    let mut agent = Agent::start();
    let mut req = argv(&["cat"]);
    req.stdin = true;
    agent.spawn(2, &req);
    let mut stdin = agent.take_stdin();
    let sent = data.clone();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut buf = bytes::BytesMut::new();
        for chunk in sent.chunks(100_000) {
            buf.clear();
            pocketdock_proto::agent::encode_frame(&mut buf, Kind::Stdin, 2, chunk);
            stdin.write_all(&buf).expect("stdin frame");
        }
        buf.clear();
        pocketdock_proto::agent::encode_frame(&mut buf, Kind::StdinClose, 2, b"");
        stdin.write_all(&buf).expect("stdin close");
        // Kept open: closing it would tell the agent the host is gone.
        stdin
    });
    let out = agent.collect(&[2]).remove(&2).unwrap_or_default();
    let _stdin = writer.join().expect("writer");
    assert_eq!(out.exit().code, 0);
    assert_eq!(out.stdout.len(), data.len());
    assert!(out.stdout == data, "stdin came back altered");
}

#[test]
fn without_stdin_a_command_reads_dev_null() {
    let mut agent = Agent::start();
    let out = agent.run(1, &argv(&["cat"]));
    agent.send(Kind::Stdin, 1, b"ignored");
    assert_eq!((out.stdout_str(), out.exit().code), (String::new(), 0));
    agent.send(Kind::Ping, 2, b"");
    assert_eq!(agent.frame().kind, Kind::Pong);
}

#[test]
fn spawns_that_cannot_start_fail_with_a_reason_and_no_exit() {
    let mut agent = Agent::start();
    let mut bad_cwd = argv(&["pwd"]);
    bad_cwd.cwd = Some("/nonexistent-pdagent-dir".into());
    let mut bad_user = argv(&["id"]);
    bad_user.user = Some("nobody".into());
    let mut bad_env = argv(&["env"]);
    bad_env.env = vec!["NO_EQUALS_SIGN".into()];
    let cases = [
        (
            argv(&["/nonexistent/pdagent-program"]),
            "/nonexistent/pdagent-program",
        ),
        (
            argv(&["pdagent-no-such-program"]),
            "pdagent-no-such-program",
        ),
        (argv(&[]), "empty argv"),
        (bad_cwd, "pwd"),
        (bad_user, "numeric"),
        (bad_env, "KEY=VALUE"),
    ];
    for (id, (req, says)) in (1..).zip(cases) {
        let out = agent.run(id, &req);
        let reason = out
            .spawn_failed
            .clone()
            .unwrap_or_else(|| panic!("{req:?} started: {out:?}"));
        assert!(reason.contains(says), "{req:?}: {reason}");
    }
    // Nothing else follows a failure: the next frame answers the next request.
    agent.send(Kind::Ping, 99, b"");
    let f = agent.frame();
    assert_eq!((f.kind, f.id), (Kind::Pong, 99));
}

#[test]
fn an_id_that_still_runs_cannot_be_spawned_again_and_is_free_after_its_exit() {
    let mut agent = Agent::start();
    let mut cat = argv(&["cat"]);
    cat.stdin = true;
    agent.spawn(5, &cat);
    let started = agent.frame();
    assert_eq!((started.kind, started.id), (Kind::Started, 5));
    agent.spawn(5, &argv(&["echo", "second"]));
    let refused = agent.frame();
    assert_eq!(
        (refused.kind, refused.id),
        (Kind::SpawnFailed, 5),
        "{refused:?}"
    );
    assert!(String::from_utf8_lossy(&refused.payload).contains("still running"));
    // The first command is untouched: it still takes stdin and ends normally.
    agent.send(Kind::Stdin, 5, b"first");
    agent.send(Kind::StdinClose, 5, b"");
    let mut rest = Vec::new();
    loop {
        let f = agent.frame();
        assert_eq!(f.id, 5, "{f:?}");
        let done = f.kind == Kind::Exit;
        rest.push(f);
        if done {
            break;
        }
    }
    let stdout: Vec<u8> = rest
        .iter()
        .filter(|f| f.kind == Kind::Stdout)
        .flat_map(|f| f.payload.to_vec())
        .collect();
    assert_eq!(stdout, b"first");
    let out = agent.run(5, &argv(&["echo", "again"]));
    assert_eq!(
        (out.stdout_str(), out.exit().code),
        ("again\n".to_owned(), 0)
    );
}

#[test]
fn env_cwd_and_a_numeric_user_apply_to_the_command() {
    let mut agent = Agent::start();
    assert_eq!(
        agent.hello.uid, 0,
        "these tests run as root, as a sandbox's default user"
    );
    let mut req = sh(r#"pwd; echo "$PD_AGENT_X"; id -u; id -g"#);
    req.cwd = Some("/tmp".into());
    req.env = vec!["PD_AGENT_X=hi there=1".into()];
    req.user = Some("65534:65533".into());
    let out = agent.run(1, &req);
    assert_eq!(
        out.stdout_str(),
        "/tmp\nhi there=1\n65534\n65533\n",
        "{}",
        out.stderr_str()
    );
    // A uid alone takes its primary group from /etc/passwd.
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    let nobody_gid = passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.get(2) == Some(&"65534")).then(|| f.get(3).map(|g| (*g).to_owned()))?
        })
        .expect("uid 65534 in /etc/passwd");
    let mut req = sh("id -u; id -g");
    req.user = Some("65534".into());
    let out = agent.run(2, &req);
    assert_eq!(out.stdout_str(), format!("65534\n{nobody_gid}\n"));
}

#[test]
fn thirty_two_concurrent_commands_all_complete_with_their_own_output() {
    let mut agent = Agent::start();
    let script = r#"i=0; while [ $i -lt 300 ]; do echo "$0 line $i"; i=$((i+1)); done; echo "$0 err" >&2; exit $1"#;
    let ids: Vec<u32> = (100..132).collect();
    for id in &ids {
        let tag = format!("cmd{id}");
        let code = (id % 5).to_string();
        agent.spawn(*id, &argv(&["sh", "-c", script, &tag, &code]));
    }
    let outcomes = agent.collect(&ids);
    for (id, out) in outcomes {
        let expected = (0..300).fold(String::new(), |mut s, i| {
            writeln!(s, "cmd{id} line {i}").expect("write to a String");
            s
        });
        assert_eq!(out.stdout_str(), expected, "command {id}");
        assert_eq!(out.stderr_str(), format!("cmd{id} err\n"), "command {id}");
        assert_eq!(out.exit().code, i64::from(id % 5), "command {id}");
    }
}

#[test]
fn commands_get_the_default_sigpipe_although_the_agent_ignores_it() {
    // With SIGPIPE ignored, `yes` would see EPIPE and complain on stderr instead of dying
    // quietly when `head` is done.
    let mut agent = Agent::start();
    let out = agent.run(1, &sh("yes | head -n 2"));
    assert_eq!(out.stdout_str(), "y\ny\n");
    assert_eq!(out.stderr_str(), "");
    assert_eq!(out.exit().code, 0);
}

#[test]
fn commands_are_the_oom_killers_choice_before_the_agent() {
    let mut agent = Agent::start();
    let own: i32 = std::fs::read_to_string(format!("/proc/{}/oom_score_adj", agent.pid()))
        .expect("the agent's oom_score_adj")
        .trim()
        .parse()
        .expect("a number");
    let out = agent.run(1, &sh("cat /proc/self/oom_score_adj"));
    let command: i32 = out.stdout_str().trim().parse().expect("a number");
    assert!(
        command >= 500 && command > own,
        "command {command}, agent {own}"
    );
}

#[test]
fn each_command_leads_its_own_session_and_group() {
    let mut agent = Agent::start();
    // Fields 5 and 6 of /proc/<pid>/stat (after the command name) are the group and session.
    let out = agent.run(
        1,
        &sh("read -r st < /proc/$$/stat; set -- ${st##*) }; echo $$ $3 $4"),
    );
    let text = out.stdout_str();
    let ids: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(ids.len(), 3, "{text:?}");
    assert!(
        ids[0] == ids[1] && ids[1] == ids[2],
        "pid, group and session differ: {text:?}"
    );
    assert_ne!(ids[2], agent.pid().to_string(), "the agent's own session");
}
