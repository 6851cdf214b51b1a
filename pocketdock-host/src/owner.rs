//! This process as an owner of containers and commands (see [`pocketdock_proto::reap`]): who
//! it is, read once from `/proc`; the nonces that carry it into commands; the records of where
//! it ran commands; and the once-a-minute stamp that keeps starts from looking for orphans more
//! often.
//!
//! Everything lives in a private runtime directory: `$XDG_RUNTIME_DIR/pocketdock`, else
//! `/tmp/pocketdock-<uid>` (made `0700`, refused unless it is ours and not a symlink).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use pocketdock_proto::reap::{
    owner_liveness, running_start_time, HostView, Liveness, Owner, RecordLine,
};

use crate::random::nonce;

/// This process as an owner; `None` where `/proc` cannot say (not Linux, no procfs).
pub fn current_owner() -> Option<&'static Owner> {
    static OWNER: OnceLock<Option<Owner>> = OnceLock::new();
    OWNER
        .get_or_init(|| {
            let pid = std::process::id();
            let here = host_view()?;
            Some(Owner {
                pid,
                start: start_of_pid(pid)?,
                boot_id: here.boot_id,
                pid_ns: here.pid_ns,
                host: here.host,
            })
        })
        .as_ref()
}

/// This machine as the reaper sees it, read from `/proc` now.
pub fn host_view() -> Option<HostView> {
    let read = |p: &str| fs::read_to_string(p).ok().map(|s| s.trim().to_string());
    let ns = fs::read_link("/proc/self/ns/pid").ok()?;
    let ns = ns.to_str()?;
    let pid_ns = ns.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()?;
    Some(HostView {
        boot_id: read("/proc/sys/kernel/random/boot_id").filter(|s| !s.is_empty())?,
        pid_ns,
        host: read("/proc/sys/kernel/hostname").filter(|s| !s.is_empty())?,
    })
}

/// The start time of host process `pid` (clock ticks after boot); `None` when there is none,
/// or it has ended and waits to be reaped (a zombie).
pub fn start_of_pid(pid: u32) -> Option<u64> {
    running_start_time(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Whether `owner` still runs, judged on this machine now.
pub fn liveness(owner: &Owner) -> Liveness {
    match host_view() {
        Some(here) => owner_liveness(owner, &here, start_of_pid(owner.pid)),
        None => Liveness::Unknown("this host's /proc cannot be read".into()),
    }
}

/// A fresh nonce for a command that carries this process as its owner
/// (`<32 hex>.<owner token>`), so that the command can be found and killed once this
/// process is gone. A plain nonce where the owner is unknown.
pub fn owned_nonce() -> String {
    match current_owner() {
        Some(o) => format!("{}.{}", nonce(), o.token()),
        None => nonce(),
    }
}

/// This user's private runtime directory (`$XDG_RUNTIME_DIR/pocketdock`, else
/// `/tmp/pocketdock-<uid>`), where command records, the reap stamp and the CLI's relay sockets
/// live: made with mode 0700 when missing, and refused when it is not a directory, another user
/// owns it or others may enter it (someone could then stand in for a relay or forge a record).
pub fn private_runtime_dir() -> std::io::Result<PathBuf> {
    let uid = fs::metadata("/proc/self")?.uid();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(base) if Path::new(&base).is_dir() => Path::new(&base).join("pocketdock"),
        _ => std::env::temp_dir().join(format!("pocketdock-{uid}")),
    };
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let meta = fs::symlink_metadata(&dir)?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a directory of this user's alone (mode 0700)",
                dir.display()
            ),
        ));
    }
    Ok(dir)
}

/// [`private_runtime_dir`], or `None` when it cannot be had safely (records and the stamp are
/// then skipped, never written somewhere shared).
fn runtime_dir() -> Option<PathBuf> {
    private_runtime_dir().ok()
}

/// This process's record file (see [`record_commands`]), open for appending and kept between
/// commands, so that a command costs a write and, when the last one ends, a truncation: no
/// file made and removed on the disk per command. Only used under the lock of
/// [`live_lines`].
struct OwnRecord {
    path: PathBuf,
    file: File,
}

fn own_record() -> &'static Mutex<Option<OwnRecord>> {
    static OWN: Mutex<Option<OwnRecord>> = Mutex::new(None);
    &OWN
}

/// Open (make) this process's record of `owner` in the records directory under
/// [`private_runtime_dir`], which is made and checked here.
fn open_own_record(owner: &Owner) -> Option<OwnRecord> {
    let records = runtime_dir()?.join("records");
    let _ = fs::DirBuilder::new().mode(0o700).create(&records);
    let path = records.join(owner.token());
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .ok()?;
    Some(OwnRecord { path, file })
}

/// Append `line` to this process's record: through the kept file while it is still the one
/// at its path (a cleaner may have removed it), else a newly opened one.
fn append_own_record(owner: &Owner, line: &str) -> bool {
    let mut own = own_record().lock().unwrap_or_else(PoisonError::into_inner);
    let linked = own
        .as_ref()
        .is_some_and(|r| r.file.metadata().is_ok_and(|m| m.nlink() > 0));
    if !linked {
        *own = open_own_record(owner);
    }
    own.as_mut()
        .is_some_and(|r| r.file.write_all(line.as_bytes()).is_ok())
}

/// Whether this is the first use of the engine at `socket` in this process (and note it):
/// checked by every engine call, so a use after the first costs a lookup, no allocation.
pub fn first_use_in_process(socket: &Path) -> bool {
    static SEEN: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    !seen.contains(socket) && seen.insert(socket.to_path_buf())
}

/// [`claim_reap_turn`] at the current time of the system clock.
pub fn claim_reap_turn_now(socket: &Path) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    claim_reap_turn(socket, now)
}

/// Take this minute's turn to look for orphans on the engine at `socket`: `true` (and the
/// stamp written) when no process of this user looked in the last
/// [`REAP_INTERVAL`](pocketdock_proto::reap::REAP_INTERVAL). The stamp is read and written
/// while holding a lock file made with `O_EXCL`, so of several processes starting at once one
/// gets the turn; a lock left by a process that died holding it goes stale after the interval.
pub fn claim_reap_turn(socket: &Path, now_unix: u64) -> bool {
    let Some(dir) = runtime_dir() else {
        return false;
    };
    let base = format!("reap-{:016x}", fnv1a(socket.as_os_str().as_encoded_bytes()));
    let lock = dir.join(format!("{base}.lock"));
    let interval = pocketdock_proto::reap::REAP_INTERVAL;
    if OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&lock)
        .is_err()
    {
        let stale = fs::metadata(&lock)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > interval);
        if stale {
            let _ = fs::remove_file(&lock);
        }
        return false;
    }
    let stamp = dir.join(format!("{base}.stamp"));
    let last: u64 = fs::read_to_string(&stamp)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    let due = now_unix.saturating_sub(last) >= interval.as_secs() || last > now_unix;
    if due {
        let tmp = dir.join(format!("{base}.{}.tmp", std::process::id()));
        if fs::write(&tmp, now_unix.to_string()).is_ok() {
            let _ = fs::rename(&tmp, &stamp);
        }
    }
    let _ = fs::remove_file(&lock);
    due
}

/// FNV-1a: a stable short name for a socket path.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The lines of this process's record and how many of this process's commands each covers.
fn live_lines() -> &'static Mutex<HashMap<String, usize>> {
    static LINES: OnceLock<Mutex<HashMap<String, usize>>> = OnceLock::new();
    LINES.get_or_init(Mutex::default)
}

/// Note that this process runs a command as `user` (empty: the container's default) in
/// `container` on the engine at `socket`: a line in a record under the runtime directory,
/// named by this process's owner token, which a later start reads once this process is gone
/// to kill what it left running. The line goes when the last of this process's commands
/// there ends (the returned guard is dropped); a process killed before leaves it.
pub fn record_commands(socket: &Path, container: &str, user: &str) -> CommandRecord {
    let Some(owner) = current_owner() else {
        return CommandRecord { line: None };
    };
    let line = RecordLine {
        socket: socket.display().to_string(),
        container: container.to_string(),
        user: user.to_string(),
    }
    .format();
    let mut lines = live_lines().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(n) = lines.get_mut(&line) {
        *n += 1;
        return CommandRecord { line: Some(line) };
    }
    if !append_own_record(owner, &line) {
        return CommandRecord { line: None };
    }
    lines.insert(line.clone(), 1);
    CommandRecord { line: Some(line) }
}

/// One running command's share of this process's record (see [`record_commands`]).
#[derive(Debug)]
#[must_use = "dropping the record at once says the command ended"]
pub struct CommandRecord {
    line: Option<String>,
}

impl CommandRecord {
    /// Keep the line for the rest of this process's life: for a command whose end this
    /// process does not follow.
    pub fn keep(mut self) {
        self.line = None;
    }
}

impl Drop for CommandRecord {
    fn drop(&mut self) {
        let Some(line) = self.line.take() else {
            return;
        };
        let mut lines = live_lines().lock().unwrap_or_else(PoisonError::into_inner);
        match lines.get_mut(&line) {
            Some(n) if *n > 1 => {
                *n -= 1;
                return;
            }
            Some(_) => {
                lines.remove(&line);
            }
            None => return,
        }
        let mut own = own_record().lock().unwrap_or_else(PoisonError::into_inner);
        // Without a kept file (a rewrite dropped it), the record is found by its path.
        let path = match own.as_ref() {
            Some(record) => record.path.clone(),
            None => match (current_owner(), runtime_dir()) {
                (Some(owner), Some(dir)) => dir.join("records").join(owner.token()),
                _ => return,
            },
        };
        if lines.is_empty() {
            // Emptied, not removed: the next command writes into the same file.
            if own.as_ref().is_some_and(|r| r.file.set_len(0).is_ok()) {
                return;
            }
            let _ = fs::remove_file(&path);
            *own = None;
            return;
        }
        let remaining: Vec<RecordLine> = lines
            .keys()
            .flat_map(|l| RecordLine::parse_all(l))
            .collect();
        finish_record(&path, &remaining);
        // The rewrite replaced the file: the next line goes into the new one.
        *own = None;
    }
}

/// A record of a gone owner: where it ran commands.
#[derive(Debug)]
pub struct DeadRecord {
    /// The record file.
    pub path: PathBuf,
    /// Its owner.
    pub owner: Owner,
    /// Where it ran commands.
    pub lines: Vec<RecordLine>,
}

/// The records whose owner is provably gone (at most 1000 per look).
pub fn dead_records() -> Vec<DeadRecord> {
    let Some(dir) = runtime_dir() else {
        return Vec::new();
    };
    let Ok(entries) = fs::read_dir(dir.join("records")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten().take(10_000) {
        let path = entry.path();
        let Some(owner) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(Owner::parse_token)
        else {
            continue;
        };
        if !matches!(liveness(&owner), Liveness::Gone(_)) {
            continue;
        }
        let mut text = String::new();
        let read = File::open(&path).and_then(|f| f.take(1 << 20).read_to_string(&mut text));
        if read.is_ok() {
            out.push(DeadRecord {
                lines: RecordLine::parse_all(&text),
                path,
                owner,
            });
        }
        if out.len() >= 1000 {
            break;
        }
    }
    out
}

/// Keep only `remaining` in a dead owner's record: the file goes when nothing remains.
pub fn finish_record(path: &Path, remaining: &[RecordLine]) {
    if remaining.is_empty() {
        let _ = fs::remove_file(path);
    } else {
        let text: String = remaining.iter().map(RecordLine::format).collect();
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        if fs::write(&tmp, text).is_ok() {
            let _ = fs::rename(&tmp, path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_use_of_a_socket_counts() {
        let a = Path::new("/nowhere/first-use-a.sock");
        let b = Path::new("/nowhere/first-use-b.sock");
        assert!(first_use_in_process(a));
        assert!(!first_use_in_process(a));
        assert!(first_use_in_process(b));
        assert!(!first_use_in_process(a));
    }

    /// This process is its own live owner, and its token round-trips.
    #[test]
    fn this_process_is_alive() {
        let me = current_owner().expect("Linux with /proc");
        assert_eq!(me.pid, std::process::id());
        assert_eq!(liveness(me), Liveness::Alive);
        assert_eq!(Owner::parse_token(&me.token()).as_ref(), Some(me));
        let n = owned_nonce();
        assert!(n.ends_with(&me.token()), "{n}");
        // A pid that cannot exist is gone; another boot of this host too.
        let gone = Owner {
            pid: u32::MAX - 1,
            ..me.clone()
        };
        assert!(matches!(liveness(&gone), Liveness::Gone(_)));
        let rebooted = Owner {
            boot_id: "00000000-0000-0000-0000-000000000000".into(),
            ..me.clone()
        };
        assert!(matches!(liveness(&rebooted), Liveness::Gone(_)));
    }

    /// A record line lives while a command runs, and only then; the file is kept between
    /// commands and made again when removed.
    #[test]
    fn a_record_lives_while_its_commands_run() {
        let me = current_owner().expect("Linux with /proc");
        let path = runtime_dir()
            .expect("a runtime dir")
            .join("records")
            .join(me.token());
        let socket = Path::new("/nonexistent/record-test.sock");
        let container = format!("c{}", nonce());
        let read = || fs::read_to_string(&path).unwrap_or_default();
        let a = record_commands(socket, &container, "");
        let b = record_commands(socket, &container, "");
        assert_eq!(read().matches(container.as_str()).count(), 1);
        drop(a);
        assert!(read().contains(&container), "one command still runs");
        let inode = || fs::metadata(&path).map(|m| m.ino()).ok();
        let first = inode();
        drop(b);
        assert!(!read().contains(&container), "the last one ended");
        // Emptied in place (no file made and removed per command) ...
        let c = record_commands(socket, &container, "");
        assert!(read().contains(&container));
        assert_eq!(inode(), first, "the same file");
        drop(c);
        // ... and made again when something removed it meanwhile.
        fs::remove_file(&path).expect("remove the record");
        let d = record_commands(socket, &container, "");
        assert!(
            read().contains(&container),
            "a removed record is made again"
        );
        drop(d);
        // Two containers: the first to end rewrites the record (a new file), and the last
        // still removes its line from that one.
        let other = format!("c{}", nonce());
        let (ends_first, ends_last) = (
            record_commands(socket, &container, ""),
            record_commands(socket, &other, ""),
        );
        drop(ends_first);
        assert!(read().contains(&other) && !read().contains(&container));
        drop(ends_last);
        assert!(
            !read().contains(&other),
            "the last line goes from the rewritten record"
        );
        record_commands(socket, &container, "root").keep();
        assert!(read().contains(&format!("{container}\troot")));
    }

    /// One turn per interval per socket.
    #[test]
    fn one_turn_a_minute() {
        let socket = PathBuf::from(format!("/nonexistent/turn-{}.sock", nonce()));
        assert!(claim_reap_turn(&socket, 1_000_000));
        assert!(!claim_reap_turn(&socket, 1_000_030));
        assert!(claim_reap_turn(&socket, 1_000_061));
        let other = PathBuf::from(format!("/nonexistent/turn-{}.sock", nonce()));
        assert!(claim_reap_turn(&other, 1_000_062));
    }
}
