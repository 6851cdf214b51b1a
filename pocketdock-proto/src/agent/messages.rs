//! The JSON payloads of agent frames. Each is small and bounded by the frame limit; unknown
//! fields are ignored so either side may add some.

use serde::{Deserialize, Serialize};

use crate::api::archive::PathStat;
use crate::error::{Error, Result};

/// The protocol revision spoken here; the agent says its own in [`Hello::protocol`], and a host
/// that does not speak it keeps to the engine path.
pub const AGENT_PROTOCOL: u32 = 3;

/// The agent's first frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Protocol revision ([`AGENT_PROTOCOL`]).
    pub protocol: u32,
    /// The agent's version (its crate version).
    pub version: String,
    /// Its pid inside the sandbox.
    pub pid: u32,
    /// The user it runs as (commands run as this user unless a spawn names another).
    pub uid: u32,
    /// Its group.
    pub gid: u32,
}

/// A command to start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawnRequest {
    /// Program and arguments; the program is looked up in `PATH` (a shell line is
    /// `["/bin/sh", "-c", line]`).
    pub argv: Vec<String>,
    /// `KEY=VALUE` pairs added to the agent's own environment (the sandbox's).
    #[serde(default)]
    pub env: Vec<String>,
    /// Working directory; the agent's own when absent.
    #[serde(default)]
    pub cwd: Option<String>,
    /// `uid` or `uid:gid` to run as; the agent's own user when absent.
    #[serde(default)]
    pub user: Option<String>,
    /// Whether the host will send stdin; otherwise stdin is `/dev/null`.
    #[serde(default)]
    pub stdin: bool,
    /// Flow control: how many bytes of output the agent may send before the host grants more
    /// with [`Kind::Credit`](super::Kind::Credit) frames. Absent: no limit (the host takes
    /// everything as it comes). The agent stops reading the command's pipes while it has no
    /// credit, so a slow reader on the host slows the command, not the connection.
    #[serde(default)]
    pub window: Option<u32>,
}

/// How a command ended, with what it used. The figures come from the sandbox, so the host
/// treats them as advisory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitReport {
    /// Exit status, or 128 + the signal that ended it (as a shell and the engines report).
    pub code: i64,
    /// The signal that ended it, if one did.
    #[serde(default)]
    pub signal: Option<i32>,
    /// User CPU time of the command and the descendants it waited for, in microseconds.
    #[serde(default)]
    pub user_usec: u64,
    /// System CPU time, likewise.
    #[serde(default)]
    pub sys_usec: u64,
    /// Peak resident set size of the largest of them, in KiB.
    #[serde(default)]
    pub max_rss_kib: u64,
    /// The kernel's OOM killer ended it (the sandbox's OOM kill count rose while it ran and it
    /// died of SIGKILL).
    #[serde(default)]
    pub oom_killed: bool,
}

/// What the agent's `lstat` of a path found (a final symbolic link is not followed), as the
/// agent's own user. Like every figure from the sandbox it is advisory: it saves the engine's
/// path stat before an upload, which the engine then performs on its own terms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatReply {
    /// Nothing is there (`ENOENT`), or a component above is not a directory (`ENOTDIR`).
    #[serde(default)]
    pub missing: bool,
    /// The stat failed otherwise (`EACCES`, ...): why. The host then asks the engine.
    #[serde(default)]
    pub failed: Option<String>,
    /// `st_mode`: the file type and permission bits.
    #[serde(default)]
    pub mode: u32,
    /// `st_size`.
    #[serde(default)]
    pub size: u64,
    /// A symbolic link's target, else empty.
    #[serde(default)]
    pub link_target: String,
}

/// `S_IFMT`, the file type bits of `st_mode`, and the types among them.
const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFREG: u32 = 0o100_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFIFO: u32 = 0o010_000;
const S_IFSOCK: u32 = 0o140_000;

/// Go `os.FileMode` bits, as the engines' path stat gives them.
const GO_DIR: u32 = 1 << 31;
const GO_SYMLINK: u32 = 1 << 27;
const GO_DEVICE: u32 = 1 << 26;
const GO_NAMED_PIPE: u32 = 1 << 25;
const GO_SOCKET: u32 = 1 << 24;
const GO_SETUID: u32 = 1 << 23;
const GO_SETGID: u32 = 1 << 22;
const GO_CHAR_DEVICE: u32 = 1 << 21;
const GO_STICKY: u32 = 1 << 20;
const GO_IRREGULAR: u32 = 1 << 19;

impl StatReply {
    /// The answer as the engine's path stat of `path` would give it: `None` when the agent
    /// could not say (the engine is to be asked), a missing path as [`Error::PathNotFound`].
    pub fn path_stat(&self, path: &str) -> Option<Result<PathStat>> {
        if self.failed.is_some() {
            return None;
        }
        if self.missing {
            return Some(Err(Error::PathNotFound(path.to_string())));
        }
        let kind = match self.mode & S_IFMT {
            S_IFDIR => GO_DIR,
            S_IFLNK => GO_SYMLINK,
            S_IFREG => 0,
            S_IFCHR => GO_DEVICE | GO_CHAR_DEVICE,
            S_IFBLK => GO_DEVICE,
            S_IFIFO => GO_NAMED_PIPE,
            S_IFSOCK => GO_SOCKET,
            _ => GO_IRREGULAR,
        };
        let special = [
            (0o4000, GO_SETUID),
            (0o2000, GO_SETGID),
            (0o1000, GO_STICKY),
        ]
        .iter()
        .filter(|(bit, _)| self.mode & bit != 0)
        .fold(0, |acc, (_, go)| acc | go);
        let name = path.rsplit('/').next().unwrap_or_default().to_string();
        Some(Ok(PathStat {
            name,
            size: i64::try_from(self.size).unwrap_or(i64::MAX),
            mode: kind | special | (self.mode & 0o777),
            mtime: String::new(),
            link_target: self.link_target.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_optional_fields_take_their_defaults_and_unknown_ones_are_ignored() {
        let s: SpawnRequest =
            serde_json::from_str(r#"{"argv":["echo","hi"],"later":1}"#).unwrap_or_default();
        assert_eq!(s.argv, ["echo", "hi"]);
        assert!(!s.stdin && s.cwd.is_none() && s.env.is_empty());
        let e: ExitReport = serde_json::from_str(r#"{"code":137,"signal":9}"#).unwrap_or_default();
        assert_eq!((e.code, e.signal, e.oom_killed), (137, Some(9), false));
    }

    #[test]
    fn a_stat_reply_reads_as_the_engine_path_stat_would() {
        let file = StatReply {
            mode: 0o100_755 | 0o1000,
            size: 12,
            ..StatReply::default()
        };
        let st = file
            .path_stat("/a/run.sh")
            .and_then(Result::ok)
            .unwrap_or_default();
        assert!(st.is_file() && !st.is_dir() && !st.is_symlink());
        assert_eq!((st.permissions(), st.mode & GO_STICKY != 0), (0o755, true));
        assert_eq!((st.name.as_str(), st.size), ("run.sh", 12));
        let dir = StatReply {
            mode: 0o040_700,
            ..StatReply::default()
        };
        assert!(dir
            .path_stat("/d")
            .and_then(Result::ok)
            .is_some_and(|s| s.is_dir()));
        let link = StatReply {
            mode: 0o120_777,
            link_target: "../b".into(),
            ..StatReply::default()
        };
        let st = link
            .path_stat("/a/l")
            .and_then(Result::ok)
            .unwrap_or_default();
        assert!(st.is_symlink() && !st.is_file());
        assert_eq!(st.link_target, "../b");
        let fifo = StatReply {
            mode: 0o010_644,
            ..StatReply::default()
        };
        assert!(fifo
            .path_stat("/p")
            .and_then(Result::ok)
            .is_some_and(|s| !s.is_file() && !s.is_dir()));
        let missing = StatReply {
            missing: true,
            ..StatReply::default()
        };
        assert!(matches!(missing.path_stat("/m"), Some(Err(Error::PathNotFound(p))) if p == "/m"));
        let refused = StatReply {
            failed: Some("Permission denied".into()),
            ..StatReply::default()
        };
        assert!(refused.path_stat("/root/x").is_none());
    }
}
