//! `/containers/{id}/stats`, `/containers/{id}/top`, `/containers/{id}/changes` and `/commit`.
//!
//! The models are lenient: a field of the wrong type or `null` reads as its default instead of
//! failing the whole document: an odd stats or top body must not break `info()`. Podman 4.3 answers
//! `/top` with `200` and an empty body for busybox images; that parses as an empty [`Top`].

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::api::exec::IdResponse;
use crate::api::{check, Subject};
use crate::error::Result;
use crate::http::Response;
use crate::http::{percent_encode, Method, Query, Request};

/// `GET /containers/{id}/stats?stream=false[&one-shot=true]`.
///
/// With `one_shot` the engine answers at once but `precpu_stats` is empty, so no CPU percentage
/// can be computed from that sample alone ([`Stats::cpu_percent`] gives 0): take two samples and
/// combine them with [`Stats::since`]. Without it the engine waits for a second sample (about one
/// second) and fills `precpu_stats` itself.
pub fn stats(id: &str, one_shot: bool) -> Request {
    let mut q = Query::new().push("stream", "false");
    if one_shot {
        q = q.push("one-shot", "true");
    }
    Request::new(
        Method::Get,
        format!("/containers/{}/stats{}", percent_encode(id), q.finish()),
    )
}

/// `GET /containers/{id}/top`.
pub fn top(id: &str) -> Request {
    Request::new(
        Method::Get,
        format!("/containers/{}/top", percent_encode(id)),
    )
}

/// `GET /v4.0.0/libpod/containers/{id}/top`: Podman's process list, read from `/proc` by
/// the engine (no `ps` needed in the image).
pub fn libpod_top(id: &str) -> Request {
    Request::new(
        Method::Get,
        format!("/v4.0.0/libpod/containers/{}/top", percent_encode(id)),
    )
}

/// `GET /containers/{id}/changes`: filesystem changes against the image.
pub fn changes(id: &str) -> Request {
    Request::new(
        Method::Get,
        format!("/containers/{}/changes", percent_encode(id)),
    )
}

/// `POST /commit?container=&repo=&tag=[&comment=]`: make an image of a container (snapshot).
/// Split a user's `repo:tag` with [`crate::spec::split_image_ref`].
pub fn commit(container: &str, repo: &str, tag: &str, comment: Option<&str>) -> Request {
    let q = Query::new()
        .push("container", container)
        .push("repo", repo)
        .push("tag", tag)
        .push_opt("comment", comment.filter(|c| !c.is_empty()))
        .finish();
    // Podman's compat handler decodes a container config from the body: an empty body fails
    // with "Decode(): EOF", so send an empty object (Docker accepts it too).
    Request::json(Method::Post, format!("/commit{q}"), &serde_json::json!({}))
}

/// Deserialize any JSON value, falling back to the default when it does not fit `T`.
pub(crate) fn lenient<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

fn lenient_counters<'de, D>(d: D) -> std::result::Result<BTreeMap<String, u64>, D::Error>
where
    D: Deserializer<'de>,
{
    let v = Value::deserialize(d)?;
    Ok(v.as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_u64().map(|n| (k.clone(), n)))
                .collect()
        })
        .unwrap_or_default())
}

/// `pids_stats`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PidsStats {
    /// Processes in the container.
    #[serde(deserialize_with = "lenient")]
    pub current: Option<u64>,
    /// The pids limit, if any.
    #[serde(deserialize_with = "lenient")]
    pub limit: Option<u64>,
}

/// `memory_stats`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct MemoryStats {
    /// Memory charged to the container, page cache included.
    #[serde(deserialize_with = "lenient")]
    pub usage: Option<u64>,
    /// Peak usage (cgroup v1 only).
    #[serde(deserialize_with = "lenient")]
    pub max_usage: Option<u64>,
    /// The limit (host memory when there is none).
    #[serde(deserialize_with = "lenient")]
    pub limit: Option<u64>,
    /// The cgroup's counters: `total_inactive_file` on cgroup v1, `inactive_file` on v2.
    #[serde(deserialize_with = "lenient_counters")]
    pub stats: BTreeMap<String, u64>,
}

impl MemoryStats {
    /// Usage without the inactive page cache, as the docker CLI computes it
    /// (`total_inactive_file` on cgroup v1, `inactive_file` on cgroup v2).
    pub fn usage_without_cache(&self) -> Option<u64> {
        let usage = self.usage?;
        let cache = self
            .stats
            .get("total_inactive_file")
            .or_else(|| self.stats.get("inactive_file"))
            .copied()
            .filter(|c| *c < usage)
            .unwrap_or(0);
        Some(usage - cache)
    }
}

/// `cpu_stats.cpu_usage`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct CpuUsage {
    /// CPU time consumed, nanoseconds.
    #[serde(deserialize_with = "lenient")]
    pub total_usage: u64,
    /// Per-CPU time (cgroup v1 only).
    #[serde(deserialize_with = "lenient")]
    pub percpu_usage: Vec<u64>,
    /// Kernel-mode time.
    #[serde(deserialize_with = "lenient")]
    pub usage_in_kernelmode: u64,
    /// User-mode time.
    #[serde(deserialize_with = "lenient")]
    pub usage_in_usermode: u64,
}

/// `cpu_stats` / `precpu_stats`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct CpuStats {
    /// Container CPU time.
    #[serde(deserialize_with = "lenient")]
    pub cpu_usage: CpuUsage,
    /// Host CPU time, nanoseconds (all CPUs).
    #[serde(deserialize_with = "lenient")]
    pub system_cpu_usage: Option<u64>,
    /// CPUs online.
    #[serde(deserialize_with = "lenient")]
    pub online_cpus: Option<u32>,
}

impl CpuStats {
    fn cpus(&self) -> u64 {
        match self.online_cpus {
            Some(n) if n > 0 => u64::from(n),
            _ => self.cpu_usage.percpu_usage.len() as u64,
        }
    }
}

/// One `GET /containers/{id}/stats?stream=false` sample (Docker and Podman, cgroup v1 and v2).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Stats {
    /// When the sample was read (RFC 3339).
    #[serde(deserialize_with = "lenient")]
    pub read: String,
    /// When the previous sample was read.
    #[serde(deserialize_with = "lenient")]
    pub preread: String,
    /// Process count.
    #[serde(deserialize_with = "lenient")]
    pub pids_stats: PidsStats,
    /// Memory.
    #[serde(deserialize_with = "lenient")]
    pub memory_stats: MemoryStats,
    /// CPU now.
    #[serde(deserialize_with = "lenient")]
    pub cpu_stats: CpuStats,
    /// CPU at the previous sample (empty with `one-shot`).
    #[serde(deserialize_with = "lenient")]
    pub precpu_stats: CpuStats,
}

impl Stats {
    /// CPU use between `precpu_stats` and `cpu_stats`, in percent of one CPU (a container using
    /// two CPUs fully reads 200), rounded to 2 decimals, as the docker CLI computes it. 0 when
    /// there is no previous sample or no time passed.
    #[expect(
        clippy::cast_precision_loss,
        reason = "a percentage rounded to 2 decimals"
    )]
    pub fn cpu_percent(&self) -> f64 {
        let (cur, pre) = (&self.cpu_stats, &self.precpu_stats);
        let (Some(sys), Some(pre_sys)) = (cur.system_cpu_usage, pre.system_cpu_usage) else {
            return 0.0;
        };
        if pre_sys == 0 {
            return 0.0;
        }
        let sys_delta = sys.saturating_sub(pre_sys);
        let cpu_delta = cur
            .cpu_usage
            .total_usage
            .saturating_sub(pre.cpu_usage.total_usage);
        let cpus = cur.cpus();
        if sys_delta == 0 || cpu_delta == 0 || cpus == 0 {
            return 0.0;
        }
        round2(cpu_delta as f64 / sys_delta as f64 * cpus as f64 * 100.0)
    }

    /// This sample with `previous`'s CPU counters as its `precpu_stats`: two one-shot samples
    /// taken some time apart give an instantaneous [`cpu_percent`](Self::cpu_percent).
    pub fn since(mut self, previous: &Stats) -> Self {
        self.precpu_stats = previous.cpu_stats.clone();
        self.preread.clone_from(&previous.read);
        self
    }

    /// Memory use without page cache, the limit, and the percentage (2 decimals; 0 without a
    /// limit). `None` when the sample carries no usage.
    #[expect(
        clippy::cast_precision_loss,
        reason = "a percentage rounded to 2 decimals"
    )]
    pub fn memory(&self) -> Option<(u64, u64, f64)> {
        let usage = self.memory_stats.usage_without_cache()?;
        let limit = self.memory_stats.limit.unwrap_or(0);
        let pct = if limit > 0 {
            round2(usage as f64 / limit as f64 * 100.0)
        } else {
            0.0
        };
        Some((usage, limit, pct))
    }
}

pub(crate) fn round2(x: f64) -> f64 {
    if x.is_finite() {
        (x * 100.0).round() / 100.0
    } else {
        0.0
    }
}

/// Parse a stats response. `Ok(None)` when the body is empty or not a JSON object; error
/// statuses are mapped by [`check`] (404: container not found, 409: not running).
pub fn parse_stats(resp: &Response, id: &str) -> Result<Option<Stats>> {
    check(resp, "stats", Subject::Container(id))?;
    Ok(match serde_json::from_slice::<Value>(&resp.body) {
        Ok(v @ Value::Object(_)) => serde_json::from_value(v).ok(),
        _ => None,
    })
}

/// One process row of `/top`: the engine's column titles and this row's values, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessRow {
    /// `(title, value)` pairs in column order.
    pub fields: Vec<(String, String)>,
}

impl ProcessRow {
    /// The value under `title` (e.g. `PID`, `CMD`, `COMMAND`).
    pub fn get(&self, title: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(t, _)| t == title)
            .map(|(_, v)| v.as_str())
    }
}

impl Serialize for ProcessRow {
    /// A JSON object in column order, as the Python pocketdock's `{title: value}` dicts.
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.fields.len()))?;
        for (k, v) in &self.fields {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// `line` cut into at most `n` blank-separated columns, the last one keeping the rest (a
/// command line with its own blanks).
fn split_columns(line: &str, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let mut rest = line.trim_start();
    while out.len() + 1 < n && !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        out.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

/// The `/top` answer: column titles and rows of text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Top {
    /// Column titles (`UID`, `PID`, `PPID`, ..., `CMD`).
    pub titles: Vec<String>,
    /// Rows; non-string cells are rendered as JSON text, rows that are not arrays are dropped.
    pub processes: Vec<Vec<String>>,
}

impl Top {
    /// Decode a `/top` body leniently: an empty or non-JSON body, or titles that are not a list,
    /// give an empty result.
    pub fn from_body(body: &[u8]) -> Self {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        let cell = |c: &Value| match c {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let Some(titles) = v.get("Titles").and_then(Value::as_array) else {
            return Self::default();
        };
        let processes: Vec<Vec<String>> = v
            .get("Processes")
            .and_then(Value::as_array)
            .map(|rows| {
                rows.iter()
                    .filter_map(Value::as_array)
                    .map(|row| row.iter().map(cell).collect())
                    .collect()
            })
            .unwrap_or_default();
        let titles: Vec<String> = titles.iter().map(cell).collect();
        // Podman 4.3 answers with the `ps` table unsplit: one title "PID   USER     COMMAND"
        // and one cell per row. Split both on blanks, the last column taking the rest.
        if let [only] = titles.as_slice() {
            let split: Vec<String> = only.split_whitespace().map(ToString::to_string).collect();
            if split.len() > 1 {
                let n = split.len();
                let processes = processes
                    .into_iter()
                    .map(|row: Vec<String>| match row.as_slice() {
                        [line] => split_columns(line, n),
                        _ => row,
                    })
                    .collect();
                return Self {
                    titles: split,
                    processes,
                };
            }
        }
        Self { titles, processes }
    }

    /// Rows as title/value pairs (a row shorter than the titles gets fewer fields).
    pub fn rows(&self) -> Vec<ProcessRow> {
        self.processes
            .iter()
            .map(|row| ProcessRow {
                fields: self
                    .titles
                    .iter()
                    .cloned()
                    .zip(row.iter().cloned())
                    .collect(),
            })
            .collect()
    }
}

/// Parse a `/top` response (lenient body, see [`Top::from_body`]).
pub fn parse_top(resp: &Response, id: &str) -> Result<Top> {
    check(resp, "top", Subject::Container(id))?;
    Ok(Top::from_body(&resp.body))
}

/// What happened to a path, in a `/changes` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// `0`: modified.
    Modified,
    /// `1`: added.
    Added,
    /// `2`: deleted.
    Deleted,
    /// Any other code.
    Unknown,
}

/// One `/changes` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The path inside the container.
    pub path: String,
    /// What happened to it.
    pub kind: ChangeKind,
}

/// Parse a `/changes` response; `null` (Docker, no changes) and odd entries give fewer items.
pub fn parse_changes(resp: &Response, id: &str) -> Result<Vec<Change>> {
    check(resp, "changes", Subject::Container(id))?;
    let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let Some(items) = v.as_array() else {
        return Ok(Vec::new());
    };
    Ok(items
        .iter()
        .filter_map(|item| {
            let path = item.get("Path")?.as_str()?.to_string();
            let kind = match item.get("Kind").and_then(Value::as_u64) {
                Some(0) => ChangeKind::Modified,
                Some(1) => ChangeKind::Added,
                Some(2) => ChangeKind::Deleted,
                _ => ChangeKind::Unknown,
            };
            Some(Change { path, kind })
        })
        .collect())
}

/// Parse a commit response: the new image id (e.g. `sha256:...`).
pub fn parse_commit(resp: &Response, container: &str) -> Result<String> {
    check(resp, "commit", Subject::Container(container))?;
    Ok(resp.json::<IdResponse>("commit")?.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::http::ResponseHead;

    type Memory = (u64, u64, f64);

    fn resp(status: u16, body: &str) -> Response {
        Response {
            head: ResponseHead::new(status, "", &[]),
            body: bytes::Bytes::from(body.to_string()),
        }
    }

    fn stats_of(body: &str) -> Stats {
        parse_stats(&resp(200, body), "c")
            .unwrap()
            .unwrap_or_else(|| panic!("no stats in {body}"))
    }

    #[test]
    fn request_targets() {
        assert_eq!(
            stats("c1", true).target,
            "/containers/c1/stats?stream=false&one-shot=true"
        );
        assert_eq!(
            stats("c1", false).target,
            "/containers/c1/stats?stream=false"
        );
        assert_eq!(top("a b").target, "/containers/a%20b/top");
        assert_eq!(changes("c").target, "/containers/c/changes");
        let c = commit("c1", "localhost:5000/x", "v1", Some("snap shot"));
        assert_eq!(c.method, Method::Post);
        assert_eq!(
            c.target,
            "/commit?container=c1&repo=localhost%3A5000%2Fx&tag=v1&comment=snap%20shot"
        );
        assert_eq!(
            commit("c", "r", "t", Some("")).target,
            "/commit?container=c&repo=r&tag=t"
        );
        assert_eq!(
            commit("c", "r", "t", None).target,
            "/commit?container=c&repo=r&tag=t"
        );
    }

    #[test]
    fn cpu_percent_table() {
        let table: &[(&str, f64)] = &[
            // reference test: total 200/100, system 1000/500, 4 CPUs -> 80.0
            (
                r#"{"cpu_stats":{"cpu_usage":{"total_usage":200},"system_cpu_usage":1000,"online_cpus":4},
                 "precpu_stats":{"cpu_usage":{"total_usage":100},"system_cpu_usage":500}}"#,
                80.0,
            ),
            // cgroup v1 without online_cpus: percpu length
            (
                r#"{"cpu_stats":{"cpu_usage":{"total_usage":300,"percpu_usage":[1,2]},"system_cpu_usage":1000},
                 "precpu_stats":{"cpu_usage":{"total_usage":100},"system_cpu_usage":600}}"#,
                100.0,
            ),
            (
                r#"{"cpu_stats":{"cpu_usage":{"total_usage":1},"system_cpu_usage":3,"online_cpus":1},
                 "precpu_stats":{"cpu_usage":{"total_usage":0},"system_cpu_usage":0}}"#,
                0.0,
            ),
            (
                r#"{"cpu_stats":{"cpu_usage":{"total_usage":200},"system_cpu_usage":1000,"online_cpus":4},
                 "precpu_stats":{"cpu_usage":{"total_usage":100},"system_cpu_usage":1000}}"#,
                0.0,
            ),
            (
                r#"{"cpu_stats":{"cpu_usage":{"total_usage":200},"system_cpu_usage":1000,"online_cpus":0},
                 "precpu_stats":{"cpu_usage":{"total_usage":100},"system_cpu_usage":500}}"#,
                0.0,
            ),
            (
                r#"{"cpu_stats":{"cpu_usage":{"total_usage":50},"system_cpu_usage":1000,"online_cpus":4},
                 "precpu_stats":{"cpu_usage":{"total_usage":100},"system_cpu_usage":500}}"#,
                0.0,
            ),
            (
                r#"{"cpu_stats":{"cpu_usage":{"total_usage":"x"},"system_cpu_usage":1000,"online_cpus":4},
                 "precpu_stats":{"cpu_usage":{"total_usage":100},"system_cpu_usage":500}}"#,
                0.0,
            ),
            (r#"{"cpu_stats":"bad","precpu_stats":{}}"#, 0.0),
            (
                r#"{"cpu_stats":{"cpu_usage":"bad","system_cpu_usage":1000}}"#,
                0.0,
            ),
            (r#"{"cpu_stats":null,"precpu_stats":null}"#, 0.0),
            ("{}", 0.0),
            (
                r#"{"cpu_stats":{"cpu_usage":{"total_usage":1},"system_cpu_usage":3,"online_cpus":1},
                 "precpu_stats":{"cpu_usage":{"total_usage":0},"system_cpu_usage":1}}"#,
                50.0,
            ),
            (
                r#"{"cpu_stats":{"cpu_usage":{"total_usage":1},"system_cpu_usage":4,"online_cpus":1},
                 "precpu_stats":{"cpu_usage":{"total_usage":0},"system_cpu_usage":1}}"#,
                33.33,
            ),
        ];
        for (body, want) in table {
            let got = stats_of(body).cpu_percent();
            assert!((got - want).abs() < 1e-9, "{body}: {got} != {want}");
        }
    }

    #[test]
    fn two_one_shot_samples() {
        let a = stats_of(
            r#"{"read":"t1","cpu_stats":{"cpu_usage":{"total_usage":1000},"system_cpu_usage":10000,"online_cpus":2}}"#,
        );
        let b = stats_of(
            r#"{"read":"t2","cpu_stats":{"cpu_usage":{"total_usage":1500},"system_cpu_usage":12000,"online_cpus":2}}"#,
        );
        assert!(b.cpu_percent().abs() < 1e-9, "one-shot alone has no delta");
        let both = b.since(&a);
        assert_eq!(both.preread, "t1");
        assert!((both.cpu_percent() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn memory_table() {
        let table: &[(&str, Option<Memory>)] = &[
            (
                r#"{"memory_stats":{"usage":44040192,"limit":268435456}}"#,
                Some((44_040_192, 268_435_456, 16.41)),
            ),
            // cgroup v1: total_inactive_file subtracted
            (
                r#"{"memory_stats":{"usage":1000,"limit":2000,"stats":{"total_inactive_file":200,"cache":300}}}"#,
                Some((800, 2000, 40.0)),
            ),
            // cgroup v2: inactive_file subtracted
            (
                r#"{"memory_stats":{"usage":1000,"limit":4000,"stats":{"inactive_file":500,"anon":1}}}"#,
                Some((500, 4000, 12.5)),
            ),
            // cache larger than usage is ignored
            (
                r#"{"memory_stats":{"usage":100,"limit":0,"stats":{"inactive_file":500}}}"#,
                Some((100, 0, 0.0)),
            ),
            // non-numeric counters are skipped
            (
                r#"{"memory_stats":{"usage":100,"limit":200,"stats":{"inactive_file":"x"}}}"#,
                Some((100, 200, 50.0)),
            ),
            (r#"{"memory_stats":{"usage":"x","limit":200}}"#, None),
            (r#"{"memory_stats":{}}"#, None),
            (r#"{"memory_stats":null}"#, None),
            ("{}", None),
        ];
        for (body, want) in table {
            assert_eq!(stats_of(body).memory(), *want, "{body}");
        }
    }

    #[test]
    fn stats_bodies_and_statuses() {
        for body in ["", "  ", "not json", "[]", "42", "null"] {
            assert_eq!(
                parse_stats(&resp(200, body), "c").ok(),
                Some(None),
                "{body:?}"
            );
        }
        let s = stats_of(r#"{"pids_stats":{"current":5},"extra":1}"#);
        assert_eq!(s.pids_stats.current, Some(5));
        assert_eq!(stats_of(r#"{"pids_stats":"bad"}"#).pids_stats.current, None);
        assert!(matches!(
            parse_stats(&resp(404, r#"{"message":"No such container: c"}"#), "c"),
            Err(Error::ContainerNotFound(_))
        ));
        assert!(matches!(
            parse_stats(
                &resp(409, r#"{"message":"container c is not running"}"#),
                "c"
            ),
            Err(Error::ContainerNotRunning(_))
        ));
    }

    #[test]
    fn top_table() {
        let table: &[(&str, usize, usize)] = &[
            (
                r#"{"Titles":["PID","CMD"],"Processes":[["1","sleep"],["7","sh"]]}"#,
                2,
                2,
            ),
            (
                r#"{"Titles":["PID","CMD"],"Processes":[["1","sleep"],"junk"]}"#,
                2,
                1,
            ),
            (r#"{"Titles":["PID","CMD"],"Processes":null}"#, 2, 0),
            (r#"{"Titles":"PID","Processes":[["1"]]}"#, 0, 0),
            (r#"{"Processes":[["1"]]}"#, 0, 0),
            ("", 0, 0),
            ("not json", 0, 0),
            ("[]", 0, 0),
        ];
        for (body, titles, rows) in table {
            let t = parse_top(&resp(200, body), "c").unwrap();
            assert_eq!(
                (t.titles.len(), t.rows().len()),
                (*titles, *rows),
                "{body:?}"
            );
        }
        // Podman 4.3's unsplit table, as it answered on this project's test machine.
        let t = Top::from_body(
            br#"{"Processes":[["1 root     sh -c trap 'exit 0' TERM INT; while :; do sleep 3600 \u0026 wait $!; done"],["6 root     sleep 3600"]],"Titles":["PID   USER     COMMAND"]}"#,
        );
        assert_eq!(t.titles, ["PID", "USER", "COMMAND"]);
        let rows = t.rows();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].get("PID"), Some("1"));
        assert_eq!(
            rows[0].get("COMMAND"),
            Some("sh -c trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done")
        );
        assert_eq!(rows[1].get("USER"), Some("root"));
        assert_eq!(split_columns("  7 ", 3), ["7"]);
        let t = Top::from_body(br#"{"Titles":["PID","CMD","N"],"Processes":[[1,"sleep"]]}"#);
        let rows = t.rows();
        let row = rows.first().expect("one row");
        assert_eq!(row.get("PID"), Some("1"));
        assert_eq!(row.get("CMD"), Some("sleep"));
        assert_eq!(row.get("N"), None);
        assert_eq!(
            serde_json::to_string(row).unwrap_or_default(),
            r#"{"PID":"1","CMD":"sleep"}"#
        );
        assert!(matches!(
            parse_top(&resp(404, "{}"), "c"),
            Err(Error::ContainerNotFound(_))
        ));
    }

    #[test]
    fn changes_table() {
        let table: &[(&str, Vec<Change>)] = &[
            ("null", vec![]),
            ("", vec![]),
            ("{}", vec![]),
            (
                r#"[{"Path":"/tmp","Kind":0},{"Path":"/tmp/a","Kind":1},{"Path":"/x","Kind":2},{"Path":"/y","Kind":9},{"Kind":1}]"#,
                vec![
                    Change {
                        path: "/tmp".into(),
                        kind: ChangeKind::Modified,
                    },
                    Change {
                        path: "/tmp/a".into(),
                        kind: ChangeKind::Added,
                    },
                    Change {
                        path: "/x".into(),
                        kind: ChangeKind::Deleted,
                    },
                    Change {
                        path: "/y".into(),
                        kind: ChangeKind::Unknown,
                    },
                ],
            ),
        ];
        for (body, want) in table {
            assert_eq!(
                parse_changes(&resp(200, body), "c").ok().as_ref(),
                Some(want),
                "{body}"
            );
        }
    }

    #[test]
    fn commit_ids() {
        assert_eq!(
            parse_commit(&resp(201, r#"{"Id":"sha256:img"}"#), "c")
                .ok()
                .as_deref(),
            Some("sha256:img")
        );
        assert!(matches!(
            parse_commit(&resp(201, "oops"), "c"),
            Err(Error::Protocol(_))
        ));
        assert!(matches!(
            parse_commit(&resp(404, "{}"), "c"),
            Err(Error::ContainerNotFound(_))
        ));
        assert!(matches!(
            parse_commit(&resp(500, r#"{"message":"boom"}"#), "c"),
            Err(Error::Engine {
                op: "commit",
                status: 500,
                ..
            })
        ));
    }
}
