//! The check of an image archive (`docker save` format) while it streams: every tar header, a
//! complete archive, and every config and layer `manifest.json` names present.

use std::collections::HashSet;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::tar::{EntryKind, TarEvent, TarReader};

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
