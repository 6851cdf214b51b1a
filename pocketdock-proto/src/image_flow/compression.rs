//! How an image archive file is compressed (detected by content, never by name), and the
//! push-style gzip codec that decompresses an import and compresses an export as they stream.

use std::io::Write;

use bytes::Bytes;

use crate::error::{Error, Result};

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
