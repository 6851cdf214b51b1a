//! The agent's automatic start on the blocking adapter, against real Podman and Docker: a
//! restart forgets the agent and the next command starts it again; the mode can be changed on
//! a handle. The agent binary is the one `POCKETDOCK_AGENT` names.
#![expect(
    clippy::unwrap_used,
    reason = "the scenarios are test bodies run by per_engine!, where a failed unwrap is the test failure"
)]

use std::time::{Duration, Instant};

use pocketdock_blocking::{AgentMode, AgentStatus, Container, ContainerSpec, Engine};
use pocketdock_tests::{per_engine, unique_name, TEST_IMAGE};

fn up_within(c: &Container, limit: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if matches!(c.agent_status(), AgentStatus::Up { .. }) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn a_restart_forgets_the_agent_and_the_next_command_starts_it(socket: &str) {
    let mut c = Engine::new(socket)
        .create_container(
            ContainerSpec::new()
                .image(TEST_IMAGE)
                .name(unique_name("h15-auto")),
        )
        .unwrap();
    assert_eq!(c.agent_mode(), AgentMode::Auto);
    assert!(c.run("true").unwrap().usage.is_none());
    assert!(
        up_within(&c, Duration::from_secs(60)),
        "{:?}",
        c.agent_status()
    );
    assert!(c.run("true").unwrap().usage.is_some());

    c.reboot(false).unwrap();
    assert_eq!(
        c.agent_status(),
        AgentStatus::Off,
        "the old agent is forgotten"
    );
    let first = c.run("echo again").unwrap();
    assert_eq!(
        (first.stdout_str().as_ref(), first.usage),
        ("again\n", None)
    );
    assert!(
        up_within(&c, Duration::from_secs(60)),
        "{:?}",
        c.agent_status()
    );
    assert!(c.run("true").unwrap().usage.is_some());

    // Off on a live handle: the agent goes, commands take the engine path, the reason says so.
    c.set_agent_mode(AgentMode::Off).unwrap();
    assert!(c.run("true").unwrap().usage.is_none());
    assert!(
        c.command_path().reason.contains("turned off"),
        "{}",
        c.command_path()
    );
    // On: started at once.
    c.set_agent_mode(AgentMode::On).unwrap();
    assert!(matches!(c.agent_status(), AgentStatus::Up { .. }));
    assert!(c.info().unwrap().agent.is_some_and(|p| p.is_agent()));
    assert!(c.run("true").unwrap().usage.is_some());
}

fn a_handle_by_name_starts_its_own_agent_after_its_first_command(socket: &str) {
    let engine = Engine::new(socket);
    let made = engine
        .create_container(
            ContainerSpec::new()
                .image(TEST_IMAGE)
                .name(unique_name("h15-auto-attach"))
                .agent(AgentMode::Off),
        )
        .unwrap();
    assert!(made.run("true").unwrap().usage.is_none());
    let by_name = engine.attach(made.name()).unwrap();
    assert_eq!(by_name.agent_status(), AgentStatus::Off);
    assert!(by_name.run("true").unwrap().usage.is_none());
    assert!(
        up_within(&by_name, Duration::from_secs(60)),
        "{:?}",
        by_name.agent_status()
    );
    assert!(by_name.run("true").unwrap().usage.is_some());
    assert!(
        made.run("true").unwrap().usage.is_none(),
        "the other handle keeps its mode"
    );
}

per_engine!(
    a_restart_forgets_the_agent_and_the_next_command_starts_it,
    a_handle_by_name_starts_its_own_agent_after_its_first_command,
);
