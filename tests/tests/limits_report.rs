//! What a sandbox enforces, checked for real on the blocking adapter against Podman and Docker:
//! a published port answers on 127.0.0.1 and is refused on every other address of this host, a
//! device passed with `devices` is usable inside (and absent without it), busy loops under a
//! 50 % CPU cap are throttled and get at most about half a core (measured from the cgroup's
//! CPU time over a wall interval), and the limits report is read again on an attached handle. The limits read at
//! create on every adapter are in the conformance suite (`limits_read_back_at_create`).
#![expect(
    clippy::unwrap_used,
    reason = "the scenarios are test bodies run by per_engine!, where a failed unwrap is the test failure"
)]

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use pocketdock_blocking::{Container, ContainerSpec, Engine, Reading, RunOptions};
use pocketdock_proto::spec::PortMapping;
use pocketdock_tests::{per_engine, BUSYBOX_IMAGE, TEST_IMAGE};

fn name(tag: &str) -> String {
    format!(
        "h16a-{tag}-{}-{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            & 0xffff
    )
}

fn create(socket: &str, spec: ContainerSpec) -> Container {
    Engine::new(socket).create_container(spec).expect("create")
}

/// The IPv4 addresses of this host other than loopback, from `ip -4 -o addr`.
fn other_host_addresses() -> Vec<IpAddr> {
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show"])
        .output()
        .expect("the ip tool (iproute2) runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let addrs: Vec<IpAddr> = text
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            words.find(|w| *w == "inet")?;
            words.next()?.split('/').next()?.parse().ok()
        })
        .filter(|a: &IpAddr| !a.is_loopback())
        .collect();
    assert!(!addrs.is_empty(), "no non-loopback address in:\n{text}");
    addrs
}

fn port_is_bound_to_loopback_only(socket: &str) {
    let port = 21000 + (std::process::id() % 20000) as u16 + u16::from(socket.contains("docker"));
    let c = create(
        socket,
        ContainerSpec::new()
            .image(TEST_IMAGE)
            .name(name("port"))
            .port(PortMapping::tcp(port, 8000)),
    );
    let limits = c.limits().unwrap();
    assert!(
        !limits.ports.is_empty() && limits.ports.iter().all(|p| p.host_ip == "127.0.0.1"),
        "{:?}",
        limits.ports
    );
    assert!(limits.unenforced.is_empty(), "{:?}", limits.unenforced);
    let _server = c
        .detach(
            "exec python3 -m http.server 8000 --bind 0.0.0.0",
            &RunOptions::default(),
        )
        .unwrap();
    let t0 = Instant::now();
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.starts_with("HTTP/1.0 200") {
                break;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the server never answered on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for addr in other_host_addresses() {
        let r = TcpStream::connect_timeout(&SocketAddr::new(addr, port), Duration::from_secs(3));
        match r {
            Err(e) => assert_eq!(
                e.kind(),
                std::io::ErrorKind::ConnectionRefused,
                "{addr}:{port}: {e}"
            ),
            Ok(_) => panic!("{addr}:{port} accepted a connection: the port is not loopback-only"),
        }
    }
}

fn device_is_usable_inside(socket: &str) {
    let check = "[ -c /dev/fuse ] && exec 3</dev/fuse && echo opened";
    let with = create(
        socket,
        ContainerSpec::new()
            .image(BUSYBOX_IMAGE)
            .name(name("dev"))
            .device("/dev/fuse"),
    );
    let r = with.run(check).unwrap();
    assert_eq!(
        (r.exit_code, r.stdout_str().as_ref()),
        (0, "opened\n"),
        "{}",
        r.stderr_str()
    );
    drop(with);
    let without = create(
        socket,
        ContainerSpec::new()
            .image(BUSYBOX_IMAGE)
            .name(name("nodev")),
    );
    let r = without.run(check).unwrap();
    assert_ne!(r.exit_code, 0, "no /dev/fuse without `devices`");
}

/// The cgroup's CPU time in microseconds and its throttled periods (v2 `cpu.stat`; v1
/// `cpuacct.usage` in ns and `cpu/cpu.stat`).
fn cpu_usage(c: &Container) -> (u64, u64) {
    let r = c
        .run(
            "if [ -r /sys/fs/cgroup/cpu.max ]; then cat /sys/fs/cgroup/cpu.stat; \
             else echo usage_ns $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage); \
             cat /sys/fs/cgroup/cpu/cpu.stat; fi",
        )
        .unwrap();
    let out = r.stdout_str().to_string();
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
    };
    let usage = field("usage_usec ")
        .or_else(|| field("usage_ns ").map(|ns| ns / 1000))
        .unwrap_or_else(|| panic!("no CPU usage in {out:?} ({})", r.stderr_str()));
    let throttled = field("nr_throttled ").unwrap_or_else(|| panic!("no nr_throttled in {out:?}"));
    (usage, throttled)
}

/// Busy loops under a 50 % cap get about half a core: at most 0.7, and at least 0.3 unless the
/// machine (two cores, shared with other test runs) is so busy that they never reach the cap,
/// which the kernel's throttle count then says.
fn cpu_cap_gives_about_half_a_core(socket: &str) {
    let c = create(
        socket,
        ContainerSpec::new()
            .image(BUSYBOX_IMAGE)
            .name(name("cpu"))
            .cpu_percent(50),
    );
    assert_eq!(
        c.limits()
            .and_then(pocketdock_blocking::LimitsReport::cpu_percent),
        Some(50.0)
    );
    // Four busy loops ask for four cores; the cap allows half of one.
    let loops: Vec<_> = (0..4)
        .map(|_| {
            c.detach("while :; do :; done", &RunOptions::default())
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let (t0, (u0, th0)) = (Instant::now(), cpu_usage(&c));
    std::thread::sleep(Duration::from_secs(5));
    let (t1, (u1, th1)) = (Instant::now(), cpu_usage(&c));
    #[expect(clippy::cast_precision_loss, reason = "microseconds of a few seconds")]
    let share = (u1 - u0) as f64 / (t1 - t0).as_micros() as f64;
    eprintln!(
        "cpu share under a 50 % cap: {share:.3} of one core, throttled in {} periods",
        th1 - th0
    );
    assert!(share <= 0.7, "{share:.3} of one core: more than the cap");
    assert!(
        share >= 0.3 || th1 > th0,
        "{share:.3} of one core and never throttled: the loops did not reach the cap"
    );
    for p in loops {
        p.kill(9).unwrap();
    }
}

fn attached_handle_reads_the_limits(socket: &str) {
    let made = create(
        socket,
        ContainerSpec::new()
            .image(TEST_IMAGE)
            .name(name("att"))
            .mem_limit("96m"),
    );
    let engine = Engine::new(socket);
    let attached = engine.attach(made.name()).unwrap();
    assert!(attached.limits().is_none(), "not read until asked");
    // The cost of one read: one exec and an inspect.
    let mut times = Vec::new();
    for _ in 0..5 {
        let t0 = Instant::now();
        let l = attached.read_limits().unwrap();
        times.push(t0.elapsed());
        assert!(l.verified, "{l:?}");
        assert_eq!(l.memory, Reading::Limit(96 << 20));
        assert_eq!(l.swap, Reading::Limit(0));
        assert!(l.unenforced.is_empty(), "{:?}", l.unenforced);
    }
    times.sort();
    eprintln!(
        "reading the limits: median {:?}, min {:?}, max {:?}",
        times[2], times[0], times[4]
    );
}

per_engine!(
    port_is_bound_to_loopback_only,
    device_is_usable_inside,
    cpu_cap_gives_about_half_a_core,
    attached_handle_reads_the_limits,
);
