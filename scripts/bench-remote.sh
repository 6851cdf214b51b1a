#!/usr/bin/env bash
# Remote transports beside the local socket, in one run: a ping's round trip, run("echo hi")
# p50/p90 and a 64 MB push, on the local Docker and Podman sockets, Docker over tcp with mutual
# TLS, and Podman and Docker over ssh (scripts/remote-engines.sh). Then what one connection
# costs over ssh with a kept forward (what pocketdock does) against a `docker system
# dial-stdio` per connection, with and without an ssh ControlMaster.
#   scripts/bench-remote.sh          (starts the engines if needed)
#   BENCH_ROUNDS=N                   (rounds per figure, default 50)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
if [[ -z ${POCKETDOCK_TEST_DOCKER:-} || -z ${POCKETDOCK_TEST_PODMAN:-} ]]; then
  scripts/engines.sh up >/dev/null
  eval "$(scripts/engines.sh env)"
fi
scripts/remote-engines.sh up >/dev/null
eval "$(scripts/remote-engines.sh env)"
export DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$POCKETDOCK_TEST_TLS_DIR"
cargo build --release -q -p pocketdock-blocking --example remote
echo "== per transport (BENCH_ROUNDS=${BENCH_ROUNDS:-50})"
target/release/examples/remote "$POCKETDOCK_TEST_DOCKER" "$POCKETDOCK_TEST_DOCKER_TLS" \
  "$POCKETDOCK_TEST_DOCKER_SSH" "$POCKETDOCK_TEST_PODMAN" "$POCKETDOCK_TEST_PODMAN_SSH"

echo "== one GET /_ping per connection over ssh (ms, p50 of ${BENCH_ROUNDS:-50})"
host=${POCKETDOCK_TEST_DOCKER_SSH#ssh://}
host=${host%%/*}
dest=${host%:*}
remote_sock=/${POCKETDOCK_TEST_DOCKER_SSH#ssh://*/}
ping_req=$'GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n'
p50() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() { # time_ms CMD...: milliseconds one run of CMD took (its output is checked for OK)
  local t0 t1 out
  t0=$(date +%s%N)
  out=$("$@" 2>/dev/null) || true
  t1=$(date +%s%N)
  [[ $out == *OK* ]] || { echo "no answer from: $*" >&2; exit 1; }
  echo $(((t1 - t0) / 1000))
}
rounds=${BENCH_ROUNDS:-50}
run_rounds() { local i; for ((i = 0; i < rounds; i++)); do time_ms "$@"; done | p50 | awk '{printf "%.2f", $1/1000}'; }
ssh_base=(ssh -F "$POCKETDOCK_SSH_CONFIG" -o BatchMode=yes)
cm=$(mktemp -u /tmp/pd-bench-cm.XXXXXX)
fwd=$(mktemp -u /tmp/pd-bench-fwd.XXXXXX)
"${ssh_base[@]}" -o ControlMaster=yes -o ControlPath="$cm" -o ControlPersist=60 \
  -o StreamLocalBindUnlink=yes -N -f -L "$fwd:$remote_sock" "$dest"
dial_stdio() { printf '%s' "$ping_req" | "${ssh_base[@]}" "$@" "$dest" docker -H "unix://$remote_sock" system dial-stdio; }
printf '  kept forward (one ssh login, a channel per connection): %s\n' \
  "$(run_rounds curl -fsS --unix-socket "$fwd" http://docker/_ping)"
printf '  dial-stdio per connection over a ControlMaster:          %s\n' \
  "$(run_rounds dial_stdio -o ControlPath="$cm")"
printf '  dial-stdio per connection, a login each:                  %s\n' \
  "$(run_rounds dial_stdio -o ControlPath=none)"
"${ssh_base[@]}" -o ControlPath="$cm" -O exit "$dest" 2>/dev/null || true
rm -f "$fwd"
