//! What a command used and how it ended, as the [`ExitReport`] the host receives.

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use pocketdock_proto::agent::ExitReport;

use crate::sys::Reaped;

/// The sandbox's OOM kill counter: cgroup v2 first, then the v1 memory controller.
const OOM_COUNTERS: [&str; 2] = [
    "/sys/fs/cgroup/memory.events",
    "/sys/fs/cgroup/memory/memory.oom_control",
];

/// The signal the OOM killer ends a process with.
pub const SIGKILL: i32 = 9;

/// How many processes the kernel's OOM killer has ended in the agent's cgroup, when a counter
/// can be read. Read when a command starts and when it is reaped: a rise in between, with the
/// command dead of SIGKILL, says the OOM killer ended it.
pub fn oom_kills() -> Option<u64> {
    OOM_COUNTERS
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| parse_oom_kill(&text))
}

/// How long a SIGKILL death waits for the OOM counter to rise: the kernel counts an OOM kill
/// after it has sent the SIGKILL, so the victim can be reaped before the count shows it.
const OOM_SETTLE: Duration = Duration::from_millis(50);

/// The OOM counter after a command ended: for a SIGKILL the agent did not send, read again for
/// up to [`OOM_SETTLE`] while it has not risen past `before`, so that an OOM kill reaped before
/// the kernel counted it is still seen (an exit with 137, a shell's report of a child's SIGKILL,
/// likewise). Other ends read it once.
pub fn oom_kills_after(reaped: &Reaped, before: Option<u64>, killed_by_agent: bool) -> Option<u64> {
    let mut after = oom_kills();
    if killed_by_agent || !killed_or_137(reaped) {
        return after;
    }
    let give_up = Instant::now() + OOM_SETTLE;
    while matches!((before, after), (Some(b), Some(a)) if a <= b) && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(2));
        after = oom_kills();
    }
    after
}

/// Died of SIGKILL, or exited 137 as a shell does when its child died of SIGKILL.
fn killed_or_137(reaped: &Reaped) -> bool {
    reaped.status.signal() == Some(SIGKILL) || reaped.status.code() == Some(128 + SIGKILL)
}

/// The `oom_kill N` line of a `memory.events` or `memory.oom_control` file.
fn parse_oom_kill(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

/// What tells whether the kernel's OOM killer ended a command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OomEvidence {
    /// The cgroup's OOM kill count when the command started.
    pub before: Option<u64>,
    /// The count when it was reaped.
    pub after: Option<u64>,
    /// The agent itself sent its group SIGKILL (the host's signal, or the shutdown): a SIGKILL
    /// death is then the agent's, even if another command's OOM kill raised the count.
    pub killed_by_agent: bool,
}

/// The report of a reaped command.
pub fn report(reaped: &Reaped, oom: OomEvidence) -> ExitReport {
    let signal = reaped.status.signal();
    let code = match (reaped.status.code(), signal) {
        (Some(code), _) => i64::from(code),
        (None, Some(sig)) => 128 + i64::from(sig),
        // Neither exited nor signalled cannot come from a reaped process; report it as a
        // failure rather than success.
        (None, None) => -1,
    };
    let oom_rose = matches!((oom.before, oom.after), (Some(b), Some(a)) if a > b);
    // A shell whose child the OOM killer ended exits 137 itself rather than dying of SIGKILL.
    ExitReport {
        code,
        signal,
        user_usec: reaped.usage.user_usec,
        sys_usec: reaped.usage.sys_usec,
        max_rss_kib: reaped.usage.max_rss_kib,
        oom_killed: killed_or_137(reaped) && oom_rose && !oom.killed_by_agent,
    }
}

#[cfg(test)]
mod tests {
    use std::process::ExitStatus;

    use super::*;
    use crate::sys::Usage;

    fn reaped(raw: i32) -> Reaped {
        Reaped {
            status: ExitStatus::from_raw(raw),
            usage: Usage {
                user_usec: 1,
                sys_usec: 2,
                max_rss_kib: 3,
            },
        }
    }

    #[test]
    fn the_oom_kill_line_is_read_from_either_cgroup_version() {
        let v2 = "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(parse_oom_kill(v2), Some(2));
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 7\n";
        assert_eq!(parse_oom_kill(v1), Some(7));
        // An old v1 kernel without the counter.
        assert_eq!(parse_oom_kill("oom_kill_disable 0\nunder_oom 0\n"), None);
    }

    #[test]
    fn an_exit_status_is_its_code_and_a_signal_is_128_plus_it() {
        let r = report(&reaped(7 << 8), OomEvidence::default());
        assert_eq!((r.code, r.signal), (7, None));
        assert_eq!((r.user_usec, r.sys_usec, r.max_rss_kib), (1, 2, 3));
        let r = report(&reaped(15), OomEvidence::default());
        assert_eq!((r.code, r.signal, r.oom_killed), (143, Some(15), false));
    }

    fn counts(before: Option<u64>, after: Option<u64>) -> OomEvidence {
        OomEvidence {
            before,
            after,
            killed_by_agent: false,
        }
    }

    #[test]
    fn oom_killed_needs_sigkill_and_a_rising_counter() {
        assert!(report(&reaped(9), counts(Some(1), Some(2))).oom_killed);
        assert!(!report(&reaped(9), counts(Some(2), Some(2))).oom_killed);
        assert!(!report(&reaped(9), counts(None, Some(2))).oom_killed);
        assert!(!report(&reaped(15), counts(Some(1), Some(2))).oom_killed);
        assert!(!report(&reaped(0), counts(Some(1), Some(2))).oom_killed);
    }

    #[test]
    fn a_shell_exiting_137_after_its_childs_oom_kill_counts() {
        // Wait status of exit code 137: the code in the high byte.
        let exit_137 = 137 << 8;
        assert!(report(&reaped(exit_137), counts(Some(1), Some(2))).oom_killed);
        assert!(!report(&reaped(exit_137), counts(Some(2), Some(2))).oom_killed);
        assert!(!report(&reaped(1 << 8), counts(Some(1), Some(2))).oom_killed);
    }

    #[test]
    fn a_sigkill_the_agent_sent_is_no_oom_kill_even_when_the_counter_rose() {
        let oom = OomEvidence {
            killed_by_agent: true,
            ..counts(Some(1), Some(2))
        };
        assert!(!report(&reaped(9), oom).oom_killed);
    }
}
