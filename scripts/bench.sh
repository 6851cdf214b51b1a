#!/usr/bin/env bash
# Benchmarks on both engines: client peak RSS with 1 GiB of output, stop time, run latency.
#   scripts/bench.sh        (starts the engines with scripts/engines.sh if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/engines.sh up >/dev/null
eval "$(scripts/engines.sh env)"
cargo build --release -q -p pocketdock-blocking --example bench
for e in podman docker; do
  var="POCKETDOCK_TEST_${e^^}"
  echo "== $e"
  POCKETDOCK_SOCKET="${!var}" target/release/examples/bench
done
