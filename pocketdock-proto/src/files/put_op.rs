//! `write_file` and `push` as one operation, with nothing run at the destination: what is at
//! the target is read from the engine's path stat (`HEAD` of the archive endpoint, following a
//! symbolic link), missing parent directories become entries of the archive itself (owned by
//! the default user), and the archive streams to the archive endpoint one piece at a time.
//!
//! The default user's uid and gid are the one thing the destination does not say: the caller
//! passes them when it knows them ([`PutOp::known_owner`]); otherwise they are read first from
//! the container's configuration (`Config.User`, and the container's `/etc/passwd` for a user
//! name or a bare uid, see [`owner_lookup`](super::owner_lookup)), or, when those cannot say,
//! with a helper exec running `id`; [`PutEvent::Owner`] hands them out so the caller can keep
//! them for the next upload. A `write_file` over an existing file is then one stat and one
//! `PUT`; a new file adds one stat per missing directory level.
//!
//! A `write_file` archive is built here from the caller's bytes. A `push` archive is a host
//! tree: once the plan is known, [`PutEvent::Source`] tells the host which top name, directory
//! prefix and owner to give it, and every [`PutEvent::NeedBody`] asks for its next piece.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::api::archive::{self, PathStat};
use crate::error::{Error, Result};
use crate::http::ResponseHead;
use crate::op::sub_op::{SubOp, SubStep};
use crate::op::{calls, CallOp, DownloadOp, Operation, Response, Step, UploadOp};

use super::helper_exec::{helper_op, Nonces};
use super::options::{TransferOptions, HELPER_MAX_OUTPUT, HELPER_TIMEOUT, MAX_LINK_HOPS};
use super::owner_lookup::{owner_from_passwd, user_spec, UserSpec, PASSWD_MAX_BYTES};
use super::paths::{check_path, resolve_link, split_path, too_many_links};
use super::prepare::{
    dest_kind, not_a_directory, owner_command, parse_owner, stat_says_missing, upload_error,
    DestKind, Owner, Prepared,
};
use super::push_plan::plan_push;
use super::read_op::ReadFileOp;
use super::write_archive::{archive_prefix, parent_entries, write_file_archive, write_target};

/// How much of an archive is sent with the request head, in one write: an upload this small
/// is one write, so an engine that refuses it from the head and closes (Podman into a
/// read-only file system) still has its answer read rather than a broken pipe.
pub const FIRST_WRITE: usize = 64 * 1024;

/// Events of a [`PutOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutEvent {
    /// The container's default user was learned (it was not passed in): keep it for the next
    /// upload to this container ([`PutOp::known_owner`]).
    Owner(Owner),
    /// A push's plan is known: open the host source with this top name (`None`: a directory's
    /// contents, no top entry), every entry under the relative archive path `under` (empty:
    /// none), and the default user of `prepared` as owner.
    Source {
        /// The name of the archive's top entry.
        root_name: Option<String>,
        /// The directories the archive creates above the source (`a/b`), already sent.
        under: String,
        /// The default user and what is at the destination.
        prepared: Prepared,
    },
    /// A push wants the next piece of its archive: call [`PutOp::push_body`], or
    /// [`PutOp::finish_body`] at the end.
    NeedBody,
    /// Bytes of archive sent so far (for the caller's progress callback).
    Sent(u64),
    /// What is at `path`? Asked only of a caller that offered to answer
    /// ([`PutOp::stats_from_caller`]): it answers with [`PutOp::stat_answer`] before the next
    /// poll, or the engine's path stat is asked instead.
    Stat {
        /// The path to stat, not following a final symbolic link.
        path: String,
    },
}

/// The archive a [`PutOp`] uploads.
enum Body<'a> {
    /// `write_file`: built here, from the caller's bytes.
    Write {
        path: String,
        name: String,
        data: &'a [u8],
        pieces: Option<Box<dyn Iterator<Item = Bytes> + Send + 'a>>,
    },
    /// `push`: a host tree the caller streams.
    Push {
        dest: String,
        src_is_dir: bool,
        src_name: String,
        contents: bool,
        root_name: Option<String>,
    },
}

/// Where a path stat asked of the caller stands.
enum Answer {
    /// The event is yet to be handed out.
    ToAsk,
    /// Handed out; no answer yet.
    Asked,
    /// The caller's answer (`None`: it could not say).
    Given(Option<Result<PathStat>>),
}

enum State {
    /// Nothing asked yet.
    Start,
    /// Reading the container's `Config.User`.
    Inspect(CallOp<String>),
    /// Reading the container's `/etc/passwd` to find `user`.
    Passwd {
        op: Box<ReadFileOp>,
        user: String,
    },
    /// Asking the container who its default user is (what the configuration cannot say).
    Owner(SubOp<()>),
    /// The caller was asked what is at `path` (a [`State::Stat`] when `walk` is `None`, else a
    /// [`State::Walk`] with the names `walk` holds): its answer once given, `None` inside when
    /// it could not say.
    Asked {
        path: String,
        hops: usize,
        walk: Option<Vec<String>>,
        answer: Answer,
    },
    /// Stat of `path`, the target itself or, after `hops` links, what a link leads to.
    Stat {
        op: DownloadOp,
        path: String,
        hops: usize,
    },
    /// Looking for the deepest existing directory above the upload: stat of `dir`, with the
    /// names below it that do not exist yet in `missing` (innermost first).
    Walk {
        op: DownloadOp,
        dir: String,
        missing: Vec<String>,
        hops: usize,
    },
    /// A push's first pieces, gathered (up to [`FIRST_WRITE`] or the end) before the upload
    /// into `dir` starts, so they go out with the request head.
    Gather {
        dir: String,
        queued: Vec<Bytes>,
        size: usize,
        finished: bool,
        asked: bool,
    },
    /// The archive upload into `dir`.
    Upload {
        op: SubOp<()>,
        dir: String,
    },
    /// The engine failed the upload: is the container still running (then `err` stands), or
    /// did it stop or go away under the upload?
    Recheck {
        op: CallOp<bool>,
        err: Error,
    },
    Done,
}

/// Upload a file (`write_file`) or a host tree (`push`) into a container; the output says
/// whether it was extracted.
pub struct PutOp<'a> {
    container: String,
    target: String,
    deadline: Option<Duration>,
    seed: String,
    mtime: u64,
    owner: Option<Owner>,
    kind: DestKind,
    /// The directory the archive goes into once it exists (for errors).
    create: String,
    body: Body<'a>,
    state: State,
    sent: u64,
    report: bool,
    failed: Option<Error>,
    /// Ask the caller for path stats before the engine ([`PutOp::stats_from_caller`]).
    caller_stats: bool,
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
    /// the epoch), with `opts`' deadline. `seed` makes the nonces of the owner lookup.
    pub fn write(
        container: &str,
        path: &str,
        data: &'a [u8],
        opts: &TransferOptions,
        mtime: u64,
        seed: &str,
    ) -> Result<Self> {
        opts.validate()?;
        let (_, name) = write_target(path)?;
        let body = Body::Write {
            path: path.to_string(),
            name,
            data,
            pieces: None,
        };
        Ok(Self::new(container, path, body, opts, mtime, seed))
    }

    /// Push a host source (a directory when `src_is_dir`, named `src_name`; `contents`: a
    /// directory's contents, `dir/.`) to `dest` in `container`, with `docker cp` semantics (see
    /// [`plan_push`]) and `opts`' deadline; directories it creates are dated `mtime`. `seed`
    /// makes the nonces of the owner lookup.
    pub fn push(
        container: &str,
        dest: &str,
        (src_is_dir, src_name, contents): (bool, &str, bool),
        opts: &TransferOptions,
        mtime: u64,
        seed: &str,
    ) -> Result<Self> {
        opts.validate()?;
        check_path("dest", dest)?;
        let body = Body::Push {
            dest: dest.to_string(),
            src_is_dir,
            src_name: src_name.to_string(),
            contents,
            root_name: None,
        };
        Ok(Self::new(container, dest, body, opts, mtime, seed))
    }

    fn new(
        container: &str,
        target: &str,
        body: Body<'a>,
        opts: &TransferOptions,
        mtime: u64,
        seed: &str,
    ) -> Self {
        Self {
            container: container.to_string(),
            target: target.to_string(),
            deadline: opts.deadline(),
            seed: seed.to_string(),
            mtime,
            owner: None,
            kind: DestKind::Missing,
            create: String::new(),
            body,
            state: State::Start,
            sent: 0,
            report: false,
            failed: None,
            caller_stats: false,
        }
    }

    /// The container's default user when the caller already knows it (from an earlier
    /// [`PutEvent::Owner`]): no helper runs, the upload is the stat and the `PUT` alone.
    #[must_use]
    pub fn known_owner(mut self, owner: Option<Owner>) -> Self {
        self.owner = owner;
        self
    }

    /// Ask the caller what is at each path before asking the engine ([`PutEvent::Stat`]):
    /// for a caller with a faster way to see into the container (the in-sandbox agent's
    /// `lstat`) than the engine's path stat (a `HEAD` of the archive endpoint, a few
    /// milliseconds on Podman). The answers are advisory: the upload itself is the engine's.
    #[must_use]
    pub fn stats_from_caller(mut self, yes: bool) -> Self {
        self.caller_stats = yes;
        self
    }

    /// The caller's answer to [`PutEvent::Stat`]: the path's stat (a missing path is
    /// [`Error::PathNotFound`]), or `None` when it cannot say, and the engine is asked.
    pub fn stat_answer(&mut self, stat: Option<Result<PathStat>>) {
        if let State::Asked { answer, .. } = &mut self.state {
            *answer = Answer::Given(stat);
        }
    }

    /// The next piece of a push's archive (after [`PutEvent::NeedBody`]).
    pub fn push_body(&mut self, chunk: Bytes) {
        self.sent += chunk.len() as u64;
        self.report = true;
        match &mut self.state {
            State::Upload { op, .. } => op.push_body(chunk),
            State::Gather {
                queued,
                size,
                asked,
                ..
            } => {
                *size += chunk.len();
                *asked = false;
                queued.push(chunk);
            }
            _ => {}
        }
    }

    /// A push's archive is complete (after [`PutEvent::NeedBody`]).
    pub fn finish_body(&mut self) {
        match &mut self.state {
            State::Upload { op, .. } => op.finish_body(),
            State::Gather {
                finished, asked, ..
            } => {
                *finished = true;
                *asked = false;
            }
            _ => {}
        }
    }

    /// The host could not open or read the source: the upload is cut (what the engine
    /// extracted so far stays) and the operation ends with `err`.
    pub fn fail(&mut self, err: Error) {
        self.state = State::Done;
        self.failed = Some(err);
    }

    fn head(&self, path: &str) -> DownloadOp {
        let (id, p) = (self.container.clone(), path.to_string());
        DownloadOp::head_only(
            "stat path",
            &archive::head_stat(&self.container, path),
            Some(HELPER_TIMEOUT),
            move |r: &Response| archive::check(r, "stat path", &id, &p),
        )
    }

    fn stat(&mut self, path: String, hops: usize) {
        if self.caller_stats {
            self.ask(path, hops, None);
            return;
        }
        let op = self.head(&path);
        self.state = State::Stat { op, path, hops };
    }

    fn ask(&mut self, path: String, hops: usize, walk: Option<Vec<String>>) {
        self.state = State::Asked {
            path,
            hops,
            walk,
            answer: Answer::ToAsk,
        };
    }

    /// The first step: the target's stat when the default user is known, else its lookup.
    fn begin(&mut self) {
        if self.owner.is_some() {
            self.stat(self.target.clone(), 0);
        } else {
            let id = self.container.clone();
            self.state = State::Inspect(calls::inspect(&id).map(|i| i.config.user));
        }
    }

    /// Hand out the caller's stat event, or go on with its answer (the engine's stat when it
    /// could not say, or was polled again without answering).
    fn poll_asked(&mut self) -> Option<Step<PutEvent, ()>> {
        let State::Asked {
            path,
            hops,
            walk,
            answer,
        } = &mut self.state
        else {
            return None;
        };
        let given = match std::mem::replace(answer, Answer::Asked) {
            Answer::ToAsk => {
                let path = path.clone();
                return Some(Step::Event(PutEvent::Stat { path }));
            }
            Answer::Asked => None,
            Answer::Given(given) => given,
        };
        let (path, hops, walk) = (std::mem::take(path), *hops, walk.take());
        let r = self.answered(path, hops, walk, given);
        self.moved(r)
    }

    /// The caller was asked about `path`: go on with its answer, or ask the engine.
    fn answered(
        &mut self,
        path: String,
        hops: usize,
        walk: Option<Vec<String>>,
        answer: Option<Result<PathStat>>,
    ) -> Result<Option<PutEvent>> {
        match (answer, walk) {
            (Some(r), None) => self.stat_done(&path, hops, r),
            (Some(r), Some(missing)) => self.walk_done(path, missing, hops, r),
            (None, None) => {
                let op = self.head(&path);
                self.state = State::Stat { op, path, hops };
                Ok(None)
            }
            (None, Some(missing)) => {
                let op = self.head(&path);
                self.state = State::Walk {
                    op,
                    dir: path,
                    missing,
                    hops,
                };
                Ok(None)
            }
        }
    }

    fn walk(&mut self, dir: String, missing: Vec<String>, hops: usize) -> Result<()> {
        if let Some(name) = missing.last() {
            if name == "." || name == ".." {
                return Err(Error::invalid(
                    "path",
                    format!(
                        "{:?}: a \".\" or \"..\" component names a directory to create",
                        self.target
                    ),
                ));
            }
        }
        if self.caller_stats {
            self.ask(dir, hops, Some(missing));
            return Ok(());
        }
        let op = self.head(&dir);
        self.state = State::Walk {
            op,
            dir,
            missing,
            hops,
        };
        Ok(())
    }

    /// What is at the target is known: plan the upload, into an existing directory or after
    /// looking for the deepest existing one.
    fn planned(&mut self, kind: DestKind) -> Result<Option<PutEvent>> {
        self.kind = kind;
        let (dir, exists) = match &mut self.body {
            Body::Write { path, .. } => {
                if kind == DestKind::Dir {
                    return Err(Error::invalid("path", format!("{path:?} is a directory")));
                }
                (write_target(path)?.0, kind != DestKind::Missing)
            }
            Body::Push {
                dest,
                src_is_dir,
                src_name,
                contents,
                root_name,
            } => {
                let plan = plan_push(*src_is_dir, src_name, *contents, dest, kind)?;
                *root_name = plan.root_name;
                (plan.extract_dir, kind != DestKind::Missing)
            }
        };
        self.create.clone_from(&dir);
        if exists {
            self.upload_into(dir, &[])
        } else {
            self.walk(dir, Vec::new(), 0)?;
            Ok(None)
        }
    }

    /// Start the upload into the existing `dir`, creating the `missing` directories below it
    /// (outermost first) from the archive.
    fn upload_into(&mut self, dir: String, missing: &[String]) -> Result<Option<PutEvent>> {
        let owner = self
            .owner
            .ok_or_else(|| Error::SocketCommunication("an upload without an owner".into()))?;
        let prepared = Prepared {
            uid: owner.uid,
            gid: owner.gid,
            kind: self.kind,
        };
        let (id, deadline) = (self.container.clone(), self.deadline);
        match &mut self.body {
            Body::Write {
                path,
                name,
                data,
                pieces,
            } => {
                let data: &'a [u8] = data;
                let (total, mut parts) =
                    write_file_archive(path, name, missing, data, &prepared, self.mtime)?;
                let mut op = upload_op(&id, &dir, Some(total), deadline);
                // The first pieces go with the head (the whole archive of a small file).
                let mut first = 0;
                while first < FIRST_WRITE {
                    let Some(piece) = parts.next() else {
                        op.finish_body();
                        break;
                    };
                    first += piece.len();
                    self.sent += piece.len() as u64;
                    op.push_body(piece);
                }
                self.report = true;
                *pieces = Some(Box::new(parts));
                self.state = State::Upload { op, dir };
                Ok(None)
            }
            Body::Push { root_name, .. } => {
                let head = parent_entries(missing, owner, self.mtime)?;
                let event = PutEvent::Source {
                    root_name: root_name.clone(),
                    under: archive_prefix(missing),
                    prepared,
                };
                self.sent += head.len() as u64;
                self.state = State::Gather {
                    dir,
                    size: head.len(),
                    queued: if head.is_empty() {
                        Vec::new()
                    } else {
                        vec![Bytes::from(head)]
                    },
                    finished: false,
                    asked: false,
                };
                Ok(Some(event))
            }
        }
    }

    /// A push's first pieces: ask for more, or start the upload with them.
    fn gather(&mut self) -> Option<Step<PutEvent, ()>> {
        let State::Gather {
            dir,
            queued,
            size,
            finished,
            asked,
        } = &mut self.state
        else {
            return None;
        };
        if !*finished && *size < FIRST_WRITE {
            if *asked {
                return Some(self.end(Err(Error::SocketCommunication(
                    "a push was polled without its next piece".into(),
                ))));
            }
            *asked = true;
            return Some(Step::Event(PutEvent::NeedBody));
        }
        let (dir, queued, finished) = (std::mem::take(dir), std::mem::take(queued), *finished);
        let mut op = upload_op(&self.container, &dir, None, self.deadline);
        for piece in queued {
            op.push_body(piece);
        }
        if finished {
            op.finish_body();
        }
        self.state = State::Upload { op, dir };
        None
    }

    /// The default user is known: hand it out to be kept, and look at the target.
    fn learned(&mut self, owner: Owner) -> Step<PutEvent, ()> {
        self.owner = Some(owner);
        self.stat(self.target.clone(), 0);
        Step::Event(PutEvent::Owner(owner))
    }

    /// The container's `Config.User` answered: the owner, or what to read next.
    fn configured(&mut self, user: &str) -> Option<Step<PutEvent, ()>> {
        match user_spec(user) {
            UserSpec::Known(owner) => return Some(self.learned(owner)),
            UserSpec::Passwd { user } => {
                let opts = TransferOptions::new().max_bytes(PASSWD_MAX_BYTES);
                match ReadFileOp::new(&self.container, "/etc/passwd", &opts, &self.seed) {
                    Ok(op) => {
                        self.state = State::Passwd {
                            op: Box::new(op),
                            user,
                        };
                    }
                    Err(_) => self.ask_owner(),
                }
            }
            UserSpec::AskContainer => self.ask_owner(),
        }
        None
    }

    /// Run the owner helper (the configuration could not say who the default user is).
    fn ask_owner(&mut self) {
        let nonce = Nonces::new(&self.seed).next();
        self.state = match helper_op(&self.container, owner_command(), HELPER_MAX_OUTPUT, &nonce) {
            Ok(op) => State::Owner(op),
            Err(e) => {
                self.failed = Some(e);
                State::Done
            }
        };
    }

    /// One step of the upload: its I/O, the next piece of a write's archive, a push's request
    /// for the next piece, or the end; `None` to poll again.
    fn poll_upload(&mut self, now: Instant) -> Option<Step<PutEvent, ()>> {
        let State::Upload { op, dir } = &mut self.state else {
            return None;
        };
        match op.poll(now) {
            SubStep::Io(io) => Some(Step::Io(io)),
            SubStep::NeedBody => match &mut self.body {
                Body::Write {
                    pieces: Some(pieces),
                    ..
                } => {
                    if let Some(piece) = pieces.next() {
                        self.sent += piece.len() as u64;
                        op.push_body(piece);
                        return Some(Step::Event(PutEvent::Sent(self.sent)));
                    }
                    op.finish_body();
                    None
                }
                Body::Write { .. } | Body::Push { .. } => Some(Step::Event(PutEvent::NeedBody)),
            },
            SubStep::Data(_) => None,
            SubStep::Transferred => Some(self.end(Ok(()))),
            SubStep::Failed(e) => {
                let e = upload_error(e, dir);
                if matches!(e, Error::Engine { status: 500.., .. }) {
                    let id = self.container.clone();
                    let op = calls::inspect(&id).map(|i| i.state.running);
                    self.state = State::Recheck { op, err: e };
                    return None;
                }
                Some(self.end(Err(e)))
            }
            _ => Some(self.end(Err(unexpected()))),
        }
    }

    /// One step of the look at the container after a failed upload; `None` to poll again.
    fn poll_recheck(&mut self, now: Instant) -> Option<Step<PutEvent, ()>> {
        let State::Recheck { op, err } = &mut self.state else {
            return None;
        };
        match op.poll(now) {
            Step::Io(io) => Some(Step::Io(io)),
            Step::Event(()) => None,
            Step::Done(r) => {
                let err = std::mem::replace(err, unexpected());
                let e = match r {
                    Ok(false) => Error::ContainerNotRunning(self.container.clone()),
                    Err(Error::ContainerNotFound(id)) => Error::ContainerGone(id),
                    Ok(true) | Err(_) => err,
                };
                Some(self.end(Err(e)))
            }
        }
    }

    fn end(&mut self, result: Result<()>) -> Step<PutEvent, ()> {
        self.state = State::Done;
        Step::Done(result)
    }

    /// The event (if any) of a step that moved the flow on, or its end.
    fn moved(&mut self, r: Result<Option<PutEvent>>) -> Option<Step<PutEvent, ()>> {
        match r {
            Ok(Some(event)) => Some(Step::Event(event)),
            Ok(None) => None,
            Err(e) => Some(self.end(Err(e))),
        }
    }

    /// A stat of the target answered.
    fn stat_done(
        &mut self,
        path: &str,
        hops: usize,
        r: Result<PathStat>,
    ) -> Result<Option<PutEvent>> {
        match r {
            Ok(st) if st.is_symlink() => {
                if hops >= MAX_LINK_HOPS {
                    return Err(too_many_links(&self.target));
                }
                self.stat(resolve_link(path, &st.link_target), hops + 1);
                Ok(None)
            }
            Ok(st) => match dest_kind(&st) {
                DestKind::Dir => self.planned(DestKind::Dir),
                kind if hops == 0 => self.planned(kind),
                _ => self.planned(DestKind::Link),
            },
            Err(e) if stat_says_missing(&e) && hops > 0 => self.planned(DestKind::Link),
            Err(e) if stat_says_missing(&e) => self.planned(DestKind::Missing),
            Err(e) => Err(e),
        }
    }

    /// A stat of a directory above the upload answered.
    fn walk_done(
        &mut self,
        dir: String,
        mut missing: Vec<String>,
        hops: usize,
        r: Result<PathStat>,
    ) -> Result<Option<PutEvent>> {
        match r {
            Ok(st) if st.is_symlink() => {
                if hops >= MAX_LINK_HOPS {
                    return Err(too_many_links(&dir));
                }
                self.walk(resolve_link(&dir, &st.link_target), missing, hops + 1)?;
                Ok(None)
            }
            Ok(st) if st.is_dir() => {
                missing.reverse();
                self.upload_into(dir, &missing)
            }
            Ok(_) => Err(not_a_directory(&self.create, &dir)),
            Err(e) if stat_says_missing(&e) => {
                if hops > 0 {
                    return Err(not_a_directory(&self.create, &dir));
                }
                let Some((parent, name)) = split_path(&dir) else {
                    return Err(Error::ContainerNotFound(self.container.clone()));
                };
                missing.push(name);
                self.walk(parent, missing, 0)?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn handle_sub(&mut self) -> Option<&mut dyn SubInput> {
        match &mut self.state {
            State::Owner(op) | State::Upload { op, .. } => Some(op),
            State::Stat { op, .. } | State::Walk { op, .. } => Some(op),
            State::Inspect(op) => Some(op),
            State::Recheck { op, .. } => Some(op),
            State::Passwd { op, .. } => Some(op.as_mut()),
            State::Start | State::Asked { .. } | State::Gather { .. } | State::Done => None,
        }
    }
}

/// Feeding what the driver saw to whichever sub-operation runs.
trait SubInput {
    fn input(&mut self, now: Instant, data: &[u8]);
    fn eof(&mut self, now: Instant);
    fn timeout(&mut self, now: Instant);
    fn write_refused(&mut self, now: Instant) -> bool;
}

impl SubInput for SubOp<()> {
    fn input(&mut self, now: Instant, data: &[u8]) {
        self.handle_input(now, data);
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

impl<O: Operation> SubInput for O {
    fn input(&mut self, now: Instant, data: &[u8]) {
        self.handle_input(now, data);
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

/// The archive upload into `dir` of `container`, `length` bytes (`None`: chunked).
fn upload_op(
    container: &str,
    dir: &str,
    length: Option<u64>,
    deadline: Option<Duration>,
) -> SubOp<()> {
    let (id, d) = (container.to_string(), dir.to_string());
    SubOp::Upload(UploadOp::new(
        "put archive",
        &archive::put(container, dir, length),
        deadline,
        move |r: &Response| archive::check(r, "put archive", &id, &d),
    ))
}

/// The stat a `HEAD` answered.
fn stat_of(head: &ResponseHead) -> Result<PathStat> {
    PathStat::from_head(head)?
        .ok_or_else(|| Error::SocketCommunication("a path stat without its header".into()))
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
                State::Start => self.begin(),
                State::Inspect(op) => match op.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    Step::Done(Err(e)) => return self.end(Err(e)),
                    Step::Done(Ok(user)) => {
                        if let Some(step) = self.configured(&user) {
                            return step;
                        }
                    }
                },
                State::Passwd { op, user } => match op.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    Step::Done(r) => {
                        let found = r.ok().and_then(|text| {
                            owner_from_passwd(user, &String::from_utf8_lossy(&text))
                        });
                        match found {
                            Some(owner) => return self.learned(owner),
                            None => self.ask_owner(),
                        }
                    }
                },
                State::Owner(op) => match op.poll(now) {
                    SubStep::Io(io) => return Step::Io(io),
                    SubStep::Ran(r) => match parse_owner(&r) {
                        Ok(owner) => return self.learned(owner),
                        Err(e) => return self.end(Err(e)),
                    },
                    SubStep::Failed(e) => return self.end(Err(e)),
                    _ => return self.end(Err(unexpected())),
                },
                State::Asked { .. } => {
                    if let Some(step) = self.poll_asked() {
                        return step;
                    }
                }
                State::Stat { op, path, hops } => match op.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(_) => {}
                    Step::Done(r) => {
                        let (path, hops) = (std::mem::take(path), *hops);
                        let r = self.stat_done(&path, hops, r.and_then(|h| stat_of(&h)));
                        if let Some(step) = self.moved(r) {
                            return step;
                        }
                    }
                },
                State::Walk {
                    op,
                    dir,
                    missing,
                    hops,
                } => match op.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(_) => {}
                    Step::Done(r) => {
                        let (dir, missing, hops) =
                            (std::mem::take(dir), std::mem::take(missing), *hops);
                        let r = self.walk_done(dir, missing, hops, r.and_then(|h| stat_of(&h)));
                        if let Some(step) = self.moved(r) {
                            return step;
                        }
                    }
                },
                State::Gather { .. } => {
                    if let Some(step) = self.gather() {
                        return step;
                    }
                }
                State::Upload { .. } => {
                    if let Some(step) = self.poll_upload(now) {
                        return step;
                    }
                }
                State::Recheck { .. } => {
                    if let Some(step) = self.poll_recheck(now) {
                        return step;
                    }
                }
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
        if let Some(op) = self.handle_sub() {
            op.input(now, data);
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        if let Some(op) = self.handle_sub() {
            op.eof(now);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(op) = self.handle_sub() {
            op.timeout(now);
        }
    }

    fn handle_write_refused(&mut self, now: Instant) -> bool {
        self.handle_sub().is_some_and(|op| op.write_refused(now))
    }
}

fn unexpected() -> Error {
    Error::SocketCommunication("unexpected step of an archive upload".into())
}
