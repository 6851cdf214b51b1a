//! Every sandbox the server created, across its sessions: who owns which, the cap on live
//! sandboxes, the idle TTL, and their removal (by the owner, at a session's end, after the
//! TTL, and when the server exits).
//!
//! The registry is the only thing that removes containers: the handles it keeps are not
//! owning ones (dropping them removes nothing), so a removal is always awaited somewhere and
//! the server's exit can wait for every one of them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pocketdock_tokio::{Container, ContainerSpec, Engine, Pool, PoolGuard, Process, Session};
use tokio::task::JoinSet;

use crate::options::Options;
use crate::tools::ToolError;

/// Label naming the server that created a container (its random id).
pub const LABEL_SERVER: &str = "pocketdock-mcp.server";
/// Label naming the session (scope) that owns a container.
pub const LABEL_SCOPE: &str = "pocketdock-mcp.scope";

/// How long the server's exit waits for its removals before giving up.
const EXIT_GRACE: Duration = Duration::from_secs(20);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One live sandbox and what runs in it.
#[derive(Debug)]
pub struct Sandbox {
    /// The name the model uses, also the engine's container name.
    pub name: String,
    /// The session that owns it.
    pub scope: u64,
    /// Its handle: a non-owning one (dropping it removes nothing), or a warm pool's guard
    /// (whose agent connection is already open).
    pub container: Handle,
    /// Image it was created from.
    pub image: String,
    /// Whether it has a network.
    pub network: bool,
    /// Removed after this long without a tool call.
    pub idle_ttl: Duration,
    /// When it was created.
    pub created: Instant,
    last_used: Mutex<Instant>,
    busy: AtomicUsize,
    next_id: AtomicU64,
    /// Background processes by id.
    pub processes: Mutex<HashMap<String, Arc<Process>>>,
    /// Shell sessions by id.
    pub sessions: Mutex<HashMap<String, Arc<Session>>>,
}

/// A sandbox's container handle.
#[derive(Debug)]
pub enum Handle {
    /// Created for the call.
    Plain(Container),
    /// Handed out by the warm pool; dropping the guard removes it (again, after the registry).
    Pooled(PoolGuard),
}

impl std::ops::Deref for Handle {
    type Target = Container;

    fn deref(&self) -> &Container {
        match self {
            Self::Plain(c) => c,
            Self::Pooled(g) => g,
        }
    }
}

/// Marks a sandbox in use for as long as it lives: the idle TTL never removes a sandbox
/// while a call works in it, and the clock restarts when the call ends.
pub struct InUse(Arc<Sandbox>);

impl Drop for InUse {
    fn drop(&mut self) {
        *lock(&self.0.last_used) = Instant::now();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::ops::Deref for InUse {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.0
    }
}

impl Sandbox {
    /// How long no call has touched it (zero while one runs).
    pub fn idle(&self) -> Duration {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        lock(&self.last_used).elapsed()
    }

    /// How long since a call last finished on it, even while one runs now.
    pub fn idle_before_this_call(&self) -> Duration {
        lock(&self.last_used).elapsed()
    }

    /// A fresh id for a process (`p1`, `p2`, ...) or a session (`s1`, ...).
    pub fn next_id(&self, prefix: &str) -> String {
        format!(
            "{prefix}{}",
            self.next_id.fetch_add(1, Ordering::SeqCst) + 1
        )
    }

    /// The process `id`, or a message naming the ones there are.
    pub fn process(&self, id: &str) -> Result<Arc<Process>, ToolError> {
        let map = lock(&self.processes);
        map.get(id).cloned().ok_or_else(|| {
            ToolError::NotFound(format!(
                "no process {id:?} in sandbox {:?} (processes: {})",
                self.name,
                names(map.keys())
            ))
        })
    }

    /// The shell session `id`, or a message naming the ones there are.
    pub fn session(&self, id: &str) -> Result<Arc<Session>, ToolError> {
        let map = lock(&self.sessions);
        map.get(id).cloned().ok_or_else(|| {
            ToolError::NotFound(format!(
                "no session {id:?} in sandbox {:?} (sessions: {})",
                self.name,
                names(map.keys())
            ))
        })
    }

    /// Keep a new process under a fresh id.
    pub fn add_process(&self, p: Process) -> String {
        let id = self.next_id("p");
        lock(&self.processes).insert(id.clone(), Arc::new(p));
        id
    }

    /// Keep a new session under a fresh id.
    pub fn add_session(&self, s: Session) -> String {
        let id = self.next_id("s");
        lock(&self.sessions).insert(id.clone(), Arc::new(s));
        id
    }

    /// Forget the session `id` (after closing it).
    pub fn remove_session(&self, id: &str) -> Option<Arc<Session>> {
        lock(&self.sessions).remove(id)
    }

    /// Counts of processes and sessions.
    pub fn counts(&self) -> (usize, usize) {
        (lock(&self.processes).len(), lock(&self.sessions).len())
    }
}

fn names<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    let mut v: Vec<&str> = keys.map(String::as_str).collect();
    if v.is_empty() {
        return "none".into();
    }
    v.sort_unstable();
    v.join(", ")
}

/// The answer for a sandbox `name` that session `scope` does not have: another session's is
/// answered the same way, so a session learns nothing about the others.
fn not_found(state: &State, scope: u64, name: &str) -> ToolError {
    let mine = state
        .sandboxes
        .values()
        .filter(|s| s.scope == scope)
        .map(|s| &s.name);
    ToolError::NotFound(format!(
        "no sandbox {name:?} in this session (sandboxes: {}); create one with create_sandbox",
        names(mine)
    ))
}

#[derive(Default)]
struct State {
    sandboxes: HashMap<String, Arc<Sandbox>>,
    /// Creations under way (they count against the cap).
    pending: usize,
    /// Sessions that have ended: a creation finishing for one of them is removed at once.
    ended: HashSet<u64>,
    /// The server is exiting: nothing new is kept.
    closing: bool,
    next_name: u64,
}

/// What a new sandbox is made of, besides the spec.
pub struct NewSandbox {
    /// Owner.
    pub scope: u64,
    /// Idle TTL.
    pub idle_ttl: Duration,
    /// Whether it has a network (for listings).
    pub network: bool,
}

/// Every sandbox of the server.
pub struct Registry {
    /// The engine all sandboxes live on.
    pub engine: Engine,
    /// The operator's settings.
    pub opts: Options,
    /// Random id of this server, in its container names and labels.
    pub server_id: String,
    state: Mutex<State>,
    removals: Mutex<JoinSet<()>>,
    next_scope: AtomicU64,
    /// The warm pool (`--pool`): filling, ready, or none.
    pool: tokio::sync::watch::Sender<Warm>,
}

/// Where the warm pool stands.
#[derive(Debug, Clone)]
enum Warm {
    /// Its first sandboxes are being made: a `create_sandbox` waits for them.
    Filling,
    /// Ready to hand out.
    Ready(Arc<Pool>),
    /// None (`--pool 0`, its filling failed, or the server is closing).
    Off,
}

/// How long a `create_sandbox` waits for a pool still filling before it creates its own.
const POOL_WAIT: Duration = Duration::from_secs(60);

impl Registry {
    /// A registry for sandboxes on `engine`.
    pub fn new(engine: Engine, opts: Options) -> Arc<Self> {
        let opts_pool = opts.pool;
        let server_id = format!("{:08x}", pocketdock_host::random::random_u64() as u32);
        Arc::new(Self {
            engine,
            opts,
            server_id,
            state: Mutex::new(State::default()),
            removals: Mutex::new(JoinSet::new()),
            next_scope: AtomicU64::new(1),
            pool: tokio::sync::watch::Sender::new(if opts_pool > 0 {
                Warm::Filling
            } else {
                Warm::Off
            }),
        })
    }

    /// Start the warm pool of `--pool` sandboxes of the default kind and keep it once its
    /// members are ready (a `create_sandbox` of the default kind waits for that, at most a
    /// minute). Its members carry this server's label, so its exit removes them like every
    /// sandbox.
    pub async fn fill_pool(self: Arc<Self>) {
        if self.opts.pool == 0 {
            return;
        }
        let spec = self
            .default_spec()
            .name(format!("{}{}-pool", self.opts.name_prefix, self.server_id))
            .label(LABEL_SERVER, self.server_id.clone());
        let filled = Pool::new(&self.engine, spec, self.opts.pool).await;
        let closing = lock(&self.state).closing;
        match filled {
            Ok(pool) if !closing => {
                self.pool.send_replace(Warm::Ready(Arc::new(pool)));
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("pocketdock-mcp: the warm pool could not be filled: {e}");
                self.pool.send_replace(Warm::Off);
            }
        }
    }

    /// The spec of a sandbox of the default kind: what a `create_sandbox` asking for nothing
    /// gets, and what the warm pool keeps.
    pub fn default_spec(&self) -> ContainerSpec {
        ContainerSpec::new().mem_limit(self.opts.default_memory.clone())
    }

    /// A warm sandbox, when the pool has one to give (`name` becomes its name); `None`:
    /// create one.
    async fn take_warm(&self, name: &mut String) -> Option<PoolGuard> {
        let mut state = self.pool.subscribe();
        let warm =
            match tokio::time::timeout(POOL_WAIT, state.wait_for(|w| !matches!(w, Warm::Filling)))
                .await
            {
                Ok(Ok(w)) => w.clone(),
                _ => return None,
            };
        let Warm::Ready(pool) = warm else {
            return None;
        };
        match pool.acquire().await {
            Ok(guard) => {
                *name = guard.name().to_string();
                Some(guard)
            }
            Err(e) => {
                eprintln!("pocketdock-mcp: the warm pool gave no sandbox: {e}");
                None
            }
        }
    }

    /// A fresh session id.
    pub fn new_scope(&self) -> u64 {
        self.next_scope.fetch_add(1, Ordering::SeqCst)
    }

    /// The sandbox `name` of session `scope`, marked in use. Another session's sandbox is
    /// answered exactly like a missing one.
    pub fn get(&self, scope: u64, name: &str) -> Result<InUse, ToolError> {
        let state = lock(&self.state);
        match state.sandboxes.get(name) {
            Some(sb) if sb.scope == scope => {
                sb.busy.fetch_add(1, Ordering::SeqCst);
                Ok(InUse(Arc::clone(sb)))
            }
            _ => Err(not_found(&state, scope, name)),
        }
    }

    /// The sandboxes of session `scope`, oldest first.
    pub fn list(&self, scope: u64) -> Vec<Arc<Sandbox>> {
        let mut v: Vec<Arc<Sandbox>> = lock(&self.state)
            .sandboxes
            .values()
            .filter(|s| s.scope == scope)
            .cloned()
            .collect();
        v.sort_by_key(|s| s.created);
        v
    }

    /// Create and start a sandbox for `new.scope` from `spec` (its name and labels are set
    /// here), within the cap on live sandboxes.
    pub async fn create(
        &self,
        mut spec: ContainerSpec,
        new: NewSandbox,
    ) -> Result<Arc<Sandbox>, ToolError> {
        let mut name = {
            let mut state = lock(&self.state);
            if state.closing {
                return Err(ToolError::Refused("the server is shutting down".into()));
            }
            let live = state.sandboxes.len() + state.pending;
            if live >= self.opts.max_sandboxes {
                return Err(ToolError::Refused(format!(
                    "the server's cap of {} live sandboxes (all sessions together) is \
                     reached; shut one of yours down with shutdown_sandbox, or try later",
                    self.opts.max_sandboxes
                )));
            }
            state.pending += 1;
            state.next_name += 1;
            format!(
                "{}{}-{}",
                self.opts.name_prefix, self.server_id, state.next_name
            )
        };
        let mut pending = Pending {
            registry: self,
            armed: true,
        };
        let image = spec.resolved_image().unwrap_or_default();
        let warm = if spec == self.default_spec() {
            self.take_warm(&mut name).await
        } else {
            None
        };
        // From here on the registry removes it: until the sandbox is kept, this guard
        // removes it (a failed or cancelled call).
        let mut orphan;
        let container = if let Some(guard) = warm {
            orphan = Orphan {
                engine: self.engine.clone(),
                id: Some(guard.id().to_string()),
            };
            Handle::Pooled(guard)
        } else {
            spec.name = Some(name.clone());
            spec.persist = Some(false);
            spec.labels
                .insert(LABEL_SERVER.into(), self.server_id.clone());
            spec.labels
                .insert(LABEL_SCOPE.into(), format!("{}", new.scope));
            let created = self.engine.create_container_in(spec, None).await?;
            // The owning handle is let go: the registry removes it.
            orphan = Orphan {
                engine: self.engine.clone(),
                id: Some(created.keep()),
            };
            Handle::Plain(self.engine.attach(&name).await?)
        };
        let sandbox = Arc::new(Sandbox {
            name: name.clone(),
            scope: new.scope,
            container,
            image,
            network: new.network,
            idle_ttl: new.idle_ttl,
            created: Instant::now(),
            last_used: Mutex::new(Instant::now()),
            busy: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            processes: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        });
        {
            let mut state = lock(&self.state);
            state.pending = state.pending.saturating_sub(1);
            pending.armed = false;
            if !state.closing && !state.ended.contains(&new.scope) {
                state.sandboxes.insert(name, Arc::clone(&sandbox));
                orphan.id = None;
            }
        }
        if let Some(id) = orphan.id.take() {
            let _ = self.engine.remove_container(&id, true).await;
            return Err(ToolError::Refused(
                "the session ended during the creation".into(),
            ));
        }
        Ok(sandbox)
    }

    /// Remove session `scope`'s sandbox `name` now and wait for it.
    pub async fn remove(&self, scope: u64, name: &str) -> Result<(), ToolError> {
        let sb = {
            let mut state = lock(&self.state);
            match state.sandboxes.get(name) {
                Some(sb) if sb.scope == scope => state.sandboxes.remove(name),
                _ => None,
            }
            .ok_or_else(|| not_found(&state, scope, name))?
        };
        self.engine
            .remove_container(sb.container.id(), true)
            .await
            .map_err(ToolError::from)
    }

    /// Session `scope` has ended: its sandboxes are removed in the background (the server's
    /// exit waits for that), and any still being created are removed when they are.
    pub fn end_scope(&self, scope: u64) {
        let gone: Vec<Arc<Sandbox>> = {
            let mut state = lock(&self.state);
            state.ended.insert(scope);
            let names: Vec<String> = state
                .sandboxes
                .values()
                .filter(|s| s.scope == scope)
                .map(|s| s.name.clone())
                .collect();
            names
                .iter()
                .filter_map(|n| state.sandboxes.remove(n))
                .collect()
        };
        self.remove_in_background(gone);
    }

    fn remove_in_background(&self, gone: Vec<Arc<Sandbox>>) {
        if gone.is_empty() {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut removals = lock(&self.removals);
        for sb in gone {
            let engine = self.engine.clone();
            removals.spawn_on(
                async move {
                    if let Err(e) = engine.remove_container(sb.container.id(), true).await {
                        eprintln!("pocketdock-mcp: removing {}: {e}", sb.name);
                    }
                },
                &handle,
            );
        }
    }

    /// Remove the sandboxes idle for longer than their TTL, every `period`, forever.
    pub async fn reap_idle(self: Arc<Self>, period: Duration) {
        loop {
            tokio::time::sleep(period).await;
            let expired: Vec<Arc<Sandbox>> = {
                let mut state = lock(&self.state);
                let names: Vec<String> = state
                    .sandboxes
                    .values()
                    .filter(|s| s.idle() > s.idle_ttl)
                    .map(|s| s.name.clone())
                    .collect();
                names
                    .iter()
                    .filter_map(|n| state.sandboxes.remove(n))
                    .collect()
            };
            for sb in &expired {
                eprintln!(
                    "pocketdock-mcp: removing {} (idle for more than {} s)",
                    sb.name,
                    sb.idle_ttl.as_secs()
                );
            }
            self.remove_in_background(expired);
        }
    }

    /// The server is exiting: remove every sandbox left and wait for every removal (at most
    /// a grace period).
    pub async fn close(&self) {
        // No refill from now on; the idle members go with the label sweep below.
        drop(self.pool.send_replace(Warm::Off));
        let all: Vec<Arc<Sandbox>> = {
            let mut state = lock(&self.state);
            state.closing = true;
            state.sandboxes.drain().map(|(_, s)| s).collect()
        };
        self.remove_in_background(all);
        let mut removals = std::mem::take(&mut *lock(&self.removals));
        let drained = tokio::time::timeout(EXIT_GRACE, async {
            while removals.join_next().await.is_some() {}
            // Anything of this server's the map did not hold (a creation cut short).
            let label = format!("{LABEL_SERVER}={}", self.server_id);
            if let Ok(left) = self.engine.list_raw(&[label]).await {
                for c in left {
                    let _ = self.engine.remove_container(&c.id, true).await;
                }
            }
        })
        .await;
        if drained.is_err() {
            eprintln!("pocketdock-mcp: some sandboxes could not be removed in time");
        }
    }
}

/// A container created but not kept yet: removed in the background if the creation stops
/// before the registry holds it.
struct Orphan {
    engine: Engine,
    id: Option<String>,
}

impl Drop for Orphan {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let engine = self.engine.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = engine.remove_container(&id, true).await;
            });
        }
    }
}

/// A creation under way: counted against the cap until it is kept or dropped (a failed or
/// cancelled creation).
struct Pending<'a> {
    registry: &'a Registry,
    armed: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut state = lock(&self.registry.state);
            state.pending = state.pending.saturating_sub(1);
        }
    }
}
