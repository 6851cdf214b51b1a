#!/usr/bin/env bash
# Private Podman and Docker engines for the fault tests: engines a test may stop and start again
# while a call is under way, without touching the shared engines of scripts/engines.sh that every
# other test uses.
#
#   scripts/fault-engines.sh up             start both private engines (the shared ones must be up)
#   scripts/fault-engines.sh down           stop both, and everything they started
#   scripts/fault-engines.sh stop ENGINE    stop one (podman|docker), as an engine crash or restart would
#   scripts/fault-engines.sh start ENGINE   start it again (same storage: its containers are still there)
#   scripts/fault-engines.sh env            print `export POCKETDOCK_FAULT_PODMAN=unix://...` (and DOCKER)
#   scripts/fault-engines.sh status         per engine: running or not
#
# Podman is daemonless: its API service is one process over storage any podman may share. The
# private Podman is a second `podman system service` on its own socket over the shared engine's
# containers.conf and storage.conf (and so its storage and images). Stopping it cuts the API only;
# the containers and their conmon processes keep running, and the restarted service sees them.
#
# Docker's state lives in its daemon: the private Docker is a second dockerd with its own
# data-root, exec-root, pidfile, containerd and socket. Its daemon.json gives it a bridge of its
# own (pdfault0, made by this script) and turns iptables off, so it never touches the shared
# dockerd's docker0 bridge or its iptables chains (pocketdock sandboxes have no network unless
# asked), and live-restore on, so containers outlive a stop of the daemon as they do on Podman.
# Not "bridge": "none": a dockerd started so deletes the host's docker0 (moby removes the default
# bridge interface when the bridge is disabled), and the shared dockerd's containers with a
# network then fail to start.
# The busybox test image is copied into it from the shared Docker (GET /images/.../get, POST
# /images/load).
#
# Everything lives in ${POCKETDOCK_FAULT_RUN_DIR:-<repo>/.run/faults} (or under /tmp when that is
# too long for Unix socket paths). The shared engines' run directory is the one of
# scripts/engines.sh: ${POCKETDOCK_RUN_DIR:-<repo>/.run}, same fallback.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$SCRIPT_DIR/.." && pwd -P)
TIMEOUT=${POCKETDOCK_ENGINE_TIMEOUT:-60}
BUSYBOX_IMAGE=pocketdock/busybox:latest

log() { printf '[fault-engines] %s\n' "$*" >&2; }
die() { printf '[fault-engines] error: %s\n' "$*" >&2; exit 1; }

# A run directory short enough for sockets: dockerd's containerd puts one 44 bytes past it.
short_dir() {
    local want=$1 tag=$2
    if (( ${#want} + 44 >= 100 )); then
        want="/tmp/pocketdock-$tag-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)"
    fi
    printf '%s' "$want"
}

# As scripts/engines.sh resolves it.
if [[ -n ${POCKETDOCK_RUN_DIR:-} ]]; then
    MAIN_RUN=$POCKETDOCK_RUN_DIR
elif (( ${#REPO} + 5 + 42 >= 100 )); then
    MAIN_RUN="/tmp/pocketdock-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)"
else
    MAIN_RUN="$REPO/.run"
fi
RUN=$(short_dir "${POCKETDOCK_FAULT_RUN_DIR:-$REPO/.run/faults}" faults)
mkdir -p "$RUN"
RUN=$(cd "$RUN" && pwd -P)

PODMAN_SOCK="$RUN/podman.sock"
PODMAN_PIDFILE="$RUN/podman.pid"
PODMAN_LOG="$RUN/podman.log"
DOCKER_SOCK="$RUN/docker.sock"
DOCKER_PIDFILE="$RUN/docker.pid"
# The private dockerd's own bridge (never docker0; see above).
FAULT_BRIDGE=pdfault0
DOCKER_LOG="$RUN/docker.log"
# The shared engines' run directory, recorded at `up` so that a later `start` (from a test, whose
# environment may differ) uses the same one.
MAIN_RUN_FILE="$RUN/main-run"

ping_sock() {
    [[ -S $1 ]] || return 1
    [[ $(curl -fsS --max-time 5 --unix-socket "$1" http://localhost/_ping 2>/dev/null) == OK ]]
}

proc_running() {
    [[ $1 =~ ^[0-9]+$ && -d /proc/$1 ]] || return 1
    [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

# The pid in PIDFILE is alive, is NAME, and its command line names our run directory.
pid_ours() {
    local pidfile=$1 name=$2 pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    proc_running "$pid" || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]] || return 1
    [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == *"$RUN/"* ]]
}

# SIGTERM, then SIGKILL after SECONDS.
kill_wait() {
    local secs=$1 pid=$2 deadline
    proc_running "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + secs))
    while proc_running "$pid"; do
        if ((SECONDS >= deadline)); then
            log "SIGKILL $pid"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            return 0
        fi
        sleep 0.1
    done
}

wait_ping() {
    local engine=$1 sock=$2 pid=$3 logf=$4 deadline=$((SECONDS + TIMEOUT))
    while ! ping_sock "$sock"; do
        if ! proc_running "$pid"; then
            tail -n 30 "$logf" >&2 || true
            die "$engine exited during startup (log: $logf)"
        fi
        ((SECONDS < deadline)) || { tail -n 30 "$logf" >&2 || true; die "$engine did not answer on $sock within ${TIMEOUT}s"; }
        sleep 0.1
    done
}

main_run() {
    if [[ -s $MAIN_RUN_FILE ]]; then cat "$MAIN_RUN_FILE"; else printf '%s' "$MAIN_RUN"; fi
}

start_podman() {
    if pid_ours "$PODMAN_PIDFILE" podman && ping_sock "$PODMAN_SOCK"; then return 0; fi
    local main driver
    main=$(main_run)
    [[ -s $main/podman/containers.conf && -s $main/podman/storage.conf ]] ||
        die "no shared podman configuration under $main/podman (run scripts/engines.sh up first)"
    driver=$(cat "$main/storage-driver")
    rm -f "$PODMAN_SOCK"
    printf '\n==== %s podman system service ====\n' "$(date -Is)" >>"$PODMAN_LOG"
    # The shared service's storage and configuration, exactly as scripts/engines.sh starts it.
    # The command line names $RUN (the socket) so the pid check above recognises it.
    (cd "$RUN" && CONTAINERS_CONF=$main/podman/containers.conf CONTAINERS_STORAGE_CONF=$main/podman/storage.conf \
        exec setsid nohup podman --root "$main/podman/storage" --runroot "$main/podman/runroot" \
        --storage-driver "$driver" --tmpdir "$main/podman/tmp" \
        system service --time=0 "unix://$PODMAN_SOCK") </dev/null >>"$PODMAN_LOG" 2>&1 9>&- &
    echo $! >"$PODMAN_PIDFILE"
    wait_ping podman "$PODMAN_SOCK" "$(<"$PODMAN_PIDFILE")" "$PODMAN_LOG"
    log "podman: up (pid $(<"$PODMAN_PIDFILE"), $PODMAN_SOCK)"
}

stop_podman() {
    if pid_ours "$PODMAN_PIDFILE" podman; then kill_wait 10 "$(<"$PODMAN_PIDFILE")"; fi
    rm -f "$PODMAN_PIDFILE" "$PODMAN_SOCK"
    log "podman: stopped"
}

start_docker() {
    if pid_ours "$DOCKER_PIDFILE" dockerd && ping_sock "$DOCKER_SOCK"; then return 0; fi
    local main driver
    main=$(main_run)
    driver=$(cat "$main/storage-driver" 2>/dev/null || echo vfs)
    [[ $driver == overlay ]] && driver=overlay2
    mkdir -p "$RUN/docker/data" "$RUN/docker/exec"
    if ! ip link show "$FAULT_BRIDGE" >/dev/null 2>&1; then
        ip link add "$FAULT_BRIDGE" type bridge
        ip addr add 10.232.0.1/24 dev "$FAULT_BRIDGE"
        ip link set "$FAULT_BRIDGE" up
    fi
    cat >"$RUN/docker/daemon.json" <<EOF
{
  "bridge": "$FAULT_BRIDGE",
  "iptables": false,
  "ip6tables": false,
  "ip-forward": false,
  "ip-masq": false,
  "userland-proxy": false,
  "live-restore": true,
  "log-driver": "json-file",
  "log-opts": { "max-size": "10m", "max-file": "2" },
  "shutdown-timeout": 2,
  "features": { "buildkit": false }
}
EOF
    rm -f "$DOCKER_SOCK" "$DOCKER_PIDFILE"
    printf '\n==== %s dockerd ====\n' "$(date -Is)" >>"$DOCKER_LOG"
    (cd "$RUN" && exec setsid nohup dockerd --config-file "$RUN/docker/daemon.json" \
        --host "unix://$DOCKER_SOCK" --data-root "$RUN/docker/data" \
        --exec-root "$RUN/docker/exec" --pidfile "$DOCKER_PIDFILE" \
        --storage-driver "$driver") </dev/null >>"$DOCKER_LOG" 2>&1 9>&- &
    local pid=$!
    wait_ping docker "$DOCKER_SOCK" "$pid" "$DOCKER_LOG"
    [[ -s $DOCKER_PIDFILE ]] || echo "$pid" >"$DOCKER_PIDFILE"
    log "docker: up (pid $(<"$DOCKER_PIDFILE"), $DOCKER_SOCK)"
}

# dockerd's containerd: a child of dockerd that, with live-restore, outlives a stop of it.
docker_containerd() {
    local p
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ $(cat "/proc/$p/comm" 2>/dev/null) == containerd ]] || continue
        [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") == *"$RUN/docker/"* ]] && echo "$p"
    done
    return 0
}

stop_docker() {
    if pid_ours "$DOCKER_PIDFILE" dockerd; then kill_wait 15 "$(<"$DOCKER_PIDFILE")"; fi
    rm -f "$DOCKER_PIDFILE" "$DOCKER_SOCK"
    log "docker: stopped"
}

# The busybox test image, copied from the shared Docker.
ensure_docker_image() {
    local shared
    shared="$(main_run)/docker.sock"
    if [[ -n ${POCKETDOCK_TEST_DOCKER:-} ]]; then shared=${POCKETDOCK_TEST_DOCKER#unix://}; fi
    if curl -fsS --max-time 10 --unix-socket "$DOCKER_SOCK" \
        "http://localhost/images/${BUSYBOX_IMAGE%%:*}/json" >/dev/null 2>&1; then
        return 0
    fi
    ping_sock "$shared" || die "the shared docker does not answer on $shared"
    log "docker: copying $BUSYBOX_IMAGE from $shared"
    curl -fsS --max-time 120 --unix-socket "$shared" "http://localhost/images/get?names=$BUSYBOX_IMAGE" |
        curl -fsS --max-time 120 --unix-socket "$DOCKER_SOCK" -X POST \
            -H 'Content-Type: application/x-tar' --data-binary @- "http://localhost/images/load?quiet=1" >/dev/null
}

# Everything left that belongs to our run directory (containerd, shims, conmon of our podman).
our_processes() {
    local p
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ $p == "$$" ]] && continue
        case $(cat "/proc/$p/comm" 2>/dev/null) in
        dockerd | containerd | containerd-shim* | podman) ;;
        *) continue ;;
        esac
        [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") == *"$RUN/"* ]] && echo "$p"
    done
    return 0
}

# Remove every container of the private Docker (the private Podman's are in the shared storage,
# named by the tests, and removed by them).
remove_docker_containers() {
    ping_sock "$DOCKER_SOCK" || return 0
    local ids id
    ids=$(curl -fsS --max-time 20 --unix-socket "$DOCKER_SOCK" 'http://localhost/containers/json?all=1' |
        grep -o '"Id":"[0-9a-f]*"' | cut -d'"' -f4) || return 0
    for id in $ids; do
        curl -fsS --max-time 30 --unix-socket "$DOCKER_SOCK" -X DELETE \
            "http://localhost/containers/$id?force=1" >/dev/null || true
    done
}

cmd_up() {
    printf '%s' "$MAIN_RUN" >"$MAIN_RUN_FILE"
    start_podman
    start_docker
    ensure_docker_image
    cmd_env
}

cmd_down() {
    remove_docker_containers
    stop_podman
    # Without live-restore dockerd would stop its containers and take containerd down; with it,
    # nothing runs any more (removed above), and containerd is stopped here.
    stop_docker
    local p
    for p in $(our_processes); do kill_wait 10 "$p"; done
    local left
    left=$(our_processes)
    [[ -z $left ]] || die "processes still running: $left"
    # dockerd leaves mounts under its data-root on some storage drivers.
    awk -v run="$RUN/" 'index($2, run) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
    find "$RUN/docker/exec" -xdev -type s -delete 2>/dev/null || true
    ip link del "$FAULT_BRIDGE" 2>/dev/null || true
    log "down"
}

cmd_env() {
    local rc=0
    if ping_sock "$PODMAN_SOCK"; then echo "export POCKETDOCK_FAULT_PODMAN=unix://$PODMAN_SOCK"; else log "podman: not answering"; rc=1; fi
    if ping_sock "$DOCKER_SOCK"; then echo "export POCKETDOCK_FAULT_DOCKER=unix://$DOCKER_SOCK"; else log "docker: not answering"; rc=1; fi
    return $rc
}

cmd_status() {
    echo "run directory: $RUN (shared engines: $(main_run))"
    if ping_sock "$PODMAN_SOCK"; then echo "podman: running, pid $(<"$PODMAN_PIDFILE")"; else echo "podman: not running"; fi
    if ping_sock "$DOCKER_SOCK"; then echo "docker: running, pid $(<"$DOCKER_PIDFILE")"; else echo "docker: not running"; fi
    echo "containerd: $(docker_containerd | tr '\n' ' ')"
}

engine_arg() {
    case ${1:-} in
    podman | docker) printf '%s' "$1" ;;
    *) die "expected an engine (podman or docker), got '${1:-}'" ;;
    esac
}

# One change of state at a time: tests of both engines run in parallel.
exec 9>"$RUN/.lock"
flock -w 300 9 || die "could not lock $RUN/.lock"

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
stop) case $(engine_arg "${2:-}") in podman) stop_podman ;; docker) stop_docker ;; esac ;;
start) case $(engine_arg "${2:-}") in podman) start_podman ;; docker) start_docker ;; esac ;;
env) cmd_env || exit $? ;;
status) cmd_status ;;
*) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
