#!/usr/bin/env bash
# Run the cargo-fuzz targets of pocketdock-proto.
#   scripts/fuzz.sh short [TARGET...]     60 s per target (part of scripts/test.sh)
#   scripts/fuzz.sh long [TARGET...]      30 min per target (the release check: zero crashes)
#   scripts/fuzz.sh SECONDS [TARGET...]   any time per target
# With no TARGET, every target in fuzz/fuzz_targets runs, one after the other (each on one core).
# Installs cargo-fuzz with cargo if missing. Uses a nightly toolchain when one is installed,
# otherwise the stable toolchain with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Z flags). The committed
# seeds in fuzz/corpus/<target> are copied to fuzz/corpus-work/<target> (ignored by git), which grows;
# any crash lands in fuzz/artifacts/<target> and belongs in fuzz/corpus/<target> as a regression seed.
# The last lines are one summary line per target: executions, and crashes (0 or the exit).
# Exits non-zero when any target crashed.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export PATH="$HOME/.cargo/bin:$PATH"
mode="${1:-300}"; shift || true
case $mode in
short) secs=60 ;;
long) secs=1800 ;;
*[!0-9]* | '') echo "usage: $0 short|long|SECONDS [TARGET...]" >&2; exit 2 ;;
*) secs=$mode ;;
esac
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz_targets/*.rs; do t=${f#fuzz_targets/}; targets+=("${t%.rs}"); done
fi

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
if rustup toolchain list 2>/dev/null | grep -q nightly; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi

# Build every target first: the timed runs then measure fuzzing, not compiling.
"${fuzz[@]}" build

summary=()
crashed=0
for t in "${targets[@]}"; do
  mkdir -p "corpus-work/$t"
  cp -n "corpus/$t"/* "corpus-work/$t/" 2>/dev/null || true
  echo "== $t: ${secs}s"
  log="corpus-work/$t.log"
  rc=0
  "${fuzz[@]}" run "$t" "corpus-work/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 >"$log" 2>&1 || rc=$?
  grep -E "^#[0-9]+ +(DONE|pulse)|ERROR|panicked|SUMMARY" "$log" | tail -5 || true
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$rc" != 0 ] || grep -qE "ERROR|panicked" "$log"; then
    summary+=("$t: ${execs:-?} executions, CRASH (exit $rc; see fuzz/$log and fuzz/artifacts/$t)")
    crashed=1
  else
    summary+=("$t: ${execs:-?} executions, 0 crashes")
  fi
done
echo "== fuzz summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
exit "$crashed"
