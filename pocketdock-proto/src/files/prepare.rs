//! The helper run before every upload: the default user's uid and gid, what is at the target
//! path, and the `mkdir -p` of a missing parent; its fixed script, argv and output parser.

use crate::error::{Error, Result};
use crate::result::ExecResult;

use super::options::HELPER_TIMEOUT;

/// Name given to `$0` of the helper scripts.
pub(crate) const ARG0: &str = "pocketdock";

/// The helper script run before an upload (see [`prepare_command`]).
pub const PREPARE_SCRIPT: &str = r#"set -e
id -u
id -g
if [ -d "$1" ]; then echo dir
elif [ -L "$1" ]; then echo link
elif [ -e "$1" ]; then echo "file $(stat -c %a -- "$1" 2>/dev/null || :)"
else
  if [ -n "$2" ]; then mkdir -p -- "$2"; fi
  echo none
fi
"#;

/// The argv that, run as the container's default user, prints its uid and gid and what is at
/// `path` (a directory, a symlink that is not one, a file with its mode, or nothing), and when
/// nothing is there creates `mkdir_if_missing` with `mkdir -p` (an empty string: nothing).
/// Both paths are positional arguments of a constant script.
pub fn prepare_command(path: &str, mkdir_if_missing: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        PREPARE_SCRIPT.into(),
        ARG0.into(),
        path.into(),
        mkdir_if_missing.into(),
    ]
}

/// What is at a container path, as seen by the default user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestKind {
    /// A directory (or a symlink to one).
    Dir,
    /// A symbolic link that does not lead to a directory (dangling or to a file): replaced.
    Link,
    /// Something else that exists (a file), with its permission bits when `stat` gave them.
    File {
        /// Permission bits of the existing file.
        mode: Option<u32>,
    },
    /// Nothing.
    Missing,
}

/// What [`prepare_command`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prepared {
    /// The default user's uid.
    pub uid: u64,
    /// The default user's gid.
    pub gid: u64,
    /// What is at the path.
    pub kind: DestKind,
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

/// Interpret the result of [`prepare_command`] for `path`. A non-zero exit (e.g. the default
/// user may not create the parent directories) is [`Error::InvalidInput`] with the command's
/// stderr.
pub fn parse_prepare(path: &str, r: &ExecResult) -> Result<Prepared> {
    if let Some(e) = helper_timed_out(r) {
        return Err(e);
    }
    if r.exit_code != 0 {
        return Err(helper_failed("preparing", path, r));
    }
    let out = r.stdout_str();
    let mut lines = out.lines();
    let bad = || {
        Error::SocketCommunication(format!(
            "unexpected output of the prepare helper: {:?}",
            r.stdout_str()
        ))
    };
    let uid = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(bad)?;
    let gid = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(bad)?;
    let kind = match lines.next().map(str::trim) {
        Some("dir") => DestKind::Dir,
        Some("link") => DestKind::Link,
        Some("none") => DestKind::Missing,
        Some(l) if l.starts_with("file") => DestKind::File {
            mode: u32::from_str_radix(l.trim_start_matches("file").trim(), 8)
                .ok()
                .map(|m| m & 0o7777),
        },
        _ => return Err(bad()),
    };
    Ok(Prepared { uid, gid, kind })
}
