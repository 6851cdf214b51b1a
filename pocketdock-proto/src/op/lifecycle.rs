//! Operations that chain several engine calls: create-and-start (removing a container that fails to
//! start), find by name (engine name, then the Python pocketdock's instance label), recreate from
//! the container's own settings (`reboot(fresh)`), and the live info (two stats samples a quarter
//! second apart, then `/top`). Each is written once here; the adapters only drive them.

use std::time::{Duration, Instant};

use super::{calls, CallOp, Io, Operation, Step};
use crate::api::containers::{ContainerInspect, ListItem};
use crate::api::stats::{Stats, Top};
use crate::api::strip_slash;
use crate::error::{Error, Result};
use crate::info::ContainerInfo;
use crate::spec::{generate_name, ContainerSpec, Labels, LABEL_INSTANCE, LABEL_MANAGED};

/// How a container is known to pocketdock: what a `Container` handle holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// Full engine id.
    pub id: String,
    /// The pocketdock name (the engine name, or the instance label of a reference container).
    pub name: String,
    /// `shutdown` only stops it.
    pub persist: bool,
    /// Project name, empty if none.
    pub project: String,
    /// Instance data directory, empty if none.
    pub data_path: String,
}

impl Identity {
    /// The identity of an inspected container (its pocketdock labels, else its engine name).
    pub fn from_inspect(inspect: &ContainerInspect) -> Self {
        let labels = Labels::from_map(&inspect.config.labels).unwrap_or_default();
        Self {
            id: inspect.id.clone(),
            name: if labels.instance.is_empty() {
                strip_slash(&inspect.name).to_string()
            } else {
                labels.instance
            },
            persist: labels.persist,
            project: labels.project.unwrap_or_default(),
            data_path: labels.data_path.unwrap_or_default(),
        }
    }
}

/// One inner call at a time, or a pause: the plumbing of the composite operations below.
struct Seq<G> {
    call: Option<CallOp<G>>,
    until: Option<Instant>,
}

enum SeqStep<G> {
    Io(Io),
    Got(Result<G>),
    Resumed,
}

impl<G> Seq<G> {
    fn new(first: CallOp<G>) -> Self {
        Self {
            call: Some(first),
            until: None,
        }
    }

    fn call(&mut self, next: CallOp<G>) {
        self.call = Some(next);
    }

    fn pause(&mut self, until: Instant) {
        self.until = Some(until);
    }

    fn poll(&mut self, now: Instant) -> SeqStep<G> {
        if let Some(until) = self.until {
            if now < until {
                return SeqStep::Io(Io::Wait(until));
            }
            self.until = None;
            return SeqStep::Resumed;
        }
        let Some(call) = self.call.as_mut() else {
            return SeqStep::Got(Err(Error::polled_after_completion()));
        };
        loop {
            match call.poll(now) {
                Step::Io(io) => return SeqStep::Io(io),
                Step::Event(()) => {}
                Step::Done(r) => {
                    self.call = None;
                    return SeqStep::Got(r);
                }
            }
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if let Some(c) = self.call.as_mut() {
            c.handle_input(now, data);
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        if let Some(c) = self.call.as_mut() {
            c.handle_eof(now);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(c) = self.call.as_mut() {
            c.handle_timeout(now);
        }
    }
}

macro_rules! forward_input {
    () => {
        fn handle_input(&mut self, now: Instant, data: &[u8]) {
            self.seq.handle_input(now, data);
        }

        fn handle_eof(&mut self, now: Instant) {
            self.seq.handle_eof(now);
        }

        fn handle_timeout(&mut self, now: Instant) {
            self.seq.handle_timeout(now);
        }
    };
}

// The recreate flow, after the plumbing it shares with the operations below.
mod recreate;
#[cfg(test)]
mod scripted;

pub use recreate::{Recreate, RecreateCall, RecreateEvent, RecreateOp, RecreateReply};

fn polled_after_completion<E, T>() -> Step<E, T> {
    Step::Done(Err(Error::polled_after_completion()))
}

// ---------------------------------------------------------------------------------------------

enum CreateGot {
    Id(String, Vec<String>),
    Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CreateStage {
    Create,
    Start,
    Cleanup,
    Done,
}

/// Create and start a sandbox: the spec is checked before any engine call, a taken name is
/// [`Error::NameInUse`], and a container that fails to start is removed again (the start error
/// is reported).
pub struct CreateOp {
    seq: Seq<CreateGot>,
    stage: CreateStage,
    identity: Identity,
    start_error: Option<Error>,
    warnings: Vec<String>,
}

impl std::fmt::Debug for CreateOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateOp")
            .field("name", &self.identity.name)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl CreateOp {
    /// Check `spec` and prepare the calls. `random` names a container whose spec has no name
    /// (`pd-<hex>`); `created_at` is the caller's clock for the `created-at` label (see
    /// [`crate::info::format_timestamp`]).
    pub fn new(spec: &ContainerSpec, random: u64, created_at: &str) -> Result<Self> {
        spec.validate()?;
        let name = spec.name.clone().unwrap_or_else(|| generate_name(random));
        Self::with_labels(spec, &spec.labels_for(&name, created_at))
    }

    /// Create `spec` under the name and with the labels already decided by the caller (e.g. a
    /// project's instance directory in `data_path`); the spec is checked again.
    pub fn with_labels(spec: &ContainerSpec, labels: &Labels) -> Result<Self> {
        spec.validate()?;
        let name = labels.instance.clone();
        crate::spec::validate_name(&name)?;
        let labels = labels.clone();
        let body = spec.checked_create_body(&labels)?;
        let image = spec.resolved_image()?;
        let identity = Identity {
            id: String::new(),
            name: name.clone(),
            persist: labels.persist,
            project: labels.project.clone().unwrap_or_default(),
            data_path: labels.data_path.clone().unwrap_or_default(),
        };
        Ok(Self {
            seq: Seq::new(
                calls::create_with_warnings(&name, &body, &image)
                    .map(|(id, warnings)| CreateGot::Id(id, warnings)),
            ),
            stage: CreateStage::Create,
            identity,
            start_error: None,
            warnings: Vec::new(),
        })
    }

    /// The `Warnings` of the engine's create answer (empty until it came).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

impl Operation for CreateOp {
    type Event = ();
    type Output = Identity;

    fn poll(&mut self, now: Instant) -> Step<(), Identity> {
        loop {
            if self.stage == CreateStage::Done {
                return polled_after_completion();
            }
            let got = match self.seq.poll(now) {
                SeqStep::Io(io) => return Step::Io(io),
                SeqStep::Resumed => continue,
                SeqStep::Got(got) => got,
            };
            match (self.stage, got) {
                (CreateStage::Create, Ok(CreateGot::Id(id, warnings))) => {
                    self.seq.call(calls::start(&id).map(|()| CreateGot::Unit));
                    self.identity.id = id;
                    self.warnings = warnings;
                    self.stage = CreateStage::Start;
                }
                (CreateStage::Start, Ok(_)) => {
                    self.stage = CreateStage::Done;
                    return Step::Done(Ok(std::mem::take(&mut self.identity)));
                }
                (CreateStage::Start, Err(e)) => {
                    self.start_error = Some(e);
                    self.seq
                        .call(calls::remove(&self.identity.id, true).map(|()| CreateGot::Unit));
                    self.stage = CreateStage::Cleanup;
                }
                (CreateStage::Cleanup, _) => {
                    self.stage = CreateStage::Done;
                    let e = self
                        .start_error
                        .take()
                        .unwrap_or_else(|| Error::SocketCommunication("start failed".into()));
                    return Step::Done(Err(e));
                }
                (_, Err(e)) => {
                    self.stage = CreateStage::Done;
                    return Step::Done(Err(e));
                }
                (_, Ok(_)) => {
                    self.stage = CreateStage::Done;
                    return Step::Done(Err(Error::SocketCommunication(
                        "unexpected create step".into(),
                    )));
                }
            }
        }
    }

    forward_input!();
}

// ---------------------------------------------------------------------------------------------

enum FindGot {
    Inspect(Box<ContainerInspect>),
    List(Vec<ListItem>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FindStage {
    ByName,
    ByLabel,
    Inspect,
    Done,
}

/// Find a pocketdock container by name: the engine name first, then (for containers made by the
/// Python reference, which leaves the engine name alone) the `pocketdock.instance` label. Only
/// containers labelled `pocketdock.managed=true` are found; none is
/// [`Error::ContainerNotFound`], several with the same label [`Error::InvalidInput`].
pub struct FindOp {
    name: String,
    seq: Seq<FindGot>,
    stage: FindStage,
}

impl std::fmt::Debug for FindOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FindOp")
            .field("name", &self.name)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl FindOp {
    /// Look up `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            seq: Seq::new(calls::inspect(name).map(|i| FindGot::Inspect(Box::new(i)))),
            stage: FindStage::ByName,
        }
    }

    fn done(&mut self, r: Result<ContainerInspect>) -> Step<(), ContainerInspect> {
        self.stage = FindStage::Done;
        Step::Done(r)
    }
}

impl Operation for FindOp {
    type Event = ();
    type Output = ContainerInspect;

    fn poll(&mut self, now: Instant) -> Step<(), ContainerInspect> {
        loop {
            if self.stage == FindStage::Done {
                return polled_after_completion();
            }
            let got = match self.seq.poll(now) {
                SeqStep::Io(io) => return Step::Io(io),
                SeqStep::Resumed => continue,
                SeqStep::Got(got) => got,
            };
            match (self.stage, got) {
                (FindStage::ByName, Ok(FindGot::Inspect(c)))
                    if Labels::from_map(&c.config.labels).is_some() =>
                {
                    return self.done(Ok(*c));
                }
                (FindStage::ByName, Ok(_) | Err(Error::ContainerNotFound(_))) => {
                    self.seq.call(
                        calls::list(&[
                            format!("{LABEL_MANAGED}=true"),
                            format!("{LABEL_INSTANCE}={}", self.name),
                        ])
                        .map(FindGot::List),
                    );
                    self.stage = FindStage::ByLabel;
                }
                (FindStage::ByLabel, Ok(FindGot::List(items))) => match items.as_slice() {
                    [one] => {
                        self.seq
                            .call(calls::inspect(&one.id).map(|i| FindGot::Inspect(Box::new(i))));
                        self.stage = FindStage::Inspect;
                    }
                    [] => return self.done(Err(Error::ContainerNotFound(self.name.clone()))),
                    many => {
                        let names = many
                            .iter()
                            .map(|i| i.names.first().map_or(i.id.as_str(), |n| strip_slash(n)))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let e = Error::invalid(
                            "name",
                            format!(
                                "{} containers are labelled {LABEL_INSTANCE}={}: {names}",
                                many.len(),
                                self.name
                            ),
                        );
                        return self.done(Err(e));
                    }
                },
                (FindStage::Inspect, Ok(FindGot::Inspect(c))) => return self.done(Ok(*c)),
                (_, Err(e)) => return self.done(Err(e)),
                (_, Ok(_)) => {
                    return self.done(Err(Error::SocketCommunication(
                        "unexpected find step".into(),
                    )))
                }
            }
        }
    }

    forward_input!();
}

// ---------------------------------------------------------------------------------------------

/// Resume a pocketdock container by name: find it (see [`FindOp`]) and start it unless it
/// runs. The output is the inspect made before the start (its state says "not running" when
/// the container was started here).
pub struct ResumeOp {
    find: FindOp,
    start: Option<CallOp<()>>,
    found: Option<ContainerInspect>,
    finished: bool,
}

impl std::fmt::Debug for ResumeOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumeOp")
            .field("find", &self.find)
            .field("starting", &self.start.is_some())
            .finish_non_exhaustive()
    }
}

impl ResumeOp {
    /// Resume the container named `name`.
    pub fn new(name: &str) -> Self {
        Self {
            find: FindOp::new(name),
            start: None,
            found: None,
            finished: false,
        }
    }

    fn done(&mut self, r: Result<ContainerInspect>) -> Step<(), ContainerInspect> {
        self.finished = true;
        Step::Done(r)
    }
}

impl Operation for ResumeOp {
    type Event = ();
    type Output = ContainerInspect;

    fn poll(&mut self, now: Instant) -> Step<(), ContainerInspect> {
        loop {
            if self.finished {
                return polled_after_completion();
            }
            if let Some(start) = self.start.as_mut() {
                return match start.poll(now) {
                    Step::Io(io) => Step::Io(io),
                    Step::Event(()) => continue,
                    Step::Done(Ok(())) => {
                        let found = self.found.take().unwrap_or_default();
                        self.done(Ok(found))
                    }
                    Step::Done(Err(e)) => self.done(Err(e)),
                };
            }
            return match self.find.poll(now) {
                Step::Io(io) => Step::Io(io),
                Step::Event(()) => continue,
                Step::Done(Ok(c)) if c.state.running => self.done(Ok(c)),
                Step::Done(Ok(c)) => {
                    self.start = Some(calls::start(&c.id));
                    self.found = Some(c);
                    continue;
                }
                Step::Done(Err(e)) => self.done(Err(e)),
            };
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        match self.start.as_mut() {
            Some(s) => s.handle_input(now, data),
            None => self.find.handle_input(now, data),
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        match self.start.as_mut() {
            Some(s) => s.handle_eof(now),
            None => self.find.handle_eof(now),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self.start.as_mut() {
            Some(s) => s.handle_timeout(now),
            None => self.find.handle_timeout(now),
        }
    }
}

// ---------------------------------------------------------------------------------------------

enum PruneGot {
    List(Vec<ListItem>),
    Removed,
}

/// Remove the stopped pocketdock containers (exited, created, dead), only those of a project
/// when given; the output is how many were removed. Running and paused containers are kept:
/// the removal is not forced, so a container started meanwhile survives, and one gone
/// meanwhile is not an error.
pub struct PruneOp {
    seq: Seq<PruneGot>,
    /// Ids still to remove, last first.
    left: Vec<String>,
    listed: bool,
    removed: usize,
    finished: bool,
}

impl std::fmt::Debug for PruneOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PruneOp")
            .field("left", &self.left.len())
            .field("removed", &self.removed)
            .finish_non_exhaustive()
    }
}

impl PruneOp {
    /// Prune the containers of `project`, or all pocketdock containers.
    pub fn new(project: Option<&str>) -> Self {
        Self {
            seq: Seq::new(
                calls::list(&crate::persistence::list_filter(project)).map(PruneGot::List),
            ),
            left: Vec::new(),
            listed: false,
            removed: 0,
            finished: false,
        }
    }

    fn next(&mut self) -> Option<Step<(), usize>> {
        if let Some(id) = self.left.pop() {
            self.seq
                .call(calls::remove(&id, false).map(|()| PruneGot::Removed));
            return None;
        }
        self.finished = true;
        Some(Step::Done(Ok(self.removed)))
    }
}

impl Operation for PruneOp {
    type Event = ();
    type Output = usize;

    fn poll(&mut self, now: Instant) -> Step<(), usize> {
        loop {
            if self.finished {
                return polled_after_completion();
            }
            let got = match self.seq.poll(now) {
                SeqStep::Io(io) => return Step::Io(io),
                SeqStep::Resumed => continue,
                SeqStep::Got(got) => got,
            };
            match got {
                Ok(PruneGot::List(items)) => {
                    self.listed = true;
                    self.left = items
                        .iter()
                        .map(crate::persistence::ContainerListItem::from_list_item)
                        .filter(crate::persistence::ContainerListItem::is_stopped)
                        .map(|i| i.full_id)
                        .rev()
                        .collect();
                }
                Ok(PruneGot::Removed) => self.removed += 1,
                // Gone meanwhile, or running again (409): not ours to remove.
                Err(
                    Error::ContainerNotFound(_)
                    | Error::ContainerNotRunning(_)
                    | Error::Engine { status: 409, .. },
                ) if self.listed => {}
                Err(e) => {
                    self.finished = true;
                    return Step::Done(Err(e));
                }
            }
            if let Some(step) = self.next() {
                return step;
            }
        }
    }

    forward_input!();
}

// ---------------------------------------------------------------------------------------------

/// Time between the two stats samples of [`InfoOp`] (CPU percent is their difference).
pub const INFO_SAMPLE_GAP: Duration = Duration::from_millis(250);

enum InfoGot {
    Inspect(Box<ContainerInspect>),
    Stats(Option<Box<Stats>>),
    Top(Option<Top>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InfoStage {
    Inspect,
    First,
    Gap,
    Second,
    Top,
    LibpodTop,
    Done,
}

/// A live [`ContainerInfo`]: inspect, and for a running container two stats samples
/// [`INFO_SAMPLE_GAP`] apart (CPU from their difference, memory without page cache) and `/top`.
/// A container that stops meanwhile gives the info of a stopped one, not an error.
pub struct InfoOp {
    id: String,
    now_unix: f64,
    seq: Seq<InfoGot>,
    stage: InfoStage,
    inspect: Option<ContainerInspect>,
    first: Option<Stats>,
    sample: Option<Stats>,
}

impl std::fmt::Debug for InfoOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfoOp")
            .field("id", &self.id)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl InfoOp {
    /// The info of container `id`; `now_unix` is the caller's clock (seconds since the epoch)
    /// for the uptime.
    pub fn new(id: &str, now_unix: f64) -> Self {
        Self {
            id: id.to_string(),
            now_unix,
            seq: Seq::new(calls::inspect(id).map(|i| InfoGot::Inspect(Box::new(i)))),
            stage: InfoStage::Inspect,
            inspect: None,
            first: None,
            sample: None,
        }
    }

    fn build(&mut self, top: Option<&Top>) -> Step<(), ContainerInfo> {
        self.stage = InfoStage::Done;
        let inspect = self.inspect.take().unwrap_or_default();
        Step::Done(Ok(ContainerInfo::build(
            &inspect,
            self.sample.as_ref(),
            top,
            self.now_unix,
        )))
    }
}

impl Operation for InfoOp {
    type Event = ();
    type Output = ContainerInfo;

    fn poll(&mut self, now: Instant) -> Step<(), ContainerInfo> {
        loop {
            if self.stage == InfoStage::Done {
                return polled_after_completion();
            }
            let got = match self.seq.poll(now) {
                SeqStep::Io(io) => return Step::Io(io),
                SeqStep::Resumed => {
                    self.seq
                        .call(calls::stats(&self.id).map(|s| InfoGot::Stats(s.map(Box::new))));
                    self.stage = InfoStage::Second;
                    continue;
                }
                SeqStep::Got(got) => got,
            };
            match (self.stage, got) {
                (InfoStage::Inspect, Ok(InfoGot::Inspect(c))) => {
                    let running = c.state.running;
                    self.inspect = Some(*c);
                    if !running {
                        return self.build(None);
                    }
                    self.seq
                        .call(calls::stats(&self.id).map(|s| InfoGot::Stats(s.map(Box::new))));
                    self.stage = InfoStage::First;
                }
                (InfoStage::First, Ok(InfoGot::Stats(s))) => {
                    self.first = s.map(|s| *s);
                    self.seq.pause(now + INFO_SAMPLE_GAP);
                    self.stage = InfoStage::Gap;
                }
                (InfoStage::Second, Ok(InfoGot::Stats(s))) => {
                    self.sample = match (self.first.take(), s) {
                        (Some(a), Some(b)) => Some(b.since(&a)),
                        (_, b) => b.map(|b| *b),
                    };
                    self.seq.call(calls::top(&self.id).map(InfoGot::Top));
                    self.stage = InfoStage::Top;
                }
                // An empty list from a running container: Podman's compatible endpoint found
                // no `ps` in the image; ask its own endpoint.
                (InfoStage::Top, Ok(InfoGot::Top(Some(t)))) if t.processes.is_empty() => {
                    self.seq.call(calls::libpod_top(&self.id).map(InfoGot::Top));
                    self.stage = InfoStage::LibpodTop;
                }
                (InfoStage::Top | InfoStage::LibpodTop, Ok(InfoGot::Top(t))) => {
                    return self.build(t.as_ref())
                }
                (_, Err(e)) => {
                    self.stage = InfoStage::Done;
                    return Step::Done(Err(e));
                }
                (_, Ok(_)) => {
                    self.stage = InfoStage::Done;
                    return Step::Done(Err(Error::SocketCommunication(
                        "unexpected info step".into(),
                    )));
                }
            }
        }
    }

    forward_input!();
}

#[cfg(test)]
mod tests {
    use super::scripted::{longest, run, Answer};
    use super::*;

    fn inspect(id: &str, running: bool) -> String {
        serde_json::json!({
            "Id": id,
            "Name": "/box",
            "State": { "Status": if running { "running" } else { "exited" }, "Running": running },
            "Config": { "Image": "pocketdock/busybox", "Labels": { "pocketdock.managed": "true" } }
        })
        .to_string()
    }

    /// A stopped container is found, then started; the output is the inspect made before.
    #[test]
    fn resume_starts_a_stopped_container_at_every_split_point() {
        let answers = [
            Answer::new("GET /containers/box/json", "200 OK", &inspect("c1", false)),
            Answer::new("POST /containers/c1/start", "204 No Content", ""),
        ];
        for split in 0..=longest(&answers) {
            let (_, r) = run(ResumeOp::new("box"), &answers, split);
            let found = r.unwrap_or_else(|e| panic!("split {split}: {e}"));
            assert_eq!((found.id.as_str(), found.state.running), ("c1", false));
        }
    }

    /// A running container is left alone: no start.
    #[test]
    fn resume_leaves_a_running_container_alone() {
        let answers = [Answer::new(
            "GET /containers/box/json",
            "200 OK",
            &inspect("c1", true),
        )];
        for split in 0..=longest(&answers) {
            let (_, r) = run(ResumeOp::new("box"), &answers, split);
            assert_eq!(r.map(|c| c.id).ok().as_deref(), Some("c1"));
        }
    }

    /// A failed start is the outcome, naming the container.
    #[test]
    fn resume_reports_a_failed_start() {
        let answers = [
            Answer::new("GET /containers/box/json", "200 OK", &inspect("c1", false)),
            Answer::new(
                "POST /containers/c1/start",
                "404 Not Found",
                r#"{"message":"no such container"}"#,
            ),
        ];
        let (_, r) = run(ResumeOp::new("box"), &answers, 7);
        assert!(matches!(r, Err(Error::ContainerNotFound(id)) if id == "c1"));
    }

    fn list(items: &[(&str, &str)]) -> String {
        serde_json::Value::Array(
            items
                .iter()
                .map(|(id, state)| {
                    serde_json::json!({
                        "Id": id,
                        "Names": [format!("/{id}")],
                        "State": state,
                        "Labels": { "pocketdock.managed": "true" }
                    })
                })
                .collect(),
        )
        .to_string()
    }

    /// Only the stopped ones are removed, unforced, in list order; one gone or running again
    /// meanwhile is skipped, not an error; the output counts the removed ones.
    #[test]
    fn prune_removes_the_stopped_ones_at_every_split_point() {
        let answers = [
            Answer::new(
                "GET /containers/json?all=true",
                "200 OK",
                &list(&[
                    ("a", "exited"),
                    ("b", "running"),
                    ("c", "created"),
                    ("d", "exited"),
                    ("e", "paused"),
                    ("f", "dead"),
                ]),
            ),
            Answer::new("DELETE /containers/a?force=false", "204 No Content", ""),
            Answer::new(
                "DELETE /containers/c?force=false",
                "404 Not Found",
                r#"{"message":"No such container: c"}"#,
            ),
            Answer::new(
                "DELETE /containers/d?force=false",
                "409 Conflict",
                r#"{"message":"container is running: stop it first"}"#,
            ),
            Answer::new("DELETE /containers/f?force=false", "204 No Content", ""),
        ];
        for split in 0..=longest(&answers) {
            let (_, r) = run(PruneOp::new(Some("proj")), &answers, split);
            assert_eq!(r.ok(), Some(2), "split {split}");
        }
    }

    /// Any other failure stops the pruning with that error; nothing is removed after it.
    #[test]
    fn prune_stops_at_an_engine_failure() {
        let answers = [
            Answer::new(
                "GET /containers/json?all=true",
                "200 OK",
                &list(&[("a", "exited"), ("b", "exited")]),
            ),
            Answer::new(
                "DELETE /containers/a?force=false",
                "500 Internal Server Error",
                r#"{"message":"disk on fire"}"#,
            ),
        ];
        let (_, r) = run(PruneOp::new(None), &answers, 11);
        assert!(matches!(r, Err(Error::Engine { status: 500, .. })), "{r:?}");
        // Nothing to prune: no removal at all.
        let answers = [Answer::new(
            "GET /containers/json?all=true",
            "200 OK",
            &list(&[("a", "running")]),
        )];
        assert_eq!(run(PruneOp::new(None), &answers, 3).1.ok(), Some(0));
    }
}
