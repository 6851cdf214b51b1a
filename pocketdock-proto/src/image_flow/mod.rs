//! Image logic without I/O: the profiles' build contexts embedded in the binary, build-context
//! tar headers, archive compression (detected by content), a push-style gzip codec, the check
//! of an image archive (`docker save` format) while it streams, and export plans.
//!
//! * **Embedded contexts.** Every file of `images/<profile>/` is compiled in
//!   ([`embedded_context`]), so the library and the CLI build a profile without the source tree,
//!   together with the setup scripts all profiles share (`images/setup/`, at `setup/` in each
//!   context: package installs and the sandbox user, written once).
//!   A unit test compares the embedded files with the folders, byte for byte and mode for mode.
//! * **Build contexts.** Entries are owned by `0:0` with empty owner names, as the docker CLI
//!   sends them; embedded files get mtime 0 so their tar is the same on every machine.
//! * **Compression.** [`Compression::detect`] looks at the first bytes, never at the file name:
//!   gzip (`1f 8b`) is decoded with [`GzipDecoder`]; bzip2, xz and zstd are refused with a clear
//!   message; anything else is read as a plain tar (and refused by the check if it is not one).
//! * **Archive check.** [`ArchiveCheck`] is fed the (decompressed) tar as it streams. It verifies
//!   every tar header and that the archive is complete, reads `manifest.json` (bounded) and, at
//!   the end, checks that every config and layer it names is in the archive. A load streams the
//!   archive through it and sends the end of the request body only once it passed; otherwise the
//!   connection is dropped mid-body and the engine loads nothing (see `pocketdock-blocking`'s
//!   `import_images`).
//! * **Export plans.** [`ExportPlan`] validates and de-duplicates the names of a multi-image save
//!   (`GET /images/get?names=a&names=b`: one archive holding every image, unlike the reference,
//!   which overwrote its output file once per image, inventory §7.1 #4).

//! * **Flows.** [`BuildOp`] (with the retry policy of [`crate::build_retry`]), [`ImportOp`] and
//!   [`ExportOp`] run a build, a load and a save as single operations; the adapters drive them
//!   and feed them the host's bytes.

mod build_op;
mod export_op;
mod import_op;
mod progress_stream;

pub use build_op::{profile_build, BuildEvent, BuildOp};
pub use export_op::{ExportEvent, ExportOp};
pub use import_op::{ImportEvent, ImportOp};

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::Request;
use crate::profile::resolve_profile;
use crate::tar::{
    header_for_dir, header_for_file, padding, EntryKind, EntryMeta, TarEvent, TarReader,
    END_OF_ARCHIVE,
};

/// One file of an embedded build context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextFile {
    /// Path inside the context, `/`-separated, relative (e.g. `demo/index.html`).
    pub path: &'static str,
    /// Permission bits.
    pub mode: u32,
    /// The file's bytes.
    pub data: &'static [u8],
}

/// The build context of a profile, compiled into the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedContext {
    /// Profile name (`minimal-python`, ...).
    pub profile: &'static str,
    /// The files, `Dockerfile` first.
    pub files: &'static [ContextFile],
}

macro_rules! ctx_file {
    ($profile:literal, $path:literal, $mode:literal) => {
        ContextFile {
            path: $path,
            mode: $mode,
            data: include_bytes!(concat!("../../images/", $profile, "/", $path)),
        }
    };
}

/// A shared setup script of `images/setup/`, at `setup/<name>` in every profile's context.
macro_rules! setup_file {
    ($name:literal) => {
        ContextFile {
            path: concat!("setup/", $name),
            mode: 0o755,
            data: include_bytes!(concat!("../../images/setup/", $name)),
        }
    };
}

/// A profile's context: the files of `images/<profile>/`, then the shared setup scripts of
/// `images/setup/` under `setup/`.
macro_rules! context {
    ($profile:literal, [$($path:literal: $mode:literal),* $(,)?]) => {
        EmbeddedContext {
            profile: $profile,
            files: &[
                $(ctx_file!($profile, $path, $mode),)*
                setup_file!("system-packages.sh"),
                setup_file!("python-packages.sh"),
                setup_file!("sandbox-user.sh"),
            ],
        }
    };
}

const CONTEXTS: [EmbeddedContext; 6] = [
    context!(
        "minimal-python",
        [
            "Dockerfile": 0o644,
            ".dockerignore": 0o644,
            "demo/README.md": 0o644,
            "demo/index.html": 0o644,
            "demo/serve.py": 0o644,
        ]
    ),
    context!("minimal-node", ["Dockerfile": 0o644]),
    context!("minimal-bun", ["Dockerfile": 0o644]),
    context!("dev", ["Dockerfile": 0o644]),
    context!("agent", ["Dockerfile": 0o644]),
    context!("embedded", ["Dockerfile": 0o644]),
];

/// The embedded build contexts of every profile, in the profiles' order.
pub fn embedded_contexts() -> &'static [EmbeddedContext] {
    &CONTEXTS
}

/// The embedded build context of profile `name`; an unknown name is [`Error::InvalidInput`]
/// listing the known profiles.
pub fn embedded_context(name: &str) -> Result<EmbeddedContext> {
    let profile = resolve_profile(name)?;
    CONTEXTS
        .iter()
        .find(|c| c.profile == profile.name)
        .copied()
        .ok_or_else(|| Error::invalid("profile", format!("{name:?} has no build context")))
}

/// Owner and time of a build-context entry: `0:0`, no owner names, the given mode and mtime.
pub fn context_meta(mode: u32, mtime: u64) -> EntryMeta {
    EntryMeta {
        mode: mode & 0o7777,
        mtime,
        uid: 0,
        gid: 0,
        uname: String::new(),
        gname: String::new(),
    }
}

impl EmbeddedContext {
    /// The `Dockerfile` of this context.
    pub fn dockerfile(&self) -> &'static str {
        self.files
            .iter()
            .find(|f| f.path == "Dockerfile")
            .and_then(|f| std::str::from_utf8(f.data).ok())
            .unwrap_or_default()
    }

    /// The context as a tar archive: parent directories (`0755`) before their files, mtime 0,
    /// owner `0:0`. Small (its size is fixed at compile time), so it is built in memory.
    pub fn tar(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut dirs: HashSet<&str> = HashSet::new();
        for f in self.files {
            let mut end = 0;
            while let Some(i) = f.path.get(end..).and_then(|rest| rest.find('/')) {
                end += i;
                let dir = f.path.get(..end).unwrap_or_default();
                if dirs.insert(dir) {
                    out.extend(header_for_dir(dir, &context_meta(0o755, 0))?);
                }
                end += 1;
            }
            out.extend(header_for_file(
                f.path,
                f.data.len() as u64,
                &context_meta(f.mode, 0),
            )?);
            out.extend_from_slice(f.data);
            out.extend_from_slice(padding(f.data.len() as u64));
        }
        out.extend_from_slice(&END_OF_ARCHIVE);
        Ok(out)
    }
}

/// How an archive file is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed (read as a tar).
    None,
    /// gzip (`1f 8b`), possibly several members.
    Gzip,
}

/// Bytes [`Compression::detect`] wants to see (fewer are fine at the end of a short file).
pub const MAGIC_LEN: usize = 6;

impl Compression {
    /// Detect the compression from the first bytes of a file (at least [`MAGIC_LEN`] of them
    /// unless the file is shorter). An empty file, bzip2, xz and zstd are refused.
    pub fn detect(head: &[u8]) -> Result<Self> {
        let unsupported = |what: &str| {
            Err(Error::Archive(format!(
                "{what}-compressed archives are not supported: decompress the file, or use \
                 gzip or a plain tar"
            )))
        };
        match head {
            [] => Err(Error::Archive("the archive is empty".into())),
            [0x1f, 0x8b, ..] => Ok(Self::Gzip),
            [b'B', b'Z', b'h', ..] => unsupported("bzip2"),
            [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => unsupported("xz"),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => unsupported("zstd"),
            _ => Ok(Self::None),
        }
    }
}

/// Does this output path ask for gzip (`.gz` or `.tgz`, any case)?
pub fn gzip_for_path(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gz") || e.eq_ignore_ascii_case("tgz"))
}

fn gzip_error(e: &std::io::Error) -> Error {
    Error::Archive(format!("corrupt or truncated gzip data: {e}"))
}

/// Push-style gzip decoder (multi-member). Each [`decode`](Self::decode) call consumes a prefix
/// of its input and returns at most about 32 KiB of output, so a highly compressed input never
/// balloons in memory; call it until the input is used up.
pub struct GzipDecoder {
    inner: flate2::write::MultiGzDecoder<Vec<u8>>,
    total_in: u64,
}

impl std::fmt::Debug for GzipDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipDecoder")
            .field("total_in", &self.total_in)
            .finish_non_exhaustive()
    }
}

impl Default for GzipDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl GzipDecoder {
    /// A decoder at the start of a gzip stream.
    pub fn new() -> Self {
        Self {
            inner: flate2::write::MultiGzDecoder::new(Vec::new()),
            total_in: 0,
        }
    }

    /// Decode from the start of `input`: returns how many input bytes were used (at least one
    /// when `input` is not empty) and the output they gave (possibly empty).
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Bytes)> {
        if input.is_empty() {
            return Ok((0, Bytes::new()));
        }
        let n = self.inner.write(input).map_err(|e| gzip_error(&e))?;
        if n == 0 {
            return Err(Error::Archive(
                "corrupt gzip data: the decoder made no progress".into(),
            ));
        }
        self.total_in += n as u64;
        Ok((n, Bytes::from(std::mem::take(self.inner.get_mut()))))
    }

    /// The input ended: the last output, or an error if the stream was cut short or its
    /// checksum does not match.
    pub fn finish(&mut self) -> Result<Bytes> {
        self.inner.try_finish().map_err(|e| gzip_error(&e))?;
        Ok(Bytes::from(std::mem::take(self.inner.get_mut())))
    }
}

/// Push-style gzip encoder: feed plain bytes, get compressed bytes.
pub struct GzipEncoder {
    inner: flate2::write::GzEncoder<Vec<u8>>,
}

impl std::fmt::Debug for GzipEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipEncoder").finish_non_exhaustive()
    }
}

impl Default for GzipEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl GzipEncoder {
    /// An encoder at level 6 (gzip's default).
    pub fn new() -> Self {
        Self {
            inner: flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6)),
        }
    }

    /// Compress `data`; returns the compressed bytes ready so far (often none).
    pub fn encode(&mut self, data: &[u8]) -> Result<Bytes> {
        self.inner.write_all(data).map_err(Error::Io)?;
        Ok(Bytes::from(std::mem::take(self.inner.get_mut())))
    }

    /// End the stream: the remaining compressed bytes and the gzip trailer.
    pub fn finish(&mut self) -> Result<Bytes> {
        self.inner.try_finish().map_err(Error::Io)?;
        Ok(Bytes::from(std::mem::take(self.inner.get_mut())))
    }
}

/// Largest `manifest.json` accepted (4 MiB).
pub const MAX_MANIFEST: usize = 4 * 1024 * 1024;
/// Most entries an image archive may have (their names are kept for the final check).
pub const MAX_ARCHIVE_ENTRIES: usize = 200_000;

/// One image of an archive's `manifest.json`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ArchiveImage {
    /// Path of the image config inside the archive.
    #[serde(rename = "Config")]
    pub config: String,
    /// The references the image is loaded under (may be empty).
    #[serde(rename = "RepoTags", deserialize_with = "crate::api::null_default")]
    pub repo_tags: Vec<String>,
    /// Paths of the layer tars inside the archive.
    #[serde(rename = "Layers", deserialize_with = "crate::api::null_default")]
    pub layers: Vec<String>,
}

/// What a complete, consistent image archive holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// The images of `manifest.json` (empty for an OCI layout archive).
    pub images: Vec<ArchiveImage>,
    /// Entries in the tar.
    pub entries: usize,
    /// Bytes of tar read.
    pub bytes: u64,
}

impl ArchiveSummary {
    /// Every reference the archive loads, in manifest order.
    pub fn repo_tags(&self) -> Vec<String> {
        self.images
            .iter()
            .flat_map(|i| i.repo_tags.iter().cloned())
            .collect()
    }
}

fn normalize(path: &str) -> &str {
    let mut p = path;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p.trim_end_matches('/')
}

/// Streaming check of an image archive (`docker save` format, or an OCI layout). Feed the tar
/// bytes in any split with [`feed`](Self::feed), then call [`finish`](Self::finish). Memory:
/// the tar reader's buffer, `manifest.json` (at most [`MAX_MANIFEST`]) and the entry names (at
/// most [`MAX_ARCHIVE_ENTRIES`]).
#[derive(Debug, Default)]
pub struct ArchiveCheck {
    tar: TarReader,
    names: HashSet<String>,
    entries: usize,
    bytes: u64,
    manifest: Option<Vec<u8>>,
    in_manifest: bool,
    ended: bool,
}

impl ArchiveCheck {
    /// A check at the start of an archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Take the next bytes of the tar.
    pub fn feed(&mut self, data: &[u8]) -> Result<()> {
        self.bytes += data.len() as u64;
        self.tar.feed(data);
        self.drain()
    }

    fn drain(&mut self) -> Result<()> {
        while let Some(ev) = self.tar.next_event()? {
            match ev {
                TarEvent::Entry(h) => {
                    self.entries += 1;
                    if self.entries > MAX_ARCHIVE_ENTRIES {
                        return Err(Error::Archive(format!(
                            "more than {MAX_ARCHIVE_ENTRIES} entries: not an image archive"
                        )));
                    }
                    let name = normalize(&h.path).to_string();
                    self.in_manifest = name == "manifest.json" && h.kind == EntryKind::File;
                    if self.in_manifest {
                        if h.size > MAX_MANIFEST as u64 {
                            return Err(Error::Archive(format!(
                                "manifest.json of {} bytes exceeds {MAX_MANIFEST}",
                                h.size
                            )));
                        }
                        self.manifest = Some(Vec::new());
                    }
                    self.names.insert(name);
                }
                TarEvent::Data(d) => {
                    if self.in_manifest {
                        if let Some(m) = self.manifest.as_mut() {
                            if m.len() + d.len() > MAX_MANIFEST {
                                return Err(Error::Archive(format!(
                                    "manifest.json exceeds {MAX_MANIFEST} bytes"
                                )));
                            }
                            m.extend_from_slice(&d);
                        }
                    }
                }
                TarEvent::EntryEnd => self.in_manifest = false,
                TarEvent::End => self.ended = true,
            }
        }
        Ok(())
    }

    /// The archive ended: its summary, or [`Error::Archive`] saying why it is incomplete or not
    /// an image archive.
    pub fn finish(&mut self) -> Result<ArchiveSummary> {
        self.tar.finish();
        self.drain()?;
        if !self.ended || self.entries == 0 {
            return Err(Error::Archive("not a tar archive, or an empty one".into()));
        }
        let images = match &self.manifest {
            Some(raw) => {
                let images: Vec<ArchiveImage> = serde_json::from_slice(raw)
                    .map_err(|e| Error::Archive(format!("manifest.json is not valid JSON: {e}")))?;
                if images.is_empty() {
                    return Err(Error::Archive("manifest.json lists no image".into()));
                }
                for image in &images {
                    if image.config.is_empty() {
                        return Err(Error::Archive(
                            "manifest.json has an image without a config".into(),
                        ));
                    }
                    for part in std::iter::once(&image.config).chain(&image.layers) {
                        if !self.names.contains(normalize(part)) {
                            return Err(Error::Archive(format!(
                                "archive truncated or incomplete: {part} (named in \
                                 manifest.json) is missing"
                            )));
                        }
                    }
                }
                images
            }
            None if self.names.contains("index.json") && self.names.contains("oci-layout") => {
                Vec::new()
            }
            None => {
                return Err(Error::Archive(
                    "archive truncated or not an image archive: no manifest.json (make one \
                     with `pocketdock export` or `docker save`)"
                        .into(),
                ))
            }
        };
        Ok(ArchiveSummary {
            images,
            entries: self.entries,
            bytes: self.bytes,
        })
    }
}

/// A validated multi-image export: the de-duplicated names, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPlan {
    names: Vec<String>,
}

impl ExportPlan {
    /// Check the names (at least one; no empty names, whitespace or control characters) and
    /// drop repeats.
    pub fn new<S: AsRef<str>>(images: &[S]) -> Result<Self> {
        if images.is_empty() {
            return Err(Error::invalid(
                "images",
                "name at least one image to export",
            ));
        }
        let mut names: Vec<String> = Vec::new();
        for image in images {
            let image = image.as_ref();
            if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Error::invalid(
                    "images",
                    format!("{image:?} is not an image reference"),
                ));
            }
            if !names.iter().any(|n| n == image) {
                names.push(image.to_string());
            }
        }
        Ok(Self { names })
    }

    /// The names to save.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// `GET /images/get?names=..` for every name: one archive holding them all.
    pub fn request(&self) -> Request {
        crate::api::images::save(&self.names)
    }
}

/// Deadline of a whole build (context upload and every step).
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(2 * 3600);
/// Deadline of a whole export or import.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(3600);

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tar::header_for_symlink;

    fn file(path: &str, data: &[u8]) -> Vec<u8> {
        let mut out = header_for_file(path, data.len() as u64, &context_meta(0o644, 0))
            .unwrap_or_else(|e| panic!("{e}"));
        out.extend_from_slice(data);
        out.extend_from_slice(padding(data.len() as u64));
        out
    }

    fn image_archive(manifest_first: bool) -> Vec<u8> {
        let manifest = br#"[{"Config":"c1.json","RepoTags":["a:latest"],"Layers":["l1/layer.tar"]},
            {"Config":"c2.json","RepoTags":["b:1","b:2"],"Layers":["l1/layer.tar","l2/layer.tar"]}]"#;
        let mut a = Vec::new();
        if manifest_first {
            a.extend(file("manifest.json", manifest));
        }
        a.extend(header_for_dir("l1", &context_meta(0o755, 0)).unwrap_or_default());
        a.extend(file("l1/layer.tar", &[7u8; 3000]));
        a.extend(file("c1.json", b"{}"));
        a.extend(
            header_for_symlink("l2/layer.tar", "../l1/layer.tar", &context_meta(0o777, 0))
                .unwrap_or_default(),
        );
        a.extend(file("c2.json", b"{}"));
        if !manifest_first {
            a.extend(file("./manifest.json", manifest));
        }
        a.extend(file("repositories", b"{}"));
        a.extend_from_slice(&END_OF_ARCHIVE);
        a
    }

    fn check(data: &[u8], split: usize) -> Result<ArchiveSummary> {
        let mut c = ArchiveCheck::new();
        for piece in data.chunks(split.max(1)) {
            c.feed(piece)?;
        }
        c.finish()
    }

    #[test]
    fn complete_archives_pass_at_every_split() {
        for first in [false, true] {
            let a = image_archive(first);
            for split in [1, 7, 512, 513, 4096, a.len()] {
                let s = check(&a, split).unwrap_or_else(|e| panic!("split {split}: {e}"));
                assert_eq!(s.repo_tags(), ["a:latest", "b:1", "b:2"]);
                assert_eq!(s.images.len(), 2);
                assert_eq!(s.entries, 7);
                assert_eq!(s.bytes, a.len() as u64);
            }
        }
    }

    #[test]
    fn truncated_archives_fail_at_every_cut() {
        for first in [false, true] {
            let a = image_archive(first);
            // Every cut before the end-of-archive marker fails; cuts inside the marker are fine
            // (the content is complete).
            let marker = a.len() - END_OF_ARCHIVE.len();
            for cut in (0..marker).step_by(97).chain([marker - 1, 1, 511, 512]) {
                let got = check(&a[..cut], 100);
                assert!(
                    matches!(got, Err(Error::Archive(_))),
                    "first={first} cut {cut}: {got:?}"
                );
            }
            assert!(check(&a[..marker], 100).is_ok());
        }
    }

    #[test]
    fn inconsistent_or_foreign_archives_fail() {
        let msg = |r: Result<ArchiveSummary>| match r {
            Err(Error::Archive(m)) => m,
            other => panic!("{other:?}"),
        };
        let mut no_layer = file(
            "manifest.json",
            br#"[{"Config":"c.json","RepoTags":[],"Layers":["x/layer.tar"]}]"#,
        );
        no_layer.extend(file("c.json", b"{}"));
        no_layer.extend_from_slice(&END_OF_ARCHIVE);
        assert!(msg(check(&no_layer, 64)).contains("x/layer.tar"));

        let mut plain = file("hello.txt", b"hi");
        plain.extend_from_slice(&END_OF_ARCHIVE);
        assert!(msg(check(&plain, 64)).contains("no manifest.json"));

        let mut bad_json = file("manifest.json", b"[{");
        bad_json.extend_from_slice(&END_OF_ARCHIVE);
        assert!(msg(check(&bad_json, 64)).contains("not valid JSON"));

        let mut empty_list = file("manifest.json", b"[]");
        empty_list.extend_from_slice(&END_OF_ARCHIVE);
        assert!(msg(check(&empty_list, 64)).contains("no image"));

        assert!(check(&[0u8; 1024], 64).is_err(), "only a marker");
        assert!(check(b"", 64).is_err());
        assert!(check(&[b'x'; 4096], 64).is_err(), "not a tar");

        let mut oci = file("oci-layout", b"{}");
        oci.extend(file("index.json", b"{}"));
        oci.extend_from_slice(&END_OF_ARCHIVE);
        assert!(check(&oci, 64).is_ok_and(|s| s.images.is_empty()));
    }

    #[test]
    fn compression_is_detected_by_content() {
        assert_eq!(
            Compression::detect(&[0x1f, 0x8b, 8, 0]).ok(),
            Some(Compression::Gzip)
        );
        assert_eq!(Compression::detect(b"ustar").ok(), Some(Compression::None));
        assert_eq!(Compression::detect(&[0x1f]).ok(), Some(Compression::None));
        for (head, what) in [
            (&b"BZh91AY"[..], "bzip2"),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0][..], "xz"),
            (&[0x28, 0xb5, 0x2f, 0xfd, 0][..], "zstd"),
        ] {
            match Compression::detect(head) {
                Err(Error::Archive(m)) => assert!(m.starts_with(what), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(Compression::detect(b"").is_err());
        assert!(gzip_for_path(std::path::Path::new("/x/images.tar.gz")));
        assert!(gzip_for_path(std::path::Path::new("a.TGZ")));
        assert!(!gzip_for_path(std::path::Path::new("a.tar")));
        assert!(!gzip_for_path(std::path::Path::new("gz")));
    }

    fn gunzip_all(data: &[u8], split: usize) -> Result<Vec<u8>> {
        let mut d = GzipDecoder::new();
        let mut out = Vec::new();
        for piece in data.chunks(split.max(1)) {
            let mut rest = piece;
            while !rest.is_empty() {
                let (n, o) = d.decode(rest)?;
                assert!(n > 0);
                assert!(o.len() <= 64 * 1024, "bounded output per call");
                out.extend_from_slice(&o);
                rest = rest.get(n..).unwrap_or_default();
            }
        }
        out.extend_from_slice(&d.finish()?);
        Ok(out)
    }

    fn gzip_all(data: &[u8], split: usize) -> Vec<u8> {
        let mut e = GzipEncoder::new();
        let mut out = Vec::new();
        for piece in data.chunks(split.max(1)) {
            out.extend_from_slice(&e.encode(piece).unwrap_or_else(|e| panic!("{e}")));
        }
        out.extend_from_slice(&e.finish().unwrap_or_else(|e| panic!("{e}")));
        out
    }

    #[test]
    fn gzip_round_trips_and_refuses_damage() {
        let plain: Vec<u8> = (0..300_000u32)
            .map(|i| (i % 251) as u8 ^ (i / 7) as u8)
            .collect();
        let gz = gzip_all(&plain, 10_000);
        assert_eq!(Compression::detect(&gz).ok(), Some(Compression::Gzip));
        for split in [1usize, 100, 65536, gz.len()] {
            if split == 1 && gz.len() > 50_000 {
                // byte-by-byte over a shorter prefix member is enough
                continue;
            }
            assert_eq!(gunzip_all(&gz, split).ok().as_deref(), Some(&plain[..]));
        }
        // Two members decode as their concatenation.
        let mut two = gzip_all(b"hello ", 3);
        two.extend(gzip_all(b"world", 2));
        assert_eq!(
            gunzip_all(&two, 1).ok().as_deref(),
            Some(&b"hello world"[..])
        );
        // Truncation anywhere is an error, never a short success.
        for cut in (1..gz.len())
            .step_by(gz.len() / 23)
            .chain([gz.len() - 1, gz.len() - 4])
        {
            assert!(
                matches!(gunzip_all(&gz[..cut], 4096), Err(Error::Archive(_))),
                "cut {cut}"
            );
        }
        // A flipped byte in the data or the checksum is an error.
        for at in [gz.len() / 2, gz.len() - 6] {
            let mut bad = gz.clone();
            bad[at] ^= 0x55;
            assert!(gunzip_all(&bad, 4096).is_err(), "flip at {at}");
        }
        // A zip bomb stays bounded per call.
        let zeros = gzip_all(&vec![0u8; 20 << 20], 1 << 20);
        assert!(zeros.len() < 100_000);
        assert_eq!(
            gunzip_all(&zeros, 8192).map(|v| v.len()).ok(),
            Some(20 << 20)
        );
    }

    #[test]
    fn export_plans() {
        let p = ExportPlan::new(&["a", "b:1", "a"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.names(), ["a", "b:1"]);
        assert_eq!(p.request().target, "/images/get?names=a&names=b%3A1");
        assert!(ExportPlan::new::<&str>(&[]).is_err());
        for bad in ["", "a b", "a\n"] {
            assert!(ExportPlan::new(&[bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn embedded_contexts_are_complete_and_tar_cleanly() {
        assert_eq!(
            embedded_contexts()
                .iter()
                .map(|c| c.profile)
                .collect::<Vec<_>>(),
            crate::profile::list_profiles()
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
        );
        for ctx in embedded_contexts() {
            let df = ctx.dockerfile();
            for needle in [
                "ARG BASE=",
                "FROM ${BASE}",
                "USER sandbox",
                "WORKDIR /home/sandbox",
                "trap 'exit 0' TERM",
            ] {
                assert!(df.contains(needle), "{}: no {needle:?}", ctx.profile);
            }
            let tar = ctx.tar().unwrap_or_else(|e| panic!("{e}"));
            let mut r = TarReader::new();
            r.feed(&tar);
            r.finish();
            let mut paths = Vec::new();
            while let Some(ev) = r.next_event().unwrap_or_else(|e| panic!("{e}")) {
                if let TarEvent::Entry(h) = ev {
                    assert_eq!((h.uid, h.gid, h.mtime), (0, 0, 0));
                    paths.push(h.path);
                }
            }
            assert_eq!(paths.first().map(String::as_str), Some("Dockerfile"));
            if ctx.profile == "minimal-python" {
                assert_eq!(
                    paths,
                    [
                        "Dockerfile",
                        ".dockerignore",
                        "demo/",
                        "demo/README.md",
                        "demo/index.html",
                        "demo/serve.py",
                        "setup/",
                        "setup/system-packages.sh",
                        "setup/python-packages.sh",
                        "setup/sandbox-user.sh",
                    ]
                );
            }
        }
        // Every profile runs the shared setup scripts (one copy, in images/setup/) and makes
        // its sandbox user with them.
        for ctx in embedded_contexts() {
            let df = ctx.dockerfile();
            for needle in [
                "COPY setup/ /tmp/pocketdock-setup/",
                "RUN sh /tmp/pocketdock-setup/sandbox-user.sh && rm -rf /tmp/pocketdock-setup",
                "/tmp/pocketdock-setup/system-packages.sh",
            ] {
                assert!(df.contains(needle), "{}: no {needle:?}", ctx.profile);
            }
        }
        assert!(embedded_context("nope").is_err());
        assert_eq!(embedded_context("dev").map(|c| c.profile).ok(), Some("dev"));
    }

    /// The embedded files are exactly the files of `images/<profile>/` and `images/setup/`
    /// (same bytes, same executable bit).
    #[test]
    fn embedded_contexts_match_the_images_folders() {
        use std::os::unix::fs::PermissionsExt;
        fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<(String, u32)>) {
            let mut entries: Vec<_> = std::fs::read_dir(dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .filter_map(std::result::Result::ok)
                .collect();
            entries.sort_by_key(std::fs::DirEntry::path);
            for e in entries {
                let p = e.path();
                let name = e.file_name().to_string_lossy().to_string();
                // What the contexts' .dockerignore files leave out.
                if name == "__pycache__"
                    || p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pyc"))
                {
                    continue;
                }
                if p.is_dir() {
                    walk(&p, base, out);
                } else {
                    let rel = p
                        .strip_prefix(base)
                        .map(|r| r.to_string_lossy().to_string())
                        .unwrap_or_default();
                    // Git keeps only the executable bit; the rest depends on the umask.
                    let mode = std::fs::metadata(&p).map_or(0, |m| m.permissions().mode());
                    out.push((rel, if mode & 0o100 == 0 { 0o644 } else { 0o755 }));
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../images");
        let mut setup = Vec::new();
        walk(&root.join("setup"), &root, &mut setup);
        assert!(!setup.is_empty());
        for ctx in embedded_contexts() {
            let dir = root.join(ctx.profile);
            let mut on_disk = Vec::new();
            walk(&dir, &dir, &mut on_disk);
            on_disk.extend(setup.iter().cloned());
            on_disk.sort();
            let mut embedded: Vec<(String, u32)> = ctx
                .files
                .iter()
                .map(|f| (f.path.to_string(), f.mode))
                .collect();
            embedded.sort();
            assert_eq!(embedded, on_disk, "{}: embed every file", ctx.profile);
            for f in ctx.files {
                let from = if f.path.starts_with("setup/") {
                    &root
                } else {
                    &dir
                };
                let bytes = std::fs::read(from.join(f.path)).unwrap_or_default();
                assert_eq!(bytes, f.data, "{}/{}", ctx.profile, f.path);
            }
        }
    }
}
