#!/usr/bin/env bash
# CLI benchmarks: start-up (`pocketdock --version` and `pocketdock list --json`, median, hyperfine),
# then the peak RSS, wall time and CPU of `run --stream` over 100 MiB and 1 GiB (scripts/bench-stream.sh).
#   scripts/bench-cli.sh      (installs hyperfine with apt if missing; starts the engines if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
command -v hyperfine >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
scripts/engines.sh up >/dev/null
eval "$(scripts/engines.sh env)"
cargo build --release -q -p pocketdock-cli
pd="$PWD/target/release/pocketdock"
for e in podman docker; do
  var="POCKETDOCK_TEST_${e^^}"
  echo "== $e"
  POCKETDOCK_SOCKET="${!var}" hyperfine -N --warmup 5 --runs 100 --export-json "target/bench-cli-$e.json" \
    "$pd --version" "$pd list --json" | grep -E "Time|±|Benchmark"
  python3 - "target/bench-cli-$e.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"median {r['median']*1000:.2f} ms  {r['command'].split('/')[-1]}")
PY
done
PD="$pd" scripts/bench-stream.sh
