#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine (run as root): installs what is missing,
# starts Podman and Docker on sockets the project owns (scripts/engines.sh), then runs cargo fmt,
# clippy, the dependency checks, and every test: unit, fuzz-corpus replay, and the integration
# tests against BOTH engines. A missing engine fails the run. Engines this script started are
# stopped at the end; containers the tests made are removed.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export PATH="$HOME/.cargo/bin:$PATH"

started=0
if ! scripts/engines.sh env >/dev/null 2>&1; then
  started=1
fi
scripts/engines.sh up
eval "$(scripts/engines.sh env)"
cleanup() {
  scripts/fault-engines.sh down || true
  scripts/engines.sh clean || true
  if [ "$started" = 1 ]; then scripts/engines.sh down || true; fi
}
trap cleanup EXIT
# Private engines the fault tests stop and start (never the shared ones above).
scripts/fault-engines.sh up >/dev/null
eval "$(scripts/fault-engines.sh env)"

echo "== engines: podman=$POCKETDOCK_TEST_PODMAN docker=$POCKETDOCK_TEST_DOCKER"

echo "== the Python reference (pip install pocketdock) for the interoperability tests"
pyref="$PWD/.run/pyref"
if [ ! -x "$pyref/bin/python" ] || ! "$pyref/bin/python" -c 'import pocketdock' 2>/dev/null; then
  python3 -m venv "$pyref"
  "$pyref/bin/pip" install -q --disable-pip-version-check 'pocketdock==1.2.6'
fi
export POCKETDOCK_TEST_PYTHON="$pyref/bin/python"

echo "== the in-sandbox agent (static build, for the agent-path tests)"
scripts/build-agent.sh
export POCKETDOCK_AGENT="$PWD/target/agent/pocketdock-agent"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

echo "== dependency checks (no tokio in the blocking, async core, smol or CLI trees)"
for crate in pocketdock-blocking pocketdock-async pocketdock-smol pocketdock-cli pocketdock-proto pocketdock-host pocketdock-agent; do
  if cargo tree -p "$crate" -e normal -i tokio >/dev/null 2>&1; then
    echo "error: $crate depends on tokio" >&2
    exit 1
  fi
done

echo "== cargo doc (every link in the API docs resolves)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --exclude pocketdock-tests --quiet

echo "== cargo package (every published crate builds alone from its package)"
# Verification builds each crate against the others' fresh .crate files through a temporary
# local registry. Cargo takes registry crates as immutable by name and version, so it would
# reuse what it extracted (under ~/.cargo) and built (in the target dir) from an earlier run's
# copy of a changed crate: drop our own extracted copies and verify in a target dir of its own,
# made afresh each time.
rm -rf target/package target/package-verify "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/pocketdock-* \
  "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/-*/pocketdock-*
CARGO_TARGET_DIR=target/package-verify cargo package --workspace --exclude pocketdock-tests --exclude pocketdock-py --allow-dirty --quiet
rm -rf target/package-verify

echo "== cargo test (unit, corpus replay, integration on podman and docker)"
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.log
status=${PIPESTATUS[0]}
set -e

echo "== integration tests per adapter and engine"
for a in blocking tokio smol async_std; do
  for e in podman docker; do
    n=$(grep -cE "^test ${a}::${e}::.* ok$" target/test-output.log || true)
    [ "$n" = 0 ] || echo "conformance $a/$e: $n passed"
  done
done
for e in podman docker; do
  passed=$(grep -cE "^test (.*::)?${e}::.* ok$" target/test-output.log || true)
  failed=$(grep -cE "^test (.*::)?${e}::.* FAILED$" target/test-output.log || true)
  echo "$e: $passed passed, $failed failed"
  if [ "$passed" = 0 ]; then
    echo "error: no integration test ran on $e" >&2
    status=1
  fi
done

echo "== short fuzzing: every fuzz target for 60 s (scripts/fuzz.sh long: 30 min each)"
if ! scripts/fuzz.sh short; then
  echo "error: a fuzz target crashed" >&2
  status=1
fi

echo "== the MCP server through the official MCP Python SDK, stdio and HTTP, both engines"
if ! scripts/mcp-test.sh; then
  echo "error: the MCP server's checks failed" >&2
  status=1
fi

echo "== the Python package: wheel built and installed, its tests and the reference's own, both engines"
if ! scripts/python.sh; then
  echo "error: the Python package's checks failed" >&2
  status=1
fi
exit "$status"
