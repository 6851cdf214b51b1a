//! `logs/history.jsonl`, the per-command log files, and log retention.
//!
//! One JSON object per line, with the Python pocketdock's keys in its order:
//! `{"type":"run","command":…,"exit_code":…,"duration_ms":…,"timed_out":…,"timestamp":…}`. The
//! Python pocketdock wrote only `run` entries; sessions and detached processes add `session_id`,
//! `exec_id`, `log` (the log file name) and `truncated` when known. Readers skip blank and invalid
//! lines, so a torn last line never hides the rest.
//!
//! Retention (never implemented by the Python pocketdock) is planned here and done by the adapter:
//! [`plan_retention`] takes the files of an instance's `logs/` and the config and says which
//! files to delete and whether `history.jsonl` must be rotated (renamed to
//! [`rotated_history_name`]) first.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::config::PocketDockConfig;
use crate::error::{Error, Result};

/// What kind of command a history entry records.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HistoryKind {
    /// A blocking `run`.
    Run,
    /// A `send_and_wait` in a session.
    Session,
    /// A detached process.
    Detach,
    /// A type written by another version, kept as is.
    Other(String),
}

impl HistoryKind {
    /// The `type` value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Run => "run",
            Self::Session => "session",
            Self::Detach => "detach",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for HistoryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for HistoryKind {
    fn from(s: &str) -> Self {
        match s {
            "run" => Self::Run,
            "session" => Self::Session,
            "detach" => Self::Detach,
            other => Self::Other(other.to_string()),
        }
    }
}

impl Serialize for HistoryKind {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for HistoryKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::from(s.as_str()))
    }
}

/// One line of `history.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// `type`: run, session or detach.
    #[serde(rename = "type")]
    pub kind: HistoryKind,
    /// The command as the user gave it.
    pub command: String,
    /// Exit code (`-1` when unknown: timeout, killed, session ended).
    #[serde(default = "minus_one")]
    pub exit_code: i64,
    /// Wall time in milliseconds, rounded to 0.1.
    #[serde(default)]
    pub duration_ms: f64,
    /// The deadline passed.
    #[serde(default)]
    pub timed_out: bool,
    /// When the command started, ISO 8601 (see [`iso_timestamp`]).
    #[serde(default)]
    pub timestamp: String,
    /// The session's exec id (session entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The process's exec id (detach entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_id: Option<String>,
    /// The log file holding the output, relative to `logs/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Output was cut by the output cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
}

fn minus_one() -> i64 {
    -1
}

impl HistoryEntry {
    /// An entry with the required fields; `duration` is rounded to 0.1 ms as in the Python
    /// pocketdock.
    pub fn new(
        kind: HistoryKind,
        command: impl Into<String>,
        exit_code: i64,
        duration: Duration,
        timed_out: bool,
        timestamp: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            command: command.into(),
            exit_code,
            duration_ms: round_ms(duration),
            timed_out,
            timestamp: timestamp.into(),
            session_id: None,
            exec_id: None,
            log: None,
            truncated: None,
        }
    }
}

fn round_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// One `history.jsonl` line, with its trailing newline.
pub fn format_line(entry: &HistoryEntry) -> Result<String> {
    let mut line = serde_json::to_string(entry).map_err(|e| Error::Config {
        path: "history.jsonl".to_string(),
        detail: format!("cannot format entry: {e}"),
    })?;
    line.push('\n');
    Ok(line)
}

/// Every valid entry of a `history.jsonl` text, in order; blank and invalid lines are skipped.
pub fn parse_lines(text: &str) -> Vec<HistoryEntry> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The kind of a per-command log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogKind {
    /// `run-<ts>.log`.
    Run,
    /// `session-<ts>.log`.
    Session,
    /// `detach-<ts>.log`.
    Detach,
}

impl LogKind {
    /// The file name prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::Session => "session",
            Self::Detach => "detach",
        }
    }
}

/// A timestamp made safe for file names: `:` becomes `-` and `+` becomes `p`
/// (`2026-02-10T14:30:00.123456+00:00` → `2026-02-10T14-30-00.123456p00-00`).
pub fn safe_timestamp(iso: &str) -> String {
    iso.replace(':', "-").replace('+', "p")
}

/// `<kind>-<safe ts>.log`, e.g. `run-2026-02-10T14-30-00p00-00.log`. Path separators in the
/// timestamp are replaced too, so the result is always a plain file name.
pub fn log_file_name(kind: LogKind, iso_ts: &str) -> String {
    format!(
        "{}-{}.log",
        kind.as_str(),
        safe_timestamp(iso_ts).replace(['/', '\\'], "_")
    )
}

/// The name `history.jsonl` is renamed to when rotated: `history-<safe ts>.jsonl`.
pub fn rotated_history_name(iso_ts: &str) -> String {
    format!(
        "history-{}.jsonl",
        safe_timestamp(iso_ts).replace(['/', '\\'], "_")
    )
}

/// A UTC time in the Python pocketdock's format (Python `isoformat()`):
/// `2026-02-10T14:30:00.123456+00:00`, or without the fraction when `micros` is 0.
pub fn iso_timestamp(unix_secs: u64, micros: u32) -> String {
    let days = unix_secs / 86_400;
    let rem = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let (hour, min, sec) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let frac = if micros == 0 {
        String::new()
    } else {
        format!(".{:06}", micros.min(999_999))
    };
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{min:02}:{sec:02}{frac}+00:00")
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
#[allow(clippy::many_single_char_names)]
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// The text of a `run-<ts>.log` file, as the Python pocketdock writes it (no trailing newline).
pub fn run_log_text(
    command: &str,
    exit_code: i64,
    duration: Duration,
    timed_out: bool,
    stdout: &str,
    stderr: &str,
) -> String {
    let mut lines = vec![
        format!("# command: {command}"),
        format!("# exit_code: {exit_code}"),
        format!("# duration_ms: {:.1}", duration.as_secs_f64() * 1000.0),
        format!("# timed_out: {}", py_bool(timed_out)),
        String::new(),
    ];
    if !stdout.is_empty() {
        lines.push("--- stdout ---".to_string());
        lines.push(stdout.to_string());
    }
    if !stderr.is_empty() {
        lines.push("--- stderr ---".to_string());
        lines.push(stderr.to_string());
    }
    lines.join("\n")
}

/// The first bytes of a `detach-<ts>.log` file.
pub fn detach_log_header(command: &str) -> String {
    format!("# command: {command}\n\n")
}

/// One chunk of a detached process's output in its log: `[<iso ts>] [stdout] <data>`.
pub fn detach_log_line(iso_ts: &str, stream: crate::demux::StreamKind, data: &str) -> String {
    let name = if stream == crate::demux::StreamKind::Stdout {
        "stdout"
    } else {
        "stderr"
    };
    format!("[{iso_ts}] [{name}] {data}")
}

/// The last bytes of a `detach-<ts>.log` file.
pub fn detach_log_footer(exit_code: i64, duration: Duration) -> String {
    format!(
        "\n# exit_code: {exit_code}\n# duration_ms: {:.1}\n",
        duration.as_secs_f64() * 1000.0
    )
}

/// The first bytes of a `session-<ts>.log` file.
pub fn session_log_header(session_id: &str) -> String {
    format!("# session_id: {session_id}\n\n")
}

/// A command sent to a session, in its log: `[<iso ts>] >>> <cmd>`.
pub fn session_log_send(iso_ts: &str, command: &str) -> String {
    format!("[{iso_ts}] >>> {command}\n")
}

/// A file in an instance's `logs/` directory, as the adapter found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// File name (no directory).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub modified: u64,
}

/// The limits retention applies, from [`PocketDockConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// `history.jsonl` is rotated once it is at least this large (0 = never).
    pub max_log_size: u64,
    /// Most managed log files kept (0 = unlimited).
    pub max_logs_per_instance: u32,
    /// Managed log files older than this are deleted (0 = never).
    pub retention_days: u32,
}

impl RetentionPolicy {
    /// The policy a config asks for.
    pub fn from_config(config: &PocketDockConfig) -> Self {
        Self {
            max_log_size: config.max_log_size_bytes(),
            max_logs_per_instance: config.max_logs_per_instance,
            retention_days: config.retention_days,
        }
    }
}

/// What retention should do in one `logs/` directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPlan {
    /// File names to delete, oldest first.
    pub delete: Vec<String>,
    /// `history.jsonl` must be renamed to [`rotated_history_name`] (then a fresh one started).
    pub rotate_history: bool,
}

/// True for the files retention manages: `run-*.log`, `session-*.log`, `detach-*.log` and
/// rotated `history-*.jsonl`. Anything else in `logs/` (including `history.jsonl` itself) is
/// never deleted.
pub fn is_managed_log(name: &str) -> bool {
    if name.contains('/') || name.contains('\\') {
        return false;
    }
    let ext = std::path::Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let logs = ["run-", "session-", "detach-"];
    (logs.iter().any(|p| name.starts_with(p)) && ext == "log")
        || (name.starts_with("history-") && ext == "jsonl")
}

/// Plan retention for one instance's `logs/` at time `now` (Unix seconds):
///
/// 1. managed files modified more than `retention_days` ago are deleted;
/// 2. then, if more than `max_logs_per_instance` managed files remain, the oldest (by
///    modification time, then name) are deleted until that many remain;
/// 3. `history.jsonl` is to be rotated when its size reaches `max_log_size`.
///
/// Run it when no session or detached process of the instance is writing its log (for
/// example when the instance is created or resumed): a deleted open file keeps being written.
pub fn plan_retention(files: &[LogFile], policy: &RetentionPolicy, now: u64) -> RetentionPlan {
    let mut managed: Vec<&LogFile> = files.iter().filter(|f| is_managed_log(&f.name)).collect();
    managed.sort_by(|a, b| {
        a.modified
            .cmp(&b.modified)
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut delete = Vec::new();
    if policy.retention_days > 0 {
        let cutoff = now.saturating_sub(u64::from(policy.retention_days) * 86_400);
        let (old, keep): (Vec<&LogFile>, Vec<&LogFile>) =
            managed.into_iter().partition(|f| f.modified < cutoff);
        delete.extend(old.into_iter().map(|f| f.name.clone()));
        managed = keep;
    }
    let max = policy.max_logs_per_instance as usize;
    if max > 0 && managed.len() > max {
        let excess = managed.len() - max;
        delete.extend(managed.iter().take(excess).map(|f| f.name.clone()));
    }
    let rotate_history = policy.max_log_size > 0
        && files
            .iter()
            .any(|f| f.name == super::paths::HISTORY_FILE && f.size >= policy.max_log_size);
    RetentionPlan {
        delete,
        rotate_history,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demux::StreamKind;

    #[test]
    fn line_has_the_reference_keys_in_order() {
        let e = HistoryEntry::new(
            HistoryKind::Run,
            "echo \"hi\"",
            0,
            Duration::from_micros(4_960),
            false,
            "2026-02-10T14:30:00+00:00",
        );
        assert_eq!(
            format_line(&e).unwrap_or_default(),
            "{\"type\":\"run\",\"command\":\"echo \\\"hi\\\"\",\"exit_code\":0,\"duration_ms\":5.0,\
             \"timed_out\":false,\"timestamp\":\"2026-02-10T14:30:00+00:00\"}\n"
        );
    }

    #[test]
    fn parse_skips_blank_and_invalid_lines() {
        let mut e = HistoryEntry::new(
            HistoryKind::Session,
            "ls",
            2,
            Duration::from_millis(47),
            true,
            "t",
        );
        e.session_id = Some("exec-1".into());
        e.log = Some("session-x.log".into());
        let text = format!(
            "{}\n\nnot json\n{{\"type\": \"run\", \"command\": \"echo 1\", \"exit_code\": 0, \
             \"duration_ms\": 47.5, \"timed_out\": false, \"timestamp\": \"x\"}}\n{{\"type\":\"future\",\"command\":\"c\"}}\n{{\"truncated\n",
            format_line(&e).unwrap_or_default()
        );
        let got = parse_lines(&text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], e);
        assert_eq!(got[1].command, "echo 1");
        assert!((got[1].duration_ms - 47.5).abs() < f64::EPSILON);
        assert_eq!(got[2].kind, HistoryKind::Other("future".into()));
        assert_eq!(got[2].exit_code, -1);
        assert!(parse_lines("").is_empty());
    }

    #[test]
    fn file_names() {
        let ts = "2026-02-10T14:30:00.123456+00:00";
        assert_eq!(safe_timestamp(ts), "2026-02-10T14-30-00.123456p00-00");
        assert_eq!(
            log_file_name(LogKind::Run, ts),
            "run-2026-02-10T14-30-00.123456p00-00.log"
        );
        assert_eq!(log_file_name(LogKind::Session, "a/b"), "session-a_b.log");
        assert_eq!(log_file_name(LogKind::Detach, "t"), "detach-t.log");
        assert_eq!(rotated_history_name("t:1"), "history-t-1.jsonl");
    }

    #[test]
    fn iso_timestamps() {
        assert_eq!(iso_timestamp(0, 0), "1970-01-01T00:00:00+00:00");
        assert_eq!(
            iso_timestamp(1_770_733_800, 123_456),
            "2026-02-10T14:30:00.123456+00:00"
        );
        assert_eq!(iso_timestamp(951_782_400, 0), "2000-02-29T00:00:00+00:00");
        assert_eq!(
            iso_timestamp(4_102_444_799, 1),
            "2099-12-31T23:59:59.000001+00:00"
        );
    }

    #[test]
    fn log_texts() {
        let t = run_log_text(
            "echo hello",
            0,
            Duration::from_micros(47_500),
            false,
            "hello\n",
            "",
        );
        assert_eq!(t, "# command: echo hello\n# exit_code: 0\n# duration_ms: 47.5\n# timed_out: False\n\n--- stdout ---\nhello\n");
        let t = run_log_text("x", 1, Duration::ZERO, true, "", "err");
        assert!(t.ends_with("# timed_out: True\n\n--- stderr ---\nerr"));
        assert_eq!(detach_log_header("sleep 10"), "# command: sleep 10\n\n");
        assert_eq!(
            detach_log_line("T", StreamKind::Stdout, "hello\n"),
            "[T] [stdout] hello\n"
        );
        assert_eq!(
            detach_log_line("T", StreamKind::Stderr, "warning\n"),
            "[T] [stderr] warning\n"
        );
        assert_eq!(
            detach_log_footer(0, Duration::from_micros(100_500)),
            "\n# exit_code: 0\n# duration_ms: 100.5\n"
        );
        assert_eq!(session_log_header("exec-123"), "# session_id: exec-123\n\n");
        assert_eq!(session_log_send("T", "ls -la"), "[T] >>> ls -la\n");
    }

    fn f(name: &str, size: u64, modified: u64) -> LogFile {
        LogFile {
            name: name.into(),
            size,
            modified,
        }
    }

    #[test]
    fn retention_by_age_count_and_size() {
        let day = 86_400;
        let now = 100 * day;
        let files = vec![
            f("history.jsonl", 20, now),
            f("notes.txt", 1, 0),
            f("run-a.log", 1, now - 40 * day),
            f("run-b.log", 1, now - 10 * day),
            f("session-c.log", 1, now - 5 * day),
            f("detach-d.log", 1, now - day),
            f("history-old.jsonl", 1, now - 2 * day),
            f("run-e.log", 1, now),
        ];
        let policy = RetentionPolicy {
            max_log_size: 10,
            max_logs_per_instance: 3,
            retention_days: 30,
        };
        let plan = plan_retention(&files, &policy, now);
        assert_eq!(plan.delete, vec!["run-a.log", "run-b.log", "session-c.log"]);
        assert!(plan.rotate_history);

        let unlimited = RetentionPolicy {
            max_log_size: 0,
            max_logs_per_instance: 0,
            retention_days: 0,
        };
        assert_eq!(
            plan_retention(&files, &unlimited, now),
            RetentionPlan::default()
        );
        let small = RetentionPolicy {
            max_log_size: 21,
            ..unlimited
        };
        assert!(!plan_retention(&files, &small, now).rotate_history);
    }

    #[test]
    fn retention_from_config() {
        let p = RetentionPolicy::from_config(&PocketDockConfig::default());
        assert_eq!(
            p,
            RetentionPolicy {
                max_log_size: 10 << 20,
                max_logs_per_instance: 100,
                retention_days: 30
            }
        );
        assert!(is_managed_log("run-x.log"));
        assert!(!is_managed_log("history.jsonl"));
        assert!(!is_managed_log("run-x.txt"));
        assert!(!is_managed_log("../run-x.log"));
    }
}
