//! The warm pool on the blocking adapter, against real Podman and Docker. Its members need the
//! agent binary `POCKETDOCK_AGENT` names (scripts/test.sh builds it); without it these tests
//! fail, they never skip. Every member is named `pdtest-pool...-<hex>`, and a [`Sweep`]
//! removes whatever the test's prefix names afterwards, even when the test fails.
#![expect(
    clippy::unwrap_used,
    reason = "the scenarios are test bodies run by per_engine!, where a failed unwrap is the test failure"
)]

use std::collections::HashSet;
use std::time::Duration;

use pocketdock_blocking::{AgentStatus, ContainerSpec, Engine, Pool, RunOptions};
use pocketdock_proto::pool::member_filter;
use pocketdock_tests::{eventually, per_engine, unique_name, TEST_IMAGE};

/// How long a refill may take on a loaded machine.
const REFILL: Duration = Duration::from_secs(90);

/// Removes every container whose name starts with its prefix when dropped.
struct Sweep {
    engine: Engine,
    prefix: String,
}

impl Sweep {
    fn new(socket: &str, tag: &str) -> Self {
        Self {
            engine: Engine::new(socket),
            prefix: unique_name(tag),
        }
    }

    fn spec(&self) -> ContainerSpec {
        ContainerSpec::new()
            .image(TEST_IMAGE)
            .name(self.prefix.clone())
    }
}

impl Drop for Sweep {
    fn drop(&mut self) {
        let Ok(all) = self
            .engine
            .list_raw(&["pocketdock.managed=true".to_string()])
        else {
            return;
        };
        for item in all {
            if item
                .names
                .iter()
                .any(|n| n.trim_start_matches('/').starts_with(&self.prefix))
            {
                let _ = self.engine.remove_container(&item.id, true);
            }
        }
    }
}

/// Running members of `pool` as the engine lists them by label.
fn running(pool: &Pool) -> usize {
    pool.members()
        .unwrap()
        .iter()
        .filter(|i| i.state == "running")
        .count()
}

fn gone(engine: &Engine, id: &str) -> bool {
    engine.inspect_container(id).is_err()
}

fn acquire_hands_out_agent_ready_sandboxes_and_destroys_released_ones(socket: &str) {
    let sweep = Sweep::new(socket, "pool");
    let engine = Engine::new(socket);
    let pool = Pool::new(&engine, sweep.spec(), 2).unwrap();
    assert_eq!(pool.ready(), 2);
    assert_eq!(
        running(&pool),
        2,
        "counted by the pool's label on the engine"
    );

    let a = pool.acquire().unwrap();
    assert!(matches!(a.agent_status(), AgentStatus::Up { .. }));
    let r = a.run("echo first").unwrap();
    assert_eq!(r.stdout_str(), "first\n");
    assert!(
        r.usage.is_some(),
        "the first command goes through the agent"
    );
    assert!(a.name().starts_with(&sweep.prefix), "{}", a.name());

    let b = pool.acquire().unwrap();
    assert_ne!(a.id(), b.id(), "two acquires give two sandboxes");
    assert!(b.run("true").unwrap().usage.is_some());

    let (a_id, b_id) = (a.id().to_string(), b.id().to_string());
    drop(a);
    assert!(gone(&engine, &a_id), "a dropped guard destroys its sandbox");
    b.release().unwrap();
    assert!(gone(&engine, &b_id), "release destroys its sandbox");

    assert!(pool.wait_ready(REFILL), "the pool refills to its size");
    assert!(
        eventually(REFILL, || running(&pool) == 2),
        "the label count returns to the size: {:?}",
        pool.members()
    );
    let c = pool.acquire().unwrap();
    assert!(
        c.id() != a_id && c.id() != b_id,
        "a released sandbox is never handed out again"
    );
}

fn a_sandbox_whose_agent_died_is_not_handed_out(socket: &str) {
    let sweep = Sweep::new(socket, "pool-dead");
    let engine = Engine::new(socket);
    let pool = Pool::new(&engine, sweep.spec(), 1).unwrap();
    let members = pool.members().unwrap();
    assert_eq!(members.len(), 1);
    let victim = members[0].id.clone();
    // Kill the idle member's agent from inside, through the engine path of another handle.
    // (The pattern's bracket keeps the shell from matching its own command line.)
    let outside = engine.attach(&victim).unwrap();
    let script = "for p in /proc/[0-9]*; do \
                  case \"$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)\" in \
                  */.pocketdock/agent-[0-9a-f]*) kill -9 ${p#/proc/} && echo killed;; esac; done";
    let r = outside
        .exec(&["sh", "-c", script], &RunOptions::new())
        .unwrap();
    assert_eq!(r.stdout_str(), "killed\n", "{r:?}");

    let fresh = pool.acquire().unwrap();
    assert_ne!(fresh.id(), victim, "the dead member is not handed out");
    assert!(fresh.run("true").unwrap().usage.is_some());
    assert!(
        eventually(REFILL, || gone(&engine, &victim)),
        "the dead member is destroyed"
    );
}

fn dropping_the_pool_leaves_no_member(socket: &str) {
    let sweep = Sweep::new(socket, "pool-drop");
    let engine = Engine::new(socket);
    let pool = Pool::new(&engine, sweep.spec(), 2).unwrap();
    let id = pool.id().to_string();
    drop(pool.acquire().unwrap());
    drop(pool);
    let left = engine.list_raw(&member_filter(&id)).unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");

    // close() does the same and reports; a guard outlives its pool and still cleans up.
    let pool = Pool::new(&engine, sweep.spec(), 1).unwrap();
    let id = pool.id().to_string();
    let held = pool.acquire().unwrap();
    pool.close().unwrap();
    let left = engine.list_raw(&member_filter(&id)).unwrap();
    assert_eq!(left.len(), 1, "only the held one: {left:?}");
    assert_eq!(held.run("echo alive").unwrap().stdout_str(), "alive\n");
    drop(held);
    let left = engine.list_raw(&member_filter(&id)).unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn concurrent_acquires_give_distinct_sandboxes(socket: &str) {
    let sweep = Sweep::new(socket, "pool-conc");
    let engine = Engine::new(socket);
    let pool = Pool::new(&engine, sweep.spec(), 2).unwrap();
    let ids: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|i| {
                let pool = &pool;
                s.spawn(move || {
                    let g = pool.acquire().unwrap();
                    let r = g.run(&format!("echo {i}")).unwrap();
                    assert_eq!(r.stdout_str(), format!("{i}\n"));
                    assert!(r.usage.is_some());
                    let id = g.id().to_string();
                    // Hold it until every worker has one, so none can be handed out twice.
                    std::thread::sleep(Duration::from_millis(300));
                    id
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 4, "{ids:?}");
}

per_engine!(
    acquire_hands_out_agent_ready_sandboxes_and_destroys_released_ones,
    a_sandbox_whose_agent_died_is_not_handed_out,
    dropping_the_pool_leaves_no_member,
    concurrent_acquires_give_distinct_sandboxes,
);
