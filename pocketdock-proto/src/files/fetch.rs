//! The download half shared by `read_file` and `pull`: the archive of one container path,
//! extracted as it streams, with the path's symbolic links followed.
//!
//! Per hop: the path asked from the archive endpoint is the path itself on Docker; Podman 4.3
//! reads it as a glob pattern, so there `\`, `?` and `[` are escaped, and a path with `*`
//! (which Podman cannot serve at all) is reached through a temporary symlink in `/tmp` (Podman
//! follows a symlink given as the path), removed afterwards whatever happened. The engine kind is
//! asked (`GET /version`) only when a path needs it. When the archive's top entry is a symlink,
//! its target is resolved against the path and fetched again, up to [`MAX_LINK_HOPS`] links. A
//! not-found error names the path the caller gave for this hop, never the escaped or temporary
//! one.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::api::archive;
use crate::api::system::{EngineKind, VersionInfo};
use crate::error::{Error, Result};
use crate::op::sub_op::{SubOp, SubStep};
use crate::op::{calls, DownloadOp, Io, Response, DEFAULT_CALL_TIMEOUT};

use super::extract::{ExtractAction, Extractor};
use super::helper_exec::{helper_op, Nonces};
use super::options::{HELPER_MAX_OUTPUT, MAX_LINK_HOPS};
use super::paths::{resolve_link, too_many_links};
use super::podman_glob::{escape_glob, has_glob_meta, link_command, unlink_command};

/// Where the temporary symlinks of a Podman `GET` of a path with `*` are made.
pub const LINK_PREFIX: &str = "/tmp/.pocketdock-link-";

/// What an [`ArchiveFetch`] yields to the flow that owns it.
pub(crate) enum FetchStep {
    /// Perform this I/O.
    Io(Io),
    /// A new hop starts: `path` is fetched now (the first one, or a link's target).
    Hop(String),
    /// Bytes of this hop's archive received so far.
    Received(u64),
    /// The next extraction action (never a top symlink: links are followed here).
    Action(ExtractAction),
    /// The archive ended and the extractor wants more: the owner decides the error
    /// ([`ArchiveFetch::conclude`]).
    Exhausted,
    /// The fetch is over (after removing its temporary symlink, if any).
    Done(Result<()>),
}

/// What to do once a hop's temporary symlink is gone.
enum After {
    Finish(Result<()>),
    Hop(String),
}

enum State {
    /// Start the hop of `self.path`.
    Start,
    /// Asking the engine kind.
    Version(SubOp<VersionInfo>),
    /// Making the temporary symlink `link` to the path.
    Link {
        op: SubOp<VersionInfo>,
        link: String,
    },
    /// Downloading (through `link` when set).
    Download {
        op: SubOp<VersionInfo>,
        ex: Box<Extractor>,
        received: u64,
        finished: bool,
        link: Option<String>,
    },
    /// Removing the temporary symlink, then `after`.
    Unlink {
        op: Option<SubOp<VersionInfo>>,
        after: After,
    },
    Done,
}

/// The archive of a container path, fetched and extracted hop by hop (see the module
/// documentation). A sub-machine: its owner polls it, handles its steps and says when the hop's
/// outcome is known ([`conclude`](Self::conclude)).
pub(crate) struct ArchiveFetch {
    container: String,
    path: String,
    contents: bool,
    max_bytes: u64,
    max_entries: u64,
    deadline: Option<Duration>,
    nonces: Nonces,
    kind: Option<EngineKind>,
    fetches: usize,
    announced: bool,
    state: State,
}

impl ArchiveFetch {
    /// A fetch of `path` in `container` (`contents`: the contents of a directory, `dir/.`), with
    /// the extraction caps and the deadline of each download.
    pub(crate) fn new(
        container: &str,
        path: &str,
        contents: bool,
        (max_bytes, max_entries): (u64, u64),
        deadline: Option<Duration>,
        seed: &str,
    ) -> Self {
        Self {
            container: container.to_string(),
            path: path.to_string(),
            contents,
            max_bytes,
            max_entries,
            deadline,
            nonces: Nonces::new(seed),
            kind: None,
            fetches: 0,
            announced: false,
            state: State::Start,
        }
    }

    /// The owner knows the outcome of this hop (the file was read, the archive ended and was
    /// committed on the host, or an error): the fetch removes its temporary symlink and ends with
    /// `result`. Called after the end, it replaces an `Ok` outcome not yet returned.
    pub(crate) fn conclude(&mut self, result: Result<()>) {
        let result = result.map_err(|e| self.named(e));
        match &mut self.state {
            State::Unlink { after, .. } => {
                if result.is_err() {
                    *after = After::Finish(result);
                }
            }
            State::Done => {}
            _ => self.leave(After::Finish(result)),
        }
    }

    /// A not-found error names the path of this hop.
    fn named(&self, e: Error) -> Error {
        match e {
            Error::PathNotFound(_) => Error::PathNotFound(self.path.clone()),
            e => e,
        }
    }

    /// End the hop: remove the temporary symlink when there is one, then `after`.
    fn leave(&mut self, after: After) {
        let link = match std::mem::replace(&mut self.state, State::Done) {
            State::Download { link, .. } => link,
            _ => None,
        };
        let op = link.and_then(|link| {
            let nonce = self.nonces.next();
            helper_op(
                &self.container,
                unlink_command(&link),
                HELPER_MAX_OUTPUT,
                &nonce,
            )
            .ok()
        });
        self.state = State::Unlink { op, after };
    }

    fn download(&mut self, get: &str, link: Option<String>) {
        let (id, p) = (self.container.clone(), get.to_string());
        let op = DownloadOp::new(
            "get archive",
            &archive::get(&self.container, get),
            self.deadline,
            move |r: &Response| archive::check(r, "get archive", &id, &p),
        )
        // The engine answers once it has found the path, then streams the archive.
        .with_head_timeout(DEFAULT_CALL_TIMEOUT);
        let ex = if self.contents {
            Extractor::contents(self.max_bytes, self.max_entries)
        } else {
            Extractor::new(self.max_bytes, self.max_entries)
        };
        self.state = State::Download {
            op: SubOp::Download(op),
            ex: Box::new(ex),
            received: 0,
            finished: false,
            link,
        };
    }

    /// Start the hop of `self.path` now that the engine kind is known (when it matters).
    fn start(&mut self) -> Option<FetchStep> {
        let path = self.path.clone();
        if !has_glob_meta(&path) || self.kind.is_some_and(|k| k != EngineKind::Podman) {
            self.download(&path, None);
            return None;
        }
        if self.kind.is_none() {
            self.state = State::Version(SubOp::Call(calls::version()));
            return None;
        }
        if !path.contains('*') {
            self.download(&escape_glob(&path), None);
            return None;
        }
        let target = if self.contents {
            path.trim_end_matches('/')
                .strip_suffix("/.")
                .unwrap_or(&path)
        } else {
            &path
        };
        let link = format!("{LINK_PREFIX}{}", self.nonces.next());
        let nonce = self.nonces.next();
        match helper_op(
            &self.container,
            link_command(target, &link),
            HELPER_MAX_OUTPUT,
            &nonce,
        ) {
            Ok(op) => self.state = State::Link { op, link },
            Err(e) => return Some(self.end(Err(e))),
        }
        None
    }

    fn end(&mut self, result: Result<()>) -> FetchStep {
        self.state = State::Done;
        FetchStep::Done(result)
    }

    /// The next step.
    #[expect(
        clippy::too_many_lines,
        reason = "one match over the fetch's states, each arm a short step; splitting it would \
                  scatter the order of the hops"
    )]
    pub(crate) fn poll(&mut self, now: Instant) -> FetchStep {
        loop {
            match &mut self.state {
                State::Start => {
                    if !self.announced {
                        self.announced = true;
                        return FetchStep::Hop(self.path.clone());
                    }
                    if let Some(step) = self.start() {
                        return step;
                    }
                }
                State::Version(op) => match op.poll(now) {
                    SubStep::Io(io) => return FetchStep::Io(io),
                    SubStep::Called(v) => {
                        self.kind = Some(v.engine());
                        self.state = State::Start;
                    }
                    SubStep::Failed(e) => return self.end(Err(e)),
                    _ => return self.end(Err(unexpected())),
                },
                State::Link { op, link } => match op.poll(now) {
                    SubStep::Io(io) => return FetchStep::Io(io),
                    SubStep::Ran(r) if r.exit_code == 0 => {
                        let link = std::mem::take(link);
                        let get = if self.contents {
                            format!("{link}/.")
                        } else {
                            link.clone()
                        };
                        self.download(&get, Some(link));
                    }
                    SubStep::Ran(r) => {
                        return self.end(Err(Error::invalid(
                            "path",
                            format!(
                                "Podman cannot read paths with '*' directly and the temporary \
                                 symlink failed: {}",
                                r.stderr_str().trim()
                            ),
                        )))
                    }
                    SubStep::Failed(e) => return self.end(Err(e)),
                    _ => return self.end(Err(unexpected())),
                },
                State::Download {
                    op,
                    ex,
                    received,
                    finished,
                    ..
                } => match ex.next_action() {
                    Err(e) => self.conclude(Err(e)),
                    Ok(Some(ExtractAction::TopSymlink { target })) => {
                        let next = resolve_link(&self.path, &target);
                        self.leave(After::Hop(next));
                    }
                    Ok(Some(action)) => return FetchStep::Action(action),
                    Ok(None) if *finished => return FetchStep::Exhausted,
                    Ok(None) => match op.poll(now) {
                        SubStep::Io(io) => return FetchStep::Io(io),
                        SubStep::Data(d) => {
                            ex.feed(&d);
                            *received += d.len() as u64;
                            return FetchStep::Received(*received);
                        }
                        SubStep::Transferred => {
                            ex.finish();
                            *finished = true;
                        }
                        SubStep::Failed(e) => self.conclude(Err(e)),
                        _ => self.conclude(Err(unexpected())),
                    },
                },
                State::Unlink { op: Some(op), .. } => match op.poll(now) {
                    SubStep::Io(io) => return FetchStep::Io(io),
                    // Removing the temporary link is best effort: its outcome is not the flow's.
                    _ => {
                        if let State::Unlink { op, .. } = &mut self.state {
                            *op = None;
                        }
                    }
                },
                State::Unlink { op: None, .. } => {
                    let State::Unlink { after, .. } =
                        std::mem::replace(&mut self.state, State::Done)
                    else {
                        continue;
                    };
                    match after {
                        After::Finish(r) => return self.end(r),
                        After::Hop(next) => {
                            self.fetches += 1;
                            if self.fetches > MAX_LINK_HOPS {
                                return self.end(Err(too_many_links(&next)));
                            }
                            self.path = next;
                            self.announced = false;
                            self.state = State::Start;
                        }
                    }
                }
                State::Done => return FetchStep::Done(Err(Error::polled_after_completion())),
            }
        }
    }

    fn sub_op(&mut self) -> Option<&mut SubOp<VersionInfo>> {
        match &mut self.state {
            State::Version(op) | State::Link { op, .. } | State::Download { op, .. } => Some(op),
            State::Unlink { op, .. } => op.as_mut(),
            State::Start | State::Done => None,
        }
    }

    /// Bytes were read from the connection.
    pub(crate) fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if let Some(op) = self.sub_op() {
            op.handle_input(now, data);
        }
    }

    /// Bytes were read into a buffer the download may keep slices of.
    pub(crate) fn handle_bytes(&mut self, now: Instant, data: Bytes) {
        if let Some(op) = self.sub_op() {
            op.handle_bytes(now, data);
        }
    }

    /// The peer closed the connection.
    pub(crate) fn handle_eof(&mut self, now: Instant) {
        if let Some(op) = self.sub_op() {
            op.handle_eof(now);
        }
    }

    /// A deadline passed.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if let Some(op) = self.sub_op() {
            op.handle_timeout(now);
        }
    }
}

fn unexpected() -> Error {
    Error::SocketCommunication("unexpected step of an archive download".into())
}
