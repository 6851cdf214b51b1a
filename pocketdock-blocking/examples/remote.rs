//! Benchmark (not a test): the same engine work over each transport, in one run.
//!
//! `cargo run --release -p pocketdock-blocking --example remote -- ADDRESS...` (each a socket
//! path or a `unix://`, `tcp://` or `ssh://` address; `scripts/bench-remote.sh` passes the
//! local engines and the remote ones of `scripts/remote-engines.sh`). Per address: a ping's
//! round trip (one connection each), `run("echo hi")` p50 and p90, and a 64 MB push.

use std::io::Write;
use std::time::{Duration, Instant};

use pocketdock_blocking::{ContainerSpec, Engine};

fn percentile(v: &mut [Duration], p: usize) -> Duration {
    v.sort();
    v.get((v.len() * p / 100).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> pocketdock_blocking::Result<()> {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let image = std::env::var("BENCH_IMAGE").unwrap_or_else(|_| "pocketdock/busybox".into());
    // 64 MB of incompressible-enough data, written once.
    let file = std::env::temp_dir().join(format!("pd-bench-remote-{}.bin", std::process::id()));
    {
        let mut f = std::fs::File::create(&file)?;
        let mut block = vec![0u8; 1 << 20];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..64 {
            for b in &mut block {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            f.write_all(&block)?;
        }
    }
    println!(
        "{:<70} {:>9} {:>9} {:>10} {:>10} {:>9}",
        "engine (transport)", "ping ms", "first ms", "echo p50", "echo p90", "push MB/s"
    );
    for address in std::env::args().skip(1) {
        let engine = Engine::new(&address);
        let t0 = Instant::now();
        engine.ping()?;
        let first = t0.elapsed();
        let mut pings: Vec<Duration> = (0..rounds)
            .map(|_| {
                let t = Instant::now();
                engine.ping().map(|_| t.elapsed())
            })
            .collect::<Result<_, _>>()?;
        let mut c = engine.create_container(ContainerSpec::new().image(&image))?;
        c.run("true")?;
        let mut echoes = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            let r = c.run("echo hi")?;
            echoes.push(t.elapsed());
            assert_eq!(r.stdout_str(), "hi\n");
        }
        let t = Instant::now();
        c.push(&file, "/tmp/blob")?;
        let push = t.elapsed();
        let size = c.run("wc -c < /tmp/blob")?;
        assert_eq!(size.stdout_str().trim(), "67108864");
        c.shutdown(true)?;
        println!(
            "{:<70} {:>9.2} {:>9.1} {:>10.2} {:>10.2} {:>9.0}",
            format!("{} ({})", engine.address(), engine.transport()),
            ms(percentile(&mut pings, 50)),
            ms(first),
            ms(percentile(&mut echoes, 50)),
            ms(percentile(&mut echoes, 90)),
            64.0 * 1.048_576 / push.as_secs_f64(),
        );
    }
    let _ = std::fs::remove_file(&file);
    Ok(())
}
