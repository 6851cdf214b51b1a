#!/bin/sh
# Install the system packages of the commands the base image lacks, with apk or apt-get; a base
# that has every command needs no network.
#
# Usage: system-packages.sh WHAT ENTRY...
#   WHAT   what the entries provide, for the message when the base already has them all
#   ENTRY  command:alpine-packages:debian-packages ('+' joins several packages)
set -eu
what=$1
shift
apk_pkgs=""
apt_pkgs=""
for t in "$@"; do
    cmd=${t%%:*}
    rest=${t#*:}
    if ! command -v "$cmd" >/dev/null 2>&1; then
        apk_pkgs="$apk_pkgs $(echo "${rest%%:*}" | tr + ' ')"
        apt_pkgs="$apt_pkgs $(echo "${rest#*:}" | tr + ' ')"
    fi
done
if [ -z "$apk_pkgs" ]; then
    echo "base already has $what"
elif command -v apk >/dev/null 2>&1; then
    # shellcheck disable=SC2086 # one word per package
    apk add --no-cache $apk_pkgs
elif command -v apt-get >/dev/null 2>&1; then
    apt-get update
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $apt_pkgs
    rm -rf /var/lib/apt/lists/*
else
    echo "the base lacks$apk_pkgs and has no known package manager" >&2
    exit 1
fi
