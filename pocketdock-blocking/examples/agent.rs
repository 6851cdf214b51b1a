//! Commands through the in-sandbox agent beside the engine path, on one sandbox, in one run.
//!
//! `scripts/bench-agent.sh` runs it on both engines (it builds the agent and sets
//! `POCKETDOCK_AGENT`). Figures: `run("echo hi")` wall time on the engine path and on the
//! agent path (median and spread), a session on each path (open, `send_and_wait("echo hi")`, a
//! timed-out command interrupted), 1000 sequential commands through the agent, 32 concurrent
//! commands on one sandbox, sandbox-ready-to-first-command with the agent (create, agent start,
//! first command), the same from a warm pool (`acquire()` alone, and `acquire()` plus the first
//! command), and 1 GiB of stdout through each path, by a run and by a stream (MB/s, client CPU
//! per GB, client peak RSS, each case in a child process of its own, medians of
//! `BENCH_GIB_ROUNDS` interleaved rounds, default 3).
#![expect(
    clippy::cast_precision_loss,
    reason = "benchmark figures: rates of counts far below 2^52"
)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use pocketdock_blocking::{
    AgentMode, AgentStatus, ContainerSpec, Engine, LimitPolicy, Pool, RunOptions,
};

#[path = "support/measure.rs"]
mod measure;

use measure::{cpu, peak_rss_kib, summary};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn start_agent(c: &pocketdock_blocking::Container) -> BenchResult<()> {
    match c.start_agent()? {
        AgentStatus::Up { .. } => Ok(()),
        other => Err(format!("the agent is not up: {other:?}").into()),
    }
}

/// `n` runs of `echo hi`, each checked to have taken the path asked for (only the agent
/// reports usage): their wall times and the client CPU per run.
fn echo_runs(
    c: &pocketdock_blocking::Container,
    n: usize,
    agent: bool,
) -> BenchResult<(Vec<Duration>, f64)> {
    let mut walls = Vec::with_capacity(n);
    let c0 = cpu();
    for _ in 0..n {
        let t = Instant::now();
        let r = c.run("echo hi")?;
        walls.push(t.elapsed());
        if r.stdout != b"hi\n" || r.usage.is_some() != agent {
            return Err(format!("unexpected output {r:?}").into());
        }
    }
    let per = cpu().saturating_sub(c0).as_secs_f64() * 1000.0 / n as f64;
    Ok((walls, per))
}

/// What a session costs on one path: opening it, `n` `send_and_wait("echo hi")`, and a command
/// whose 200 ms timeout passes (`sleep 5`: the wait until it is interrupted and back), each
/// checked to have taken the path asked for.
struct SessionFigures {
    open: Duration,
    echoes: Vec<Duration>,
    interrupted: Duration,
}

fn session_case(
    sandbox: &pocketdock_blocking::Container,
    rounds: usize,
    agent: bool,
) -> BenchResult<SessionFigures> {
    let opened = Instant::now();
    let session = sandbox.session()?;
    let open = opened.elapsed();
    if session.id().starts_with("agent:") != agent {
        return Err(format!("the session {} took the wrong path", session.id()).into());
    }
    let mut echoes = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let sent = Instant::now();
        let result = session.send_and_wait("echo hi", None)?;
        echoes.push(sent.elapsed());
        if result.stdout != b"hi\n" {
            return Err(format!("unexpected output {result:?}").into());
        }
    }
    let sent = Instant::now();
    let result = session.send_and_wait("sleep 5", Some(Duration::from_millis(200)))?;
    let interrupted = sent.elapsed();
    if !result.timed_out {
        return Err(format!("the sleep was not interrupted: {result:?}").into());
    }
    session.close()?;
    Ok(SessionFigures {
        open,
        echoes,
        interrupted,
    })
}

/// One 1 GiB case, in this child process: through the agent or not, captured by a run
/// (`how` = `run`: counted against a 1-byte cap, nothing kept) or streamed (`stream`: every
/// chunk handed out and dropped). Prints `MB/s CPU-s/GB peak-RSS-KiB` for the parent.
fn stream_case(container: &str, agent: bool, how: &str) -> BenchResult<()> {
    let c = Engine::detect()?.attach(container)?;
    if agent {
        start_agent(&c)?;
    } else {
        c.set_agent_mode(AgentMode::Off)?;
    }
    let bytes: u64 = 1 << 30;
    let command = format!("head -c {bytes} /dev/zero");
    let opts = RunOptions::new().no_timeout().keep_output(false);
    let (t, c0) = (Instant::now(), cpu());
    let (got, r) = if how == "stream" {
        // A cap above the output: every byte is handed out.
        let mut s = c.stream(command.as_str(), &opts.max_output(2 * bytes as usize))?;
        let mut got = 0u64;
        for chunk in s.by_ref() {
            got += chunk?.data.len() as u64;
        }
        (got, s.finish()?)
    } else {
        let r = c.run_with(
            command.as_str(),
            &opts.max_output(1).policy(LimitPolicy::KeepRunning),
        )?;
        (r.elided_bytes + 1, r)
    };
    let secs = t.elapsed().as_secs_f64();
    if got != bytes || r.exit_code != 0 || r.usage.is_some() != agent {
        return Err(format!("read {got} of {bytes} bytes: {r:?}").into());
    }
    println!(
        "{} {} {}",
        bytes as f64 / 1e6 / secs,
        cpu().saturating_sub(c0).as_secs_f64() / (bytes as f64 / 1e9),
        peak_rss_kib()
    );
    Ok(())
}

/// `rounds` interleaved 1 GiB cases per path, each in a child process; prints the medians
/// (and the highest peak RSS) per path.
fn gib_cases(me: &Path, container: &str, how: &str, rounds: usize) -> BenchResult<()> {
    let mut figures: [Vec<[f64; 3]>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        for (agent, got) in [false, true].into_iter().zip(figures.iter_mut()) {
            got.push(run_child(me, container, agent, how)?);
        }
    }
    let median = |v: &[[f64; 3]], k: usize| {
        let mut col: Vec<f64> = v.iter().map(|f| f[k]).collect();
        col.sort_by(f64::total_cmp);
        col.get(col.len() / 2).copied().unwrap_or(f64::NAN)
    };
    for (label, v) in ["engine", "agent "].into_iter().zip(&figures) {
        let peak = v.iter().map(|f| f[2]).fold(0.0, f64::max);
        println!(
            "  {label}: {:.0} MB/s, client cpu {:.2} s/GB, client peak RSS {peak:.0} KiB",
            median(v, 0),
            median(v, 1)
        );
    }
    println!(
        "  agent / engine: speed {:.2}x",
        median(&figures[1], 0) / median(&figures[0], 0)
    );
    Ok(())
}

fn run_child(me: &Path, container: &str, agent: bool, how: &str) -> BenchResult<[f64; 3]> {
    let out = Command::new(me)
        .args([
            "stream",
            container,
            if agent { "agent" } else { "engine" },
            how,
        ])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("stream case failed: {}", out.status).into());
    }
    let line = String::from_utf8(out.stdout)?;
    let f: Vec<f64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    match f[..] {
        [speed, cpu, rss] => Ok([speed, cpu, rss]),
        _ => Err(format!("stream case printed {line:?}").into()),
    }
}

/// `rounds` acquires from a warm pool of 2: each round waits until the pool is full again,
/// then times `acquire()` alone and `acquire()` plus the first command (which must go through
/// the agent); the release is not timed.
fn pool_rounds(
    engine: &Engine,
    image: &str,
    rounds: usize,
) -> BenchResult<(Vec<Duration>, Vec<Duration>)> {
    let pool = Pool::new(engine, ContainerSpec::new().image(image), 2)?;
    let (mut acquires, mut pooled) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        if !pool.wait_ready(Duration::from_secs(120)) {
            return Err("the pool did not refill within 120 s".into());
        }
        let t = Instant::now();
        let g = pool.acquire()?;
        acquires.push(t.elapsed());
        let r = g.run("true")?;
        pooled.push(t.elapsed());
        if r.usage.is_none() {
            return Err("a pooled sandbox's first command missed the agent".into());
        }
        g.release()?;
    }
    pool.close()?;
    Ok((acquires, pooled))
}

/// Sandbox ready to first command on each path and from a warm pool, and `acquire()` alone.
fn readiness(engine: &Engine, image: &str, n: usize) -> BenchResult<()> {
    // Ready to first command: create, (agent start, which copies it into the new sandbox,)
    // first command.
    let mut ready = Vec::new();
    for _ in 0..n.clamp(3, 10) {
        let t = Instant::now();
        let mut c = engine.create_container(ContainerSpec::new().image(image))?;
        start_agent(&c)?;
        c.run("true")?;
        ready.push(t.elapsed());
        c.shutdown(true)?;
    }
    let mut plain = Vec::new();
    for _ in 0..n.clamp(3, 10) {
        let t = Instant::now();
        let mut c =
            engine.create_container(ContainerSpec::new().image(image).agent(AgentMode::Off))?;
        c.run("true")?;
        plain.push(t.elapsed());
        c.shutdown(true)?;
    }
    let (acquires, pooled) = pool_rounds(engine, image, n.clamp(3, 20))?;
    println!(
        "sandbox ready to first command: engine path {} | agent {} | warm pool (acquire + first command) {}",
        summary(plain),
        summary(ready),
        summary(pooled)
    );
    println!("pool acquire() with the pool warm: {}", summary(acquires));
    Ok(())
}

fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 5 && args[1] == "stream" {
        return stream_case(&args[2], args[3] == "agent", &args[4]);
    }
    let engine = Engine::detect()?;
    let image = std::env::var("BENCH_IMAGE").unwrap_or_else(|_| "pocketdock/minimal-python".into());
    let n: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    println!(
        "engine: {:?} at {}",
        engine.kind()?,
        engine.socket().display()
    );

    readiness(&engine, &image, n)?;

    // The engine path first: the agent off (by default it would start in the background after
    // the first command and take the rest), then started on purpose.
    let mut c =
        engine.create_container(ContainerSpec::new().image(&image).agent(AgentMode::Off))?;
    let id = c.id().to_string();
    let (engine_walls, engine_cpu) = echo_runs(&c, n, false)?;
    let engine_session = session_case(&c, n, false)?;
    let t = Instant::now();
    start_agent(&c)?;
    let start = t.elapsed();
    let agent_session = session_case(&c, n, true)?;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "session open: engine path {:.1} ms | agent {:.1} ms; send_and_wait(\"echo hi\"): engine path {} | agent {}; a 200 ms timeout back after: engine path {:.0} ms | agent {:.0} ms",
        ms(engine_session.open),
        ms(agent_session.open),
        summary(engine_session.echoes),
        summary(agent_session.echoes),
        ms(engine_session.interrupted),
        ms(agent_session.interrupted)
    );
    let (agent_walls, agent_cpu) = echo_runs(&c, 1000, true)?;
    let total: Duration = agent_walls.iter().sum();
    let p50 = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v[v.len() / 2]
    };
    println!(
        "run(\"echo hi\"): engine path {} cpu {engine_cpu:.3} ms/call | agent {} cpu {agent_cpu:.3} ms/call | {:.0}x faster at p50",
        summary(engine_walls.clone()),
        summary(agent_walls.clone()),
        p50(&engine_walls).as_secs_f64() / p50(&agent_walls).as_secs_f64()
    );
    println!(
        "agent start on a running sandbox: {:.1} ms; 1000 sequential commands: {:.0} ms",
        start.as_secs_f64() * 1000.0,
        total.as_secs_f64() * 1000.0
    );
    let t = Instant::now();
    std::thread::scope(|s| -> BenchResult<()> {
        let handles: Vec<_> = (0..32)
            .map(|i| {
                let c = &c;
                s.spawn(move || c.run(&format!("echo {i}")))
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| "a thread panicked")??;
        }
        Ok(())
    })?;
    println!(
        "32 concurrent commands on one sandbox through the agent: {:.1} ms for all",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let me = std::env::current_exe()?;
    let rounds: usize = std::env::var("BENCH_GIB_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    println!("1 GiB of stdout by run (child process per case, {rounds} rounds, medians):");
    gib_cases(&me, &id, "run", rounds)?;
    println!("1 GiB of stdout by stream (child process per case, {rounds} rounds, medians):");
    gib_cases(&me, &id, "stream", rounds)?;
    c.shutdown(true)?;
    Ok(())
}
