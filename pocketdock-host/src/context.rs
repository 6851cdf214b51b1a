//! The host side of image builds and imports: the bodies fed to the engine piece by piece (an
//! embedded context in memory, a context directory walked and tarred on the fly, an archive
//! file checked and decompressed while it streams). Plain synchronous file I/O with no engine
//! call, the same in every adapter.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use pocketdock_proto::api::images::Progress;
use pocketdock_proto::image_flow::{
    context_meta, embedded_context, ArchiveCheck, ArchiveSummary, BuildContext, BuildEvent,
    BuildOp, Compression, ExportEvent, ExportOp, ExportedArchive, GzipDecoder, GzipEncoder,
    ImportEvent, ImportOp, MAGIC_LEN,
};
use pocketdock_proto::tar::{header_for_dir, header_for_file, header_for_symlink, padding};
use pocketdock_proto::{Error, Result};

use crate::random::random_u64;
use crate::{host_error, host_refusal};

/// Size of the pieces read from disk and sent to the engine.
pub const CHUNK: usize = 256 * 1024;

/// A body fed to an upload piece by piece.
pub trait BodySource: Send {
    /// The next piece; `None` at the end (after every check passed).
    fn next_chunk(&mut self) -> Result<Option<Bytes>>;
}

/// A body already in memory (an embedded context), sent in pieces.
pub struct MemorySource {
    data: Bytes,
}

impl MemorySource {
    /// A source that sends `data` in pieces of [`CHUNK`] bytes.
    pub fn new(data: Vec<u8>) -> Self {
        Self {
            data: Bytes::from(data),
        }
    }
}

impl BodySource for MemorySource {
    fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        if self.data.is_empty() {
            return Ok(None);
        }
        let n = self.data.len().min(CHUNK);
        Ok(Some(self.data.split_to(n)))
    }
}

/// The host end of a build: the context opened for every attempt and read piece by piece, the
/// progress lines handed to the caller.
pub struct BuildFeed<'a> {
    context: &'a BuildContext,
    dockerfile: Option<&'a str>,
    source: Option<Box<dyn BodySource>>,
}

impl<'a> BuildFeed<'a> {
    /// The feed of a build of `context` with `dockerfile` (default `Dockerfile`).
    pub fn new(context: &'a BuildContext, dockerfile: Option<&'a str>) -> Self {
        Self {
            context,
            dockerfile,
            source: None,
        }
    }

    /// Do the host work of one event of `op` (a failure to open or read the context ends the
    /// build through [`BuildOp::fail`]).
    pub fn handle(
        &mut self,
        event: BuildEvent,
        op: &mut BuildOp,
        on_progress: &mut impl FnMut(&Progress),
    ) {
        let fed = match event {
            BuildEvent::OpenContext => build_source(self.context, self.dockerfile).map(|s| {
                self.source = Some(s);
            }),
            BuildEvent::NeedBody => match self.source.as_mut() {
                Some(source) => source.next_chunk().map(|chunk| match chunk {
                    Some(chunk) => op.push_body(chunk),
                    None => op.finish_body(),
                }),
                None => Err(Error::SocketCommunication(
                    "a build asked for its context before opening it".into(),
                )),
            },
            BuildEvent::Progress(p) => {
                on_progress(&p);
                Ok(())
            }
        };
        if let Err(e) = fed {
            op.fail(e);
        }
    }
}

/// The body of a build of `context`: a profile's embedded context from memory, or a host
/// directory tarred on the fly with `dockerfile` (default `Dockerfile`). Opened anew for every
/// attempt of a build.
pub fn build_source(
    context: &BuildContext,
    dockerfile: Option<&str>,
) -> Result<Box<dyn BodySource>> {
    Ok(match context {
        BuildContext::Profile(name) => Box::new(MemorySource::new(embedded_context(name)?.tar()?)),
        BuildContext::Dir(dir) => {
            Box::new(DirSource::new(dir, dockerfile.unwrap_or("Dockerfile"))?)
        }
    })
}

/// One entry of a directory context.
#[derive(Debug)]
enum DirEntry {
    Dir {
        rel: String,
        mode: u32,
        mtime: u64,
    },
    File {
        rel: String,
        abs: PathBuf,
        mode: u32,
        mtime: u64,
        size: u64,
    },
    Symlink {
        rel: String,
        target: String,
        mtime: u64,
    },
}

/// A directory streamed as a tar: entries in path order, each file read in pieces.
pub struct DirSource {
    entries: std::vec::IntoIter<DirEntry>,
    /// The file being sent: handle, path, bytes left, size in its header.
    current: Option<(File, PathBuf, u64, u64)>,
    ended: bool,
}

impl DirSource {
    /// A source that tars the directory `dir` (which must hold `dockerfile`) while it is read.
    pub fn new(dir: &Path, dockerfile: &str) -> Result<Self> {
        let meta = std::fs::metadata(dir).map_err(|e| host_error(dir, &e))?;
        if !meta.is_dir() {
            return Err(Error::HostPath {
                path: dir.display().to_string(),
                detail: "not a directory".into(),
            });
        }
        if !dir.join(dockerfile).is_file() {
            return Err(Error::HostPath {
                path: dir.join(dockerfile).display().to_string(),
                detail: "no Dockerfile in the build context".into(),
            });
        }
        let mut entries = Vec::new();
        walk(dir, "", &mut entries)?;
        Ok(Self {
            entries: entries.into_iter(),
            current: None,
            ended: false,
        })
    }
}

fn mtime_of(m: &std::fs::Metadata) -> u64 {
    u64::try_from(m.mtime()).unwrap_or(0)
}

/// Collect the entries under `dir` (sorted by name, symlinks not followed; sockets, FIFOs and
/// devices skipped).
fn walk(dir: &Path, prefix: &str, out: &mut Vec<DirEntry>) -> Result<()> {
    let mut children: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)
        .map_err(|e| host_error(dir, &e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| host_error(dir, &e))?;
    children.sort_by_key(std::fs::DirEntry::file_name);
    for child in children {
        let abs = child.path();
        let name = child.file_name();
        let name = name.to_str().ok_or_else(|| Error::HostPath {
            path: abs.display().to_string(),
            detail: "file name is not UTF-8".into(),
        })?;
        let rel = format!("{prefix}{name}");
        let m = std::fs::symlink_metadata(&abs).map_err(|e| host_error(&abs, &e))?;
        let ft = m.file_type();
        if ft.is_symlink() {
            let target = std::fs::read_link(&abs).map_err(|e| host_error(&abs, &e))?;
            out.push(DirEntry::Symlink {
                rel,
                target: target.to_string_lossy().to_string(),
                mtime: mtime_of(&m),
            });
        } else if ft.is_dir() {
            out.push(DirEntry::Dir {
                rel: rel.clone(),
                mode: m.permissions().mode(),
                mtime: mtime_of(&m),
            });
            walk(&abs, &format!("{rel}/"), out)?;
        } else if ft.is_file() {
            out.push(DirEntry::File {
                rel,
                abs,
                mode: m.permissions().mode(),
                mtime: mtime_of(&m),
                size: m.len(),
            });
        }
    }
    Ok(())
}

impl BodySource for DirSource {
    fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        if let Some((file, path, remaining, size)) = self.current.as_mut() {
            let want = usize::try_from(*remaining).unwrap_or(CHUNK).min(CHUNK);
            let mut buf = vec![0u8; want];
            let n = file.read(&mut buf).map_err(|e| host_error(path, &e))?;
            if n == 0 {
                return Err(Error::HostPath {
                    path: path.display().to_string(),
                    detail: "file shrank while the build context was sent".into(),
                });
            }
            buf.truncate(n);
            *remaining -= n as u64;
            if *remaining == 0 {
                buf.extend_from_slice(padding(*size));
                self.current = None;
            }
            return Ok(Some(Bytes::from(buf)));
        }
        let Some(entry) = self.entries.next() else {
            if self.ended {
                return Ok(None);
            }
            self.ended = true;
            return Ok(Some(Bytes::from_static(
                &pocketdock_proto::tar::END_OF_ARCHIVE,
            )));
        };
        let header = match entry {
            DirEntry::Dir { rel, mode, mtime } => header_for_dir(&rel, &context_meta(mode, mtime))?,
            DirEntry::Symlink { rel, target, mtime } => {
                header_for_symlink(&rel, &target, &context_meta(0o777, mtime))?
            }
            DirEntry::File {
                rel,
                abs,
                mode,
                mtime,
                size,
            } => {
                let header = header_for_file(&rel, size, &context_meta(mode, mtime))?;
                if size > 0 {
                    let file = File::open(&abs).map_err(|e| host_error(&abs, &e))?;
                    self.current = Some((file, abs, size, size));
                }
                header
            }
        };
        Ok(Some(Bytes::from(header)))
    }
}

/// An image archive on disk, decompressed if needed and checked while it is read. The last
/// piece is handed out only after the check passed.
pub struct ArchiveSource {
    path: PathBuf,
    file: File,
    gunzip: Option<GzipDecoder>,
    /// Compressed bytes read but not yet decoded.
    pending: Bytes,
    check: ArchiveCheck,
    eof: bool,
    /// Bytes read from the file so far.
    read: u64,
    /// Told `read` after every piece.
    progress: Option<Box<dyn FnMut(u64) + Send>>,
    /// What the archive held, known once it was read to the end and every check passed.
    pub summary: Option<ArchiveSummary>,
}

impl std::fmt::Debug for ArchiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveSource")
            .field("path", &self.path)
            .field("read", &self.read)
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl ArchiveSource {
    /// Open the image archive at `path` (`.tar`, or gzip recognised by its content).
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| host_error(path, &e))?;
        let mut head = vec![0u8; CHUNK];
        let mut filled = 0;
        while filled < MAGIC_LEN {
            let n = file
                .read(head.get_mut(filled..).unwrap_or_default())
                .map_err(|e| host_error(path, &e))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        head.truncate(filled);
        let gunzip = match Compression::detect(&head)? {
            Compression::Gzip => Some(GzipDecoder::new()),
            Compression::None => None,
        };
        Ok(Self {
            path: path.to_path_buf(),
            file,
            gunzip,
            pending: Bytes::from(head),
            check: ArchiveCheck::new(),
            eof: false,
            read: filled as u64,
            progress: None,
            summary: None,
        })
    }

    /// Call `f` with the bytes read from the file so far after every piece handed out (for a
    /// progress bar against the file's size).
    #[must_use]
    pub fn on_progress(mut self, f: impl FnMut(u64) + Send + 'static) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    /// Next raw bytes from the file (the already read head first); empty at the end.
    fn read_raw(&mut self) -> Result<Bytes> {
        if !self.pending.is_empty() {
            return Ok(std::mem::take(&mut self.pending));
        }
        let mut buf = vec![0u8; CHUNK];
        let n = self
            .file
            .read(&mut buf)
            .map_err(|e| host_error(&self.path, &e))?;
        buf.truncate(n);
        self.read += n as u64;
        Ok(Bytes::from(buf))
    }

    /// The next piece of the archive, checked as it passes; `None` once it ended whole.
    #[expect(
        clippy::single_match_else,
        reason = "the two arms are the two input kinds (plain, gzip), each with its own loop"
    )]
    fn next_checked(&mut self) -> Result<Option<Bytes>> {
        if self.eof {
            return Ok(None);
        }
        let out = match self.gunzip.as_mut() {
            None => {
                let raw = self.read_raw()?;
                if raw.is_empty() {
                    self.eof = true;
                }
                raw
            }
            Some(_) => {
                // Decode up to about one chunk of tar from the compressed input.
                let mut out = Vec::new();
                while out.len() < CHUNK {
                    if self.pending.is_empty() {
                        let raw = self.read_raw()?;
                        if raw.is_empty() {
                            if let Some(g) = self.gunzip.as_mut() {
                                out.extend_from_slice(&g.finish()?);
                            }
                            self.eof = true;
                            break;
                        }
                        self.pending = raw;
                    }
                    if let Some(g) = self.gunzip.as_mut() {
                        let (used, decoded) = g.decode(&self.pending)?;
                        let _ = self.pending.split_to(used);
                        out.extend_from_slice(&decoded);
                    }
                }
                Bytes::from(out)
            }
        };
        self.check.feed(&out)?;
        if self.eof {
            // Everything was read: the body ends only if the archive is whole.
            self.summary = Some(self.check.finish()?);
            if out.is_empty() {
                return Ok(None);
            }
        }
        Ok(Some(out))
    }
}

impl ArchiveSource {
    /// Do the host work of one event of `op`: the next checked piece, or the end of the body
    /// with the archive's own tags once the whole archive passed (a failure drops the body
    /// mid-way through [`ImportOp::fail`]).
    pub fn handle(&mut self, event: ImportEvent, op: &mut ImportOp) {
        let ImportEvent::NeedBody = event;
        match self.next_chunk() {
            Ok(Some(chunk)) => op.push_body(chunk),
            Ok(None) => {
                let tags = self.summary.as_ref().map(ArchiveSummary::repo_tags);
                op.finish_body(tags.unwrap_or_default());
            }
            Err(e) => op.fail(e),
        }
    }
}

impl BodySource for ArchiveSource {
    fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        let out = self.next_checked()?;
        if let Some(report) = self.progress.as_mut() {
            report(self.read);
        }
        Ok(out)
    }
}

/// The file an image export streams into: a temporary file beside the destination, written as
/// the engine's tar arrives (checked, and gzip-compressed when asked), renamed over the
/// destination by [`commit`](Self::commit) only once the archive is complete and checked.
/// Dropped without a commit (an error midway), it removes the temporary file: the destination
/// is never left half-written.
pub struct ExportFile<F: FnMut(u64)> {
    dest: PathBuf,
    tmp: PathBuf,
    file: File,
    gzip: Option<GzipEncoder>,
    check: ArchiveCheck,
    written: u64,
    on_progress: F,
}

impl<F: FnMut(u64)> ExportFile<F> {
    /// Create the temporary file for an export to `dest`; `on_progress` is told the bytes
    /// written to it after every piece.
    pub fn create(dest: &Path, gzip: bool, on_progress: F) -> Result<Self> {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .ok_or_else(|| host_refusal(dest, "not a file path"))?;
        let tmp = dest.with_file_name(format!(".{name}.partial-{:016x}", random_u64()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| host_error(&tmp, &e))?;
        Ok(Self {
            dest: dest.to_path_buf(),
            tmp,
            file,
            gzip: gzip.then(GzipEncoder::new),
            check: ArchiveCheck::new(),
            written: 0,
            on_progress,
        })
    }

    /// Write the next piece of the engine's tar.
    pub fn write(&mut self, tar: &[u8]) -> Result<()> {
        self.check.feed(tar)?;
        match self.gzip.as_mut() {
            Some(enc) => {
                let out = enc.encode(tar)?;
                self.write_raw(&out)
            }
            None => self.write_raw(tar),
        }
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.file
            .write_all(bytes)
            .map_err(|e| host_error(&self.tmp, &e))?;
        self.written += bytes.len() as u64;
        (self.on_progress)(self.written);
        Ok(())
    }

    /// The engine's tar ended: check it is whole, finish the compression, flush to disk and
    /// rename the file over the destination.
    pub fn commit(mut self) -> Result<ExportedArchive> {
        let summary = self.check.finish()?;
        if let Some(enc) = self.gzip.as_mut() {
            let last = enc.finish()?;
            self.write_raw(&last)?;
        }
        self.file
            .sync_all()
            .map_err(|e| host_error(&self.tmp, &e))?;
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| host_error(&self.dest, &e))?;
        Ok(ExportedArchive {
            path: self.dest.clone(),
            file_bytes: self.written,
            tar_bytes: summary.bytes,
            gzip: self.gzip.is_some(),
            images: summary.repo_tags(),
        })
    }
}

/// The host end of an export: the archive file opened once every image was found, written as
/// the archive arrives, committed at the end.
pub struct ExportTarget<F: FnMut(u64)> {
    dest: PathBuf,
    gzip: bool,
    on_progress: Option<F>,
    out: Option<ExportFile<F>>,
}

impl<F: FnMut(u64)> ExportTarget<F> {
    /// An export to `dest` (gzip-compressed when `gzip`), telling `on_progress` the bytes
    /// written so far; nothing is created before [`ExportEvent::Open`].
    pub fn new(dest: &Path, gzip: bool, on_progress: F) -> Self {
        Self {
            dest: dest.to_path_buf(),
            gzip,
            on_progress: Some(on_progress),
            out: None,
        }
    }

    /// Do the host work of one event of `op` (a failure to create or write the file ends the
    /// export through [`ExportOp::fail`]).
    pub fn handle(&mut self, event: ExportEvent, op: &mut ExportOp) {
        let done = match event {
            ExportEvent::Open => match self.on_progress.take() {
                Some(report) => ExportFile::create(&self.dest, self.gzip, report).map(|f| {
                    self.out = Some(f);
                }),
                None => Ok(()),
            },
            ExportEvent::Data(d) => self.out.as_mut().map_or(Ok(()), |f| f.write(&d)),
        };
        if let Err(e) = done {
            op.fail(e);
        }
    }

    /// The export ended with `result`: the checked archive moved into place, or (on an error)
    /// the temporary file removed.
    pub fn finish(self, result: Result<()>) -> Result<ExportedArchive> {
        result?;
        self.out
            .ok_or_else(|| {
                Error::SocketCommunication("export: the archive was never opened".into())
            })?
            .commit()
    }
}

impl<F: FnMut(u64)> Drop for ExportFile<F> {
    fn drop(&mut self) {
        // After a successful commit the temporary name no longer exists: nothing to remove.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pocketdock_proto::api::images::BuildOptions;
    use pocketdock_proto::op::{Io, Operation, Step};

    fn scratch() -> PathBuf {
        let d = std::env::temp_dir().join(format!("pd-export-{:016x}", random_u64()));
        let _ = std::fs::create_dir_all(&d);
        d
    }

    fn entries(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|r| {
                r.filter_map(std::result::Result::ok)
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn an_export_that_fails_leaves_nothing() {
        let dir = scratch();
        let dest = dir.join("images.tar");
        let mut reports = Vec::new();
        {
            let mut out = ExportFile::create(&dest, false, |n| reports.push(n))
                .unwrap_or_else(|e| panic!("{e}"));
            out.write(&[0u8; 100]).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(entries(&dir).len(), 1, "the temporary file exists");
            // Not a whole image archive: refused, and the temporary file goes away.
            assert!(out.commit().is_err());
        }
        assert_eq!(reports, vec![100]);
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
        {
            let mut out = ExportFile::create(&dest, true, |_| {}).unwrap_or_else(|e| panic!("{e}"));
            out.write(b"x").unwrap_or_else(|e| panic!("{e}"));
            // Dropped midway (an engine error): nothing is left either.
        }
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
        assert!(ExportFile::create(Path::new("/"), false, |_| {}).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Poll `op` until it asks for something other than I/O, taking every I/O step as done.
    fn next_event<O: Operation>(op: &mut O) -> Step<O::Event, O::Output> {
        let now = std::time::Instant::now();
        loop {
            match op.poll(now) {
                Step::Io(_) => {}
                other => return other,
            }
        }
    }

    #[test]
    fn a_build_feed_opens_the_context_per_attempt_and_fails_the_build_when_it_cannot() {
        let context = BuildContext::profile("minimal-python");
        let mut feed = BuildFeed::new(&context, None);
        let mut op = BuildOp::new(&BuildOptions::tagged("t:1")).unwrap_or_else(|e| panic!("{e}"));
        let mut progress = |_: &Progress| {};
        let Step::Event(open) = next_event(&mut op) else {
            panic!("a build starts by opening its context");
        };
        assert_eq!(open, BuildEvent::OpenContext);
        feed.handle(open, &mut op, &mut progress);
        let Step::Event(need) = next_event(&mut op) else {
            panic!("then it asks for the context");
        };
        assert_eq!(need, BuildEvent::NeedBody);
        feed.handle(need, &mut op, &mut progress);
        // The first piece went to the op: it writes it (chunked) before asking again.
        let now = std::time::Instant::now();
        assert!(matches!(op.poll(now), Step::Io(Io::Write(b)) if b.len() > 512));

        let missing = BuildContext::dir("/nonexistent/pocketdock-context");
        let mut feed = BuildFeed::new(&missing, None);
        let mut op = BuildOp::new(&BuildOptions::tagged("t:1")).unwrap_or_else(|e| panic!("{e}"));
        let Step::Event(open) = next_event(&mut op) else {
            panic!("open");
        };
        feed.handle(open, &mut op, &mut progress);
        assert!(matches!(
            next_event(&mut op),
            Step::Done(Err(Error::HostPath { .. }))
        ));
    }

    #[test]
    fn an_export_target_opens_writes_and_cleans_up() {
        let dir = scratch();
        let dest = dir.join("out.tar");
        let mut op = ExportOp::new(&["a:1"]).unwrap_or_else(|e| panic!("{e}"));
        let mut target = ExportTarget::new(&dest, false, |_| {});
        assert!(entries(&dir).is_empty(), "nothing before Open");
        target.handle(ExportEvent::Open, &mut op);
        assert_eq!(entries(&dir).len(), 1, "the temporary file");
        target.handle(ExportEvent::Data(Bytes::from_static(b"partial")), &mut op);
        assert!(target
            .finish(Err(Error::SocketCommunication("cut".into())))
            .is_err());
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));

        // A destination that cannot be created fails the export.
        let mut op = ExportOp::new(&["a:1"]).unwrap_or_else(|e| panic!("{e}"));
        let mut target = ExportTarget::new(Path::new("/"), false, |_| {});
        target.handle(ExportEvent::Open, &mut op);
        assert!(matches!(next_event(&mut op), Step::Done(Err(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
