//! What the image flows take and give: where a build context comes from, the deadlines of a
//! build and of an export or import, and the built image and exported archive.

use std::path::PathBuf;
use std::time::Duration;

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
