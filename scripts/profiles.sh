#!/usr/bin/env bash
# The six image profiles built for real and their toolchains run, with no image registry: each
# profile is built with `pocketdock build` from the local Debian base that scripts/engines.sh
# makes (debootstrap, pocketdock/debian-base:bookworm), its packages coming from the registries
# this machine reaches (Debian's apt, PyPI, npm); then a sandbox of each image runs the
# profile's promised tools (python with numpy and pandas, node, bun, gcc, the ARM cross
# compiler, ...) through `pocketdock run`, and every check's output must say what it did.
#   scripts/profiles.sh [podman|docker]...      (default: both engines)
#   PROFILES="dev agent" scripts/profiles.sh     (some profiles only)
# The builds trust what this machine trusts: a machine that reaches the registries through a
# TLS-inspecting proxy has that proxy's CA in its system bundle, which a fresh image lacks. So
# the profiles are built on a thin layer over the Debian base that carries this machine's bundle
# (/etc/ssl/certs/ca-certificates.crt, and the local CAs of /usr/local/share/ca-certificates)
# and points pip, npm, node and OpenSSL at it; on a machine without such a proxy it changes
# nothing. Substitution: the embedded profile's Arduino CLI comes from GitHub releases, which such a
# machine does not reach; it is built with --build-arg ARDUINO_CLI_VERSION= (left out), and the
# rest of that toolchain (gcc, arm-none-eabi-gcc, cmake, ninja, PlatformIO, meson, gdb-multiarch,
# valgrind) is checked. The images and containers it makes are removed at the end; logs are
# in .run/profiles/. Not part of scripts/test.sh (downloads and builds take several minutes
# per engine).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

engines=("$@")
[ ${#engines[@]} -gt 0 ] || engines=(podman docker)
scripts/engines.sh up >/dev/null
eval "$(scripts/engines.sh env)"
cargo build -q --release -p pocketdock-cli
pd=$PWD/target/release/pocketdock
debian=pocketdock/debian-base:bookworm
logs=$PWD/.run/profiles
mkdir -p "$logs"
tag_prefix="pocketdock-profiles-$$"

made_containers=()
made_images=()
engine_cli() {
  case $1 in
  podman) shift; podman --url "$POCKETDOCK_TEST_PODMAN" "$@" ;;
  docker) shift; DOCKER_HOST=$POCKETDOCK_TEST_DOCKER docker "$@" ;;
  esac
}
cleanup() {
  local entry
  for entry in "${made_containers[@]}"; do
    POCKETDOCK_SOCKET=${entry%% *} "$pd" shutdown -y "${entry#* }" >/dev/null 2>&1 || true
  done
  # Newest first: the profiles' images before the base they were built on.
  for ((i = ${#made_images[@]} - 1; i >= 0; i--)); do
    entry=${made_images[i]}
    engine_cli "${entry%% *}" rmi -f "${entry#* }" >/dev/null 2>&1 || true
  done
  rm -rf "${trust_ctx:-}"
}
trap cleanup EXIT

# The layer that carries this machine's CA bundle (see the top).
trust_ctx=$(mktemp -d)
mkdir -p "$trust_ctx/local"
cp /etc/ssl/certs/ca-certificates.crt "$trust_ctx/host-ca.crt"
cp /usr/local/share/ca-certificates/*.crt "$trust_ctx/local/" 2>/dev/null || true
ca=/usr/local/share/pocketdock/host-ca.crt
cat >"$trust_ctx/Dockerfile" <<EOF
FROM $debian
COPY host-ca.crt $ca
COPY local/ /usr/local/share/ca-certificates/
ENV SSL_CERT_FILE=$ca PIP_CERT=$ca REQUESTS_CA_BUNDLE=$ca NODE_EXTRA_CA_CERTS=$ca npm_config_cafile=$ca
EOF

# The checks of one profile: one line each, "EXPECTED<TAB>COMMAND", where the command's output
# must contain EXPECTED.
checks() {
  local hello_c='#include <stdio.h>\nint main(void) { printf("gcc says %%d\\n", 6 * 7); return 0; }\n'
  local hello_cc='#include <iostream>\nint main() { std::cout << "g++ says " << 6 * 7 << std::endl; }\n'
  local gcc_check="printf '$hello_c' > /tmp/h.c && gcc -O2 -o /tmp/h /tmp/h.c && /tmp/h"
  local blink='volatile unsigned *const GPIO = (unsigned *)0x40020014;\nvoid blink(void) { for (;;) *GPIO ^= 1u << 5; }\n'
  case $1 in
  minimal-python)
    printf '%s\t%s\n' "python 3" "python3 -c 'import sys, http.server; print(\"python\", sys.version.split()[0])'"
    printf '%s\t%s\n' "sandbox" "id -un"
    ;;
  minimal-node)
    printf '%s\t%s\n' "node v" "node -e 'console.log(\"node\", process.version, [1, 2, 3].map(x => x * 2).join(\",\"))'"
    printf '%s\t%s\n' "npm " "echo npm \$(npm --version)"
    ;;
  minimal-bun)
    printf '%s\t%s\n' "bun says 42" "cd /tmp && printf 'const n: number = 21;\\nconsole.log(\"bun says\", n * 2, Bun.version);\\n' > t.ts && bun run t.ts"
    ;;
  dev)
    printf '%s\t%s\n' "gcc says 42" "$gcc_check"
    printf '%s\t%s\n' "git version" "git --version && curl --version | head -n 1 && jq --version && make --version | head -n 1"
    printf '%s\t%s\n' "ipython 42" "ipython --quick --no-banner -c 'print(\"ipython\", 6 * 7)'"
    printf '%s\t%s\n' "requests 2" "python3 -c 'import requests, httpx; print(\"requests\", requests.__version__, \"httpx\", httpx.__version__)'"
    ;;
  agent)
    printf '%s\t%s\n' "pandas sum 10" "python3 -c 'import numpy, pandas; df = pandas.DataFrame({\"x\": numpy.arange(5)}); print(\"numpy\", numpy.__version__, \"pandas sum\", int(df.x.sum()))'"
    printf '%s\t%s\n' "bs4 ok" "python3 -c 'import requests, httpx, bs4, lxml.etree, yaml, toml, PIL.Image; s = bs4.BeautifulSoup(\"<p>ok</p>\", \"lxml\"); print(\"bs4\", s.p.text, PIL.Image.new(\"RGB\", (2, 2)).size)'"
    printf '%s\t%s\n' "git version" "curl --version | head -n 1 && jq --version && git --version"
    ;;
  embedded)
    printf '%s\t%s\n' "gcc says 42" "$gcc_check"
    printf '%s\t%s\n' "g++ says 42" "printf '$hello_cc' > /tmp/h.cc && g++ -O2 -o /tmp/hh /tmp/h.cc && /tmp/hh"
    printf '%s\t%s\n' "elf32-littlearm" "printf '$blink' > /tmp/blink.c && arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -O2 -c /tmp/blink.c -o /tmp/blink.o && arm-none-eabi-objdump -f /tmp/blink.o && arm-none-eabi-size /tmp/blink.o"
    printf '%s\t%s\n' "cmake version" "cmake --version | head -n 1 && echo ninja \$(ninja --version) && meson --version && pio --version"
    printf '%s\t%s\n' "valgrind-" "gdb-multiarch --version | head -n 1 && valgrind --version && strace -V | head -n 1"
    ;;
  esac
}

# shellcheck disable=SC2206 # one word per profile
profiles=(${PROFILES:-minimal-python minimal-node minimal-bun dev agent embedded})
failed=0
summary=()
for engine in "${engines[@]}"; do
  var="POCKETDOCK_TEST_${engine^^}"
  socket=${!var}
  base="$tag_prefix/trusted-base:check"
  made_images+=("$engine $base")
  engine_cli "$engine" build -q -t "$base" "$trust_ctx" >"$logs/$engine-trusted-base.log" 2>&1 || {
    cat "$logs/$engine-trusted-base.log" >&2
    echo "error: the trusted base did not build on $engine" >&2
    exit 1
  }
  for p in "${profiles[@]}"; do
    tag="$tag_prefix/$p:check"
    args=(build "$p" --base "$base" --tag "$tag")
    [ "$p" = embedded ] && args+=(--build-arg ARDUINO_CLI_VERSION=)
    log="$logs/$engine-$p.log"
    t0=$SECONDS
    made_images+=("$engine $tag")
    if ! POCKETDOCK_SOCKET=$socket "$pd" -v "${args[@]}" >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      summary+=("$engine $p: BUILD FAILED (log: $log)")
      failed=1
      continue
    fi
    built=$((SECONDS - t0))
    name="pd-profiles-$$-$engine-$p"
    made_containers+=("$socket $name")
    if ! POCKETDOCK_SOCKET=$socket "$pd" create --image "$tag" --name "$name" >>"$log" 2>&1; then
      summary+=("$engine $p: built in ${built}s, CREATE FAILED (log: $log)")
      failed=1
      continue
    fi
    ok=0 bad=0
    while IFS=$'\t' read -r expected command; do
      out=$(POCKETDOCK_SOCKET=$socket "$pd" run --timeout 120 "$name" "$command" 2>&1) || true
      printf '$ %s\n%s\n' "$command" "$out" >>"$log"
      if [[ $out == *"$expected"* ]]; then
        ok=$((ok + 1))
        echo "$engine $p: $(printf '%s' "$out" | tr '\n' ' ' | cut -c1-150)"
      else
        bad=$((bad + 1))
        echo "$engine $p: FAILED: $command" >&2
        printf '%s\n' "$out" | tail -n 10 >&2
      fi
    done < <(checks "$p")
    POCKETDOCK_SOCKET=$socket "$pd" shutdown -y "$name" >/dev/null 2>&1 || true
    [ "$bad" = 0 ] || failed=1
    summary+=("$engine $p: built in ${built}s, checks $ok passed, $bad failed")
  done
done
echo "== profiles summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
