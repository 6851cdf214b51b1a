#!/usr/bin/env bash
# Commands through the in-sandbox agent beside the engine path, on both engines, in one run:
# run("echo hi") p50 and spread on each path, 1000 sequential commands, 32 concurrent ones,
# sandbox-ready-to-first-command, a session on each path, and 1 GiB of stdout through each path (MB/s, client CPU,
# client peak RSS; by a run and by a stream). See pocketdock-blocking/examples/agent.rs.
#   BENCH_GIB_ROUNDS=N            (rounds of each 1 GiB case, default 3)
#   scripts/bench-agent.sh        (starts the engines with scripts/engines.sh if needed)
#   BENCH_ROUNDS=N                (engine-path rounds, default 50)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/engines.sh up >/dev/null
eval "$(scripts/engines.sh env)"
scripts/build-agent.sh >/dev/null
export POCKETDOCK_AGENT="$PWD/target/agent/pocketdock-agent"
cargo build --release -q -p pocketdock-blocking --example agent
for e in podman docker; do
  var="POCKETDOCK_TEST_${e^^}"
  echo "== $e"
  POCKETDOCK_SOCKET="${!var}" target/release/examples/agent
done
