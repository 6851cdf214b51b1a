//! `info()`: a snapshot of a container built from inspect, stats and top, plus the timestamp
//! helpers it needs (no clock reads: "now" is always passed in).
//!
//! Differences from the Python pocketdock, on purpose:
//!
//! * memory usage excludes the inactive page cache, as `docker stats` does;
//! * CPU percent is 0 when the sample has no previous sample, instead of a lifetime average (use
//!   non-one-shot stats or two samples, see [`Stats::since`]);
//! * the IP address comes from `NetworkSettings.Networks` (any network with an address), not only
//!   from the deprecated top-level `IPAddress`;
//! * an empty or non-JSON `/top` body gives no processes instead of an error.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::agent::CommandPath;
use crate::api::containers::ContainerInspect;
use crate::api::stats::{ProcessRow, Stats, Top};
use crate::api::strip_slash;
use crate::spec::{format_bytes, LABEL_INSTANCE};

/// What `info()` reports about a container. Serializes to the Python pocketdock's 16 JSON keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContainerInfo {
    /// Full engine id.
    pub id: String,
    /// pocketdock name (label `pocketdock.instance`, else the engine name).
    pub name: String,
    /// `running`, `exited`, `created`, ... (`unknown` when the engine says nothing).
    pub status: String,
    /// Image reference as given at creation.
    pub image: String,
    /// Creation time as the engine reports it (RFC 3339).
    pub created_at: String,
    /// Start time (RFC 3339); `None` when never started.
    pub started_at: Option<String>,
    /// Seconds since the start, only while running.
    pub uptime: Option<f64>,
    /// Memory in use without page cache, e.g. `"42.0 MB"`; empty when unknown.
    pub memory_usage: String,
    /// Memory limit (host memory when unlimited), e.g. `"256.0 MB"`; empty when unknown.
    pub memory_limit: String,
    /// `memory_usage / memory_limit × 100`, 2 decimals.
    pub memory_percent: f64,
    /// CPU use in percent of one CPU, 2 decimals (0 without two samples).
    pub cpu_percent: f64,
    /// Number of processes.
    pub pids: u64,
    /// Whether the container has a network (an address, or the host network).
    pub network: bool,
    /// The container's address on its first network with one; empty when none.
    pub ip_address: String,
    /// Published ports, host port → container port.
    pub ports: BTreeMap<u16, u16>,
    /// Processes from `/top`, one `{title: value}` object each.
    pub processes: Vec<ProcessRow>,
    /// What the running sandbox enforces, read from inside it (see [`crate::limits`]); left
    /// out of the JSON when not read (a stopped container).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<crate::limits::LimitsReport>,
    /// Which path this handle's commands take (the in-sandbox agent or the engine's exec) and
    /// why; `None` when the info was not asked through a handle. Not serialized: the JSON keeps
    /// the Python pocketdock's 16 keys.
    #[serde(skip)]
    pub agent: Option<CommandPath>,
}

impl ContainerInfo {
    /// Build the info from a container inspect and, for a running container, a stats sample and
    /// a `/top` answer (pass `None` for either when it could not be fetched; both are ignored
    /// unless the inspect says the container runs). `now_unix` is the caller's clock in seconds
    /// since the epoch, used for `uptime`.
    pub fn build(
        inspect: &ContainerInspect,
        sample: Option<&Stats>,
        top: Option<&Top>,
        now_unix: f64,
    ) -> Self {
        let status = if inspect.state.status.is_empty() {
            "unknown".to_string()
        } else {
            inspect.state.status.clone()
        };
        let running = inspect.state.running || status == "running";
        let name = inspect
            .config
            .labels
            .get(LABEL_INSTANCE)
            .filter(|n| !n.is_empty())
            .map_or_else(|| strip_slash(&inspect.name).to_string(), Clone::clone);
        let started_at =
            Some(inspect.state.started_at.clone()).filter(|s| !s.is_empty() && !is_zero_time(s));
        let uptime = if running {
            started_at
                .as_deref()
                .and_then(parse_timestamp)
                .map(|t| (now_unix - t).max(0.0))
        } else {
            None
        };
        let (network, ip_address) = network_of(inspect);
        let mut info = Self {
            id: inspect.id.clone(),
            name,
            status,
            image: inspect.config.image.clone(),
            created_at: inspect.created.clone(),
            started_at,
            uptime,
            network,
            ip_address,
            ports: ports_of(inspect),
            ..Self::default()
        };
        if !running {
            return info;
        }
        if let Some(sample) = sample {
            if let Some((usage, limit, pct)) = sample.memory() {
                info.memory_usage = format_bytes(usage);
                info.memory_limit = format_bytes(limit);
                info.memory_percent = pct;
            }
            info.cpu_percent = sample.cpu_percent();
            info.pids = sample.pids_stats.current.unwrap_or(0);
        }
        if let Some(top) = top {
            info.processes = top.rows();
        }
        info
    }
}

/// Go's zero time, which engines report for "never".
fn is_zero_time(s: &str) -> bool {
    s.starts_with("0001-01-01")
}

fn network_of(inspect: &ContainerInspect) -> (bool, String) {
    let ns = &inspect.network_settings;
    let str_at = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(ToString::to_string)
    };
    let from_networks = ns
        .get("Networks")
        .and_then(Value::as_object)
        .and_then(|nets| {
            nets.values()
                .find_map(|n| str_at(n, "IPAddress"))
                .or_else(|| nets.values().find_map(|n| str_at(n, "GlobalIPv6Address")))
        });
    let ip = from_networks
        .or_else(|| str_at(ns, "IPAddress"))
        .or_else(|| str_at(ns, "GlobalIPv6Address"))
        .unwrap_or_default();
    let host_mode = inspect
        .host_config
        .get("NetworkMode")
        .and_then(Value::as_str)
        == Some("host");
    (!ip.is_empty() || host_mode, ip)
}

/// Host → container ports from `NetworkSettings.Ports` (what is actually bound) and
/// `HostConfig.PortBindings` (what was asked for); non-numeric entries are skipped.
fn ports_of(inspect: &ContainerInspect) -> BTreeMap<u16, u16> {
    let mut out = BTreeMap::new();
    let sources = [
        inspect.network_settings.get("Ports"),
        inspect.host_config.get("PortBindings"),
    ];
    for map in sources.into_iter().flatten().filter_map(Value::as_object) {
        for (key, bindings) in map {
            let Some(container) = key
                .split('/')
                .next()
                .and_then(|p| p.parse::<u16>().ok())
                .filter(|p| *p > 0)
            else {
                continue;
            };
            let Some(list) = bindings.as_array() else {
                continue;
            };
            for b in list {
                let host = b
                    .get("HostPort")
                    .and_then(Value::as_str)
                    .and_then(|p| p.parse::<u16>().ok())
                    .filter(|p| *p > 0);
                if let Some(host) = host {
                    out.entry(host).or_insert(container);
                }
            }
        }
    }
    out
}

/// Parse an RFC 3339 / ISO 8601 timestamp (`2026-01-15T10:30:00Z`, `...00.123456789+00:00`,
/// `...00+0100`, a space instead of `T`) to seconds since the epoch. `None` when malformed.
#[expect(
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss,
    reason = "at most 9 fraction digits; seconds since 1970 are far below f64's 53-bit mantissa"
)]
pub fn parse_timestamp(s: &str) -> Option<f64> {
    let s = s.trim();
    let bytes = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let sep = |at: usize, allowed: &[u8]| bytes.get(at).is_some_and(|c| allowed.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut frac = 0.0;
    if bytes.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = s.get(start..i)?;
        if digits.is_empty() {
            return None;
        }
        // At most nanoseconds matter; more digits are ignored.
        let kept = digits.get(..digits.len().min(9))?;
        frac = kept.parse::<f64>().ok()? / 10f64.powi(kept.len() as i32);
    }
    let rest = s.get(i..)?.trim_start();
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            let digits: String = rest.get(1..)?.chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let off_h: i64 = digits.get(..2)?.parse().ok()?;
            let off_m: i64 = digits.get(2..)?.parse().ok()?;
            if off_h > 23 || off_m > 59 {
                return None;
            }
            sign * (off_h * 3600 + off_m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(secs as f64 + frac)
}

/// Format a UTC instant like Python's `datetime.isoformat()`, which the Python pocketdock writes
/// into the `pocketdock.created-at` label: `2026-02-10T14:30:00.123456+00:00` (the fraction is left
/// out when `micros` is 0). `micros` above 999 999 is clamped.
pub fn format_timestamp(unix_secs: i64, micros: u32) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let micros = micros.min(999_999);
    if micros == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}+00:00")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{micros:06}+00:00")
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inspect(v: &Value) -> ContainerInspect {
        serde_json::from_value(v.clone()).unwrap()
    }

    fn running() -> Value {
        json!({
            "Id": "abc123",
            "Name": "/pd-engine",
            "Created": "2026-01-15T10:00:00.5Z",
            "State": {"Status": "running", "Running": true, "StartedAt": "2026-01-15T10:30:00Z"},
            "Config": {"Image": "pocketdock/minimal-python", "Labels": {"pocketdock.instance": "pd-lab"}},
            "HostConfig": {"NetworkMode": "bridge", "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}},
            "NetworkSettings": {"IPAddress": "", "Networks": {"bridge": {"IPAddress": "172.17.0.2"}}}
        })
    }

    fn stats() -> Stats {
        serde_json::from_value(json!({
            "pids_stats": {"current": 2},
            "memory_stats": {"usage": 44_040_192u64, "limit": 268_435_456u64},
            "cpu_stats": {"cpu_usage": {"total_usage": 200}, "system_cpu_usage": 1000, "online_cpus": 4},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 500}
        }))
        .unwrap()
    }

    fn top() -> Top {
        Top::from_body(br#"{"Titles":["PID","CMD"],"Processes":[["1","sleep"]]}"#)
    }

    #[test]
    fn running_container() {
        let now = parse_timestamp("2026-01-15T10:31:00Z").unwrap_or_default();
        let info = ContainerInfo::build(&inspect(&running()), Some(&stats()), Some(&top()), now);
        assert_eq!(info.id, "abc123");
        assert_eq!(info.name, "pd-lab");
        assert_eq!(info.status, "running");
        assert_eq!(info.image, "pocketdock/minimal-python");
        assert_eq!(info.created_at, "2026-01-15T10:00:00.5Z");
        assert_eq!(info.started_at.as_deref(), Some("2026-01-15T10:30:00Z"));
        assert_eq!(info.uptime, Some(60.0));
        assert_eq!(info.memory_usage, "42.0 MB");
        assert_eq!(info.memory_limit, "256.0 MB");
        assert!((info.memory_percent - 16.41).abs() < 1e-9);
        assert!((info.cpu_percent - 80.0).abs() < 1e-9);
        assert_eq!(info.pids, 2);
        assert!(info.network);
        assert_eq!(info.ip_address, "172.17.0.2");
        assert_eq!(info.ports.get(&8080), Some(&80));
        assert_eq!(info.processes.len(), 1);
        // Clock behind the start time: no negative uptime.
        let early = ContainerInfo::build(&inspect(&running()), None, None, 0.0);
        assert_eq!(early.uptime, Some(0.0));
        assert_eq!(early.memory_usage, "");
        assert_eq!(early.pids, 0);
    }

    #[test]
    fn json_has_the_reference_keys() {
        let info = ContainerInfo::build(&inspect(&running()), Some(&stats()), Some(&top()), 0.0);
        let v = serde_json::to_value(&info).unwrap();
        let keys: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut want = vec![
            "id",
            "name",
            "status",
            "image",
            "created_at",
            "started_at",
            "uptime",
            "memory_usage",
            "memory_limit",
            "memory_percent",
            "cpu_percent",
            "pids",
            "network",
            "ip_address",
            "ports",
            "processes",
        ];
        want.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(v["ports"], json!({"8080": 80}));
        assert_eq!(v["processes"], json!([{"PID": "1", "CMD": "sleep"}]));
    }

    #[test]
    #[expect(clippy::too_many_lines, reason = "a table of cases")]
    fn variants_table() {
        // (mutation of the running inspect, expected status, network, ip, uptime is some, ports)
        type Case = (
            fn(&mut Value),
            &'static str,
            bool,
            &'static str,
            bool,
            Vec<(u16, u16)>,
        );
        let cases: Vec<Case> = vec![
            (
                |_| {},
                "running",
                true,
                "172.17.0.2",
                true,
                vec![(8080, 80)],
            ),
            (
                |v| {
                    v["State"] = json!({"Status": "exited", "Running": false, "StartedAt": "2026-01-15T10:30:00Z"});
                    v["NetworkSettings"] = json!({"Networks": {}});
                },
                "exited",
                false,
                "",
                false,
                vec![(8080, 80)],
            ),
            (
                |v| v["State"]["StartedAt"] = json!("0001-01-01T00:00:00Z"),
                "running",
                true,
                "172.17.0.2",
                false,
                vec![(8080, 80)],
            ),
            (
                |v| v["State"]["StartedAt"] = json!("garbage"),
                "running",
                true,
                "172.17.0.2",
                false,
                vec![(8080, 80)],
            ),
            (
                |v| {
                    if let Some(o) = v.as_object_mut() {
                        o.remove("State");
                    }
                },
                "unknown",
                true,
                "172.17.0.2",
                false,
                vec![(8080, 80)],
            ),
            // legacy top-level address only
            (
                |v| v["NetworkSettings"] = json!({"IPAddress": "10.88.0.5", "Networks": null}),
                "running",
                true,
                "10.88.0.5",
                true,
                vec![(8080, 80)],
            ),
            // Podman-style network name, IPv6 only
            (
                |v| v["NetworkSettings"] = json!({"Networks": {"podman": {"IPAddress": "", "GlobalIPv6Address": "fd00::5"}}}),
                "running",
                true,
                "fd00::5",
                true,
                vec![(8080, 80)],
            ),
            // network off
            (
                |v| {
                    v["NetworkSettings"] = json!({"Networks": {"none": {"IPAddress": ""}}});
                    v["HostConfig"] = json!({"NetworkMode": "none"});
                },
                "running",
                false,
                "",
                true,
                vec![],
            ),
            (
                |v| v["HostConfig"] = json!({"NetworkMode": "host"}),
                "running",
                true,
                "172.17.0.2",
                true,
                vec![],
            ),
            (
                |v| v["NetworkSettings"] = json!("junk"),
                "running",
                false,
                "",
                true,
                vec![(8080, 80)],
            ),
            // ports: odd shapes are skipped, actual bindings are read too
            (
                |v| v["HostConfig"]["PortBindings"] = json!(null),
                "running",
                true,
                "172.17.0.2",
                true,
                vec![],
            ),
            (
                |v| v["HostConfig"]["PortBindings"] = json!("x"),
                "running",
                true,
                "172.17.0.2",
                true,
                vec![],
            ),
            (
                |v| v["HostConfig"]["PortBindings"] = json!({"80/tcp": "x"}),
                "running",
                true,
                "172.17.0.2",
                true,
                vec![],
            ),
            (
                |v| {
                    v["HostConfig"]["PortBindings"] =
                        json!({"80/tcp": ["x", {"HostIp": "1.2.3.4"}]});
                },
                "running",
                true,
                "172.17.0.2",
                true,
                vec![],
            ),
            (
                |v| v["HostConfig"]["PortBindings"] = json!({"x/tcp": [{"HostPort": "1"}], "80/tcp": [{"HostPort": "abc"}, {"HostPort": ""}]}),
                "running",
                true,
                "172.17.0.2",
                true,
                vec![],
            ),
            (
                |v| v["HostConfig"]["PortBindings"] = json!({"80/tcp": [{"HostPort": "8080"}, {"HostPort": "8081"}], "3000/tcp": [{"HostPort": "3000"}]}),
                "running",
                true,
                "172.17.0.2",
                true,
                vec![(3000, 3000), (8080, 80), (8081, 80)],
            ),
            (
                |v| v["NetworkSettings"]["Ports"] = json!({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32768"}], "81/tcp": null}),
                "running",
                true,
                "172.17.0.2",
                true,
                vec![(8080, 80), (32768, 80)],
            ),
        ];
        for (i, (mutate, status, network, ip, has_uptime, ports)) in cases.into_iter().enumerate() {
            let mut v = running();
            mutate(&mut v);
            let info = ContainerInfo::build(&inspect(&v), Some(&stats()), Some(&top()), 2e9);
            assert_eq!(info.status, status, "case {i}");
            assert_eq!(info.network, network, "case {i}");
            assert_eq!(info.ip_address, ip, "case {i}");
            assert_eq!(info.uptime.is_some(), has_uptime, "case {i}");
            assert_eq!(
                info.ports.into_iter().collect::<Vec<_>>(),
                ports,
                "case {i}"
            );
            if status == "exited" {
                assert_eq!(info.memory_usage, "", "case {i}");
                assert_eq!(info.pids, 0, "case {i}");
                assert!(info.processes.is_empty(), "case {i}");
            }
        }
    }

    #[test]
    fn name_falls_back_to_engine_name() {
        let mut v = running();
        v["Config"]["Labels"] = json!(null);
        assert_eq!(
            ContainerInfo::build(&inspect(&v), None, None, 0.0).name,
            "pd-engine"
        );
        v["Config"]["Labels"] = json!({"pocketdock.instance": ""});
        assert_eq!(
            ContainerInfo::build(&inspect(&v), None, None, 0.0).name,
            "pd-engine"
        );
    }

    #[test]
    fn timestamps_parse() {
        let base = 1_768_473_000.0; // 2026-01-15T10:30:00Z
        let table: &[(&str, f64)] = &[
            ("2026-01-15T10:30:00Z", base),
            ("2026-01-15T10:30:00+00:00", base),
            ("2026-01-15T10:30:00.123456789+00:00", base + 0.123_456_789),
            ("2026-01-15T10:30:00.654321Z", base + 0.654_321),
            ("2026-01-15T10:30:00.1234567891234Z", base + 0.123_456_789),
            ("2026-01-15 10:30:00 +0000", base),
            ("2026-01-15t10:30:00z", base),
            ("2026-01-15T11:30:00+01:00", base),
            ("2026-01-15T09:30:00-01:00", base),
            ("1970-01-01T00:00:00Z", 0.0),
            ("2000-02-29T00:00:00Z", 951_782_400.0),
            ("0001-01-01T00:00:00Z", -62_135_596_800.0),
        ];
        for (s, want) in table {
            let got = parse_timestamp(s).unwrap_or_else(|| panic!("{s}"));
            assert!((got - want).abs() < 1e-6, "{s}: {got} != {want}");
        }
        for bad in [
            "",
            "garbage",
            "2026-01-15",
            "2026-01-15T10:30:00",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-01-15T24:00:00Z",
            "2026-01-15T10:60:00Z",
            "2026-01-15T10:30:00.Z",
            "2026-01-15T10:30:00+1:00",
            "2026-01-15T10:30:00+25:00",
            "2026-01-15T10:30:00 UTC",
            "2026/01/15T10:30:00Z",
            "２０２６-01-15T10:30:00Z",
            "+026-01-15T10:30:00Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    #[expect(
        clippy::cast_precision_loss,
        reason = "the table's seconds are far below 2^53"
    )]
    fn timestamps_format() {
        let table: &[(i64, u32, &str)] = &[
            (0, 0, "1970-01-01T00:00:00+00:00"),
            (1_770_733_800, 123_456, "2026-02-10T14:30:00.123456+00:00"),
            (951_782_400, 1, "2000-02-29T00:00:00.000001+00:00"),
            (-1, 0, "1969-12-31T23:59:59+00:00"),
            (0, 5_000_000, "1970-01-01T00:00:00.999999+00:00"),
        ];
        for (secs, micros, want) in table {
            let s = format_timestamp(*secs, *micros);
            assert_eq!(s, *want);
            let back = parse_timestamp(&s).unwrap_or_else(|| panic!("{s}"));
            assert!((back - (*secs as f64 + f64::from((*micros).min(999_999)) / 1e6)).abs() < 1e-6);
        }
    }
}
