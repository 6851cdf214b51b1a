#!/usr/bin/env bash
# The Python package's whole check, from a fresh Debian/Ubuntu machine (run as root, no stdin):
#
#   1. a venv in .run/pyenv with maturin, pytest, pytest-asyncio, ruff and mypy from PyPI;
#   2. the release build of the Rust CLI, copied into the wheel's data as its `pocketdock` command;
#   3. the abi3 wheel (maturin, release), installed with pip as a user would install it;
#   4. ruff and `mypy --strict` on the package, its tests and a typed user-code check;
#   5. for each engine (POCKETDOCK_TEST_PODMAN and POCKETDOCK_TEST_DOCKER, both required):
#      our pytest suite (pocketdock-py/tests), then the Python pocketdock 1.2.6's own integration
#      tests, downloaded from PyPI at run time and run unchanged against the installed wheel.
#
# Prints pass/fail counts per engine and suite; exits non-zero on any failure. The engines must be
# running (scripts/engines.sh up; `eval "$(scripts/engines.sh env)"` sets the two variables).
#
#   scripts/python.sh [all|build|test]
#
# `build` does steps 1-3 only (the release builds, which want the CPU to themselves), `test` steps
# 4-5 on what `build` installed (they mostly wait on the engines), `all` (the default) both.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

phase=${1:-all}
case $phase in all | build | test) ;; *) echo "usage: scripts/python.sh [all|build|test]" >&2; exit 2 ;; esac
started=$(date +%s)
log() { printf '[python %ss] %s\n' "$(($(date +%s) - started))" "$*" >&2; }
die() { printf '[python] error: %s\n' "$*" >&2; exit 1; }

: "${POCKETDOCK_TEST_PODMAN:?set POCKETDOCK_TEST_PODMAN (eval \"\$(scripts/engines.sh env)\")}"
: "${POCKETDOCK_TEST_DOCKER:?set POCKETDOCK_TEST_DOCKER (eval \"\$(scripts/engines.sh env)\")}"

run_dir="$repo/.run"
venv="$run_dir/pyenv"
py="$venv/bin/python"
mkdir -p "$run_dir"

if [ "$phase" != test ]; then
  # --- 1. the venv -------------------------------------------------------------------------------
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    log "installing python3-venv (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
  fi
  if [ ! -x "$py" ]; then
    log "creating $venv"
    python3 -m venv "$venv"
  fi
  tools=(maturin==1.16.0 pytest pytest-asyncio ruff mypy)
  if ! "$py" -c 'import maturin, pytest, pytest_asyncio, mypy' >/dev/null 2>&1 || [ ! -x "$venv/bin/ruff" ]; then
    log "installing ${tools[*]}"
    "$py" -m pip install -q "${tools[@]}"
  fi

  # --- 2. the CLI, as the wheel's console command -------------------------------------------------
  log "building the CLI (release)"
  cargo build --release -p pocketdock-cli --quiet
  mkdir -p pocketdock-py/wheel-data/scripts
  # Stripped: the release profile keeps line tables (debug = 1), which users do not need.
  if command -v strip >/dev/null; then
    strip -o pocketdock-py/wheel-data/scripts/pocketdock target/release/pocketdock
    chmod 0755 pocketdock-py/wheel-data/scripts/pocketdock
  else
    install -m 0755 target/release/pocketdock pocketdock-py/wheel-data/scripts/pocketdock
  fi

  # The in-sandbox agent (static, built by scripts/build-agent.sh) goes beside the CLI: the CLI
  # finds it beside itself, and the package points the core at it when it is imported.
  agent="$repo/target/agent/pocketdock-agent"
  if [ ! -x "$agent" ]; then
    log "building the in-sandbox agent"
    scripts/build-agent.sh >/dev/null
  fi
  install -m 0755 "$agent" pocketdock-py/wheel-data/scripts/pocketdock-agent

  # --- 3. the wheel, installed the way a user installs it -----------------------------------------
  log "building the wheel (maturin, release)"
  wheels="$run_dir/wheels"
  rm -rf "$wheels"
  (cd pocketdock-py && "$venv/bin/maturin" build --release --quiet --out "$wheels" --interpreter "$py")
  wheel=$(ls "$wheels"/pocketdock_rs-*.whl)
  log "installing $(basename "$wheel")"
  "$py" -m pip install -q --force-reinstall --no-deps "$wheel"
fi
if [ "$phase" = build ]; then
  log "built and installed in $(($(date +%s) - started)) s"
  exit 0
fi
"$py" -c 'import pocketdock._native' 2>/dev/null || die "no wheel installed in $venv: run scripts/python.sh build first"

# --- 4. lint and types --------------------------------------------------------------------------
log "ruff"
(cd pocketdock-py && "$venv/bin/ruff" check python tests bench && "$venv/bin/ruff" format --check python tests bench)
log "mypy --strict"
(cd pocketdock-py && "$venv/bin/mypy" --strict python/pocketdock tests bench)

# --- 5. the tests, per engine -------------------------------------------------------------------
ref_version=1.2.6
ref_files=(test_container_sync.py test_container_async.py test_file_ops_sync.py
  test_file_ops_async.py test_info_integration.py test_persistence_integration.py
  test_session_integration.py test_streaming_integration.py test_concurrent.py)
ref_root="$run_dir/pyref-sdist/pocketdock-$ref_version"
if [ ! -f "$ref_root/tests/conftest.py" ]; then
  log "downloading the Python pocketdock $ref_version source distribution (its tests)"
  rm -rf "$run_dir/pyref-sdist"
  mkdir -p "$run_dir/pyref-sdist"
  "$py" -m pip download -q --no-deps --no-binary :all: "pocketdock==$ref_version" -d "$run_dir/pyref-sdist"
  tar -xzf "$run_dir/pyref-sdist/pocketdock-$ref_version.tar.gz" -C "$run_dir/pyref-sdist"
fi
for f in "${ref_files[@]}" conftest.py __init__.py; do
  [ -f "$ref_root/tests/$f" ] || die "the reference's tests/$f is missing from its sdist"
done

# pytest inserts the sdist root (the first directory above tests/ without __init__.py) into
# sys.path: `import pocketdock` there must still be this package from site-packages, not the
# reference's source (which lives in python/pocketdock, never on the path).
"$py" - "$ref_root" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import pocketdock, pocketdock._native  # noqa: E401
assert "site-packages" in pocketdock.__file__, pocketdock.__file__
print(f"[python] the reference's tests import {pocketdock.__file__}", file=sys.stderr)
EOF

# An empty pytest config of our own: the sdist's pyproject.toml asks for pytest-cov.
ref_ini="$run_dir/pyref-pytest.ini"
printf '[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n' >"$ref_ini"

counts() { # junit xml -> "P passed, F failed, E errors, S skipped"; fails unless all passed
  "$py" - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
t = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
passed = t["tests"] - t["failures"] - t["errors"] - t["skipped"]
print(f"{passed} passed, {t['failures']} failed, {t['errors']} errors, {t['skipped']} skipped")
# A skip is a failure here: the reference skips its tests when it finds no engine.
sys.exit(0 if t["tests"] > 0 and passed == t["tests"] else 1)
EOF
}

status=0
summary=()
for engine in podman docker; do
  var="POCKETDOCK_TEST_${engine^^}"
  socket=${!var#unix://}
  [ -S "$socket" ] || die "$var=$socket is not a socket"
  log "== $engine ($socket)"
  results="$run_dir/pytest-$engine"
  mkdir -p "$results"

  log "our suite on $engine"
  set +e
  (cd pocketdock-py/tests && POCKETDOCK_SOCKET="$socket" "$venv/bin/pytest" -p no:cacheprovider \
    -q -o junit_family=xunit1 --junitxml="$results/ours.xml" .)
  rc_ours=$?
  log "the reference's tests on $engine"
  (cd "$ref_root/tests" && POCKETDOCK_SOCKET="$socket" "$venv/bin/pytest" -p no:cacheprovider \
    -c "$ref_ini" --rootdir "$ref_root" -q -o junit_family=xunit1 \
    --junitxml="$results/reference.xml" "${ref_files[@]}")
  rc_ref=$?
  set -e
  # The reference's snapshot test never removes the image it makes.
  case $engine in
  podman) podman --url "unix://$socket" rmi -f pocketdock-test/snapshot-test:v1 >/dev/null 2>&1 || true ;;
  docker) docker -H "unix://$socket" rmi -f pocketdock-test/snapshot-test:v1 >/dev/null 2>&1 || true ;;
  esac
  for suite in ours reference; do
    if [ -f "$results/$suite.xml" ]; then
      if line="$engine $suite: $(counts "$results/$suite.xml")"; then :; else status=1; fi
    else
      line="$engine $suite: no results"
      status=1
    fi
    summary+=("$line")
  done
  [ "$rc_ours" = 0 ] || status=1
  [ "$rc_ref" = 0 ] || status=1
done

echo "== Python package results"
printf '%s\n' "${summary[@]}"
echo "scripts/python.sh took $(($(date +%s) - started)) s"
exit "$status"
