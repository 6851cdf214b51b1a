//! The host side of `push` and `pull`: a tar archive of a host tree produced chunk by chunk
//! ([`PushSource`]), and the extraction of a pulled archive onto the host ([`Sink`]: a file
//! or a directory, built under a temporary name and renamed into place). Plain synchronous file
//! I/O with no engine call, the same in every adapter.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, FileTimes, OpenOptions, Permissions};
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use pocketdock_proto::files::{
    container_mode, under_prefix, ExtractAction, Owner, Prepared, PullEvent, PullOp, PutEvent,
    PutOp, TransferOptions, UPLOAD_CHUNK,
};
use pocketdock_proto::tar::{
    header_for_dir, header_for_file, header_for_symlink, padding, EntryMeta, END_OF_ARCHIVE,
};
use pocketdock_proto::{Error, Result};

use crate::random::nonce;
use crate::{host_error, host_refusal};

/// The current time in whole seconds since the Unix epoch (0 before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The result of one download: done, or the path was a symlink to this target.
pub enum Fetched<T> {
    /// The download finished with this value.
    Done(T),
    /// The path was a symbolic link to this target: follow it and download again.
    Link(String),
}

pub use pocketdock_proto::files::too_many_links;

/// The last component of a host source path (`..`, `.` resolved through the file system).
pub fn source_name(src: &Path) -> Result<String> {
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
pub struct PushSource {
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
    /// A source for the host file or directory `src`, its top entry named `root_name` (`None`:
    /// no top entry, the directory's contents), every entry under the relative archive path
    /// `under` (empty: at the top), owned by the default user of `prep`.
    pub fn new(
        src: &Path,
        root_name: Option<String>,
        under: &str,
        prep: &Prepared,
    ) -> Result<Self> {
        let mut s = Self {
            stack: Vec::new(),
            file: None,
            uid: prep.uid,
            gid: prep.gid,
            ended: false,
        };
        match root_name {
            Some(name) => s
                .stack
                .push((src.to_path_buf(), under_prefix(under, &name), true)),
            None => s.push_children(src, under)?,
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
            self.stack.push((host, under_prefix(prefix, &n), false));
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
    pub fn next_chunk(&mut self) -> Result<Option<Bytes>> {
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
pub enum Sink {
    /// A single file.
    File(FileSink),
    /// A directory tree.
    Dir(DirSink),
}

impl Sink {
    /// Carry out one action of the extractor (create a directory, write file data, ...).
    pub fn apply(&mut self, action: ExtractAction) -> Result<()> {
        match self {
            Self::File(f) => f.apply(action),
            Self::Dir(d) => d.apply(action),
        }
    }

    /// The archive ended well: move what was extracted into place.
    pub fn commit(self) -> Result<()> {
        match self {
            Self::File(f) => f.commit(),
            Self::Dir(d) => d.commit(),
        }
    }

    /// The pull failed: remove what was written under temporary names; the target is untouched.
    pub fn abort(self) {
        match self {
            Self::File(f) => f.abort(),
            Self::Dir(d) => d.abort(),
        }
    }
}

/// The host end of a push: what the source is (checked before anything runs in the
/// container), then its archive once the flow knows the top name and owner.
pub struct PushFeed {
    src: PathBuf,
    is_dir: bool,
    contents: bool,
    name: String,
    source: Option<PushSource>,
}

impl PushFeed {
    /// Look at the host source `src` (a top-level symlink is followed): a missing one is
    /// [`Error::HostPath`]. A directory given as `dir/.` stands for its contents.
    pub fn open(src: &Path) -> Result<Self> {
        let meta = fs::metadata(src).map_err(|e| host_error(src, &e))?;
        let raw = src.as_os_str().as_bytes();
        let contents = meta.is_dir() && (raw == b"." || raw.ends_with(b"/."));
        let name = if contents {
            String::new()
        } else {
            source_name(src)?
        };
        Ok(Self {
            src: src.to_path_buf(),
            is_dir: meta.is_dir(),
            contents,
            name,
            source: None,
        })
    }

    /// What the flow needs to plan the push: whether the source is a directory, its name, and
    /// whether its contents are copied.
    pub fn kind(&self) -> (bool, &str, bool) {
        (self.is_dir, &self.name, self.contents)
    }

    /// Start the archive: top entry `root_name`, under the archive path `under`, owned by the
    /// default user of `prep`.
    pub fn start(&mut self, root_name: Option<String>, under: &str, prep: &Prepared) -> Result<()> {
        self.source = Some(PushSource::new(&self.src, root_name, under, prep)?);
        Ok(())
    }

    /// The next piece of the archive; `None` at its end. Asked before [`start`](Self::start),
    /// it is an error.
    pub fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        match self.source.as_mut() {
            Some(s) => s.next_chunk(),
            None => Err(Error::SocketCommunication(
                "the push source was read before it was started".into(),
            )),
        }
    }
}

/// Do the host work of one event of a write or push `op`: progress to `opts`' callback, the
/// container's default user kept in `owner` once the flow read it (so the next upload to the
/// same container runs nothing before its archive), and for a push (`feed`) its source opened
/// and read piece by piece (a failure cuts the upload through [`PutOp::fail`]).
pub fn feed_put(
    feed: Option<&mut PushFeed>,
    event: PutEvent,
    op: &mut PutOp<'_>,
    opts: &TransferOptions,
    owner: &OnceLock<Owner>,
) {
    let handled = match (event, feed) {
        (PutEvent::Sent(n), _) => {
            opts.report(n);
            Ok(())
        }
        (PutEvent::Owner(o), _) => {
            // Another upload of the same handle may have kept it first: the same user.
            let _ = owner.set(o);
            Ok(())
        }
        (
            PutEvent::Source {
                root_name,
                under,
                prepared,
            },
            Some(feed),
        ) => feed.start(root_name, &under, &prepared),
        (PutEvent::NeedBody, Some(feed)) => feed.next_chunk().map(|chunk| match chunk {
            Some(chunk) => op.push_body(chunk),
            None => op.finish_body(),
        }),
        // Left unanswered: the operation asks the engine's path stat (the adapters answer it
        // from the agent before calling here).
        (PutEvent::Stat { .. }, _) => Ok(()),
        (PutEvent::Source { .. } | PutEvent::NeedBody, None) => Err(Error::SocketCommunication(
            "an upload asked for a host source it does not have".into(),
        )),
    };
    if let Err(e) = handled {
        op.fail(e);
    }
}

/// The host end of a pull: creates the [`Sink`] the archive's top entry calls for, applies
/// every later action to it, commits it at the end, and abandons it when the pull failed.
pub struct PullTarget {
    dest: PathBuf,
    name: Option<String>,
    contents: bool,
    sink: Option<Sink>,
}

impl PullTarget {
    /// A pull into `dest` of an entry named `name` (`None` and `contents`: a directory's
    /// contents); nothing is touched before the first action.
    pub fn new(dest: &Path, name: Option<&str>, contents: bool) -> Self {
        Self {
            dest: dest.to_path_buf(),
            name: name.map(str::to_string),
            contents,
            sink: None,
        }
    }

    /// Carry out one action of the pull.
    pub fn apply(&mut self, action: ExtractAction) -> Result<()> {
        let name = self.name.as_deref();
        match action {
            ExtractAction::TopFile { mode, mtime, .. } => {
                self.sink = Some(Sink::File(FileSink::new(&self.dest, name, mode, mtime)?));
            }
            ExtractAction::TopDir { mode, mtime } => {
                let dir = DirSink::new(&self.dest, name, self.contents, mode, mtime)?;
                self.sink = Some(Sink::Dir(dir));
            }
            ExtractAction::End => {
                if let Some(s) = self.sink.take() {
                    s.commit()?;
                }
            }
            other => match self.sink.as_mut() {
                Some(s) => s.apply(other)?,
                None => return Err(Error::Archive("entry before the top entry".into())),
            },
        }
        Ok(())
    }

    /// Do the host work of one event of `op`: progress to `opts`' callback, an action applied
    /// (a failure ends the pull through [`PullOp::fail`]).
    pub fn handle(&mut self, event: PullEvent, op: &mut PullOp, opts: &TransferOptions) {
        match event {
            PullEvent::Received(n) => opts.report(n),
            PullEvent::Extract(action) => {
                if let Err(e) = self.apply(action) {
                    op.fail(e);
                }
            }
        }
    }

    /// The pull ended with `result`: on an error, remove what was written under temporary names.
    pub fn finish(self, result: Result<()>) -> Result<()> {
        if result.is_err() {
            if let Some(s) = self.sink {
                s.abort();
            }
        }
        result
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
pub struct FileSink {
    temp: PathBuf,
    target: PathBuf,
    writing: Option<Writing>,
}

impl FileSink {
    /// Write into `dest` (a file path, or an existing directory to write `name` into) with
    /// `mode` and `mtime` applied at the end.
    pub fn new(dest: &Path, name: Option<&str>, mode: u32, mtime: u64) -> Result<Self> {
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
pub struct DirSink {
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
    /// Extract into `dest`: a new directory, or `name` inside an existing one, or (with
    /// `contents`, a `dir/.` copy) the existing directory itself; `mode` and `mtime` are the
    /// top directory's.
    pub fn new(
        dest: &Path,
        name: Option<&str>,
        contents: bool,
        mode: u32,
        mtime: u64,
    ) -> Result<Self> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use pocketdock_proto::op::{Operation, Step};

    fn scratch() -> PathBuf {
        let d = std::env::temp_dir().join(format!("pd-pull-{}", nonce()));
        let _ = fs::create_dir_all(&d);
        d
    }

    fn file_actions(data: &'static [u8]) -> Vec<ExtractAction> {
        vec![
            ExtractAction::TopFile {
                mode: 0o640,
                mtime: 7,
                size: data.len() as u64,
            },
            ExtractAction::Data(Bytes::from_static(data)),
            ExtractAction::FileEnd,
        ]
    }

    #[test]
    fn a_pull_target_commits_at_the_end_and_leaves_nothing_on_failure() {
        let dir = scratch();
        let dest = dir.join("f.txt");
        let mut target = PullTarget::new(&dest, Some("f.txt"), false);
        for a in file_actions(b"hello") {
            target.apply(a).unwrap_or_else(|e| panic!("{e}"));
        }
        let failed = target.finish(Err(Error::Archive("cut".into())));
        assert!(failed.is_err());
        assert_eq!(fs::read_dir(&dir).map(Iterator::count).ok(), Some(0));

        let mut target = PullTarget::new(&dest, Some("f.txt"), false);
        for a in file_actions(b"hello") {
            target.apply(a).unwrap_or_else(|e| panic!("{e}"));
        }
        target
            .apply(ExtractAction::End)
            .unwrap_or_else(|e| panic!("{e}"));
        target.finish(Ok(())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fs::read(&dest).ok().as_deref(), Some(&b"hello"[..]));

        let mut target = PullTarget::new(&dest, Some("f.txt"), false);
        assert!(matches!(
            target.apply(ExtractAction::FileEnd),
            Err(Error::Archive(_))
        ));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_upload_asking_for_a_source_it_lacks_fails() {
        let opts = TransferOptions::default();
        let mut op =
            PutOp::write("c", "/f", b"x", &opts, 0, "seed").unwrap_or_else(|e| panic!("{e}"));
        feed_put(None, PutEvent::NeedBody, &mut op, &opts, &OnceLock::new());
        let done = op.poll(std::time::Instant::now());
        assert!(
            matches!(done, Step::Done(Err(Error::SocketCommunication(_)))),
            "{done:?}"
        );
    }

    #[test]
    fn the_owner_read_by_an_upload_is_kept() {
        let opts = TransferOptions::default();
        let mut op =
            PutOp::write("c", "/f", b"x", &opts, 0, "seed").unwrap_or_else(|e| panic!("{e}"));
        let kept = OnceLock::new();
        let owner = Owner { uid: 7, gid: 8 };
        feed_put(None, PutEvent::Owner(owner), &mut op, &opts, &kept);
        assert_eq!(kept.get(), Some(&owner));
    }

    /// The entries of a whole push source: path, uid, gid.
    fn entries(mut src: PushSource) -> Vec<(String, u64, u64)> {
        let mut reader = pocketdock_proto::tar::TarReader::new();
        while let Some(chunk) = src.next_chunk().unwrap_or_else(|e| panic!("{e}")) {
            reader.feed(&chunk);
        }
        let mut out = Vec::new();
        while let Some(ev) = reader.next_event().unwrap_or_else(|e| panic!("{e}")) {
            if let pocketdock_proto::tar::TarEvent::Entry(h) = ev {
                out.push((h.path.clone(), h.uid, h.gid));
            }
        }
        out
    }

    #[test]
    fn a_push_source_goes_under_the_directories_the_upload_creates() {
        let dir = scratch();
        fs::create_dir_all(dir.join("tree/sub")).unwrap_or_else(|e| panic!("{e}"));
        fs::write(dir.join("tree/sub/f"), b"1").unwrap_or_else(|e| panic!("{e}"));
        let prep = Prepared {
            uid: 1000,
            gid: 1001,
            kind: pocketdock_proto::files::DestKind::Missing,
        };
        let src = PushSource::new(&dir.join("tree"), Some("new".into()), "p/q", &prep)
            .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<(String, u64, u64)> = entries(src);
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.iter().all(|(_, u, g)| (*u, *g) == (1000, 1001)));
        assert!(names
            .first()
            .is_some_and(|(p, ..)| p.trim_end_matches('/') == "p/q/new"));
        assert!(names.last().is_some_and(|(p, ..)| p == "p/q/new/sub/f"));
        // The contents of a directory (no top entry) under a prefix, and with none.
        let src =
            PushSource::new(&dir.join("tree"), None, "x", &prep).unwrap_or_else(|e| panic!("{e}"));
        assert!(entries(src).last().is_some_and(|(p, ..)| p == "x/sub/f"));
        let src =
            PushSource::new(&dir.join("tree"), None, "", &prep).unwrap_or_else(|e| panic!("{e}"));
        assert!(entries(src).last().is_some_and(|(p, ..)| p == "sub/f"));
        let _ = fs::remove_dir_all(&dir);
    }
}
