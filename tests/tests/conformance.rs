//! The conformance suite: every scenario of `pocketdock_tests::conformance` on every adapter
//! (blocking, tokio, smol, and smol under async-std) and both engines. Test names are
//! `<adapter>::<engine>::<scenario>`, so `cargo test --test conformance tokio::podman` runs one
//! cell and the summary counts them per adapter.

use pocketdock_tests::conformance_tests;

/// The scenarios every adapter runs, then the adapter's extra ones.
macro_rules! suite {
    ($adapter:ident, $sandbox:ty, $runtime:path $(; $($extra:ident),*)?) => {
        conformance_tests!($adapter, $sandbox, $runtime;
            ping_and_version,
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
            spawn_runs_unwatched,
            ring_buffer_overflow,
            info_reports_live_state,
            limits_read_back_at_create,
            reboot_in_place_and_fresh,
            snapshot_makes_an_image,
            name_clash_is_refused,
            invalid_input_is_refused_before_the_engine,
            missing_image_and_vanished_container,
            attach_by_name,
            persistent_shutdown_only_stops,
            persistence_in_a_project,
            files_round_trip,
            read_only_destination_is_refused,
            agent_path_keeps_the_contract,
            agent_starts_on_its_own_or_says_why_not,
            tty_program,
            images_build_export_import,
            session_state_and_boundaries,
            pool_hands_out_fresh_agent_ready_sandboxes,
            $($($extra),*)?
        );
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
