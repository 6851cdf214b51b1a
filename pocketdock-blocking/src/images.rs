//! Images: build (from a profile's embedded context or a directory), multi-image export to one
//! `.tar`/`.tar.gz`, import, inspect and remove.
//!
//! Everything streams: the build context and the archive being imported are fed to the engine
//! chunk by chunk, and an export is written to disk as it arrives, so memory stays bounded (a few
//! hundred KiB) whatever the image size.
//!
//! * **Build** sends the context to `POST /build` as a chunked body and hands every progress line
//!   to the caller as it arrives. Both engines report a failed step *inside* a `200` stream;
//!   it becomes [`Error::StreamFailed`] with the engine's message (the reference printed
//!   "Built" instead, inventory §7.1 #5).
//! * **Export** is one `GET /images/get?names=a&names=b`: every image lands in the same archive
//!   (the reference overwrote its file once per image, §7.1 #4). The bytes go to a hidden
//!   temporary file beside the destination, gzip-compressed if asked; the archive is checked
//!   (complete tar, every layer named by `manifest.json` present), synced and only then renamed
//!   into place, so a failed export never leaves a partial file under the final name.
//! * **Import** detects gzip by content, not by name, decompresses on the fly and checks the
//!   archive while streaming it to `POST /images/load`. The end of the request body is sent only
//!   once the whole archive was verified; a corrupt or truncated file makes pocketdock drop the
//!   connection mid-body instead, and the engine discards the upload. Checked on Podman 4.3 (it
//!   copies the body to a temporary file before loading) and Docker 20.10 (it untars the body
//!   into a temporary directory first): neither loads anything from an aborted body. Without
//!   this check both engines already refuse an archive cut inside an entry (Podman with HTTP 500
//!   "payload does not match any of the supported image formats", Docker with an in-stream
//!   "unexpected EOF"), also when `manifest.json` comes first and the cut falls in a later
//!   image's layer, so no half-load was seen; but both accept an archive cut exactly before its
//!   end-of-archive marker (harmless: its content is complete).
//!
//! A directory context is sent as it is: `.dockerignore` is not applied.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use pocketdock_proto::api::images::{
    self, BuildOptions, DeleteItem, ImageInspect, Progress, ProgressDecoder, ProgressSummary,
};
use pocketdock_proto::api::{check, Subject};
use pocketdock_proto::image::{
    context_meta, embedded_context, ArchiveCheck, ArchiveSummary, Compression, ExportPlan,
    GzipDecoder, GzipEncoder, MAGIC_LEN,
};
use pocketdock_proto::op::{CallOp, DownloadOp, Response, TransferEvent, UploadOp};
use pocketdock_proto::profile::resolve_profile;
use pocketdock_proto::tar::{header_for_dir, header_for_file, header_for_symlink, padding};
use pocketdock_proto::{Error, Result};

use crate::driver::{Driver, Progress as Step};
use crate::engine::{random_u64, Engine};

/// Deadline of a whole build (context upload and every step).
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(2 * 3600);
/// Deadline of a whole export or import.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(3600);
/// Size of the pieces read from disk and sent to the engine.
const CHUNK: usize = 256 * 1024;

/// Where a build context comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildContext {
    /// The context of a profile, compiled into the library (no source tree needed).
    Profile(String),
    /// A directory on the host, sent as it is (`.dockerignore` is not applied).
    Dir(PathBuf),
}

impl BuildContext {
    /// The embedded context of profile `name`.
    pub fn profile(name: impl Into<String>) -> Self {
        Self::Profile(name.into())
    }

    /// A directory on the host.
    pub fn dir(path: impl Into<PathBuf>) -> Self {
        Self::Dir(path.into())
    }
}

/// A finished build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// Image id (`sha256:...` when the engine says so).
    pub id: String,
    /// The references the engine tagged (falls back to the requested tags).
    pub tags: Vec<String>,
}

/// A finished export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedArchive {
    /// The archive written.
    pub path: PathBuf,
    /// Bytes written to the file (compressed size when gzip).
    pub file_bytes: u64,
    /// Bytes of the tar (uncompressed).
    pub tar_bytes: u64,
    /// Was it gzip-compressed?
    pub gzip: bool,
    /// References saved in the archive, from its `manifest.json`.
    pub images: Vec<String>,
}

/// A body fed to an upload piece by piece.
trait BodySource {
    /// The next piece; `None` at the end (after every check passed).
    fn next_chunk(&mut self) -> Result<Option<Bytes>>;
}

impl Engine {
    /// Build an image from `context` with `options` (tags, build args such as `BASE`, labels,
    /// ...), handing every progress line to `on_progress` as it arrives. An error reported in the
    /// progress stream (a failing `RUN`, a missing base image) is [`Error::StreamFailed`] with
    /// the engine's message. Base images are never pulled unless `options.pull` is set.
    pub fn build_image(
        &self,
        context: &BuildContext,
        options: &BuildOptions,
        mut on_progress: impl FnMut(&Progress),
    ) -> Result<BuiltImage> {
        options.validate()?;
        let mut source: Box<dyn BodySource> = match context {
            BuildContext::Profile(name) => {
                Box::new(MemorySource::new(embedded_context(name)?.tar()?))
            }
            BuildContext::Dir(dir) => {
                let dockerfile = options.dockerfile.as_deref().unwrap_or("Dockerfile");
                Box::new(DirSource::new(dir, dockerfile)?)
            }
        };
        let request = images::build(options, None);
        let op = UploadOp::new("build", &request, Some(BUILD_TIMEOUT), |r: &Response| {
            check(r, "build", Subject::None)
        });
        let summary = self.upload_with_progress(op, source.as_mut(), "build", &mut on_progress)?;
        let tags = if summary.images.is_empty() {
            options.tags.clone()
        } else {
            summary.images.clone()
        };
        let id = match options.tags.first() {
            Some(tag) => self.inspect_image(tag)?.id,
            None => summary
                .image_id
                .clone()
                .ok_or_else(|| Error::StreamFailed {
                    op: "build",
                    message: "the engine did not report the built image's id".into(),
                })?,
        };
        Ok(BuiltImage { id, tags })
    }

    /// Build profile `profile` (its embedded context) as its image tag
    /// (`pocketdock/<profile>`), labelled `pocketdock.profile=<profile>`; `base` overrides the
    /// Dockerfile's `BASE` argument (e.g. a local image when offline).
    pub fn build_profile(
        &self,
        profile: &str,
        base: Option<&str>,
        on_progress: impl FnMut(&Progress),
    ) -> Result<BuiltImage> {
        let info = resolve_profile(profile)?;
        let mut options = BuildOptions::tagged(info.image_tag);
        if let Some(base) = base {
            options.build_args.insert("BASE".into(), base.into());
        }
        options
            .labels
            .insert("pocketdock.profile".into(), info.name.into());
        self.build_image(&BuildContext::profile(info.name), &options, on_progress)
    }

    /// Save `images` (names or ids; repeats are dropped) into one archive at `dest`, gzip
    /// compressed when `gzip` is set. The archive streams to a temporary file beside `dest`
    /// and replaces `dest` only once it is complete and checked.
    pub fn export_images<S: AsRef<str>>(
        &self,
        images: &[S],
        dest: impl AsRef<Path>,
        gzip: bool,
    ) -> Result<ExportedArchive> {
        let plan = ExportPlan::new(images)?;
        for name in plan.names() {
            self.inspect_image(name)?;
        }
        let dest = dest.as_ref();
        let file_name = dest
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .ok_or_else(|| Error::HostPath {
                path: dest.display().to_string(),
                detail: "not a file path".into(),
            })?;
        let tmp = dest.with_file_name(format!(".{file_name}.partial-{:016x}", random_u64()));
        let result = self.export_to(&plan, &tmp, gzip);
        match result {
            Ok((file_bytes, summary)) => {
                std::fs::rename(&tmp, dest).map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    host_error(dest, &e)
                })?;
                Ok(ExportedArchive {
                    path: dest.to_path_buf(),
                    file_bytes,
                    tar_bytes: summary.bytes,
                    gzip,
                    images: summary.repo_tags(),
                })
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    fn export_to(
        &self,
        plan: &ExportPlan,
        tmp: &Path,
        gzip: bool,
    ) -> Result<(u64, ArchiveSummary)> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp)
            .map_err(|e| host_error(tmp, &e))?;
        let mut encoder = gzip.then(GzipEncoder::new);
        let mut archive = ArchiveCheck::new();
        let mut written: u64 = 0;
        let mut write = |file: &mut File, bytes: &[u8]| -> Result<()> {
            file.write_all(bytes).map_err(|e| host_error(tmp, &e))?;
            written += bytes.len() as u64;
            Ok(())
        };
        let op = DownloadOp::new(
            "export",
            &plan.request(),
            Some(TRANSFER_TIMEOUT),
            |r: &Response| check(r, "export", Subject::None),
        );
        let mut driver = Driver::new(op, self.socket());
        loop {
            match driver.advance() {
                Step::Event(TransferEvent::Data(d)) => {
                    archive.feed(&d)?;
                    match encoder.as_mut() {
                        Some(enc) => write(&mut file, &enc.encode(&d)?)?,
                        None => write(&mut file, &d)?,
                    }
                }
                Step::Event(TransferEvent::NeedBody) => {
                    return Err(Error::SocketCommunication(
                        "export: unexpected request for a body".into(),
                    ))
                }
                Step::Done(r) => {
                    r?;
                    break;
                }
            }
        }
        let summary = archive.finish()?;
        if let Some(enc) = encoder.as_mut() {
            write(&mut file, &enc.finish()?)?;
        }
        file.sync_all().map_err(|e| host_error(tmp, &e))?;
        Ok((written, summary))
    }

    /// Load every image of the archive at `path` (a `.tar` or gzip-compressed tar, detected by
    /// content) and return the references the engine reports loaded (image ids for untagged
    /// images). A corrupt, truncated or foreign file is [`Error::Archive`] and the engine is left
    /// as it was (see the module documentation).
    pub fn import_images(&self, path: impl AsRef<Path>) -> Result<Vec<String>> {
        let path = path.as_ref();
        let mut source = ArchiveSource::open(path)?;
        let op = UploadOp::new(
            "import",
            &images::load(false, None),
            Some(TRANSFER_TIMEOUT),
            |r: &Response| check(r, "load", Subject::None),
        );
        let summary = self.upload_with_progress(op, &mut source, "load", &mut |_| {})?;
        let mut loaded: Vec<String> = Vec::new();
        // Podman lists several references on one line, separated by commas.
        for name in summary
            .images
            .iter()
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            if !loaded.iter().any(|l| l == name) {
                loaded.push(name.to_string());
            }
        }
        if loaded.is_empty() {
            loaded = source.summary.map(|s| s.repo_tags()).unwrap_or_default();
        }
        Ok(loaded)
    }

    /// `GET /images/{name}/json`; a missing image is [`Error::ImageNotFound`].
    pub fn inspect_image(&self, name: &str) -> Result<ImageInspect> {
        let key = name.to_string();
        self.call(CallOp::new(
            "inspect image",
            &images::inspect(name),
            move |r: Response| images::parse_inspect(&r, &key),
        ))
    }

    /// Remove image `name` (`force`: also when containers use it or it has several tags);
    /// untagged parents are pruned. A missing image is [`Error::ImageNotFound`].
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<DeleteItem>> {
        let key = name.to_string();
        self.call(CallOp::new(
            "remove image",
            &images::remove(name, force, true),
            move |r: Response| images::parse_remove(&r, &key),
        ))
    }

    /// Drive an upload whose response is a JSON-lines progress stream: feed the body from
    /// `source`, hand out each progress event, and fail with the first in-stream error.
    fn upload_with_progress(
        &self,
        op: UploadOp,
        source: &mut dyn BodySource,
        what: &'static str,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Result<ProgressSummary> {
        let mut driver = Driver::new(op, self.socket());
        let mut decoder = ProgressDecoder::new();
        let mut summary = ProgressSummary::default();
        let mut drain = |decoder: &mut ProgressDecoder, summary: &mut ProgressSummary| {
            while let Some(p) = decoder.next_event()? {
                summary.observe(&p);
                on_progress(&p);
            }
            Ok::<(), Error>(())
        };
        loop {
            match driver.advance() {
                Step::Event(TransferEvent::NeedBody) => match source.next_chunk()? {
                    Some(chunk) => driver.op_mut().push_body(chunk),
                    None => driver.op_mut().finish_body(),
                },
                Step::Event(TransferEvent::Data(d)) => {
                    decoder.feed(&d);
                    drain(&mut decoder, &mut summary)?;
                }
                Step::Done(r) => {
                    r?;
                    break;
                }
            }
        }
        decoder.finish();
        drain(&mut decoder, &mut summary)?;
        summary.into_result(what)
    }
}

fn host_error(path: &Path, e: &std::io::Error) -> Error {
    Error::HostPath {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// A body already in memory (an embedded context), sent in pieces.
struct MemorySource {
    data: Bytes,
}

impl MemorySource {
    fn new(data: Vec<u8>) -> Self {
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
struct DirSource {
    entries: std::vec::IntoIter<DirEntry>,
    /// The file being sent: handle, path, bytes left, size in its header.
    current: Option<(File, PathBuf, u64, u64)>,
    ended: bool,
}

impl DirSource {
    fn new(dir: &Path, dockerfile: &str) -> Result<Self> {
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
struct ArchiveSource {
    path: PathBuf,
    file: File,
    gunzip: Option<GzipDecoder>,
    /// Compressed bytes read but not yet decoded.
    pending: Bytes,
    check: ArchiveCheck,
    eof: bool,
    summary: Option<ArchiveSummary>,
}

impl ArchiveSource {
    fn open(path: &Path) -> Result<Self> {
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
            summary: None,
        })
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
        Ok(Bytes::from(buf))
    }
}

impl BodySource for ArchiveSource {
    fn next_chunk(&mut self) -> Result<Option<Bytes>> {
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
