#!/usr/bin/env bash
# MCP server benchmark: the tool-call round trip of `run_command echo hi` through stdio (the
# official MCP Python SDK client, 100 calls after 10 warm-up ones) beside the engine's own time
# for the same exec (the result's duration_ms), and the CLI's `pocketdock run NAME echo hi`
# (hyperfine, 50 runs) on both engines. Release builds.
#   eval "$(scripts/engines.sh env)"; scripts/bench-mcp.sh
# Needs the venv of scripts/mcp-test.sh (.run/mcpenv) and hyperfine (installed with apt if
# missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
for var in POCKETDOCK_TEST_PODMAN POCKETDOCK_TEST_DOCKER; do
  [ -n "${!var:-}" ] || { echo "error: $var is not set" >&2; exit 1; }
done
[ -x .run/mcpenv/bin/python ] || { echo "error: run scripts/mcp-test.sh first (it makes .run/mcpenv)" >&2; exit 1; }
command -v hyperfine >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine </dev/null >/dev/null
cargo build --release -q -p pocketdock-mcp -p pocketdock-cli
mcp="$PWD/target/release/pocketdock-mcp"
pd="$PWD/target/release/pocketdock"
for e in podman docker; do
  var="POCKETDOCK_TEST_${e^^}"
  sock="${!var}"
  echo "== $e"
  .run/mcpenv/bin/python pocketdock-mcp/bench/roundtrip.py "$mcp" "$sock" 100
  name="pdmcp-bench-cli-$$"
  POCKETDOCK_SOCKET="$sock" "$pd" create --name "$name" >/dev/null
  trap 'POCKETDOCK_SOCKET="$sock" "$pd" shutdown "$name" -y >/dev/null 2>&1 || true' EXIT
  POCKETDOCK_SOCKET="$sock" hyperfine -N --warmup 5 --runs 50 --export-json "target/bench-mcp-cli-$e.json" \
    "$pd run $name echo hi" >/dev/null
  python3 - "target/bench-mcp-cli-$e.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"cli run wall     median {r['median']*1000:.2f} ms  (pocketdock run NAME echo hi)")
PY
  POCKETDOCK_SOCKET="$sock" "$pd" shutdown "$name" -y >/dev/null
  trap - EXIT
done
