//! Push-based tar reader.
//!
//! ```text
//! reader.feed(bytes);                      // any split, as the bytes arrive
//! while let Some(ev) = reader.next_event()? {
//!     Entry(header) -> Data(bytes)* -> EntryEnd    // for every entry
//!     End                                          // two zero blocks (or EOF between entries)
//! }
//! reader.finish();                         // at EOF: next_event() then reports truncation
//! ```
//!
//! Decisions:
//!
//! * End of archive is two zero blocks. EOF at an entry boundary without them (or after one zero
//!   block) is accepted as the end, like GNU tar, Go and Python; EOF anywhere else (inside a
//!   header, data, padding, or after a GNU/PAX metadata header) is an error.
//! * A zero block followed by a non-zero block is an error (as in Go's `archive/tar`).
//! * Data follows regular files and unknown types only; for directories, links, devices and
//!   FIFOs the size field is ignored (Python's `tarfile` rule).
//! * GNU long names/links and PAX headers are collected in memory, each at most
//!   [`TarLimits::max_meta_size`] bytes (64 KiB by default); a larger one is an error before
//!   anything is allocated. Entry data is handed out as it arrives, whatever size the header
//!   declares. Data after the end of the archive is ignored.
//! * PAX keys applied: `path`, `linkpath`, `size`, `uid`, `gid`, `mtime` (fraction dropped),
//!   `uname`, `gname`; `x` applies to the next entry, `g` to all later entries; `x` wins over a
//!   GNU long name, which wins over `g`.

use bytes::{Bytes, BytesMut};

use super::{EntryHeader, EntryKind, BLOCK};
use crate::error::{Error, Result};

/// Default bound on one GNU long name/link or PAX header: 64 KiB.
pub const DEFAULT_MAX_META_SIZE: usize = 64 * 1024;

/// Limits of a [`TarReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TarLimits {
    /// Largest GNU long name/link or PAX extended header accepted.
    pub max_meta_size: usize,
}

impl Default for TarLimits {
    fn default() -> Self {
        Self {
            max_meta_size: DEFAULT_MAX_META_SIZE,
        }
    }
}

/// What the reader found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarEvent {
    /// The header of the next entry.
    Entry(EntryHeader),
    /// A piece of the current entry's data.
    Data(Bytes),
    /// The current entry's data is complete.
    EntryEnd,
    /// The end of the archive. Later calls return `Ok(None)`.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetaKind {
    LongName,
    LongLink,
    Pax,
    PaxGlobal,
}

#[derive(Debug)]
enum State {
    /// Expecting a header block; `zero_seen` after one zero block.
    Header { zero_seen: bool },
    /// Inside an entry's data.
    Data { remaining: u64, pad: u64 },
    /// Collecting a metadata entry.
    Meta {
        kind: MetaKind,
        remaining: usize,
        pad: usize,
        buf: Vec<u8>,
    },
    /// Skipping padding, then a header.
    Skip { remaining: u64 },
    /// `End` was returned.
    Done,
    /// An error was returned; it is returned again.
    Failed(String),
}

/// PAX or GNU values that override header fields.
#[derive(Debug, Clone, Default)]
struct Overrides {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<u64>,
    uname: Option<Vec<u8>>,
    gname: Option<Vec<u8>>,
}

impl Overrides {
    fn is_empty(&self) -> bool {
        self.path.is_none()
            && self.linkpath.is_none()
            && self.size.is_none()
            && self.uid.is_none()
            && self.gid.is_none()
            && self.mtime.is_none()
            && self.uname.is_none()
            && self.gname.is_none()
    }
}

/// Incremental tar reader (see the module documentation).
#[derive(Debug)]
pub struct TarReader {
    limits: TarLimits,
    buf: BytesMut,
    state: State,
    eof: bool,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Overrides,
    global: Overrides,
}

impl Default for TarReader {
    fn default() -> Self {
        Self::new()
    }
}

fn archive(msg: impl Into<String>) -> Error {
    Error::Archive(msg.into())
}

impl TarReader {
    /// A reader with the default limits.
    pub fn new() -> Self {
        Self::with_limits(TarLimits::default())
    }

    /// A reader with explicit limits.
    pub fn with_limits(limits: TarLimits) -> Self {
        Self {
            limits,
            buf: BytesMut::new(),
            state: State::Header { zero_seen: false },
            eof: false,
            long_name: None,
            long_link: None,
            pax: Overrides::default(),
            global: Overrides::default(),
        }
    }

    /// Add bytes of the archive. Ignored after the end of the archive.
    pub fn feed(&mut self, data: &[u8]) {
        if matches!(self.state, State::Done | State::Failed(_)) {
            return;
        }
        self.buf.extend_from_slice(data);
    }

    /// The input ended. [`TarReader::next_event`] then returns the remaining events and an
    /// error if the archive was cut short.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// True once [`TarEvent::End`] was returned.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The next event; `Ok(None)` when more input is needed (or after `End`).
    pub fn next_event(&mut self) -> Result<Option<TarEvent>> {
        match self.step() {
            Err(Error::Archive(msg)) => {
                self.state = State::Failed(msg.clone());
                Err(Error::Archive(msg))
            }
            other => other,
        }
    }

    fn pending_meta(&self) -> bool {
        self.long_name.is_some() || self.long_link.is_some() || !self.pax.is_empty()
    }

    fn step(&mut self) -> Result<Option<TarEvent>> {
        loop {
            match &mut self.state {
                State::Done => return Ok(None),
                State::Failed(msg) => return Err(archive(msg.clone())),
                State::Header { zero_seen } => {
                    let zero_seen = *zero_seen;
                    if self.buf.len() < BLOCK {
                        if !self.eof {
                            return Ok(None);
                        }
                        if self.buf.is_empty() && !self.pending_meta() {
                            self.state = State::Done;
                            return Ok(Some(TarEvent::End));
                        }
                        if self.buf.is_empty() {
                            return Err(archive("archive ends after an extended header"));
                        }
                        return Err(archive(format!(
                            "archive truncated inside a header ({} of {BLOCK} bytes)",
                            self.buf.len()
                        )));
                    }
                    let block = self.buf.split_to(BLOCK);
                    if block.iter().all(|&b| b == 0) {
                        if zero_seen {
                            if self.pending_meta() {
                                return Err(archive("archive ends after an extended header"));
                            }
                            self.state = State::Done;
                            return Ok(Some(TarEvent::End));
                        }
                        self.state = State::Header { zero_seen: true };
                        continue;
                    }
                    if zero_seen {
                        return Err(archive("a header follows a single zero block"));
                    }
                    if let Some(ev) = self.header(&block)? {
                        return Ok(Some(ev));
                    }
                }
                State::Data { remaining, pad } => {
                    if *remaining == 0 {
                        let pad = *pad;
                        self.state = State::Skip { remaining: pad };
                        return Ok(Some(TarEvent::EntryEnd));
                    }
                    if self.buf.is_empty() {
                        if self.eof {
                            return Err(archive(format!(
                                "archive truncated inside entry data ({remaining} bytes missing)"
                            )));
                        }
                        return Ok(None);
                    }
                    let n = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(self.buf.len());
                    *remaining -= n as u64;
                    return Ok(Some(TarEvent::Data(self.buf.split_to(n).freeze())));
                }
                State::Skip { remaining } => {
                    let n = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(self.buf.len());
                    let _ = self.buf.split_to(n);
                    *remaining -= n as u64;
                    if *remaining > 0 {
                        if self.eof {
                            return Err(archive("archive truncated inside padding"));
                        }
                        return Ok(None);
                    }
                    self.state = State::Header { zero_seen: false };
                }
                State::Meta {
                    kind,
                    remaining,
                    pad,
                    buf,
                } => {
                    let n = (*remaining).min(self.buf.len());
                    buf.extend_from_slice(self.buf.get(..n).unwrap_or_default());
                    let _ = self.buf.split_to(n);
                    *remaining -= n;
                    if *remaining > 0 {
                        if self.eof {
                            return Err(archive("archive truncated inside an extended header"));
                        }
                        return Ok(None);
                    }
                    let (kind, pad, data) = (*kind, *pad, std::mem::take(buf));
                    self.apply_meta(kind, &data)?;
                    self.state = State::Skip {
                        remaining: pad as u64,
                    };
                }
            }
        }
    }

    /// Handle a non-zero header block: metadata switches state and returns `None`; a real entry
    /// returns its `Entry` event.
    #[expect(clippy::too_many_lines, reason = "one header block, field by field")]
    fn header(&mut self, block: &[u8]) -> Result<Option<TarEvent>> {
        verify_checksum(block)?;
        let typeflag = block.get(156).copied().unwrap_or(0);
        let header_size = parse_number(field(block, 124, 12), "size")?;
        let meta = match typeflag {
            b'L' => Some(MetaKind::LongName),
            b'K' => Some(MetaKind::LongLink),
            b'x' => Some(MetaKind::Pax),
            b'g' => Some(MetaKind::PaxGlobal),
            _ => None,
        };
        if let Some(kind) = meta {
            let max = self.limits.max_meta_size;
            let size = usize::try_from(header_size)
                .ok()
                .filter(|&s| s <= max)
                .ok_or_else(|| {
                    archive(format!(
                        "extended header of {header_size} bytes exceeds the {max}-byte limit"
                    ))
                })?;
            self.state = State::Meta {
                kind,
                remaining: size,
                pad: pad_len(size as u64) as usize,
                buf: Vec::with_capacity(size),
            };
            return Ok(None);
        }

        let magic = field(block, 257, 8);
        let is_posix_ustar = magic.get(..6) == Some(b"ustar\0");
        let mut raw_path = cstr(field(block, 0, 100)).to_vec();
        if is_posix_ustar {
            let prefix = cstr(field(block, 345, 155));
            if !prefix.is_empty() {
                let mut p = prefix.to_vec();
                p.push(b'/');
                p.extend_from_slice(&raw_path);
                raw_path = p;
            }
        }
        let mut header_link = cstr(field(block, 157, 100)).to_vec();
        let mut uname = cstr(field(block, 265, 32)).to_vec();
        let mut gname = cstr(field(block, 297, 32)).to_vec();
        let mut mode = parse_number(field(block, 100, 8), "mode")?;
        let mut uid = parse_number(field(block, 108, 8), "uid")?;
        let mut gid = parse_number(field(block, 116, 8), "gid")?;
        let mut mtime = parse_number(field(block, 136, 12), "mtime")?;
        let mut size = header_size;

        // Precedence: header < global PAX < GNU long name/link < per-entry PAX.
        let global = self.global.clone();
        let pax = std::mem::take(&mut self.pax);
        let long_name = self.long_name.take();
        let long_link = self.long_link.take();
        for o in [Some(&global), None, Some(&pax)] {
            let Some(o) = o else {
                if let Some(n) = &long_name {
                    raw_path.clone_from(n);
                }
                if let Some(l) = &long_link {
                    header_link.clone_from(l);
                }
                continue;
            };
            if let Some(v) = &o.path {
                raw_path.clone_from(v);
            }
            if let Some(v) = &o.linkpath {
                header_link.clone_from(v);
            }
            if let Some(v) = o.size {
                size = v;
            }
            if let Some(v) = o.uid {
                uid = v;
            }
            if let Some(v) = o.gid {
                gid = v;
            }
            if let Some(v) = o.mtime {
                mtime = v;
            }
            if let Some(v) = &o.uname {
                uname.clone_from(v);
            }
            if let Some(v) = &o.gname {
                gname.clone_from(v);
            }
        }

        let path = String::from_utf8_lossy(&raw_path).into_owned();
        if path.is_empty() {
            return Err(archive("entry with an empty path"));
        }
        let kind = match typeflag {
            0 if path.ends_with('/') => EntryKind::Dir,
            0 | b'0' | b'7' => EntryKind::File,
            b'1' => EntryKind::Hardlink,
            b'2' => EntryKind::Symlink,
            b'5' => EntryKind::Dir,
            other => EntryKind::Other(other),
        };
        let has_data = !matches!(
            kind,
            EntryKind::Dir
                | EntryKind::Symlink
                | EntryKind::Hardlink
                | EntryKind::Other(b'3' | b'4' | b'6')
        );
        if !has_data {
            size = 0;
        }
        let link_target = match kind {
            EntryKind::Symlink | EntryKind::Hardlink => {
                if header_link.is_empty() {
                    return Err(archive(format!("link {path:?} has no target")));
                }
                Some(String::from_utf8_lossy(&header_link).into_owned())
            }
            _ => None,
        };
        mode &= 0o7777;
        self.state = State::Data {
            remaining: size,
            pad: pad_len(size),
        };
        Ok(Some(TarEvent::Entry(EntryHeader {
            path,
            kind,
            mode: mode as u32,
            size,
            uid,
            gid,
            mtime,
            link_target,
            uname: String::from_utf8_lossy(&uname).into_owned(),
            gname: String::from_utf8_lossy(&gname).into_owned(),
        })))
    }

    fn apply_meta(&mut self, kind: MetaKind, data: &[u8]) -> Result<()> {
        match kind {
            MetaKind::LongName => self.long_name = Some(cstr(data).to_vec()),
            MetaKind::LongLink => self.long_link = Some(cstr(data).to_vec()),
            MetaKind::Pax => parse_pax(data, &mut self.pax)?,
            MetaKind::PaxGlobal => parse_pax(data, &mut self.global)?,
        }
        Ok(())
    }
}

/// Padding after `size` bytes of data.
fn pad_len(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

fn field(block: &[u8], start: usize, len: usize) -> &[u8] {
    block.get(start..start + len).unwrap_or_default()
}

/// Bytes up to the first NUL.
fn cstr(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    b.get(..end).unwrap_or_default()
}

/// An octal (or GNU base-256) numeric field.
pub(crate) fn parse_number(f: &[u8], name: &str) -> Result<u64> {
    if let Some(&first) = f.first() {
        if first & 0x80 != 0 {
            if first != 0x80 {
                return Err(archive(format!("negative or malformed base-256 {name}")));
            }
            let mut v: u64 = 0;
            for &b in f.get(1..).unwrap_or_default() {
                if v > (u64::MAX >> 8) {
                    return Err(archive(format!("{name} overflows")));
                }
                v = (v << 8) | u64::from(b);
            }
            return Ok(v);
        }
    }
    let trimmed: &[u8] = {
        let start = f
            .iter()
            .position(|&c| c != b' ' && c != 0)
            .unwrap_or(f.len());
        let rest = f.get(start..).unwrap_or_default();
        let end = rest
            .iter()
            .position(|&c| c == b' ' || c == 0)
            .unwrap_or(rest.len());
        rest.get(..end).unwrap_or_default()
    };
    let mut v: u64 = 0;
    for &c in trimmed {
        if !(b'0'..=b'7').contains(&c) {
            return Err(archive(format!("invalid octal digit in {name}")));
        }
        v = v
            .checked_mul(8)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or_else(|| archive(format!("{name} overflows")))?;
    }
    Ok(v)
}

#[expect(
    clippy::cast_possible_wrap,
    reason = "the signed checksum reads every byte as an i8, as some tar writers did"
)]
fn verify_checksum(block: &[u8]) -> Result<()> {
    let stored = parse_number(field(block, 148, 8), "checksum")?;
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    if stored == unsigned || i64::try_from(stored).ok() == Some(signed) {
        Ok(())
    } else {
        Err(archive(format!(
            "header checksum mismatch (stored {stored}, computed {unsigned})"
        )))
    }
}

/// Parse PAX records (`"%d %s=%s\n"`) into `into`.
fn parse_pax(data: &[u8], into: &mut Overrides) -> Result<()> {
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let sp = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| archive("malformed PAX record (no length)"))?;
        let len: usize = std::str::from_utf8(rest.get(..sp).unwrap_or_default())
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| archive("malformed PAX record length"))?;
        if len <= sp + 1 || len > rest.len() {
            return Err(archive("PAX record length out of range"));
        }
        let record = rest.get(sp + 1..len).unwrap_or_default();
        rest = rest.get(len..).unwrap_or_default();
        let Some((&b'\n', kv)) = record.split_last() else {
            return Err(archive("PAX record does not end with a newline"));
        };
        let eq = kv
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| archive("PAX record without '='"))?;
        let key = kv.get(..eq).unwrap_or_default();
        let value = kv.get(eq + 1..).unwrap_or_default();
        let num = |what: &str| -> Result<Option<u64>> {
            if value.is_empty() {
                return Ok(None);
            }
            let text =
                std::str::from_utf8(value).map_err(|_| archive(format!("bad PAX {what}")))?;
            let int = text.split('.').next().unwrap_or_default();
            if text.starts_with('-') {
                return Ok(Some(0));
            }
            int.parse::<u64>()
                .map(Some)
                .map_err(|_| archive(format!("bad PAX {what}: {text:?}")))
        };
        let bytes = || (!value.is_empty()).then(|| value.to_vec());
        match key {
            b"path" => into.path = bytes(),
            b"linkpath" => into.linkpath = bytes(),
            b"size" => into.size = num("size")?,
            b"uid" => into.uid = num("uid")?,
            b"gid" => into.gid = num("gid")?,
            b"mtime" => into.mtime = num("mtime")?,
            b"uname" => into.uname = bytes(),
            b"gname" => into.gname = bytes(),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tar::writer::{
        header_for_dir, header_for_file, header_for_hardlink, header_for_symlink, padding,
        EntryMeta, END_OF_ARCHIVE,
    };

    /// Events with Data pieces merged, or the error.
    fn read_all(archive: &[u8], step: usize) -> Result<Vec<TarEvent>> {
        let mut r = TarReader::new();
        let mut events: Vec<TarEvent> = Vec::new();
        let push = |ev: TarEvent, events: &mut Vec<TarEvent>| match (events.last_mut(), ev) {
            (Some(TarEvent::Data(prev)), TarEvent::Data(d)) => {
                let mut m = prev.to_vec();
                m.extend_from_slice(&d);
                *prev = Bytes::from(m);
            }
            (_, ev) => events.push(ev),
        };
        for piece in archive.chunks(step.max(1)) {
            r.feed(piece);
            while let Some(ev) = r.next_event()? {
                push(ev, &mut events);
            }
        }
        r.finish();
        while let Some(ev) = r.next_event()? {
            push(ev, &mut events);
        }
        Ok(events)
    }

    fn meta() -> EntryMeta {
        EntryMeta {
            mode: 0o755,
            mtime: 1_700_000_000,
            uid: 1000,
            gid: 1000,
            uname: "sandbox".into(),
            gname: "sandbox".into(),
        }
    }

    fn build(entries: &[(&str, EntryKind, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (path, kind, data, link) in entries {
            let h = match kind {
                EntryKind::File => header_for_file(path, data.len() as u64, &meta()),
                EntryKind::Dir => header_for_dir(path, &meta()),
                EntryKind::Symlink => header_for_symlink(path, link.unwrap_or_default(), &meta()),
                _ => header_for_hardlink(path, link.unwrap_or_default(), &meta()),
            };
            out.extend(h.unwrap_or_default());
            out.extend_from_slice(data);
            out.extend_from_slice(padding(data.len() as u64));
        }
        out.extend_from_slice(&END_OF_ARCHIVE);
        out
    }

    #[test]
    fn round_trip_at_every_split() {
        let long_dir = format!("{}/", "d".repeat(150));
        let long_file = format!("{}/{}", "p".repeat(120), "f".repeat(130));
        let long_target = "t".repeat(300);
        let content: Vec<u8> = (0..1300u32).map(|i| (i % 251) as u8).collect();
        let entries: Vec<(&str, EntryKind, &[u8], Option<&str>)> = vec![
            ("dir/", EntryKind::Dir, b"", None),
            ("dir/hello.txt", EntryKind::File, b"hello\n", None),
            ("dir/empty", EntryKind::File, b"", None),
            (&long_dir, EntryKind::Dir, b"", None),
            (&long_file, EntryKind::File, &content, None),
            ("dir/link", EntryKind::Symlink, b"", Some("hello.txt")),
            ("dir/longlink", EntryKind::Symlink, b"", Some(&long_target)),
            ("dir/hard", EntryKind::Hardlink, b"", Some("dir/hello.txt")),
            ("ünïcode/✓", EntryKind::File, b"x", None),
        ];
        let archive = build(&entries);
        let whole = read_all(&archive, archive.len()).unwrap_or_default();
        let mut expected_paths = Vec::new();
        for ev in &whole {
            if let TarEvent::Entry(h) = ev {
                expected_paths.push(h.path.clone());
                assert_eq!(h.mode, 0o755);
                assert_eq!((h.uid, h.gid, h.mtime), (1000, 1000, 1_700_000_000));
                assert_eq!((h.uname.as_str(), h.gname.as_str()), ("sandbox", "sandbox"));
            }
        }
        assert_eq!(
            expected_paths,
            entries.iter().map(|e| e.0.to_string()).collect::<Vec<_>>()
        );
        assert_eq!(whole.last(), Some(&TarEvent::End));
        // Data and link targets.
        let file_data: Vec<Vec<u8>> = whole
            .iter()
            .filter_map(|e| match e {
                TarEvent::Data(d) => Some(d.to_vec()),
                _ => None,
            })
            .collect();
        assert_eq!(
            file_data,
            vec![b"hello\n".to_vec(), content.clone(), b"x".to_vec()]
        );
        let targets: Vec<Option<String>> = whole
            .iter()
            .filter_map(|e| match e {
                TarEvent::Entry(h) => Some(h.link_target.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(targets[5].as_deref(), Some("hello.txt"));
        assert_eq!(targets[6].as_deref(), Some(long_target.as_str()));
        assert_eq!(targets[7].as_deref(), Some("dir/hello.txt"));
        for step in 1..=archive.len() {
            assert_eq!(
                read_all(&archive, step).ok().as_ref(),
                Some(&whole),
                "step {step}"
            );
        }
    }

    #[test]
    fn large_numbers_round_trip() {
        let m = EntryMeta {
            uid: 0o777_7777 + 1,
            gid: u64::from(u32::MAX),
            mtime: 0o777_7777_7777 + 5,
            uname: "u".repeat(40),
            ..meta()
        };
        let mut a = header_for_file("big", 3, &m).unwrap_or_default();
        a.extend_from_slice(b"abc");
        a.extend_from_slice(padding(3));
        a.extend_from_slice(&END_OF_ARCHIVE);
        let ev = read_all(&a, 512).unwrap_or_default();
        let TarEvent::Entry(h) = &ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!((h.uid, h.gid, h.mtime), (m.uid, m.gid, m.mtime));
        assert_eq!(h.uname, m.uname);
    }

    fn raw_header(name: &[u8], typeflag: u8, size: u64, link: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 512];
        b[..name.len()].copy_from_slice(name);
        b[100..107].copy_from_slice(b"0000644");
        b[108..115].copy_from_slice(b"0000000");
        b[116..123].copy_from_slice(b"0000000");
        if size > 0o777_7777_7777 {
            b[124] = 0x80;
            b[128..136].copy_from_slice(&size.to_be_bytes());
        } else {
            b[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        }
        b[136..147].copy_from_slice(b"00000000000");
        b[156] = typeflag;
        b[157..157 + link.len()].copy_from_slice(link);
        b[257..263].copy_from_slice(b"ustar ");
        b[263..265].copy_from_slice(b" \0");
        b[148..156].copy_from_slice(b"        ");
        let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
        b[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        b
    }

    #[test]
    fn gnu_longname_and_longlink() {
        let name = "n".repeat(200);
        let target = "l".repeat(150);
        let mut a = raw_header(b"././@LongLink", b'L', name.len() as u64 + 1, b"");
        a.extend(name.as_bytes());
        a.push(0);
        a.extend(vec![0; pad_len(name.len() as u64 + 1) as usize]);
        a.extend(raw_header(b"././@LongLink", b'K', target.len() as u64, b""));
        a.extend(target.as_bytes());
        a.extend(vec![0; pad_len(target.len() as u64) as usize]);
        a.extend(raw_header(b"short", b'2', 0, b"short-target"));
        a.extend_from_slice(&END_OF_ARCHIVE);
        for step in [1, 7, 512, a.len()] {
            let ev = read_all(&a, step).unwrap_or_default();
            let TarEvent::Entry(h) = &ev[0] else {
                panic!("{ev:?}")
            };
            assert_eq!(h.path, name);
            assert_eq!(h.kind, EntryKind::Symlink);
            assert_eq!(h.link_target.as_deref(), Some(target.as_str()));
        }
    }

    fn pax_records(records: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in records {
            let body = format!(" {k}={v}\n");
            let mut len = body.len() + 1;
            while format!("{len}{body}").len() != len {
                len += 1;
            }
            out.extend(format!("{len}{body}").as_bytes());
        }
        out
    }

    #[test]
    fn pax_global_and_local_headers() {
        let g = pax_records(&[("uname", "globaluser"), ("mtime", "1234.5678")]);
        let x = pax_records(&[
            ("path", "pax/path.txt"),
            ("size", "4"),
            ("uid", "99999999999"),
            ("comment", "ignored"),
        ]);
        let mut a = raw_header(b"pax_global_header", b'g', g.len() as u64, b"");
        a.extend(&g);
        a.extend(vec![0; pad_len(g.len() as u64) as usize]);
        a.extend(raw_header(b"PaxHeaders/x", b'x', x.len() as u64, b""));
        a.extend(&x);
        a.extend(vec![0; pad_len(x.len() as u64) as usize]);
        a.extend(raw_header(b"short", b'0', 999, b"")); // size overridden by PAX
        a.extend(b"data");
        a.extend(vec![0; 508]);
        a.extend(raw_header(b"second", b'0', 0, b""));
        a.extend_from_slice(&END_OF_ARCHIVE);
        let ev = read_all(&a, 3).unwrap();
        let headers: Vec<&EntryHeader> = ev
            .iter()
            .filter_map(|e| match e {
                TarEvent::Entry(h) => Some(h),
                _ => None,
            })
            .collect();
        assert_eq!(headers[0].path, "pax/path.txt");
        assert_eq!(headers[0].size, 4);
        assert_eq!(headers[0].uid, 99_999_999_999);
        assert_eq!(headers[0].uname, "globaluser");
        assert_eq!(headers[0].mtime, 1234);
        assert_eq!(headers[1].path, "second");
        assert_eq!(
            headers[1].uname, "globaluser",
            "global applies to later entries"
        );
        assert_eq!(headers[1].uid, 0, "local does not");
        assert!(ev.contains(&TarEvent::Data(Bytes::from_static(b"data"))));
    }

    fn archive_err(a: &[u8]) -> String {
        for step in [1, 100, 512, a.len().max(1)] {
            match read_all(a, step) {
                Err(Error::Archive(_)) => {}
                other => panic!("step {step}: expected an archive error, got {other:?}"),
            }
        }
        match read_all(a, a.len().max(1)) {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        }
    }

    #[test]
    fn malformed_archives_are_typed_errors() {
        // Bad checksum.
        let mut a = raw_header(b"f", b'0', 0, b"");
        a[0] = b'g';
        a.extend_from_slice(&END_OF_ARCHIVE);
        assert!(archive_err(&a).contains("checksum"));
        // Huge declared size, then EOF.
        let mut a = raw_header(b"f", b'0', 0, b"");
        a[124..136].copy_from_slice(&[
            0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ]);
        a[148..156].copy_from_slice(b"        ");
        let sum: u32 = a.iter().map(|&x| u32::from(x)).sum();
        a[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        a.extend(b"only a little data");
        assert!(archive_err(&a).contains("truncated"));
        // Oversized GNU long name: refused before allocating.
        let a = raw_header(b"././@LongLink", b'L', 1 << 40, b"");
        assert!(archive_err(&a).contains("limit"));
        let a = raw_header(b"x", b'x', 64 * 1024 + 1, b"");
        assert!(archive_err(&a).contains("limit"));
        // Truncated header.
        assert!(archive_err(&raw_header(b"f", b'0', 0, b"")[..300]).contains("truncated"));
        // Truncated padding.
        let mut a = raw_header(b"f", b'0', 3, b"");
        a.extend(b"abc\0\0");
        assert!(archive_err(&a).contains("padding"));
        // Metadata header with no entry after it.
        let x = pax_records(&[("path", "p")]);
        let mut a = raw_header(b"x", b'x', x.len() as u64, b"");
        a.extend(&x);
        a.extend(vec![0; pad_len(x.len() as u64) as usize]);
        assert!(archive_err(&a).contains("extended header"));
        a.extend_from_slice(&END_OF_ARCHIVE);
        assert!(archive_err(&a).contains("extended header"));
        // Malformed PAX.
        let bad = b"99 path=x\n";
        let mut a = raw_header(b"x", b'x', bad.len() as u64, b"");
        a.extend(bad);
        a.extend(vec![0; pad_len(bad.len() as u64) as usize]);
        a.extend(raw_header(b"f", b'0', 0, b""));
        a.extend_from_slice(&END_OF_ARCHIVE);
        assert!(archive_err(&a).contains("PAX"));
        // Bad octal.
        let mut a = raw_header(b"f", b'0', 0, b"");
        a[100] = b'9';
        a[148..156].copy_from_slice(b"        ");
        let sum: u32 = a.iter().map(|&x| u32::from(x)).sum();
        a[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        assert!(archive_err(&a).contains("octal"));
        // A header after a single zero block.
        let mut a = vec![0u8; 512];
        a.extend(raw_header(b"f", b'0', 0, b""));
        assert!(archive_err(&a).contains("zero block"));
        // Symlink without target.
        let mut a = raw_header(b"l", b'2', 0, b"");
        a.extend_from_slice(&END_OF_ARCHIVE);
        assert!(archive_err(&a).contains("no target"));
    }

    #[test]
    fn errors_are_sticky_and_end_is_final() {
        let mut r = TarReader::new();
        let mut a = raw_header(b"f", b'0', 0, b"");
        a[0] = b'z';
        r.feed(&a);
        assert!(r.next_event().is_err());
        assert!(r.next_event().is_err());
        let mut r = TarReader::new();
        r.feed(&END_OF_ARCHIVE);
        r.feed(b"trailing garbage is ignored");
        assert_eq!(r.next_event().ok().flatten(), Some(TarEvent::End));
        assert!(r.is_done());
        assert_eq!(r.next_event().ok().flatten(), None);
    }

    #[test]
    fn lenient_ends() {
        // EOF at an entry boundary, or after one zero block, is the end.
        let a = raw_header(b"f", b'5', 0, b"");
        let ev = read_all(&a, 512).unwrap_or_default();
        assert_eq!(ev.last(), Some(&TarEvent::End));
        let mut a = raw_header(b"f", b'5', 0, b"");
        a.extend(vec![0; 512]);
        assert_eq!(
            read_all(&a, 512).unwrap_or_default().last(),
            Some(&TarEvent::End)
        );
        assert_eq!(read_all(&[], 1).unwrap_or_default(), vec![TarEvent::End]);
    }

    #[test]
    fn old_style_entries() {
        // V7 directory: type NUL with a trailing slash; size ignored for dirs and links.
        let mut a = raw_header(b"olddir/", 0, 0, b"");
        a[257..265].copy_from_slice(&[0; 8]);
        a[148..156].copy_from_slice(b"        ");
        let sum: u32 = a.iter().map(|&x| u32::from(x)).sum();
        a[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        a.extend(raw_header(b"hl", b'1', 100, b"olddir/x"));
        a.extend(raw_header(b"fifo", b'6', 0, b""));
        a.extend(raw_header(b"vendor", b'V', 3, b""));
        a.extend(b"abc");
        a.extend(vec![0; 509]);
        a.extend_from_slice(&END_OF_ARCHIVE);
        let ev = read_all(&a, 512).unwrap();
        let kinds: Vec<(EntryKind, u64)> = ev
            .iter()
            .filter_map(|e| match e {
                TarEvent::Entry(h) => Some((h.kind, h.size)),
                _ => None,
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                (EntryKind::Dir, 0),
                (EntryKind::Hardlink, 0),
                (EntryKind::Other(b'6'), 0),
                (EntryKind::Other(b'V'), 3)
            ]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number(b"0000644\0", "m").ok(), Some(0o644));
        assert_eq!(parse_number(b"   644 ", "m").ok(), Some(0o644));
        assert_eq!(parse_number(b"\0\0\0", "m").ok(), Some(0));
        assert_eq!(parse_number(&[0x80, 0, 1, 0], "m").ok(), Some(256));
        assert!(parse_number(&[0xff, 0xff], "m").is_err());
        assert!(parse_number(&[0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0], "m").is_err());
        assert!(parse_number(b"77777777777777777777777", "m").is_err());
    }
}
