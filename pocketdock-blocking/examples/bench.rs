//! Benchmarks (not tests): client memory under heavy output, stop latency, run latency.
//!
//! `cargo run --release -p pocketdock-blocking --example bench` (`POCKETDOCK_SOCKET` selects the
//! engine; `scripts/bench.sh` runs it on both). Prints one line per figure.

use std::time::{Duration, Instant};

use pocketdock_blocking::{ContainerSpec, Engine, LimitPolicy, RunOptions};

#[path = "support/measure.rs"]
mod measure;

use measure::peak_rss_kib;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn main() -> pocketdock_blocking::Result<()> {
    let engine = Engine::detect()?;
    let image = std::env::var("BENCH_IMAGE").unwrap_or_else(|_| "pocketdock/minimal-python".into());
    let kind = engine.kind()?;
    println!("engine: {kind:?} at {}", engine.socket().display());

    let c = engine.create_container(ContainerSpec::new().image(&image))?;
    let base = peak_rss_kib();

    // 1 GiB through the default 10 MiB cap, head-and-tail policy: every byte crosses the client.
    let t0 = Instant::now();
    let r = c.run_with(
        "head -c 1073741824 /dev/zero",
        &RunOptions::new()
            .no_timeout()
            .policy(LimitPolicy::HeadAndTail),
    )?;
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "1 GiB through the 10 MiB cap (head+tail): kept {} B, elided {} B, {:.2} s, {:.0} MiB/s, peak RSS {} KiB (baseline {} KiB)",
        r.stdout.len(),
        r.elided_bytes,
        secs,
        1024.0 / secs,
        peak_rss_kib(),
        base
    );

    // The same gigabyte in streaming mode, chunks discarded as they arrive.
    let t0 = Instant::now();
    let mut s = c.stream(
        "head -c 1073741824 /dev/zero",
        &RunOptions::new()
            .no_timeout()
            .max_output(1)
            .policy(LimitPolicy::KeepRunning),
    )?;
    let mut n = 0u64;
    for chunk in s.by_ref() {
        n += chunk?.data.len() as u64;
    }
    println!(
        "1 GiB streamed: {n} B in {:.2} s, peak RSS {} KiB",
        t0.elapsed().as_secs_f64(),
        peak_rss_kib()
    );

    // Default policy: stops at the cap.
    let t0 = Instant::now();
    let r = c.run("head -c 1073741824 /dev/zero")?;
    println!(
        "1 GiB with the default cap (stop): kept {} B, truncated {}, {:.2} s, peak RSS {} KiB",
        r.stdout.len(),
        r.truncated,
        t0.elapsed().as_secs_f64(),
        peak_rss_kib()
    );

    let mut runs = Vec::new();
    for _ in 0..20 {
        let t0 = Instant::now();
        c.run("true")?;
        runs.push(t0.elapsed());
    }
    println!("run(\"true\") median of 20: {:?}", median(runs));
    drop(c);

    let mut stops = Vec::new();
    let mut creates = Vec::new();
    for _ in 0..5 {
        let t0 = Instant::now();
        let mut c = engine.create_container(ContainerSpec::new().image(&image).persist(true))?;
        creates.push(t0.elapsed());
        let t0 = Instant::now();
        c.shutdown(false)?;
        stops.push(t0.elapsed());
        engine.remove_container(c.id(), true)?;
    }
    println!("create+start median of 5: {:?}", median(creates));
    println!(
        "graceful stop of a fresh container, median of 5: {:?}",
        median(stops)
    );
    Ok(())
}
