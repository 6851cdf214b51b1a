#!/usr/bin/env bash
# pocketdock beside a minimal hand-written client on both engines, in one run: exec wall time
# and client CPU, lifecycle, write and read of 1 MB and 64 MB, stdout streamed at 100 MB and
# 1 GiB (MB/s, CPU, client peak RSS), all on the engine path; then the 1 MB write again with
# the in-sandbox agent up (it answers the upload's path stat). See
# pocketdock-blocking/examples/floor.rs.
#   scripts/bench-floor.sh        (starts the engines with scripts/engines.sh if needed)
#   BENCH_ROUNDS=N                (rounds per figure, default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/engines.sh up >/dev/null
eval "$(scripts/engines.sh env)"
cargo build --release -q -p pocketdock-blocking --example floor
scripts/build-agent.sh >/dev/null
export POCKETDOCK_AGENT="$PWD/target/agent/pocketdock-agent"
for e in podman docker; do
  var="POCKETDOCK_TEST_${e^^}"
  echo "== $e"
  POCKETDOCK_SOCKET="${!var}" target/release/examples/floor
done
