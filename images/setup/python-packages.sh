#!/bin/sh
# Install the (pinned) Python packages the base image lacks, with pip (installed first with apk
# or apt-get if the base has no pip); a base that has them all needs no network.
#
# Usage: python-packages.sh ENTRY...
#   ENTRY  check:requirement, where check is a module to import or, after 'cmd=', a command
set -eu
need=""
for t in "$@"; do
    check=${t%%:*}
    case "$check" in
    cmd=*) command -v "${check#cmd=}" >/dev/null 2>&1 || need="$need ${t#*:}" ;;
    *) python3 -c "import $check" >/dev/null 2>&1 || need="$need ${t#*:}" ;;
    esac
done
if [ -z "$need" ]; then
    echo "base already has the Python packages"
    exit 0
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
    if command -v apk >/dev/null 2>&1; then
        apk add --no-cache py3-pip
    else
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-pip
        rm -rf /var/lib/apt/lists/*
    fi
fi
# shellcheck disable=SC2086 # one word per requirement
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --no-cache-dir $need
