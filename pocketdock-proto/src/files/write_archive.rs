//! The archives of uploads: the checked target of a `write_file`, its one-file tar, and the
//! directory entries that create the missing parents of any upload inside the archive itself
//! (owned by the default user), so no command runs in the container before the upload.

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::tar::{header_for_dir, header_for_file, padding, EntryMeta, END_OF_ARCHIVE};

use super::modes::container_mode;
use super::options::UPLOAD_CHUNK;
use super::paths::{check_path, split_path};
use super::prepare::{DestKind, Owner, Prepared};

/// Permission bits of a directory an upload creates (what `mkdir -p` gives under the usual
/// `022` umask).
pub const NEW_DIR_MODE: u32 = 0o755;

/// Check the `path` of a `write_file` (absolute, naming a file: not `/`, `.`, `..` or a path
/// ending with `/`) and split it into the directory to upload into and the file's name.
pub fn write_target(path: &str) -> Result<(String, String)> {
    check_path("path", path)?;
    let (parent, name) = split_path(path)
        .filter(|(_, n)| n != "." && n != "..")
        .ok_or_else(|| Error::invalid("path", format!("{path:?} does not name a file")))?;
    if path.ends_with('/') {
        return Err(Error::invalid(
            "path",
            format!("{path:?} ends with '/': it names a directory"),
        ));
    }
    Ok((parent, name))
}

fn meta(mode: u32, owner: Owner, mtime: u64) -> EntryMeta {
    EntryMeta {
        mode,
        mtime,
        uid: owner.uid,
        gid: owner.gid,
        uname: String::new(),
        gname: String::new(),
    }
}

/// `missing` joined as one relative archive path (`["a", "b"]` → `a/b`; none: empty).
pub fn archive_prefix(missing: &[String]) -> String {
    missing.join("/")
}

/// `name` under the relative archive path `prefix`.
pub fn under_prefix(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// The directory entries that create `missing` (the names below the directory the archive is
/// extracted into, outermost first: `["a", "b"]` creates `a/` then `a/b/`), each
/// [`NEW_DIR_MODE`], owned by `owner`, dated `mtime`. The engine extracts as root and would
/// create a missing parent as root; entries of their own give them the default user instead.
pub fn parent_entries(missing: &[String], owner: Owner, mtime: u64) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(missing.len() * 512);
    for depth in 1..=missing.len() {
        let path = archive_prefix(missing.get(..depth).unwrap_or_default());
        out.extend_from_slice(&header_for_dir(&path, &meta(NEW_DIR_MODE, owner, mtime))?);
    }
    Ok(out)
}

/// The archive a `write_file` of `data` to `path` uploads (see [`write_target`]) into the
/// deepest existing directory above it: the entries creating the `missing` directories between
/// that one and the file (see [`parent_entries`]), then one regular file, owned by the default
/// user of `prep`, with the permission bits of the file it replaces (setuid/setgid dropped) or
/// `0644`, dated `mtime`; its total length, and its pieces (at most [`UPLOAD_CHUNK`] of data
/// each) as they are sent. A directory at `path` is [`Error::InvalidInput`].
pub fn write_file_archive<'a>(
    path: &str,
    name: &str,
    missing: &[String],
    data: &'a [u8],
    prep: &Prepared,
    mtime: u64,
) -> Result<(u64, impl Iterator<Item = Bytes> + 'a)> {
    let mode = match prep.kind {
        DestKind::Dir => return Err(Error::invalid("path", format!("{path:?} is a directory"))),
        DestKind::File { mode: Some(m) } => container_mode(m),
        _ => 0o644,
    };
    let owner = Owner {
        uid: prep.uid,
        gid: prep.gid,
    };
    let mut head = parent_entries(missing, owner, mtime)?;
    let size = data.len() as u64;
    head.extend_from_slice(&header_for_file(
        &under_prefix(&archive_prefix(missing), name),
        size,
        &meta(mode, owner, mtime),
    )?);
    let mut tail = padding(size).to_vec();
    tail.extend_from_slice(&END_OF_ARCHIVE);
    let total = (head.len() + data.len() + tail.len()) as u64;
    let pieces = std::iter::once(Bytes::from(head))
        .chain(data.chunks(UPLOAD_CHUNK).map(Bytes::copy_from_slice))
        .chain(std::iter::once(Bytes::from(tail)));
    Ok((total, pieces))
}
