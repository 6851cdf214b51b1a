//! The commands the agent started and has not yet reported ended, by id and by pid.
//!
//! A command is reported ended (its `Exit` frame) when three things have happened, in any
//! order: its stdout reached end of file, its stderr did, and the reaper reaped it. Whichever
//! comes last removes it from the table and hands its report to the caller to send.
//!
//! One lock over the table orders spawning against reaping: a command is started and entered
//! under the lock, and the reaper reaps only under it, so a command that ends at once is never
//! reaped before it is known (and std's own wait after a failed exec never races the reaper).

use std::collections::HashMap;
use std::process::{ChildStderr, ChildStdout, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pocketdock_proto::agent::ExitReport;

use crate::accounting::{self, OomEvidence, SIGKILL};
use crate::stdin_feed::StdinFeed;
use crate::sys::{self, Reaped};
use crate::window::Window;

/// A command that has not yet been reported ended.
#[derive(Debug)]
pub struct Running {
    id: u32,
    pid: u32,
    stdin: Option<Arc<StdinFeed>>,
    /// The output window, for a command the host streams (flow control).
    window: Option<Window>,
    oom_before: Option<u64>,
    /// The agent sent its group SIGKILL.
    sigkilled: AtomicBool,
    progress: Mutex<Progress>,
}

#[derive(Debug)]
struct Progress {
    open_pipes: u8,
    reaped: Option<(Reaped, Option<u64>)>,
}

impl Running {
    /// Its id on the wire.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Its pid, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its output window, when the host streams it.
    pub fn window(&self) -> Option<&Window> {
        self.window.as_ref()
    }

    fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn report(&self, reaped: &Reaped, oom_after: Option<u64>) -> ExitReport {
        let oom = OomEvidence {
            before: self.oom_before,
            after: oom_after,
            killed_by_agent: self.sigkilled.load(Ordering::Relaxed),
        };
        accounting::report(reaped, oom)
    }

    fn kill_group(&self, signal: i32) {
        if signal == SIGKILL {
            self.sigkilled.store(true, Ordering::Relaxed);
            // Nobody may read what is left: drain the pipes to their end.
            if let Some(window) = &self.window {
                window.open();
            }
        }
        // A group that is already gone is no error: the command ended on its own.
        let _ = sys::kill_group(self.pid, signal);
    }
}

/// What became of a spawn.
#[derive(Debug)]
pub enum Spawned {
    /// It runs: its output pipes are to be pumped.
    Started(Arc<Running>, ChildStdout, ChildStderr),
    /// It could not start, for this reason.
    Failed(String),
    /// The agent is shutting down and starts nothing more.
    Closing,
}

/// The table of running commands, shared by the frame reader, the output pumps and the reaper.
#[derive(Debug, Default)]
pub struct Commands {
    table: Mutex<Table>,
    /// Signalled when a command is started or reaped, and when the agent has no child left.
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Table {
    by_id: HashMap<u32, Arc<Running>>,
    /// Commands not yet reaped, by pid.
    by_pid: HashMap<u32, u32>,
    /// How many commands were ever started: the reaper's cue that there are children again.
    spawns: u64,
    /// Commands started whose `Exit` frame has not yet been written (or failed to be).
    unsent: usize,
    /// The reaper found no child at all since the last start.
    childless: bool,
    closing: bool,
}

impl Commands {
    /// Start `cmd` as command `id` (`with_stdin`: its stdin is a pipe fed by the host;
    /// `window`: its output is sent only as far as the host credits it).
    pub fn spawn(
        &self,
        id: u32,
        mut cmd: Command,
        with_stdin: bool,
        window: Option<u32>,
    ) -> Spawned {
        let oom_before = accounting::oom_kills();
        let mut table = self.lock();
        if table.closing {
            return Spawned::Closing;
        }
        if table.by_id.contains_key(&id) {
            return Spawned::Failed(format!("command id {id} is still running"));
        }
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                let program = cmd.get_program().to_string_lossy();
                return Spawned::Failed(format!("{program}: {e}"));
            }
        };
        let pid = child.id();
        let stdin = child
            .stdin
            .take()
            .filter(|_| with_stdin)
            .map(|pipe| StdinFeed::start(pipe, id));
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            // Both were asked for as pipes; std hands them out when it spawns.
            let _ = sys::kill_group(pid, SIGKILL);
            return Spawned::Failed("no output pipes".to_owned());
        };
        sys::widen_pipe(&stdout);
        sys::widen_pipe(&stderr);
        let running = Arc::new(Running {
            id,
            pid,
            stdin,
            window: window.map(Window::new),
            oom_before,
            sigkilled: AtomicBool::new(false),
            progress: Mutex::new(Progress {
                open_pipes: 2,
                reaped: None,
            }),
        });
        table.by_id.insert(id, Arc::clone(&running));
        table.by_pid.insert(pid, id);
        table.spawns += 1;
        table.unsent += 1;
        table.childless = false;
        self.changed.notify_all();
        Spawned::Started(running, stdout, stderr)
    }

    /// One of the command's output pipes reached its end. The report, when that was the last
    /// thing it waited for.
    pub fn pipe_closed(&self, running: &Arc<Running>) -> Option<ExitReport> {
        let done = {
            let mut progress = running.progress();
            progress.open_pipes = progress.open_pipes.saturating_sub(1);
            if progress.open_pipes == 0 {
                progress.reaped
            } else {
                None
            }
        };
        let (reaped, oom_after) = done?;
        self.remove(&mut self.lock(), running);
        Some(running.report(&reaped, oom_after))
    }

    /// Reap `pid` if it ended (a command or an orphan the agent inherited). The command's id
    /// and report, when that was the last thing it waited for.
    pub fn reap(&self, pid: u32) -> Option<(u32, ExitReport)> {
        let mut table = self.lock();
        // An error here is a pid that is no longer a child: std reaped it after a failed exec.
        let reaped = sys::reap(pid).ok().flatten()?;
        self.changed.notify_all();
        let id = table.by_pid.remove(&pid)?;
        let running = table.by_id.get(&id).map(Arc::clone)?;
        let oom_after = accounting::oom_kills_after(
            &reaped,
            running.oom_before,
            running.sigkilled.load(Ordering::Relaxed),
        );
        let done = {
            let mut progress = running.progress();
            progress.reaped = Some((reaped, oom_after));
            progress.open_pipes == 0
        };
        if !done {
            return None;
        }
        self.remove(&mut table, &running);
        Some((id, running.report(&reaped, oom_after)))
    }

    fn remove(&self, table: &mut Table, running: &Arc<Running>) {
        if table
            .by_id
            .get(&running.id)
            .is_some_and(|r| Arc::ptr_eq(r, running))
        {
            table.by_id.remove(&running.id);
        }
        if let Some(stdin) = &running.stdin {
            stdin.abandon();
        }
        self.changed.notify_all();
    }

    /// The stdin feed of command `id`, if it runs with one.
    pub fn stdin(&self, id: u32) -> Option<Arc<StdinFeed>> {
        self.lock().by_id.get(&id)?.stdin.clone()
    }

    /// The host took `bytes` more of command `id`'s output.
    pub fn credit(&self, id: u32, bytes: u32) {
        if let Some(window) = self.lock().by_id.get(&id).and_then(|r| r.window()) {
            window.grant(u64::from(bytes));
        }
    }

    /// Send `signal` to command `id`'s process group. Its group lives on after its leader is
    /// reaped (a background child that keeps its output open); it is signalled until the
    /// command is reported ended, unless a newer command of the agent's got the same pid.
    pub fn signal(&self, id: u32, signal: i32) {
        let table = self.lock();
        let Some(running) = table.by_id.get(&id) else {
            return;
        };
        if table
            .by_pid
            .get(&running.pid)
            .is_some_and(|other| *other != id)
        {
            return;
        }
        running.kill_group(signal);
    }

    /// Start nothing more, and SIGKILL the process group of every command not yet reported
    /// ended.
    pub fn close_and_kill(&self) {
        let mut table = self.lock();
        table.closing = true;
        for running in table.by_id.values() {
            running.kill_group(SIGKILL);
            if let Some(stdin) = &running.stdin {
                stdin.abandon();
            }
        }
    }

    /// A command's `Exit` frame was written, or could not be (the host is gone): one fewer
    /// for [`wait_until_settled`](Self::wait_until_settled) to wait for.
    pub fn exit_sent(&self) {
        let mut table = self.lock();
        table.unsent = table.unsent.saturating_sub(1);
        self.changed.notify_all();
    }

    /// Wait, at most `limit`, until every command is reaped and reported ended (its pipes
    /// closed once its group died, its `Exit` written if the host still reads) and the reaper
    /// found no child left. Whether that happened.
    pub fn wait_until_settled(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut table = self.lock();
        // Without a command ever started there is no child, and perhaps no reaper yet to say so.
        while !(table.unsent == 0
            && table.by_pid.is_empty()
            && (table.childless || table.spawns == 0))
        {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            table = self
                .changed
                .wait_timeout(table, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// How many commands were started so far (read by the reaper before it waits).
    pub fn spawns(&self) -> u64 {
        self.lock().spawns
    }

    /// The reaper found no child: say so, and wait until a command is started after the
    /// `seen`-th.
    pub fn wait_for_spawn_after(&self, seen: u64) {
        let mut table = self.lock();
        if table.spawns == seen {
            table.childless = true;
            self.changed.notify_all();
        }
        while table.spawns == seen {
            table = self
                .changed
                .wait(table)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
