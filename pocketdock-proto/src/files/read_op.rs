//! `read_file` as one operation: the archive of the path fetched and read as a single regular
//! file, its symbolic links followed (see [`fetch`](super::fetch)), the client never
//! holding more than the cap.

use std::time::Instant;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::op::{Operation, Step};

use super::fetch::{ArchiveFetch, FetchStep};
use super::file_reader::{FileRead, FileReader};
use super::options::{TransferOptions, DEFAULT_READ_LIMIT};
use super::paths::check_path;

/// Read one file of a container: the output is its content. Errors: a missing path is
/// [`Error::PathNotFound`]; a directory (or a device, FIFO, ...) is [`Error::InvalidInput`]; a
/// file larger than the cap is [`ProtocolError::BodyTooLarge`] before any of it is read; more
/// than [`MAX_LINK_HOPS`](super::MAX_LINK_HOPS) links is [`Error::InvalidInput`].
///
/// [`ProtocolError::BodyTooLarge`]: crate::ProtocolError::BodyTooLarge
pub struct ReadFileOp {
    fetch: ArchiveFetch,
    reader: FileReader,
    data: Option<Vec<u8>>,
}

impl std::fmt::Debug for ReadFileOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadFileOp").finish_non_exhaustive()
    }
}

impl ReadFileOp {
    /// A read of `path` (absolute) in `container`, capped at `opts.max_bytes` (default
    /// [`DEFAULT_READ_LIMIT`]) and with `opts`' deadline for each download. `seed` makes the
    /// nonces of its helper commands (random, unique per call).
    pub fn new(container: &str, path: &str, opts: &TransferOptions, seed: &str) -> Result<Self> {
        opts.validate()?;
        check_path("path", path)?;
        let cap = opts.max_bytes_or(DEFAULT_READ_LIMIT);
        Ok(Self {
            fetch: ArchiveFetch::new(
                container,
                path,
                false,
                (cap, u64::MAX),
                opts.deadline(),
                seed,
            ),
            reader: FileReader::new(path),
            data: None,
        })
    }
}

impl Operation for ReadFileOp {
    type Event = ();
    type Output = Vec<u8>;

    fn poll(&mut self, now: Instant) -> Step<(), Vec<u8>> {
        loop {
            match self.fetch.poll(now) {
                FetchStep::Io(io) => return Step::Io(io),
                FetchStep::Hop(path) => self.reader = FileReader::new(&path),
                FetchStep::Received(_) => {}
                FetchStep::Action(action) => match self.reader.take(action) {
                    Ok(FileRead::Continue) => {}
                    Ok(FileRead::Done(data)) => {
                        self.data = Some(data);
                        self.fetch.conclude(Ok(()));
                    }
                    Ok(FileRead::Link(_)) => self.fetch.conclude(Err(Error::Archive(
                        "a symbolic link inside the archive of a file".into(),
                    ))),
                    Err(e) => self.fetch.conclude(Err(e)),
                },
                FetchStep::Exhausted => self.fetch.conclude(Err(FileReader::ended_early())),
                FetchStep::Done(Ok(())) => {
                    return Step::Done(self.data.take().ok_or_else(FileReader::ended_early))
                }
                FetchStep::Done(Err(e)) => return Step::Done(Err(e)),
            }
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.fetch.handle_input(now, data);
    }

    fn handle_bytes(&mut self, now: Instant, data: Bytes) {
        self.fetch.handle_bytes(now, data);
    }

    fn handle_eof(&mut self, now: Instant) {
        self.fetch.handle_eof(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.fetch.handle_timeout(now);
    }
}
