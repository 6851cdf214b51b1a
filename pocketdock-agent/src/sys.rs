//! The system calls the agent needs and std does not offer: becoming a child subreaper,
//! signalling a process group, waiting for any child without reaping it, reaping one child
//! with its resource usage, and raising a command's OOM score before it runs. Every `unsafe`
//! block of the agent is in this file.
#![expect(
    unsafe_code,
    reason = "prctl, kill, waitid, wait4 and a pre-exec hook exist only as libc calls or an unsafe \
              std hook; each block below is one call on values it owns"
)]

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// What a reaped process used, from `wait4`'s rusage: the process and the descendants it
/// waited for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// User CPU time in microseconds.
    pub user_usec: u64,
    /// System CPU time in microseconds.
    pub sys_usec: u64,
    /// Peak resident set size of the largest of them, in KiB.
    pub max_rss_kib: u64,
}

/// A reaped child: how it ended and what it used.
#[derive(Debug, Clone, Copy)]
pub struct Reaped {
    /// Its wait status.
    pub status: ExitStatus,
    /// Its resource usage.
    pub usage: Usage,
}

/// Make the agent the reaper of its orphaned descendants: a command's background children
/// whose parent exits are reparented to the agent instead of the sandbox's PID 1, so the agent
/// can reap them (and PID 1 need not be an init).
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER reads its integer argument only; no memory is passed.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, libc::c_ulong::from(1u8)) };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The real user and group ids the agent runs as.
pub fn ids() -> (u32, u32) {
    // SAFETY: getuid and getgid cannot fail and take no arguments.
    unsafe { (libc::getuid(), libc::getgid()) }
}

/// Send `signal` to the process group `pgid`.
///
/// A group id of 0 or 1 is refused: `kill(0, ..)` would signal the agent's own group and
/// `kill(-1, ..)` every process it may signal.
pub fn kill_group(pgid: u32, signal: i32) -> io::Result<()> {
    let pgid = libc::pid_t::try_from(pgid)
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill takes two integers; a negative pid names the process group.
    let r = unsafe { libc::kill(-pgid, signal) };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Block until some child of the agent has ended and say which, leaving it a zombie (to be
/// reaped with [`reap`]). `None` when the agent has no child at all.
pub fn wait_any_ended() -> io::Result<Option<u32>> {
    loop {
        // SAFETY: siginfo_t is plain data; all zeroes is a valid value of it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, exclusively borrowed siginfo_t for the kernel to fill.
        let r = unsafe {
            libc::waitid(
                libc::P_ALL,
                0,
                &raw mut info,
                libc::WEXITED | libc::WNOWAIT | libc::__WALL,
            )
        };
        if r == 0 {
            // SAFETY: waitid succeeded with WEXITED, so the kernel filled the child fields
            // that si_pid reads.
            let pid = unsafe { info.si_pid() };
            return Ok(u32::try_from(pid).ok());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::ECHILD) => return Ok(None),
            _ => return Err(e),
        }
    }
}

/// Reap `pid` if it has ended, with its resource usage. `None` when it has not ended or is not
/// (any longer) a child of the agent.
pub fn reap(pid: u32) -> io::Result<Option<Reaped>> {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return Ok(None);
    };
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain data; all zeroes is a valid value of it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `status` and `ru` are valid, exclusively borrowed outputs for the kernel.
        let r = unsafe {
            libc::wait4(
                pid,
                &raw mut status,
                libc::WNOHANG | libc::__WALL,
                &raw mut ru,
            )
        };
        if r == pid {
            return Ok(Some(Reaped {
                status: ExitStatus::from_raw(status),
                usage: usage(&ru),
            }));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::ECHILD) => return Ok(None),
            _ => return Err(e),
        }
    }
}

fn usage(ru: &libc::rusage) -> Usage {
    let usec = |tv: libc::timeval| {
        let sec = u64::try_from(tv.tv_sec).unwrap_or(0);
        let usec = u64::try_from(tv.tv_usec).unwrap_or(0);
        sec.saturating_mul(1_000_000).saturating_add(usec)
    };
    Usage {
        user_usec: usec(ru.ru_utime),
        sys_usec: usec(ru.ru_stime),
        // Linux reports ru_maxrss in KiB.
        max_rss_kib: u64::try_from(ru.ru_maxrss).unwrap_or(0),
    }
}

/// `oom_score_adj` of a command, as the bytes written to `/proc/self/oom_score_adj`.
const COMMAND_OOM_SCORE_ADJ: &[u8] = b"500";

/// What a pipe of the agent holds, where the kernel allows it: a command's output pipes and
/// the agent's own stdout take this much before their writer waits, so output moves in few,
/// large pieces (the default is 64 KiB). Kernel memory of the sandbox, so kept modest.
pub const PIPE_SIZE: libc::c_int = 256 * 1024;

/// Make the pipe `fd` hold [`PIPE_SIZE`] bytes, when it is a pipe and the kernel allows it;
/// otherwise it stays as it is.
pub fn widen_pipe(fd: &impl std::os::fd::AsRawFd) {
    // SAFETY: fcntl on a descriptor the caller owns; F_SETPIPE_SZ only resizes its buffer and
    // fails harmlessly on anything but a pipe.
    let _ = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE) };
}

/// Have `cmd` lead a new session (and so a new process group), as `setsid` does.
pub fn lead_own_session(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    let hook = || {
        // SAFETY: setsid is async-signal-safe and touches no memory of ours.
        if unsafe { libc::setsid() } == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the hook makes one async-signal-safe system call and touches no lock or heap.
    unsafe {
        cmd.pre_exec(hook);
    }
}

/// Have `cmd` raise its own `oom_score_adj` to 500 in the child, before it executes anything:
/// when the sandbox runs out of memory, the kernel's OOM killer then takes a command (which is
/// what ran out) rather than the agent, whose loss would fail every command in flight. Raising
/// a score needs no privilege; when the write is refused (a score already higher), the command
/// runs as it is.
pub fn prefer_as_oom_victim(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // Only async-signal-safe calls on static data: this runs between fork and exec.
    let hook = || {
        let path = c"/proc/self/oom_score_adj";
        // SAFETY: open, write and close on a static path and buffer; nothing is allocated.
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd >= 0 {
                let _ = libc::write(
                    fd,
                    COMMAND_OOM_SCORE_ADJ.as_ptr().cast(),
                    COMMAND_OOM_SCORE_ADJ.len(),
                );
                let _ = libc::close(fd);
            }
        }
        Ok(())
    };
    // SAFETY: the hook makes only async-signal-safe system calls and touches no lock or heap.
    unsafe {
        cmd.pre_exec(hook);
    }
}
