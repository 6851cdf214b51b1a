#!/usr/bin/env bash
# Build the in-sandbox agent as one static executable, so it runs in any image (busybox and
# other images without a C library included), and check that it is static.
#   scripts/build-agent.sh        -> target/agent/pocketdock-agent (prints its path and size)
#
# glibc static: no musl target is installed here. That is sound because the agent never uses
# NSS (users are numeric; no name lookups), the one part of glibc that needs shared libraries
# at run time. The explicit --target keeps build scripts and proc macros dynamic: RUSTFLAGS
# then apply to the target only. The binary is for this host's architecture.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

triple="$(rustc -vV | sed -n 's/^host: //p')"
[ -n "$triple" ] || { echo "build-agent: cannot tell the host's target triple" >&2; exit 1; }

# Small and without debug info: the agent is copied into every sandbox. The workspace's
# release profile keeps line tables for benchmarks; these overrides apply to this build only.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  CARGO_PROFILE_RELEASE_DEBUG=0 \
  CARGO_PROFILE_RELEASE_STRIP=symbols \
  CARGO_PROFILE_RELEASE_LTO=true \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
  cargo build --release -q -p pocketdock-agent --target "$triple"

built="target/$triple/release/pocketdock-agent"
out="target/agent/pocketdock-agent"
mkdir -p target/agent
# Copy to a temporary name and rename: a reader never sees a half-written agent.
cp "$built" "$out.tmp"
chmod 0755 "$out.tmp"
mv -f "$out.tmp" "$out"

# Static, or refuse: a dynamic agent would fail in an image without this host's libraries.
kind="$(file -b "$out")"
case "$kind" in
  *"statically linked"* | *"static-pie linked"*) ;;
  *) echo "build-agent: $out is not static: $kind" >&2; exit 1 ;;
esac
if ldd_out="$(ldd "$out" 2>&1)"; then
  case "$ldd_out" in
    *"statically linked"*) ;;
    *) echo "build-agent: ldd finds shared libraries in $out:" >&2; echo "$ldd_out" >&2; exit 1 ;;
  esac
else
  case "$ldd_out" in
    *"not a dynamic executable"*) ;;
    *) echo "build-agent: ldd $out: $ldd_out" >&2; exit 1 ;;
  esac
fi
# No NSS: glibc would load libnss_* at run time for a user or host name lookup.
if grep -qa -e 'libnss_' -e 'nsswitch.conf' "$out"; then
  echo "build-agent: $out refers to NSS; static glibc cannot load it in a sandbox" >&2
  exit 1
fi
"$out" --version >/dev/null
echo "$PWD/$out $(stat -c %s "$out") bytes"
