#!/usr/bin/env bash
# Benchmark of image export and import on both engines: a ~200 MB image (random, so gzip cannot
# shrink it) is built from the local busybox image, exported to .tar and .tar.gz, removed,
# imported from each; every step reports its time and the client's peak RSS, both from the
# example itself (VmHWM) and from /usr/bin/time -v (maximum resident set size).
#
#   scripts/bench-images.sh            (MIB=200 by default; engines started if needed)
#   MIB=500 scripts/bench-images.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
MIB=${MIB:-200}
scripts/engines.sh up >/dev/null
eval "$(scripts/engines.sh env)"
cargo build --release -q -p pocketdock-blocking --example images_bench
BIN=target/release/examples/images_bench
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pocketdock-bench-images.XXXXXX")
TAG="pocketdock-bench/big-$$:latest"

# step ENGINE-SOCKET ARGS...: run the example under /usr/bin/time -v, print its line and the
# maximum resident set size /usr/bin/time saw.
step() {
  local sock=$1 out rss
  shift
  out=$(POCKETDOCK_SOCKET=$sock /usr/bin/time -v "$BIN" "$@" 2>"$WORK/time.txt") || {
    cat "$WORK/time.txt" >&2
    return 1
  }
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/time.txt")
  printf '  %s  [time -v: max RSS %s KiB]\n' "$out" "$rss"
}

cleanup() {
  for e in podman docker; do
    var="POCKETDOCK_TEST_${e^^}"
    POCKETDOCK_SOCKET="${!var}" "$BIN" remove "$TAG" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

for e in podman docker; do
  var="POCKETDOCK_TEST_${e^^}"
  sock="${!var}"
  echo "== $e ($MIB MiB of random data)"
  step "$sock" build "$TAG" "$MIB"
  step "$sock" export "$WORK/big.tar" tar "$TAG"
  step "$sock" export "$WORK/big.tar.gz" gzip "$TAG"
  step "$sock" remove "$TAG"
  step "$sock" import "$WORK/big.tar"
  step "$sock" remove "$TAG"
  step "$sock" import "$WORK/big.tar.gz"
  step "$sock" remove "$TAG"
  rm -f "$WORK"/big.tar*
done
