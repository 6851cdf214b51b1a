//! The JSON payloads of agent frames. Each is small and bounded by the frame limit; unknown
//! fields are ignored so either side may add some.

use serde::{Deserialize, Serialize};

/// The protocol revision spoken here; the agent says its own in [`Hello::protocol`], and a host
/// that does not speak it keeps to the engine path.
pub const AGENT_PROTOCOL: u32 = 2;

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
}
