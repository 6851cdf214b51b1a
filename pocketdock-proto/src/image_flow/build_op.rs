//! An image build as one operation: the context streamed to `POST /build`, every progress line
//! handed out as it arrives, a failure reported inside the `200` stream turned into
//! [`Error::StreamFailed`], the build run again when Podman loses a layer to a concurrent image
//! removal (the policy of [`crate::build_retry`]), and the built image's id read back.

use std::time::Instant;

use bytes::Bytes;

use crate::api::images::{self, BuildOptions, ImageInspect, Progress, ProgressSummary};
use crate::api::{check, Subject};
use crate::build_retry::retry_note;
use crate::error::{Error, Result};
use crate::op::sub_op::{feed_sub_op, SubOp, SubStep};
use crate::op::{CallOp, Operation, Response, Step, UploadOp};

use super::progress_stream::ProgressStream;
use super::{BuildContext, BuiltImage, BUILD_TIMEOUT};
use crate::profile::resolve_profile;

/// What `build_profile` builds: profile `profile`'s embedded context, tagged as its image
/// (`pocketdock/<profile>`) and labelled `pocketdock.profile=<profile>`; `base` overrides the
/// Dockerfile's `BASE` argument (e.g. a local image when offline).
pub fn profile_build(profile: &str, base: Option<&str>) -> Result<(BuildContext, BuildOptions)> {
    let info = resolve_profile(profile)?;
    let mut options = BuildOptions::tagged(info.image_tag);
    if let Some(base) = base {
        options.build_args.insert("BASE".into(), base.into());
    }
    options
        .labels
        .insert("pocketdock.profile".into(), info.name.into());
    Ok((BuildContext::profile(info.name), options))
}

/// Events of a [`BuildOp`].
#[derive(Debug, Clone, PartialEq)]
pub enum BuildEvent {
    /// An attempt starts: open the build context from its beginning (every attempt sends it
    /// whole). A failure to open it is reported with [`BuildOp::fail`].
    OpenContext,
    /// The next piece of the context: call [`BuildOp::push_body`], or [`BuildOp::finish_body`]
    /// at its end.
    NeedBody,
    /// A progress line of the build (or pocketdock's note before another attempt).
    Progress(Progress),
}

enum State {
    /// Tell the caller to open the context, then upload.
    Open,
    Upload {
        op: SubOp<ImageInspect>,
        stream: Box<ProgressStream>,
        finished: bool,
    },
    Inspect {
        op: SubOp<ImageInspect>,
        tags: Vec<String>,
    },
    Done,
}

/// Build an image; the output is the built image's id and tags.
pub struct BuildOp {
    options: BuildOptions,
    attempt: u32,
    state: State,
    failed: Option<Error>,
}

impl std::fmt::Debug for BuildOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildOp")
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl BuildOp {
    /// A build with `options` (checked here). Base images are never pulled unless
    /// `options.pull` is set.
    pub fn new(options: &BuildOptions) -> Result<Self> {
        options.validate()?;
        Ok(Self {
            options: options.clone(),
            attempt: 1,
            state: State::Open,
            failed: None,
        })
    }

    /// The next piece of the context (after [`BuildEvent::NeedBody`]).
    pub fn push_body(&mut self, chunk: Bytes) {
        if let State::Upload { op, .. } = &mut self.state {
            op.push_body(chunk);
        }
    }

    /// The context is complete (after [`BuildEvent::NeedBody`]).
    pub fn finish_body(&mut self) {
        if let State::Upload { op, .. } = &mut self.state {
            op.finish_body();
        }
    }

    /// The context could not be opened or read: the build ends with `err`.
    pub fn fail(&mut self, err: Error) {
        self.state = State::Done;
        self.failed = Some(err);
    }

    /// This attempt failed with `err`: another attempt after a note, or the end.
    fn attempt_failed(&mut self, err: Error) -> Step<BuildEvent, BuiltImage> {
        match retry_note(&err, self.attempt) {
            Some(note) => {
                self.attempt += 1;
                self.state = State::Open;
                Step::Event(BuildEvent::Progress(note))
            }
            None => self.end(Err(err)),
        }
    }

    fn end(&mut self, result: Result<BuiltImage>) -> Step<BuildEvent, BuiltImage> {
        self.state = State::Done;
        Step::Done(result)
    }

    /// The stream ended well: read the id back (by the first tag) or take the one reported.
    fn built(&mut self, summary: &ProgressSummary) -> Option<Step<BuildEvent, BuiltImage>> {
        let tags = if summary.images.is_empty() {
            self.options.tags.clone()
        } else {
            summary.images.clone()
        };
        match self.options.tags.first() {
            Some(tag) => {
                let key = tag.clone();
                let call = CallOp::new(
                    "inspect image",
                    &images::inspect(tag),
                    move |r: Response| images::parse_inspect(&r, &key),
                );
                self.state = State::Inspect {
                    op: SubOp::Call(call),
                    tags,
                };
                None
            }
            None => Some(match summary.image_id.clone() {
                Some(id) => self.end(Ok(BuiltImage { id, tags })),
                None => self.attempt_failed(Error::StreamFailed {
                    op: "build",
                    message: "the engine did not report the built image's id".into(),
                }),
            }),
        }
    }

    /// The progress stream ended and every event was handed out.
    fn stream_ended(&mut self) -> Option<Step<BuildEvent, BuiltImage>> {
        let State::Upload { stream, .. } = std::mem::replace(&mut self.state, State::Done) else {
            return None;
        };
        match stream.into_result("build") {
            Ok(summary) => self.built(&summary),
            Err(e) => Some(self.attempt_failed(e)),
        }
    }

    fn sub_op(&mut self) -> Option<&mut SubOp<ImageInspect>> {
        match &mut self.state {
            State::Upload { op, .. } | State::Inspect { op, .. } => Some(op),
            State::Open | State::Done => None,
        }
    }
}

impl Operation for BuildOp {
    type Event = BuildEvent;
    type Output = BuiltImage;

    fn poll(&mut self, now: Instant) -> Step<BuildEvent, BuiltImage> {
        loop {
            match &mut self.state {
                State::Open => {
                    let op = UploadOp::new(
                        "build",
                        &images::build(&self.options, None),
                        Some(BUILD_TIMEOUT),
                        |r: &Response| check(r, "build", Subject::None),
                    );
                    self.state = State::Upload {
                        op: SubOp::Upload(op),
                        stream: Box::default(),
                        finished: false,
                    };
                    return Step::Event(BuildEvent::OpenContext);
                }
                State::Upload {
                    op,
                    stream,
                    finished,
                } => {
                    match stream.next_event() {
                        Ok(Some(p)) => return Step::Event(BuildEvent::Progress(p)),
                        Ok(None) if *finished => {
                            if let Some(step) = self.stream_ended() {
                                return step;
                            }
                            continue;
                        }
                        Ok(None) => {}
                        Err(e) => return self.attempt_failed(e),
                    }
                    match op.poll(now) {
                        SubStep::Io(io) => return Step::Io(io),
                        SubStep::NeedBody => return Step::Event(BuildEvent::NeedBody),
                        SubStep::Data(d) => stream.feed(&d),
                        SubStep::Transferred => {
                            stream.finish();
                            *finished = true;
                        }
                        SubStep::Failed(e) => return self.attempt_failed(e),
                        _ => return self.attempt_failed(unexpected()),
                    }
                }
                State::Inspect { op, tags } => match op.poll(now) {
                    SubStep::Io(io) => return Step::Io(io),
                    SubStep::Called(inspect) => {
                        let tags = std::mem::take(tags);
                        return self.end(Ok(BuiltImage {
                            id: inspect.id,
                            tags,
                        }));
                    }
                    SubStep::Failed(e) => return self.attempt_failed(e),
                    _ => return self.attempt_failed(unexpected()),
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

    feed_sub_op!();
}

fn unexpected() -> Error {
    Error::SocketCommunication("unexpected step of a build".into())
}
