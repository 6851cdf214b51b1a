#!/usr/bin/env bash
# From a fresh Debian/Ubuntu machine (as root): install and start a container engine if none is
# running (Podman on a project-owned socket, via scripts/engines.sh), build pocketdock, and run a
# first sandbox that prints "hello".
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if [ -z "${POCKETDOCK_SOCKET:-}" ]; then
  scripts/engines.sh up
  eval "$(scripts/engines.sh env)"
  export POCKETDOCK_SOCKET="$POCKETDOCK_TEST_PODMAN"
fi

cargo build --release -q -p pocketdock-cli
pd=target/release/pocketdock
name="quickstart-$$"
"$pd" create --name "$name" >/dev/null
trap '"$pd" shutdown "$name" --yes >/dev/null 2>&1 || true' EXIT
"$pd" run "$name" -- echo hello
