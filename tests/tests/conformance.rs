//! The conformance suite: every scenario of `pocketdock_tests::conformance` on every adapter
//! (blocking, tokio, smol, and smol under async-std) and both engines. Test names are
//! `<adapter>::<engine>::<scenario>`, so `cargo test --test conformance tokio::podman` runs one
//! cell and the summary counts them per adapter.

use pocketdock_tests::conformance_tests;

/// The scenarios every adapter runs, then the adapter's extra ones.
macro_rules! suite {
    ($adapter:ident, $sandbox:ty, $runtime:path $(; $($extra:ident),*)?) => {
        pocketdock_tests::with_every_scenario!(conformance_tests! {
            $adapter, $sandbox, $runtime; $($($extra,)*)?
        });
    };
}

suite!(
    blocking,
    pocketdock_blocking::Container,
    pocketdock_tests::conformance::runtime::blocking
);
suite!(
    tokio,
    pocketdock_tokio::Container,
    pocketdock_tests::conformance::runtime::tokio;
    dropped_run_future_kills_the_command,
    run_cancelled_at_any_moment_leaves_nothing,
    dropped_agent_run_kills_the_command,
    dropped_session_command_is_interrupted,
    concurrent_runs_on_one_container,
    long_stream_does_not_delay_other_calls
);
suite!(
    smol,
    pocketdock_smol::Container,
    pocketdock_tests::conformance::runtime::smol;
    dropped_run_future_kills_the_command,
    run_cancelled_at_any_moment_leaves_nothing,
    dropped_agent_run_kills_the_command,
    dropped_session_command_is_interrupted,
    concurrent_runs_on_one_container,
    long_stream_does_not_delay_other_calls
);
suite!(
    async_std,
    pocketdock_smol::Container,
    pocketdock_tests::conformance::runtime::async_std;
    dropped_run_future_kills_the_command,
    run_cancelled_at_any_moment_leaves_nothing,
    dropped_agent_run_kills_the_command,
    dropped_session_command_is_interrupted,
    concurrent_runs_on_one_container,
    long_stream_does_not_delay_other_calls
);

/// The command scenarios again, every command through the in-sandbox agent:
/// `agent_path::<adapter>::<engine>::<scenario>`.
mod agent_path {
    use pocketdock_tests::conformance_tests;

    macro_rules! agent_suite {
        ($adapter:ident, $sandbox:ty, $runtime:path $(; $($extra:ident),*)?) => {
            pocketdock_tests::with_every_agent_path_scenario!(conformance_tests! {
                @on pocketdock_tests::conformance::run_test_on_agent;
                $adapter, $sandbox, $runtime; $($($extra,)*)?
            });
        };
    }

    agent_suite!(
        blocking,
        pocketdock_blocking::Container,
        pocketdock_tests::conformance::runtime::blocking
    );
    agent_suite!(
        tokio,
        pocketdock_tokio::Container,
        pocketdock_tests::conformance::runtime::tokio;
        dropped_session_command_is_interrupted
    );
    agent_suite!(
        smol,
        pocketdock_smol::Container,
        pocketdock_tests::conformance::runtime::smol;
        dropped_session_command_is_interrupted
    );
    agent_suite!(
        async_std,
        pocketdock_smol::Container,
        pocketdock_tests::conformance::runtime::async_std;
        dropped_session_command_is_interrupted
    );
}
