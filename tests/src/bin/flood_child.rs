//! One output flood in one mode, run in a process of its own so that its peak memory is its own:
//! `flood_child MODE SOCKET CONTAINER BYTES`. It warms the mode up with a small command, reads its
//! peak resident set (`VmHWM`), floods (BYTES of stdout and BYTES of stderr, binary, no newline,
//! interleaved), and prints `before=<bytes> after=<bytes> seen=<bytes>` on one line.
//!
//! Modes: `run-capped` (cap reached: the command is stopped), `run-head-tail` (head and tail
//! kept, the rest counted), `stream` (every chunk handed out and dropped, head and tail kept), `detached` (the ring
//! buffer), `session` (a session command).

use std::time::Duration;

use pocketdock_blocking::{Container, Engine, LimitPolicy, RunOptions};

/// The output cap every mode uses (the ring and session buffers have it as their default).
const CAP: usize = 1024 * 1024;

fn flood(bytes: u64) -> String {
    format!(
        "head -c {bytes} /dev/zero & tr '\\000' '\\377' < /dev/zero | head -c {bytes} >&2; wait"
    )
}

fn hwm() -> u64 {
    pocketdock_tests::faults::vm_hwm(std::process::id()).unwrap_or(0)
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("flood_child: {what}: {e}");
    std::process::exit(1)
}

/// Run `command` in `mode`; the output bytes the mode saw (kept, elided or handed out).
fn once(c: &Container, mode: &str, command: &str) -> u64 {
    let opts = RunOptions::new().no_timeout().max_output(CAP);
    match mode {
        "run-capped" => {
            let r = c.run_with(command, &opts).unwrap_or_else(|e| fail(mode, e));
            (r.stdout.len() + r.stderr.len()) as u64 + r.elided_bytes
        }
        "run-head-tail" => {
            let r = c
                .run_with(command, &opts.policy(LimitPolicy::HeadAndTail))
                .unwrap_or_else(|e| fail(mode, e));
            (r.stdout.len() + r.stderr.len()) as u64 + r.elided_bytes
        }
        "stream" => {
            let mut seen = 0;
            // Head and tail: every chunk is handed out, the result keeps the cap.
            let opts = opts.policy(LimitPolicy::HeadAndTail);
            for chunk in c.stream(command, &opts).unwrap_or_else(|e| fail(mode, e)) {
                seen += chunk.unwrap_or_else(|e| fail(mode, e)).data.len() as u64;
            }
            seen
        }
        "detached" => {
            let p = c.detach(command, &opts).unwrap_or_else(|e| fail(mode, e));
            let r = p.wait(None).unwrap_or_else(|e| fail(mode, e));
            if r.exit_code != 0 {
                fail(mode, format!("exit code {}", r.exit_code));
            }
            if command.len() > 200 && !p.buffer_overflow() {
                fail(mode, "a flood did not overflow the ring buffer");
            }
            let snap = p.read();
            (snap.stdout.len() + snap.stderr.len()) as u64
        }
        "session" => {
            let s = c.session().unwrap_or_else(|e| fail(mode, e));
            let r = s
                .send_and_wait(command, Some(Duration::from_secs(600)))
                .unwrap_or_else(|e| fail(mode, e));
            if r.exit_code != 0 {
                fail(mode, format!("exit code {}", r.exit_code));
            }
            let seen = (r.stdout.len() + r.stderr.len()) as u64 + s.dropped_output_bytes();
            let _ = s.close();
            seen
        }
        other => fail("mode", format!("unknown mode {other:?}")),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, socket, name, bytes] = args.as_slice() else {
        fail("usage", "flood_child MODE SOCKET CONTAINER BYTES");
    };
    let bytes: u64 = bytes.parse().unwrap_or_else(|e| fail("BYTES", e));
    let c = Engine::new(socket)
        .attach(name)
        .unwrap_or_else(|e| fail("attach", e));
    once(&c, mode, &flood(64 * 1024));
    let before = hwm();
    let seen = once(&c, mode, &flood(bytes));
    let after = hwm();
    println!("before={before} after={after} seen={seen}");
}
