//! What an upload needs to know before its archive is built, learned without running anything
//! at the destination: the default user (uid and gid, learned once per container from its
//! configuration or, when that cannot say, with the [`owner_command`] helper, and then kept by
//! the caller), and what is at the target path (read from the engine's path stat, see
//! [`dest_kind`]).

use crate::api::archive::PathStat;
use crate::error::{Error, Result};
use crate::result::ExecResult;

use super::options::HELPER_TIMEOUT;

/// Name given to `$0` of the helper scripts.
pub(crate) const ARG0: &str = "pocketdock";

/// The script that prints the default user's uid and gid (see [`owner_command`]).
pub const OWNER_SCRIPT: &str = "set -e\nid -u\nid -g\n";

/// The argv that, run as the container's default user, prints its uid and gid, one a line.
///
/// Running `id` as that user is what the engine itself resolves the image's `User` to, so the
/// answer is right for a root default user, a numeric `uid[:gid]` and a named user alike
/// (including one whose name only the container's own `/etc/passwd` knows).
pub fn owner_command() -> Vec<String> {
    vec!["sh".into(), "-c".into(), OWNER_SCRIPT.into(), ARG0.into()]
}

/// The container's default user: who owns what is uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// The default user's uid.
    pub uid: u64,
    /// The default user's gid.
    pub gid: u64,
}

/// Interpret the result of [`owner_command`].
pub fn parse_owner(r: &ExecResult) -> Result<Owner> {
    if let Some(e) = helper_timed_out(r) {
        return Err(e);
    }
    if r.exit_code != 0 {
        return Err(helper_failed(
            "reading the default user of",
            "the container",
            r,
        ));
    }
    let out = r.stdout_str();
    let mut lines = out.lines().map(|l| l.trim().parse::<u64>().ok());
    match (lines.next().flatten(), lines.next().flatten()) {
        (Some(uid), Some(gid)) => Ok(Owner { uid, gid }),
        _ => Err(Error::SocketCommunication(format!(
            "unexpected output of the owner helper: {out:?}"
        ))),
    }
}

/// What is at a container path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestKind {
    /// A directory (or a symlink to one).
    Dir,
    /// A symbolic link that does not lead to a directory (dangling or to a file): replaced.
    Link,
    /// Something else that exists (a file), with its permission bits when known.
    File {
        /// Permission bits of the existing file.
        mode: Option<u32>,
    },
    /// Nothing.
    Missing,
}

/// Who owns an upload and what is at its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prepared {
    /// The default user's uid.
    pub uid: u64,
    /// The default user's gid.
    pub gid: u64,
    /// What is at the path.
    pub kind: DestKind,
}

/// Go `os.ModeSticky`.
const GO_STICKY: u32 = 1 << 20;

/// What a path stat says is there, the symlink aside (the caller follows it): a directory, or a
/// file with its permission bits and sticky bit (setuid and setgid are dropped on upload
/// anyway).
pub fn dest_kind(stat: &PathStat) -> DestKind {
    if stat.is_dir() {
        return DestKind::Dir;
    }
    let sticky = if stat.mode & GO_STICKY != 0 {
        0o1000
    } else {
        0
    };
    DestKind::File {
        mode: Some(stat.permissions() | sticky),
    }
}

/// Does this error of a path stat mean "nothing reachable there"? Podman answers `404` for a
/// path below a file, Docker `500` (a `HEAD` carries no message to tell them apart), so both
/// count as missing: the walk up to an existing directory then finds what is in the way.
pub fn stat_says_missing(e: &Error) -> bool {
    match e {
        Error::PathNotFound(_) => true,
        Error::Engine { status, .. } => *status >= 500,
        _ => false,
    }
}

/// The error of an upload whose directory `dir` could not be created because `blocker`, one of
/// its ancestors, is not a directory.
pub fn not_a_directory(dir: &str, blocker: &str) -> Error {
    Error::invalid(
        "path",
        format!("cannot create {dir:?}: {blocker:?} is in the way: Not a directory"),
    )
}

/// An upload's error as the caller should see it: the engine refusing to write into `dir`
/// because the file system there (or the container's root) is read-only is
/// [`Error::InvalidInput`] on `path`, as any other destination the default user cannot write;
/// a container not found by the upload itself (after its target was found) is
/// [`Error::ContainerGone`].
pub fn upload_error(e: Error, dir: &str) -> Error {
    match e {
        Error::Engine { message, .. } if message.to_ascii_lowercase().contains("read-only") => {
            Error::invalid("path", format!("{dir:?} is not writable: {message}"))
        }
        // The target was stat'ed through the same container a moment before: it went away
        // during the upload.
        Error::ContainerNotFound(id) => Error::ContainerGone(id),
        other => other,
    }
}

pub(super) fn helper_failed(what: &str, path: &str, r: &ExecResult) -> Error {
    let err = r.stderr_str();
    let detail = err.trim();
    Error::invalid(
        "path",
        if detail.is_empty() {
            format!("{what} {path:?} failed (exit code {})", r.exit_code)
        } else {
            format!("{what} {path:?} failed: {detail}")
        },
    )
}

pub(super) fn helper_timed_out(r: &ExecResult) -> Option<Error> {
    r.timed_out.then(|| Error::Timeout {
        op: "file helper command",
        after_ms: HELPER_TIMEOUT.as_millis() as u64,
    })
}
