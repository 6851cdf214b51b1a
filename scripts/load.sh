#!/usr/bin/env bash
# Load, on both engines: 20 sandboxes created, used (a command, a file written and read back, a
# session command) and removed at once, 10 rounds; then what is left is counted against what there
# was before: containers of the run on the engine, and the client's file descriptors, sockets and
# threads (tests/src/bin/load_rounds.rs). Exits non-zero on any failure or leak.
#   scripts/load.sh [SANDBOXES] [ROUNDS]      (starts the engines with scripts/engines.sh if needed)
# Not part of scripts/test.sh (a few minutes on a 2-core machine).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/engines.sh up >/dev/null
eval "$(scripts/engines.sh env)"
if [ -z "${POCKETDOCK_AGENT:-}" ]; then
  scripts/build-agent.sh >/dev/null
  export POCKETDOCK_AGENT="$PWD/target/agent/pocketdock-agent"
fi
cargo build --release -q -p pocketdock-tests --bin load_rounds
status=0
for e in podman docker; do
  var="POCKETDOCK_TEST_${e^^}"
  echo "== $e"
  target/release/load_rounds "${!var}" "${1:-20}" "${2:-10}" || status=1
done
exit "$status"
