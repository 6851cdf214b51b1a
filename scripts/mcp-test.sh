#!/usr/bin/env bash
# The MCP server's tests: the official MCP Python SDK client (`mcp` from PyPI) drives
# pocketdock-mcp over stdio and over streamable HTTP, on Podman and on Docker.
#
# From a fresh Debian machine, as root, no stdin needed:
#   - installs python3 and python3-venv if missing (apt-get), makes the venv .run/mcpenv with mcp 2.x,
#     pytest, pytest-timeout, ruff and mypy;
#   - builds pocketdock-mcp (dev profile: the tests measure behaviour, not speed);
#   - lints the test code (ruff, mypy --strict);
#   - runs the tests once per engine (both engines at once), both transports each, and prints
#     the counts per engine.
# Both engines are required: POCKETDOCK_TEST_PODMAN and POCKETDOCK_TEST_DOCKER name their
# sockets (scripts/engines.sh env prints them). A missing one fails the run. A skipped test
# counts as a failure. Exit status: non-zero when anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

started=$(date +%s)
status=0

for var in POCKETDOCK_TEST_PODMAN POCKETDOCK_TEST_DOCKER; do
  if [ -z "${!var:-}" ]; then
    echo "error: $var is not set (eval \"\$(scripts/engines.sh env)\")" >&2
    exit 1
  fi
done

venv="$PWD/.run/mcpenv"
tests="pocketdock-mcp/tests/python"
if [ ! -x "$venv/bin/python" ] || [ ! -x "$venv/bin/ruff" ] \
  || ! "$venv/bin/python" -c 'import mcp, pytest, pytest_timeout, mypy' 2>/dev/null; then
  echo "== venv $venv (mcp 2.x, pytest)"
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv </dev/null
  fi
  rm -rf "$venv"
  mkdir -p .run
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    'mcp>=2.3,<3' 'pytest>=8' 'pytest-timeout>=2' 'ruff>=0.6' 'mypy>=1.11' </dev/null
fi
echo "== mcp $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))')"

echo "== cargo build -p pocketdock-mcp"
cargo build -p pocketdock-mcp --quiet
export PDMCP_BIN="$PWD/target/debug/pocketdock-mcp"

echo "== ruff, mypy --strict ($tests, pocketdock-mcp/bench)"
"$venv/bin/ruff" check --quiet "$tests" || status=1
"$venv/bin/ruff" format --check --quiet "$tests" || status=1
(cd "$tests" && "$venv/bin/mypy" --strict --no-error-summary . ) || status=1
"$venv/bin/ruff" check --quiet --config "$tests/pyproject.toml" pocketdock-mcp/bench || status=1
"$venv/bin/ruff" format --check --quiet --config "$tests/pyproject.toml" pocketdock-mcp/bench || status=1
"$venv/bin/mypy" --strict --no-error-summary pocketdock-mcp/bench/roundtrip.py || status=1

report() {
  "$venv/bin/python" - "$1" "$2" <<'PY'
import sys
import xml.etree.ElementTree as ET
engine, path = sys.argv[1], sys.argv[2]
tests = failures = errors = skipped = 0
for suite in ET.parse(path).getroot().iter("testsuite"):
    tests += int(suite.get("tests", 0))
    failures += int(suite.get("failures", 0))
    errors += int(suite.get("errors", 0))
    skipped += int(suite.get("skipped", 0))
passed = tests - failures - errors - skipped
print(f"{engine}: {passed} passed, {failures + errors} failed, {skipped} skipped")
sys.exit(1 if failures or errors or skipped or passed == 0 else 0)
PY
}

# Both engines at once (the tests wait on containers far more than they compute; every
# server names its containers with a prefix of its own); each engine's output is shown whole.
out="$PWD/target"
mkdir -p "$out"
pids=()
for engine in podman docker; do
  if [ "$engine" = podman ]; then sock=$POCKETDOCK_TEST_PODMAN; else sock=$POCKETDOCK_TEST_DOCKER; fi
  (cd "$tests" && PDMCP_SOCKET="$sock" "$venv/bin/pytest" -q -p no:cacheprovider \
    --timeout 300 -rfEs --junitxml="$out/mcp-tests-$engine.xml" . \
    >"$out/mcp-tests-$engine.log" 2>&1) &
  pids+=("$!")
done
for pid in "${pids[@]}"; do wait "$pid" || true; done

summary=()
for engine in podman docker; do
  if [ "$engine" = podman ]; then sock=$POCKETDOCK_TEST_PODMAN; else sock=$POCKETDOCK_TEST_DOCKER; fi
  echo "== tests on $engine ($sock), stdio and streamable HTTP"
  cat "$out/mcp-tests-$engine.log"
  if line=$(report "$engine" "$out/mcp-tests-$engine.xml"); then :; else status=1; fi
  summary+=("$line")
done

echo "== summary"
for line in "${summary[@]}"; do echo "$line"; done
echo "wall time: $(( $(date +%s) - started )) s"
exit "$status"
