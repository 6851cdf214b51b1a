#!/usr/bin/env bash
# Start, stop and inspect the project's own Podman and Docker engines for pocketdock's tests.
#
#   scripts/engines.sh up       install what is missing, start both engines, make the test images
#   scripts/engines.sh down     stop the engines this script started (images stay cached)
#   scripts/engines.sh status   per engine: running or not, pid, socket, test images
#   scripts/engines.sh env      print `export POCKETDOCK_TEST_PODMAN=unix://...` (and DOCKER) lines
#   scripts/engines.sh clean    remove containers labelled pocketdock.managed=true in both engines
#   scripts/engines.sh check    smoke-test both engines (run, uid, stop time, ports, memory, API)
#   scripts/engines.sh podman|docker ARGS...   run the CLI against our engine
#
# Typical use:  scripts/engines.sh up && eval "$(scripts/engines.sh env)"
#
# Everything lives in the run directory ${POCKETDOCK_RUN_DIR:-<repo>/.run} (falls back to
# /tmp/pocketdock-<hash of repo path> when that path is too long for Unix sockets):
#   podman.sock podman.pid podman.log    podman system service (API socket)
#   podman/{containers.conf,storage.conf,storage,runroot,tmp,networks}
#   docker.sock docker.pid docker.log    dockerd (spawns its own containerd under docker/exec)
#   docker/{daemon.json,data,exec}
#   cache/                               debootstrap rootfs tar (made once), busybox rootfs tar
# The engines run as plain background processes (no systemd needed), as root.
#
# If POCKETDOCK_TEST_PODMAN / POCKETDOCK_TEST_DOCKER are set to a socket that answers /_ping,
# that engine is used as is: nothing is started or stopped for it (images are still ensured).
#
# Knobs: POCKETDOCK_RUN_DIR, POCKETDOCK_ENGINE_TIMEOUT (seconds, default 60),
#        POCKETDOCK_DEBIAN_MIRROR (debootstrap mirror, default: debootstrap's own),
#        POCKETDOCK_SKIP_APT=1 (never run apt-get), POCKETDOCK_ENGINES="podman docker" (subset).
set -euo pipefail
set -E # functions and subshells inherit the ERR trap below
trap 'printf "[engines] error: command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$SCRIPT_DIR/.." && pwd -P)
TEMPLATES="$SCRIPT_DIR/engines"
IMAGE_DIR="$REPO/images/minimal-python"

TIMEOUT=${POCKETDOCK_ENGINE_TIMEOUT:-60}
ENGINES=${POCKETDOCK_ENGINES:-podman docker}

BUSYBOX_IMAGE=pocketdock/busybox:latest
BASE_IMAGE=pocketdock/debian-base:bookworm
PYTHON_IMAGE=pocketdock/minimal-python:latest
DEBIAN_SUITE=bookworm
DEBIAN_INCLUDE=python3-minimal,libpython3.11-stdlib,bash
# Bump when the way an image is made changes: images whose pocketdock.recipe label differs are
# rebuilt at the next `up`.
BUSYBOX_RECIPE_VERSION=1
BASE_RECIPE_VERSION=1
PYTHON_RECIPE_VERSION=2

# The newer docker CLI in /usr/local/bin talks a newer API than docker.io's dockerd 20.10.
export DOCKER_API_VERSION=1.41
export DOCKER_BUILDKIT=0

log() { printf '[engines] %s\n' "$*" >&2; }
die() { printf '[engines] error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Run directory (sockets must stay well under the 108-byte sun_path limit; the longest one we
# create is dockerd's $RUN/docker/exec/containerd/containerd.sock.ttrpc, 42 bytes past $RUN).
# ---------------------------------------------------------------------------------------------
resolve_run_dir() {
    local run
    if [[ -n "${POCKETDOCK_RUN_DIR:-}" ]]; then
        mkdir -p "$POCKETDOCK_RUN_DIR"
        run=$(cd "$POCKETDOCK_RUN_DIR" && pwd -P)
        if (( ${#run} + 42 >= 100 )); then
            die "POCKETDOCK_RUN_DIR=$run is too long for Unix socket paths (max 57 chars)"
        fi
    else
        run="$REPO/.run"
        if (( ${#run} + 42 >= 100 )); then
            run="/tmp/pocketdock-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)"
        fi
        mkdir -p "$run"
    fi
    RUN=$run
}
resolve_run_dir

PODMAN_SOCK="$RUN/podman.sock"
PODMAN_PIDFILE="$RUN/podman.pid"
PODMAN_LOG="$RUN/podman.log"
DOCKER_SOCK="$RUN/docker.sock"
DOCKER_PIDFILE="$RUN/docker.pid"
DOCKER_LOG="$RUN/docker.log"
CACHE="$RUN/cache"

# Given to our podman service only (and inherited by its conmon and cleanup processes); the
# podman CLI is used in remote mode against the socket and does not need them.
PODMAN_CONTAINERS_CONF="$RUN/podman/containers.conf"
PODMAN_STORAGE_CONF="$RUN/podman/storage.conf"
# The docker CLI gets its own config dir (no ~/.docker contexts or settings). Not exported:
# podman would read it too and fail when config.json is missing.
DOCKER_CLI_CONFIG="$RUN/docker/cli"

# Run a command with the project lock held (concurrent `up`s would race on pids and images).
# The engines must not inherit fd 9 (they would hold the lock forever): they get 9>&-.
with_lock() {
    exec 9>"$RUN/.lock"
    if ! flock -w 900 9; then die "could not lock $RUN/.lock"; fi
    "$@"
}

# ---------------------------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------------------------
netavark_path() {
    local p
    for p in /usr/libexec/podman/netavark /usr/lib/podman/netavark /usr/local/libexec/podman/netavark; do
        [[ -x $p ]] && { echo "$p"; return 0; }
    done
    return 0
}

is_static_busybox() {
    [[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1
}

ensure_packages() {
    local -a missing=()
    local want cmd pkg
    # command:package; a command found anywhere counts (e.g. moby/docker-ce instead of docker.io).
    for want in podman:podman runc:runc conmon:conmon netavark:netavark dockerd:docker.io \
        containerd:containerd debootstrap:debootstrap newuidmap:uidmap iptables:iptables \
        curl:curl flock:util-linux tmux:tmux file:file; do
        cmd=${want%%:*} pkg=${want#*:}
        if [[ $cmd == netavark ]]; then
            # podman's network backend: netavark (Debian 12) or the older CNI plugins.
            [[ -n $(netavark_path) || -x /usr/lib/cni/bridge || -x /opt/cni/bin/bridge ]] && continue
        elif command -v "$cmd" >/dev/null 2>&1; then
            continue
        fi
        missing+=("$pkg")
    done
    if ! command -v docker >/dev/null 2>&1 && [[ ! -x /usr/bin/docker ]]; then missing+=(docker.io); fi
    is_static_busybox || missing+=(busybox-static)
    # debootstrap of Debian on a non-Debian host (e.g. Ubuntu CI) needs Debian's keyring.
    [[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
    if ((${#missing[@]} == 0)); then return 0; fi
    # shellcheck disable=SC2207
    missing=($(printf '%s\n' "${missing[@]}" | sort -u))
    if [[ ${POCKETDOCK_SKIP_APT:-} == 1 ]]; then die "missing packages: ${missing[*]}"; fi
    (( EUID == 0 )) || die "missing packages (${missing[*]}) and not root"
    log "installing: ${missing[*]}"
    # Do not let the packages' maintainer scripts start system-wide daemons (dockerd, containerd):
    # we run our own.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
    fi
    local rc=0
    {
        apt-get update -q &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    } >&2 || rc=$?
    if ((made_policy)); then rm -f "$policy"; fi
    ((rc == 0)) || die "apt-get install ${missing[*]} failed (exit $rc)"
    is_static_busybox || die "/bin/busybox is not a static binary (need busybox-static)"
}

# The docker CLI: prefer docker.io's own (same version as dockerd), else whatever is on PATH
# (DOCKER_API_VERSION pins the API level).
docker_cli() {
    if [[ -x /usr/bin/docker ]]; then echo /usr/bin/docker; else command -v docker; fi
}

# ---------------------------------------------------------------------------------------------
# Sockets, pids
# ---------------------------------------------------------------------------------------------
# sock_of unix:///x/y -> /x/y
sock_path() { local s=$1; s=${s#unix://}; printf '%s' "$s"; }

ping_sock() {
    local sock=$1 out
    [[ -S $sock ]] || return 1
    out=$(curl -fsS --max-time 5 --unix-socket "$sock" http://localhost/_ping 2>/dev/null) || return 1
    [[ $out == OK ]]
}

# pid_alive PIDFILE NAME: the pid recorded in PIDFILE is alive, its command is NAME and its
# command line mentions our run directory (so a recycled pid is never taken for ours).
pid_alive() {
    local pidfile=$1 name=$2 pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    proc_running "$pid" || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]] || return 1
    [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == *"$RUN/"* ]]
}

# proc_running PID: exists and is not a zombie (its command may still be setsid/nohup).
proc_running() {
    [[ $1 =~ ^[0-9]+$ && -d /proc/$1 ]] || return 1
    [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

wait_ping() {
    local engine=$1 sock=$2 pidfile=$3 logf=$4 deadline
    deadline=$((SECONDS + TIMEOUT))
    while ! ping_sock "$sock"; do
        if ! proc_running "$(<"$pidfile")"; then
            log "$engine exited during startup; last lines of $logf:"
            tail -n 40 "$logf" >&2 || true
            die "$engine did not start"
        fi
        if ((SECONDS >= deadline)); then
            log "$engine did not answer GET /_ping on $sock within ${TIMEOUT}s; last lines of $logf:"
            tail -n 40 "$logf" >&2 || true
            die "$engine did not start"
        fi
        sleep 0.2
    done
}

# Which socket to use for an engine: an external one from the environment if it answers,
# otherwise ours.
engine_sock() {
    local engine=$1 var val
    case $engine in
    podman) var=POCKETDOCK_TEST_PODMAN ;;
    docker) var=POCKETDOCK_TEST_DOCKER ;;
    esac
    val=${!var:-}
    if [[ -n $val ]]; then
        val=$(sock_path "$val")
        if [[ $val != "$RUN/$engine.sock" ]] && ping_sock "$val"; then
            printf '%s' "$val"
            return 0
        fi
    fi
    printf '%s' "$RUN/$engine.sock"
}

is_external() {
    case $1 in
    podman) [[ $PODMAN_URL_SOCK != "$PODMAN_SOCK" ]] ;;
    docker) [[ $DOCKER_URL_SOCK != "$DOCKER_SOCK" ]] ;;
    esac
}

# Resolved once: the sockets the CLIs talk to.
PODMAN_URL_SOCK=$(engine_sock podman)
DOCKER_URL_SOCK=$(engine_sock docker)
sock_for() {
    case $1 in
    podman) printf '%s' "$PODMAN_URL_SOCK" ;;
    docker) printf '%s' "$DOCKER_URL_SOCK" ;;
    esac
}

engine_enabled() { [[ " $ENGINES " == *" $1 "* ]]; }

# CLIs pointed at a socket.
P() { podman --url "unix://$PODMAN_URL_SOCK" "$@"; }
D() {
    if [[ ! -s $DOCKER_CLI_CONFIG/config.json ]]; then
        mkdir -p "$DOCKER_CLI_CONFIG" && echo '{}' >"$DOCKER_CLI_CONFIG/config.json"
    fi
    DOCKER_CONFIG=$DOCKER_CLI_CONFIG "$(docker_cli)" -H "unix://$DOCKER_URL_SOCK" "$@"
}

# ---------------------------------------------------------------------------------------------
# Storage driver: overlay where the run directory's filesystem supports it, else vfs.
# ---------------------------------------------------------------------------------------------
overlay_works() {
    local t rc=0
    grep -qw overlay /proc/filesystems 2>/dev/null || modprobe overlay 2>/dev/null || true
    t=$(mktemp -d "$RUN/.ovl.XXXXXX")
    mkdir -p "$t/l" "$t/u" "$t/w" "$t/m"
    if mount -t overlay overlay -o "lowerdir=$t/l,upperdir=$t/u,workdir=$t/w" "$t/m" 2>/dev/null; then
        umount "$t/m"
    else
        rc=1
    fi
    rm -rf "$t"
    return $rc
}

storage_driver() {
    # Decided once per run directory: changing drivers would orphan the stored images.
    local f="$RUN/storage-driver"
    if [[ ! -s $f ]]; then
        if overlay_works; then echo overlay >"$f"; else echo vfs >"$f"; fi
    fi
    cat "$f"
}

render() { # render TEMPLATE OUT DRIVER
    local tmp backend=cni
    [[ -n $(netavark_path) ]] && backend=netavark
    tmp=$(mktemp "$2.XXXXXX")
    sed -e "s|@RUN@|$RUN|g" -e "s|@DRIVER@|$3|g" -e "s|@NETWORK_BACKEND@|$backend|g" "$1" >"$tmp"
    if cmp -s "$tmp" "$2"; then rm -f "$tmp"; else mv -f "$tmp" "$2"; fi
}

# ---------------------------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------------------------
start_podman() {
    if is_external podman; then
        log "podman: using external $(sock_for podman)"
        return 0
    fi
    if pid_alive "$PODMAN_PIDFILE" podman && ping_sock "$PODMAN_SOCK"; then
        log "podman: already running (pid $(<"$PODMAN_PIDFILE"), $PODMAN_SOCK)"
        return 0
    fi
    local driver
    driver=$(storage_driver)
    mkdir -p "$RUN/podman/storage" "$RUN/podman/runroot" "$RUN/podman/tmp" "$RUN/podman/networks"
    render "$TEMPLATES/containers.conf.in" "$PODMAN_CONTAINERS_CONF" "$driver"
    render "$TEMPLATES/storage.conf.in" "$PODMAN_STORAGE_CONF" "$driver"
    # A half-dead previous instance (pid alive, socket not answering): stop it first.
    stop_pid podman "$PODMAN_PIDFILE" podman
    rm -f "$PODMAN_SOCK"
    log "podman: starting service on $PODMAN_SOCK"
    {
        printf '\n==== %s podman system service ====\n' "$(date -Is)"
    } >>"$PODMAN_LOG"
    # Started from the run directory: whatever a daemon writes to its working directory lands
    # there, not in the caller's tree.
    (cd "$RUN" && CONTAINERS_CONF=$PODMAN_CONTAINERS_CONF CONTAINERS_STORAGE_CONF=$PODMAN_STORAGE_CONF \
        exec setsid nohup podman --root "$RUN/podman/storage" --runroot "$RUN/podman/runroot" \
        --storage-driver "$driver" --tmpdir "$RUN/podman/tmp" \
        system service --time=0 "unix://$PODMAN_SOCK") </dev/null >>"$PODMAN_LOG" 2>&1 9>&- &
    echo $! >"$PODMAN_PIDFILE"
    wait_ping podman "$PODMAN_SOCK" "$PODMAN_PIDFILE" "$PODMAN_LOG"
    log "podman: up (pid $(<"$PODMAN_PIDFILE"))"
}

start_docker() {
    if is_external docker; then
        log "docker: using external $(sock_for docker)"
        return 0
    fi
    if pid_alive "$DOCKER_PIDFILE" dockerd && ping_sock "$DOCKER_SOCK"; then
        log "docker: already running (pid $(<"$DOCKER_PIDFILE"), $DOCKER_SOCK)"
        return 0
    fi
    local driver
    driver=$(storage_driver)
    [[ $driver == overlay ]] && driver=overlay2
    mkdir -p "$RUN/docker/data" "$RUN/docker/exec"
    render "$TEMPLATES/daemon.json.in" "$RUN/docker/daemon.json" "$driver"
    stop_pid docker "$DOCKER_PIDFILE" dockerd
    rm -f "$DOCKER_SOCK" "$DOCKER_PIDFILE"
    if [[ -S /var/run/docker.sock ]] && ping_sock /var/run/docker.sock; then
        log "docker: warning: a system dockerd answers on /var/run/docker.sock; two dockerds share"
        log "docker: the docker0 bridge and iptables chains. Prefer POCKETDOCK_TEST_DOCKER=unix:///var/run/docker.sock"
    fi
    log "docker: starting dockerd on $DOCKER_SOCK"
    {
        printf '\n==== %s dockerd ====\n' "$(date -Is)"
    } >>"$DOCKER_LOG"
    (cd "$RUN" && exec setsid nohup dockerd --config-file "$RUN/docker/daemon.json" \
        --host "unix://$DOCKER_SOCK" --data-root "$RUN/docker/data" \
        --exec-root "$RUN/docker/exec" --pidfile "$DOCKER_PIDFILE" \
        --storage-driver "$driver") </dev/null >>"$DOCKER_LOG" 2>&1 9>&- &
    local pid=$!
    # dockerd writes the pidfile itself a moment later; record it now so a failure is seen.
    echo "$pid" >"$DOCKER_PIDFILE.starting"
    local deadline=$((SECONDS + TIMEOUT))
    while ! ping_sock "$DOCKER_SOCK"; do
        if ! proc_running "$pid"; then
            rm -f "$DOCKER_PIDFILE.starting"
            log "dockerd exited during startup; last lines of $DOCKER_LOG:"
            tail -n 40 "$DOCKER_LOG" >&2 || true
            die "docker did not start"
        fi
        if ((SECONDS >= deadline)); then
            log "dockerd did not answer GET /_ping on $DOCKER_SOCK within ${TIMEOUT}s; last lines of $DOCKER_LOG:"
            tail -n 40 "$DOCKER_LOG" >&2 || true
            die "docker did not start (pid $pid still running; run '$0 down' to stop it)"
        fi
        sleep 0.2
    done
    rm -f "$DOCKER_PIDFILE.starting"
    [[ -s $DOCKER_PIDFILE ]] || echo "$pid" >"$DOCKER_PIDFILE"
    log "docker: up (pid $(<"$DOCKER_PIDFILE"))"
}

# Processes that belong to our run directory: their command line mentions "$RUN/" and they are
# one of the engine programs (dockerd's containerd and shims, podman's conmon, ...).
our_processes() {
    local p cmd comm
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ $p == "$$" ]] && continue
        comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
        case $comm in
        podman | dockerd | containerd | containerd-shim* | conmon | runc | docker-proxy | netavark | aardvark-dns) ;;
        *) continue ;;
        esac
        # 2> before <: a process that ended meanwhile has no cmdline, which is no error to print.
        cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
        [[ $cmd == *"$RUN/"* ]] && echo "$p"
    done
    return 0
}

# Mounts under the run directory that the engines leave (podman keeps its storage's overlay
# directory bind-mounted): unmount them, deepest first, so the directory can be removed.
unmount_ours() {
    local m
    awk -v run="$RUN/" 'index($2, run) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do
            m=$(printf '%b' "${m//\\/\\0}") # /proc/mounts escapes spaces as \040
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
        done
}

# proc_start PID: the process's start time (clock ticks after boot), empty once it is gone. With
# the PID it names one process: a PID freed by a process that ended can be reused by another.
proc_start() {
    local stat
    local -a fields
    { stat=$(<"/proc/$1/stat"); } 2>/dev/null || return 0
    stat=${stat##*) } # the command name (field 2) may hold spaces and parentheses
    read -ra fields <<<"$stat"
    printf '%s' "${fields[19]}" # field 22 of proc(5); fields[0] is field 3
}

# kill_wait SECONDS PID...: SIGTERM, wait, then SIGKILL. Each PID is pinned to the process it names
# on entry (its start time), so a PID reused meanwhile by someone else's process is never signalled
# (thousands of podman conmons end during a test run, and the kernel hands their PIDs out again).
kill_wait() {
    local secs=$1 p deadline
    local -A start=()
    local -a alive
    shift
    for p in "$@"; do
        [[ $p =~ ^[0-9]+$ ]] && start[$p]=$(proc_start "$p")
    done
    # ours PID: still running, and still the process it was on entry.
    ours() { [[ -n ${start[$1]} ]] && proc_running "$1" && [[ $(proc_start "$1") == "${start[$1]}" ]]; }
    alive=()
    for p in "${!start[@]}"; do ours "$p" && alive+=("$p"); done
    ((${#alive[@]} > 0)) || return 0
    kill -TERM "${alive[@]}" 2>/dev/null || true
    deadline=$((SECONDS + secs))
    while :; do
        alive=()
        for p in "${!start[@]}"; do ours "$p" && alive+=("$p"); done
        ((${#alive[@]} == 0)) && return 0
        if ((SECONDS >= deadline)); then
            log "SIGKILL ${alive[*]}"
            kill -KILL "${alive[@]}" 2>/dev/null || true
            sleep 0.5
            return 0
        fi
        sleep 0.2
    done
}

# stop_pid ENGINE PIDFILE COMM: stop the recorded process (if it is still ours).
stop_pid() {
    local engine=$1 pidfile=$2 comm=$3 pid
    if pid_alive "$pidfile" "$comm"; then
        pid=$(<"$pidfile")
        log "$engine: stopping pid $pid"
        kill_wait 15 "$pid"
    fi
    rm -f "$pidfile"
}

stop_podman() {
    if is_external podman; then log "podman: external $(sock_for podman), not stopping"; return 0; fi
    if pid_alive "$PODMAN_PIDFILE" podman && ping_sock "$PODMAN_SOCK"; then
        # The service does not stop containers when it exits and their conmon processes would
        # stay behind: stop running containers first (they are kept, not removed).
        local running
        running=$(P ps -q 2>/dev/null || true)
        if [[ -n $running ]]; then
            log "podman: stopping running containers: $(echo "$running" | tr '\n' ' ')"
            # shellcheck disable=SC2086
            P stop --time 3 $running >/dev/null 2>&1 || true
        fi
    fi
    stop_pid podman "$PODMAN_PIDFILE" podman
    rm -f "$PODMAN_SOCK"
}

stop_docker() {
    if is_external docker; then log "docker: external $(sock_for docker), not stopping"; return 0; fi
    # dockerd would stop its containers itself when it exits, but with each one's own stop
    # timeout (10 s by default): stop them first with a short one (they are kept, not removed).
    if pid_alive "$DOCKER_PIDFILE" dockerd && ping_sock "$DOCKER_SOCK"; then
        local running
        running=$(D ps -q 2>/dev/null || true)
        if [[ -n $running ]]; then
            log "docker: stopping running containers: $(echo "$running" | tr '\n' ' ')"
            # shellcheck disable=SC2086
            D stop --time 3 $running >/dev/null 2>&1 || true
        fi
    fi
    # dockerd takes its containerd down with it.
    stop_pid docker "$DOCKER_PIDFILE" dockerd
    if [[ -s $DOCKER_PIDFILE.starting ]]; then
        local p
        p=$(<"$DOCKER_PIDFILE.starting")
        if [[ $(cat "/proc/$p/comm" 2>/dev/null) == dockerd ]]; then kill_wait 15 "$p"; fi
        rm -f "$DOCKER_PIDFILE.starting"
    fi
    rm -f "$DOCKER_SOCK"
}

# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------
# image_label ENGINE IMAGE: the image's pocketdock.recipe label, or nothing if absent.
image_label() {
    local out
    case $1 in
    podman) out=$(P image inspect --format '{{index .Labels "pocketdock.recipe"}}' "$2" 2>/dev/null) || return 0 ;;
    docker) out=$(D image inspect --format '{{index .Config.Labels "pocketdock.recipe"}}' "$2" 2>/dev/null) || return 0 ;;
    esac
    [[ $out == "<no value>" ]] && out=""
    printf '%s' "$out"
}

image_exists() {
    case $1 in
    podman) P image exists "$2" 2>/dev/null ;;
    docker) D image inspect "$2" >/dev/null 2>&1 ;;
    esac
}

# import_tar ENGINE TAR IMAGE RECIPE CMD-JSON
import_tar() {
    local engine=$1 tar=$2 image=$3 recipe=$4 cmd=$5
    local -a changes=(
        --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        --change "LABEL pocketdock.recipe=$recipe"
        --change "CMD $cmd"
    )
    log "$engine: importing $image"
    case $engine in
    podman) P import "${changes[@]}" "$tar" "$image" >/dev/null ;;
    docker) D import "${changes[@]}" "$tar" "$image" >/dev/null ;;
    esac
}

busybox_recipe() {
    printf 'v%s-%s' "$BUSYBOX_RECIPE_VERSION" "$(sha256sum /bin/busybox | cut -c1-12)"
}

# A rootfs with busybox-static as every command, root and sandbox (uid 1000) users.
make_busybox_tar() {
    local out=$1 dir applet
    dir=$(mktemp -d "$CACHE/busybox-root.XXXXXX")
    mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,root,home/sandbox,tmp,var/tmp,proc,sys,dev,run}
    cp /bin/busybox "$dir/bin/busybox"
    while read -r applet; do
        [[ -z $applet || -e $dir/$applet || -L $dir/$applet ]] && continue
        ln -s /bin/busybox "$dir/$applet"
    done < <(/bin/busybox --list-full)
    [[ -e $dir/bin/sh ]] || ln -s /bin/busybox "$dir/bin/sh"
    cat >"$dir/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
sandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$dir/etc/group" <<'EOF'
root:x:0:
sandbox:x:1000:
nogroup:x:65534:
EOF
    echo 'hosts: files dns' >"$dir/etc/nsswitch.conf"
    chmod 1777 "$dir/tmp" "$dir/var/tmp"
    chmod 700 "$dir/root"
    chown 1000:1000 "$dir/home/sandbox"
    tar --numeric-owner -C "$dir" -cf "$out.tmp" .
    mv -f "$out.tmp" "$out"
    rm -rf "$dir"
}

ensure_busybox_image() {
    local recipe tar engine
    recipe=$(busybox_recipe)
    tar="$CACHE/busybox-rootfs.tar"
    for engine in $ENGINES; do
        [[ $(image_label "$engine" "$BUSYBOX_IMAGE") == "$recipe" ]] && continue
        if [[ ! -s $tar || ! -s $tar.recipe || $(<"$tar.recipe") != "$recipe" ]]; then
            log "making busybox rootfs"
            make_busybox_tar "$tar"
            echo "$recipe" >"$tar.recipe"
        fi
        import_tar "$engine" "$tar" "$BUSYBOX_IMAGE" "$recipe" '["sh"]'
    done
}

debian_tar() { printf '%s' "$CACHE/debian-$DEBIAN_SUITE-minbase-v$BASE_RECIPE_VERSION.tar"; }

# debootstrap a Debian minbase with python3 once per run directory, cached as a tar.
make_debian_tar() {
    local out dir
    out=$(debian_tar)
    [[ -s $out ]] && return 0
    log "debootstrap $DEBIAN_SUITE minbase (+$DEBIAN_INCLUDE), about a minute, cached as $out"
    dir=$(mktemp -d "$CACHE/debian-root.XXXXXX")
    local -a args=(--variant=minbase "--include=$DEBIAN_INCLUDE" "$DEBIAN_SUITE" "$dir")
    [[ -n ${POCKETDOCK_DEBIAN_MIRROR:-} ]] && args+=("$POCKETDOCK_DEBIAN_MIRROR")
    if ! debootstrap "${args[@]}" >"$CACHE/debootstrap.log" 2>&1; then
        tail -n 30 "$CACHE/debootstrap.log" >&2 || true
        # debootstrap leaves /proc etc. mounted on failure
        umount -R "$dir/proc" "$dir/sys" 2>/dev/null || true
        rm -rf "$dir"
        die "debootstrap failed (log: $CACHE/debootstrap.log)"
    fi
    # Shrink: package caches and lists, docs (keep copyright files), man pages, translations.
    rm -rf "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* \
        "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/* "$dir"/var/log/*.log \
        "$dir"/var/cache/debconf/*-old "$dir"/var/lib/dpkg/*-old
    find "$dir/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
    find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    tar --numeric-owner -C "$dir" -cf "$out.tmp" .
    mv -f "$out.tmp" "$out"
    rm -rf "$dir"
    log "debian rootfs: $(du -h "$out" | cut -f1)"
}

ensure_base_image() {
    local recipe engine need=()
    recipe="v$BASE_RECIPE_VERSION-$DEBIAN_SUITE-$DEBIAN_INCLUDE"
    for engine in $ENGINES; do
        [[ $(image_label "$engine" "$BASE_IMAGE") == "$recipe" ]] || need+=("$engine")
    done
    ((${#need[@]} > 0)) || return 0
    make_debian_tar
    for engine in "${need[@]}"; do
        import_tar "$engine" "$(debian_tar)" "$BASE_IMAGE" "$recipe" '["bash"]'
    done
}

# Hash of the image's build context and the base image's id: rebuild when either changes.
python_recipe() {
    local engine=$1 base_id ctx
    case $engine in
    podman) base_id=$(P image inspect --format '{{.Id}}' "$BASE_IMAGE") ;;
    docker) base_id=$(D image inspect --format '{{.Id}}' "$BASE_IMAGE") ;;
    esac
    ctx=$(cd "$IMAGE_DIR/.." && find "${IMAGE_DIR##*/}" setup -type f ! -name '*.pyc' \
        ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum |
        cut -c1-16)
    printf 'v%s-%s-%s' "$PYTHON_RECIPE_VERSION" "$ctx" "${base_id#sha256:}" | cut -c1-40
}

# The pocketdock CLI of this checkout (debug build, shared with the tests), if cargo is here.
pocketdock_cli() {
    [[ ${POCKETDOCK_ENGINE_CLI_BUILD:-1} == 1 ]] || return 1
    local cargo
    cargo=$(command -v cargo || true)
    [[ -z $cargo && -x $HOME/.cargo/bin/cargo ]] && cargo=$HOME/.cargo/bin/cargo
    [[ -n $cargo ]] || return 1
    (cd "$REPO" && "$cargo" build -q -p pocketdock-cli) >"$RUN/build-cli.log" 2>&1 || {
        log "building the pocketdock CLI failed (log: $RUN/build-cli.log); using the engine CLI"
        return 1
    }
    printf '%s' "$REPO/target/debug/pocketdock"
}

ensure_python_image() {
    local engine recipe
    for engine in $ENGINES; do
        recipe=$(python_recipe "$engine")
        [[ $(image_label "$engine" "$PYTHON_IMAGE") == "$recipe" ]] && continue
        # The product's own build path (pocketdock build: the profile context embedded in the
        # binary, streamed to the engine's build endpoint) when cargo is here; the engine CLI
        # otherwise (a machine without a Rust toolchain).
        local cli
        if cli=$(pocketdock_cli); then
            log "$engine: building $PYTHON_IMAGE with pocketdock build (base $BASE_IMAGE)"
            if POCKETDOCK_SOCKET="unix://$(sock_for "$engine")" "$cli" build minimal-python \
                --base "$BASE_IMAGE" --tag "$PYTHON_IMAGE" --label "pocketdock.recipe=$recipe" \
                >"$RUN/build-$engine.log" 2>&1; then
                continue
            fi
            tail -n 30 "$RUN/build-$engine.log" >&2
            die "pocketdock build failed (log: $RUN/build-$engine.log)"
        fi
        # The profile's folder plus the shared setup scripts, as `pocketdock build` sends them.
        local ctx_dir=$RUN/python-context
        rm -rf "$ctx_dir"
        cp -r "$IMAGE_DIR" "$ctx_dir"
        cp -r "$IMAGE_DIR/../setup" "$ctx_dir/setup"
        log "$engine: building $PYTHON_IMAGE from $IMAGE_DIR and $REPO/images/setup"
        local -a args=(--build-arg "BASE=$BASE_IMAGE" --label "pocketdock.recipe=$recipe"
            -t "$PYTHON_IMAGE" "$ctx_dir")
        case $engine in
        podman) P build --pull=never "${args[@]}" >"$RUN/build-podman.log" 2>&1 || {
            tail -n 30 "$RUN/build-podman.log" >&2; die "podman build failed (log: $RUN/build-podman.log)"; } ;;
        docker) D build --pull=false "${args[@]}" >"$RUN/build-docker.log" 2>&1 || {
            tail -n 30 "$RUN/build-docker.log" >&2; die "docker build failed (log: $RUN/build-docker.log)"; } ;;
        esac
    done
    # Drop dangling layers left by rebuilds.
    engine_enabled podman && { P image prune -f >/dev/null 2>&1 || true; }
    engine_enabled docker && { D image prune -f >/dev/null 2>&1 || true; }
    return 0
}

# ---------------------------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------------------------
cmd_up() {
    local t0=$SECONDS
    ensure_packages
    mkdir -p "$CACHE"
    engine_enabled podman && start_podman
    engine_enabled docker && start_docker
    ensure_busybox_image
    ensure_base_image
    ensure_python_image
    log "up in $((SECONDS - t0))s; run directory $RUN"
    cmd_env
}

cmd_down() {
    engine_enabled podman && stop_podman
    engine_enabled docker && stop_docker
    # Leftovers that belong to our run directory (conmon, containerd, shims, ...).
    local -a left
    mapfile -t left < <(our_processes)
    if ((${#left[@]} > 0)); then
        log "stopping leftovers: ${left[*]}"
        kill_wait 15 "${left[@]}"
    fi
    mapfile -t left < <(our_processes)
    ((${#left[@]} == 0)) || die "processes still running: ${left[*]}"
    # Sockets the engines leave behind (containerd's under docker/exec, podman's attach sockets).
    rm -f "$PODMAN_SOCK" "$DOCKER_SOCK"
    local d
    for d in "$RUN/docker/exec" "$RUN/podman/tmp" "$RUN/podman/runroot"; do
        [[ -d $d ]] && find "$d" -xdev -type s -delete 2>/dev/null
    done
    unmount_ours
    log "down"
}

cmd_env() {
    local rc=0 sock engine var
    for engine in podman docker; do
        case $engine in
        podman) var=POCKETDOCK_TEST_PODMAN ;;
        docker) var=POCKETDOCK_TEST_DOCKER ;;
        esac
        sock=$(sock_for "$engine")
        if engine_enabled "$engine" && ping_sock "$sock"; then
            echo "export $var=unix://$sock"
        else
            log "$engine: not answering on $sock"
            rc=1
        fi
    done
    return $rc
}

cmd_status() {
    local engine sock pidfile comm state img rc=0
    echo "run directory: $RUN"
    for engine in podman docker; do
        sock=$(sock_for "$engine")
        case $engine in
        podman) pidfile=$PODMAN_PIDFILE comm=podman ;;
        docker) pidfile=$DOCKER_PIDFILE comm=dockerd ;;
        esac
        if is_external "$engine"; then
            state="external, socket $sock"
        elif pid_alive "$pidfile" "$comm" && ping_sock "$sock"; then
            state="running, pid $(<"$pidfile"), socket $sock"
        elif pid_alive "$pidfile" "$comm"; then
            state="NOT ANSWERING, pid $(<"$pidfile"), socket $sock"
            rc=1
        else
            state="not running"
            rc=1
        fi
        echo "$engine: $state"
        if ping_sock "$sock"; then
            for img in "$BUSYBOX_IMAGE" "$BASE_IMAGE" "$PYTHON_IMAGE"; do
                if image_exists "$engine" "$img"; then echo "  image $img: present"; else echo "  image $img: missing"; rc=1; fi
            done
        fi
    done
    local tar
    tar=$(debian_tar)
    if [[ -s $tar ]]; then echo "rootfs cache: $tar ($(du -h "$tar" | cut -f1))"; else echo "rootfs cache: none"; fi
    return $rc
}

cmd_clean() {
    local engine ids
    for engine in $ENGINES; do
        ping_sock "$(sock_for "$engine")" || { log "$engine: not running, skipped"; continue; }
        case $engine in
        podman) ids=$(P ps -aq --filter label=pocketdock.managed=true) ;;
        docker) ids=$(D ps -aq --filter label=pocketdock.managed=true) ;;
        esac
        if [[ -z $ids ]]; then log "$engine: no pocketdock.managed containers"; continue; fi
        log "$engine: removing $(echo "$ids" | wc -l) container(s)"
        # shellcheck disable=SC2086
        case $engine in
        podman) P rm -f $ids >/dev/null ;;
        docker) D rm -f $ids >/dev/null ;;
        esac
    done
}

# Smoke test: what the tests rely on. (ok/bad always succeed, so `A && ok || bad` is fine.)
# shellcheck disable=SC2015
cmd_check() {
    local engine sock out t0 t1 ms cid port=18080 fail=0
    for engine in $ENGINES; do
        sock=$(sock_for "$engine")
        ping_sock "$sock" || { log "$engine: not running"; fail=1; continue; }
        local -a c
        case $engine in
        podman) c=(P) ;;
        docker) c=(D) ;;
        esac
        ok() { log "$engine: ok: $*"; }
        bad() { log "$engine: FAILED: $*"; fail=1; }

        out=$("${c[@]}" run --rm "$PYTHON_IMAGE" python3 -c 'print(2+2)' 2>&1) && [[ $out == 4 ]] &&
            ok "python3 prints 4" || bad "python3: $out"
        out=$("${c[@]}" run --rm "$PYTHON_IMAGE" id 2>&1) && [[ $out == "uid=1000(sandbox) gid=1000(sandbox)"* ]] &&
            ok "id: $out" || bad "id: $out"
        out=$("${c[@]}" run --rm "$BUSYBOX_IMAGE" sh -c 'id sandbox; ls -d /tmp /home/sandbox' 2>&1) &&
            ok "busybox: $(echo "$out" | tr '\n' ' ')" || bad "busybox: $out"

        cid=$("${c[@]}" run -d --label pocketdock.managed=true "$PYTHON_IMAGE") || { bad "run -d"; continue; }
        sleep 0.5
        t0=$(date +%s%N)
        "${c[@]}" stop "$cid" >/dev/null
        t1=$(date +%s%N)
        ms=$(((t1 - t0) / 1000000))
        ((ms < 1000)) && ok "stop took ${ms} ms" || bad "stop took ${ms} ms"
        "${c[@]}" rm -f "$cid" >/dev/null

        cid=$("${c[@]}" run -d --label pocketdock.managed=true -p "127.0.0.1:$port:80" "$BUSYBOX_IMAGE" \
            httpd -f -p 80 -h /etc) || { bad "run -d -p"; continue; }
        out=""
        for _ in $(seq 1 25); do
            out=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/passwd" 2>/dev/null) && break
            sleep 0.2
        done
        [[ $out == root:* ]] && ok "port 127.0.0.1:$port -> 80 publishes" || bad "port publishing: '$out'"
        "${c[@]}" rm -f "$cid" >/dev/null

        out=$("${c[@]}" run --rm -m 64m "$BUSYBOX_IMAGE" sh -c \
            'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes' 2>&1) &&
            [[ $out == 67108864 ]] && ok "memory limit 64m -> $out" || bad "memory limit: $out"
        local rc=0
        out=$("${c[@]}" run --rm -m 32m --memory-swap 32m "$PYTHON_IMAGE" python3 -c \
            'b = bytearray(200 * 1024 * 1024); print("survived")' 2>&1) || rc=$?
        ((rc == 137)) && ok "allocating 200 MB under -m 32m: OOM-killed (exit 137)" ||
            bad "allocating 200 MB under -m 32m: exit $rc: $out"

        # Docker-compatible API: a short name resolves to the local image without a registry.
        local name
        for name in pocketdock/minimal-python pocketdock/busybox; do
            out=$(curl -sS --max-time 20 --unix-socket "$sock" -H 'Content-Type: application/json' \
                -d "{\"Image\":\"$name\",\"Labels\":{\"pocketdock.managed\":\"true\"}}" \
                -w ' %{http_code}' http://localhost/v1.41/containers/create 2>&1)
            if [[ $out == *' 201' ]]; then
                cid=$(sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p' <<<"$out")
                ok "POST /containers/create {\"Image\":\"$name\"} -> 201"
                curl -sS --max-time 20 --unix-socket "$sock" -X DELETE "http://localhost/v1.41/containers/$cid?force=1" >/dev/null
            else
                bad "POST /containers/create {\"Image\":\"$name\"}: $out"
            fi
        done
        out=$(curl -sS --max-time 10 --unix-socket "$sock" "http://localhost/v1.41/images/$PYTHON_IMAGE/json" |
            sed -n 's/.*"RepoTags":\[\([^]]*\)\].*/\1/p')
        ok "GET /images/$PYTHON_IMAGE/json RepoTags: $out"
    done
    return $fail
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

main() {
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    case $cmd in
    up) with_lock cmd_up ;;
    down) with_lock cmd_down ;;
    # (`|| exit`: a non-zero answer here is a result, not an error for the ERR trap)
    status) cmd_status || exit $? ;;
    env) cmd_env || exit $? ;;
    clean) cmd_clean ;;
    check) cmd_check || exit $? ;;
    podman) P "$@" || exit $? ;;
    docker) D "$@" || exit $? ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
    esac
}

main "$@"
