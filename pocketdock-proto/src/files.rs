//! The pure part of file transfers between the host and a container: `write_file`,
//! `read_file`, `list_files`, `push` and `pull`.
//!
//! Adapters do the I/O (exec, archive upload and download, host files); this module decides:
//!
//! * which fixed commands run in the container ([`prepare_command`], [`list_command`]). A path is
//!   never part of a shell string: each script is a constant and paths reach it as positional
//!   arguments (`sh -c SCRIPT pocketdock PATH ...`), so spaces, quotes and `$(...)` are data;
//! * what their output means ([`parse_prepare`], [`parse_list`]);
//! * where an upload goes and under which name, with `docker cp` semantics ([`plan_push`]);
//! * what a downloaded archive may create on the host ([`Extractor`]): entries are re-based on
//!   the archive's top entry, checked with [`ExtractGuard`] (no `..`, no absolute paths, no
//!   symlink or hard link escapes, nothing written through an archive symlink), counted against
//!   a byte and an entry cap, and handed out one action at a time while the data streams.
//!
//! Ownership: uploads carry the uid and gid of the container's default user (read with `id -u`
//! and `id -g` by [`prepare_command`]) in every tar header, so files pushed or written are owned
//! by that user, whoever the engine extracts as.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;

use crate::api::archive::validate_path;
use crate::error::{Error, ProtocolError, Result};
use crate::result::ExecResult;
use crate::tar::path::components;
use crate::tar::{
    header_for_file, padding, EntryHeader, EntryKind, EntryMeta, ExtractGuard, TarEvent, TarReader,
    END_OF_ARCHIVE,
};

/// Default cap of [`read_file`](TransferOptions::max_bytes): 64 MiB.
pub const DEFAULT_READ_LIMIT: u64 = 64 * 1024 * 1024;
/// Default cap of the file data one `pull` may write on the host: 1 GiB.
pub const DEFAULT_PULL_LIMIT: u64 = 1024 * 1024 * 1024;
/// Default cap of the number of entries one `pull` may create: one million.
pub const DEFAULT_MAX_ENTRIES: u64 = 1_000_000;
/// Default deadline of one whole transfer (upload or download): 10 minutes.
pub const DEFAULT_TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);
/// Deadline of the helper commands (`prepare`, `list`).
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(60);
/// Output cap of the `prepare` helper.
pub const PREPARE_MAX_OUTPUT: usize = 64 * 1024;
/// Output cap of the `list` helper: a listing larger than this is an error.
pub const LIST_MAX_OUTPUT: usize = 64 * 1024 * 1024;
/// Most symbolic links followed for the top path of `read_file` and `pull`.
pub const MAX_LINK_HOPS: usize = 16;
/// Size of the pieces an upload is fed in.
pub const UPLOAD_CHUNK: usize = 256 * 1024;
/// Name given to `$0` of the helper scripts.
const ARG0: &str = "pocketdock";

/// Limits and deadline of one transfer. `None` fields take the operation's default.
///
/// ```
/// use pocketdock_proto::files::TransferOptions;
/// let opts = TransferOptions::new().max_bytes(1 << 20).timeout(std::time::Duration::from_secs(5));
/// assert_eq!(opts.max_bytes_or(64), 1 << 20);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferOptions {
    /// Most bytes of file data accepted on the host (`read_file`: [`DEFAULT_READ_LIMIT`],
    /// `pull`: [`DEFAULT_PULL_LIMIT`]). Uploads ignore it.
    pub max_bytes: Option<u64>,
    /// Most archive entries a `pull` creates ([`DEFAULT_MAX_ENTRIES`]).
    pub max_entries: Option<u64>,
    /// Deadline of the whole transfer ([`DEFAULT_TRANSFER_TIMEOUT`]).
    pub timeout: Option<Duration>,
    /// No deadline at all (overrides `timeout`).
    pub no_timeout: bool,
    /// Told the archive bytes moved so far, after every piece sent or received by an upload
    /// (`push`, `write_file`) or a `pull` (for a progress display).
    pub on_progress: Option<TransferProgress>,
}

/// A callback told how many bytes a transfer has moved so far (see
/// [`TransferOptions::on_progress`]). Two are equal when they are the same callback.
#[derive(Clone)]
pub struct TransferProgress(std::sync::Arc<dyn Fn(u64) + Send + Sync>);

impl TransferProgress {
    /// Wrap `f`.
    pub fn new(f: impl Fn(u64) + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(f))
    }

    /// Tell the callback that `bytes` have moved so far.
    pub fn report(&self, bytes: u64) {
        (self.0)(bytes);
    }
}

impl std::fmt::Debug for TransferProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransferProgress(..)")
    }
}

impl PartialEq for TransferProgress {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TransferProgress {}

impl TransferOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the byte cap.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Set the entry cap.
    pub fn max_entries(mut self, entries: u64) -> Self {
        self.max_entries = Some(entries);
        self
    }

    /// Set the deadline of the whole transfer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self.no_timeout = false;
        self
    }

    /// Remove the deadline.
    pub fn no_timeout(mut self) -> Self {
        self.no_timeout = true;
        self
    }

    /// Call `f` with the archive bytes moved so far after every piece of an upload or a `pull`.
    pub fn on_progress(mut self, f: impl Fn(u64) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(TransferProgress::new(f));
        self
    }

    /// Report `bytes` moved so far to the progress callback, if any.
    pub fn report(&self, bytes: u64) {
        if let Some(p) = &self.on_progress {
            p.report(bytes);
        }
    }

    /// The byte cap, or `default`.
    pub fn max_bytes_or(&self, default: u64) -> u64 {
        self.max_bytes.unwrap_or(default)
    }

    /// The entry cap, or [`DEFAULT_MAX_ENTRIES`].
    pub fn max_entries_or_default(&self) -> u64 {
        self.max_entries.unwrap_or(DEFAULT_MAX_ENTRIES)
    }

    /// The deadline to give the transfer operation (`None`: none).
    pub fn deadline(&self) -> Option<Duration> {
        if self.no_timeout {
            None
        } else {
            Some(self.timeout.unwrap_or(DEFAULT_TRANSFER_TIMEOUT))
        }
    }

    /// Check the options: a zero deadline is refused.
    pub fn validate(&self) -> Result<()> {
        if !self.no_timeout && self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid("timeout", "must be greater than zero"));
        }
        Ok(())
    }
}

/// Check a container path argument (absolute, no NUL).
pub fn check_path(field: &'static str, path: &str) -> Result<()> {
    validate_path(field, path)
}

/// Split a container path into its parent directory and last component, ignoring trailing
/// slashes: `/a/b/` → (`/a`, `b`), `/a` → (`/`, `a`). `None` for `/`.
pub fn split_path(path: &str) -> Option<(String, String)> {
    let trimmed = path.trim_end_matches('/');
    let (parent, name) = trimmed.rsplit_once('/')?;
    if name.is_empty() {
        return None;
    }
    let parent = parent.trim_end_matches('/');
    let parent = if parent.is_empty() { "/" } else { parent };
    Some((parent.to_string(), name.to_string()))
}

/// The path a symbolic link at `path` points to: `target` itself when absolute, else resolved
/// against the link's directory (the engine resolves `..` inside the container).
pub fn resolve_link(path: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_string();
    }
    let parent = split_path(path).map_or_else(|| "/".to_string(), |(p, _)| p);
    if parent == "/" {
        format!("/{target}")
    } else {
        format!("{parent}/{target}")
    }
}

/// Does `path` contain characters Podman's archive endpoint reads as glob syntax in a `GET`
/// (`*`, `?`, `[`, `\`)? Podman 4.3 matches the path as a pattern (`/tmp/?` returns every
/// one-character name); Docker takes it literally.
pub fn has_glob_meta(path: &str) -> bool {
    path.contains(['*', '?', '[', '\\'])
}

/// `path` with `\`, `?` and `[` escaped by a backslash, for a Podman `GET`. `*` is left alone:
/// Podman 4.3 answers 404 for any path containing it, escaped or not, so the adapter reads such
/// a path through a temporary symlink ([`link_command`]).
pub fn escape_glob(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    for c in path.chars() {
        if matches!(c, '\\' | '?' | '[') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The argv creating the symlink `link` to `target` (both as plain arguments).
pub fn link_command(target: &str, link: &str) -> Vec<String> {
    vec![
        "ln".into(),
        "-s".into(),
        "--".into(),
        target.into(),
        link.into(),
    ]
}

/// The argv removing `link`.
pub fn unlink_command(link: &str) -> Vec<String> {
    vec!["rm".into(), "-f".into(), "--".into(), link.into()]
}

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

fn helper_failed(what: &str, path: &str, r: &ExecResult) -> Error {
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

fn helper_timed_out(r: &ExecResult) -> Option<Error> {
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

/// The helper script of `list_files` (see [`list_command`]).
pub const LIST_SCRIPT: &str = r#"if [ -d "$1" ]; then exec find "$1/" -mindepth 1 -maxdepth 1 -print0; fi
if [ -e "$1" ] || [ -L "$1" ]; then exit 3; fi
exit 4
"#;

/// The argv listing the directory `path`: NUL-separated paths of its entries (hidden ones
/// included), exit 3 when `path` is not a directory, exit 4 when it does not exist.
pub fn list_command(path: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        LIST_SCRIPT.into(),
        ARG0.into(),
        path.into(),
    ]
}

/// Interpret the result of [`list_command`]: entry names (no `.`/`..`, no directories' trailing
/// `/`), sorted bytewise; names that are not UTF-8 are converted lossily. A missing path is
/// [`Error::PathNotFound`]; a path that is not a directory is [`Error::InvalidInput`].
pub fn parse_list(path: &str, r: &ExecResult) -> Result<Vec<String>> {
    if let Some(e) = helper_timed_out(r) {
        return Err(e);
    }
    match r.exit_code {
        0 if r.truncated => Err(Error::invalid(
            "path",
            format!("the listing of {path:?} exceeds {LIST_MAX_OUTPUT} bytes"),
        )),
        0 => {
            let mut names: Vec<String> = r
                .stdout
                .split(|&b| b == 0)
                .filter_map(|p| {
                    let name = p.rsplit(|&b| b == b'/').next().unwrap_or(p);
                    (!name.is_empty() && name != b"." && name != b"..")
                        .then(|| String::from_utf8_lossy(name).into_owned())
                })
                .collect();
            names.sort();
            names.dedup();
            Ok(names)
        }
        3 => Err(Error::invalid(
            "path",
            format!("{path:?} is not a directory"),
        )),
        4 => Err(Error::PathNotFound(path.to_string())),
        _ => Err(helper_failed("listing", path, r)),
    }
}

/// What `mkdir -p` should create before a push to `dest` when nothing is there: `dest` itself
/// when it names a directory (a trailing `/`, or the contents of a directory are copied), else
/// its parent.
pub fn push_mkdir_target(dest: &str, contents_only: bool) -> String {
    if dest.ends_with('/') || contents_only {
        return dest.to_string();
    }
    split_path(dest).map_or_else(|| "/".to_string(), |(parent, _)| parent)
}

/// Where a push extracts its archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushPlan {
    /// The container directory the archive is extracted into (the `path` of the upload).
    pub extract_dir: String,
    /// The name of the archive's top entry; `None` when the contents of a source directory are
    /// extracted straight into `extract_dir` (no top entry).
    pub root_name: Option<String>,
}

fn plain_name(field: &'static str, name: &str) -> Result<String> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(Error::invalid(
            field,
            format!("{name:?} cannot name a file or directory"),
        ));
    }
    Ok(name.to_string())
}

/// Check the `path` of a `write_file` (absolute, naming a file: not `/`, `.`, `..` or a path
/// ending with `/`) and split it into the directory to upload into and the file's name.
pub fn write_target(path: &str) -> Result<(String, String)> {
    check_path("path", path)?;
    let (parent, name) = split_path(path)
        .filter(|(_, n)| n != "." && n != "..")
        .ok_or_else(|| Error::invalid("path", format!("{path:?} does not name a file")))?;
    if path.ends_with('/') {
        return Err(Error::invalid(
            "path",
            format!("{path:?} ends with '/': it names a directory"),
        ));
    }
    Ok((parent, name))
}

/// The archive a `write_file` of `data` to `path` uploads into its parent directory (see
/// [`write_target`]): one regular file `name`, owned by the default user of `prep`, with the
/// permission bits of the file it replaces (setuid/setgid dropped) or `0644`, dated `mtime`;
/// its total length, and its pieces (at most [`UPLOAD_CHUNK`] of data each) as they are sent.
/// A directory at `path` is [`Error::InvalidInput`].
pub fn write_file_archive<'a>(
    path: &str,
    name: &str,
    data: &'a [u8],
    prep: &Prepared,
    mtime: u64,
) -> Result<(u64, impl Iterator<Item = Bytes> + 'a)> {
    let mode = match prep.kind {
        DestKind::Dir => return Err(Error::invalid("path", format!("{path:?} is a directory"))),
        DestKind::File { mode: Some(m) } => container_mode(m),
        _ => 0o644,
    };
    let meta = EntryMeta {
        mode,
        mtime,
        uid: prep.uid,
        gid: prep.gid,
        uname: String::new(),
        gname: String::new(),
    };
    let size = data.len() as u64;
    let header = header_for_file(name, size, &meta)?;
    let mut tail = padding(size).to_vec();
    tail.extend_from_slice(&END_OF_ARCHIVE);
    let total = (header.len() + data.len() + tail.len()) as u64;
    let pieces = std::iter::once(Bytes::from(header))
        .chain(data.chunks(UPLOAD_CHUNK).map(Bytes::copy_from_slice))
        .chain(std::iter::once(Bytes::from(tail)));
    Ok((total, pieces))
}

/// Plan a push with `docker cp` semantics. `src_name` is the host source's last component;
/// `contents_only` is a source directory given as `dir/.` (its contents are copied).
///
/// | destination | source file | source directory |
/// |---|---|---|
/// | an existing directory | copied into it under `src_name` | copied into it under `src_name` (`dir/.`: merged into it) |
/// | missing, ends with `/` | created, file copied into it | created, directory copied into it |
/// | missing | the new file | the new directory (with the source's contents) |
/// | a file or symlink | replaced | refused |
pub fn plan_push(
    src_is_dir: bool,
    src_name: &str,
    contents_only: bool,
    dest: &str,
    dest_kind: DestKind,
) -> Result<PushPlan> {
    check_path("dest", dest)?;
    let contents_only = contents_only && src_is_dir;
    let into = |dir: &str| -> Result<PushPlan> {
        Ok(PushPlan {
            extract_dir: dir.to_string(),
            root_name: if contents_only {
                None
            } else {
                Some(plain_name("src", src_name)?)
            },
        })
    };
    let as_new = || -> Result<PushPlan> {
        let (parent, name) =
            split_path(dest).ok_or_else(|| Error::invalid("dest", "\"/\" cannot be replaced"))?;
        Ok(PushPlan {
            extract_dir: parent,
            root_name: Some(plain_name("dest", &name)?),
        })
    };
    match dest_kind {
        DestKind::Dir => into(dest),
        DestKind::Missing if dest.ends_with('/') || contents_only => into(dest),
        DestKind::File { .. } | DestKind::Link if src_is_dir => Err(Error::invalid(
            "dest",
            format!("{dest:?} exists and is not a directory"),
        )),
        DestKind::Missing | DestKind::File { .. } | DestKind::Link => as_new(),
    }
}

/// What `pull` of `src` copies: `(Some(name), false)` for a path whose last component is
/// `name`; `(None, true)` for the contents of a directory (`dir/.`). A last component `..` is
/// refused, and so is `/` (the engines name its entries with absolute paths, which extraction
/// refuses).
pub fn pull_source(src: &str) -> Result<(Option<String>, bool)> {
    check_path("src", src)?;
    let trimmed = src.trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "/." {
        return Err(Error::invalid(
            "src",
            "pulling the whole file system (\"/\") is not supported: pull its directories",
        ));
    }
    if trimmed.ends_with("/.") {
        return Ok((None, true));
    }
    match split_path(src) {
        Some((_, name)) if name == ".." => Err(Error::invalid(
            "src",
            format!("{src:?} ends with \"..\": give the directory's own path"),
        )),
        Some((_, name)) => Ok((Some(name), false)),
        None => Ok((None, true)),
    }
}

/// Permission bits kept on the host: setuid, setgid and sticky are dropped.
pub fn host_mode(mode: u32) -> u32 {
    mode & 0o777
}

/// Permission bits sent to the container: setuid and setgid are dropped (the files belong to
/// the default user), the sticky bit is kept.
pub fn container_mode(mode: u32) -> u32 {
    mode & 0o1777
}

/// One step of extracting a downloaded archive. Paths are relative to the target directory the
/// adapter chose after the top entry, and already checked by [`ExtractGuard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractAction {
    /// The path is a symbolic link to `target` (resolve it with [`resolve_link`] and download
    /// again; nothing else follows).
    TopSymlink {
        /// The link's target, as stored.
        target: String,
    },
    /// The path is neither a file, a directory nor a symlink (a device, FIFO, ...).
    TopOther {
        /// What it is.
        kind: EntryKind,
    },
    /// The path is a regular file: create it, then [`Data`](Self::Data)* and
    /// [`FileEnd`](Self::FileEnd).
    TopFile {
        /// Permission bits (see [`host_mode`]).
        mode: u32,
        /// Modification time, seconds since the epoch.
        mtime: u64,
        /// Size in bytes (within the byte cap).
        size: u64,
    },
    /// The path is a directory: the target directory itself.
    TopDir {
        /// Permission bits (see [`host_mode`]).
        mode: u32,
        /// Modification time.
        mtime: u64,
    },
    /// A directory inside the target.
    Dir {
        /// Relative path.
        path: PathBuf,
        /// Permission bits.
        mode: u32,
        /// Modification time.
        mtime: u64,
    },
    /// A regular file inside the target; [`Data`](Self::Data)* and [`FileEnd`](Self::FileEnd)
    /// follow.
    File {
        /// Relative path.
        path: PathBuf,
        /// Permission bits.
        mode: u32,
        /// Modification time.
        mtime: u64,
        /// Size in bytes.
        size: u64,
    },
    /// A piece of the current file's data.
    Data(Bytes),
    /// The current file is complete.
    FileEnd,
    /// A symbolic link inside the target (its target is relative and stays inside).
    Symlink {
        /// Relative path.
        path: PathBuf,
        /// Link target, as stored.
        target: String,
    },
    /// A hard link inside the target to an earlier file of the archive.
    Hardlink {
        /// Relative path.
        path: PathBuf,
        /// Relative path of the file linked to.
        source: PathBuf,
    },
    /// The archive ended cleanly.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Current {
    None,
    File,
    Skip,
}

/// Turns a downloaded archive of one container path into [`ExtractAction`]s, streaming.
///
/// The first entry is the path itself (`name`, `name/` or `./`); every later entry must lie
/// under it and is re-based onto the target directory. For the contents of a directory
/// ([`Extractor::contents`], a `dir/.` download) the top is implicit: Docker starts with `./`,
/// Podman with the children themselves, and an empty directory may have no entry at all. Entries are checked by an
/// [`ExtractGuard`]; file data counts against `max_bytes` (checked from each header, before any
/// data) and entries against `max_entries`, both as [`ProtocolError::BodyTooLarge`] /
/// [`Error::Archive`]. Devices, FIFOs and unknown types inside a directory are skipped. Any
/// error is final.
#[derive(Debug)]
pub struct Extractor {
    reader: TarReader,
    guard: ExtractGuard,
    prefix: Option<Vec<String>>,
    top: Option<EntryKind>,
    current: Current,
    max_bytes: u64,
    max_entries: u64,
    bytes: u64,
    entries: u64,
    contents: bool,
    pending: Option<ExtractAction>,
}

impl Extractor {
    /// An extractor with a cap on file data and on the number of entries.
    pub fn new(max_bytes: u64, max_entries: u64) -> Self {
        Self {
            reader: TarReader::new(),
            guard: ExtractGuard::new(std::path::Path::new("")),
            prefix: None,
            top: None,
            current: Current::None,
            max_bytes,
            max_entries,
            bytes: 0,
            entries: 0,
            contents: false,
            pending: None,
        }
    }

    /// An extractor for the archive of a directory's contents (`dir/.`): [`ExtractAction::TopDir`]
    /// comes first whatever the archive starts with, and entries are relative to the directory.
    pub fn contents(max_bytes: u64, max_entries: u64) -> Self {
        Self {
            contents: true,
            ..Self::new(max_bytes, max_entries)
        }
    }

    /// Bytes of the archive, in any split.
    pub fn feed(&mut self, data: &[u8]) {
        self.reader.feed(data);
    }

    /// The download ended.
    pub fn finish(&mut self) {
        self.reader.finish();
    }

    /// File data accepted so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The next action; `Ok(None)` when more input is needed.
    pub fn next_action(&mut self) -> Result<Option<ExtractAction>> {
        if let Some(a) = self.pending.take() {
            return Ok(Some(a));
        }
        loop {
            let Some(ev) = self.reader.next_event()? else {
                return Ok(None);
            };
            match ev {
                TarEvent::Entry(h) => {
                    if let Some(a) = self.entry(h)? {
                        return Ok(Some(a));
                    }
                }
                TarEvent::Data(d) => {
                    if self.current == Current::File {
                        return Ok(Some(ExtractAction::Data(d)));
                    }
                }
                TarEvent::EntryEnd => {
                    if std::mem::replace(&mut self.current, Current::None) == Current::File {
                        return Ok(Some(ExtractAction::FileEnd));
                    }
                }
                TarEvent::End => {
                    if self.top.is_none() {
                        if !self.contents {
                            return Err(Error::Archive("the archive is empty".into()));
                        }
                        self.top = Some(EntryKind::Dir);
                        self.pending = Some(ExtractAction::End);
                        return Ok(Some(ExtractAction::TopDir {
                            mode: 0o755,
                            mtime: 0,
                        }));
                    }
                    return Ok(Some(ExtractAction::End));
                }
            }
        }
    }

    fn take_bytes(&mut self, size: u64) -> Result<()> {
        if size > self.max_bytes.saturating_sub(self.bytes) {
            return Err(ProtocolError::BodyTooLarge(
                usize::try_from(self.max_bytes).unwrap_or(usize::MAX),
            )
            .into());
        }
        self.bytes += size;
        Ok(())
    }

    fn rebase(&self, path: &str) -> Result<Vec<String>> {
        let comps = components(path)?;
        let prefix = self.prefix.as_deref().unwrap_or_default();
        let under =
            comps.len() >= prefix.len() && comps.iter().zip(prefix).all(|(a, b)| *a == b.as_str());
        if !under {
            return Err(Error::Archive(format!(
                "refusing entry {path:?}: not under the archive's top entry"
            )));
        }
        Ok(comps
            .iter()
            .skip(prefix.len())
            .map(|s| (*s).to_string())
            .collect())
    }

    fn entry(&mut self, h: EntryHeader) -> Result<Option<ExtractAction>> {
        self.entries += 1;
        if self.entries > self.max_entries {
            return Err(Error::Archive(format!(
                "the archive has more than {} entries",
                self.max_entries
            )));
        }
        if self.top.is_none() && self.contents {
            self.top = Some(EntryKind::Dir);
            self.prefix = Some(Vec::new());
            let top_itself = h.kind == EntryKind::Dir && components(&h.path)?.is_empty();
            let (mode, mtime) = if top_itself {
                (host_mode(h.mode), h.mtime)
            } else {
                (0o755, 0)
            };
            let first = ExtractAction::TopDir { mode, mtime };
            if top_itself {
                return Ok(Some(first));
            }
            self.pending = self.entry_below(h)?;
            return Ok(Some(first));
        }
        let Some(top) = self.top else {
            let comps = components(&h.path)?;
            if comps.len() > 1 {
                return Err(Error::Archive(format!(
                    "refusing entry {:?}: the first entry must be the path itself",
                    h.path
                )));
            }
            self.prefix = Some(comps.iter().map(|s| (*s).to_string()).collect());
            self.top = Some(h.kind);
            return Ok(Some(match h.kind {
                EntryKind::Symlink => ExtractAction::TopSymlink {
                    target: h.link_target.unwrap_or_default(),
                },
                EntryKind::File => {
                    self.take_bytes(h.size)?;
                    self.current = Current::File;
                    ExtractAction::TopFile {
                        mode: host_mode(h.mode),
                        mtime: h.mtime,
                        size: h.size,
                    }
                }
                EntryKind::Dir => ExtractAction::TopDir {
                    mode: host_mode(h.mode),
                    mtime: h.mtime,
                },
                kind => {
                    self.current = Current::Skip;
                    ExtractAction::TopOther { kind }
                }
            }));
        };
        if top != EntryKind::Dir {
            return Err(Error::Archive(format!(
                "refusing entry {:?}: the archive of a single file has more entries",
                h.path
            )));
        }
        self.entry_below(h)
    }

    /// An entry below the top directory.
    fn entry_below(&mut self, h: EntryHeader) -> Result<Option<ExtractAction>> {
        let rel = self.rebase(&h.path)?.join("/");
        if rel.is_empty() {
            if h.kind == EntryKind::Dir {
                return Ok(None);
            }
            return Err(Error::Archive(format!(
                "refusing entry {:?}: only a directory may be the top",
                h.path
            )));
        }
        let mut rebased = h.clone();
        rebased.path.clone_from(&rel);
        if h.kind == EntryKind::Hardlink {
            let target = h.link_target.as_deref().unwrap_or_default();
            rebased.link_target = Some(self.rebase(target)?.join("/"));
        }
        let safe = self.guard.check(&rebased)?;
        let (mode, mtime) = (host_mode(h.mode), h.mtime);
        Ok(Some(match h.kind {
            EntryKind::Dir => ExtractAction::Dir {
                path: safe.path,
                mode,
                mtime,
            },
            EntryKind::File => {
                self.take_bytes(h.size)?;
                self.current = Current::File;
                ExtractAction::File {
                    path: safe.path,
                    mode,
                    mtime,
                    size: h.size,
                }
            }
            EntryKind::Symlink => ExtractAction::Symlink {
                path: safe.path,
                target: h.link_target.unwrap_or_default(),
            },
            EntryKind::Hardlink => ExtractAction::Hardlink {
                path: safe.path,
                source: safe.hardlink_source.unwrap_or_default(),
            },
            EntryKind::Other(_) => {
                self.current = Current::Skip;
                return Ok(None);
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tar::{
        header_for_dir, header_for_file, header_for_hardlink, header_for_symlink, padding,
        EntryMeta, END_OF_ARCHIVE,
    };

    fn exec(code: i64, out: &[u8], err: &str) -> ExecResult {
        ExecResult {
            exit_code: code,
            stdout: out.to_vec(),
            stderr: err.as_bytes().to_vec(),
            ..ExecResult::default()
        }
    }

    enum E<'a> {
        D(&'a str),
        F(&'a str, &'a [u8]),
        S(&'a str, &'a str),
        H(&'a str, &'a str),
    }

    fn tar(entries: &[E<'_>]) -> Vec<u8> {
        let meta = EntryMeta {
            mode: 0o4755,
            mtime: 7,
            ..EntryMeta::default()
        };
        let mut a = Vec::new();
        for e in entries {
            let (h, data): (Result<Vec<u8>>, &[u8]) = match e {
                E::D(p) => (header_for_dir(p, &meta), b""),
                E::F(p, d) => (header_for_file(p, d.len() as u64, &meta), d),
                E::S(p, t) => (header_for_symlink(p, t, &meta), b""),
                E::H(p, t) => (header_for_hardlink(p, t, &meta), b""),
            };
            a.extend(h.unwrap_or_else(|e| panic!("{e}")));
            a.extend_from_slice(data);
            a.extend_from_slice(padding(data.len() as u64));
        }
        a.extend_from_slice(&END_OF_ARCHIVE);
        a
    }

    /// Run an archive through an extractor fed in pieces of `step` bytes.
    fn run(archive: &[u8], step: usize, max_bytes: u64) -> (Vec<ExtractAction>, Option<Error>) {
        let mut x = Extractor::new(max_bytes, 100);
        let mut out = Vec::new();
        for piece in archive.chunks(step) {
            x.feed(piece);
            loop {
                match x.next_action() {
                    Ok(Some(ExtractAction::Data(d))) => match out.last_mut() {
                        Some(ExtractAction::Data(prev)) => {
                            let mut v = prev.to_vec();
                            v.extend_from_slice(&d);
                            *prev = Bytes::from(v);
                        }
                        _ => out.push(ExtractAction::Data(d)),
                    },
                    Ok(Some(a)) => out.push(a),
                    Ok(None) => break,
                    Err(e) => return (out, Some(e)),
                }
            }
        }
        x.finish();
        loop {
            match x.next_action() {
                Ok(Some(a)) => out.push(a),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn options_defaults_and_deadline() {
        let o = TransferOptions::new();
        assert_eq!(o.deadline(), Some(DEFAULT_TRANSFER_TIMEOUT));
        assert_eq!(o.max_bytes_or(DEFAULT_READ_LIMIT), DEFAULT_READ_LIMIT);
        assert_eq!(o.max_entries_or_default(), DEFAULT_MAX_ENTRIES);
        assert_eq!(o.clone().no_timeout().deadline(), None);
        assert!(o
            .clone()
            .timeout(Duration::ZERO)
            .validate()
            .is_err_and(|e| matches!(
                e,
                Error::InvalidInput {
                    field: "timeout",
                    ..
                }
            )));
        assert!(o.validate().is_ok());
    }

    #[test]
    fn path_helpers() {
        assert_eq!(
            split_path("/a/b/"),
            Some(("/a".to_string(), "b".to_string()))
        );
        assert_eq!(split_path("/a"), Some(("/".to_string(), "a".to_string())));
        assert_eq!(
            split_path("/a//b"),
            Some(("/a".to_string(), "b".to_string()))
        );
        assert_eq!(split_path("/"), None);
        assert_eq!(split_path("//"), None);
        assert_eq!(
            resolve_link("/usr/bin/python3", "python3.11"),
            "/usr/bin/python3.11"
        );
        assert_eq!(resolve_link("/x", "y/z"), "/y/z");
        assert_eq!(resolve_link("/a/b", "../c"), "/a/../c");
        assert_eq!(resolve_link("/a/b", "/etc/x"), "/etc/x");
        assert_eq!(host_mode(0o4755), 0o755);
        assert_eq!(container_mode(0o6755), 0o755);
        assert_eq!(container_mode(0o1777), 0o1777);
    }

    #[test]
    fn prepare_argv_keeps_paths_out_of_the_script() {
        let evil = "/tmp/a b/'q'/$(touch /tmp/pwned)";
        let argv = prepare_command(evil, "/tmp/a b");
        assert_eq!(argv[..3], ["sh", "-c", PREPARE_SCRIPT]);
        assert_eq!(argv[4], evil);
        assert_eq!(argv[5], "/tmp/a b");
        assert!(!PREPARE_SCRIPT.contains("/tmp"));
        let l = list_command(evil);
        assert_eq!(l[4], evil);
    }

    #[test]
    fn podman_glob_escaping() {
        assert!(!has_glob_meta("/tmp/a b/$(x)/'q'"));
        for p in ["/a*b", "/a?", "/a[1]", "/x\\y"] {
            assert!(has_glob_meta(p), "{p}");
        }
        assert_eq!(escape_glob("/t/a[1]/b?/x\\y*"), "/t/a\\[1]/b\\?/x\\\\y*");
        assert_eq!(
            link_command("/a*b", "/tmp/l")[2..],
            ["--", "/a*b", "/tmp/l"]
        );
        assert_eq!(unlink_command("/tmp/l")[2..], ["--", "/tmp/l"]);
    }

    #[test]
    fn prepare_output() {
        let p = parse_prepare("/x", &exec(0, b"1000\n1000\nnone\n", ""));
        assert_eq!(
            p.ok(),
            Some(Prepared {
                uid: 1000,
                gid: 1000,
                kind: DestKind::Missing
            })
        );
        let table: &[(&[u8], DestKind)] = &[
            (b"0\n0\ndir\n", DestKind::Dir),
            (b"0\n0\nlink\n", DestKind::Link),
            (b"0\n0\nfile 755\n", DestKind::File { mode: Some(0o755) }),
            (b"0\n0\nfile \n", DestKind::File { mode: None }),
        ];
        for (out, kind) in table {
            assert_eq!(
                parse_prepare("/x", &exec(0, out, "")).map(|p| p.kind).ok(),
                Some(*kind)
            );
        }
        assert!(matches!(
            parse_prepare("/x", &exec(1, b"1000\n1000\n", "mkdir: Permission denied")),
            Err(Error::InvalidInput { field: "path", reason }) if reason.contains("Permission denied")
        ));
        assert!(parse_prepare("/x", &exec(0, b"abc\n", "")).is_err());
        let mut timed_out = exec(-1, b"", "");
        timed_out.timed_out = true;
        assert!(matches!(
            parse_prepare("/x", &timed_out),
            Err(Error::Timeout { .. })
        ));
    }

    #[test]
    fn list_output() {
        let r = exec(
            0,
            b"/tmp//b.txt\0/tmp//a b\0/tmp//.hidden\0/tmp//new\nline\0",
            "",
        );
        assert_eq!(
            parse_list("/tmp", &r).ok(),
            Some(vec![
                ".hidden".to_string(),
                "a b".to_string(),
                "b.txt".to_string(),
                "new\nline".to_string()
            ])
        );
        assert_eq!(parse_list("/e", &exec(0, b"", "")).ok(), Some(vec![]));
        assert!(matches!(
            parse_list("/f", &exec(3, b"", "")),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            parse_list("/no", &exec(4, b"", "")),
            Err(Error::PathNotFound(p)) if p == "/no"
        ));
        assert!(matches!(
            parse_list("/x", &exec(1, b"", "find: Permission denied")),
            Err(Error::InvalidInput { .. })
        ));
        let mut big = exec(0, b"/x/a\0", "");
        big.truncated = true;
        assert!(parse_list("/x", &big).is_err());
    }

    #[test]
    fn push_plans_follow_docker_cp() {
        let plan = |is_dir, name, contents, dest, kind| {
            plan_push(is_dir, name, contents, dest, kind).map(|p| (p.extract_dir, p.root_name))
        };
        let s = |v: &str| Some(v.to_string());
        // file
        assert_eq!(
            plan(false, "a.txt", false, "/home/sandbox", DestKind::Dir).ok(),
            Some(("/home/sandbox".into(), s("a.txt")))
        );
        assert_eq!(
            plan(false, "a.txt", false, "/tmp/new.txt", DestKind::Missing).ok(),
            Some(("/tmp".into(), s("new.txt")))
        );
        assert_eq!(
            plan(false, "a.txt", false, "/tmp/newdir/", DestKind::Missing).ok(),
            Some(("/tmp/newdir/".into(), s("a.txt")))
        );
        assert_eq!(
            plan(
                false,
                "a.txt",
                false,
                "/tmp/old.txt",
                DestKind::File { mode: None }
            )
            .ok(),
            Some(("/tmp".into(), s("old.txt")))
        );
        assert_eq!(
            plan(false, "a.txt", false, "/tmp/l", DestKind::Link).ok(),
            Some(("/tmp".into(), s("l")))
        );
        // directory
        assert_eq!(
            plan(true, "proj", false, "/work", DestKind::Dir).ok(),
            Some(("/work".into(), s("proj")))
        );
        assert_eq!(
            plan(true, "proj", false, "/work/copy", DestKind::Missing).ok(),
            Some(("/work".into(), s("copy")))
        );
        assert_eq!(
            plan(true, "proj", true, "/work", DestKind::Dir).ok(),
            Some(("/work".into(), None))
        );
        assert_eq!(
            plan(true, "proj", true, "/new", DestKind::Missing).ok(),
            Some(("/new".into(), None))
        );
        assert!(plan(true, "proj", false, "/f", DestKind::File { mode: None }).is_err());
        assert!(plan(true, "proj", false, "/l", DestKind::Link).is_err());
        assert!(plan(false, "a", false, "/", DestKind::File { mode: None }).is_err());
        assert!(plan(false, "a", false, "/x/..", DestKind::Missing).is_err());
        assert!(plan(false, "a", false, "rel", DestKind::Missing).is_err());
        assert_eq!(push_mkdir_target("/a/b/c", false), "/a/b");
        assert_eq!(push_mkdir_target("/a/b/", false), "/a/b/");
        assert_eq!(push_mkdir_target("/a/b", true), "/a/b");
        assert_eq!(push_mkdir_target("/a", false), "/");
    }

    #[test]
    fn pull_sources() {
        assert_eq!(pull_source("/tmp/x").ok(), Some((Some("x".into()), false)));
        assert_eq!(pull_source("/tmp/x/").ok(), Some((Some("x".into()), false)));
        assert_eq!(pull_source("/tmp/x/.").ok(), Some((None, true)));
        assert!(pull_source("/").is_err());
        assert!(pull_source("/.").is_err());
        assert!(pull_source("/tmp/..").is_err());
        assert!(pull_source("tmp").is_err());
    }

    #[test]
    fn single_file_at_every_split() {
        let a = tar(&[E::F("hello.txt", b"hello world")]);
        for step in [1, 7, 512, 513, 100_000] {
            let (acts, err) = run(&a, step, 1 << 20);
            assert!(err.is_none(), "{err:?}");
            assert_eq!(
                acts,
                vec![
                    ExtractAction::TopFile {
                        mode: 0o755,
                        mtime: 7,
                        size: 11
                    },
                    ExtractAction::Data(Bytes::from_static(b"hello world")),
                    ExtractAction::FileEnd,
                    ExtractAction::End
                ]
            );
        }
        // A second entry after a single file is refused.
        let (_, err) = run(&tar(&[E::F("a", b"1"), E::F("b", b"2")]), 512, 100);
        assert!(matches!(err, Some(Error::Archive(_))));
    }

    #[test]
    fn caps_are_checked_from_headers() {
        let a = tar(&[E::F("big", &[7u8; 2000])]);
        let (acts, err) = run(&a, 512, 1999);
        assert!(acts.is_empty());
        assert!(matches!(
            err,
            Some(Error::Protocol(ProtocolError::BodyTooLarge(1999)))
        ));
        let a = tar(&[
            E::D("d/"),
            E::F("d/a", &[1u8; 600]),
            E::F("d/b", &[1u8; 600]),
        ]);
        let (acts, err) = run(&a, 512, 1000);
        assert!(matches!(err, Some(Error::Protocol(_))));
        assert!(acts.contains(&ExtractAction::FileEnd));
        let mut x = Extractor::new(1 << 20, 2);
        x.feed(&a);
        let mut n = 0;
        let err = loop {
            match x.next_action() {
                Ok(Some(_)) => n += 1,
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        assert!(matches!(err, Some(Error::Archive(m)) if m.contains("more than 2")));
        assert!(n >= 2);
    }

    #[test]
    fn directory_entries_are_rebased_and_checked() {
        let a = tar(&[
            E::D("pulldir/"),
            E::D("pulldir/sub/"),
            E::F("pulldir/sub/x.txt", b"x"),
            E::S("pulldir/l", "sub/x.txt"),
            E::H("pulldir/h", "pulldir/sub/x.txt"),
        ]);
        let (acts, err) = run(&a, 100, 1 << 20);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            acts,
            vec![
                ExtractAction::TopDir {
                    mode: 0o755,
                    mtime: 7
                },
                ExtractAction::Dir {
                    path: "sub".into(),
                    mode: 0o755,
                    mtime: 7
                },
                ExtractAction::File {
                    path: "sub/x.txt".into(),
                    mode: 0o755,
                    mtime: 7,
                    size: 1
                },
                ExtractAction::Data(Bytes::from_static(b"x")),
                ExtractAction::FileEnd,
                ExtractAction::Symlink {
                    path: "l".into(),
                    target: "sub/x.txt".into()
                },
                ExtractAction::Hardlink {
                    path: "h".into(),
                    source: "sub/x.txt".into()
                },
                ExtractAction::End
            ]
        );
        // "./" as the top (a `dir/.` download).
        let (acts, err) = run(&tar(&[E::D("./"), E::F("./a", b"1")]), 512, 10);
        assert!(err.is_none());
        assert!(acts.contains(&ExtractAction::File {
            path: "a".into(),
            mode: 0o755,
            mtime: 7,
            size: 1
        }));
    }

    #[test]
    fn contents_of_a_directory_on_both_engines() {
        let run_contents = |archive: &[u8]| {
            let mut x = Extractor::contents(1 << 20, 100);
            x.feed(archive);
            x.finish();
            let mut out = Vec::new();
            loop {
                match x.next_action() {
                    Ok(Some(a)) => out.push(a),
                    Ok(None) => return Ok(out),
                    Err(e) => return Err(e),
                }
            }
        };
        let file_a = ExtractAction::File {
            path: "sub/a".into(),
            mode: 0o755,
            mtime: 7,
            size: 1,
        };
        // Docker: "./" first. Podman: the children, without a top entry.
        for a in [
            tar(&[E::D("./"), E::D("./sub/"), E::F("./sub/a", b"1")]),
            tar(&[E::D("sub"), E::F("sub/a", b"1")]),
            tar(&[E::F("sub/a", b"1")]),
        ] {
            let acts = run_contents(&a).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                matches!(acts.first(), Some(ExtractAction::TopDir { .. })),
                "{acts:?}"
            );
            assert!(acts.contains(&file_a), "{acts:?}");
            assert_eq!(acts.last(), Some(&ExtractAction::End));
        }
        // An empty directory may come as an empty archive.
        assert_eq!(
            run_contents(&END_OF_ARCHIVE).ok(),
            Some(vec![
                ExtractAction::TopDir {
                    mode: 0o755,
                    mtime: 0
                },
                ExtractAction::End
            ])
        );
        // Escapes are refused there too, also as the very first entry.
        for a in [
            tar(&[E::F("../x", b"1")]),
            tar(&[E::F("/abs", b"1")]),
            tar(&[E::S("l", "../..")]),
        ] {
            assert!(matches!(run_contents(&a), Err(Error::Archive(_))));
        }
    }

    #[test]
    fn write_file_archive_is_one_whole_entry() {
        assert_eq!(
            write_target("/a/b.txt").ok(),
            Some(("/a".to_string(), "b.txt".to_string()))
        );
        for bad in ["/", "/a/", "/a/..", "rel", "/a/."] {
            assert!(write_target(bad).is_err(), "{bad}");
        }
        let prep = |kind| Prepared {
            uid: 1000,
            gid: 1000,
            kind,
        };
        let data = vec![7u8; UPLOAD_CHUNK + 10];
        let (total, pieces) = write_file_archive("/a/b", "b", &data, &prep(DestKind::Missing), 0)
            .unwrap_or_else(|e| panic!("{e}"));
        let bytes: Vec<u8> = pieces.flat_map(|b| b.to_vec()).collect();
        assert_eq!(bytes.len() as u64, total);
        assert_eq!(total % 512, 0);
        let mut reader = TarReader::new();
        reader.feed(&bytes);
        let mut file = None;
        while let Some(ev) = reader.next_event().unwrap_or_else(|e| panic!("{e}")) {
            if let TarEvent::Entry(h) = ev {
                file = Some((h.path.clone(), h.mode, h.uid, h.size));
            }
        }
        assert_eq!(file, Some(("b".into(), 0o644, 1000, data.len() as u64)));
        let kept = write_file_archive(
            "/a/b",
            "b",
            b"x",
            &prep(DestKind::File { mode: Some(0o4755) }),
            0,
        );
        let (_, pieces) = kept.unwrap_or_else(|e| panic!("{e}"));
        let head: Vec<u8> = pieces.take(1).flat_map(|b| b.to_vec()).collect();
        assert_eq!(head.get(100..107), Some(&b"0000755"[..]), "setuid dropped");
        assert!(write_file_archive("/a/b", "b", b"x", &prep(DestKind::Dir), 0).is_err());
    }

    #[test]
    fn escapes_are_refused() {
        let cases: Vec<Vec<u8>> = vec![
            tar(&[E::D("d/"), E::F("d/../../x", b"1")]),
            tar(&[E::D("d/"), E::F("/abs/x", b"1")]),
            tar(&[E::D("d/"), E::F("other/x", b"1")]),
            tar(&[E::D("d/"), E::S("d/evil", "../../..")]),
            tar(&[E::D("d/"), E::S("d/evil", "..")]),
            tar(&[E::D("d/"), E::S("d/evil", "/etc")]),
            tar(&[E::D("d/"), E::S("d/e", "."), E::F("d/e/x", b"1")]),
            tar(&[E::D("d/"), E::H("d/h", "../../etc/passwd")]),
            tar(&[E::D("d/"), E::H("d/h", "/etc/passwd")]),
            tar(&[E::D("d/"), E::H("d/h", "e/x")]),
            tar(&[E::D("d/"), E::F("d", b"1")]),
            tar(&[E::F("../x", b"1")]),
            tar(&[E::F("a/b", b"1")]),
        ];
        for (i, a) in cases.iter().enumerate() {
            let (_, err) = run(a, 512, 1 << 20);
            assert!(matches!(err, Some(Error::Archive(_))), "case {i}: {err:?}");
        }
        let (_, err) = run(&[], 512, 10);
        assert!(matches!(err, Some(Error::Archive(_))));
    }

    #[test]
    fn top_symlink_and_other() {
        let (acts, _) = run(&tar(&[E::S("python3", "python3.11")]), 512, 10);
        assert_eq!(
            acts.first(),
            Some(&ExtractAction::TopSymlink {
                target: "python3.11".into()
            })
        );
    }
}

/// What one [`ExtractAction`] means for a `read_file` of a single file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRead {
    /// Keep feeding the extractor.
    Continue,
    /// The whole file.
    Done(Vec<u8>),
    /// The path is a symlink to this target: resolve it and read again.
    Link(String),
}

/// Collects the bytes of one file from the actions of an [`Extractor`], refusing anything that
/// is not a regular file (a directory, a device, ...). Shared by every adapter's `read_file`.
#[derive(Debug, Clone)]
pub struct FileReader {
    path: String,
    out: Vec<u8>,
}

impl FileReader {
    /// A reader for the container path `path` (named in errors).
    pub fn new(path: &str) -> Self {
        Self {
            path: path.to_string(),
            out: Vec::new(),
        }
    }

    /// Take the next action.
    pub fn take(&mut self, action: ExtractAction) -> Result<FileRead> {
        match action {
            ExtractAction::TopSymlink { target } => Ok(FileRead::Link(target)),
            ExtractAction::TopFile { size, .. } => {
                // The size is within the cap; reserving is only an optimisation.
                let _ = self
                    .out
                    .try_reserve_exact(usize::try_from(size).unwrap_or(0));
                Ok(FileRead::Continue)
            }
            ExtractAction::Data(d) => {
                self.out.extend_from_slice(&d);
                Ok(FileRead::Continue)
            }
            ExtractAction::FileEnd | ExtractAction::End => {
                Ok(FileRead::Done(std::mem::take(&mut self.out)))
            }
            ExtractAction::TopDir { .. } => Err(Error::invalid(
                "path",
                format!("{:?} is a directory, not a file", self.path),
            )),
            other => Err(Error::invalid(
                "path",
                format!("{:?} is not a regular file ({other:?})", self.path),
            )),
        }
    }

    /// The archive ended without the file's end: an error.
    pub fn ended_early() -> Error {
        Error::Archive("the archive ended before the file's data".into())
    }
}
