//! The shell of a session and how one of its commands is interrupted.
//!
//! A session runs [`session_shell`]: `bash` when the image has it, else `sh`, with the
//! session's nonce in `POCKETDOCK_EXEC`. Every command is prefixed by [`command_prefix`], which
//! exports a per-command marker (`<session nonce>.<token>`) so that the processes of one command
//! can be told apart from the shell, from background jobs of earlier commands and from other
//! sessions. [`interrupt_command`] is the script a second exec runs to interrupt a timed-out
//! command (or, with [`InterruptMode::Session`], to end the whole session).

use std::time::Duration;

use crate::api::exec::ExecSpec;
use crate::capture::{LimitPolicy, OutputLimit};
use crate::op::{ExecConfig, NONCE_VAR};

/// The script of a session's shell: `bash` (no profile, no rc files) when the image has it,
/// else the image's `sh`. It reads commands from stdin; no TTY is involved.
pub const SESSION_SHELL_SCRIPT: &str =
    "command -v bash >/dev/null 2>&1 && exec bash --noprofile --norc; exec sh";

/// The argv of a session's shell (see [`SESSION_SHELL_SCRIPT`]).
pub fn session_shell() -> Vec<String> {
    vec!["sh".into(), "-c".into(), SESSION_SHELL_SCRIPT.into()]
}

/// The marker of one command of a session: `<session nonce>.<token>`. The exported value is
/// the marker, a dot, and the `/proc/uptime` of the command's start (see [`command_prefix`]).
pub fn command_marker(session_nonce: &str, token: &str) -> String {
    format!("{session_nonce}.{token}")
}

/// What a session prepends to a command before handing it to
/// [`SessionScanner::command`](crate::session::SessionScanner::command), on the same line (so
/// that line numbers in error messages stay right):
///
/// ```text
/// read -r POCKETDOCK_EXEC _ </proc/uptime; export POCKETDOCK_EXEC=<marker>.$POCKETDOCK_EXEC;
/// ```
///
/// Shell builtins only (no process is started). Programs the command starts carry
/// `<marker>.<uptime at its start>` in their environment; the shell's own environment (as
/// `/proc` shows it) keeps the session nonce it was started with, and so do forked subshells.
pub fn command_prefix(session_nonce: &str, token: &str) -> String {
    format!(
        "read -r {NONCE_VAR} _ </proc/uptime; export {NONCE_VAR}={}.${NONCE_VAR}; ",
        command_marker(session_nonce, token)
    )
}

/// Which shell a session's interrupt is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShellId<'a> {
    /// The nonce the shell was started with (in `POCKETDOCK_EXEC`).
    pub nonce: &'a str,
    /// Its pid in the sandbox, when known: the agent reports the pid of a shell it started; an
    /// engine exec's shell is found as the one whose parent is outside the sandbox.
    pub pid: Option<u32>,
}

/// What [`interrupt_command`] signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptMode {
    /// The processes of one command (its marker, and everything in the shell's session that
    /// started since the command did), repeatedly while new ones appear (a loop of `sleep`s);
    /// never the shell itself, nor background jobs of earlier commands.
    Command,
    /// The shell, its process group and everything of the session (every marker of it).
    Session,
}

const INTERRUPT_SCRIPT: &str = r#"sig="$1"; s="$2"; m="$3"; el="$4"; mode="$5"; known="$6"; self=$$
info() {
  st=
  read -r st 2>/dev/null < "/proc/$1/stat" || return 1
  [ -n "$st" ] || return 1
  set -- ${st##*") "}
  state=$1; ppid=$2; pg=$3; sid=$4; start=${20}
}
marker() {
  mk=$(tr '\0' '\n' 2>/dev/null < "/proc/$1/environ" | grep '^POCKETDOCK_EXEC=')
  mk=${mk#POCKETDOCK_EXEC=}
}
ours() { case "$mk" in "$s"|"$s".*) return 0 ;; esac; return 1; }
read -r up _ < /proc/uptime
cut=$(( ${up%.*}${up#*.} - el ))
shell=
found=
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  [ "$p" = "$self" ] && continue
  info "$p" || continue
  marker "$p"
  if ours; then
    if [ -n "$known" ]; then [ "$p" = "$known" ] && shell=$p
    elif [ "$ppid" = 0 ]; then shell=$p; fi
  fi
  case "$mk" in
    "$m".*)
      t=${mk#"$m".}
      case "$t" in *.*) t=${t%.*}${t#*.} ;; esac
      case "$t" in ''|*[!0-9]*) ;; *) found=$((t - 1)) ;; esac
      ;;
  esac
done
[ -n "$found" ] && cut=$found
pass() {
  n=0
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = "$self" ] && continue
    info "$p" || continue
    [ "$sid" = "$self" ] && continue
    [ "$state" = Z ] && continue
    marker "$p"
    hit=
    if [ "$p" = "$shell" ]; then
      [ "$mode" = session ] && hit=1
    elif [ "$mode" = session ]; then
      ours && hit=1
      [ -n "$shell" ] && [ "$sid" = "$shell" ] && hit=1
    else
      case "$mk" in
        "$m"|"$m".*) hit=1 ;;
        "$s".*) ;;
        *) [ -n "$shell" ] && [ "$sid" = "$shell" ] && [ "$start" -ge "$cut" ] && hit=1 ;;
      esac
    fi
    [ -n "$hit" ] || continue
    n=$((n + 1))
    if [ "$pg" = "$p" ] && { [ "$p" != "$shell" ] || [ "$mode" = session ]; }; then
      kill -s "$sig" -- "-$p" 2>/dev/null
    fi
    kill -s "$sig" "$p" 2>/dev/null
  done
}
i=0
while [ "$i" -lt 10 ]; do
  pass
  [ "$n" -eq 0 ] && break
  i=$((i + 1))
  sleep 0.1 2>/dev/null || sleep 1
done
exit 0"#;

/// The argv that interrupts a session's command or ends the session.
///
/// * `shell`: the nonce the shell was started with (in `POCKETDOCK_EXEC`), and its pid when
///   known;
/// * `token`: the command's token (its marker is [`command_marker`]); ignored for
///   [`InterruptMode::Session`];
/// * `elapsed`: how long ago the command was written to the shell, measured by the caller;
/// * `signal`: a name for `kill -s` (`KILL`, `TERM`).
///
/// The shell is the process [`ShellId::pid`] names, when known (a shell the in-sandbox agent
/// started), else the process whose parent is outside the container's PID namespace (parent PID
/// 0, as for every exec); either way its environment holds the session nonce or one of its
/// command markers. Both lead their own session. A command's processes are those with its marker, and every process of the shell's
/// session without the marker of another command that started at or after the command did
/// (forked subshells keep the shell's environment). The command's start is read from the marker of any of its
/// programs still running (see [`command_prefix`]); without one it is estimated as `elapsed`
/// plus one second (for the latency of starting this exec) before the script runs.
///
/// The script repeats its pass (up to 10 times, 100 ms apart) while it still finds
/// processes, so a loop that starts a new program after each kill is caught too. It reads
/// `/proc/uptime` and the start times in `/proc/<pid>/stat` in clock ticks of 1/100 s (the
/// `USER_HZ` of every mainstream Linux architecture).
pub fn interrupt_command(
    shell: ShellId<'_>,
    token: &str,
    elapsed: Duration,
    signal: &str,
    mode: InterruptMode,
) -> Vec<String> {
    // One second for the latency of starting the interrupt exec.
    let elapsed_ticks = elapsed.as_millis() / 10 + 100;
    vec![
        "sh".into(),
        "-c".into(),
        INTERRUPT_SCRIPT.into(),
        "pocketdock-interrupt".into(),
        signal.into(),
        shell.nonce.into(),
        command_marker(shell.nonce, token),
        elapsed_ticks.to_string(),
        match mode {
            InterruptMode::Command => "command",
            InterruptMode::Session => "session",
        }
        .into(),
        shell.pid.map(|p| p.to_string()).unwrap_or_default(),
    ]
}

/// Deadline of the interrupt exec.
pub const INTERRUPT_TIMEOUT: Duration = Duration::from_secs(20);

/// An [`ExecConfig`] that runs [`interrupt_command`] in `container` as `user` (the session's
/// user, so it may read and signal the session's processes with no capabilities). Run it with
/// [`crate::op::ExecOp`]; its own nonce (`nonce`) is not one of the session's.
pub fn interrupt_config(
    container: &str,
    shell: ShellId<'_>,
    token: &str,
    elapsed: Duration,
    mode: InterruptMode,
    user: Option<String>,
    nonce: &str,
) -> ExecConfig {
    let spec = ExecSpec {
        cmd: interrupt_command(shell, token, elapsed, "KILL", mode),
        user,
        ..ExecSpec::default()
    };
    let mut config = ExecConfig::new(container, spec, nonce);
    config.timeout = Some(INTERRUPT_TIMEOUT);
    config.call_timeout = INTERRUPT_TIMEOUT;
    config.exit_wait = Duration::from_secs(5);
    config.limit = Some(OutputLimit {
        max_bytes: 64 * 1024,
        policy: LimitPolicy::KeepRunning,
    });
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupt_argv_and_markers() {
        let shell = ShellId {
            nonce: "abc",
            pid: None,
        };
        let argv = interrupt_command(
            shell,
            "t1",
            Duration::from_millis(1234),
            "KILL",
            InterruptMode::Command,
        );
        assert_eq!(argv[..2], ["sh".to_string(), "-c".to_string()]);
        assert_eq!(
            argv[3..],
            [
                "pocketdock-interrupt",
                "KILL",
                "abc",
                "abc.t1",
                "223",
                "command",
                ""
            ]
        );
        let known = ShellId {
            nonce: "abc",
            pid: Some(42),
        };
        let argv = interrupt_command(known, "t1", Duration::ZERO, "TERM", InterruptMode::Session);
        assert_eq!(argv[8..], ["session".to_string(), "42".to_string()]);
        assert_eq!(argv[7], "100");
        assert_eq!(
            command_prefix("abc", "t1"),
            "read -r POCKETDOCK_EXEC _ </proc/uptime; \
             export POCKETDOCK_EXEC=abc.t1.$POCKETDOCK_EXEC; "
        );
        let c = interrupt_config(
            "ctr",
            shell,
            "t1",
            Duration::ZERO,
            InterruptMode::Command,
            Some("1000".into()),
            "n2",
        );
        assert_eq!(c.spec.user.as_deref(), Some("1000"));
        assert_eq!(c.timeout, Some(INTERRUPT_TIMEOUT));
        assert!(session_shell()[2].contains("exec bash --noprofile --norc"));
    }
}
