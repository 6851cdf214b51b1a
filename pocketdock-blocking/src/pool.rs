//! A warm pool: sandboxes created, started and agent-ready before anyone asks for one.
//!
//! The rules (labels, what to create, what is dead) are [`pocketdock_proto::pool`]'s
//! [`PoolBook`]; this file holds it behind a lock, runs the refill on a thread, and performs
//! the engine calls and liveness pings it asks for.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pocketdock_host::sandbox::CreateFlow;
use pocketdock_host::volumes::check_volume_sources;
use pocketdock_proto::api::containers::ListItem;
use pocketdock_proto::pool::LIVENESS_TIMEOUT;
use pocketdock_proto::pool::{member_filter, member_spec, pool_id, pool_spec, PoolBook};
use pocketdock_proto::spec::ContainerSpec;
use pocketdock_proto::{Error, Result};

use crate::container::Container;
use crate::engine::{random_u64, Engine};
use crate::project::Project;

/// How long the refill waits after a failed engine call before it tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A warm pool of sandboxes on one engine: it keeps `size` of them created, started and
/// agent-ready (the in-sandbox agent started and its connection open), so that
/// [`acquire`](Self::acquire) hands one out in about a millisecond instead of the engine's
/// hundreds for a create and start.
///
/// * Every member is an ephemeral sandbox of the pool's spec, named `<spec name>-<8 hex>`
///   (`pd-pool-<8 hex>` when the spec names none) and labelled `pocketdock.pool=<pool id>`;
///   the pool counts its members by that label on the engine, not from memory alone.
/// * [`acquire`](Self::acquire) takes the oldest idle member, checks its agent answers a ping
///   within [`LIVENESS_TIMEOUT`] (a dead one is destroyed and the next taken), and hands it
///   out as a [`PoolGuard`]. When no member is idle it creates one on the spot (the caller
///   waits for a create, start and agent start, as without a pool) rather than waiting for
///   the refill. Either way a background thread refills the pool to `size`.
/// * A member is never handed out twice: dropping its guard, or
///   [`PoolGuard::release`], destroys it; the refill replaces it.
/// * [`close`](Self::close), or dropping the pool, stops the refill (waiting for a create
///   in progress to finish) and destroys the idle members; members still held by guards are
///   destroyed when their guards go.
/// * Members are ordinary ephemeral sandboxes: a process killed before it closed its pool
///   leaves them running, as it leaves any ephemeral sandbox it created. Their label finds
///   them: `engine.list_raw(&["pocketdock.pool".into()])` lists the members of every pool.
///
/// The pool is `Send + Sync`: share it (`&Pool` or `Arc<Pool>`) to acquire from many threads.
///
/// ```no_run
/// use pocketdock_blocking::{ContainerSpec, Engine, Pool};
/// # fn main() -> pocketdock_blocking::Result<()> {
/// let pool = Pool::new(&Engine::detect()?, ContainerSpec::new(), 2)?;
/// let sandbox = pool.acquire()?;
/// println!("{}", sandbox.run("echo hi")?.stdout_str());
/// drop(sandbox); // destroyed; the pool makes another
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Pool {
    shared: Arc<Shared>,
    refill: Option<JoinHandle<()>>,
}

/// What the pool, its guards and its refill thread share.
#[derive(Debug)]
struct Shared {
    engine: Engine,
    spec: ContainerSpec,
    project: Option<Project>,
    id: String,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug)]
struct State {
    book: PoolBook<Container>,
    /// An `acquire` took a member: the refill should look at the engine again.
    kicked: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Create, start and start the agent of one new member; dropping it on failure removes it.
    fn create_member(&self) -> Result<Container> {
        let spec = member_spec(&self.spec, random_u64());
        let flow = CreateFlow::prepare_in_pool(spec, self.project.as_ref(), &self.id)?;
        let made = self.engine.drive(flow, |()| {})?;
        let member = Container::from_attached(&self.engine, made, true);
        member.start_agent()?;
        Ok(member)
    }

    /// The engine's list of this pool's members.
    fn list(&self) -> Result<Vec<ListItem>> {
        self.engine.list_raw(&member_filter(&self.id))
    }

    /// Wait `d`, or less when the pool starts closing.
    fn pause(&self, d: Duration) {
        let give_up = Instant::now().checked_add(d);
        let mut st = self.lock();
        while !st.book.is_closing() {
            st = match wait_step(&self.changed, st, give_up) {
                Some(st) => st,
                None => return,
            };
        }
    }
}

impl Pool {
    /// A pool of `size` sandboxes of `spec` on `engine`, with the settings of the project
    /// containing the current directory (read once, as
    /// [`Engine::create_container`] reads them). Returns once all `size` are agent-ready, so
    /// that a bad spec, a missing image or an agent that cannot run here is an error now
    /// rather than at the first `acquire`; the members made so far are removed again then.
    ///
    /// `spec` must not be persistent (pool sandboxes are ephemeral); its name, if any, is the
    /// prefix of the members' names.
    pub fn new(engine: &Engine, spec: ContainerSpec, size: usize) -> Result<Self> {
        let spec = pool_spec(spec)?;
        check_volume_sources(&spec, engine.endpoint())?;
        let project = Project::discover(None)?;
        let id = pool_id(random_u64());
        let shared = Arc::new(Shared {
            engine: engine.clone(),
            spec,
            project,
            state: Mutex::new(State {
                book: PoolBook::new(id.clone(), size),
                kicked: false,
            }),
            id,
            changed: Condvar::new(),
        });
        for _ in 0..size {
            let member = shared.create_member()?;
            let id = member.id().to_string();
            if let Some(member) = shared.lock().book.put_idle(id, member) {
                drop(member);
            }
        }
        let for_thread = Arc::clone(&shared);
        let refill = thread::Builder::new()
            .name("pocketdock-pool".into())
            .spawn(move || refill(&for_thread))
            .map_err(Error::Io)?;
        Ok(Self {
            shared,
            refill: Some(refill),
        })
    }

    /// The pool id: the value of its members' `pocketdock.pool` label.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// How many members the pool keeps ready.
    pub fn size(&self) -> usize {
        self.shared.lock().book.size()
    }

    /// How many members are ready to be handed out now.
    pub fn ready(&self) -> usize {
        self.shared.lock().book.idle()
    }

    /// The engine's containers labelled with this pool (ready ones and those handed out), as
    /// the engine lists them now.
    pub fn members(&self) -> Result<Vec<ListItem>> {
        self.shared.list()
    }

    /// Wait until the pool is full again (`size` members ready), at most `timeout`; whether it
    /// is.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let give_up = Instant::now().checked_add(timeout);
        let mut st = self.shared.lock();
        loop {
            if st.book.idle() >= st.book.size() {
                return true;
            }
            st = match wait_step(&self.shared.changed, st, give_up) {
                Some(st) => st,
                None => return false,
            };
        }
    }

    /// Have the refill look at the engine again.
    fn kick(&self) {
        self.shared.lock().kicked = true;
        self.shared.changed.notify_all();
    }

    /// Hand out a sandbox: the oldest ready member whose agent answers a ping within
    /// [`LIVENESS_TIMEOUT`] (dead ones are destroyed on the way), or, when none is ready, one
    /// created on the spot. Its agent connection is open, so its first command goes through
    /// the agent. The refill starts in the background.
    pub fn acquire(&self) -> Result<PoolGuard> {
        loop {
            let taken = self.shared.lock().book.take_idle();
            let Some((id, member)) = taken else {
                break;
            };
            if member.agent_ping(LIVENESS_TIMEOUT).is_ok() {
                // The refill starts once the member is handed out, not while it is checked.
                self.kick();
                return Ok(PoolGuard::new(&self.shared, id, member));
            }
            // Dead: destroyed (dropping an owned ephemeral handle removes it), never handed out.
            drop(member);
            self.shared.lock().book.release(&id);
        }
        self.kick();
        let member = self.shared.create_member()?;
        let id = member.id().to_string();
        self.shared.lock().book.lease_new(&id);
        Ok(PoolGuard::new(&self.shared, id, member))
    }
}

impl Pool {
    /// Stop the refill and destroy every member no guard holds (members held by guards are
    /// destroyed when their guards go), as dropping the pool does, but reporting the first
    /// failure to remove one; the others are still tried.
    pub fn close(mut self) -> Result<()> {
        self.shut()
    }

    /// Stop the refill (waiting for a create in progress), destroy the idle members, then any
    /// member the engine still lists that no guard holds. Idempotent.
    fn shut(&mut self) -> Result<()> {
        let idle = self.shared.lock().book.close();
        self.shared.changed.notify_all();
        if let Some(refill) = self.refill.take() {
            let _ = refill.join();
        }
        let mut outcome = Ok(());
        for mut member in idle {
            outcome = outcome.and(member.shutdown(true));
        }
        for item in self.shared.list()? {
            if !self.shared.lock().book.is_leased(&item.id) {
                outcome = outcome.and(self.shared.engine.remove_container(&item.id, true));
            }
        }
        outcome
    }
}

impl Drop for Pool {
    /// [`close`](Self::close), ignoring errors.
    fn drop(&mut self) {
        let _ = self.shut();
    }
}

/// The refill thread: whenever members are short (or an `acquire` took one), reconcile with
/// the engine's labelled list and create what is missing, until the pool closes.
fn refill(shared: &Shared) {
    loop {
        {
            let mut st = shared.lock();
            while !st.book.is_closing() && !st.book.needs_refill() && !st.kicked {
                st = shared
                    .changed
                    .wait(st)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if st.book.is_closing() {
                return;
            }
            st.kicked = false;
        }
        let Ok(listed) = shared.list() else {
            shared.pause(RETRY_AFTER);
            continue;
        };
        let plan = shared.lock().book.plan(&listed);
        drop(plan.dead);
        for id in &plan.remove {
            let _ = shared.engine.remove_container(id, true);
        }
        for _ in 0..plan.create {
            if shared.lock().book.is_closing() {
                return;
            }
            let Ok(member) = shared.create_member() else {
                shared.pause(RETRY_AFTER);
                break;
            };
            let id = member.id().to_string();
            let refused = shared.lock().book.put_idle(id, member);
            drop(refused);
            shared.changed.notify_all();
        }
        if let Some(d) = plan.recheck_after {
            shared.pause(d);
        }
    }
}

/// A sandbox handed out by a [`Pool`]: derefs to its [`Container`]. Dropping the guard, or
/// [`release`](Self::release), destroys the sandbox (it is never handed out again) and lets
/// the pool replace it. The guard owns what it needs and outlives its pool if need be.
#[derive(Debug)]
pub struct PoolGuard {
    shared: Arc<Shared>,
    id: String,
    member: Option<Container>,
}

impl PoolGuard {
    fn new(shared: &Arc<Shared>, id: String, member: Container) -> Self {
        Self {
            shared: Arc::clone(shared),
            id,
            member: Some(member),
        }
    }

    /// Destroy the sandbox now, reporting a failure to remove it (dropping the guard does the
    /// same, ignoring errors).
    pub fn release(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        let outcome = match self.member.take() {
            Some(mut member) => member.shutdown(true),
            None => Ok(()),
        };
        self.shared.lock().book.release(&self.id);
        outcome
    }
}

impl Deref for PoolGuard {
    type Target = Container;

    fn deref(&self) -> &Container {
        // Present from `new` until `finish`, which only `release` (consuming) and `drop` call.
        self.member
            .as_ref()
            .unwrap_or_else(|| unreachable!("a live guard holds its sandbox"))
    }
}

impl DerefMut for PoolGuard {
    fn deref_mut(&mut self) -> &mut Container {
        self.member
            .as_mut()
            .unwrap_or_else(|| unreachable!("a live guard holds its sandbox"))
    }
}

impl Drop for PoolGuard {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// One wait on `changed` for a change of what `guard` holds: the guard back, or `None` once
/// `give_up` has passed (`give_up` `None`: a timeout too large for the clock, no deadline).
fn wait_step<'a, T>(
    changed: &Condvar,
    guard: MutexGuard<'a, T>,
    give_up: Option<Instant>,
) -> Option<MutexGuard<'a, T>> {
    match give_up {
        None => Some(changed.wait(guard).unwrap_or_else(PoisonError::into_inner)),
        Some(give_up) => {
            let now = Instant::now();
            if now >= give_up {
                return None;
            }
            Some(
                changed
                    .wait_timeout(guard, give_up - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0,
            )
        }
    }
}
