//! Recreating a container from its own settings (`reboot(fresh)`): inspect it, remove it, create
//! it again under the same name from what the inspect said, and start it.
//!
//! [`Recreate`] is the flow itself, with no bytes and no clock: it says which engine call to
//! make next ([`poll_call`](Recreate::poll_call)), is told how that call went
//! ([`handle_reply`](Recreate::handle_reply)), and reports what happened
//! ([`poll_event`](Recreate::poll_event)) and how it ended ([`poll_done`](Recreate::poll_done)).
//! [`RecreateOp`] drives it over the engine connection like any other operation.

use std::collections::VecDeque;
use std::time::Instant;

use serde_json::Value;

use super::{polled_after_completion, Seq, SeqStep};
use crate::api::containers;
use crate::error::{Error, Result};
use crate::op::{calls, CallOp, Operation, Step};

/// An engine call the recreate flow needs next.
#[derive(Debug, Clone, PartialEq)]
pub enum RecreateCall {
    /// Inspect the old container (the raw JSON: every setting is carried over).
    Inspect {
        /// The old container's id.
        id: String,
    },
    /// Remove the old container (forced: it may be running).
    Remove {
        /// The old container's id.
        id: String,
    },
    /// Create the new container.
    Create {
        /// The name (the old container's).
        name: String,
        /// The create body rebuilt from the inspect.
        body: Value,
        /// The image, for a "no such image" error.
        image: String,
    },
    /// Start the new container.
    Start {
        /// The new container's id.
        id: String,
    },
}

impl RecreateCall {
    /// The call as an operation on the engine connection.
    pub fn into_op(self) -> CallOp<RecreateReply> {
        match self {
            Self::Inspect { id } => calls::inspect_raw(&id).map(RecreateReply::Inspected),
            Self::Remove { id } => calls::remove(&id, true).map(|()| RecreateReply::Done),
            Self::Create { name, body, image } => {
                calls::create(&name, &body, &image).map(RecreateReply::Created)
            }
            Self::Start { id } => calls::start(&id).map(|()| RecreateReply::Done),
        }
    }
}

/// What a [`RecreateCall`] answered.
#[derive(Debug, Clone, PartialEq)]
pub enum RecreateReply {
    /// The raw inspect of the old container.
    Inspected(Value),
    /// The id of the new container.
    Created(String),
    /// The call succeeded with nothing to say (remove, start).
    Done,
}

/// What happened along the way, for a caller that keeps state about the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecreateEvent {
    /// The old container is gone: from here on, its id names nothing.
    Removed {
        /// The old id.
        id: String,
    },
    /// The new container exists (not started yet).
    Created {
        /// The new id.
        id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Inspect,
    Remove,
    Create,
    Start,
    Done,
}

/// The recreate flow as a state machine: one owner, `&mut self`, no I/O and no clock.
///
/// The first call is the inspect; each reply moves the flow on by one call. A failed call ends
/// the flow with that call's error (the engine's error names the container or the image); the
/// old container is gone once [`RecreateEvent::Removed`] was reported, whatever follows.
#[derive(Debug)]
pub struct Recreate {
    id: String,
    name: String,
    created_at: String,
    stage: Stage,
    /// The next call, until [`poll_call`](Self::poll_call) takes it.
    call: Option<RecreateCall>,
    /// A call was handed out and its reply is awaited.
    waiting: bool,
    body: Value,
    new_id: String,
    events: VecDeque<RecreateEvent>,
    done: Option<Result<String>>,
}

impl Recreate {
    /// Recreate container `id` as `name`; `created_at` is the new `pocketdock.created-at` label
    /// (the caller's clock, see [`crate::info::format_timestamp`]).
    pub fn new(id: &str, name: &str, created_at: &str) -> Self {
        Self {
            id: id.to_string(),
            name: name.to_string(),
            created_at: created_at.to_string(),
            stage: Stage::Inspect,
            call: Some(RecreateCall::Inspect { id: id.to_string() }),
            waiting: false,
            body: Value::Null,
            new_id: String::new(),
            events: VecDeque::new(),
            done: None,
        }
    }

    /// The next engine call to make, once; `None` while a reply is awaited or after the end.
    pub fn poll_call(&mut self) -> Option<RecreateCall> {
        let call = self.call.take()?;
        self.waiting = true;
        Some(call)
    }

    /// The next thing that happened; call until `None` after each reply.
    pub fn poll_event(&mut self) -> Option<RecreateEvent> {
        self.events.pop_front()
    }

    /// The outcome, once: the new container's id, or the error that ended the flow. `None`
    /// while the flow goes on.
    pub fn poll_done(&mut self) -> Option<Result<String>> {
        self.done.take()
    }

    /// True once the flow has ended (its outcome may already have been taken).
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// The reply to the call last returned by [`poll_call`](Self::poll_call). A reply nobody
    /// asked for ends the flow with [`Error::InvalidInput`] (a caller's mistake).
    pub fn handle_reply(&mut self, reply: Result<RecreateReply>) {
        if !self.waiting || self.stage == Stage::Done {
            self.finish(Err(Error::invalid(
                "reply",
                "a recreate reply came with no call waiting for it",
            )));
            return;
        }
        self.waiting = false;
        match (self.stage, reply) {
            (_, Err(e)) => self.finish(Err(e)),
            (Stage::Inspect, Ok(RecreateReply::Inspected(raw))) => {
                self.body = containers::recreate_body(&raw, &self.created_at);
                self.next(
                    Stage::Remove,
                    RecreateCall::Remove {
                        id: self.id.clone(),
                    },
                );
            }
            (Stage::Remove, Ok(RecreateReply::Done)) => {
                self.events.push_back(RecreateEvent::Removed {
                    id: self.id.clone(),
                });
                let image = self
                    .body
                    .get("Image")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let call = RecreateCall::Create {
                    name: self.name.clone(),
                    body: std::mem::take(&mut self.body),
                    image,
                };
                self.next(Stage::Create, call);
            }
            (Stage::Create, Ok(RecreateReply::Created(id))) => {
                self.events
                    .push_back(RecreateEvent::Created { id: id.clone() });
                self.next(Stage::Start, RecreateCall::Start { id: id.clone() });
                self.new_id = id;
            }
            (Stage::Start, Ok(RecreateReply::Done)) => {
                let id = std::mem::take(&mut self.new_id);
                self.finish(Ok(id));
            }
            (_, Ok(other)) => self.finish(Err(Error::SocketCommunication(format!(
                "unexpected recreate reply {other:?}"
            )))),
        }
    }

    fn next(&mut self, stage: Stage, call: RecreateCall) {
        self.stage = stage;
        self.call = Some(call);
    }

    fn finish(&mut self, outcome: Result<String>) {
        self.stage = Stage::Done;
        self.call = None;
        self.waiting = false;
        self.done = Some(outcome);
    }
}

/// [`Recreate`] as an [`Operation`]: each call it asks for is made on its own connection; its
/// events are handed on. The output is the new id.
pub struct RecreateOp {
    flow: Recreate,
    seq: Seq<RecreateReply>,
    finished: bool,
}

impl std::fmt::Debug for RecreateOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecreateOp")
            .field("flow", &self.flow)
            .finish_non_exhaustive()
    }
}

impl RecreateOp {
    /// Recreate container `id` as `name`; `created_at` is the new `created-at` label.
    pub fn new(id: &str, name: &str, created_at: &str) -> Self {
        let mut flow = Recreate::new(id, name, created_at);
        // The flow always starts with a call: the inspect.
        let first = flow.poll_call().map_or_else(
            || RecreateCall::Inspect { id: id.to_string() }.into_op(),
            RecreateCall::into_op,
        );
        Self {
            flow,
            seq: Seq::new(first),
            finished: false,
        }
    }
}

impl Operation for RecreateOp {
    type Event = RecreateEvent;
    type Output = String;

    fn poll(&mut self, now: Instant) -> Step<RecreateEvent, String> {
        loop {
            if let Some(e) = self.flow.poll_event() {
                return Step::Event(e);
            }
            if let Some(outcome) = self.flow.poll_done() {
                self.finished = true;
                return Step::Done(outcome);
            }
            if self.finished {
                return polled_after_completion();
            }
            match self.seq.poll(now) {
                SeqStep::Io(io) => return Step::Io(io),
                SeqStep::Resumed => {}
                SeqStep::Got(reply) => {
                    self.flow.handle_reply(reply);
                    if let Some(next) = self.flow.poll_call() {
                        self.seq.call(next.into_op());
                    }
                }
            }
        }
    }

    forward_input!();
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::op::lifecycle::scripted::{longest, run, Answer};

    fn inspect_json() -> Value {
        json!({
            "Id": "old",
            "Name": "/box",
            "Config": {
                "Image": "pocketdock/busybox",
                "Cmd": ["sleep", "infinity"],
                "Labels": {
                    "pocketdock.managed": "true",
                    "pocketdock.instance": "box",
                    "pocketdock.created-at": "2020-01-01T00:00:00+00:00"
                }
            },
            "HostConfig": { "Memory": 268_435_456, "NetworkMode": "none" }
        })
    }

    /// The machine alone: the calls in order, each reply moving it on by one.
    #[test]
    fn calls_in_order_then_the_new_id() {
        let mut m = Recreate::new("old", "box", "2026-01-02T03:04:05+00:00");
        assert_eq!(
            m.poll_call(),
            Some(RecreateCall::Inspect { id: "old".into() })
        );
        assert_eq!(m.poll_call(), None, "one call at a time");
        m.handle_reply(Ok(RecreateReply::Inspected(inspect_json())));
        assert_eq!(m.poll_event(), None);
        assert_eq!(
            m.poll_call(),
            Some(RecreateCall::Remove { id: "old".into() })
        );
        m.handle_reply(Ok(RecreateReply::Done));
        assert_eq!(
            m.poll_event(),
            Some(RecreateEvent::Removed { id: "old".into() })
        );
        let Some(RecreateCall::Create { name, body, image }) = m.poll_call() else {
            panic!("expected the create");
        };
        assert_eq!(
            (name.as_str(), image.as_str()),
            ("box", "pocketdock/busybox")
        );
        assert_eq!(body["Cmd"], json!(["sleep", "infinity"]));
        assert_eq!(body["HostConfig"]["Memory"], json!(268_435_456));
        assert_eq!(
            body["Labels"]["pocketdock.created-at"],
            json!("2026-01-02T03:04:05+00:00"),
            "the new container gets the caller's created-at"
        );
        m.handle_reply(Ok(RecreateReply::Created("new".into())));
        assert_eq!(
            m.poll_event(),
            Some(RecreateEvent::Created { id: "new".into() })
        );
        assert_eq!(
            m.poll_call(),
            Some(RecreateCall::Start { id: "new".into() })
        );
        assert!(m.poll_done().is_none());
        m.handle_reply(Ok(RecreateReply::Done));
        assert!(m.is_done());
        assert_eq!(m.poll_done().map(Result::ok), Some(Some("new".to_string())));
        assert!(m.poll_done().is_none(), "the outcome is given once");
        assert_eq!(m.poll_call(), None);
    }

    /// A failed call ends the flow with its error; nothing is called after it.
    #[test]
    fn a_failed_call_ends_the_flow() {
        for failing in 0..4 {
            let mut m = Recreate::new("old", "box", "t");
            let mut events = Vec::new();
            let mut step = 0;
            while let Some(call) = m.poll_call() {
                let reply = if step == failing {
                    Err(Error::ContainerNotFound(format!("{call:?}")))
                } else {
                    Ok(match call {
                        RecreateCall::Inspect { .. } => RecreateReply::Inspected(inspect_json()),
                        RecreateCall::Create { .. } => RecreateReply::Created("new".into()),
                        RecreateCall::Remove { .. } | RecreateCall::Start { .. } => {
                            RecreateReply::Done
                        }
                    })
                };
                m.handle_reply(reply);
                events.extend(std::iter::from_fn(|| m.poll_event()));
                step += 1;
            }
            assert_eq!(step, failing + 1, "no call after the failing one");
            assert!(matches!(
                m.poll_done(),
                Some(Err(Error::ContainerNotFound(_)))
            ));
            // The old container is reported gone exactly when its removal succeeded.
            let removed = events
                .iter()
                .any(|e| matches!(e, RecreateEvent::Removed { .. }));
            assert_eq!(removed, failing >= 2, "failing call {failing}: {events:?}");
        }
    }

    /// A reply with no call waiting is the caller's mistake, and ends the flow.
    #[test]
    fn a_reply_nobody_asked_for_is_refused() {
        let mut m = Recreate::new("old", "box", "t");
        m.handle_reply(Ok(RecreateReply::Done));
        assert!(matches!(
            m.poll_done(),
            Some(Err(Error::InvalidInput { .. }))
        ));
        assert_eq!(m.poll_call(), None);
        // A reply of the wrong kind is a protocol surprise, not a success.
        let mut m = Recreate::new("old", "box", "t");
        let _ = m.poll_call();
        m.handle_reply(Ok(RecreateReply::Created("x".into())));
        assert!(matches!(
            m.poll_done(),
            Some(Err(Error::SocketCommunication(_)))
        ));
    }

    fn script(create: Answer) -> Vec<Answer> {
        vec![
            Answer::new(
                "GET /containers/old/json",
                "200 OK",
                &inspect_json().to_string(),
            ),
            Answer::new("DELETE /containers/old?force=true", "204 No Content", ""),
            create,
            Answer::new("POST /containers/new/start", "204 No Content", ""),
        ]
    }

    /// The operation over the engine's bytes: the same outcome at every split point.
    #[test]
    fn the_operation_gives_the_new_id_at_every_split_point() {
        let answers = script(Answer::new(
            "POST /containers/create?name=box",
            "201 Created",
            r#"{"Id":"new","Warnings":[]}"#,
        ));
        for split in 0..=longest(&answers) {
            let (events, r) = run(RecreateOp::new("old", "box", "t"), &answers, split);
            assert_eq!(r.ok().as_deref(), Some("new"), "split {split}");
            assert_eq!(
                events,
                [
                    RecreateEvent::Removed { id: "old".into() },
                    RecreateEvent::Created { id: "new".into() }
                ],
                "split {split}"
            );
        }
    }

    /// The image is gone: the create's 404 names the image, and the old container is reported
    /// removed (it is).
    #[test]
    fn a_missing_image_names_the_image_at_every_split_point() {
        let mut answers = script(Answer::new(
            "POST /containers/create?name=box",
            "404 Not Found",
            r#"{"message":"No such image: pocketdock/busybox"}"#,
        ));
        answers.truncate(3);
        for split in 0..=longest(&answers) {
            let (events, r) = run(RecreateOp::new("old", "box", "t"), &answers, split);
            match r {
                Err(Error::ImageNotFound(image)) => assert_eq!(image, "pocketdock/busybox"),
                other => panic!("split {split}: {other:?}"),
            }
            assert_eq!(events, [RecreateEvent::Removed { id: "old".into() }]);
        }
    }
}
