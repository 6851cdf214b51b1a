//! What a sandbox really enforces, read back from inside it, and the comparison with what was
//! asked for.
//!
//! An engine may accept a limit and not apply it: a kernel without swap accounting, a cgroup
//! controller that is not mounted, a runtime that ignores a field. Some engines say so in the
//! `Warnings` of the create answer, some say nothing. So after a create, one command in the
//! sandbox ([`probe_command`]) prints the files that say what holds: the cgroup's memory, swap,
//! pids and CPU limits (cgroup v2 or v1), the capabilities and `NoNewPrivs` of a process, the
//! network interfaces and routes; the engine's inspect adds the published ports' host addresses.
//! [`LimitsReport::from_probe`] turns that into a report and [`unenforced`] lists each requested
//! limit the report does not show (and each create warning about one).
//!
//! Everything here is pure: bounded parsers that never panic on any input.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::spec::ContainerSpec;

/// The most output of the probe that is read; the files it prints are a few KiB.
pub const MAX_PROBE_OUTPUT: usize = 64 * 1024;

/// At most this many sections and lines per section are kept from a probe's output.
const MAX_SECTIONS: usize = 64;
const MAX_LINES: usize = 256;

/// v1 writes "no limit" as a huge page-aligned number (`9223372036854771712` on 4 KiB pages).
const V1_UNLIMITED_FROM: u64 = 1 << 62;

/// The probe: a POSIX shell script that prints each file as `@@ <key>` followed by its lines,
/// using only shell built-ins (no `cat` needed). For each cgroup file it tries the process's own
/// cgroup path first (a container sharing the host's cgroup namespace sees the whole tree), then
/// the mount's root (a private namespace, or Docker's v1 bind mounts).
pub const PROBE_SCRIPT: &str = r#"r() { echo "@@ $1"; [ -r "$2" ] || return 0
  while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l"; done < "$2"; }
first() { k=$1; shift; for f in "$@"; do if [ -r "$f" ]; then r "$k" "$f"; return 0; fi; done; echo "@@ $k"; }
v2=; mem=; pids=; cpu=
if [ -r /proc/self/cgroup ]; then
  while IFS=: read -r n c p || [ -n "$n" ]; do
    case "$c" in
      "") v2=$p;;
      memory|*,memory|memory,*|*,memory,*) mem=$p;;
      pids|*,pids|pids,*|*,pids,*) pids=$p;;
      cpu|*,cpu|cpu,*|*,cpu,*) cpu=$p;;
    esac
  done < /proc/self/cgroup
fi
g=/sys/fs/cgroup
first v2.memory.max "$g$v2/memory.max" "$g/memory.max"
first v2.memory.swap.max "$g$v2/memory.swap.max" "$g/memory.swap.max"
first v2.pids.max "$g$v2/pids.max" "$g/pids.max"
first v2.cpu.max "$g$v2/cpu.max" "$g/cpu.max"
first v1.memory.limit "$g/memory$mem/memory.limit_in_bytes" "$g/memory/memory.limit_in_bytes"
first v1.memory.memsw "$g/memory$mem/memory.memsw.limit_in_bytes" "$g/memory/memory.memsw.limit_in_bytes"
first v1.pids.max "$g/pids$pids/pids.max" "$g/pids/pids.max"
first v1.cpu.quota "$g/cpu$cpu/cpu.cfs_quota_us" "$g/cpu/cpu.cfs_quota_us"
first v1.cpu.period "$g/cpu$cpu/cpu.cfs_period_us" "$g/cpu/cpu.cfs_period_us"
r status /proc/self/status
r route /proc/net/route
r ipv6_route /proc/net/ipv6_route
r dev /proc/net/dev
exit 0"#;

/// The argv of the probe (see [`PROBE_SCRIPT`]).
pub fn probe_command() -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        PROBE_SCRIPT.into(),
        "pocketdock-limits".into(),
    ]
}

/// The probe's output cut into its sections: key → lines. Bounded: at most
/// [`MAX_PROBE_OUTPUT`] bytes are looked at, and a bounded number of sections and lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    sections: BTreeMap<String, Vec<String>>,
}

impl Probe {
    /// Cut `output` (the probe's stdout) into sections.
    pub fn parse(output: &[u8]) -> Self {
        let output = &output[..output.len().min(MAX_PROBE_OUTPUT)];
        let text = String::from_utf8_lossy(output);
        let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some(key) = line.strip_prefix("@@ ") {
                if sections.len() >= MAX_SECTIONS && !sections.contains_key(key) {
                    current = None;
                    continue;
                }
                sections.entry(key.to_string()).or_default();
                current = Some(key.to_string());
            } else if let Some(lines) = current.as_ref().and_then(|k| sections.get_mut(k)) {
                if lines.len() < MAX_LINES {
                    lines.push(line.to_string());
                }
            }
        }
        Self { sections }
    }

    /// The lines of section `key`; `None` when the file was missing or unreadable.
    fn lines(&self, key: &str) -> Option<&[String]> {
        self.sections
            .get(key)
            .filter(|l| !l.is_empty())
            .map(Vec::as_slice)
    }

    /// The first line of section `key`, trimmed.
    fn first(&self, key: &str) -> Option<&str> {
        self.lines(key).and_then(|l| l.first()).map(|s| s.trim())
    }
}

/// One limit as read: a number, no limit at all, or not readable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reading {
    /// The limit in force.
    Limit(u64),
    /// No limit (`max`, `-1`, or v1's huge number).
    Unlimited,
    /// The file was missing or said something else: the limit is not known.
    #[default]
    Unknown,
}

impl Reading {
    fn parse_v2(s: Option<&str>) -> Self {
        match s {
            Some("max") => Self::Unlimited,
            Some(s) => s.parse().map_or(Self::Unknown, Self::Limit),
            None => Self::Unknown,
        }
    }

    fn parse_v1(s: Option<&str>) -> Self {
        match s {
            Some("max" | "-1") => Self::Unlimited,
            Some(s) => match s.parse::<u64>() {
                Ok(n) if n >= V1_UNLIMITED_FROM => Self::Unlimited,
                Ok(n) => Self::Limit(n),
                Err(_) => Self::Unknown,
            },
            None => Self::Unknown,
        }
    }

    /// The limit, if there is one.
    pub fn limit(self) -> Option<u64> {
        match self {
            Self::Limit(n) => Some(n),
            _ => None,
        }
    }
}

impl std::fmt::Display for Reading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Limit(n) => write!(f, "{n}"),
            Self::Unlimited => f.write_str("max"),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

/// A number, `"max"`, or `null` (unknown).
impl Serialize for Reading {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Limit(n) => s.serialize_u64(*n),
            Self::Unlimited => s.serialize_str("max"),
            Self::Unknown => s.serialize_none(),
        }
    }
}

/// Which cgroup interface the sandbox's limits were read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    /// The unified hierarchy (`memory.max`, `pids.max`, `cpu.max`).
    V2,
    /// Per-controller hierarchies (`memory.limit_in_bytes`, `cpu.cfs_quota_us`, ...).
    V1,
    /// Neither could be read.
    #[default]
    Unknown,
}

/// A published port as the engine bound it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BoundPort {
    /// The container side, `80/tcp`.
    pub container: String,
    /// The host address it is bound to (`""` means every address, as `0.0.0.0` does).
    pub host_ip: String,
    /// The host port.
    pub host_port: String,
}

impl BoundPort {
    /// Bound to a loopback address only (`127.0.0.0/8` or `::1`).
    pub fn is_loopback(&self) -> bool {
        self.host_ip.starts_with("127.") || self.host_ip == "::1"
    }
}

/// A requested limit the sandbox does not show, or an engine warning about one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unenforced {
    /// The limit, named as the spec names it: `mem_limit`, `swap`, `pids_limit`,
    /// `cpu_percent`, `cap_drop`, `no_new_privileges`, `network`, `ports`.
    pub limit: String,
    /// What was asked for.
    pub requested: String,
    /// What was found (or the engine's warning).
    pub found: String,
}

impl std::fmt::Display for Unenforced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: requested {}, found {}",
            self.limit, self.requested, self.found
        )
    }
}

/// What a sandbox enforces, read from inside it and from the engine's inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LimitsReport {
    /// Whether the probe ran; when false, [`probe_error`](Self::probe_error) says why and
    /// every reading is unknown (nothing could be checked, nothing is reported as dropped).
    pub verified: bool,
    /// Why the probe could not run (no shell in the image, the container stopped, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_error: Option<String>,
    /// Where the cgroup limits came from.
    pub cgroup: CgroupVersion,
    /// Memory limit in bytes.
    pub memory: Reading,
    /// Swap allowed beyond the memory limit, in bytes (`0`: none).
    pub swap: Reading,
    /// Most processes at once.
    pub pids: Reading,
    /// CPU time per period, in microseconds.
    pub cpu_quota_us: Reading,
    /// The CPU period, in microseconds.
    pub cpu_period_us: Option<u64>,
    /// Effective capabilities of a command run with the container's defaults (bit mask).
    pub cap_eff: Option<u64>,
    /// The bounding set: no process in the sandbox can ever hold more (bit mask).
    pub cap_bnd: Option<u64>,
    /// `no_new_privs` of a command: setuid binaries gain nothing.
    pub no_new_privs: Option<bool>,
    /// Network interfaces seen inside (`lo` alone when the network is off).
    pub interfaces: Vec<String>,
    /// Whether a default route (IPv4 or IPv6, not on `lo`) exists: a way out.
    pub default_route: bool,
    /// Published ports as the engine bound them.
    pub ports: Vec<BoundPort>,
    /// The create answer's `Warnings`.
    pub warnings: Vec<String>,
    /// The requested limits this report does not show (see [`unenforced`]).
    pub unenforced: Vec<Unenforced>,
}

impl LimitsReport {
    /// A report from the probe's stdout and the container's inspect (`NetworkSettings.Ports`).
    pub fn from_probe(output: &[u8], network_settings: &Value) -> Self {
        let probe = Probe::parse(output);
        let v2_seen = ["v2.memory.max", "v2.pids.max", "v2.cpu.max"]
            .iter()
            .any(|k| probe.lines(k).is_some());
        let v1_seen = ["v1.memory.limit", "v1.pids.max", "v1.cpu.quota"]
            .iter()
            .any(|k| probe.lines(k).is_some());
        let mut report = Self {
            verified: true,
            ports: bound_ports(network_settings),
            ..Self::default()
        };
        if v2_seen {
            report.cgroup = CgroupVersion::V2;
            report.memory = Reading::parse_v2(probe.first("v2.memory.max"));
            report.swap = Reading::parse_v2(probe.first("v2.memory.swap.max"));
            report.pids = Reading::parse_v2(probe.first("v2.pids.max"));
            let mut cpu = probe.first("v2.cpu.max").unwrap_or("").split_whitespace();
            report.cpu_quota_us = Reading::parse_v2(cpu.next());
            report.cpu_period_us = cpu.next().and_then(|p| p.parse().ok());
        } else if v1_seen {
            report.cgroup = CgroupVersion::V1;
            report.memory = Reading::parse_v1(probe.first("v1.memory.limit"));
            let memsw = Reading::parse_v1(probe.first("v1.memory.memsw"));
            report.swap = match (report.memory, memsw) {
                (Reading::Limit(m), Reading::Limit(t)) => Reading::Limit(t.saturating_sub(m)),
                (_, Reading::Unlimited) => Reading::Unlimited,
                _ => Reading::Unknown,
            };
            report.pids = Reading::parse_v1(probe.first("v1.pids.max"));
            report.cpu_quota_us = Reading::parse_v1(probe.first("v1.cpu.quota"));
            report.cpu_period_us = probe.first("v1.cpu.period").and_then(|p| p.parse().ok());
        }
        if let Some(status) = probe.lines("status") {
            let field = |name: &str| {
                status
                    .iter()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                    .map(str::trim)
            };
            report.cap_eff = field("CapEff").and_then(|v| u64::from_str_radix(v, 16).ok());
            report.cap_bnd = field("CapBnd").and_then(|v| u64::from_str_radix(v, 16).ok());
            report.no_new_privs = field("NoNewPrivs").and_then(|v| match v {
                "1" => Some(true),
                "0" => Some(false),
                _ => None,
            });
        }
        report.interfaces = probe.lines("dev").map(interfaces).unwrap_or_default();
        report.default_route = probe.lines("route").is_some_and(ipv4_default_route)
            || probe.lines("ipv6_route").is_some_and(ipv6_default_route);
        report
    }

    /// A report for a sandbox the probe could not run in.
    pub fn unverified(why: impl Into<String>, network_settings: &Value) -> Self {
        Self {
            verified: false,
            probe_error: Some(why.into()),
            ports: bound_ports(network_settings),
            ..Self::default()
        }
    }

    /// The CPU cap in percent of one CPU, when both quota and period are known.
    #[expect(
        clippy::cast_precision_loss,
        reason = "quotas and periods are far below 2^52"
    )]
    pub fn cpu_percent(&self) -> Option<f64> {
        let quota = self.cpu_quota_us.limit()?;
        let period = self.cpu_period_us.filter(|p| *p > 0)?;
        Some(quota as f64 * 100.0 / period as f64)
    }

    /// Whether the sandbox has no way out: no interface but `lo` and no default route.
    pub fn network_isolated(&self) -> bool {
        !self.default_route && self.interfaces.iter().all(|i| i == "lo")
    }

    /// The names of the capabilities in the bounding set (`CAP_` left off).
    pub fn bounding_caps(&self) -> Vec<&'static str> {
        self.cap_bnd.map(cap_names).unwrap_or_default()
    }
}

/// The interface names of `/proc/net/dev` (after its two header lines).
fn interfaces(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_string()))
        .filter(|n| !n.is_empty())
        .collect()
}

/// `/proc/net/route` has a line with destination and mask `00000000`.
fn ipv4_default_route(lines: &[String]) -> bool {
    lines.iter().skip(1).any(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        matches!(
            cols.as_slice(),
            [_, "00000000", _, _, _, _, _, "00000000", ..]
        )
    })
}

/// `/proc/net/ipv6_route` has `::/0` on an interface other than `lo` (the kernel keeps
/// unreachable defaults on `lo`).
fn ipv6_default_route(lines: &[String]) -> bool {
    lines.iter().any(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        cols.len() >= 10
            && cols[0].len() == 32
            && cols[0].bytes().all(|b| b == b'0')
            && cols[1] == "00"
            && cols[9] != "lo"
    })
}

/// `NetworkSettings.Ports` of an inspect: `{"80/tcp": [{"HostIp": .., "HostPort": ..}]}`.
pub fn bound_ports(network_settings: &Value) -> Vec<BoundPort> {
    let Some(ports) = network_settings.get("Ports").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, bindings) in ports {
        for b in bindings.as_array().map(Vec::as_slice).unwrap_or_default() {
            let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            out.push(BoundPort {
                container: key.clone(),
                host_ip: s("HostIp"),
                host_port: s("HostPort"),
            });
        }
    }
    out
}

/// Linux capability names by bit number.
const CAP_NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The names of the capabilities set in `mask` (unknown bits as `CAP_<n>`-less numbers are
/// left out).
pub fn cap_names(mask: u64) -> Vec<&'static str> {
    CAP_NAMES
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1u64 << bit) != 0)
        .map(|(_, name)| *name)
        .collect()
}

/// The bit of capability `name` (`CAP_` optional, any case).
pub fn cap_bit(name: &str) -> Option<u32> {
    let up = name.trim().to_ascii_uppercase();
    let bare = up.strip_prefix("CAP_").unwrap_or(&up);
    CAP_NAMES
        .iter()
        .position(|n| *n == bare)
        .and_then(|p| u32::try_from(p).ok())
}

/// Which limit an engine's create warning is about, by its words (Docker: "Your kernel does not
/// support swap limit capabilities ... Memory limited without swap.", "... CPU CFS scheduler.
/// CPU quota discarded.", "... pids limit capabilities ... PIDs limit discarded.", "Published
/// ports are discarded when using host network mode").
pub fn warning_limit(warning: &str) -> Option<&'static str> {
    let w = warning.to_ascii_lowercase();
    if w.contains("swap") {
        Some("swap")
    } else if w.contains("pids") {
        Some("pids_limit")
    } else if w.contains("cpu") {
        Some("cpu_percent")
    } else if w.contains("memory") {
        Some("mem_limit")
    } else if w.contains("port") {
        Some("ports")
    } else if w.contains("capabilit") {
        Some("cap_drop")
    } else {
        None
    }
}

/// The limits a sandbox was asked for, from its spec or from the engine's record of it (the
/// inspect's `HostConfig`), in the terms the report is read in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitRequest {
    /// Memory limit in bytes.
    pub memory: Option<u64>,
    /// Swap allowed beyond the memory limit, in bytes (`Some(0)`: none).
    pub swap: Option<u64>,
    /// Pids limit.
    pub pids: Option<u64>,
    /// CPU cap in percent of one CPU.
    pub cpu_percent: Option<f64>,
    /// Every capability dropped but `cap_add`.
    pub cap_drop_all: bool,
    /// Capabilities added back.
    pub cap_add: Vec<String>,
    /// `no-new-privileges`.
    pub no_new_privileges: bool,
    /// No network at all.
    pub network_off: bool,
    /// Published ports: (`80/tcp`, host address, host port).
    pub ports: Vec<(String, String, String)>,
}

impl LimitRequest {
    /// What `spec` asks for.
    pub fn from_spec(spec: &ContainerSpec) -> Self {
        let memory = spec.memory_bytes().ok().flatten();
        Self {
            memory,
            swap: memory.map(|_| 0),
            pids: spec.hardening.pids_limit.filter(|n| *n > 0).map(u64::from),
            cpu_percent: spec.cpu_percent.map(f64::from),
            cap_drop_all: spec.hardening.cap_drop_all,
            cap_add: spec.hardening.cap_add.clone(),
            no_new_privileges: spec.hardening.no_new_privileges,
            network_off: spec.resolved_network().is_ok_and(|n| n == "none"),
            ports: spec
                .ports
                .iter()
                .map(|p| {
                    (
                        p.key(),
                        p.effective_host_ip().to_string(),
                        p.host_port.to_string(),
                    )
                })
                .collect(),
        }
    }

    /// What the engine recorded for a container (`HostConfig` of its inspect). Capabilities
    /// are checked only when `CapDrop` says `ALL` (Podman lists the dropped ones instead).
    #[expect(clippy::cast_precision_loss, reason = "CPU figures are far below 2^52")]
    pub fn from_host_config(host: &Value) -> Self {
        let num = |k: &str| host.get(k).and_then(Value::as_i64).unwrap_or(0);
        let strings = |k: &str| -> Vec<String> {
            host.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(ToString::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let memory = u64::try_from(num("Memory")).ok().filter(|m| *m > 0);
        let swap_total = num("MemorySwap");
        let swap = memory.and_then(|m| {
            u64::try_from(swap_total)
                .ok()
                .filter(|t| *t >= m)
                .map(|t| t - m)
        });
        let nano = num("NanoCpus");
        let (quota, period) = (num("CpuQuota"), num("CpuPeriod"));
        let cpu_percent = if nano > 0 {
            Some(nano as f64 / 1e7)
        } else if quota > 0 && period > 0 {
            Some(quota as f64 * 100.0 / period as f64)
        } else {
            None
        };
        let mut ports = Vec::new();
        if let Some(map) = host.get("PortBindings").and_then(Value::as_object) {
            for (key, list) in map {
                for b in list.as_array().map(Vec::as_slice).unwrap_or_default() {
                    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    let ip = s("HostIp");
                    ports.push((
                        key.clone(),
                        if ip.is_empty() { "0.0.0.0".into() } else { ip },
                        s("HostPort"),
                    ));
                }
            }
        }
        Self {
            memory,
            swap,
            pids: u64::try_from(num("PidsLimit")).ok().filter(|n| *n > 0),
            cpu_percent,
            cap_drop_all: strings("CapDrop")
                .iter()
                .any(|c| c.eq_ignore_ascii_case("ALL")),
            cap_add: strings("CapAdd"),
            no_new_privileges: strings("SecurityOpt")
                .iter()
                .any(|o| o.starts_with("no-new-privileges") && !o.ends_with("false")),
            network_off: host.get("NetworkMode").and_then(Value::as_str) == Some("none"),
            ports,
        }
    }

    /// The names of the limits asked for (for matching engine warnings).
    fn names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.memory.is_some() {
            names.push("mem_limit");
        }
        if self.swap.is_some() {
            names.push("swap");
        }
        if self.pids.is_some() {
            names.push("pids_limit");
        }
        if self.cpu_percent.is_some() {
            names.push("cpu_percent");
        }
        if !self.ports.is_empty() {
            names.push("ports");
        }
        if self.cap_drop_all {
            names.push("cap_drop");
        }
        names
    }
}

/// The requested limits `report` does not show, and the create warnings about a requested
/// limit. A reading that is unknown is not counted as dropped (it could not be checked); an
/// unverified report gives only the warnings.
pub fn unenforced(request: &LimitRequest, report: &LimitsReport) -> Vec<Unenforced> {
    let mut out = Vec::new();
    let mut push = |limit: &str, requested: String, found: String| {
        out.push(Unenforced {
            limit: limit.to_string(),
            requested,
            found,
        });
    };
    let names = request.names();
    for w in &report.warnings {
        if let Some(limit) = warning_limit(w).filter(|l| names.contains(l)) {
            push(limit, "a limit".into(), format!("engine warning: {w}"));
        }
    }
    if !report.verified {
        return out;
    }
    let over = |r: Reading, max: u64| match r {
        Reading::Limit(n) => n > max,
        Reading::Unlimited => true,
        Reading::Unknown => false,
    };
    if let Some(mem) = request.memory.filter(|m| over(report.memory, *m)) {
        push("mem_limit", mem.to_string(), report.memory.to_string());
    }
    if let Some(swap) = request.swap.filter(|s| over(report.swap, *s)) {
        push("swap", swap.to_string(), report.swap.to_string());
    }
    if let Some(pids) = request.pids.filter(|p| over(report.pids, *p)) {
        push("pids_limit", pids.to_string(), report.pids.to_string());
    }
    if let Some(pct) = request.cpu_percent {
        let found = report.cpu_percent();
        let off = match (report.cpu_quota_us, found) {
            (Reading::Unlimited, _) => true,
            (_, Some(f)) => (f - pct).abs() > 1.0,
            _ => false,
        };
        if off {
            push(
                "cpu_percent",
                format!("{pct}%"),
                found.map_or_else(|| report.cpu_quota_us.to_string(), |f| format!("{f:.1}%")),
            );
        }
    }
    if request.cap_drop_all {
        let allowed = request
            .cap_add
            .iter()
            .filter_map(|c| cap_bit(c))
            .fold(0u64, |m, b| m | (1u64 << b));
        if let Some(bnd) = report.cap_bnd.filter(|b| b & !allowed != 0) {
            push(
                "cap_drop",
                format!("ALL except {:?}", cap_names(allowed)),
                format!("{:?}", cap_names(bnd & !allowed)),
            );
        }
    }
    if request.no_new_privileges && report.no_new_privs == Some(false) {
        push("no_new_privileges", "1".into(), "0".into());
    }
    if request.network_off && !report.network_isolated() {
        push(
            "network",
            "none".into(),
            format!(
                "interfaces {:?}, default route {}",
                report.interfaces, report.default_route
            ),
        );
    }
    for (key, want, host_port) in &request.ports {
        let bound: Vec<&BoundPort> = report
            .ports
            .iter()
            .filter(|b| &b.container == key && &b.host_port == host_port)
            .collect();
        let right =
            |b: &&BoundPort| &b.host_ip == want || (want == "0.0.0.0" && b.host_ip.is_empty());
        if bound.is_empty() || !bound.iter().all(right) {
            push(
                "ports",
                format!("{want}:{host_port}->{key}"),
                if bound.is_empty() {
                    "not published".into()
                } else {
                    bound
                        .iter()
                        .map(|b| format!("{}:{}", b.host_ip, b.host_port))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            );
        }
    }
    out
}

/// The error for `unenforced` limits unless `allow` (then `Ok`: they stay in the report).
pub fn enforce(unenforced: &[Unenforced], allow: bool) -> crate::Result<()> {
    match unenforced.first() {
        Some(first) if !allow => Err(crate::Error::LimitNotEnforced {
            limit: first.limit.clone(),
            detail: unenforced
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        }),
        _ => Ok(()),
    }
}

mod probe_op;
#[cfg(test)]
mod tests;

pub use probe_op::{LimitsOp, PROBE_TIMEOUT};
