//! Profiling aid (not a test): creates a sandbox, streams `BYTES` (default 1 GiB) of zeros from
//! it as `floor` does, removes it. Run it under `perf record` to see where the client's CPU goes.
//!
//! `POCKETDOCK_SOCKET` selects the engine; `BENCH_IMAGE` the image.

use pocketdock_blocking::{ContainerSpec, Engine, LimitPolicy, RunOptions};

fn main() -> pocketdock_blocking::Result<()> {
    let bytes: u64 = std::env::var("BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    let image = std::env::var("BENCH_IMAGE").unwrap_or_else(|_| "pocketdock/minimal-python".into());
    let engine = Engine::detect()?;
    let mut c = engine.create_container(ContainerSpec::new().image(&image))?;
    let mut s = c.stream(
        format!("head -c {bytes} /dev/zero").as_str(),
        &RunOptions::new()
            .no_timeout()
            .policy(LimitPolicy::HeadAndTail),
    )?;
    let mut got = 0u64;
    for chunk in &mut s {
        got += chunk?.data.len() as u64;
    }
    drop(s);
    println!("{got} B");
    c.shutdown(true)?;
    Ok(())
}
