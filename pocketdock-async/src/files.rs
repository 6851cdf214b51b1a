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

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use bytes::Bytes;
use pocketdock_proto::api::archive;
use pocketdock_proto::api::system::EngineKind;
use pocketdock_proto::files::{
    self, check_path, plan_push, pull_source, push_mkdir_target, resolve_link, write_file_archive,
    write_target, ExtractAction, Extractor, FileRead, FileReader, Prepared, TransferOptions,
    DEFAULT_PULL_LIMIT, DEFAULT_READ_LIMIT, HELPER_TIMEOUT, LIST_MAX_OUTPUT, MAX_LINK_HOPS,
    PREPARE_MAX_OUTPUT,
};
use pocketdock_proto::http::Response;
use pocketdock_proto::op::{DownloadOp, TransferEvent, UploadOp};
use pocketdock_proto::{Command, Error, ExecResult, Result, RunOptions};

use pocketdock_host::host_error;
use pocketdock_host::tree as host;

use host::{source_name, too_many_links, unix_now, DirSink, Fetched, FileSink, PushSource, Sink};

use crate::container::Container;
use crate::driver::{Driver, Progress};
use crate::engine::nonce;
use crate::runtime::Runtime;

impl<R: Runtime> Container<R> {
    /// Write `content` to the file `path` in the container (absolute), creating its parent
    /// directories. See [`write_file_with`](Self::write_file_with).
    ///
    /// ```no_run
    /// # async fn demo(c: pocketdock_async::Container<impl pocketdock_async::Runtime>) -> pocketdock_async::Result<()> {
    /// c.write_file("/home/sandbox/notes/hello.txt", "hello").await?;
    /// assert_eq!(c.read_file("/home/sandbox/notes/hello.txt").await?, b"hello");
    /// # Ok(()) }
    /// ```
    pub async fn write_file(&self, path: &str, content: impl AsRef<[u8]>) -> Result<()> {
        self.write_file_with(path, content, &TransferOptions::default())
            .await
    }

    /// Write `content` to the file `path` (absolute) with explicit options (only the deadline
    /// applies).
    ///
    /// The parents are created with `mkdir -p` run as the container's default user (so that
    /// user must be allowed to create them). The file belongs to the default user (its uid and
    /// gid, read with `id`, are set in the tar header); an existing file keeps its permission
    /// bits (setuid/setgid dropped), a new one gets `0644`. A directory at `path` is
    /// [`Error::InvalidInput`]. The bytes stream through a one-entry tar, one chunk at a time.
    pub async fn write_file_with(
        &self,
        path: &str,
        content: impl AsRef<[u8]>,
        opts: &TransferOptions,
    ) -> Result<()> {
        opts.validate()?;
        let (parent, name) = write_target(path)?;
        let prep = self.prepare(path, &parent).await?;
        let (total, mut pieces) =
            write_file_archive(path, &name, content.as_ref(), &prep, unix_now())?;
        self.upload(&parent, Some(total), opts, || Ok(pieces.next()))
            .await
    }

    /// The content of the file `path` (absolute), at most 64 MiB
    /// ([`DEFAULT_READ_LIMIT`]). See [`read_file_with`](Self::read_file_with).
    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        self.read_file_with(path, &TransferOptions::default()).await
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
    pub async fn read_file_with(&self, path: &str, opts: &TransferOptions) -> Result<Vec<u8>> {
        opts.validate()?;
        check_path("path", path)?;
        let cap = opts.max_bytes_or(DEFAULT_READ_LIMIT);
        let mut path = path.to_string();
        for _ in 0..=MAX_LINK_HOPS {
            let (get, link) = self.get_path(&path, false).await?;
            let fetched = self.read_once(&path, &get, cap, opts).await;
            let fetched = self.after_get(&path, link, fetched).await?;
            match fetched {
                Fetched::Done(data) => return Ok(data),
                Fetched::Link(target) => path = resolve_link(&path, &target),
            }
        }
        Err(too_many_links(&path))
    }

    /// One download of the file `path` (requested as `get`).
    async fn read_once(
        &self,
        path: &str,
        get: &str,
        cap: u64,
        opts: &TransferOptions,
    ) -> Result<Fetched<Vec<u8>>> {
        let mut ex = Extractor::new(cap, u64::MAX);
        let mut drv = self.download(get, opts);
        let mut reader = FileReader::new(path);
        loop {
            let finished = match drv.advance().await {
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
                match reader.take(action)? {
                    FileRead::Continue => {}
                    FileRead::Done(data) => return Ok(Fetched::Done(data)),
                    FileRead::Link(target) => return Ok(Fetched::Link(target)),
                }
            }
            if finished {
                return Err(FileReader::ended_early());
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
    pub async fn list_files(&self, path: &str) -> Result<Vec<String>> {
        check_path("path", path)?;
        let r = self
            .helper(files::list_command(path), LIST_MAX_OUTPUT)
            .await?;
        files::parse_list(path, &r)
    }

    /// Copy the host file or directory `src` into the container at `dest` (absolute). See
    /// [`push_with`](Self::push_with).
    pub async fn push(&self, src: impl AsRef<Path>, dest: &str) -> Result<()> {
        self.push_with(src, dest, &TransferOptions::default()).await
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
    pub async fn push_with(
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
        let prep = self
            .prepare(dest, &push_mkdir_target(dest, contents))
            .await?;
        let plan = plan_push(meta.is_dir(), &name, contents, dest, prep.kind)?;
        let mut source = PushSource::new(src, plan.root_name, &prep)?;
        self.upload(&plan.extract_dir, None, opts, || source.next_chunk())
            .await
    }

    /// Copy the container path `src` (absolute) to the host path `dest`. See
    /// [`pull_with`](Self::pull_with).
    pub async fn pull(&self, src: &str, dest: impl AsRef<Path>) -> Result<()> {
        self.pull_with(src, dest, &TransferOptions::default()).await
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
    pub async fn pull_with(
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
            let (get, link) = self.get_path(&path, contents).await?;
            let fetched = self
                .pull_once(&path, &get, name.as_deref(), contents, dest, opts)
                .await;
            let fetched = self.after_get(&path, link, fetched).await?;
            match fetched {
                Fetched::Done(()) => return Ok(()),
                Fetched::Link(target) => path = resolve_link(&path, &target),
            }
        }
        Err(too_many_links(&path))
    }

    /// One download of `path` (requested as `get`) into `dest`.
    async fn pull_once(
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
        let mut received = 0u64;
        let result = 'outer: loop {
            let finished = match drv.advance().await {
                Progress::Event(TransferEvent::Data(d)) => {
                    ex.feed(&d);
                    received += d.len() as u64;
                    opts.report(received);
                    false
                }
                Progress::Event(TransferEvent::NeedBody) => false,
                Progress::Done(Err(e)) => break Err(e),
                Progress::Done(Ok(_)) => {
                    ex.finish();
                    true
                }
            };
            loop {
                let action = match ex.next_action() {
                    Ok(Some(action)) => action,
                    Ok(None) => break,
                    Err(e) => break 'outer Err(e),
                };
                let applied = match action {
                    ExtractAction::TopSymlink { target } => break 'outer Ok(Fetched::Link(target)),
                    ExtractAction::TopOther { kind } => Err(Error::invalid(
                        "src",
                        format!("{path:?} is not a file, directory or symlink ({kind:?})"),
                    )),
                    ExtractAction::TopFile { mode, mtime, .. } => {
                        FileSink::new(dest, name, mode, mtime).map(|s| sink = Some(Sink::File(s)))
                    }
                    ExtractAction::TopDir { mode, mtime } => {
                        DirSink::new(dest, name, contents, mode, mtime)
                            .map(|s| sink = Some(Sink::Dir(s)))
                    }
                    ExtractAction::End => {
                        let committed = sink.take().map_or(Ok(()), Sink::commit);
                        break 'outer committed.map(|()| Fetched::Done(()));
                    }
                    other => match sink.as_mut() {
                        Some(s) => s.apply(other),
                        None => Err(Error::Archive("entry before the top entry".into())),
                    },
                };
                if let Err(e) = applied {
                    break 'outer Err(e);
                }
            }
            if finished {
                break Err(Error::Archive("the archive ended early".into()));
            }
        };
        if result.is_err() {
            if let Some(s) = sink {
                s.abort();
            }
        }
        result
    }

    /// The path to request from the archive endpoint for `path`, and a temporary link to
    /// remove afterwards ([`after_get`](Self::after_get)). Docker takes the path literally;
    /// Podman 4.3 reads it as a glob pattern, so there `\\`, `?` and `[` are escaped, and a path
    /// with `*` (which Podman cannot serve at all) is reached through a temporary symlink in
    /// `/tmp` (Podman follows a symlink given as the path).
    async fn get_path(&self, path: &str, contents: bool) -> Result<(String, Option<String>)> {
        if !files::has_glob_meta(path) || self.engine.kind().await? != EngineKind::Podman {
            return Ok((path.to_string(), None));
        }
        if !path.contains('*') {
            return Ok((files::escape_glob(path), None));
        }
        let target = if contents {
            path.trim_end_matches('/')
                .strip_suffix("/.")
                .unwrap_or(path)
        } else {
            path
        };
        let link = format!("/tmp/.pocketdock-link-{}", nonce());
        let r = self
            .helper(files::link_command(target, &link), PREPARE_MAX_OUTPUT)
            .await?;
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
        Ok((get, Some(link)))
    }

    /// After a download: remove the temporary link, and name `path` in a not-found error.
    async fn after_get<T>(&self, path: &str, link: Option<String>, r: Result<T>) -> Result<T> {
        if let Some(link) = link {
            let _ = self
                .helper(files::unlink_command(&link), PREPARE_MAX_OUTPUT)
                .await;
        }
        r.map_err(|e| match e {
            Error::PathNotFound(_) => Error::PathNotFound(path.to_string()),
            e => e,
        })
    }

    /// Run a helper argv as the default user, without logging it.
    async fn helper(&self, argv: Vec<String>, max_output: usize) -> Result<ExecResult> {
        let opts = RunOptions::new()
            .timeout(HELPER_TIMEOUT)
            .max_output(max_output);
        let config =
            opts.exec_config(&self.id, &Command::from(argv), None, &nonce(), true, false)?;
        self.engine.exec(config, |_| {}).await
    }

    /// Uid, gid and what is at `path`; `mkdir -p` of `mkdir_if_missing` when nothing is.
    async fn prepare(&self, path: &str, mkdir_if_missing: &str) -> Result<Prepared> {
        let r = self
            .helper(
                files::prepare_command(path, mkdir_if_missing),
                PREPARE_MAX_OUTPUT,
            )
            .await?;
        files::parse_prepare(path, &r)
    }

    /// A download of the archive of `path`.
    fn download(&self, path: &str, opts: &TransferOptions) -> Driver<DownloadOp, R> {
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
    async fn upload(
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
        let mut drv = Driver::<_, R>::new(op, self.engine.socket());
        let mut sent = 0u64;
        loop {
            match drv.advance().await {
                Progress::Event(TransferEvent::NeedBody) => match next()? {
                    Some(b) => {
                        sent += b.len() as u64;
                        drv.op_mut().push_body(b);
                        opts.report(sent);
                    }
                    None => drv.op_mut().finish_body(),
                },
                Progress::Event(TransferEvent::Data(_)) => {}
                Progress::Done(r) => return r.map(drop),
            }
        }
    }
}
