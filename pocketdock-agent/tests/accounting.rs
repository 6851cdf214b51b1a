//! The figures of an `Exit` report checked against workloads of known size: CPU time from
//! `wait4`'s rusage, peak memory, and the OOM flag of a plain kill.

mod support;

use support::{argv, sh, Agent};

const PYTHON: &str = "/usr/bin/python3";

#[test]
fn a_busy_loop_reports_its_cpu_time() {
    let mut agent = Agent::start();
    // Computes until its own CPU time (interpreter start included) passes 300 ms; reading
    // that clock is a system call, so it is read only between rounds of work.
    let spin = "import time\nwhile time.process_time() < 0.3:\n    sum(range(20000))\n";
    let out = agent.run(1, &argv(&[PYTHON, "-c", spin]));
    let exit = out.exit();
    assert_eq!(exit.code, 0, "{}", out.stderr_str());
    let cpu = exit.user_usec + exit.sys_usec;
    assert!(
        (300_000..2_000_000).contains(&cpu),
        "user {} + sys {} µs for 300 ms of CPU",
        exit.user_usec,
        exit.sys_usec
    );
    assert!(
        exit.user_usec > exit.sys_usec,
        "a busy loop is user time: {exit:?}"
    );
    // An idle command uses next to nothing: the figures are its own, not the agent's total.
    let out = agent.run(2, &argv(&["sleep", "0.3"]));
    let idle = out.exit().user_usec + out.exit().sys_usec;
    assert!(idle < 100_000, "sleep used {idle} µs of CPU");
}

#[test]
fn an_allocation_reports_its_peak_memory_and_descendants_count() {
    let mut agent = Agent::start();
    let alloc = "b = b'x' * (64 << 20)\nprint(len(b))";
    let out = agent.run(1, &argv(&[PYTHON, "-c", alloc]));
    let exit = out.exit();
    assert_eq!(
        out.stdout_str(),
        format!("{}\n", 64 << 20),
        "{}",
        out.stderr_str()
    );
    assert!(
        (64 * 1024..1024 * 1024).contains(&exit.max_rss_kib),
        "64 MiB allocated, max RSS {} KiB",
        exit.max_rss_kib
    );
    // Through a shell that waits for it: the shell's report covers its child.
    let script = format!("{PYTHON} -c \"b = b'x' * (64 << 20)\"; true");
    let out = agent.run(2, &sh(&script));
    assert!(out.exit().max_rss_kib >= 64 * 1024, "{:?}", out.exit());
    // A small command after them reports its own small peak.
    let out = agent.run(3, &argv(&["true"]));
    let small = out.exit().max_rss_kib;
    assert!(small > 0 && small < 32 * 1024, "true peaked at {small} KiB");
}
