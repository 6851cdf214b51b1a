//! System-call counting aid (not a test): creates a sandbox, runs `true` `RUNS` times (default
//! 100), removes the sandbox. Run it under `strace -f -c -e trace=connect,setsockopt` once with
//! `RUNS=0` and once with `RUNS=100`: the difference is what the runs themselves cost.
//!
//! `POCKETDOCK_SOCKET` selects the engine; `BENCH_IMAGE` the image.

use pocketdock_blocking::{ContainerSpec, Engine};

fn main() -> pocketdock_blocking::Result<()> {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let image = std::env::var("BENCH_IMAGE").unwrap_or_else(|_| "pocketdock/minimal-python".into());
    let engine = Engine::detect()?;
    let mut c = engine.create_container(ContainerSpec::new().image(&image))?;
    for _ in 0..runs {
        c.run("true")?;
    }
    c.shutdown(true)?;
    Ok(())
}
