//! Files in and out of a container: `write_file`, `read_file`, `list_files`, `push`, `pull`.
//!
//! Everything streams through the engine's archive endpoint: uploads are tar archives built on
//! the fly (one chunk in memory at a time), downloads are read by a push tar reader and written
//! to the host as they arrive. The decisions (paths, plans, checks) live in
//! [`pocketdock_proto::files`]; this file performs the I/O.
//!
//! Host-side safety of `pull` (on top of the archive checks of
//! [`ExtractGuard`](pocketdock_proto::tar::ExtractGuard)): no existing symlink on the host is
//! ever followed below the target (every parent directory is checked with `lstat`; a symlink or
//! file in the way is an error), nothing is written through an existing file (it is removed and
//! created anew with `O_EXCL`), an existing directory is never replaced, and new targets are
//! built under a hidden temporary name next to the target and renamed into place at the end, so
//! a refused or failed pull leaves nothing behind.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, FileTimes, OpenOptions, Permissions};
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use pocketdock_proto::api::archive;
use pocketdock_proto::api::system::EngineKind;
use pocketdock_proto::files::{
    self, check_path, container_mode, plan_push, pull_source, push_mkdir_target, resolve_link,
    split_path, DestKind, ExtractAction, Extractor, Prepared, TransferOptions, DEFAULT_PULL_LIMIT,
    DEFAULT_READ_LIMIT, HELPER_TIMEOUT, LIST_MAX_OUTPUT, MAX_LINK_HOPS, PREPARE_MAX_OUTPUT,
    UPLOAD_CHUNK,
};
use pocketdock_proto::op::{DownloadOp, Response, TransferEvent, UploadOp};
use pocketdock_proto::tar::{
    header_for_dir, header_for_file, header_for_symlink, padding, EntryMeta, END_OF_ARCHIVE,
};
use pocketdock_proto::{Command, Error, ExecResult, Result, RunOptions};

use crate::container::Container;
use crate::driver::{Driver, Progress};
use crate::engine::nonce;

fn host_error(path: &Path, e: &io::Error) -> Error {
    Error::HostPath {
        path: path.display().to_string(),
        detail: if e.kind() == ErrorKind::NotFound {
            "does not exist".to_string()
        } else {
            e.to_string()
        },
    }
}

fn host_refusal(path: &Path, detail: impl Into<String>) -> Error {
    Error::HostPath {
        path: path.display().to_string(),
        detail: detail.into(),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Container {
    /// Write `content` to the file `path` in the container (absolute), creating its parent
    /// directories. See [`write_file_with`](Self::write_file_with).
    ///
    /// ```no_run
    /// # fn main() -> pocketdock_blocking::Result<()> {
    /// # let c = pocketdock_blocking::create_new_container(Default::default())?;
    /// c.write_file("/home/sandbox/notes/hello.txt", "hello")?;
    /// assert_eq!(c.read_file("/home/sandbox/notes/hello.txt")?, b"hello");
    /// # Ok(()) }
    /// ```
    pub fn write_file(&self, path: &str, content: impl AsRef<[u8]>) -> Result<()> {
        self.write_file_with(path, content, &TransferOptions::default())
    }

    /// Write `content` to the file `path` (absolute) with explicit options (only the deadline
    /// applies).
    ///
    /// The parents are created with `mkdir -p` run as the container's default user (so that
    /// user must be allowed to create them). The file belongs to the default user (its uid and
    /// gid, read with `id`, are set in the tar header); an existing file keeps its permission
    /// bits (setuid/setgid dropped), a new one gets `0644`. A directory at `path` is
    /// [`Error::InvalidInput`]. The bytes stream through a one-entry tar, one chunk at a time.
    pub fn write_file_with(
        &self,
        path: &str,
        content: impl AsRef<[u8]>,
        opts: &TransferOptions,
    ) -> Result<()> {
        opts.validate()?;
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
        let prep = self.prepare(path, &parent)?;
        let mode = match prep.kind {
            DestKind::Dir => {
                return Err(Error::invalid("path", format!("{path:?} is a directory")))
            }
            DestKind::File { mode: Some(m) } => container_mode(m),
            _ => 0o644,
        };
        let data = content.as_ref();
        let meta = EntryMeta {
            mode,
            mtime: unix_now(),
            uid: prep.uid,
            gid: prep.gid,
            uname: String::new(),
            gname: String::new(),
        };
        let size = data.len() as u64;
        let header = header_for_file(&name, size, &meta)?;
        let mut tail = padding(size).to_vec();
        tail.extend_from_slice(&END_OF_ARCHIVE);
        let total = (header.len() + data.len() + tail.len()) as u64;
        let mut pieces = std::iter::once(Bytes::from(header))
            .chain(data.chunks(UPLOAD_CHUNK).map(Bytes::copy_from_slice))
            .chain(std::iter::once(Bytes::from(tail)));
        self.upload(&parent, Some(total), opts, || Ok(pieces.next()))
    }

    /// The content of the file `path` (absolute), at most 64 MiB
    /// ([`DEFAULT_READ_LIMIT`]). See [`read_file_with`](Self::read_file_with).
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        self.read_file_with(path, &TransferOptions::default())
    }

    /// The content of the file `path` (absolute), with a cap (`opts.max_bytes`, default
    /// [`DEFAULT_READ_LIMIT`]) and a deadline.
    ///
    /// A symlink is followed (up to [`MAX_LINK_HOPS`]). Errors: a missing path is
    /// [`Error::PathNotFound`]; a directory (or a device, FIFO, ...) is [`Error::InvalidInput`];
    /// a file larger than the cap is [`ProtocolError::BodyTooLarge`] before any of it is read
    /// (the client never holds more than the cap).
    ///
    /// [`ProtocolError::BodyTooLarge`]: pocketdock_proto::ProtocolError::BodyTooLarge
    pub fn read_file_with(&self, path: &str, opts: &TransferOptions) -> Result<Vec<u8>> {
        opts.validate()?;
        check_path("path", path)?;
        let cap = opts.max_bytes_or(DEFAULT_READ_LIMIT);
        let mut path = path.to_string();
        for _ in 0..=MAX_LINK_HOPS {
            let fetched =
                self.with_get_path(&path, false, |get| self.read_once(&path, get, cap, opts))?;
            match fetched {
                Fetched::Done(data) => return Ok(data),
                Fetched::Link(target) => path = resolve_link(&path, &target),
            }
        }
        Err(too_many_links(&path))
    }

    /// One download of the file `path` (requested as `get`).
    fn read_once(
        &self,
        path: &str,
        get: &str,
        cap: u64,
        opts: &TransferOptions,
    ) -> Result<Fetched<Vec<u8>>> {
        let mut ex = Extractor::new(cap, u64::MAX);
        let mut drv = self.download(get, opts);
        let mut out = Vec::new();
        loop {
            let finished = match drv.advance() {
                Progress::Event(TransferEvent::Data(d)) => {
                    ex.feed(&d);
                    false
                }
                Progress::Event(TransferEvent::NeedBody) => false,
                Progress::Done(r) => {
                    r?;
                    ex.finish();
                    true
                }
            };
            while let Some(action) = ex.next_action()? {
                match action {
                    ExtractAction::TopSymlink { target } => return Ok(Fetched::Link(target)),
                    ExtractAction::TopFile { size, .. } => {
                        // The size is within the cap; reserving is only an optimisation.
                        let _ = out.try_reserve_exact(usize::try_from(size).unwrap_or(0));
                    }
                    ExtractAction::Data(d) => out.extend_from_slice(&d),
                    ExtractAction::FileEnd | ExtractAction::End => return Ok(Fetched::Done(out)),
                    ExtractAction::TopDir { .. } => {
                        return Err(Error::invalid(
                            "path",
                            format!("{path:?} is a directory, not a file"),
                        ))
                    }
                    other => {
                        return Err(Error::invalid(
                            "path",
                            format!("{path:?} is not a regular file ({other:?})"),
                        ))
                    }
                }
            }
            if finished {
                return Err(Error::Archive(
                    "the archive ended before the file's data".into(),
                ));
            }
        }
    }

    /// The names in the directory `path` (absolute): hidden ones included, without `.` and
    /// `..`, sorted bytewise (names that are not UTF-8 are converted lossily).
    ///
    /// Runs `find` as the container's default user, with the path as an argument (never inside
    /// a shell string). A missing path is [`Error::PathNotFound`]; a path that is not a
    /// directory (e.g. a file) is [`Error::InvalidInput`], as is a directory the user may not
    /// read.
    pub fn list_files(&self, path: &str) -> Result<Vec<String>> {
        check_path("path", path)?;
        let r = self.helper(files::list_command(path), LIST_MAX_OUTPUT)?;
        files::parse_list(path, &r)
    }

    /// Copy the host file or directory `src` into the container at `dest` (absolute). See
    /// [`push_with`](Self::push_with).
    pub fn push(&self, src: impl AsRef<Path>, dest: &str) -> Result<()> {
        self.push_with(src, dest, &TransferOptions::default())
    }

    /// Copy the host file or directory `src` into the container at `dest`, with `docker cp`
    /// semantics: when `dest` is an existing directory, `src` is copied into it under its own
    /// name; otherwise `dest` is the new path (its parents are created as the default user; a
    /// `dest` ending with `/` is created as a directory). A source given as `dir/.` copies the
    /// directory's contents. A file replaces an existing file; a directory onto a file is
    /// [`Error::InvalidInput`].
    ///
    /// The archive is built while it uploads, file by file, one chunk in memory at a time.
    /// Permission bits are kept (setuid/setgid dropped), symlinks stay symlinks (their targets
    /// as they are), hard links become separate files, sockets, FIFOs and devices are skipped,
    /// and everything belongs to the container's default user. A top-level `src` symlink is
    /// followed. A missing `src` is [`Error::HostPath`]. If a host file cannot be read midway,
    /// the upload is cut and what the engine extracted so far stays in the container.
    pub fn push_with(
        &self,
        src: impl AsRef<Path>,
        dest: &str,
        opts: &TransferOptions,
    ) -> Result<()> {
        opts.validate()?;
        check_path("dest", dest)?;
        let src = src.as_ref();
        let meta = fs::metadata(src).map_err(|e| host_error(src, &e))?;
        let raw = src.as_os_str().as_bytes();
        let contents = meta.is_dir() && (raw == b"." || raw.ends_with(b"/."));
        let name = if contents {
            String::new()
        } else {
            source_name(src)?
        };
        let prep = self.prepare(dest, &push_mkdir_target(dest, contents))?;
        let plan = plan_push(meta.is_dir(), &name, contents, dest, prep.kind)?;
        let mut source = PushSource::new(src, plan.root_name, &prep)?;
        self.upload(&plan.extract_dir, None, opts, || source.next_chunk())
    }

    /// Copy the container path `src` (absolute) to the host path `dest`. See
    /// [`pull_with`](Self::pull_with).
    pub fn pull(&self, src: &str, dest: impl AsRef<Path>) -> Result<()> {
        self.pull_with(src, dest, &TransferOptions::default())
    }

    /// Copy the container path `src` to the host path `dest`, streamed, with `docker cp`
    /// semantics: a file goes to `dest` (replacing a file there) or into `dest` when it is an
    /// existing directory; a directory becomes `dest` when `dest` does not exist, or goes into
    /// it under its own name when it does (merging with a directory of that name). `src` ending
    /// with `/.` copies a directory's contents into `dest`. Missing parents of `dest` are
    /// created; a `dest` ending with `/` is a directory. A top-level `src` symlink is followed.
    ///
    /// Safety: entries with `..` or absolute paths, symlinks pointing outside, hard links to
    /// anything but an earlier file of the same archive, and anything that would go through a
    /// symlink are refused ([`Error::Archive`]); nothing is written outside the target, no
    /// existing symlink on the host is followed, and setuid/setgid bits are dropped. File data
    /// is capped (`opts.max_bytes`, default [`DEFAULT_PULL_LIMIT`]; exceeding it is
    /// [`ProtocolError::BodyTooLarge`]) and so is the number of entries.
    ///
    /// On error: a new target (file or directory) was being built under a temporary name and
    /// is removed, so nothing is left; when merging into an existing directory, the entries
    /// extracted before the error stay.
    ///
    /// [`ProtocolError::BodyTooLarge`]: pocketdock_proto::ProtocolError::BodyTooLarge
    pub fn pull_with(
        &self,
        src: &str,
        dest: impl AsRef<Path>,
        opts: &TransferOptions,
    ) -> Result<()> {
        opts.validate()?;
        let (name, contents) = pull_source(src)?;
        let dest = dest.as_ref();
        let mut path = src.to_string();
        for _ in 0..=MAX_LINK_HOPS {
            let fetched = self.with_get_path(&path, contents, |get| {
                self.pull_once(&path, get, name.as_deref(), contents, dest, opts)
            })?;
            match fetched {
                Fetched::Done(()) => return Ok(()),
                Fetched::Link(target) => path = resolve_link(&path, &target),
            }
        }
        Err(too_many_links(&path))
    }

    /// One download of `path` (requested as `get`) into `dest`.
    fn pull_once(
        &self,
        path: &str,
        get: &str,
        name: Option<&str>,
        contents: bool,
        dest: &Path,
        opts: &TransferOptions,
    ) -> Result<Fetched<()>> {
        let (max_bytes, max_entries) = (
            opts.max_bytes_or(DEFAULT_PULL_LIMIT),
            opts.max_entries_or_default(),
        );
        let mut ex = if contents {
            Extractor::contents(max_bytes, max_entries)
        } else {
            Extractor::new(max_bytes, max_entries)
        };
        let mut drv = self.download(get, opts);
        let mut sink: Option<Sink> = None;
        let mut step = || -> Result<Option<Fetched<()>>> {
            let finished = match drv.advance() {
                Progress::Event(TransferEvent::Data(d)) => {
                    ex.feed(&d);
                    false
                }
                Progress::Event(TransferEvent::NeedBody) => false,
                Progress::Done(r) => {
                    r?;
                    ex.finish();
                    true
                }
            };
            while let Some(action) = ex.next_action()? {
                match action {
                    ExtractAction::TopSymlink { target } => return Ok(Some(Fetched::Link(target))),
                    ExtractAction::TopOther { kind } => {
                        return Err(Error::invalid(
                            "src",
                            format!("{path:?} is not a file, directory or symlink ({kind:?})"),
                        ))
                    }
                    ExtractAction::TopFile { mode, mtime, .. } => {
                        sink = Some(Sink::File(FileSink::new(dest, name, mode, mtime)?));
                    }
                    ExtractAction::TopDir { mode, mtime } => {
                        sink = Some(Sink::Dir(DirSink::new(dest, name, contents, mode, mtime)?));
                    }
                    ExtractAction::End => {
                        if let Some(s) = sink.take() {
                            s.commit()?;
                        }
                        return Ok(Some(Fetched::Done(())));
                    }
                    other => match sink.as_mut() {
                        Some(s) => s.apply(other)?,
                        None => return Err(Error::Archive("entry before the top entry".into())),
                    },
                }
            }
            if finished {
                return Err(Error::Archive("the archive ended early".into()));
            }
            Ok(None)
        };
        let result = loop {
            match step() {
                Ok(None) => {}
                Ok(Some(outcome)) => break Ok(outcome),
                Err(e) => break Err(e),
            }
        };
        if result.is_err() {
            if let Some(s) = sink {
                s.abort();
            }
        }
        result
    }

    /// Call `f` with the path to request from the archive endpoint for `path`. Docker takes it
    /// literally; Podman 4.3 reads it as a glob pattern, so there `\\`, `?` and `[` are escaped,
    /// and a path with `*` (which Podman cannot serve at all) is reached through a temporary
    /// symlink in `/tmp` (Podman follows a symlink given as the path), removed afterwards. A
    /// not-found error names `path`.
    fn with_get_path<T>(
        &self,
        path: &str,
        contents: bool,
        f: impl FnOnce(&str) -> Result<T>,
    ) -> Result<T> {
        let named = |e: Error| match e {
            Error::PathNotFound(_) => Error::PathNotFound(path.to_string()),
            e => e,
        };
        if !files::has_glob_meta(path) || self.engine.kind()? != EngineKind::Podman {
            return f(path).map_err(named);
        }
        if !path.contains('*') {
            return f(&files::escape_glob(path)).map_err(named);
        }
        let target = if contents {
            path.trim_end_matches('/')
                .strip_suffix("/.")
                .unwrap_or(path)
        } else {
            path
        };
        let link = format!("/tmp/.pocketdock-link-{}", nonce());
        let r = self.helper(files::link_command(target, &link), PREPARE_MAX_OUTPUT)?;
        if r.exit_code != 0 {
            return Err(Error::invalid(
                "path",
                format!(
                    "Podman cannot read paths with '*' directly and the temporary symlink failed: {}",
                    r.stderr_str().trim()
                ),
            ));
        }
        let get = if contents {
            format!("{link}/.")
        } else {
            link.clone()
        };
        let result = f(&get).map_err(named);
        let _ = self.helper(files::unlink_command(&link), PREPARE_MAX_OUTPUT);
        result
    }

    /// Run a helper argv as the default user, without logging it.
    fn helper(&self, argv: Vec<String>, max_output: usize) -> Result<ExecResult> {
        let opts = RunOptions::new()
            .timeout(HELPER_TIMEOUT)
            .max_output(max_output);
        let config =
            opts.exec_config(&self.id, &Command::from(argv), None, &nonce(), true, false)?;
        self.engine.exec(config, |_| {})
    }

    /// Uid, gid and what is at `path`; `mkdir -p` of `mkdir_if_missing` when nothing is.
    fn prepare(&self, path: &str, mkdir_if_missing: &str) -> Result<Prepared> {
        let r = self.helper(
            files::prepare_command(path, mkdir_if_missing),
            PREPARE_MAX_OUTPUT,
        )?;
        files::parse_prepare(path, &r)
    }

    /// A download of the archive of `path`.
    fn download(&self, path: &str, opts: &TransferOptions) -> Driver<DownloadOp> {
        let (id, p) = (self.id.clone(), path.to_string());
        let op = DownloadOp::new(
            "get archive",
            &archive::get(&self.id, path),
            opts.deadline(),
            move |r: &Response| archive::check(r, "get archive", &id, &p),
        );
        Driver::new(op, self.engine.socket())
    }

    /// Upload a tar into the directory `dir`, body pieces from `next` (`None`: the end).
    fn upload(
        &self,
        dir: &str,
        length: Option<u64>,
        opts: &TransferOptions,
        mut next: impl FnMut() -> Result<Option<Bytes>>,
    ) -> Result<()> {
        let (id, d) = (self.id.clone(), dir.to_string());
        let op = UploadOp::new(
            "put archive",
            &archive::put(&self.id, dir, length),
            opts.deadline(),
            move |r: &Response| archive::check(r, "put archive", &id, &d),
        );
        let mut drv = Driver::new(op, self.engine.socket());
        loop {
            match drv.advance() {
                Progress::Event(TransferEvent::NeedBody) => match next()? {
                    Some(b) => drv.op_mut().push_body(b),
                    None => drv.op_mut().finish_body(),
                },
                Progress::Event(TransferEvent::Data(_)) => {}
                Progress::Done(r) => return r.map(drop),
            }
        }
    }
}

/// The result of one download: done, or the path was a symlink to this target.
enum Fetched<T> {
    Done(T),
    Link(String),
}

fn too_many_links(path: &str) -> Error {
    Error::invalid(
        "path",
        format!("more than {MAX_LINK_HOPS} symbolic links to follow at {path:?}"),
    )
}

/// The last component of a host source path (`..`, `.` resolved through the file system).
fn source_name(src: &Path) -> Result<String> {
    let name = match src.file_name() {
        Some(n) => n.to_os_string(),
        None => fs::canonicalize(src)
            .map_err(|e| host_error(src, &e))?
            .file_name()
            .map(std::ffi::OsStr::to_os_string)
            .ok_or_else(|| host_refusal(src, "has no name to copy under; use `DIR/.`"))?,
    };
    name.into_string()
        .map_err(|_| host_refusal(src, "its name is not valid UTF-8"))
}

/// A tar archive of a host file or tree, produced chunk by chunk while it uploads.
struct PushSource {
    /// Entries still to emit: host path, archive path, follow a symlink at this path.
    stack: Vec<(PathBuf, String, bool)>,
    file: Option<OpenFile>,
    uid: u64,
    gid: u64,
    ended: bool,
}

struct OpenFile {
    file: File,
    host: PathBuf,
    size: u64,
    remaining: u64,
}

impl PushSource {
    fn new(src: &Path, root_name: Option<String>, prep: &Prepared) -> Result<Self> {
        let mut s = Self {
            stack: Vec::new(),
            file: None,
            uid: prep.uid,
            gid: prep.gid,
            ended: false,
        };
        match root_name {
            Some(name) => s.stack.push((src.to_path_buf(), name, true)),
            None => s.push_children(src, "")?,
        }
        Ok(s)
    }

    /// Queue the entries of directory `dir` (archive path `prefix`), sorted by name.
    fn push_children(&mut self, dir: &Path, prefix: &str) -> Result<()> {
        let mut names: Vec<OsString> = fs::read_dir(dir)
            .map_err(|e| host_error(dir, &e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(|e| host_error(dir, &e))?;
        names.sort();
        for n in names.into_iter().rev() {
            let host = dir.join(&n);
            let n = n
                .into_string()
                .map_err(|_| host_refusal(&host, "its name is not valid UTF-8"))?;
            let archive_path = if prefix.is_empty() {
                n
            } else {
                format!("{prefix}/{n}")
            };
            self.stack.push((host, archive_path, false));
        }
        Ok(())
    }

    fn meta(&self, m: &fs::Metadata) -> EntryMeta {
        EntryMeta {
            mode: container_mode(m.mode()),
            mtime: u64::try_from(m.mtime()).unwrap_or(0),
            uid: self.uid,
            gid: self.gid,
            uname: String::new(),
            gname: String::new(),
        }
    }

    /// Append the header of one entry (and queue its contents).
    fn entry(&mut self, host: &Path, name: &str, follow: bool, buf: &mut BytesMut) -> Result<()> {
        let m = if follow {
            fs::metadata(host)
        } else {
            fs::symlink_metadata(host)
        }
        .map_err(|e| host_error(host, &e))?;
        let ft = m.file_type();
        if ft.is_dir() {
            buf.extend_from_slice(&header_for_dir(name, &self.meta(&m))?);
            self.push_children(host, name)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(host).map_err(|e| host_error(host, &e))?;
            let target = target
                .to_str()
                .ok_or_else(|| host_refusal(host, "its link target is not valid UTF-8"))?;
            buf.extend_from_slice(&header_for_symlink(name, target, &self.meta(&m))?);
        } else if ft.is_file() {
            let file = File::open(host).map_err(|e| host_error(host, &e))?;
            let m = file.metadata().map_err(|e| host_error(host, &e))?;
            if !m.is_file() {
                return Err(host_refusal(host, "changed while it was read"));
            }
            buf.extend_from_slice(&header_for_file(name, m.len(), &self.meta(&m))?);
            if m.len() > 0 {
                self.file = Some(OpenFile {
                    file,
                    host: host.to_path_buf(),
                    size: m.len(),
                    remaining: m.len(),
                });
            }
        }
        // Sockets, FIFOs and devices are skipped.
        Ok(())
    }

    /// Append data of the open file (up to the chunk size).
    fn fill(&mut self, buf: &mut BytesMut) -> Result<()> {
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        let room = UPLOAD_CHUNK.saturating_sub(buf.len()).max(BLOCK_MIN);
        let want = usize::try_from(f.remaining).unwrap_or(usize::MAX).min(room);
        let start = buf.len();
        buf.resize(start + want, 0);
        let mut got = 0;
        while got < want {
            let slot = buf.get_mut(start + got..start + want).unwrap_or_default();
            match f.file.read(slot) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(host_error(&f.host, &e)),
            }
        }
        buf.truncate(start + got);
        if got < want {
            return Err(host_refusal(&f.host, "shrank while it was read"));
        }
        f.remaining -= got as u64;
        if f.remaining == 0 {
            buf.extend_from_slice(padding(f.size));
            self.file = None;
        }
        Ok(())
    }

    /// The next piece of the archive; `None` after the end.
    fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        let mut buf = BytesMut::with_capacity(UPLOAD_CHUNK + 4096);
        while buf.len() < UPLOAD_CHUNK {
            if self.file.is_some() {
                self.fill(&mut buf)?;
            } else if let Some((host, name, follow)) = self.stack.pop() {
                self.entry(&host, &name, follow, &mut buf)?;
            } else {
                if !self.ended {
                    self.ended = true;
                    buf.extend_from_slice(&END_OF_ARCHIVE);
                }
                break;
            }
        }
        Ok((!buf.is_empty()).then(|| buf.freeze()))
    }
}

/// Smallest read from a file into a chunk that is almost full.
const BLOCK_MIN: usize = 4096;

/// Where a pull writes.
enum Sink {
    File(FileSink),
    Dir(DirSink),
}

impl Sink {
    fn apply(&mut self, action: ExtractAction) -> Result<()> {
        match self {
            Self::File(f) => f.apply(action),
            Self::Dir(d) => d.apply(action),
        }
    }

    fn commit(self) -> Result<()> {
        match self {
            Self::File(f) => f.commit(),
            Self::Dir(d) => d.commit(),
        }
    }

    fn abort(self) {
        match self {
            Self::File(f) => f.abort(),
            Self::Dir(d) => d.abort(),
        }
    }
}

/// A hidden sibling name for building `target` before renaming it into place.
fn temp_sibling(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = nonce();
    let tag = n.get(..12).unwrap_or(&n);
    target.with_file_name(format!(".{name}.pocketdock-{tag}.part"))
}

fn create_parents(dest: &Path) -> Result<()> {
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => {
            fs::create_dir_all(p).map_err(|e| host_error(p, &e))
        }
        _ => Ok(()),
    }
}

fn ends_with_slash(p: &Path) -> bool {
    p.as_os_str().as_bytes().ends_with(b"/")
}

/// A file being written: mode and mtime applied when its data is complete.
struct Writing {
    file: File,
    path: PathBuf,
    mode: u32,
    mtime: u64,
}

impl Writing {
    fn write(&mut self, data: &[u8]) -> Result<()> {
        self.file
            .write_all(data)
            .map_err(|e| host_error(&self.path, &e))
    }

    fn finish(self) -> Result<()> {
        let err = |e: io::Error| host_error(&self.path, &e);
        self.file
            .set_permissions(Permissions::from_mode(self.mode))
            .map_err(err)?;
        let _ = self
            .file
            .set_times(FileTimes::new().set_modified(UNIX_EPOCH + Duration::from_secs(self.mtime)));
        Ok(())
    }
}

/// Create a new file with `O_EXCL` (never through an existing path), private until finished.
fn create_new(path: &Path, mode: u32, mtime: u64) -> Result<Writing> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| host_error(path, &e))?;
    Ok(Writing {
        file,
        path: path.to_path_buf(),
        mode,
        mtime,
    })
}

/// A pulled single file: written under a temporary name, renamed over the target at the end.
struct FileSink {
    temp: PathBuf,
    target: PathBuf,
    writing: Option<Writing>,
}

impl FileSink {
    fn new(dest: &Path, name: Option<&str>, mode: u32, mtime: u64) -> Result<Self> {
        let into_dir = |dir: &Path| -> Result<PathBuf> {
            let n = name.ok_or_else(|| host_refusal(dir, "no name to copy the file under"))?;
            let t = dir.join(n);
            match fs::symlink_metadata(&t) {
                Ok(m) if m.is_dir() => Err(host_refusal(&t, "is a directory")),
                _ => Ok(t),
            }
        };
        let target = match fs::metadata(dest) {
            Ok(m) if m.is_dir() => into_dir(dest)?,
            Ok(_) => dest.to_path_buf(),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                if ends_with_slash(dest) {
                    fs::create_dir_all(dest).map_err(|e| host_error(dest, &e))?;
                    into_dir(dest)?
                } else {
                    create_parents(dest)?;
                    dest.to_path_buf()
                }
            }
            Err(e) => return Err(host_error(dest, &e)),
        };
        let temp = temp_sibling(&target);
        let writing = create_new(&temp, mode, mtime)?;
        Ok(Self {
            temp,
            target,
            writing: Some(writing),
        })
    }

    fn apply(&mut self, action: ExtractAction) -> Result<()> {
        match action {
            ExtractAction::Data(d) => match self.writing.as_mut() {
                Some(w) => w.write(&d),
                None => Err(Error::Archive("data after the end of the file".into())),
            },
            ExtractAction::FileEnd => match self.writing.take() {
                Some(w) => w.finish(),
                None => Ok(()),
            },
            other => Err(Error::Archive(format!(
                "unexpected entry in the archive of a file: {other:?}"
            ))),
        }
    }

    fn commit(mut self) -> Result<()> {
        if let Some(w) = self.writing.take() {
            w.finish()?;
        }
        // rename() replaces a file or symlink at the target without following it.
        if let Err(e) = fs::rename(&self.temp, &self.target) {
            let _ = fs::remove_file(&self.temp);
            return Err(host_error(&self.target, &e));
        }
        Ok(())
    }

    fn abort(self) {
        drop(self.writing);
        let _ = fs::remove_file(&self.temp);
    }
}

/// A pulled directory: extracted into `root` (a temporary sibling of a new target, or an
/// existing directory), with every parent checked to be a real directory.
struct DirSink {
    root: PathBuf,
    /// The new target the temporary root is renamed to at the end.
    rename_to: Option<PathBuf>,
    /// Mode and mtime for the root itself (not for a `dir/.` copy into an existing one).
    top: Option<(u32, u64)>,
    /// Relative directories known to be real directories.
    verified: HashSet<PathBuf>,
    /// Directories from the archive: modes and times applied at the end, deepest first.
    dirs: Vec<(PathBuf, u32, u64)>,
    writing: Option<Writing>,
}

impl DirSink {
    fn new(dest: &Path, name: Option<&str>, contents: bool, mode: u32, mtime: u64) -> Result<Self> {
        enum Target {
            New(PathBuf),
            InPlace(PathBuf),
        }
        let existing_dir = |dir: &Path| -> Result<Target> {
            if contents {
                return Ok(Target::InPlace(dir.to_path_buf()));
            }
            let n = name.ok_or_else(|| host_refusal(dir, "no name to copy the directory under"))?;
            let child = dir.join(n);
            match fs::symlink_metadata(&child) {
                Ok(m) if m.is_dir() => Ok(Target::InPlace(child)),
                Ok(_) => Err(host_refusal(&child, "exists and is not a directory")),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(Target::New(child)),
                Err(e) => Err(host_error(&child, &e)),
            }
        };
        let target = match fs::metadata(dest) {
            Ok(m) if m.is_dir() => existing_dir(dest)?,
            Ok(_) => return Err(host_refusal(dest, "exists and is not a directory")),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                if fs::symlink_metadata(dest).is_ok() {
                    return Err(host_refusal(dest, "is a dangling symbolic link"));
                }
                if ends_with_slash(dest) {
                    fs::create_dir_all(dest).map_err(|e| host_error(dest, &e))?;
                    existing_dir(dest)?
                } else {
                    create_parents(dest)?;
                    Target::New(dest.to_path_buf())
                }
            }
            Err(e) => return Err(host_error(dest, &e)),
        };
        let (root, rename_to) = match target {
            Target::New(t) => {
                let temp = temp_sibling(&t);
                DirBuilder::new()
                    .mode(0o700)
                    .create(&temp)
                    .map_err(|e| host_error(&temp, &e))?;
                (temp, Some(t))
            }
            Target::InPlace(t) => (t, None),
        };
        Ok(Self {
            root,
            rename_to,
            top: (!contents).then_some((mode, mtime)),
            verified: HashSet::new(),
            dirs: Vec::new(),
            writing: None,
        })
    }

    fn refuse(rel: &Path, why: &str) -> Error {
        Error::Archive(format!("refusing entry {:?}: {why}", rel.display()))
    }

    /// Make sure every parent of `rel` is a real directory, creating missing ones.
    fn ensure_parents(&mut self, rel: &Path, create: bool) -> Result<()> {
        let mut prefix = PathBuf::new();
        let parent = rel.parent().unwrap_or(Path::new(""));
        for c in parent.components() {
            prefix.push(c);
            if self.verified.contains(&prefix) {
                continue;
            }
            let full = self.root.join(&prefix);
            match fs::symlink_metadata(&full) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(Self::refuse(
                        rel,
                        &format!(
                            "{} is a symlink or file on the host, not a directory",
                            prefix.display()
                        ),
                    ))
                }
                Err(e) if e.kind() == ErrorKind::NotFound && create => DirBuilder::new()
                    .mode(0o755)
                    .create(&full)
                    .map_err(|e| host_error(&full, &e))?,
                Err(e) => return Err(host_error(&full, &e)),
            }
            self.verified.insert(prefix.clone());
        }
        Ok(())
    }

    /// Remove a file or symlink at `full`; a directory there is refused.
    fn clear(rel: &Path, full: &Path) -> Result<()> {
        match fs::symlink_metadata(full) {
            Ok(m) if m.is_dir() => Err(Self::refuse(rel, "it would replace a directory")),
            Ok(_) => fs::remove_file(full).map_err(|e| host_error(full, &e)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(host_error(full, &e)),
        }
    }

    fn apply(&mut self, action: ExtractAction) -> Result<()> {
        match action {
            ExtractAction::Dir { path, mode, mtime } => {
                self.ensure_parents(&path, true)?;
                let full = self.root.join(&path);
                match fs::symlink_metadata(&full) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        fs::remove_file(&full).map_err(|e| host_error(&full, &e))?;
                        DirBuilder::new()
                            .mode(0o700)
                            .create(&full)
                            .map_err(|e| host_error(&full, &e))?;
                    }
                    Err(e) if e.kind() == ErrorKind::NotFound => DirBuilder::new()
                        .mode(0o700)
                        .create(&full)
                        .map_err(|e| host_error(&full, &e))?,
                    Err(e) => return Err(host_error(&full, &e)),
                }
                self.verified.insert(path.clone());
                self.dirs.push((path, mode, mtime));
            }
            ExtractAction::File {
                path, mode, mtime, ..
            } => {
                self.ensure_parents(&path, true)?;
                let full = self.root.join(&path);
                Self::clear(&path, &full)?;
                self.writing = Some(create_new(&full, mode, mtime)?);
            }
            ExtractAction::Data(d) => match self.writing.as_mut() {
                Some(w) => w.write(&d)?,
                None => return Err(Error::Archive("data outside a file".into())),
            },
            ExtractAction::FileEnd => {
                if let Some(w) = self.writing.take() {
                    w.finish()?;
                }
            }
            ExtractAction::Symlink { path, target } => {
                self.ensure_parents(&path, true)?;
                let full = self.root.join(&path);
                Self::clear(&path, &full)?;
                std::os::unix::fs::symlink(&target, &full).map_err(|e| host_error(&full, &e))?;
            }
            ExtractAction::Hardlink { path, source } => {
                self.ensure_parents(&source, false)?;
                let src = self.root.join(&source);
                match fs::symlink_metadata(&src) {
                    Ok(m) if m.is_file() => {}
                    _ => {
                        return Err(Self::refuse(
                            &path,
                            "a hard link must point to a regular file of the archive",
                        ))
                    }
                }
                self.ensure_parents(&path, true)?;
                let full = self.root.join(&path);
                Self::clear(&path, &full)?;
                fs::hard_link(&src, &full).map_err(|e| host_error(&full, &e))?;
            }
            other => {
                return Err(Error::Archive(format!(
                    "unexpected action inside a directory: {other:?}"
                )))
            }
        }
        Ok(())
    }

    fn set_dir(full: &Path, mode: u32, mtime: u64) -> Result<()> {
        match fs::symlink_metadata(full) {
            Ok(m) if m.is_dir() => {}
            _ => return Ok(()),
        }
        if let Ok(f) = File::open(full) {
            let _ =
                f.set_times(FileTimes::new().set_modified(UNIX_EPOCH + Duration::from_secs(mtime)));
        }
        fs::set_permissions(full, Permissions::from_mode(mode)).map_err(|e| host_error(full, &e))
    }

    fn commit(mut self) -> Result<()> {
        let result = (|| -> Result<()> {
            if let Some(w) = self.writing.take() {
                w.finish()?;
            }
            for (rel, mode, mtime) in self.dirs.iter().rev() {
                Self::set_dir(&self.root.join(rel), *mode, *mtime)?;
            }
            if let Some((mode, mtime)) = self.top {
                Self::set_dir(&self.root, mode, mtime)?;
            }
            if let Some(to) = &self.rename_to {
                fs::rename(&self.root, to).map_err(|e| host_error(to, &e))?;
            }
            Ok(())
        })();
        if result.is_err() {
            self.abort();
        }
        result
    }

    fn abort(self) {
        drop(self.writing);
        if self.rename_to.is_some() {
            // Only the temporary directory this pull created; remove_dir_all never follows
            // symlinks.
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}
