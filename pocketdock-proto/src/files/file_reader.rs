//! `read_file`'s view of an extraction: the bytes of one regular file, anything else refused.

use crate::error::{Error, Result};

use super::extract::ExtractAction;

/// What one [`ExtractAction`] means for a `read_file` of a single file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRead {
    /// Keep feeding the extractor.
    Continue,
    /// The whole file.
    Done(Vec<u8>),
    /// The path is a symlink to this target: resolve it and read again.
    Link(String),
}

/// Collects the bytes of one file from the actions of an [`Extractor`](super::Extractor), refusing anything that
/// is not a regular file (a directory, a device, ...). Shared by every adapter's `read_file`.
#[derive(Debug, Clone)]
pub struct FileReader {
    path: String,
    out: Vec<u8>,
}

impl FileReader {
    /// A reader for the container path `path` (named in errors).
    pub fn new(path: &str) -> Self {
        Self {
            path: path.to_string(),
            out: Vec::new(),
        }
    }

    /// Take the next action.
    pub fn take(&mut self, action: ExtractAction) -> Result<FileRead> {
        match action {
            ExtractAction::TopSymlink { target } => Ok(FileRead::Link(target)),
            ExtractAction::TopFile { size, .. } => {
                // The size is within the cap; reserving is only an optimisation.
                let _ = self
                    .out
                    .try_reserve_exact(usize::try_from(size).unwrap_or(0));
                Ok(FileRead::Continue)
            }
            ExtractAction::Data(d) => {
                self.out.extend_from_slice(&d);
                Ok(FileRead::Continue)
            }
            ExtractAction::FileEnd | ExtractAction::End => {
                Ok(FileRead::Done(std::mem::take(&mut self.out)))
            }
            ExtractAction::TopDir { .. } => Err(Error::invalid(
                "path",
                format!("{:?} is a directory, not a file", self.path),
            )),
            other => Err(Error::invalid(
                "path",
                format!("{:?} is not a regular file ({other:?})", self.path),
            )),
        }
    }

    /// The archive ended without the file's end: an error.
    pub fn ended_early() -> Error {
        Error::Archive("the archive ended before the file's data".into())
    }
}
