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

# Each stage's header says how long the run has taken so far.
t0=$SECONDS
stage() { printf '== %s  [%dm%02ds]\n' "$*" $(((SECONDS - t0) / 60)) $(((SECONDS - t0) % 60)); }

started=0
if ! scripts/engines.sh env >/dev/null 2>&1; then
  started=1
fi
scripts/engines.sh up
eval "$(scripts/engines.sh env)"
stage "remote engines: a second Docker (tcp + mutual TLS) and Podman (ssh) in a network namespace"
scripts/remote-engines.sh up
eval "$(scripts/remote-engines.sh env)"

# Work that runs in the background beside a stage in the foreground, each in a session of its own
# so that the cleanup can stop all of it on an early exit.
lanes=()
beside() { # beside LOG COMMAND...: start COMMAND in the background, its output to LOG; sets $lane
  local log=$1
  shift
  setsid "$@" >"$log" 2>&1 &
  lane=$!
  lanes+=("$lane")
}
cleanup() {
  for pid in "${lanes[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -- -"$pid" 2>/dev/null || true; fi
  done
  scripts/fault-engines.sh down || true
  scripts/engines.sh clean || true
  scripts/remote-engines.sh down || true
  if [ "$started" = 1 ]; then scripts/engines.sh down || true; fi
}
trap cleanup EXIT
# Private engines the fault tests stop and start (never the shared ones above).
scripts/fault-engines.sh up >/dev/null
eval "$(scripts/fault-engines.sh env)"

stage "engines: podman=$POCKETDOCK_TEST_PODMAN docker=$POCKETDOCK_TEST_DOCKER"
# What the engines hold before any test, so that what the run leaves can be counted at the end;
# the figures the tests note go to one report (scripts/reliability-report.sh reads both).
mkdir -p target
scripts/leftovers.sh before target/leftovers
export POCKETDOCK_TEST_REPORT="$PWD/target/test-report.txt"
: >"$POCKETDOCK_TEST_REPORT"

stage "the Python reference (pip install pocketdock) for the interoperability tests"
pyref="$PWD/.run/pyref"
if [ ! -x "$pyref/bin/python" ] || ! "$pyref/bin/python" -c 'import pocketdock' 2>/dev/null; then
  python3 -m venv "$pyref"
  "$pyref/bin/pip" install -q --disable-pip-version-check 'pocketdock==1.2.6'
fi
export POCKETDOCK_TEST_PYTHON="$pyref/bin/python"

stage "the in-sandbox agent (static build, for the agent-path tests)"
scripts/build-agent.sh
export POCKETDOCK_AGENT="$PWD/target/agent/pocketdock-agent"

stage "cargo fmt --check"
cargo fmt --all -- --check

stage "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

stage "dependency checks (no tokio in the blocking, async core, smol or CLI trees)"
for crate in pocketdock-blocking pocketdock-async pocketdock-smol pocketdock-cli pocketdock-proto pocketdock-host pocketdock-agent; do
  if cargo tree -p "$crate" -e normal -i tokio >/dev/null 2>&1; then
    echo "error: $crate depends on tokio" >&2
    exit 1
  fi
done

stage "cargo doc (every link in the API docs resolves)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --exclude pocketdock-tests --quiet

stage "cargo package (every published crate builds alone from its package)"
# Verification builds each crate against the others' fresh .crate files through a temporary
# local registry. Cargo takes registry crates as immutable by name and version, so it would
# reuse what it extracted (under ~/.cargo) and built (in the target dir) from an earlier run's
# copy of a changed crate: drop our own extracted copies and verify in a target dir of its own,
# made afresh each time.
rm -rf target/package target/package-verify "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/pocketdock-* \
  "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/-*/pocketdock-*
CARGO_TARGET_DIR=target/package-verify cargo package --workspace --exclude pocketdock-tests --exclude pocketdock-py --allow-dirty --quiet
rm -rf target/package-verify

stage "cargo test (unit, corpus replay, integration on podman and docker)"
cargo test --workspace --no-run --quiet
# Two lanes at once: most tests wait on an engine, not on the CPU. The conformance suite and the
# suites that wait longest on the least CPU (the fake engine's deadlines and slow-loris bytes; the
# remote engines over TLS and ssh) run beside all the rest, which takes about as long; each lane
# has a log of its own, joined afterwards in target/test-output.log. Every invocation selects the
# whole workspace, so that each builds the same features and none rebuilds what another built.
stage "cargo test: built; two lanes"
beside_tests=(faults_fake_engine remote conformance)
rest_tests=()
while read -r name; do
  [[ " ${beside_tests[*]} " == *" $name "* ]] || rest_tests+=(--test "$name")
done < <(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    for t in p["targets"]:
        if "test" in t["kind"]:
            print(t["name"])')
beside target/test-output-beside.log cargo test --workspace --no-fail-fast "${beside_tests[@]/#/--test=}"
tests_beside=$lane
# Short fuzzing (60 s per target, one core; `scripts/fuzz.sh long` is 30 min each) runs beside the
# two lanes too: it builds in fuzz/target of its own and ends well before them.
stage "short fuzzing in the background: every fuzz target for 60 s (log: target/fuzz-short.log)"
beside target/fuzz-short.log scripts/fuzz.sh short
fuzz=$lane
set +e
: >target/test-output.log
status=0
for targets in "--lib --bins ${rest_tests[*]}" --doc; do
  # shellcheck disable=SC2086 # one word per flag
  cargo test --workspace --no-fail-fast $targets 2>&1 | tee -a target/test-output.log
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
done
stage "cargo test: the lane beside ($(IFS=' '; echo "${beside_tests[*]}"))"
wait "$tests_beside" || status=1
tee -a target/test-output.log <target/test-output-beside.log
set -e

stage "integration tests per adapter and engine"
for a in blocking tokio smol async_std; do
  for e in podman docker; do
    n=$(grep -cE "^test ${a}::${e}::.* ok$" target/test-output.log || true)
    [ "$n" = 0 ] || echo "conformance $a/$e: $n passed"
    n=$(grep -cE "^test agent_path::${a}::${e}::.* ok$" target/test-output.log || true)
    [ "$n" = 0 ] || echo "conformance through the agent $a/$e: $n passed"
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

for e in docker_tls podman_ssh docker_ssh; do
  passed=$(grep -cE "^test (.*::)?${e}::.* ok$" target/test-output.log || true)
  failed=$(grep -cE "^test (.*::)?${e}::.* FAILED$" target/test-output.log || true)
  echo "remote $e: $passed passed, $failed failed"
  if [ "$passed" = 0 ]; then
    echo "error: no integration test ran on the remote engine $e" >&2
    status=1
  fi
done

# The Python package's release builds want both cores; then the MCP checks run in the background
# while the Python package's tests take their turn: both mostly wait on the engines.
stage "the Python package: release builds of the CLI and the wheel, installed with pip"
python_built=0
if scripts/python.sh build; then
  python_built=1
else
  echo "error: the Python package did not build" >&2
  status=1
fi

stage "the MCP server through the official MCP Python SDK, stdio and HTTP, both engines, in the background (log: target/mcp-stage.log)"
beside target/mcp-stage.log scripts/mcp-test.sh
mcp=$lane

stage "the Python package: lint, types, its tests and the reference's own, both engines"
if [ "$python_built" = 1 ] && ! scripts/python.sh test; then
  echo "error: the Python package's checks failed" >&2
  status=1
fi

stage "the MCP server's checks (started above)"
mcp_rc=0
wait "$mcp" || mcp_rc=$?
cat target/mcp-stage.log
if [ "$mcp_rc" != 0 ]; then
  echo "error: the MCP server's checks failed" >&2
  status=1
fi

stage "short fuzzing (started above)"
fuzz_rc=0
wait "$fuzz" || fuzz_rc=$?
if [ "$fuzz_rc" != 0 ]; then
  echo "error: a fuzz target crashed, or the fuzzing did not run (target/fuzz-short.log)" >&2
  status=1
fi

stage "what the run left behind (containers and images new on the engines, this checkout's processes)"
if ! scripts/leftovers.sh after target/leftovers >>"$POCKETDOCK_TEST_REPORT"; then
  echo "error: the run left containers, images or processes behind (listed above)" >&2
  status=1
fi
scripts/reliability-report.sh target/test-output.log "$POCKETDOCK_TEST_REPORT" target/fuzz-short.log
exit "$status"
