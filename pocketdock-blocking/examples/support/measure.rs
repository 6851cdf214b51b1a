//! What the benchmarks read about their own process.

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
