//! A warm pool: sandboxes created, started and agent-ready before anyone asks for one.
//!
//! The rules (labels, what to create, what is dead) are [`pocketdock_proto::pool`]'s
//! [`PoolBook`]; this file holds it behind a lock with the wakers of the tasks waiting on it,
//! runs the refill as a task of the runtime ([`Runtime::spawn_reader`]), and performs the
//! engine calls and liveness pings it asks for. The blocking adapter's `Pool` is the same
//! machine with a thread and a condition variable.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
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
use crate::runtime::{timeout_at, Runtime};

/// How long the refill waits after a failed engine call before it tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// How long closing waits for the refill task to finish a create in progress.
const REFILL_END_WAIT: Duration = Duration::from_secs(120);

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
///   the refill. Either way a task of the runtime ([`Runtime::spawn_reader`]) refills the
///   pool to `size`.
/// * A member is never handed out twice: [`PoolGuard::release`] destroys it (dropping the
///   guard does the same in the background, as dropping an ephemeral [`Container`] does);
///   the refill replaces it.
/// * [`close`](Self::close) stops the refill and destroys every member no guard holds, for
///   sure. Dropping the pool does the same in the background ([`Runtime::spawn_cleanup`],
///   best effort).
/// * Members are ordinary ephemeral sandboxes: a process killed before it closed its pool
///   leaves them running, as it leaves any ephemeral sandbox it created. Their label finds
///   them: `engine.list_raw(&["pocketdock.pool".into()])` lists the members of every pool.
///
/// The pool is `Send + Sync`: share it (`&Pool` or `Arc<Pool>`) to acquire from many tasks.
pub struct Pool<R: Runtime> {
    shared: Arc<Shared<R>>,
}

impl<R: Runtime> std::fmt::Debug for Pool<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("id", &self.shared.id)
            .finish_non_exhaustive()
    }
}

/// What the pool, its guards and its refill task share.
struct Shared<R: Runtime> {
    engine: Engine<R>,
    spec: ContainerSpec,
    project: Option<Project>,
    id: String,
    state: Mutex<State<R>>,
}

struct State<R: Runtime> {
    book: PoolBook<Container<R>>,
    /// An `acquire` took a member: the refill should look at the engine again.
    kicked: bool,
    /// The refill task has ended.
    refill_ended: bool,
    wakers: Vec<Waker>,
}

impl<R: Runtime> Shared<R> {
    fn lock(&self) -> MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Change the state with `f`, then wake every waiting task.
    fn update<T>(&self, f: impl FnOnce(&mut State<R>) -> T) -> T {
        let mut st = self.lock();
        let v = f(&mut st);
        for w in st.wakers.drain(..) {
            w.wake();
        }
        v
    }

    /// Wait until `f` holds, at most until `deadline`; whether it holds.
    async fn wait_until(
        &self,
        deadline: Option<Instant>,
        mut f: impl FnMut(&State<R>) -> bool,
    ) -> bool {
        let ready = std::future::poll_fn(|cx| {
            let mut st = self.lock();
            if f(&st) {
                return Poll::Ready(());
            }
            if !st.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                st.wakers.push(cx.waker().clone());
            }
            Poll::Pending
        });
        if let Some(d) = deadline {
            timeout_at::<R, _>(d, ready).await.is_some()
        } else {
            ready.await;
            true
        }
    }

    /// Create, start and start the agent of one new member; a failure removes it again.
    async fn create_member(&self) -> Result<Container<R>> {
        let spec = member_spec(&self.spec, random_u64());
        let flow = CreateFlow::prepare_in_pool(spec, self.project.as_ref(), &self.id)?;
        let made = self.engine.drive(flow, |()| {}).await?;
        let mut member = Container::from_attached(&self.engine, made, true);
        if let Err(e) = member.start_agent().await {
            let _ = member.shutdown(true).await;
            return Err(e);
        }
        Ok(member)
    }

    /// The engine's list of this pool's members.
    async fn list(&self) -> Result<Vec<ListItem>> {
        self.engine.list_raw(&member_filter(&self.id)).await
    }

    /// Wait `d`, or less when the pool starts closing.
    async fn pause(&self, d: Duration) {
        self.wait_until(R::now().checked_add(d), |st| st.book.is_closing())
            .await;
    }

    /// Stop the refill, destroy the idle members, wait for the refill task to end, then
    /// remove any member the engine still lists that no guard holds.
    async fn close(&self) -> Result<()> {
        let idle = self.update(|st| st.book.close());
        let mut outcome = Ok(());
        for mut member in idle {
            outcome = outcome.and(member.shutdown(true).await);
        }
        // Bounded: a refill task whose runtime went away never reports its end.
        self.wait_until(Some(R::now() + REFILL_END_WAIT), |st| st.refill_ended)
            .await;
        for item in self.list().await? {
            if !self.lock().book.is_leased(&item.id) {
                outcome = outcome.and(self.engine.remove_container(&item.id, true).await);
            }
        }
        outcome
    }
}

impl<R: Runtime> Pool<R> {
    /// A pool of `size` sandboxes of `spec` on `engine`, with the settings of the project
    /// containing the current directory (read once, as
    /// [`Engine::create_container`] reads them). Returns once all `size` are agent-ready, so
    /// that a bad spec, a missing image or an agent that cannot run here is an error now
    /// rather than at the first `acquire`; the members made so far are removed again then.
    /// Call it from within the runtime: the refill is one of its tasks.
    ///
    /// `spec` must not be persistent (pool sandboxes are ephemeral); its name, if any, is the
    /// prefix of the members' names.
    pub async fn new(engine: &Engine<R>, spec: ContainerSpec, size: usize) -> Result<Self> {
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
                refill_ended: false,
                wakers: Vec::new(),
            }),
            id,
        });
        let mut made = Vec::with_capacity(size);
        for _ in 0..size {
            match shared.create_member().await {
                Ok(member) => made.push(member),
                Err(e) => {
                    for mut member in made {
                        let _ = member.shutdown(true).await;
                    }
                    return Err(e);
                }
            }
        }
        shared.update(|st| {
            for member in made {
                let id = member.id().to_string();
                drop(st.book.put_idle(id, member));
            }
        });
        R::spawn_reader("pocketdock-pool", refill(Arc::clone(&shared))).map_err(Error::Io)?;
        Ok(Self { shared })
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
    pub async fn members(&self) -> Result<Vec<ListItem>> {
        self.shared.list().await
    }

    /// Wait until the pool is full again (`size` members ready), at most `timeout`; whether it
    /// is.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        self.shared
            .wait_until(R::now().checked_add(timeout), |st| {
                st.book.idle() >= st.book.size()
            })
            .await
    }

    /// Hand out a sandbox: the oldest ready member whose agent answers a ping within
    /// [`LIVENESS_TIMEOUT`] (dead ones are destroyed on the way), or, when none is ready, one
    /// created on the spot. Its agent connection is open, so its first command goes through
    /// the agent. The refill starts in the background.
    pub async fn acquire(&self) -> Result<PoolGuard<R>> {
        loop {
            let taken = self.shared.lock().book.take_idle();
            let Some((id, mut member)) = taken else {
                break;
            };
            if member.agent_ping(LIVENESS_TIMEOUT).await.is_ok() {
                // The refill starts once the member is handed out, not while it is checked.
                self.shared.update(|st| st.kicked = true);
                return Ok(PoolGuard::new(&self.shared, id, member));
            }
            // Dead: destroyed, never handed out.
            let _ = member.shutdown(true).await;
            self.shared.lock().book.release(&id);
        }
        self.shared.update(|st| st.kicked = true);
        let member = self.shared.create_member().await?;
        let id = member.id().to_string();
        self.shared.lock().book.lease_new(&id);
        Ok(PoolGuard::new(&self.shared, id, member))
    }

    /// Stop the refill and destroy every member no guard holds, waiting for it (members held
    /// by guards are destroyed when their guards go). The first failure to remove one is
    /// reported; the others are still tried.
    pub async fn close(self) -> Result<()> {
        self.shared.close().await
    }
}

impl<R: Runtime> Drop for Pool<R> {
    /// [`close`](Self::close) in the background (a `Drop` cannot await); nothing to do after
    /// `close`.
    fn drop(&mut self) {
        if self.shared.lock().book.is_closing() {
            return;
        }
        // Stop hand-outs and refills at once; the removals follow in the background.
        let idle = self.shared.update(|st| st.book.close());
        let shared = Arc::clone(&self.shared);
        R::spawn_cleanup(async move {
            for mut member in idle {
                let _ = member.shutdown(true).await;
            }
            let _ = shared.close().await;
        });
    }
}

/// The refill task: whenever members are short (or an `acquire` took one), reconcile with the
/// engine's labelled list and create what is missing, until the pool closes.
async fn refill<R: Runtime>(shared: Arc<Shared<R>>) {
    'refill: loop {
        shared
            .wait_until(None, |st| {
                st.book.is_closing() || st.book.needs_refill() || st.kicked
            })
            .await;
        if shared.update(|st| {
            st.kicked = false;
            st.book.is_closing()
        }) {
            break;
        }
        let Ok(listed) = shared.list().await else {
            shared.pause(RETRY_AFTER).await;
            continue;
        };
        let plan = shared.lock().book.plan(&listed);
        for mut member in plan.dead {
            let _ = member.shutdown(true).await;
        }
        for id in &plan.remove {
            let _ = shared.engine.remove_container(id, true).await;
        }
        for _ in 0..plan.create {
            if shared.lock().book.is_closing() {
                break 'refill;
            }
            let Ok(member) = shared.create_member().await else {
                shared.pause(RETRY_AFTER).await;
                break;
            };
            let id = member.id().to_string();
            if let Some(mut refused) = shared.update(|st| st.book.put_idle(id, member)) {
                let _ = refused.shutdown(true).await;
            }
        }
        if let Some(d) = plan.recheck_after {
            shared.pause(d).await;
        }
    }
    shared.update(|st| st.refill_ended = true);
}

/// A sandbox handed out by a [`Pool`]: derefs to its [`Container`].
/// [`release`](Self::release) destroys the sandbox (it is never handed out again) and lets
/// the pool replace it; dropping the guard does the same in the background. The guard owns
/// what it needs and outlives its pool if need be.
pub struct PoolGuard<R: Runtime> {
    shared: Arc<Shared<R>>,
    id: String,
    member: Option<Container<R>>,
}

impl<R: Runtime> std::fmt::Debug for PoolGuard<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolGuard")
            .field("member", &self.member)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> PoolGuard<R> {
    fn new(shared: &Arc<Shared<R>>, id: String, member: Container<R>) -> Self {
        Self {
            shared: Arc::clone(shared),
            id,
            member: Some(member),
        }
    }

    /// Destroy the sandbox now, waiting for it and reporting a failure to remove it.
    pub async fn release(mut self) -> Result<()> {
        let outcome = match self.member.take() {
            Some(mut member) => member.shutdown(true).await,
            None => Ok(()),
        };
        self.shared.lock().book.release(&self.id);
        outcome
    }
}

impl<R: Runtime> Deref for PoolGuard<R> {
    type Target = Container<R>;

    fn deref(&self) -> &Container<R> {
        // Present from `new` until `release` (consuming) or `drop` take it.
        self.member
            .as_ref()
            .unwrap_or_else(|| unreachable!("a live guard holds its sandbox"))
    }
}

impl<R: Runtime> DerefMut for PoolGuard<R> {
    fn deref_mut(&mut self) -> &mut Container<R> {
        self.member
            .as_mut()
            .unwrap_or_else(|| unreachable!("a live guard holds its sandbox"))
    }
}

impl<R: Runtime> Drop for PoolGuard<R> {
    /// The sandbox's handle is dropped, which removes it in the background.
    fn drop(&mut self) {
        drop(self.member.take());
        self.shared.lock().book.release(&self.id);
    }
}
