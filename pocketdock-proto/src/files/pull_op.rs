//! `pull` as one operation: the archive of a container path fetched with its symbolic links
//! followed (see [`fetch`](super::fetch)) and handed out as checked extraction actions
//! for the host to apply. The host side (`pocketdock_host::tree::PullTarget`) writes them and
//! says when it failed ([`PullOp::fail`]).

use std::time::Instant;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::op::{Operation, Step};

use super::extract::ExtractAction;
use super::fetch::{ArchiveFetch, FetchStep};
use super::options::{TransferOptions, DEFAULT_PULL_LIMIT};
use super::paths::pull_source;

/// Events of a [`PullOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullEvent {
    /// Bytes of the archive received so far (for the caller's progress callback).
    Received(u64),
    /// Apply this to the host target: [`ExtractAction::TopFile`] or [`ExtractAction::TopDir`]
    /// first, entries below a top directory, and [`ExtractAction::End`] last (commit the target).
    /// A failure to apply it is reported with [`PullOp::fail`].
    Extract(ExtractAction),
}

/// Copy a container path to the host: the events say what to write; the output says whether the
/// pull succeeded (on an error the host target is to be abandoned).
pub struct PullOp {
    fetch: ArchiveFetch,
    name: Option<String>,
    contents: bool,
    path: String,
    top_seen: bool,
}

impl std::fmt::Debug for PullOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullOp")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl PullOp {
    /// A pull of `src` in `container`, capped at `opts.max_bytes` (default
    /// [`DEFAULT_PULL_LIMIT`]) and `opts.max_entries`, with `opts`' deadline for each download.
    /// `seed` makes the nonces of its helper commands (random, unique per call).
    pub fn new(container: &str, src: &str, opts: &TransferOptions, seed: &str) -> Result<Self> {
        opts.validate()?;
        let (name, contents) = pull_source(src)?;
        let caps = (
            opts.max_bytes_or(DEFAULT_PULL_LIMIT),
            opts.max_entries_or_default(),
        );
        Ok(Self {
            fetch: ArchiveFetch::new(container, src, contents, caps, opts.deadline(), seed),
            name,
            contents,
            path: src.to_string(),
            top_seen: false,
        })
    }

    /// The name the copy takes under an existing host directory (`None`: the contents of a
    /// directory, `dir/.`).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether the contents of a directory are copied (`dir/.`).
    pub fn contents(&self) -> bool {
        self.contents
    }

    /// The host could not apply an action: the pull ends with `err` (after its cleanup in the
    /// container, if any).
    pub fn fail(&mut self, err: Error) {
        self.fetch.conclude(Err(err));
    }
}

impl Operation for PullOp {
    type Event = PullEvent;
    type Output = ();

    fn poll(&mut self, now: Instant) -> Step<PullEvent, ()> {
        loop {
            match self.fetch.poll(now) {
                FetchStep::Io(io) => return Step::Io(io),
                FetchStep::Hop(path) => self.path = path,
                FetchStep::Received(n) => return Step::Event(PullEvent::Received(n)),
                FetchStep::Action(ExtractAction::TopOther { kind }) => {
                    let path = &self.path;
                    self.fetch.conclude(Err(Error::invalid(
                        "src",
                        format!("{path:?} is not a file, directory or symlink ({kind:?})"),
                    )));
                }
                FetchStep::Action(action) => {
                    match action {
                        ExtractAction::TopFile { .. } | ExtractAction::TopDir { .. } => {
                            self.top_seen = true;
                        }
                        ExtractAction::End => self.fetch.conclude(Ok(())),
                        _ if !self.top_seen => {
                            self.fetch
                                .conclude(Err(Error::Archive("entry before the top entry".into())));
                            continue;
                        }
                        _ => {}
                    }
                    return Step::Event(PullEvent::Extract(action));
                }
                FetchStep::Exhausted => self
                    .fetch
                    .conclude(Err(Error::Archive("the archive ended early".into()))),
                FetchStep::Done(r) => return Step::Done(r),
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
