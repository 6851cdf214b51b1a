//! Tar header builders: the adapter writes a header, then the file's bytes, then
//! [`padding`]; after the last entry, [`END_OF_ARCHIVE`].
//!
//! Headers are POSIX ustar. Whatever does not fit a ustar field is also written as a PAX
//! extended header (`x`) just before it: a path that cannot be split into a 155-byte prefix and
//! a 100-byte name, a link target over 100 bytes, a user or group name over 32 bytes, and
//! numbers too large for the octal fields (which then also hold the GNU base-256 form). Both
//! engines (Go's `archive/tar`) read all of this.

use super::BLOCK;
use crate::error::{Error, Result};

/// Two zero blocks: the end of an archive.
pub const END_OF_ARCHIVE: [u8; 2 * BLOCK] = [0; 2 * BLOCK];

static ZEROS: [u8; BLOCK] = [0; BLOCK];

/// Name of the PAX extended headers this writer emits (readers ignore it).
const PAX_NAME: &str = "././@PaxHeader";

/// Owner, permissions and time of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    /// Permission bits (masked with `0o7777`).
    pub mode: u32,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u64,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Owner user name (may be empty).
    pub uname: String,
    /// Owner group name (may be empty).
    pub gname: String,
}

impl Default for EntryMeta {
    /// Mode `0o644`, owned by 0:0 with empty names, mtime 0.
    fn default() -> Self {
        Self {
            mode: 0o644,
            mtime: 0,
            uid: 0,
            gid: 0,
            uname: String::new(),
            gname: String::new(),
        }
    }
}

/// The zero bytes that pad `size` bytes of data to a whole block (0 to 511 bytes).
pub fn padding(size: u64) -> &'static [u8] {
    let pad = ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize;
    ZEROS.get(..pad).unwrap_or_default()
}

/// Header block(s) for a regular file of `size` bytes at `path`.
pub fn header_for_file(path: &str, size: u64, meta: &EntryMeta) -> Result<Vec<u8>> {
    build(b'0', path, None, size, meta)
}

/// Header block(s) for a directory at `path` (a trailing `/` is added if missing).
pub fn header_for_dir(path: &str, meta: &EntryMeta) -> Result<Vec<u8>> {
    let path = if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    };
    build(b'5', &path, None, 0, meta)
}

/// Header block(s) for a symbolic link at `path` pointing to `target`.
pub fn header_for_symlink(path: &str, target: &str, meta: &EntryMeta) -> Result<Vec<u8>> {
    build(b'2', path, Some(target), 0, meta)
}

/// Header block(s) for a hard link at `path` to the earlier entry `target`.
pub fn header_for_hardlink(path: &str, target: &str, meta: &EntryMeta) -> Result<Vec<u8>> {
    build(b'1', path, Some(target), 0, meta)
}

/// Largest value of an octal field of `len` bytes (`len - 1` digits and a NUL).
fn octal_max(len: usize) -> u64 {
    (1u64 << (3 * (len as u32 - 1))) - 1
}

/// Split `path` into a ustar (prefix, name) if it fits.
fn ustar_split(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.len() <= 100 {
        return Some((&[], path));
    }
    if path.len() > 256 {
        return None;
    }
    // The prefix is everything before a '/', at most 155 bytes; the name the rest, 1..=100.
    path.iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'/' && i <= 155)
        .map(|(i, _)| i)
        .find(|&i| {
            let name_len = path.len() - i - 1;
            (1..=100).contains(&name_len)
        })
        .and_then(|i| Some((path.get(..i)?, path.get(i + 1..)?)))
}

fn build(
    typeflag: u8,
    path: &str,
    link: Option<&str>,
    size: u64,
    meta: &EntryMeta,
) -> Result<Vec<u8>> {
    if path.is_empty() {
        return Err(Error::invalid("archive path", "must not be empty"));
    }
    if path.contains('\0') || link.is_some_and(|l| l.contains('\0')) {
        return Err(Error::invalid("archive path", "must not contain NUL"));
    }
    if link.is_some_and(str::is_empty) {
        return Err(Error::invalid("link target", "must not be empty"));
    }
    let mut pax: Vec<(&str, String)> = Vec::new();
    let split = ustar_split(path.as_bytes());
    if split.is_none() {
        pax.push(("path", path.to_string()));
    }
    if let Some(l) = link {
        if l.len() > 100 {
            pax.push(("linkpath", l.to_string()));
        }
    }
    if size > octal_max(12) {
        pax.push(("size", size.to_string()));
    }
    if meta.uid > octal_max(8) {
        pax.push(("uid", meta.uid.to_string()));
    }
    if meta.gid > octal_max(8) {
        pax.push(("gid", meta.gid.to_string()));
    }
    if meta.mtime > octal_max(12) {
        pax.push(("mtime", meta.mtime.to_string()));
    }
    if meta.uname.len() > 32 {
        pax.push(("uname", meta.uname.clone()));
    }
    if meta.gname.len() > 32 {
        pax.push(("gname", meta.gname.clone()));
    }

    let mut out = Vec::with_capacity(3 * BLOCK);
    if !pax.is_empty() {
        let body = pax_body(&pax);
        let pax_meta = EntryMeta {
            mode: 0o644,
            mtime: 0,
            uid: 0,
            gid: 0,
            uname: String::new(),
            gname: String::new(),
        };
        out.extend(block(
            b'x',
            (&[], PAX_NAME.as_bytes()),
            &[],
            body.len() as u64,
            &pax_meta,
        )?);
        out.extend_from_slice(&body);
        out.extend_from_slice(padding(body.len() as u64));
    }
    let bytes = path.as_bytes();
    let (prefix, name) = split.unwrap_or((&[], bytes.get(..100).unwrap_or(bytes)));
    let link = link.map_or(&[][..], |l| {
        let b = l.as_bytes();
        b.get(..100).unwrap_or(b)
    });
    out.extend(block(typeflag, (prefix, name), link, size, meta)?);
    Ok(out)
}

/// PAX records `"%d %s=%s\n"`, where the length counts the whole record including itself.
fn pax_body(records: &[(&str, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let rest = k.len() + v.len() + 3; // ' ', '=', '\n'
        let mut len = rest + 1;
        while len.to_string().len() + rest != len {
            len += 1;
        }
        out.extend_from_slice(format!("{len} {k}={v}\n").as_bytes());
    }
    out
}

/// Write `v` into an octal field, or base-256 when it does not fit.
fn put_number(field: &mut [u8], v: u64) {
    let len = field.len();
    if v <= octal_max(len) {
        let s = format!("{v:0width$o}", width = len - 1);
        for (dst, src) in field.iter_mut().zip(s.bytes()) {
            *dst = src;
        }
        if let Some(last) = field.last_mut() {
            *last = 0;
        }
    } else {
        field.fill(0);
        let bytes = v.to_be_bytes();
        let n = bytes.len().min(len - 1);
        let start = len - n;
        for (dst, src) in field.iter_mut().skip(start).zip(bytes.iter().skip(8 - n)) {
            *dst = *src;
        }
        if let Some(first) = field.first_mut() {
            *first = 0x80;
        }
    }
}

fn put_bytes(field: &mut [u8], src: &[u8]) {
    for (dst, s) in field.iter_mut().zip(src) {
        *dst = *s;
    }
}

/// One ustar header block.
fn block(
    typeflag: u8,
    (prefix, name): (&[u8], &[u8]),
    link: &[u8],
    size: u64,
    meta: &EntryMeta,
) -> Result<[u8; BLOCK]> {
    let mut b = [0u8; BLOCK];
    let mut set = |start: usize, len: usize, f: &dyn Fn(&mut [u8])| {
        if let Some(field) = b.get_mut(start..start + len) {
            f(field);
        }
    };
    set(0, 100, &|f| put_bytes(f, name));
    set(100, 8, &|f| put_number(f, u64::from(meta.mode & 0o7777)));
    set(108, 8, &|f| put_number(f, meta.uid));
    set(116, 8, &|f| put_number(f, meta.gid));
    set(124, 12, &|f| put_number(f, size));
    set(136, 12, &|f| put_number(f, meta.mtime));
    set(148, 8, &|f| f.fill(b' '));
    set(156, 1, &|f| f.fill(typeflag));
    set(157, 100, &|f| put_bytes(f, link));
    set(257, 6, &|f| put_bytes(f, b"ustar\0"));
    set(263, 2, &|f| put_bytes(f, b"00"));
    set(265, 32, &|f| {
        put_bytes(
            f,
            meta.uname
                .as_bytes()
                .get(..32)
                .unwrap_or(meta.uname.as_bytes()),
        );
    });
    set(297, 32, &|f| {
        put_bytes(
            f,
            meta.gname
                .as_bytes()
                .get(..32)
                .unwrap_or(meta.gname.as_bytes()),
        );
    });
    set(329, 8, &|f| put_number(f, 0));
    set(337, 8, &|f| put_number(f, 0));
    set(345, 155, &|f| put_bytes(f, prefix));
    let sum: u64 = b.iter().map(|&x| u64::from(x)).sum();
    let cks = format!("{sum:06o}\0 ");
    if let Some(f) = b.get_mut(148..156) {
        f.copy_from_slice(
            cks.as_bytes()
                .get(..8)
                .ok_or_else(|| Error::Archive("checksum".into()))?,
        );
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_sizes() {
        assert_eq!(padding(0).len(), 0);
        assert_eq!(padding(1).len(), 511);
        assert_eq!(padding(512).len(), 0);
        assert_eq!(padding(513).len(), 511);
        assert_eq!(padding(1000).len(), 24);
        assert_eq!(END_OF_ARCHIVE.len(), 1024);
    }

    #[test]
    fn short_file_header_is_one_ustar_block() {
        let h = header_for_file("dir/a.txt", 5, &EntryMeta::default()).unwrap_or_default();
        assert_eq!(h.len(), 512);
        assert_eq!(&h[..9], b"dir/a.txt");
        assert_eq!(&h[100..108], b"0000644\0");
        assert_eq!(&h[124..136], b"00000000005\0");
        assert_eq!(h[156], b'0');
        assert_eq!(&h[257..265], b"ustar\x0000");
        // checksum: sum with the field as spaces
        let mut copy = h.clone();
        copy[148..156].fill(b' ');
        let sum: u64 = copy.iter().map(|&x| u64::from(x)).sum();
        assert_eq!(&h[148..156], format!("{sum:06o}\0 ").as_bytes());
    }

    #[test]
    fn long_paths_use_prefix_then_pax() {
        let p = format!("{}/{}", "a".repeat(150), "b".repeat(99));
        let h = header_for_file(&p, 0, &EntryMeta::default()).unwrap_or_default();
        assert_eq!(h.len(), 512, "fits prefix + name");
        assert_eq!(&h[345..495], "a".repeat(150).as_bytes());
        let p = "c".repeat(300);
        let h = header_for_file(&p, 0, &EntryMeta::default()).unwrap_or_default();
        assert_eq!(h.len(), 512 * 3, "pax header, its data block, the header");
        assert_eq!(h[156], b'x');
        let h = header_for_dir("d", &EntryMeta::default()).unwrap_or_default();
        assert_eq!(&h[..2], b"d/");
        assert_eq!(h[156], b'5');
    }

    #[test]
    fn pax_lengths_are_self_consistent() {
        for n in [1usize, 5, 90, 95, 96, 97, 990, 995, 1000] {
            let body = pax_body(&[("path", "x".repeat(n))]);
            let s = String::from_utf8(body.clone()).unwrap_or_default();
            let (len, _) = s.split_once(' ').unwrap_or_default();
            assert_eq!(len.parse::<usize>().ok(), Some(body.len()), "n={n}");
        }
    }

    #[test]
    fn invalid_input() {
        let m = EntryMeta::default();
        assert!(header_for_file("", 0, &m).is_err());
        assert!(header_for_file("a\0b", 0, &m).is_err());
        assert!(header_for_symlink("a", "", &m).is_err());
        assert!(header_for_hardlink("a", "b\0", &m).is_err());
    }

    #[test]
    fn base256_for_huge_numbers() {
        let mut f = [0u8; 8];
        put_number(&mut f, 1 << 40);
        assert_eq!(f[0], 0x80);
        assert_eq!(
            crate::tar::reader::parse_number(&f, "x").ok(),
            Some(1 << 40)
        );
        let mut f = [0u8; 12];
        put_number(&mut f, u64::MAX);
        assert_eq!(
            crate::tar::reader::parse_number(&f, "x").ok(),
            Some(u64::MAX)
        );
    }
}
