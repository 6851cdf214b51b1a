//! Crash-safe cleanup without a daemon: who owns an ephemeral container or a command, and
//! whether that owner is provably gone.
//!
//! An ephemeral container is removed when its handle is dropped, but a process killed with
//! `SIGKILL` drops nothing. So every ephemeral container carries its owner in labels (the
//! process id, the process's start time in clock ticks since boot, the kernel's boot id, the
//! pid namespace and the host name) and every command carries the same owner inside its nonce
//! ([`Owner::token`]). Any later pocketdock start looks at them: an owner whose process is gone
//! (same machine, same boot, same pid namespace, and no process with that id and start time),
//! or whose machine rebooted since, is gone; its containers are removed and its commands
//! killed. An owner on another machine or in another pid namespace cannot be judged from here
//! and is left alone. A container may also carry a time to live, after which it is removed
//! whoever owns it.
//!
//! The decisions are here, pure; the adapters list containers, read the host's `/proc`, remove
//! and kill.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::spec::{LABEL_MANAGED, LABEL_PERSIST};

/// Label: the owner's process id.
pub const LABEL_OWNER_PID: &str = "pocketdock.owner-pid";
/// Label: the owner's start time, clock ticks after boot (`/proc/<pid>/stat` field 22).
pub const LABEL_OWNER_START: &str = "pocketdock.owner-start";
/// Label: the kernel's boot id when the owner ran (`/proc/sys/kernel/random/boot_id`).
pub const LABEL_OWNER_BOOT: &str = "pocketdock.owner-boot";
/// Label: the owner's pid namespace (the inode of `/proc/self/ns/pid`).
pub const LABEL_OWNER_PIDNS: &str = "pocketdock.owner-pidns";
/// Label: the owner's host name.
pub const LABEL_OWNER_HOST: &str = "pocketdock.owner-host";
/// Label: seconds after its creation when the container is removed, whoever owns it.
pub const LABEL_TTL: &str = "pocketdock.ttl";

/// How often a start may look for orphans: at most once per this interval.
pub const REAP_INTERVAL: Duration = Duration::from_secs(60);

/// Prefix of an owner inside a command's nonce.
const TOKEN_PREFIX: &str = "po_";

/// A process that owns containers or commands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// Start time in clock ticks after boot (tells a process from a later one with its pid).
    pub start: u64,
    /// The kernel's boot id.
    pub boot_id: String,
    /// The inode of the owner's pid namespace.
    pub pid_ns: u64,
    /// The host name.
    pub host: String,
}

impl Owner {
    /// The owner as labels of a container.
    pub fn labels(&self) -> [(&'static str, String); 5] {
        [
            (LABEL_OWNER_PID, self.pid.to_string()),
            (LABEL_OWNER_START, self.start.to_string()),
            (LABEL_OWNER_BOOT, self.boot_id.clone()),
            (LABEL_OWNER_PIDNS, self.pid_ns.to_string()),
            (LABEL_OWNER_HOST, self.host.clone()),
        ]
    }

    /// The owner from a container's labels; `None` when any is missing or malformed.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Option<Self> {
        let get = |k: &str| labels.get(k).map(String::as_str);
        Some(Self {
            pid: get(LABEL_OWNER_PID)?.parse().ok()?,
            start: get(LABEL_OWNER_START)?.parse().ok()?,
            boot_id: checked_word(get(LABEL_OWNER_BOOT)?)?.to_string(),
            pid_ns: get(LABEL_OWNER_PIDNS)?.parse().ok()?,
            host: checked_word(get(LABEL_OWNER_HOST)?)?.to_string(),
        })
    }

    /// The owner as one word for a command's nonce:
    /// `po_<boot id>_<pid ns>_<pid>_<start>_<host>`.
    pub fn token(&self) -> String {
        format!(
            "{TOKEN_PREFIX}{}_{}_{}_{}_{}",
            self.boot_id, self.pid_ns, self.pid, self.start, self.host
        )
    }

    /// The owner of a token made by [`token`](Self::token) (exactly: a command's nonce holds
    /// the token followed by more, and is matched by containment, never parsed).
    pub fn parse_token(token: &str) -> Option<Self> {
        let rest = token.strip_prefix(TOKEN_PREFIX)?;
        let mut parts = rest.splitn(5, '_');
        let boot_id = checked_word(parts.next()?)?.to_string();
        let pid_ns = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let start = parts.next()?.parse().ok()?;
        let host = checked_word(parts.next()?)?.to_string();
        Some(Self {
            pid,
            start,
            boot_id,
            pid_ns,
            host,
        })
    }
}

/// `s` when it is a non-empty word of `[A-Za-z0-9.-]` of at most 255 bytes (boot ids, host
/// names): nothing a shell pattern or a label could misread.
fn checked_word(s: &str) -> Option<&str> {
    (!s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
    .then_some(s)
}

/// This machine as the reaper sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostView {
    /// The kernel's boot id now.
    pub boot_id: String,
    /// The reaper's pid namespace.
    pub pid_ns: u64,
    /// The host name.
    pub host: String,
}

/// Whether an owner still runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// The owner runs: leave its containers and commands alone.
    Alive,
    /// The owner is provably gone (why).
    Gone(String),
    /// It cannot be told from here (another host or pid namespace): leave alone.
    Unknown(String),
}

/// Is `owner` gone? `start_of_pid` is the start time of the process with the owner's pid on
/// this host now (`None`: no such process). Only an owner of this host, this boot and this
/// pid namespace is judged by its process; one of an earlier boot of this host is gone.
pub fn owner_liveness(owner: &Owner, here: &HostView, start_of_pid: Option<u64>) -> Liveness {
    if owner.host != here.host {
        return Liveness::Unknown(format!("owned on host {}", owner.host));
    }
    if owner.boot_id != here.boot_id {
        return Liveness::Gone("its machine rebooted since".into());
    }
    if owner.pid_ns != here.pid_ns {
        return Liveness::Unknown("owned in another pid namespace".into());
    }
    match start_of_pid {
        Some(start) if start == owner.start => Liveness::Alive,
        Some(_) => Liveness::Gone(format!(
            "process {} ended (its pid now names another process)",
            owner.pid
        )),
        None => Liveness::Gone(format!("process {} ended", owner.pid)),
    }
}

/// The start time (field 22, clock ticks after boot) from the text of `/proc/<pid>/stat`. The
/// command name (field 2) may hold spaces and parentheses, so fields are counted after its
/// last `)`.
pub fn stat_start_time(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    // Field 3 is the first after the name; field 22 is the 20th from there.
    after.split_whitespace().nth(19)?.parse().ok()
}

/// The start time of a process that still runs: `None` for a zombie (`Z`) or a dead (`X`)
/// process (field 3), whose `/proc` entry outlives its end until its parent reaps it.
pub fn running_start_time(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    match after.split_whitespace().next()? {
        "Z" | "X" | "x" => None,
        _ => stat_start_time(stat),
    }
}

/// Why a container is removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum ReapReason {
    /// Its owner is gone (why).
    OwnerGone(String),
    /// Its time to live passed (seconds it lived).
    TtlPassed(u64),
}

impl std::fmt::Display for ReapReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OwnerGone(why) => write!(f, "owner gone: {why}"),
            Self::TtlPassed(age) => write!(f, "time to live passed ({age} s old)"),
        }
    }
}

/// What to do with a listed container: keep it, or remove it and why. Persistent and
/// unmanaged containers are always kept. `created_unix` is the engine's creation time;
/// `start_of_pid` looks up a host process's start time by pid.
pub fn container_verdict(
    labels: &BTreeMap<String, String>,
    created_unix: i64,
    now_unix: i64,
    here: &HostView,
    start_of_pid: impl Fn(u32) -> Option<u64>,
) -> Option<ReapReason> {
    let managed = labels
        .get(LABEL_MANAGED)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let persistent = labels
        .get(LABEL_PERSIST)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !managed || persistent {
        return None;
    }
    if let Some(ttl) = labels.get(LABEL_TTL).and_then(|v| v.parse::<u64>().ok()) {
        let age = u64::try_from(now_unix.saturating_sub(created_unix)).unwrap_or(0);
        if created_unix > 0 && age >= ttl {
            return Some(ReapReason::TtlPassed(age));
        }
    }
    let owner = Owner::from_labels(labels)?;
    match owner_liveness(&owner, here, start_of_pid(owner.pid)) {
        Liveness::Gone(why) => Some(ReapReason::OwnerGone(why)),
        Liveness::Alive | Liveness::Unknown(_) => None,
    }
}

/// The script that kills, in one container, every process whose `POCKETDOCK_EXEC` holds the
/// owner token `$1` (with its process group), and prints how many it killed. It runs as the
/// user the commands ran as: without capabilities only that user may read their environment
/// and signal them.
pub const KILL_OWNED_SCRIPT: &str = r#"t="$1"; self=$$; n=0
for d in /proc/[0-9]*; do
  p="${d#/proc/}"
  [ "$p" = "$self" ] && continue
  v=$(tr '\0' '\n' < "$d/environ" 2>/dev/null | grep '^POCKETDOCK_EXEC=')
  case "$v" in
    *"$t"*) kill -s KILL -- "-$p" 2>/dev/null; kill -s KILL "$p" 2>/dev/null && n=$((n+1));;
  esac
done
echo "$n""#;

/// The argv of [`KILL_OWNED_SCRIPT`] for `owner`.
pub fn kill_owned_command(owner: &Owner) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        KILL_OWNED_SCRIPT.into(),
        "pocketdock-reap".into(),
        owner.token(),
    ]
}

/// One line of a command record: where an owner ran commands (the engine socket, the
/// container, and the user they ran as, empty for the container's default).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordLine {
    /// Engine socket path.
    pub socket: String,
    /// Container id.
    pub container: String,
    /// The exec user, empty for the container's default.
    pub user: String,
}

impl RecordLine {
    /// The line as written: tab-separated, newline-terminated.
    pub fn format(&self) -> String {
        format!("{}\t{}\t{}\n", self.socket, self.container, self.user)
    }

    /// Parse a record file's text; malformed lines are skipped, at most 10 000 kept.
    pub fn parse_all(text: &str) -> Vec<Self> {
        let mut lines: Vec<Self> = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split('\t');
                let (socket, container, user) = (f.next()?, f.next()?, f.next().unwrap_or(""));
                let ok = !socket.is_empty()
                    && !container.is_empty()
                    && container
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
                ok.then(|| Self {
                    socket: socket.to_string(),
                    container: container.to_string(),
                    user: user.to_string(),
                })
            })
            .take(10_000)
            .collect();
        lines.sort();
        lines.dedup();
        lines
    }
}

/// What one look for orphans did: the containers removed and the commands killed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReapReport {
    /// Containers removed: name and why.
    pub containers: Vec<ReapedContainer>,
    /// Commands killed: per container, how many processes.
    pub commands: Vec<ReapedCommands>,
    /// What could not be done (the look goes on past each failure).
    pub errors: Vec<String>,
}

impl ReapReport {
    /// Nothing was removed or killed.
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.commands.is_empty()
    }
}

/// A container removed by the reaper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReapedContainer {
    /// The pocketdock name.
    pub name: String,
    /// Engine id.
    pub id: String,
    /// Why.
    #[serde(flatten)]
    pub reason: ReapReason,
}

/// The commands of a gone owner killed in one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReapedCommands {
    /// Container id.
    pub container: String,
    /// Processes killed.
    pub processes: u64,
    /// The owner's process id.
    pub owner_pid: u32,
}

#[cfg(test)]
mod tests;
