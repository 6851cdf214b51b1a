#!/bin/sh
# Make the non-root user sandbox, uid/gid 1000, home /home/sandbox, with useradd, busybox adduser
# or by hand. A base that already gives uid 1000 to a user of its own (`node` in node images, `bun`
# in oven/bun images) hands it over to sandbox.
#
# Usage: sandbox-user.sh
set -eu
if [ "$(id -u sandbox 2>/dev/null)" = 1000 ]; then
    echo "user sandbox exists"
else
    if id -u sandbox >/dev/null 2>&1; then
        echo "user sandbox exists with uid $(id -u sandbox), not 1000" >&2
        exit 1
    fi
    other=$(awk -F: '$3 == 1000 { print $1 }' /etc/passwd)
    if [ -n "$other" ]; then
        echo "uid 1000 belongs to $other: removing that user"
        userdel -r "$other" 2>/dev/null || deluser --remove-home "$other" 2>/dev/null || true
        if id -u "$other" >/dev/null 2>&1; then
            echo "could not remove user $other" >&2
            exit 1
        fi
    fi
    group=$(awk -F: '$3 == 1000 { print $1 }' /etc/group)
    if [ -n "$group" ] && [ "$group" != sandbox ]; then
        groupdel "$group" 2>/dev/null || delgroup "$group"
    fi
    shell=$(command -v bash || echo /bin/sh)
    if command -v useradd >/dev/null 2>&1; then
        grep -q '^sandbox:' /etc/group || groupadd --gid 1000 sandbox
        useradd --uid 1000 --gid 1000 --create-home --home-dir /home/sandbox --shell "$shell" sandbox
    elif command -v adduser >/dev/null 2>&1; then
        grep -q '^sandbox:' /etc/group || addgroup -g 1000 sandbox
        adduser -D -u 1000 -G sandbox -h /home/sandbox -s "$shell" sandbox
    else
        grep -q '^sandbox:' /etc/group || echo 'sandbox:x:1000:' >>/etc/group
        echo "sandbox:x:1000:1000:sandbox:/home/sandbox:$shell" >>/etc/passwd
    fi
    mkdir -p /home/sandbox
    chown 1000:1000 /home/sandbox
fi
test "$(id -u sandbox)" = 1000
test "$(id -g sandbox)" = 1000
