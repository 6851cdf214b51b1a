//! [`ReapFlow`]: remove the ephemeral containers of gone owners and those past their time to
//! live, then kill the commands gone owners left running, on one engine. The rules are
//! [`pocketdock_proto::reap`]'s; this flow lists, reads the host's `/proc` and the command
//! records, removes and kills. Every adapter drives it like any operation.

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pocketdock_proto::api::containers::ListItem;
use pocketdock_proto::api::exec::ExecSpec;
use pocketdock_proto::api::strip_slash;
use pocketdock_proto::capture::OutputLimit;
use pocketdock_proto::op::{calls, CallOp, ExecConfig, ExecOp, Operation, Step};
use pocketdock_proto::reap::{
    container_verdict, kill_owned_command, Owner, ReapReport, ReapedCommands, ReapedContainer,
    RecordLine,
};
use pocketdock_proto::spec::{LABEL_INSTANCE, LABEL_MANAGED};
use pocketdock_proto::{Error, ExecResult, Result};

use crate::owner::{dead_records, finish_record, host_view, owned_nonce, start_of_pid, DeadRecord};

/// How long one kill of a gone owner's commands may take.
const KILL_TIMEOUT: Duration = Duration::from_secs(15);

enum State {
    List(CallOp<Vec<ListItem>>),
    Remove(CallOp<()>, ReapedContainer),
    Kill(Box<ExecOp>, RecordLine),
    Next,
    Done,
}

/// Look for orphans on the engine at `socket` once (see the module documentation). Failures
/// along the way are collected in the report's `errors`; only a failed listing is an error.
pub struct ReapFlow {
    socket: String,
    state: State,
    report: ReapReport,
    removals: VecDeque<ReapedContainer>,
    removed: HashSet<String>,
    records: Option<VecDeque<DeadRecord>>,
    /// The record being worked through, its lines left and the lines kept.
    current: Option<(DeadRecord, VecDeque<RecordLine>, Vec<RecordLine>)>,
}

impl std::fmt::Debug for ReapFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReapFlow")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl ReapFlow {
    /// A look for orphans on the engine at `socket`.
    pub fn new(socket: &Path) -> Self {
        Self {
            socket: socket.display().to_string(),
            state: State::List(calls::list(&[format!("{LABEL_MANAGED}=true")])),
            report: ReapReport::default(),
            removals: VecDeque::new(),
            removed: HashSet::new(),
            records: None,
            current: None,
        }
    }

    fn listed(&mut self, items: Vec<ListItem>) {
        let Some(here) = host_view() else {
            self.report
                .errors
                .push("this host's /proc cannot be read: no owner can be judged".into());
            return;
        };
        let now = unix_now();
        for item in items {
            let reason = container_verdict(&item.labels, item.created, now, &here, start_of_pid);
            if let Some(reason) = reason {
                let name = item
                    .labels
                    .get(LABEL_INSTANCE)
                    .cloned()
                    .or_else(|| item.names.first().map(|n| strip_slash(n).to_string()))
                    .unwrap_or_default();
                self.removals.push_back(ReapedContainer {
                    name,
                    id: item.id,
                    reason,
                });
            }
        }
    }

    /// The next engine step, or `None` when the look is over.
    fn next_state(&mut self) -> Option<State> {
        if let Some(c) = self.removals.pop_front() {
            return Some(State::Remove(calls::remove(&c.id, true), c));
        }
        let records = self
            .records
            .get_or_insert_with(|| dead_records().into_iter().collect());
        loop {
            if self.current.is_none() {
                let record = records.pop_front()?;
                let lines = record.lines.clone().into_iter().collect();
                self.current = Some((record, lines, Vec::new()));
            }
            let (record, lines, kept) = self.current.as_mut()?;
            match lines.pop_front() {
                Some(line) if line.socket != self.socket => kept.push(line),
                Some(line) if self.removed.contains(&line.container) => {}
                Some(line) => {
                    let op = kill_op(&record.owner, &line);
                    return Some(State::Kill(Box::new(op), line));
                }
                None => {
                    if let Some((record, _, kept)) = self.current.take() {
                        finish_record(&record.path, &kept);
                    }
                }
            }
        }
    }

    fn killed(&mut self, line: RecordLine, r: Result<ExecResult>) {
        let owner_pid = self.current.as_ref().map_or(0, |(rec, _, _)| rec.owner.pid);
        match r {
            Ok(res) => {
                let n: u64 = String::from_utf8_lossy(&res.stdout)
                    .trim()
                    .parse()
                    .unwrap_or(0);
                if n > 0 {
                    self.report.commands.push(ReapedCommands {
                        container: line.container,
                        processes: n,
                        owner_pid,
                    });
                }
            }
            // The engine could not be asked: try again at a later look.
            Err(
                e @ (Error::SocketConnection { .. }
                | Error::SocketCommunication(_)
                | Error::Timeout { .. }),
            ) => {
                self.report
                    .errors
                    .push(format!("kill in {}: {e}", line.container));
                if let Some((_, _, kept)) = self.current.as_mut() {
                    kept.push(line);
                }
            }
            // Gone or stopped containers hold no commands; other refusals will not change.
            Err(_) => {}
        }
    }

    fn sub_op(&mut self) -> Option<&mut dyn OperationInput> {
        match &mut self.state {
            State::List(op) => Some(op),
            State::Remove(op, _) => Some(op),
            State::Kill(op, _) => Some(op.as_mut()),
            State::Next | State::Done => None,
        }
    }
}

fn kill_op(owner: &Owner, line: &RecordLine) -> ExecOp {
    let spec = ExecSpec {
        cmd: kill_owned_command(owner),
        user: (!line.user.is_empty()).then(|| line.user.clone()),
        ..ExecSpec::default()
    };
    let mut config = ExecConfig::new(&line.container, spec, owned_nonce());
    config.timeout = Some(KILL_TIMEOUT);
    config.call_timeout = KILL_TIMEOUT;
    config.limit = Some(OutputLimit {
        max_bytes: 4096,
        ..OutputLimit::default()
    });
    ExecOp::new(config)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The input side of the flow's inner operations, whatever their output.
trait OperationInput {
    fn input(&mut self, now: Instant, data: &[u8]);
    fn bytes(&mut self, now: Instant, data: bytes::Bytes);
    fn eof(&mut self, now: Instant);
    fn timeout(&mut self, now: Instant);
    fn write_refused(&mut self, now: Instant) -> bool;
}

impl<O: Operation> OperationInput for O {
    fn input(&mut self, now: Instant, data: &[u8]) {
        self.handle_input(now, data);
    }
    fn bytes(&mut self, now: Instant, data: bytes::Bytes) {
        self.handle_bytes(now, data);
    }
    fn eof(&mut self, now: Instant) {
        self.handle_eof(now);
    }
    fn timeout(&mut self, now: Instant) {
        self.handle_timeout(now);
    }
    fn write_refused(&mut self, now: Instant) -> bool {
        self.handle_write_refused(now)
    }
}

impl Operation for ReapFlow {
    type Event = ();
    type Output = ReapReport;

    fn poll(&mut self, now: Instant) -> Step<(), ReapReport> {
        loop {
            match std::mem::replace(&mut self.state, State::Next) {
                State::List(mut op) => match op.poll(now) {
                    Step::Io(io) => {
                        self.state = State::List(op);
                        return Step::Io(io);
                    }
                    Step::Event(()) => self.state = State::List(op),
                    Step::Done(Ok(items)) => self.listed(items),
                    Step::Done(Err(e)) => {
                        self.state = State::Done;
                        return Step::Done(Err(e));
                    }
                },
                State::Remove(mut op, c) => match op.poll(now) {
                    Step::Io(io) => {
                        self.state = State::Remove(op, c);
                        return Step::Io(io);
                    }
                    Step::Event(()) => self.state = State::Remove(op, c),
                    Step::Done(r) => {
                        self.removed.insert(c.id.clone());
                        match r {
                            Ok(()) => self.report.containers.push(c),
                            // Gone already, or being removed by another look.
                            Err(Error::ContainerNotFound(_) | Error::ContainerNotRunning(_)) => {}
                            Err(e) => self.report.errors.push(format!("remove {}: {e}", c.name)),
                        }
                    }
                },
                State::Kill(mut op, line) => match op.poll(now) {
                    Step::Io(io) => {
                        self.state = State::Kill(op, line);
                        return Step::Io(io);
                    }
                    Step::Event(_) => self.state = State::Kill(op, line),
                    Step::Done(r) => self.killed(line, r),
                },
                State::Next => {
                    let Some(next) = self.next_state() else {
                        self.state = State::Done;
                        return Step::Done(Ok(std::mem::take(&mut self.report)));
                    };
                    self.state = next;
                }
                State::Done => return Step::Done(Err(Error::polled_after_completion())),
            }
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if let Some(op) = self.sub_op() {
            op.input(now, data);
        }
    }

    fn handle_bytes(&mut self, now: Instant, data: bytes::Bytes) {
        if let Some(op) = self.sub_op() {
            op.bytes(now, data);
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        if let Some(op) = self.sub_op() {
            op.eof(now);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(op) = self.sub_op() {
            op.timeout(now);
        }
    }

    fn handle_write_refused(&mut self, now: Instant) -> bool {
        self.sub_op().is_some_and(|op| op.write_refused(now))
    }
}
