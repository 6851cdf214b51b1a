#!/usr/bin/env bash
# Compare the client cost of this package with the Python pocketdock 1.2.6, in the same run, on
# one engine: CPU per run("echo") and the throughput of a 100 MiB stream.
#
#   pocketdock-py/bench/bench.sh [podman|docker]      (default: podman)
#
# Needs the wheel installed in .run/pyenv (scripts/python.sh does that) and the engines' sockets
# (eval "$(scripts/engines.sh env)"). The reference is installed from PyPI into .run/pyref.
set -euo pipefail
cd "$(dirname "$0")/../.."
engine=${1:-podman}
var="POCKETDOCK_TEST_${engine^^}"
socket=${!var:?set $var (eval \"\$(scripts/engines.sh env)\")}
export POCKETDOCK_SOCKET=${socket#unix://}
ours=.run/pyenv/bin/python
ref=.run/pyref/bin/python
[ -x "$ours" ] || { echo "run scripts/python.sh first (it installs the wheel in .run/pyenv)" >&2; exit 1; }
if [ ! -x "$ref" ] || ! "$ref" -c 'import pocketdock' 2>/dev/null; then
  python3 -m venv .run/pyref
  "$ref" -m pip install -q --disable-pip-version-check 'pocketdock==1.2.6'
fi
calls=${BENCH_CALLS:-200}
mb=${BENCH_STREAM_MB:-100}
# Run from a neutral directory so that each interpreter imports its own installed package.
cd /tmp
ours_json=$("$OLDPWD/$ours" "$OLDPWD/pocketdock-py/bench/bench.py" --calls "$calls" --stream-mb "$mb")
ref_json=$("$OLDPWD/$ref" "$OLDPWD/pocketdock-py/bench/bench.py" --calls "$calls" --stream-mb "$mb")
python3 - "$engine" "$ours_json" "$ref_json" <<'PY'
import json, sys
engine, ours, ref = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"engine: {engine}, {ours['calls']} x run('echo hello'), {ours['stream_mb']} MiB streamed")
print(f"{'':24}{'pocketdock-rs':>16}{'pocketdock 1.2.6':>18}{'ratio':>8}")
for key, label, better in (
    ("cpu_ms_per_call", "client CPU ms / call", "lower"),
    ("wall_ms_per_call", "wall ms / call", "lower"),
    ("stream_mb_per_s", "stream MiB/s", "higher"),
    ("stream_cpu_s", "stream client CPU s", "lower"),
):
    a, b = ours[key], ref[key]
    ratio = (a / b) if b else float("nan")
    print(f"{label:24}{a:>16}{b:>18}{ratio:>8.2f}")
PY
