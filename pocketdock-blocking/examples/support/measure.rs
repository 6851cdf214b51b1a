//! What the benchmarks read about their own process, and how they summarise timings.
#![allow(
    dead_code,
    reason = "each benchmark example includes this file and uses a different part of it"
)]

use std::time::Duration;

/// The process's peak resident set size in KiB (`VmHWM` of `/proc/self/status`); 0 when it
/// cannot be read.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// This process's CPU time: the nanoseconds every thread of it spent on a CPU, from
/// `/proc/self/task/*/schedstat` (exact, unlike the 10 ms ticks of `/proc/self/stat`).
pub fn cpu() -> Duration {
    let mut ns = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            ns += stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(ns)
}

/// Median and the spread (10th to 90th percentile) of `v`, in ms.
#[expect(
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    reason = "a percentile's index in a list of timings far shorter than 2^52"
)]
pub fn summary(mut v: Vec<Duration>) -> String {
    v.sort();
    let at = |q: f64| {
        v.get(((v.len() - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "p50 {:.2} ms (p10 {:.2}, p90 {:.2})",
        ms(at(0.5)),
        ms(at(0.1)),
        ms(at(0.9))
    )
}
