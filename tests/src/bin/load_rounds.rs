//! Load: `load_rounds SOCKET [SANDBOXES] [ROUNDS]` (default 20 and 10). Each round creates
//! SANDBOXES sandboxes at once, one thread each, uses every one (a command, a file written and
//! read back, a session command) and removes it. After the last round it counts what is left
//! and compares it with what there was before the first: pocketdock containers of this run on
//! the engine, and this process's file descriptors, Unix sockets and threads. Prints one line
//! per round and the counts; exits non-zero on any failed call or any leak.
//!
//! `scripts/load.sh` runs it on both engines.

use std::time::{Duration, Instant};

use pocketdock_blocking::{ContainerSpec, Engine};

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("load_rounds: {what}: {e}");
    std::process::exit(1)
}

/// This process's open file descriptors and, of them, the sockets.
fn descriptors() -> (usize, usize) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        fail("descriptors", "no /proc/self/fd")
    };
    let mut all = 0;
    let mut sockets = 0;
    for entry in dir.flatten() {
        all += 1;
        if std::fs::read_link(entry.path())
            .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
        {
            sockets += 1;
        }
    }
    (all, sockets)
}

/// This process's threads.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count)
}

/// The names of this process's threads other than the main one, for a report of leaks.
fn other_threads() -> Vec<String> {
    let main = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .flatten()
        .filter(|t| t.file_name().to_string_lossy() != main)
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    names.sort();
    names
}

/// The containers on the engine whose name starts with `prefix`, whatever their state.
fn containers(engine: &Engine, prefix: &str) -> usize {
    engine
        .list_containers(None)
        .unwrap_or_else(|e| fail("list", e))
        .iter()
        .filter(|c| c.name.starts_with(prefix))
        .count()
}

/// One sandbox's life: create, run, write and read back a file, a session command, remove.
fn one(engine: &Engine, name: &str) -> Result<(), String> {
    let mut c = engine
        .create_container(
            ContainerSpec::new()
                .image(pocketdock_tests::BUSYBOX_IMAGE)
                .name(name),
        )
        .map_err(|e| format!("create {name}: {e}"))?;
    let r = c.run("echo hi").map_err(|e| format!("run: {e}"))?;
    if r.stdout_str() != "hi\n" {
        return Err(format!("run said {:?}", r.stdout_str()));
    }
    c.write_file("/tmp/load/data.txt", name)
        .map_err(|e| format!("write_file: {e}"))?;
    let back = c
        .read_file("/tmp/load/data.txt")
        .map_err(|e| format!("read_file: {e}"))?;
    if back != name.as_bytes() {
        return Err("read_file gave other bytes".into());
    }
    let s = c.session().map_err(|e| format!("session: {e}"))?;
    let r = s
        .send_and_wait(
            "cd /tmp/load && cat data.txt",
            Some(Duration::from_secs(30)),
        )
        .map_err(|e| format!("session command: {e}"))?;
    if r.stdout_str() != name {
        return Err(format!("session said {:?}", r.stdout_str()));
    }
    s.close().map_err(|e| format!("session close: {e}"))?;
    drop(s);
    c.shutdown(true).map_err(|e| format!("shutdown: {e}"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(socket) = args.get(1) else {
        fail("usage", "load_rounds SOCKET [SANDBOXES] [ROUNDS]")
    };
    let count: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let rounds: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(10);
    let engine = Engine::new(socket);
    let prefix = format!("pd-load-{}-", std::process::id());

    // The first engine use starts a background look for orphans: let it finish before the
    // baseline, so that its thread and connection are not counted as ours.
    engine.ping().unwrap_or_else(|e| fail("ping", e));
    pocketdock_blocking::finish_background_reaps(Duration::from_secs(30));
    let (fds_before, sockets_before) = descriptors();
    let threads_before = threads();
    let containers_before = containers(&engine, &prefix);

    let mut failures = 0;
    for round in 0..rounds {
        let started = Instant::now();
        let errors: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..count)
                .map(|i| {
                    let engine = &engine;
                    let name = format!("{prefix}{round}-{i}");
                    scope.spawn(move || one(engine, &name))
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| match h.join() {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e),
                    Err(_) => Some("a sandbox thread panicked".into()),
                })
                .collect()
        });
        failures += errors.len();
        println!(
            "round {}: {count} sandboxes in {:.1} s, {} failed{}",
            round + 1,
            started.elapsed().as_secs_f64(),
            errors.len(),
            errors
                .first()
                .map_or(String::new(), |e| format!(" (first: {e})")),
        );
    }

    pocketdock_blocking::finish_background_reaps(Duration::from_secs(30));
    // An agent start still under way for a sandbox removed meanwhile ends by itself (its exec
    // fails, or its hello times out): what is still there after a minute is a leak.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(60)
        && (threads() > threads_before || descriptors().0 > fds_before)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "settled in {:.1} s after the last round",
        settle.elapsed().as_secs_f64()
    );
    let (fds_after, sockets_after) = descriptors();
    let threads_after = threads();
    let containers_after = containers(&engine, &prefix);
    println!(
        "left behind: containers {containers_before} -> {containers_after}, \
         file descriptors {fds_before} -> {fds_after}, sockets {sockets_before} -> \
         {sockets_after}, threads {threads_before} -> {threads_after}"
    );
    let leaked = containers_after > containers_before
        || fds_after > fds_before
        || sockets_after > sockets_before
        || threads_after > threads_before;
    if threads_after > threads_before {
        println!("threads left: {:?}", other_threads());
    }
    if failures > 0 || leaked {
        eprintln!("load_rounds: {failures} failed sandboxes, leaks: {leaked}");
        std::process::exit(1);
    }
    println!("ok: {} sandboxes, no failure, nothing left", count * rounds);
}
