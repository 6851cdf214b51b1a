//! Per-instance logs of persistent containers in a project, with the limits of the project's
//! `logging:` settings enforced.
//!
//! Under `<instance dir>/logs/`:
//!
//! * `history.jsonl`: one line per blocking run, streamed run, detached command and session
//!   command (the Python pocketdock wrote only blocking runs), with the Python pocketdock's keys;
//! * `run-<ts>.log`, `detach-<ts>.log`, `session-<ts>.log`: the output, in the Python pocketdock's
//!   layout.
//!
//! Limits (none of which the Python pocketdock applied):
//!
//! * `auto_log: false` turns all of it off;
//! * `max_log_size` caps every log file (a note ends a cut file) and rotates `history.jsonl` to
//!   `history-<ts>.jsonl` once it reaches the size;
//! * `retention_days` and `max_logs_per_instance` are applied with [`plan_retention`] whenever
//!   a log file is started and when the container is created or resumed. Files still being
//!   written (an open detach or session log of this handle) are never deleted.
//!
//! Logging is best effort: a full disk or a removed directory never fails a command.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pocketdock_proto::detached::Callbacks;
use pocketdock_proto::project::config::PocketDockConfig;
use pocketdock_proto::project::history::{
    self, iso_timestamp, log_file_name, plan_retention, rotated_history_name, HistoryEntry,
    HistoryKind, LogFile, LogKind, RetentionPolicy,
};
use pocketdock_proto::project::paths::{self, HISTORY_FILE};
use pocketdock_proto::{ExecResult, StreamKind};

/// The note that ends a log file cut at `max_log_size`.
const CUT_NOTE: &str = "\n# log truncated: max_log_size reached\n";

/// `now` as seconds and microseconds since the Unix epoch.
fn unix_now(t: SystemTime) -> (u64, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    (d.as_secs(), d.subsec_micros())
}

/// An ISO 8601 UTC timestamp of `t`, as the Python pocketdock writes them.
pub fn iso(t: SystemTime) -> String {
    let (secs, micros) = unix_now(t);
    iso_timestamp(secs, micros)
}

#[derive(Debug)]
struct Inner {
    logs: PathBuf,
    policy: RetentionPolicy,
    /// Log files being written by this handle: retention leaves them alone.
    active: Mutex<HashSet<String>>,
}

impl Inner {
    fn active(&self) -> MutexGuard<'_, HashSet<String>> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The logs of one instance directory. Cheap to clone; every clone writes to the same files.
///
/// The session code calls [`session`](Self::session) when a session opens and logs each command
/// through the returned [`SessionLog`].
#[derive(Debug, Clone)]
pub struct InstanceLog {
    inner: Arc<Inner>,
}

impl InstanceLog {
    /// The logs of `instance_dir` (already checked to be a real instance directory) under
    /// `config`; `None` when `auto_log` is off or `logs/` cannot be created.
    pub fn open(instance_dir: &Path, config: &PocketDockConfig) -> Option<Self> {
        if !config.auto_log {
            return None;
        }
        let logs = paths::logs_dir(instance_dir);
        std::fs::create_dir_all(&logs).ok()?;
        Some(Self {
            inner: Arc::new(Inner {
                logs,
                policy: RetentionPolicy::from_config(config),
                active: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// The `logs/` directory.
    pub fn dir(&self) -> &Path {
        &self.inner.logs
    }

    fn cap(&self) -> u64 {
        self.inner.policy.max_log_size
    }

    /// Delete what retention says (old and excess log files) and rotate a large
    /// `history.jsonl`. Files this handle is still writing are kept.
    pub fn apply_retention(&self) {
        // Rotate first, so that the rotated file counts against the limits at once.
        self.rotate_if_large();
        let Ok(entries) = std::fs::read_dir(&self.inner.logs) else {
            return;
        };
        let active = self.inner.active().clone();
        let files: Vec<LogFile> = entries
            .filter_map(std::result::Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_string();
                let meta = e.metadata().ok()?;
                if !meta.is_file() || active.contains(&name) {
                    return None;
                }
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs());
                Some(LogFile {
                    name,
                    size: meta.len(),
                    modified,
                })
            })
            .collect();
        let (now, _) = unix_now(SystemTime::now());
        let plan = plan_retention(&files, &self.inner.policy, now);
        for name in &plan.delete {
            if history::is_managed_log(name) {
                let _ = std::fs::remove_file(self.inner.logs.join(name));
            }
        }
    }

    /// Rotate `history.jsonl` when it has reached `max_log_size`.
    fn rotate_if_large(&self) {
        let cap = self.cap();
        let path = self.inner.logs.join(HISTORY_FILE);
        if cap > 0 && std::fs::metadata(&path).is_ok_and(|m| m.len() >= cap) {
            self.rotate_history();
        }
    }

    /// Rename `history.jsonl` to `history-<ts>.jsonl` (a fresh one starts with the next line).
    fn rotate_history(&self) {
        let from = self.inner.logs.join(HISTORY_FILE);
        let ts = iso(SystemTime::now());
        let mut to = self.inner.logs.join(rotated_history_name(&ts));
        let mut n = 1;
        while to.exists() && n < 100 {
            to = self
                .inner
                .logs
                .join(rotated_history_name(&format!("{ts}-{n}")));
            n += 1;
        }
        let _ = std::fs::rename(from, to);
    }

    /// Append one line to `history.jsonl`, rotating it first when it has reached the size limit.
    pub fn append_history(&self, entry: &HistoryEntry) {
        self.rotate_if_large();
        let path = self.inner.logs.join(HISTORY_FILE);
        let Ok(line) = history::format_line(entry) else {
            return;
        };
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(&path) {
            // One write of a whole line: concurrent appenders never interleave inside a line.
            let _ = f.write_all(line.as_bytes());
        }
    }

    /// Create a new log file `<kind>-<ts>.log` (a suffix is added if the name is taken) and
    /// mark it active; returns its name and the open file.
    fn create_log(&self, kind: LogKind, ts: &str) -> Option<(String, File)> {
        for n in 0..100 {
            let stamp = if n == 0 {
                ts.to_string()
            } else {
                format!("{ts}-{n}")
            };
            let name = log_file_name(kind, &stamp);
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.inner.logs.join(&name))
            {
                Ok(f) => return Some((name, f)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(_) => return None,
            }
        }
        None
    }

    /// Log a finished run (blocking or streamed): `run-<ts>.log` and a `run` history line.
    pub fn log_run(&self, command: &str, started: SystemTime, result: &ExecResult) {
        let ts = iso(started);
        let mut entry = HistoryEntry::new(
            HistoryKind::Run,
            command,
            result.exit_code,
            result.duration,
            result.timed_out,
            ts.clone(),
        );
        if result.truncated {
            entry.truncated = Some(true);
        }
        if let Some((name, file)) = self.create_log(LogKind::Run, &ts) {
            let text = history::run_log_text(
                command,
                result.exit_code,
                result.duration,
                result.timed_out,
                &result.stdout_str(),
                &result.stderr_str(),
            );
            let mut w = CappedFile::new(file, self.cap());
            w.write(text.as_bytes());
            entry.log = Some(name);
        }
        self.append_history(&entry);
        self.apply_retention();
    }

    /// Start the log of a detached command: `detach-<ts>.log` with its header.
    pub fn detach(&self, command: &str) -> DetachLog {
        let started = SystemTime::now();
        let ts = iso(started);
        let file = self.create_log(LogKind::Detach, &ts).map(|(name, file)| {
            self.inner.active().insert(name.clone());
            let mut w = CappedFile::new(file, self.cap());
            w.write(history::detach_log_header(command).as_bytes());
            (name, w)
        });
        self.apply_retention();
        let (name, writer) = match file {
            Some((n, w)) => (Some(n), Some(w)),
            None => (None, None),
        };
        DetachLog {
            shared: Arc::new(Mutex::new(DetachState {
                log: self.clone(),
                command: command.to_string(),
                ts,
                started: Instant::now(),
                name,
                writer,
                exec_id: None,
                launched: false,
                finished: false,
                pending: None,
            })),
        }
    }

    /// Start the log of a session: `session-<ts>.log` with its header. For the session code.
    pub fn session(&self, session_id: &str) -> SessionLog {
        let ts = iso(SystemTime::now());
        let file = self.create_log(LogKind::Session, &ts).map(|(name, file)| {
            self.inner.active().insert(name.clone());
            let mut w = CappedFile::new(file, self.cap());
            w.write(history::session_log_header(session_id).as_bytes());
            (name, w)
        });
        self.apply_retention();
        let (name, writer) = match file {
            Some((n, w)) => (Some(n), Some(w)),
            None => (None, None),
        };
        SessionLog {
            shared: Arc::new(Mutex::new(SessionState {
                log: self.clone(),
                session_id: session_id.to_string(),
                name,
                writer,
            })),
        }
    }

    fn release(&self, name: &str) {
        self.inner.active().remove(name);
    }
}

/// A file that takes at most `cap` bytes (0 = no cap), then ends with [`CUT_NOTE`].
#[derive(Debug)]
struct CappedFile {
    file: File,
    written: u64,
    cap: u64,
    cut: bool,
}

impl CappedFile {
    fn new(file: File, cap: u64) -> Self {
        Self {
            file,
            written: 0,
            cap,
            cut: false,
        }
    }

    fn write(&mut self, data: &[u8]) {
        if self.cut {
            return;
        }
        let room = if self.cap == 0 {
            data.len()
        } else {
            usize::try_from(self.cap.saturating_sub(self.written)).unwrap_or(usize::MAX)
        };
        let take = room.min(data.len());
        if self.file.write_all(&data[..take]).is_ok() {
            self.written += take as u64;
        }
        if take < data.len() {
            self.cut = true;
            let _ = self.file.write_all(CUT_NOTE.as_bytes());
        }
    }
}

#[derive(Debug)]
struct DetachState {
    log: InstanceLog,
    command: String,
    ts: String,
    started: Instant,
    name: Option<String>,
    writer: Option<CappedFile>,
    exec_id: Option<String>,
    /// `Process::start` has returned: the exec id is known (or never will be).
    launched: bool,
    finished: bool,
    /// Exit code and duration of a command that ended before `started`.
    pending: Option<(i64, Duration)>,
}

impl DetachState {
    fn write_history(&self, exit_code: i64, duration: Duration) {
        let mut entry = HistoryEntry::new(
            HistoryKind::Detach,
            self.command.clone(),
            exit_code,
            duration,
            false,
            self.ts.clone(),
        );
        entry.exec_id.clone_from(&self.exec_id);
        entry.log.clone_from(&self.name);
        self.log.append_history(&entry);
    }
}

/// The log of one detached command; cheap to clone (the reader thread's callbacks hold clones).
#[derive(Debug, Clone)]
pub struct DetachLog {
    shared: Arc<Mutex<DetachState>>,
}

impl DetachLog {
    fn lock(&self) -> MutexGuard<'_, DetachState> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The command was started as exec `id` (`None`: it could not be started). The history line
    /// of a command that already ended is written now, with the id.
    pub fn started(&self, id: Option<&str>) {
        let mut s = self.lock();
        s.exec_id = id.map(str::to_string);
        s.launched = true;
        if let Some((code, duration)) = s.pending.take() {
            s.write_history(code, duration);
        }
    }

    /// One chunk of output: `[<ts>] [stdout] <data>`.
    pub fn output(&self, stream: StreamKind, data: &[u8]) {
        let mut s = self.lock();
        if s.finished {
            return;
        }
        let line = history::detach_log_line(
            &iso(SystemTime::now()),
            stream,
            &String::from_utf8_lossy(data),
        );
        if let Some(w) = s.writer.as_mut() {
            w.write(line.as_bytes());
        }
    }

    /// The command ended with `exit_code` (`-1` when unknown): the footer and a `detach` history
    /// line. Only the first call counts.
    pub fn finish(&self, exit_code: i64) {
        let mut s = self.lock();
        if s.finished {
            return;
        }
        s.finished = true;
        let duration = s.started.elapsed();
        if let Some(mut w) = s.writer.take() {
            w.cut = false; // the footer always fits
            let _ = w
                .file
                .write_all(history::detach_log_footer(exit_code, duration).as_bytes());
        }
        if s.launched {
            s.write_history(exit_code, duration);
        } else {
            s.pending = Some((exit_code, duration));
        }
        if let Some(name) = &s.name {
            s.log.release(name);
        }
    }
}

/// The log of one run (blocking or streamed) of a container's command, started when the
/// command is: [`finish`](Self::finish) writes it once the result is known. A container
/// without logs gives a record that writes nothing, so the callers need no `if`.
#[derive(Debug)]
pub struct RunRecord {
    log: Option<InstanceLog>,
    command: String,
    started: SystemTime,
}

impl RunRecord {
    /// A run of `command` (as displayed) starting now, logged in `log` if any.
    pub fn start(log: Option<&InstanceLog>, command: &str) -> Self {
        Self {
            log: log.cloned(),
            command: command.to_string(),
            started: SystemTime::now(),
        }
    }

    /// The run ended with `result`: `run-<ts>.log` and a `run` history line.
    pub fn finish(&self, result: &ExecResult) {
        if let Some(log) = &self.log {
            log.log_run(&self.command, self.started, result);
        }
    }
}

/// The callbacks of one detached command: the container's own, then (for a container with
/// logs) its detach log. [`started`](Self::started) tells the log how the start went.
#[derive(Debug)]
pub struct DetachHooks {
    callbacks: Callbacks,
    log: Option<DetachLog>,
}

impl DetachHooks {
    /// The hooks of `command` (as displayed), started now in a container with `callbacks` and
    /// `log`.
    pub fn new(callbacks: &Callbacks, log: Option<&InstanceLog>, command: &str) -> Self {
        let Some(log) = log else {
            return Self {
                callbacks: callbacks.clone(),
                log: None,
            };
        };
        let dlog = log.detach(command);
        let hooks = Callbacks::default();
        let (user, l) = (callbacks.clone(), dlog.clone());
        hooks.on_stdout(Arc::new(move |d: &[u8]| {
            user.stdout(d);
            l.output(StreamKind::Stdout, d);
        }));
        let (user, l) = (callbacks.clone(), dlog.clone());
        hooks.on_stderr(Arc::new(move |d: &[u8]| {
            user.stderr(d);
            l.output(StreamKind::Stderr, d);
        }));
        let (user, l) = (callbacks.clone(), dlog.clone());
        hooks.on_exit(Arc::new(move |code| {
            l.finish(code);
            user.exit(code);
        }));
        Self {
            callbacks: hooks,
            log: Some(dlog),
        }
    }

    /// The callbacks to hand to the detached process.
    pub fn callbacks(&self) -> Callbacks {
        self.callbacks.clone()
    }

    /// The process started as exec `id`, or could not start (`None`: the log ends at once).
    pub fn started(&self, id: Option<&str>) {
        if let Some(dlog) = &self.log {
            dlog.started(id);
            if id.is_none() {
                dlog.finish(-1);
            }
        }
    }
}

#[derive(Debug)]
struct SessionState {
    log: InstanceLog,
    session_id: String,
    name: Option<String>,
    writer: Option<CappedFile>,
}

/// The log of one session, for the session code: `send` for every command sent (including
/// those of `send_and_wait`), `output` for what the shell prints, `command` when a
/// `send_and_wait` ends, `close` when the session ends. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SessionLog {
    shared: Arc<Mutex<SessionState>>,
}

impl SessionLog {
    fn lock(&self) -> MutexGuard<'_, SessionState> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A command sent to the shell: `[<ts>] >>> <cmd>`.
    pub fn send(&self, command: &str) {
        let line = history::session_log_send(&iso(SystemTime::now()), command);
        if let Some(w) = self.lock().writer.as_mut() {
            w.write(line.as_bytes());
        }
    }

    /// Output of the shell, written as is.
    pub fn output(&self, data: &[u8]) {
        if let Some(w) = self.lock().writer.as_mut() {
            w.write(data);
        }
    }

    /// A `send_and_wait` command that started at `started` ended with `result`: its output
    /// (unless the session already `echoed` it here as it arrived, through its `on_output`
    /// callback) and a `session` history line.
    pub fn command(&self, command: &str, started: SystemTime, result: &ExecResult, echoed: bool) {
        if !echoed {
            self.output(&result.stdout);
            self.output(&result.stderr);
        }
        let s = self.lock();
        let mut entry = HistoryEntry::new(
            HistoryKind::Session,
            command,
            result.exit_code,
            result.duration,
            result.timed_out,
            iso(started),
        );
        entry.session_id = Some(s.session_id.clone());
        entry.log.clone_from(&s.name);
        if result.truncated {
            entry.truncated = Some(true);
        }
        s.log.append_history(&entry);
    }

    /// The session ended: the file is closed and may be cleaned up by retention later.
    pub fn close(&self) {
        let mut s = self.lock();
        s.writer = None;
        if let Some(name) = s.name.take() {
            s.log.release(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "pd-logging-{tag}-{}-{}",
            std::process::id(),
            crate::random::random_u64()
        ));
        let _ = std::fs::create_dir_all(&d);
        d
    }

    fn result(code: i64, out: &str) -> ExecResult {
        ExecResult {
            exit_code: code,
            stdout: out.as_bytes().to_vec(),
            stderr: Vec::new(),
            duration: Duration::from_millis(5),
            timed_out: false,
            truncated: false,
            elided_bytes: 0,
            usage: None,
            oom_killed: false,
        }
    }

    #[test]
    fn run_detach_session_and_limits() {
        let dir = tmp("all");
        let config = PocketDockConfig {
            max_log_size: "1k".into(),
            max_logs_per_instance: 3,
            ..PocketDockConfig::default()
        };
        let log = InstanceLog::open(&dir, &config).unwrap_or_else(|| panic!("open"));
        log.log_run("echo hi", SystemTime::now(), &result(0, "hi\n"));
        let hist = std::fs::read_to_string(dir.join("logs/history.jsonl")).unwrap_or_default();
        let entries = history::parse_lines(&hist);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].kind, HistoryKind::Run);
        assert_eq!(entries[0].exit_code, 0);
        let run_log = entries[0].log.clone().unwrap_or_default();
        let text = std::fs::read_to_string(dir.join("logs").join(&run_log)).unwrap_or_default();
        assert!(
            text.contains("# command: echo hi") && text.ends_with("hi\n"),
            "{text}"
        );

        // A big output is cut at max_log_size (in a fresh directory: history rotates too).
        let dir2 = tmp("cap");
        let config2 = PocketDockConfig {
            max_log_size: "200".into(),
            ..PocketDockConfig::default()
        };
        let log2 = InstanceLog::open(&dir2, &config2).unwrap_or_else(|| panic!("open"));
        log2.log_run("yes", SystemTime::now(), &result(0, &"y\n".repeat(500)));
        let text = std::fs::read_dir(dir2.join("logs"))
            .into_iter()
            .flatten()
            .filter_map(std::result::Result::ok)
            .find(|e| e.file_name().to_string_lossy().starts_with("run-"))
            .and_then(|e| std::fs::read_to_string(e.path()).ok())
            .unwrap_or_default();
        assert!(text.len() <= 200 + CUT_NOTE.len(), "{}", text.len());
        assert!(text.ends_with(CUT_NOTE));
        let _ = std::fs::remove_dir_all(&dir2);

        let d = log.detach("sleep 1");
        d.started(Some("exec-1"));
        d.output(StreamKind::Stdout, b"hello\n");
        d.output(StreamKind::Stderr, b"warn\n");
        d.finish(0);
        d.finish(3);
        let s = log.session("sess-1");
        s.send("ls");
        s.output(b"a\n");
        s.command("ls", SystemTime::now(), &result(0, "a\n"), true);
        s.close();
        // Many more runs: at most 3 managed files remain, history rotated past 200 bytes.
        for i in 0..6 {
            log.log_run(&format!("echo {i}"), SystemTime::now(), &result(0, ""));
        }
        let names: Vec<String> = std::fs::read_dir(dir.join("logs"))
            .map(|rd| {
                rd.filter_map(std::result::Result::ok)
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let managed = names.iter().filter(|n| history::is_managed_log(n)).count();
        assert!(managed <= 3, "{names:?}");

        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn auto_log_off_writes_nothing() {
        let dir = tmp("off");
        let config = PocketDockConfig {
            auto_log: false,
            ..PocketDockConfig::default()
        };
        assert!(InstanceLog::open(&dir, &config).is_none());
        assert!(!dir.join("logs").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn detach_log_layout() {
        let dir = tmp("detach");
        let log =
            InstanceLog::open(&dir, &PocketDockConfig::default()).unwrap_or_else(|| panic!("open"));
        let d = log.detach("sleep 10");
        d.output(StreamKind::Stdout, b"hello\n");
        d.finish(0);
        // The line waits for the exec id.
        assert!(!dir.join("logs/history.jsonl").exists());
        d.started(Some("exec-9"));
        let entries = history::parse_lines(
            &std::fs::read_to_string(dir.join("logs/history.jsonl")).unwrap_or_default(),
        );
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].kind, HistoryKind::Detach);
        assert_eq!(entries[0].exec_id.as_deref(), Some("exec-9"));
        let name = entries[0].log.clone().unwrap_or_default();
        assert!(name.starts_with("detach-"));
        let text = std::fs::read_to_string(dir.join("logs").join(name)).unwrap_or_default();
        assert!(text.starts_with("# command: sleep 10\n\n["), "{text}");
        assert!(text.contains("] [stdout] hello\n"));
        assert!(text.contains("\n# exit_code: 0\n# duration_ms: "));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
