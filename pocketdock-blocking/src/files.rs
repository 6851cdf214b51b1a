//! Files in and out of a container: `write_file`, `read_file`, `list_files`, `push`, `pull`.
//!
//! Everything streams through the engine's archive endpoint: uploads are tar archives built on
//! the fly (one chunk in memory at a time), downloads are read by a push tar reader and written
//! to the host as they arrive. The flows (helper commands, plans, link hops, checks) are the
//! operations of [`pocketdock_proto::files`] and the host work is `pocketdock_host::tree`'s;
//! this file drives them.
//!
//! Host-side safety of `pull` (on top of the archive checks of
//! [`ExtractGuard`](pocketdock_proto::tar::ExtractGuard)): no existing symlink on the host is
//! ever followed below the target (every parent directory is checked with `lstat`; a symlink or
//! file in the way is an error), nothing is written through an existing file (it is removed and
//! created anew with `O_EXCL`), an existing directory is never replaced, and new targets are
//! built under a hidden temporary name next to the target and renamed into place at the end, so
//! a refused or failed pull leaves nothing behind.

use std::path::Path;

use pocketdock_proto::files::{
    check_path, helper_config, list_command, parse_list, PullOp, PutEvent, PutOp, ReadFileOp,
    TransferOptions, LIST_MAX_OUTPUT,
};
use pocketdock_proto::Result;
#[cfg(doc)]
use pocketdock_proto::{
    files::{DEFAULT_PULL_LIMIT, DEFAULT_READ_LIMIT, MAX_LINK_HOPS},
    Error,
};

use pocketdock_host::tree::{feed_put, unix_now, PullTarget, PushFeed};

use crate::container::Container;
use crate::engine::nonce;

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
    /// Nothing runs in the container: what is at `path` comes from the engine's path stat (or,
    /// when the in-sandbox agent is up, from its `lstat`, which saves the engine's round trip;
    /// the engine's when the agent cannot say), and missing parents are directory entries of
    /// the uploaded archive (`0755`). The file and the parents belong to the default user (its uid and gid, learned on the first upload of this
    /// handle from the container's configuration and `/etc/passwd`, or with `id` when those
    /// cannot say, and kept, are set in the tar headers); an existing file keeps its
    /// permission bits (setuid/setgid dropped), a new one gets `0644`. A directory at `path`,
    /// a file in the way of its parents, and a read-only destination are
    /// [`Error::InvalidInput`]. The bytes stream through a one-entry tar, one chunk at a time.
    pub fn write_file_with(
        &self,
        path: &str,
        content: impl AsRef<[u8]>,
        opts: &TransferOptions,
    ) -> Result<()> {
        let op = PutOp::write(&self.id, path, content.as_ref(), opts, unix_now(), &nonce())?;
        self.put(op, None, opts)
    }

    /// Drive an upload: the default user kept from an earlier one, the agent's stats when it
    /// is up, and the host work of every other event (`feed`: a push's source).
    fn put(
        &self,
        op: PutOp<'_>,
        mut feed: Option<&mut PushFeed>,
        opts: &TransferOptions,
    ) -> Result<()> {
        let op = op
            .known_owner(self.owner.get().copied())
            .stats_from_caller(self.stats_through_agent());
        self.engine.drive_fed(op, |e, op| match e {
            PutEvent::Stat { path } => op.stat_answer(self.agent_stat(&path)),
            e => feed_put(feed.as_deref_mut(), e, op, opts, &self.owner),
        })
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
        let op = ReadFileOp::new(&self.id, path, opts, &nonce())?;
        self.engine.drive(op, |()| {})
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
        let config = helper_config(&self.id, list_command(path), LIST_MAX_OUTPUT, &nonce())?;
        parse_list(path, &self.engine.exec(config, |_| {})?)
    }

    /// Copy the host file or directory `src` into the container at `dest` (absolute). See
    /// [`push_with`](Self::push_with).
    pub fn push(&self, src: impl AsRef<Path>, dest: &str) -> Result<()> {
        self.push_with(src, dest, &TransferOptions::default())
    }

    /// Copy the host file or directory `src` into the container at `dest`, with `docker cp`
    /// semantics: when `dest` is an existing directory, `src` is copied into it under its own
    /// name; otherwise `dest` is the new path (its missing parents are created from the archive,
    /// owned by the default user; a `dest` ending with `/` is created as a directory). A source given as `dir/.` copies the
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
        let mut feed = PushFeed::open(src.as_ref())?;
        let op = PutOp::push(&self.id, dest, feed.kind(), opts, unix_now(), &nonce())?;
        self.put(op, Some(&mut feed), opts)
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
        let op = PullOp::new(&self.id, src, opts, &nonce())?;
        let mut target = PullTarget::new(dest.as_ref(), op.name(), op.contents());
        let result = self
            .engine
            .drive_fed(op, |e, op| target.handle(e, op, opts));
        target.finish(result)
    }
}
