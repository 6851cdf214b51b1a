//! info, reboot, snapshot, limits, ports, hardening and concurrency on the blocking adapter,
//! against real Podman and Docker.
#![expect(
    clippy::unwrap_used,
    reason = "the scenarios are test bodies run by per_engine!, where a failed unwrap is the test failure"
)]

use std::time::{Duration, Instant};

use pocketdock_blocking::{ContainerSpec, Engine};
use pocketdock_proto::spec::{NetworkMode, PortMapping};
use pocketdock_tests::{per_engine, unique_name, TEST_IMAGE};

fn spec(tag: &str) -> ContainerSpec {
    ContainerSpec::new()
        .image(TEST_IMAGE)
        .name(unique_name(tag))
}

fn create(socket: &str, spec: ContainerSpec) -> pocketdock_blocking::Container {
    Engine::new(socket).create_container(spec).expect("create")
}

fn info_reports_live_state(socket: &str) {
    let c = create(socket, spec("info").mem_limit("256m").cpu_percent(50));
    let _p = c
        .detach(
            "while :; do :; done",
            &pocketdock_blocking::RunOptions::default(),
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let info = c.info().unwrap();
    assert_eq!(info.id, c.id());
    assert_eq!(info.name, c.name());
    assert_eq!(info.status, "running");
    assert!(info.image.contains("pocketdock/minimal-python"));
    assert_eq!(info.memory_limit, "256.0 MB");
    assert!(!info.memory_usage.is_empty());
    assert!(info.memory_percent > 0.0 && info.memory_percent < 100.0);
    // A busy loop under a 50 % cap: measured (non-zero); a loaded host may give it less than its
    // share, so there is no tighter lower bound.
    // (Two one-shot samples 250 ms apart: the engines read the container's and the host's
    // counters at slightly different instants, so the figure is noisy; it is bounded by the
    // machine's CPUs, not by the cap.)
    assert!(
        info.cpu_percent > 0.5 && info.cpu_percent <= 400.0,
        "cpu {}",
        info.cpu_percent
    );
    assert!(info.pids >= 2);
    assert!(info.uptime.is_some_and(|u| u >= 0.0));
    assert!(!info.network, "network is off by default");
    // The process list on both engines (Podman 4.3's unsplit table included): the busy loop
    // is in it, with its pid.
    assert!(
        info.processes.iter().any(|p| {
            p.get("PID").is_some_and(|pid| pid.parse::<u32>().is_ok())
                && p.get("CMD")
                    .or_else(|| p.get("COMMAND"))
                    .is_some_and(|cmd| cmd.contains("while :; do :; done"))
        }),
        "{:?}",
        info.processes
    );
    // The Python pocketdock's 16 keys, plus what the sandbox enforces.
    let json = serde_json::to_value(&info).unwrap_or_default();
    assert_eq!(json.as_object().map(serde_json::Map::len), Some(17));
    assert_eq!(json["limits"]["memory"], 256 << 20);
}

fn limits_and_hardening_apply(socket: &str) {
    let c = create(socket, spec("limits").mem_limit("64m"));
    let r = c
        .run("cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
        .unwrap();
    assert_eq!(r.stdout_str().trim(), (64 * 1024 * 1024).to_string());
    let r = c
        .run("grep -E 'CapEff|NoNewPrivs' /proc/self/status")
        .unwrap();
    assert!(
        r.stdout_str().contains("NoNewPrivs:\t1"),
        "{}",
        r.stdout_str()
    );
    // No capability at all for the sandbox user, on Docker and on Podman (whose exec gives a
    // non-root user the container's capability set as ambient capabilities).
    assert!(
        r.stdout_str().contains("CapEff:\t0000000000000000"),
        "{}",
        r.stdout_str()
    );
    let r = c.run("mkdir /root/escape").unwrap();
    assert_ne!(r.exit_code, 0, "the sandbox user must not write into /root");
    let r = c.run("id -u").unwrap();
    assert_eq!(r.stdout_str(), "1000\n");
    // No network by default: only the loopback interface.
    let r = c
        .run("python3 -c \"import socket; print(len(socket.if_nameindex()))\"")
        .unwrap();
    assert_eq!(r.stdout_str(), "1\n");
}

fn ports_publish_on_loopback(socket: &str) {
    let port = 20000 + (std::process::id() % 20000) as u16 + u16::from(socket.contains("docker"));
    let c = create(socket, spec("ports").port(PortMapping::tcp(port, 8000)));
    let _server = c
        .detach(
            "cd demo && exec python3 serve.py",
            &pocketdock_blocking::RunOptions::default(),
        )
        .unwrap();
    let t0 = Instant::now();
    let body = loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.contains("Hello from pocketdock") {
                break out;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "server never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(body.starts_with("HTTP/1.0 200"));
    let info = c.info().unwrap();
    assert_eq!(info.ports.get(&port), Some(&8000));
    assert!(info.network);
}

fn explicit_network_mode(socket: &str) {
    let c = create(socket, spec("net").network(NetworkMode::Bridge));
    let r = c
        .run("python3 -c \"import socket; print(len(socket.if_nameindex()) > 1)\"")
        .unwrap();
    assert_eq!(r.stdout_str(), "True\n");
}

fn stop_is_fast(socket: &str) {
    let mut c = create(socket, spec("stop").persist(true));
    // PID 1 installs its SIGTERM trap as its first statement; let it get there.
    c.run("true").unwrap();
    c.shutdown(false).unwrap();
    let e = Engine::new(socket);
    let insp = e.inspect_container(c.id()).unwrap();
    assert!(!insp.state.running);
    // Fast because PID 1 exits on SIGTERM (status 0), instead of being killed after the grace
    // period (137). The time it takes is measured by scripts/bench.sh, not here.
    assert_eq!(insp.state.exit_code, 0, "{:?}", insp.state);
    e.remove_container(c.id(), true).unwrap();
}

fn reboot_in_place_and_fresh(socket: &str) {
    let mut c = create(socket, spec("reboot").mem_limit("128m"));
    c.run("echo kept > /home/sandbox/f").unwrap();
    c.reboot(false).unwrap();
    assert_eq!(
        c.run("cat /home/sandbox/f").map(|r| r.stdout).ok(),
        Some(b"kept\n".to_vec())
    );
    let old = c.id().to_string();
    c.reboot(true).unwrap();
    assert_ne!(c.id(), old);
    let r = c.run("cat /home/sandbox/f").unwrap();
    assert_ne!(r.exit_code, 0, "fresh reboot keeps no files");
    let r = c
        .run("cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
        .unwrap();
    assert_eq!(r.stdout_str().trim(), (128 * 1024 * 1024).to_string());
    let r = c.run("grep NoNewPrivs /proc/self/status").unwrap();
    assert!(r.stdout_str().contains('1'));
}

fn snapshot_makes_an_image(socket: &str) {
    let c = create(socket, spec("snap"));
    c.run("echo snap > /home/sandbox/s").unwrap();
    let tag = format!(
        "localhost/pdtest-snap:{}",
        unique_name("t").replace('-', "")
    );
    let id = c.snapshot(&tag).unwrap();
    assert!(!id.is_empty());
    let c2 = create(
        socket,
        ContainerSpec::new().image(&tag).name(unique_name("snap2")),
    );
    assert_eq!(
        c2.run("cat /home/sandbox/s").map(|r| r.stdout).ok(),
        Some(b"snap\n".to_vec())
    );
    drop(c2);
    pocketdock_tests::remove_image(socket, &tag);
}

fn many_commands_in_parallel_on_one_container(socket: &str) {
    let c = create(socket, spec("par"));
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let c = &c;
                s.spawn(move || c.run(&format!("echo {i}")).map(|r| r.stdout))
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            let out = h.join().expect("thread panicked");
            assert_eq!(out.ok(), Some(format!("{i}\n").into_bytes()));
        }
    });
}

fn multi_container_independence(socket: &str) {
    let a = create(socket, spec("ind-a"));
    let b = create(socket, spec("ind-b"));
    a.run("echo a > /tmp/x").unwrap();
    assert_ne!(b.run("cat /tmp/x").map(|r| r.exit_code).ok(), Some(0));
    drop(a);
    assert_eq!(
        b.run("echo alive").map(|r| r.stdout).ok(),
        Some(b"alive\n".to_vec())
    );
}

per_engine!(
    info_reports_live_state,
    limits_and_hardening_apply,
    ports_publish_on_loopback,
    explicit_network_mode,
    stop_is_fast,
    reboot_in_place_and_fresh,
    snapshot_makes_an_image,
    many_commands_in_parallel_on_one_container,
    multi_container_independence,
);
