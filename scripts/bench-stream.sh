#!/usr/bin/env bash
# Memory of `pocketdock run --stream` on both engines: the CLI streams 100 MiB and 1 GiB of
# stdout (with --max-output above the size, so every byte goes through) into `wc -c`, and
# /usr/bin/time -v reports its peak RSS (maximum resident set size), wall time and CPU. A
# stream keeps no copy of the output, so the peak RSS should not grow with the size.
#
#   scripts/bench-stream.sh                 (release build of the CLI; engines started if needed)
#   PD=/path/to/pocketdock scripts/bench-stream.sh     measure another build (e.g. an older one)
#   BENCH_SIZES="1073741824" scripts/bench-stream.sh   bytes per run, space-separated
#
# When POCKETDOCK_TEST_PODMAN and POCKETDOCK_TEST_DOCKER are set, those engines are used as they
# are; otherwise scripts/engines.sh starts the project's own.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
if [[ -z "${POCKETDOCK_TEST_PODMAN:-}" || -z "${POCKETDOCK_TEST_DOCKER:-}" ]]; then
  scripts/engines.sh up >/dev/null
  eval "$(scripts/engines.sh env)"
fi
if [[ -z "${PD:-}" ]]; then
  cargo build --release -q -p pocketdock-cli
  PD="$PWD/target/release/pocketdock"
fi
SIZES=${BENCH_SIZES:-"104857600 1073741824"}
NAME="pd-bench-stream-$$"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pocketdock-bench-stream.XXXXXX")

cleanup() {
  for e in podman docker; do
    var="POCKETDOCK_TEST_${e^^}"
    "$PD" --socket "${!var}" shutdown -y "$NAME" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

for e in podman docker; do
  var="POCKETDOCK_TEST_${e^^}"
  sock="${!var}"
  echo "== $e"
  "$PD" --socket "$sock" create --name "$NAME" --image pocketdock/minimal-python >/dev/null
  for size in $SIZES; do
    got=$(/usr/bin/time -v -o "$WORK/time.txt" "$PD" --socket "$sock" run --stream \
      --timeout 600 --max-output $((size + 1)) "$NAME" "head -c $size /dev/zero" | wc -c)
    awk -F': ' -v size="$size" -v got="$got" '
      /Maximum resident set size/ { rss = $2 }
      /User time/ { user = $2 }
      /System time/ { sys = $2 }
      /Elapsed \(wall clock\)/ { n = split($2, p, ":"); wall = p[n] + (n > 1 ? p[n-1] * 60 : 0) }
      END {
        printf "  run --stream %5d MiB: received %d B, %.2f s, %.0f MiB/s, CPU %.2f s (user %.2f + sys %.2f), peak RSS %.1f MiB\n",
          size / 1048576, got, wall, (wall > 0 ? size / 1048576 / wall : 0), user + sys, user, sys, rss / 1024
      }' "$WORK/time.txt"
    [[ "$got" == "$size" ]] || { echo "  received $got bytes, expected $size" >&2; exit 1; }
  done
  "$PD" --socket "$sock" shutdown -y "$NAME" >/dev/null
done
