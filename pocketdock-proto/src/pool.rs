//! The rules of a warm pool: sandboxes created, started and agent-ready before anyone asks,
//! handed out at once, destroyed (never reused) when given back.
//!
//! The adapters' `Pool` types keep a [`PoolBook`] behind a lock and do the I/O it asks for.
//! Every member carries the label [`LABEL_POOL`]` = <pool id>` (see [`member_filter`]); the
//! engine's list of those containers is the truth the book reconciles against
//! ([`PoolBook::plan`]): an idle member the engine no longer runs is dropped, an exited member
//! nobody holds is removed, and the number to create is worked out from the engine's count,
//! not only from the book's memory.
//!
//! The engines cannot change a container's labels after it is created, so a member's label
//! names its pool only; whether it is idle or handed out is the book's (the handle with its
//! open agent connection lives in this process anyway), and whether it is alive is the
//! engine's own state.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use crate::api::containers::ListItem;
use crate::error::{Error, Result};
use crate::spec::ContainerSpec;
pub use crate::spec::LABEL_POOL;

/// How long an idle member's agent has to answer the liveness ping of `acquire` before the
/// member counts as dead (it is destroyed and the next one taken). An agent that is alive
/// answers in well under a millisecond; a killed one usually fails at once (its connection is
/// closed), so this bound is only reached by a hung one.
pub const LIVENESS_TIMEOUT: Duration = Duration::from_millis(250);

/// How long the refill waits before it looks again when the engine's count and the book
/// disagree for a moment (see [`Refill::recheck_after`]).
pub const RECHECK_AFTER: Duration = Duration::from_millis(200);

/// The name prefix of members when the spec names none.
pub const DEFAULT_MEMBER_PREFIX: &str = "pd-pool";

/// A new pool id, from a random number: 16 hex digits.
pub fn pool_id(random: u64) -> String {
    format!("{random:016x}")
}

/// The label filter that lists the members of `pool` (for the engine's container list).
pub fn member_filter(pool: &str) -> Vec<String> {
    vec![format!("{LABEL_POOL}={pool}")]
}

/// Check a pool's spec: its members are ephemeral (a persistent spec is refused, an open one
/// made ephemeral), and its name, if any, is the prefix of every member's name.
pub fn pool_spec(mut spec: ContainerSpec) -> Result<ContainerSpec> {
    if spec.persist == Some(true) {
        return Err(Error::invalid(
            "persist",
            "pool sandboxes are ephemeral: a persistent spec cannot be pooled",
        ));
    }
    spec.persist = Some(false);
    spec.validate()?;
    Ok(spec)
}

/// The spec of one new member: `spec` (checked by [`pool_spec`]) named
/// `<spec's name or "pd-pool">-<8 hex digits of random>`.
pub fn member_spec(spec: &ContainerSpec, random: u64) -> ContainerSpec {
    let prefix = spec.name.as_deref().unwrap_or(DEFAULT_MEMBER_PREFIX);
    let mut member = spec.clone();
    member.name = Some(format!("{prefix}-{:08x}", random & 0xffff_ffff));
    member
}

/// What the pool must do to get back to its size, from [`PoolBook::plan`].
#[derive(Debug)]
pub struct Refill<T> {
    /// Idle members the engine no longer runs: taken out of the book; the adapter destroys
    /// their handles (removing whatever is left of them).
    pub dead: Vec<T>,
    /// Ids of exited members that nobody holds: remove them from the engine.
    pub remove: Vec<String>,
    /// How many members to create (then [`PoolBook::put_idle`] each).
    pub create: usize,
    /// Look again after this long even if nothing changes: the book is short of idle members
    /// but the engine already runs enough (one is being created on the spot for a caller and
    /// is not counted as handed out yet), so an immediate next pass would only spin.
    pub recheck_after: Option<Duration>,
}

/// The bookkeeping of one pool: its idle members (handles of type `T`, oldest first), the ids
/// of the members handed out, and whether it is closing. See the module docs.
#[derive(Debug)]
pub struct PoolBook<T> {
    id: String,
    size: usize,
    idle: VecDeque<(String, T)>,
    leased: HashSet<String>,
    closing: bool,
}

impl<T> PoolBook<T> {
    /// An empty book for pool `id` that should keep `size` members idle.
    pub fn new(id: impl Into<String>, size: usize) -> Self {
        Self {
            id: id.into(),
            size,
            idle: VecDeque::new(),
            leased: HashSet::new(),
            closing: false,
        }
    }

    /// The pool id (the value of its members' [`LABEL_POOL`]).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How many members the pool keeps idle.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Idle members in the book.
    pub fn idle(&self) -> usize {
        self.idle.len()
    }

    /// Members handed out and not given back yet.
    pub fn leased(&self) -> usize {
        self.leased.len()
    }

    /// Whether the member `id` is handed out.
    pub fn is_leased(&self, id: &str) -> bool {
        self.leased.contains(id)
    }

    /// Whether the pool is closing (no more refills, no more members handed out).
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Whether fewer members are idle than the pool keeps (and it is not closing): time for a
    /// refill pass.
    pub fn needs_refill(&self) -> bool {
        !self.closing && self.idle.len() < self.size
    }

    /// The oldest idle member, now counted as handed out; the caller checks it is alive, then
    /// hands it out, or gives it back dead with [`release`](Self::release).
    pub fn take_idle(&mut self) -> Option<(String, T)> {
        if self.closing {
            return None;
        }
        let (id, member) = self.idle.pop_front()?;
        self.leased.insert(id.clone());
        Some((id, member))
    }

    /// A member created on the spot for a caller (no idle one was ready): counted as handed
    /// out.
    pub fn lease_new(&mut self, id: &str) {
        self.leased.insert(id.to_string());
    }

    /// The member `id` was given back (or found dead): it is no longer counted. Its handle is
    /// destroyed by the caller, never put back idle.
    pub fn release(&mut self, id: &str) {
        self.leased.remove(id);
    }

    /// A new member is ready; `None` when accepted, else (the pool is closing) the handle back,
    /// for the caller to destroy.
    pub fn put_idle(&mut self, id: String, member: T) -> Option<T> {
        if self.closing {
            return Some(member);
        }
        self.idle.push_back((id, member));
        None
    }

    /// Start closing: no more refills or hand-outs; the idle members, for the caller to
    /// destroy.
    pub fn close(&mut self) -> Vec<T> {
        self.closing = true;
        self.idle.drain(..).map(|(_, m)| m).collect()
    }

    /// Reconcile the book with the engine's list of this pool's members (`listed`, from
    /// [`member_filter`]) and say what to do:
    ///
    /// * an idle member the engine does not list as running is dead: out of the book;
    /// * an exited member that is neither idle nor handed out is removed (a member that is
    ///   `created` but not yet `running` may be one being created right now, and is left
    ///   alone);
    /// * create as many as the idle count is short of the size, but never more than the
    ///   engine's count of running members is short of size plus handed out (a member being
    ///   created on the spot for a caller already counts).
    pub fn plan(&mut self, listed: &[ListItem]) -> Refill<T> {
        let running: HashSet<&str> = listed
            .iter()
            .filter(|i| i.state == "running")
            .map(|i| i.id.as_str())
            .collect();
        let mut dead = Vec::new();
        let mut dead_ids = HashSet::new();
        let mut kept = VecDeque::new();
        for (id, member) in self.idle.drain(..) {
            if running.contains(id.as_str()) {
                kept.push_back((id, member));
            } else {
                dead.push(member);
                dead_ids.insert(id);
            }
        }
        self.idle = kept;
        let known = |id: &str| {
            self.leased.contains(id)
                || dead_ids.contains(id)
                || self.idle.iter().any(|(i, _)| i == id)
        };
        let remove = listed
            .iter()
            .filter(|i| matches!(i.state.as_str(), "exited" | "dead" | "stopped"))
            .filter(|i| !known(&i.id))
            .map(|i| i.id.clone())
            .collect();
        let create = if self.closing {
            0
        } else {
            let by_book = self.size.saturating_sub(self.idle.len());
            let by_engine = (self.size + self.leased.len()).saturating_sub(running.len());
            by_book.min(by_engine)
        };
        let recheck_after = (create == 0 && self.needs_refill()).then_some(RECHECK_AFTER);
        Refill {
            dead,
            remove,
            create,
            recheck_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, state: &str) -> ListItem {
        ListItem {
            id: id.into(),
            state: state.into(),
            ..ListItem::default()
        }
    }

    #[test]
    fn an_empty_pool_creates_its_size() {
        let mut book: PoolBook<u8> = PoolBook::new("p", 3);
        let plan = book.plan(&[]);
        assert_eq!(plan.create, 3);
        assert!(plan.dead.is_empty() && plan.remove.is_empty());
        assert_eq!(plan.recheck_after, None);
    }

    #[test]
    fn a_dead_idle_member_is_dropped_and_replaced() {
        let mut book = PoolBook::new("p", 2);
        assert!(book.put_idle("a".into(), 1).is_none());
        assert!(book.put_idle("b".into(), 2).is_none());
        let plan = book.plan(&[item("a", "running"), item("b", "exited")]);
        assert_eq!(plan.dead, vec![2]);
        assert!(
            plan.remove.is_empty(),
            "b is dropped as dead, not removed twice"
        );
        assert_eq!(plan.create, 1);
        assert_eq!(book.idle(), 1);
    }

    #[test]
    fn handed_out_members_count_on_the_engine_but_not_as_idle() {
        let mut book = PoolBook::new("p", 1);
        assert!(book.put_idle("a".into(), 1).is_none());
        assert_eq!(book.take_idle().map(|(id, _)| id), Some("a".into()));
        assert_eq!(book.leased(), 1);
        assert_eq!(book.plan(&[item("a", "running")]).create, 1);
        // A member being created on the spot (listed, unknown to the book) already counts;
        // the refill looks again shortly rather than at once.
        let plan = book.plan(&[item("a", "running"), item("x", "running")]);
        assert_eq!(plan.create, 0);
        assert_eq!(plan.recheck_after, Some(RECHECK_AFTER));
        book.release("a");
        assert_eq!(book.leased(), 0);
    }

    #[test]
    fn exited_strays_are_removed_created_ones_left_alone() {
        let mut book: PoolBook<u8> = PoolBook::new("p", 0);
        book.lease_new("held");
        let plan = book.plan(&[
            item("held", "exited"),
            item("stray", "exited"),
            item("new", "created"),
        ]);
        assert_eq!(plan.remove, vec!["stray".to_string()]);
    }

    #[test]
    fn a_closing_pool_hands_out_nothing_and_creates_nothing() {
        let mut book = PoolBook::new("p", 2);
        assert!(book.put_idle("a".into(), 1).is_none());
        assert_eq!(book.close(), vec![1]);
        assert!(book.take_idle().is_none());
        assert_eq!(book.put_idle("b".into(), 2), Some(2));
        assert_eq!(book.plan(&[]).create, 0);
        assert!(!book.needs_refill());
    }

    #[test]
    fn specs_are_ephemeral_and_names_prefixed() {
        assert!(pool_spec(ContainerSpec::new().persist(true)).is_err());
        let spec = pool_spec(ContainerSpec::new().name("t-pool")).expect("valid");
        assert_eq!(spec.persist, Some(false));
        assert_eq!(
            member_spec(&spec, 0x1234_abcd).name.as_deref(),
            Some("t-pool-1234abcd")
        );
        assert_eq!(
            member_spec(&ContainerSpec::new(), 1).name.as_deref(),
            Some("pd-pool-00000001")
        );
        assert_eq!(member_filter("ab"), vec!["pocketdock.pool=ab".to_string()]);
    }
}
