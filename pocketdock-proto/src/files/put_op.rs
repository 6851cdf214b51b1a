//! `write_file` and `push` as one operation: the `prepare` helper (the default user's uid and
//! gid, what is at the target, the `mkdir -p` of missing parents), then the plan, then the
//! archive streamed to the archive endpoint one piece at a time.
//!
//! A `write_file` archive is built here from the caller's bytes. A `push` archive is a host
//! tree: once the plan is known, [`PutEvent::Source`] tells the host which top name and owner to
//! give it, and every [`PutEvent::NeedBody`] asks for its next piece.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::api::archive;
use crate::error::{Error, Result};
use crate::op::sub_op::{SubOp, SubStep};
use crate::op::{Operation, Response, Step, UploadOp};

use super::helper_exec::{helper_op, Nonces};
use super::options::{TransferOptions, PREPARE_MAX_OUTPUT};
use super::paths::check_path;
use super::prepare::{parse_prepare, prepare_command, Prepared};
use super::push_plan::{plan_push, push_mkdir_target};
use super::write_archive::{write_file_archive, write_target};

/// Events of a [`PutOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutEvent {
    /// A push's plan is known: open the host source with this top name (`None`: a directory's
    /// contents, no top entry) and the default user of `prepared` as owner.
    Source {
        /// The name of the archive's top entry.
        root_name: Option<String>,
        /// The default user and what is at the destination.
        prepared: Prepared,
    },
    /// A push wants the next piece of its archive: call [`PutOp::push_body`], or
    /// [`PutOp::finish_body`] at the end.
    NeedBody,
    /// Bytes of archive sent so far (for the caller's progress callback).
    Sent(u64),
}

/// The archive a [`PutOp`] uploads.
enum Body<'a> {
    /// `write_file`: built here, from the caller's bytes.
    Write {
        path: String,
        name: String,
        data: &'a [u8],
        mtime: u64,
        pieces: Option<Box<dyn Iterator<Item = Bytes> + Send + 'a>>,
    },
    /// `push`: a host tree the caller streams.
    Push {
        dest: String,
        src_is_dir: bool,
        src_name: String,
        contents: bool,
    },
}

enum State {
    Prepare(SubOp<()>),
    Upload(SubOp<()>),
    Done,
}

/// Upload a file (`write_file`) or a host tree (`push`) into a container; the output says
/// whether it was extracted.
pub struct PutOp<'a> {
    container: String,
    target: String,
    deadline: Option<Duration>,
    body: Body<'a>,
    state: State,
    sent: u64,
    report: bool,
    failed: Option<Error>,
}

impl std::fmt::Debug for PutOp<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutOp")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl<'a> PutOp<'a> {
    /// Write `data` to the file `path` (absolute) in `container`, dated `mtime` (seconds since
    /// the epoch), with `opts`' deadline. `seed` makes the nonces of its helper commands.
    pub fn write(
        container: &str,
        path: &str,
        data: &'a [u8],
        opts: &TransferOptions,
        mtime: u64,
        seed: &str,
    ) -> Result<Self> {
        opts.validate()?;
        let (parent, name) = write_target(path)?;
        let body = Body::Write {
            path: path.to_string(),
            name,
            data,
            mtime,
            pieces: None,
        };
        Self::new(container, path, &parent, body, opts, seed)
    }

    /// Push a host source (a directory when `src_is_dir`, named `src_name`; `contents`: a
    /// directory's contents, `dir/.`) to `dest` in `container`, with `docker cp` semantics (see
    /// [`plan_push`]) and `opts`' deadline. `seed` makes the nonces of its helper commands.
    pub fn push(
        container: &str,
        dest: &str,
        (src_is_dir, src_name, contents): (bool, &str, bool),
        opts: &TransferOptions,
        seed: &str,
    ) -> Result<Self> {
        opts.validate()?;
        check_path("dest", dest)?;
        let body = Body::Push {
            dest: dest.to_string(),
            src_is_dir,
            src_name: src_name.to_string(),
            contents,
        };
        Self::new(
            container,
            dest,
            &push_mkdir_target(dest, contents),
            body,
            opts,
            seed,
        )
    }

    fn new(
        container: &str,
        target: &str,
        mkdir_if_missing: &str,
        body: Body<'a>,
        opts: &TransferOptions,
        seed: &str,
    ) -> Result<Self> {
        let prepare = helper_op(
            container,
            prepare_command(target, mkdir_if_missing),
            PREPARE_MAX_OUTPUT,
            &Nonces::new(seed).next(),
        )?;
        Ok(Self {
            container: container.to_string(),
            target: target.to_string(),
            deadline: opts.deadline(),
            body,
            state: State::Prepare(prepare),
            sent: 0,
            report: false,
            failed: None,
        })
    }

    /// The next piece of a push's archive (after [`PutEvent::NeedBody`]).
    pub fn push_body(&mut self, chunk: Bytes) {
        if let State::Upload(op) = &mut self.state {
            self.sent += chunk.len() as u64;
            self.report = true;
            op.push_body(chunk);
        }
    }

    /// A push's archive is complete (after [`PutEvent::NeedBody`]).
    pub fn finish_body(&mut self) {
        if let State::Upload(op) = &mut self.state {
            op.finish_body();
        }
    }

    /// The host could not open or read the source: the upload is cut (what the engine
    /// extracted so far stays) and the operation ends with `err`.
    pub fn fail(&mut self, err: Error) {
        self.state = State::Done;
        self.failed = Some(err);
    }

    /// The prepare helper answered: plan the upload.
    fn plan(&mut self, prepared: &Prepared) -> Result<(String, Option<u64>, Option<PutEvent>)> {
        match &mut self.body {
            Body::Write {
                path,
                name,
                data,
                mtime,
                pieces,
            } => {
                let data: &'a [u8] = data;
                let (total, parts) = write_file_archive(path, name, data, prepared, *mtime)?;
                *pieces = Some(Box::new(parts));
                let parent = write_target(path)?.0;
                Ok((parent, Some(total), None))
            }
            Body::Push {
                dest,
                src_is_dir,
                src_name,
                contents,
            } => {
                let plan = plan_push(*src_is_dir, src_name, *contents, dest, prepared.kind)?;
                let event = PutEvent::Source {
                    root_name: plan.root_name,
                    prepared: *prepared,
                };
                Ok((plan.extract_dir, None, Some(event)))
            }
        }
    }

    fn upload(&mut self, dir: &str, length: Option<u64>) {
        let (id, d) = (self.container.clone(), dir.to_string());
        let op = UploadOp::new(
            "put archive",
            &archive::put(&self.container, dir, length),
            self.deadline,
            move |r: &Response| archive::check(r, "put archive", &id, &d),
        );
        self.state = State::Upload(SubOp::Upload(op));
    }

    fn end(&mut self, result: Result<()>) -> Step<PutEvent, ()> {
        self.state = State::Done;
        Step::Done(result)
    }

    fn sub_op(&mut self) -> Option<&mut SubOp<()>> {
        match &mut self.state {
            State::Prepare(op) | State::Upload(op) => Some(op),
            State::Done => None,
        }
    }
}

impl Operation for PutOp<'_> {
    type Event = PutEvent;
    type Output = ();

    fn poll(&mut self, now: Instant) -> Step<PutEvent, ()> {
        if std::mem::take(&mut self.report) {
            return Step::Event(PutEvent::Sent(self.sent));
        }
        loop {
            match &mut self.state {
                State::Prepare(op) => match op.poll(now) {
                    SubStep::Io(io) => return Step::Io(io),
                    SubStep::Ran(r) => {
                        let planned = match parse_prepare(&self.target, &r) {
                            Ok(prepared) => self.plan(&prepared),
                            Err(e) => Err(e),
                        };
                        match planned {
                            Ok((dir, length, event)) => {
                                self.upload(&dir, length);
                                if let Some(event) = event {
                                    return Step::Event(event);
                                }
                            }
                            Err(e) => return self.end(Err(e)),
                        }
                    }
                    SubStep::Failed(e) => return self.end(Err(e)),
                    _ => return self.end(Err(unexpected())),
                },
                State::Upload(op) => match op.poll(now) {
                    SubStep::Io(io) => return Step::Io(io),
                    SubStep::NeedBody => match &mut self.body {
                        Body::Write {
                            pieces: Some(pieces),
                            ..
                        } => match pieces.next() {
                            Some(piece) => {
                                self.sent += piece.len() as u64;
                                op.push_body(piece);
                                return Step::Event(PutEvent::Sent(self.sent));
                            }
                            None => op.finish_body(),
                        },
                        _ => return Step::Event(PutEvent::NeedBody),
                    },
                    SubStep::Data(_) => {}
                    SubStep::Transferred => return self.end(Ok(())),
                    SubStep::Failed(e) => return self.end(Err(e)),
                    _ => return self.end(Err(unexpected())),
                },
                State::Done => {
                    return Step::Done(Err(self
                        .failed
                        .take()
                        .unwrap_or_else(Error::polled_after_completion)))
                }
            }
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if let Some(op) = self.sub_op() {
            op.handle_input(now, data);
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        if let Some(op) = self.sub_op() {
            op.handle_eof(now);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(op) = self.sub_op() {
            op.handle_timeout(now);
        }
    }
}

fn unexpected() -> Error {
    Error::SocketCommunication("unexpected step of an archive upload".into())
}
