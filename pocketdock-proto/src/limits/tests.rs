//! The probe's output as both engines printed it on this project's test machine (cgroup v1),
//! a cgroup v2 sample, and garbage.

use serde_json::json;

use super::*;
use crate::spec::{Hardening, NetworkMode, PortMapping};

/// Docker 20.10, `--memory 64m --memory-swap 64m --pids-limit 100 --cpus 0.5 --cap-drop ALL
/// --security-opt no-new-privileges --network none`, as root.
const DOCKER_LOCKED: &[u8] = include_bytes!("docker_v1_locked.txt");
/// Podman 4.3, `--user 1000 --pids-limit 64 --cap-drop ALL --cap-add CHOWN --network bridge`.
const PODMAN_OPEN: &[u8] = include_bytes!("podman_v1_open.txt");

const V2: &str = "@@ v2.memory.max\n268435456\n@@ v2.memory.swap.max\n0\n@@ v2.pids.max\n512\n\
@@ v2.cpu.max\n50000 100000\n@@ v1.memory.limit\n@@ status\nCapEff:\t0000000000000000\n\
CapBnd:\t0000000000000000\nNoNewPrivs:\t1\n@@ route\nIface\tDestination\tGateway\n\
@@ dev\nInter-|\n face |\n    lo: 0 0\n";

fn locked_spec() -> ContainerSpec {
    ContainerSpec::new()
        .mem_limit("64m")
        .cpu_percent(50)
        .hardening(Hardening {
            pids_limit: Some(100),
            ..Hardening::default()
        })
}

#[test]
fn docker_v1_report_shows_every_limit() {
    let r = LimitsReport::from_probe(DOCKER_LOCKED, &json!({}));
    assert!(r.verified);
    assert_eq!(r.cgroup, CgroupVersion::V1);
    assert_eq!(r.memory, Reading::Limit(64 << 20));
    assert_eq!(r.swap, Reading::Limit(0));
    assert_eq!(r.pids, Reading::Limit(100));
    assert_eq!(r.cpu_quota_us, Reading::Limit(50_000));
    assert_eq!(r.cpu_period_us, Some(100_000));
    assert_eq!(r.cpu_percent(), Some(50.0));
    assert_eq!(
        (r.cap_eff, r.cap_bnd, r.no_new_privs),
        (Some(0), Some(0), Some(true))
    );
    assert_eq!(r.interfaces, vec!["lo".to_string()]);
    assert!(
        !r.default_route,
        "the lo-only ipv6 defaults are not a way out"
    );
    assert!(r.network_isolated());
    assert!(unenforced(&LimitRequest::from_spec(&locked_spec()), &r).is_empty());
}

#[test]
fn podman_v1_open_report_names_what_is_missing() {
    let r = LimitsReport::from_probe(PODMAN_OPEN, &json!({}));
    assert_eq!(r.memory, Reading::Unlimited);
    assert_eq!(r.swap, Reading::Unlimited);
    assert_eq!(r.pids, Reading::Limit(64));
    assert_eq!(r.cpu_quota_us, Reading::Unlimited);
    assert_eq!(r.cap_bnd, Some(1));
    assert_eq!(r.bounding_caps(), vec!["CHOWN"]);
    assert_eq!(r.no_new_privs, Some(false));
    assert_eq!(r.interfaces, vec!["lo".to_string(), "eth0".to_string()]);
    assert!(r.default_route);
    assert!(!r.network_isolated());
    // Asking this sandbox for the locked spec's limits finds each one missing, by name.
    let spec = locked_spec().network(NetworkMode::Off);
    let names: Vec<String> = unenforced(&LimitRequest::from_spec(&spec), &r)
        .into_iter()
        .map(|u| u.limit)
        .collect();
    assert_eq!(
        names,
        [
            "mem_limit",
            "swap",
            "cpu_percent",
            "cap_drop",
            "no_new_privileges",
            "network"
        ]
    );
    // What it was created with is what it has.
    let spec = ContainerSpec::new()
        .network(NetworkMode::Bridge)
        .hardening(Hardening {
            cap_add: vec!["chown".into()],
            pids_limit: Some(64),
            no_new_privileges: false,
            ..Hardening::default()
        });
    assert!(
        unenforced(&LimitRequest::from_spec(&spec), &r).is_empty(),
        "{:?}",
        unenforced(&LimitRequest::from_spec(&spec), &r)
    );
    // A looser pids limit than asked for is dropped; a tighter one is fine.
    let mut r2 = r.clone();
    r2.pids = Reading::Limit(65);
    assert_eq!(
        unenforced(&LimitRequest::from_spec(&spec), &r2)[0].limit,
        "pids_limit"
    );
    r2.pids = Reading::Limit(10);
    assert!(unenforced(&LimitRequest::from_spec(&spec), &r2).is_empty());
}

#[test]
fn v2_files_win_and_parse() {
    let r = LimitsReport::from_probe(V2.as_bytes(), &Value::Null);
    assert_eq!(r.cgroup, CgroupVersion::V2);
    assert_eq!(r.memory, Reading::Limit(256 << 20));
    assert_eq!(r.swap, Reading::Limit(0));
    assert_eq!(r.pids, Reading::Limit(512));
    assert_eq!(r.cpu_percent(), Some(50.0));
    let spec = ContainerSpec::new().mem_limit("256m").cpu_percent(50);
    assert!(unenforced(&LimitRequest::from_spec(&spec), &r).is_empty());
    let r = LimitsReport::from_probe(
        b"@@ v2.memory.max\nmax\n@@ v2.cpu.max\nmax 100000\n",
        &Value::Null,
    );
    assert_eq!(
        (r.memory, r.cpu_quota_us),
        (Reading::Unlimited, Reading::Unlimited)
    );
    assert_eq!(r.swap, Reading::Unknown);
    let names: Vec<String> = unenforced(&LimitRequest::from_spec(&spec), &r)
        .into_iter()
        .map(|u| u.limit)
        .collect();
    assert_eq!(
        names,
        ["mem_limit", "cpu_percent"],
        "unknown swap is not counted as dropped"
    );
}

#[test]
fn ports_must_be_bound_where_asked() {
    let spec = ContainerSpec::new()
        .port(PortMapping::tcp(8080, 80))
        .port(PortMapping::udp(5353, 53).on("0.0.0.0"));
    let settings = |ip80: &str| {
        json!({"Ports": {
            "80/tcp": [{"HostIp": ip80, "HostPort": "8080"}],
            "53/udp": [{"HostIp": "", "HostPort": "5353"}],
            "22/tcp": null,
        }})
    };
    let mut r = LimitsReport::from_probe(b"", &settings("127.0.0.1"));
    assert_eq!(r.ports.len(), 2);
    assert!(r
        .ports
        .iter()
        .any(|p| p.container == "80/tcp" && p.is_loopback()));
    r.interfaces = vec!["lo".into(), "eth0".into()];
    assert!(
        unenforced(&LimitRequest::from_spec(&spec), &r).is_empty(),
        "{:?}",
        unenforced(&LimitRequest::from_spec(&spec), &r)
    );
    r.ports = bound_ports(&settings("0.0.0.0"));
    let u = unenforced(&LimitRequest::from_spec(&spec), &r);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].limit, "ports");
    assert!(u[0].found.contains("0.0.0.0:8080"), "{}", u[0]);
    r.ports.clear();
    assert_eq!(
        unenforced(&LimitRequest::from_spec(&spec), &r)[0].found,
        "not published"
    );
}

#[test]
fn warnings_count_only_for_requested_limits() {
    let mut r = LimitsReport::from_probe(DOCKER_LOCKED, &json!({}));
    r.warnings = vec![
        "Your kernel does not support swap limit capabilities or the cgroup is not mounted. \
         Memory limited without swap."
            .into(),
        "something unrelated".into(),
    ];
    let u = unenforced(&LimitRequest::from_spec(&locked_spec()), &r);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].limit, "swap");
    // Without a memory limit the swap warning names nothing asked for.
    assert!(unenforced(&LimitRequest::from_spec(&ContainerSpec::new()), &r).is_empty());
    assert_eq!(
        warning_limit("Your kernel does not support CPU CFS scheduler. CPU quota discarded."),
        Some("cpu_percent")
    );
    assert_eq!(warning_limit("PIDs limit discarded."), Some("pids_limit"));
}

#[test]
fn an_unverified_report_checks_nothing_but_warnings() {
    let r = LimitsReport::unverified("no shell", &Value::Null);
    assert!(!r.verified);
    assert!(unenforced(
        &LimitRequest::from_spec(&locked_spec().network(NetworkMode::Off)),
        &r
    )
    .is_empty());
    let v = serde_json::to_value(&r).unwrap_or_default();
    assert_eq!(v["probe_error"], "no shell");
    assert_eq!(v["memory"], Value::Null);
    let v = serde_json::to_value(LimitsReport::from_probe(PODMAN_OPEN, &Value::Null))
        .unwrap_or_default();
    assert_eq!(
        (v["memory"].clone(), v["pids"].clone()),
        (json!("max"), json!(64))
    );
}

#[test]
fn caps_by_name_and_bit() {
    assert_eq!(cap_bit("cap_sys_admin"), Some(21));
    assert_eq!(cap_bit("CHOWN"), Some(0));
    assert_eq!(cap_bit("nope"), None);
    assert_eq!(cap_names(0b101), vec!["CHOWN", "DAC_READ_SEARCH"]);
    assert_eq!(cap_names(u64::MAX).len(), 41);
}

/// Any bytes give a report, never a panic, and a bounded one.
#[test]
fn garbage_never_panics() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pieces: [&[u8]; 12] = [
        b"@@ ",
        b"v1.memory.limit",
        b"v2.cpu.max",
        b"\n",
        b"max",
        b"-1",
        b"18446744073709551616",
        b"CapBnd:",
        b"\tzz",
        b"@@ route\n",
        b" 00000000 ",
        b"\xff\xfe:",
    ];
    for _ in 0..2000 {
        let mut input = Vec::new();
        for _ in 0..(next() % 40) {
            input.extend_from_slice(pieces[(next() % 12) as usize]);
        }
        let r = LimitsReport::from_probe(&input, &json!({"Ports": {"x": [1, {"HostIp": 2}]}}));
        let _ = unenforced(&LimitRequest::from_spec(&locked_spec()), &r);
        let _ = r.cpu_percent();
    }
    let huge = "@@ a\n".repeat(100_000);
    let p = Probe::parse(huge.as_bytes());
    assert!(p.sections.len() <= MAX_SECTIONS);
    let long = format!("@@ dev\n{}", "x: y\n".repeat(10_000));
    assert!(Probe::parse(long.as_bytes()).sections["dev"].len() <= MAX_LINES);
}

/// The engine's record of a container gives the same request as its spec.
#[test]
fn host_config_request_matches_the_spec() {
    let spec = locked_spec().port(PortMapping::tcp(8080, 80));
    let body = spec.create_body(&crate::spec::Labels::new("x", "t"));
    let from_hc = LimitRequest::from_host_config(&body["HostConfig"]);
    assert_eq!(from_hc, LimitRequest::from_spec(&spec));
    // Podman lists dropped capabilities instead of ALL: no capability check then.
    let hc = json!({"CapDrop": ["CAP_CHOWN"], "Memory": 0, "MemorySwap": -1, "CpuQuota": 25_000, "CpuPeriod": 100_000});
    let r = LimitRequest::from_host_config(&hc);
    assert!(!r.cap_drop_all);
    assert_eq!((r.memory, r.swap, r.cpu_percent), (None, None, Some(25.0)));
    assert!(enforce(&[], false).is_ok());
    let u = vec![Unenforced {
        limit: "swap".into(),
        requested: "0".into(),
        found: "max".into(),
    }];
    assert!(enforce(&u, true).is_ok());
    match enforce(&u, false) {
        Err(crate::Error::LimitNotEnforced { limit, detail }) => {
            assert_eq!(limit, "swap");
            assert_eq!(detail, "swap: requested 0, found max");
        }
        other => panic!("{other:?}"),
    }
}
