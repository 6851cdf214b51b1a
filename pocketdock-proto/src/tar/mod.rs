//! Tar archives without I/O: a push-based reader, header builders, and the path checks that keep
//! host-side extraction inside its destination.
//!
//! * [`reader`]: [`TarReader`] is fed bytes in any split and yields [`TarEvent`]s: an entry's
//!   header, its data in pieces, its end, and the end of the archive. It reads ustar, GNU
//!   (`L`/`K` long names, base-256 numbers) and PAX (`x`/`g`) archives, verifies checksums, never
//!   allocates from a size found in the archive beyond a fixed limit, and reports malformed or
//!   truncated archives as [`crate::Error::Archive`].
//! * [`writer`]: 512-byte headers for files, directories and links, with PAX records for long
//!   paths and large numbers, plus [`padding`] and [`END_OF_ARCHIVE`], so an adapter streams file
//!   contents straight from disk into an upload.
//! * [`path`]: [`safe_join`], link target checks and [`ExtractGuard`] for `pull`, and the
//!   first-component helpers for `docker cp`-like copies.

pub mod path;
pub mod reader;
pub mod writer;

pub use path::{
    check_hardlink_target, check_symlink_target, replace_first_component, safe_join,
    strip_first_component, ExtractGuard, SafeEntry,
};
pub use reader::{TarEvent, TarLimits, TarReader, DEFAULT_MAX_META_SIZE};
pub use writer::{
    header_for_dir, header_for_file, header_for_hardlink, header_for_symlink, padding, EntryMeta,
    END_OF_ARCHIVE,
};

/// Size of a tar block.
pub const BLOCK: usize = 512;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A regular file (type `0`, NUL or `7`); its data follows.
    File,
    /// A directory (type `5`).
    Dir,
    /// A symbolic link (type `2`); see [`EntryHeader::link_target`].
    Symlink,
    /// A hard link to an earlier entry (type `1`); see [`EntryHeader::link_target`].
    Hardlink,
    /// Anything else (devices, FIFOs, vendor types), with its type byte. Device and FIFO entries
    /// carry no data; unknown types carry `size` bytes of data, as in Python's `tarfile`.
    Other(u8),
}

/// The header of one entry, with GNU and PAX extensions already applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryHeader {
    /// The entry's path inside the archive, as written (invalid UTF-8 is replaced by U+FFFD).
    /// Directories usually end with `/`. Check it with [`safe_join`] before using it.
    pub path: String,
    /// What the entry is.
    pub kind: EntryKind,
    /// Permission bits (`mode & 0o7777`).
    pub mode: u32,
    /// Bytes of data that follow this header (0 for directories and links).
    pub size: u64,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u64,
    /// Target of a symlink or hard link.
    pub link_target: Option<String>,
    /// Owner user name (may be empty).
    pub uname: String,
    /// Owner group name (may be empty).
    pub gname: String,
}

/// The fuzz target body: feed `data` to a reader in pieces whose sizes come from the data, and
/// check every entry with an [`ExtractGuard`]. Never panics.
pub(crate) fn fuzz_body(data: &[u8]) {
    let mut reader = TarReader::new();
    let mut guard = ExtractGuard::new(std::path::Path::new("/dest"));
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1) * 7;
    let mut failed = false;
    for piece in data.chunks(step) {
        reader.feed(piece);
        loop {
            match reader.next_event() {
                Ok(Some(TarEvent::Entry(h))) => {
                    let _ = guard.check(&h);
                    let _ = strip_first_component(&h.path);
                }
                Ok(Some(TarEvent::End) | None) => break,
                Ok(Some(_)) => {}
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            return;
        }
    }
    reader.finish();
    while let Ok(Some(ev)) = reader.next_event() {
        if ev == TarEvent::End {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let meta = EntryMeta::default();
        let mut a = Vec::new();
        let long = format!("d/{}", "x".repeat(200));
        for (h, data) in [
            (header_for_dir("d", &meta), &b""[..]),
            (header_for_file("d/f", 5, &meta), b"hello"),
            (header_for_file(&long, 3, &meta), b"abc"),
            (header_for_symlink("d/l", "f", &meta), b""),
            (header_for_hardlink("d/h", "d/f", &meta), b""),
        ] {
            a.extend(h.unwrap_or_default());
            a.extend_from_slice(data);
            a.extend_from_slice(padding(data.len() as u64));
        }
        a.extend_from_slice(&END_OF_ARCHIVE);
        a
    }

    #[test]
    fn fuzz_body_survives_mutations_and_truncations() {
        let base = sample();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for cut in (0..base.len()).step_by(37) {
            crate::fuzzing::fuzz_tar(&base[..cut]);
        }
        for _ in 0..3000 {
            let mut a = base.clone();
            for _ in 0..=(next() % 8) {
                let i = (next() % a.len() as u64) as usize;
                a[i] = next() as u8;
            }
            crate::fuzzing::fuzz_tar(&a);
        }
    }
}
