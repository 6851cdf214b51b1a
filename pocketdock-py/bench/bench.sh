#!/usr/bin/env bash
# Compare the client cost of this package with the Python pocketdock 1.2.6, in the same run, on
# one engine: CPU per run("echo") and the throughput of a 100 MiB stream; ours as installed
# (through the in-sandbox agent) and on the engine path.
#
#   pocketdock-py/bench/bench.sh [podman|docker]      (default: podman)
#
# Needs the wheel installed in .run/pyenv (scripts/python.sh does that) and the engines' sockets
# (eval "$(scripts/engines.sh env)"). The reference is installed from PyPI into .run/pyref.
# The stream's floor is the engine's own CLI running the same command (`docker exec`).
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
# Ours twice: as installed (commands through the in-sandbox agent once it is up, the default)
# and on the engine path (POCKETDOCK_AGENT=off), the reference's only path.
ours_json=$(env -u POCKETDOCK_AGENT "$OLDPWD/$ours" "$OLDPWD/pocketdock-py/bench/bench.py" --calls "$calls" --stream-mb "$mb")
engine_json=$(POCKETDOCK_AGENT=off "$OLDPWD/$ours" "$OLDPWD/pocketdock-py/bench/bench.py" --calls "$calls" --stream-mb "$mb")
ref_json=$("$OLDPWD/$ref" "$OLDPWD/pocketdock-py/bench/bench.py" --calls "$calls" --stream-mb "$mb")
# The floor for the stream: the engine's own CLI (`docker exec` / `podman exec`, written in Go)
# running the same command in the same image, its output read to /dev/null; best of three.
cd "$OLDPWD"
floor_c=$(scripts/engines.sh "$engine" run -d --label pocketdock.bench=floor pocketdock/minimal-python sleep 600)
trap 'scripts/engines.sh "$engine" rm -f "$floor_c" >/dev/null 2>&1 || true' EXIT
best=
for _ in 1 2 3; do
  t0=$(date +%s%N)
  scripts/engines.sh "$engine" exec "$floor_c" sh -c "head -c $((mb * 1024 * 1024)) /dev/zero | tr '\\0' x" >/dev/null
  t=$(( $(date +%s%N) - t0 ))
  if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
done
floor_mb_s=$(python3 -c "print(round($mb / ($best / 1e9), 1))")
python3 - "$engine" "$ours_json" "$engine_json" "$ref_json" "$floor_mb_s" <<'PY'
import json, sys
engine = sys.argv[1]
ours, eng, ref = (json.loads(a) for a in sys.argv[2:5])
floor = float(sys.argv[5])
print(f"engine: {engine}, {ours['calls']} x run('echo hello'), {ours['stream_mb']} MiB streamed")
print(f"{'':24}{'rs (default)':>14}{'ratio':>7}{'rs (engine path)':>18}{'ratio':>7}{'1.2.6':>10}")
for key, label in (
    ("cpu_ms_per_call", "client CPU ms / call"),
    ("wall_ms_per_call", "wall ms / call"),
    ("stream_mb_per_s", "stream MiB/s"),
    ("stream_cpu_s", "stream client CPU s"),
):
    a, e, b = ours[key], eng[key], ref[key]
    ra = (a / b) if b else float("nan")
    re = (e / b) if b else float("nan")
    print(f"{label:24}{a:>14}{ra:>7.2f}{e:>18}{re:>7.2f}{b:>10}")
print(
    f"stream floor: the engine's CLI ({engine} exec, same command) {floor} MiB/s; "
    f"of it: rs {ours['stream_mb_per_s'] / floor:.2f} (default), "
    f"{eng['stream_mb_per_s'] / floor:.2f} (engine path), 1.2.6 {ref['stream_mb_per_s'] / floor:.2f}"
)
PY
