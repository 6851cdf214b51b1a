//! The extraction of a downloaded archive of one container path: [`Extractor`] turns the tar
//! stream into checked [`ExtractAction`]s, streaming, within a byte and an entry cap.

use std::path::PathBuf;

use bytes::Bytes;

use crate::error::{Error, ProtocolError, Result};
use crate::tar::path::components;
use crate::tar::{EntryHeader, EntryKind, ExtractGuard, TarEvent, TarReader};

use super::modes::host_mode;
#[cfg(doc)]
use super::paths::resolve_link;

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
