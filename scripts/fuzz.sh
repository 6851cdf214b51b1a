#!/usr/bin/env bash
# Run the cargo-fuzz targets of pocketdock-proto, each for SECONDS (default 300).
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Installs cargo-fuzz with cargo if missing. Uses a nightly toolchain when one is installed,
# otherwise the stable toolchain with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Z flags). The committed
# seeds in fuzz/corpus/<target> are copied to fuzz/corpus-work/<target> (ignored by git), which grows;
# any crash lands in fuzz/artifacts/<target> and belongs in fuzz/corpus/<target> as a regression seed.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export PATH="$HOME/.cargo/bin:$PATH"
secs="${1:-300}"; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(demux http_response chunked sentinel tar_entry limits_probe)

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
if rustup toolchain list 2>/dev/null | grep -q nightly; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi

for t in "${targets[@]}"; do
  mkdir -p "corpus-work/$t"
  cp -n "corpus/$t"/* "corpus-work/$t/" 2>/dev/null || true
  echo "== $t: ${secs}s"
  log="corpus-work/$t.log"
  "${fuzz[@]}" run "$t" "corpus-work/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 2>&1 | tee "$log" | grep -E "^#[0-9]+ +(DONE|pulse)|ERROR|panicked|SUMMARY" || true
  if grep -qE "ERROR|panicked" "$log"; then
    echo "== $t: CRASH (see $log and fuzz/artifacts/$t)"; exit 1
  fi
  last=$(grep -E "^#[0-9]+" "$log" | tail -1)
  echo "== $t: $last"
  grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb" "$log" || true
done
