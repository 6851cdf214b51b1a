//! Commands through the in-sandbox agent on the blocking adapter, against real Podman and
//! Docker. The agent binary is the one `POCKETDOCK_AGENT` names (scripts/test.sh builds it
//! with scripts/build-agent.sh); without it these tests fail, they never skip.
#![expect(
    clippy::unwrap_used,
    reason = "the scenarios are test bodies run by per_engine!, where a failed unwrap is the test failure"
)]

use std::time::Duration;

use pocketdock_blocking::{AgentStatus, ContainerSpec, Engine, Error, RunOptions};
use pocketdock_tests::{per_engine, unique_name, BUSYBOX_IMAGE, TEST_IMAGE};

fn sandbox_of(socket: &str, image: &str, tag: &str) -> pocketdock_blocking::Container {
    Engine::new(socket)
        .create_container(ContainerSpec::new().image(image).name(unique_name(tag)))
        .expect("create")
}

/// Start the agent on `c`, failing the test with the reason when it cannot start.
fn with_agent(c: &pocketdock_blocking::Container) -> u32 {
    match c.start_agent() {
        Ok(AgentStatus::Up { pid, .. }) => pid,
        other => panic!("the agent did not start: {other:?}"),
    }
}

/// How many processes in the sandbox run `needle` (read from /proc through the engine path of
/// a fresh handle, so the agent is not asked about itself).
fn count_processes(socket: &str, id: &str, needle: &str) -> usize {
    let plain = Engine::new(socket).attach(id).unwrap();
    let r = plain
        .exec(
            &[
                "sh",
                "-c",
                "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done",
            ],
            &RunOptions::new(),
        )
        .unwrap();
    r.stdout_str()
        .lines()
        .filter(|l| l.trim_end() == needle)
        .count()
}

fn commands_give_the_results_of_the_engine_path(socket: &str) {
    let c = sandbox_of(socket, TEST_IMAGE, "agent");
    assert_eq!(c.agent_status(), AgentStatus::Off);
    let pid = with_agent(&c);
    assert!(pid > 1);
    let r = c
        .run("echo out; echo err >&2; printf 'tail'; exit 42")
        .unwrap();
    assert_eq!(
        (
            r.stdout_str().as_ref(),
            r.stderr_str().as_ref(),
            r.exit_code
        ),
        ("out\ntail", "err\n", 42)
    );
    let usage = r.usage.expect("usage figures from the agent");
    assert!(usage.peak_rss_bytes > 0 && !usage.oom_killed, "{usage:?}");
    let argv = c
        .exec(
            &["printf", "%s|", "a b", "$(touch /tmp/pwned)"],
            &RunOptions::new().env("K", "v").workdir("/tmp"),
        )
        .unwrap();
    assert_eq!(argv.stdout_str(), "a b|$(touch /tmp/pwned)|");
    let env = c
        .run_with(
            "echo $K $(pwd)",
            &RunOptions::new().env("K", "v").workdir("/tmp"),
        )
        .unwrap();
    assert_eq!(env.stdout_str(), "v /tmp\n");
    // Binary output, byte-exact, across many frames.
    let big = c
        .run("head -c 3000000 /dev/urandom | tee /tmp/big | md5sum; md5sum < /tmp/big")
        .unwrap();
    let out = big.stdout_str();
    let sums: Vec<&str> = out.lines().collect();
    assert_eq!(sums.len(), 2);
    assert_eq!(sums[0], sums[1]);
    let bytes = c.run("head -c 3000000 /dev/zero | tr '\\0' 'x'").unwrap();
    assert_eq!(bytes.stdout.len(), 3_000_000);
    assert!(bytes.stdout.iter().all(|b| *b == b'x'));
    // A missing program, as a shell reports it.
    assert_eq!(
        c.exec(&["no-such-program"], &RunOptions::new())
            .unwrap()
            .exit_code,
        127
    );
    assert!(matches!(c.agent_status(), AgentStatus::Up { .. }));
}

fn a_timeout_kills_the_whole_tree_and_keeps_the_output(socket: &str) {
    let c = sandbox_of(socket, TEST_IMAGE, "agent-to");
    with_agent(&c);
    let r = c
        .run_with(
            "echo started; sleep 301 & sleep 302",
            &RunOptions::new().timeout(Duration::from_secs(1)),
        )
        .unwrap();
    assert!(r.timed_out, "{r:?}");
    assert_eq!(r.exit_code, -1);
    assert_eq!(r.stdout_str(), "started\n");
    assert_eq!(count_processes(socket, c.id(), "sleep 301"), 0);
    assert_eq!(count_processes(socket, c.id(), "sleep 302"), 0);
    // The cap with the default policy stops the command.
    let capped = c
        .run_with(
            "head -c 1000000 /dev/zero; sleep 303",
            &RunOptions::new().max_output(1000),
        )
        .unwrap();
    assert!(capped.truncated && capped.exit_code == -1, "{capped:?}");
    assert_eq!(capped.stdout.len(), 1000);
    assert_eq!(count_processes(socket, c.id(), "sleep 303"), 0);
}

fn commands_run_concurrently_on_one_connection(socket: &str) {
    let c = sandbox_of(socket, TEST_IMAGE, "agent-par");
    with_agent(&c);
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..32)
            .map(|i| {
                let c = &c;
                s.spawn(move || c.run(&format!("sleep 0.2; echo {i}")).unwrap())
            })
            .collect();
        for (i, h) in runs.into_iter().enumerate() {
            let r = h.join().unwrap();
            assert_eq!(r.stdout_str(), format!("{i}\n"));
        }
    });
}

fn the_static_agent_runs_in_an_image_without_a_c_library(socket: &str) {
    let c = sandbox_of(socket, BUSYBOX_IMAGE, "agent-bb");
    with_agent(&c);
    let r = c.run("echo from busybox").unwrap();
    assert_eq!(r.stdout_str(), "from busybox\n");
    assert!(r.usage.is_some());
    // A wait too long for the clock is no deadline, not a panic.
    c.agent_ping(std::time::Duration::MAX).unwrap();
}

fn a_killed_agent_fails_its_command_and_the_engine_path_takes_over(socket: &str) {
    let c = sandbox_of(socket, TEST_IMAGE, "agent-kill");
    let pid = with_agent(&c);
    // A hostile command kills the agent that runs it.
    let r = c.run(&format!("kill -9 {pid}; sleep 5"));
    assert!(matches!(r, Err(Error::Agent(_))), "{r:?}");
    assert!(matches!(c.agent_status(), AgentStatus::Unavailable(_)));
    let after = c.run("echo engine path").unwrap();
    assert_eq!(after.stdout_str(), "engine path\n");
    assert!(after.usage.is_none(), "the engine path measures nothing");
    // And the agent can be started again.
    with_agent(&c);
    assert!(c.run("true").unwrap().usage.is_some());
}

per_engine!(
    commands_give_the_results_of_the_engine_path,
    a_timeout_kills_the_whole_tree_and_keeps_the_output,
    commands_run_concurrently_on_one_connection,
    the_static_agent_runs_in_an_image_without_a_c_library,
    a_killed_agent_fails_its_command_and_the_engine_path_takes_over,
);
