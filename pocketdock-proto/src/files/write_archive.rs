//! `write_file`: the checked target path and the one-entry tar archive uploaded into its parent.

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::tar::{header_for_file, padding, EntryMeta, END_OF_ARCHIVE};

use super::modes::container_mode;
use super::options::UPLOAD_CHUNK;
use super::paths::{check_path, split_path};
use super::prepare::{DestKind, Prepared};

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

/// The archive a `write_file` of `data` to `path` uploads into its parent directory (see
/// [`write_target`]): one regular file `name`, owned by the default user of `prep`, with the
/// permission bits of the file it replaces (setuid/setgid dropped) or `0644`, dated `mtime`;
/// its total length, and its pieces (at most [`UPLOAD_CHUNK`] of data each) as they are sent.
/// A directory at `path` is [`Error::InvalidInput`].
pub fn write_file_archive<'a>(
    path: &str,
    name: &str,
    data: &'a [u8],
    prep: &Prepared,
    mtime: u64,
) -> Result<(u64, impl Iterator<Item = Bytes> + 'a)> {
    let mode = match prep.kind {
        DestKind::Dir => return Err(Error::invalid("path", format!("{path:?} is a directory"))),
        DestKind::File { mode: Some(m) } => container_mode(m),
        _ => 0o644,
    };
    let meta = EntryMeta {
        mode,
        mtime,
        uid: prep.uid,
        gid: prep.gid,
        uname: String::new(),
        gname: String::new(),
    };
    let size = data.len() as u64;
    let header = header_for_file(name, size, &meta)?;
    let mut tail = padding(size).to_vec();
    tail.extend_from_slice(&END_OF_ARCHIVE);
    let total = (header.len() + data.len() + tail.len()) as u64;
    let pieces = std::iter::once(Bytes::from(header))
        .chain(data.chunks(UPLOAD_CHUNK).map(Bytes::copy_from_slice))
        .chain(std::iter::once(Bytes::from(tail)));
    Ok((total, pieces))
}
