#!/usr/bin/env bash
# `pocketdock run CONTAINER echo hi` wall time, one CLI process per call: the engine path
# (POCKETDOCK_AGENT=off) beside the path through the per-container agent relay, both engines,
# in one run. Prints p50 (p10, p90) per path; BENCH_ROUNDS calls each (default 30).
#   scripts/bench-cli-agent.sh      (the engines must be up: scripts/engines.sh up)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
eval "$(scripts/engines.sh env)"
cargo build --release -q -p pocketdock-cli
if [ -z "${POCKETDOCK_AGENT:-}" ]; then
  scripts/build-agent.sh >/dev/null
  export POCKETDOCK_AGENT="$PWD/target/agent/pocketdock-agent"
fi
pd="$PWD/target/release/pocketdock"
for e in podman docker; do
  var="POCKETDOCK_TEST_${e^^}"
  echo "== $e"
  POCKETDOCK_SOCKET="${!var}" python3 - "$pd" "${BENCH_ROUNDS:-30}" <<'PY'
import json, os, statistics, subprocess, sys, time
pd, rounds = sys.argv[1], int(sys.argv[2])
name = f"pd-bench-cli-agent-{os.getpid()}"
def run(*args, env=None):
    return subprocess.run([pd, *args], capture_output=True, env=env)
def timed(env):
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        r = run("run", name, "echo hi", env=env)
        out.append((time.perf_counter() - t0) * 1e3)
        assert r.stdout == b"hi\n", r
    return out
def show(label, xs):
    q = statistics.quantiles(xs, n=10)
    print(f"{label:<28} p50 {statistics.median(xs):7.1f} ms  (p10 {q[0]:.1f}, p90 {q[-1]:.1f})")
    return statistics.median(xs)
assert run("create", "--name", name, "--image", "pocketdock/minimal-python").returncode == 0
try:
    off = dict(os.environ, POCKETDOCK_AGENT="off")
    engine = show("engine path", timed(off))
    run("run", name, "true")  # starts the relay
    for _ in range(300):
        r = json.loads(run("run", "--json", name, "true").stdout)
        if r["path"]["path"] == "agent":
            break
        time.sleep(0.1)
    else:
        sys.exit("the relay did not come up")
    relay = show("through the agent relay", timed(None))
    print(f"{'speed-up':<28} {engine / relay:.1f}x")
    t0 = time.perf_counter()
    run("--version")
    print(f"{'pocketdock --version':<28} {(time.perf_counter() - t0) * 1e3:7.1f} ms (process start-up floor)")
finally:
    run("shutdown", "-y", name)
PY
done
