//! Engines on another machine: the conformance suite over tcp with mutual TLS (a second
//! Docker) and over ssh (a second Podman, and the same Docker), started by
//! `scripts/remote-engines.sh` in a network namespace of their own; and the refusals, each a
//! typed error that names its cause. Test names are `<adapter>::<engine>::<scenario>`.

use std::path::Path;

use pocketdock_blocking::{Engine, EngineEndpoint, Error, RemoteCause};
use pocketdock_proto::address::{EngineAddress, Route, TlsFiles};
use pocketdock_proto::engine::{Located, SocketSource};
use pocketdock_tests::{remote_setup, remote_var};

/// One `#[test]` per scenario on `$adapter` against the remote engine `$engine`.
macro_rules! remote_suite {
    ($adapter:ident, $sandbox:ty, $runtime:path; $engine:ident; $($scenario:ident),* $(,)?) => {
        mod $engine {
            $(
                #[test]
                fn $scenario() {
                    pocketdock_tests::remote_setup();
                    pocketdock_tests::conformance::run_test(stringify!($engine), $runtime, |ctx| {
                        pocketdock_tests::conformance::$scenario::<$sandbox>(ctx)
                    });
                }
            )*
        }
    };
}

/// Every scenario the adapters run on the local engines.
macro_rules! full_suite {
    ($adapter:ident, $sandbox:ty, $runtime:path; $engine:ident) => {
        pocketdock_tests::with_every_scenario!(remote_suite! {
            $adapter, $sandbox, $runtime; $engine;
        });
    };
}

/// What the async adapters add over the blocking suite, plus the scenarios that exercise each
/// kind of connection (exchange, stream, hijacked stdin, session, TTY, upload, agent).
macro_rules! async_suite {
    ($adapter:ident, $sandbox:ty, $runtime:path; $engine:ident) => {
        remote_suite!($adapter, $sandbox, $runtime; $engine;
            ping_and_version,
            echo_hello,
            timeout_kills_the_whole_tree_and_keeps_partial_output,
            stream_delivers_chunks_then_result,
            dropped_stream_kills_the_command,
            detach_kill_ring_buffer_and_callbacks,
            files_round_trip,
            agent_path_keeps_the_contract,
            tty_program,
            session_state_and_boundaries,
            pool_hands_out_fresh_agent_ready_sandboxes,
            dropped_run_future_kills_the_command,
            dropped_session_command_is_interrupted,
            concurrent_runs_on_one_container,
            long_stream_does_not_delay_other_calls,
        );
    };
}

mod blocking {
    full_suite!(blocking, pocketdock_blocking::Container,
        pocketdock_tests::conformance::runtime::blocking; docker_tls);
    full_suite!(blocking, pocketdock_blocking::Container,
        pocketdock_tests::conformance::runtime::blocking; podman_ssh);
    full_suite!(blocking, pocketdock_blocking::Container,
        pocketdock_tests::conformance::runtime::blocking; docker_ssh);
}

mod tokio {
    async_suite!(tokio, pocketdock_tokio::Container,
        pocketdock_tests::conformance::runtime::tokio; docker_tls);
    async_suite!(tokio, pocketdock_tokio::Container,
        pocketdock_tests::conformance::runtime::tokio; podman_ssh);
}

mod smol {
    async_suite!(smol, pocketdock_smol::Container,
        pocketdock_tests::conformance::runtime::smol; docker_tls);
    async_suite!(smol, pocketdock_smol::Container,
        pocketdock_tests::conformance::runtime::smol; podman_ssh);
}

// ------------------------------------------------------------------------------------------
// Refusals
// ------------------------------------------------------------------------------------------

fn tls_address() -> EngineAddress {
    remote_setup();
    EngineAddress::parse(&remote_var("POCKETDOCK_TEST_DOCKER_TLS")).expect("the TLS address")
}

/// The TLS engine with the files in `dir` (not the environment's).
fn tls_engine(dir: &str) -> Engine {
    let address = tls_address();
    let EngineAddress::Tcp { host, port } = &address else {
        panic!("not a tcp address: {address}")
    };
    Engine::at(EngineEndpoint::routed(
        &address,
        Route::Tls {
            host: host.clone(),
            port: port.unwrap_or(2376),
            files: TlsFiles::in_dir(Path::new(dir)),
        },
    ))
}

#[test]
fn the_right_files_reach_the_tls_engine() {
    let engine = tls_engine(&remote_var("POCKETDOCK_TEST_TLS_DIR"));
    assert_eq!(engine.transport(), "tls");
    assert!(engine.is_remote());
    assert_eq!(engine.ping().map_err(|e| e.to_string()), Ok("OK".into()));
}

#[test]
fn a_wrong_ca_is_refused_naming_the_ca() {
    let dir = remote_var("POCKETDOCK_TEST_TLS_WRONG_CA");
    match tls_engine(&dir).ping() {
        Err(Error::RemoteEngine {
            cause: cause @ RemoteCause::TlsUntrusted { .. },
            address,
        }) => {
            let text = cause.to_string();
            assert!(text.contains(&format!("{dir}/ca.pem")), "{text}");
            assert!(text.contains("not trusted"), "{text}");
            assert_eq!(address, tls_address().to_string());
        }
        other => panic!("expected TlsUntrusted, got {other:?}"),
    }
}

#[test]
fn a_missing_client_certificate_is_refused_naming_it() {
    match tls_engine(&remote_var("POCKETDOCK_TEST_TLS_NO_CERT")).ping() {
        Err(
            e @ Error::RemoteEngine {
                cause: RemoteCause::TlsClientCertificateMissing,
                ..
            },
        ) => assert!(e.to_string().contains("client certificate"), "{e}"),
        other => panic!("expected TlsClientCertificateMissing, got {other:?}"),
    }
}

#[test]
fn plain_tcp_to_a_remote_address_is_refused_before_connecting() {
    // A route with no TLS, as discovery makes it when the docker CLI's TLS variables are unset.
    let address = EngineAddress::Tcp {
        host: match tls_address() {
            EngineAddress::Tcp { host, .. } => host,
            other => panic!("not a tcp address: {other}"),
        },
        port: Some(2375),
    };
    let located = Located {
        address,
        source: SocketSource::DockerHost,
        tls: None,
        identity: None,
        name: None,
    };
    match Engine::at(EngineEndpoint::located(&located)).ping() {
        Err(
            e @ Error::RemoteEngine {
                cause: RemoteCause::PlainTcpNotLoopback,
                ..
            },
        ) => assert!(e.to_string().contains("loopback"), "{e}"),
        other => panic!("expected PlainTcpNotLoopback, got {other:?}"),
    }
}
