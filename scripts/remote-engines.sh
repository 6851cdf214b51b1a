#!/usr/bin/env bash
# A second Docker and a second Podman "on another machine" for pocketdock's remote-transport
# tests: both run inside a network namespace of their own, reached over a veth pair.
#
#   scripts/remote-engines.sh up     install what is missing, start both engines and sshd
#   scripts/remote-engines.sh down   stop them and remove the namespace (images stay cached)
#   scripts/remote-engines.sh env    print the exports the tests read (see below)
#   scripts/remote-engines.sh status
#
# Inside the namespace ($NETNS, address $INSIDE; this side is $OUTSIDE):
#   dockerd   -H tcp://$INSIDE:2376 --tlsverify (a CA, server and client certificates made
#             here with openssl) and -H unix://$RUN/docker.sock (for ssh and for loading images)
#   podman    system service on unix://$RUN/podman.sock, reached over ssh
#   sshd      on $INSIDE:22, a key made here, root login by key only; the client side is an
#             ssh config ($RUN/ssh/config) with its own known_hosts
# Each engine has its own data, exec and run directories, its own containerd, bridge and
# iptables (those of the namespace): nothing is shared with the main engines of
# scripts/engines.sh, whose images (busybox, minimal-python) are copied in with save/load.
#
# `env` prints:
#   POCKETDOCK_TEST_DOCKER_TLS   tcp://$INSIDE:2376
#   POCKETDOCK_TEST_TLS_DIR      ca.pem, cert.pem, key.pem of the client (DOCKER_CERT_PATH)
#   POCKETDOCK_TEST_TLS_WRONG_CA a directory whose ca.pem did not sign the server's certificate
#   POCKETDOCK_TEST_TLS_NO_CERT  a directory with the right ca.pem and no client certificate
#   POCKETDOCK_TEST_PODMAN_SSH   ssh://root@$INSIDE:22$RUN/podman.sock
#   POCKETDOCK_TEST_DOCKER_SSH   ssh://root@$INSIDE:22$RUN/docker.sock
#   POCKETDOCK_SSH_CONFIG        the ssh config pocketdock's ssh client uses
#   POCKETDOCK_TEST_SSH_BAD_KEY  an ssh config whose known_hosts holds another key for $INSIDE
#
# Knobs: POCKETDOCK_REMOTE_RUN_DIR (default <repo>/.run/remote), POCKETDOCK_REMOTE_NETNS
# (default pdremote), POCKETDOCK_REMOTE_NET (first three octets, default 10.231.0),
# POCKETDOCK_SKIP_APT=1, POCKETDOCK_ENGINE_TIMEOUT (seconds, default 60).
set -euo pipefail
set -E
trap 'printf "[remote-engines] error: command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$SCRIPT_DIR/.." && pwd -P)
TEMPLATES="$SCRIPT_DIR/engines"
TIMEOUT=${POCKETDOCK_ENGINE_TIMEOUT:-60}
NETNS=${POCKETDOCK_REMOTE_NETNS:-pdremote}
NET=${POCKETDOCK_REMOTE_NET:-10.231.0}
OUTSIDE=$NET.1
INSIDE=$NET.2
VETH_OUT=${NETNS}0
VETH_IN=${NETNS}1
IMAGES=(pocketdock/busybox:latest pocketdock/minimal-python:latest)
export DOCKER_API_VERSION=1.41

log() { printf '[remote-engines] %s\n' "$*" >&2; }
die() { printf '[remote-engines] error: %s\n' "$*" >&2; exit 1; }

# The run directory: short, since dockerd's containerd socket sits 42 bytes below it.
RUN=${POCKETDOCK_REMOTE_RUN_DIR:-$REPO/.run/remote}
mkdir -p "$RUN"
RUN=$(cd "$RUN" && pwd -P)
if (( ${#RUN} + 42 >= 100 )); then
    RUN="/tmp/pdremote-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)"
    mkdir -p "$RUN"
fi
TLS=$RUN/tls
SSH=$RUN/ssh

# Only the network namespace is entered: `ip netns exec` would also remount /sys in a mount
# namespace of its own, hiding the cgroup mounts the engines need.
in_ns() { nsenter --net="/var/run/netns/$NETNS" "$@"; }

ensure_packages() {
    local -a missing=()
    [[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
    command -v ssh >/dev/null || missing+=(openssh-client)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v ip >/dev/null || missing+=(iproute2)
    command -v curl >/dev/null || missing+=(curl)
    ((${#missing[@]} == 0)) && return 0
    [[ ${POCKETDOCK_SKIP_APT:-} == 1 ]] && die "missing packages: ${missing[*]}"
    log "installing: ${missing[*]}"
    # Keep the packages' maintainer scripts from starting a system-wide sshd.
    local policy=/usr/sbin/policy-rc.d made=0 rc=0
    if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made=1; fi
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; } >&2 || rc=$?
    ((made)) && rm -f "$policy"
    ((rc == 0)) || die "apt-get install ${missing[*]} failed"
}

# ---------------------------------------------------------------------------------------------
# The namespace and its link
# ---------------------------------------------------------------------------------------------
net_up() {
    if ! ip netns list | grep -qw "$NETNS"; then
        ip netns add "$NETNS"
    fi
    if ! ip link show "$VETH_OUT" >/dev/null 2>&1; then
        ip link add "$VETH_OUT" type veth peer name "$VETH_IN"
        ip link set "$VETH_IN" netns "$NETNS"
        ip addr add "$OUTSIDE/30" dev "$VETH_OUT"
        ip link set "$VETH_OUT" up
        in_ns ip addr add "$INSIDE/30" dev "$VETH_IN"
        in_ns ip link set "$VETH_IN" up
        in_ns ip link set lo up
        in_ns ip route add default via "$OUTSIDE" 2>/dev/null || true
    fi
    ping -c1 -W2 "$INSIDE" >/dev/null 2>&1 || in_ns true
}

net_down() {
    ip link del "$VETH_OUT" 2>/dev/null || true
    ip netns del "$NETNS" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# Certificates (made once per run directory)
# ---------------------------------------------------------------------------------------------
make_ca() { # make_ca DIR NAME
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$2" \
        -keyout "$1/ca-key.pem" -out "$1/ca.pem" 2>/dev/null
}

sign() { # sign CA_DIR OUT_PREFIX CN EXT_FILE
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$3" -keyout "$2-key.pem" -out "$2.csr" 2>/dev/null
    openssl x509 -req -in "$2.csr" -CA "$1/ca.pem" -CAkey "$1/ca-key.pem" -CAcreateserial \
        -days 3650 -extfile "$4" -out "$2-cert.pem" 2>/dev/null
    rm -f "$2.csr"
}

make_certs() {
    [[ -s $TLS/client/key.pem && -s $TLS/server-cert.pem && -e $TLS/.for-$INSIDE ]] && return 0
    log "tls: making a CA, a server certificate for $INSIDE and a client certificate"
    rm -rf "$TLS"
    mkdir -p "$TLS/ca" "$TLS/other-ca" "$TLS/client" "$TLS/wrong-ca" "$TLS/no-cert"
    make_ca "$TLS/ca" "pocketdock-test-ca"
    make_ca "$TLS/other-ca" "pocketdock-other-ca"
    printf 'subjectAltName = IP:%s\nextendedKeyUsage = serverAuth\n' "$INSIDE" >"$TLS/server.ext"
    printf 'extendedKeyUsage = clientAuth\n' >"$TLS/client.ext"
    sign "$TLS/ca" "$TLS/server" "$INSIDE" "$TLS/server.ext"
    sign "$TLS/ca" "$TLS/client/c" "pocketdock-client" "$TLS/client.ext"
    mv "$TLS/client/c-cert.pem" "$TLS/client/cert.pem"
    mv "$TLS/client/c-key.pem" "$TLS/client/key.pem"
    cp "$TLS/ca/ca.pem" "$TLS/client/ca.pem"
    # The refusal cases: a CA that did not sign the server, and no client certificate.
    cp "$TLS/other-ca/ca.pem" "$TLS/wrong-ca/ca.pem"
    cp "$TLS/client/cert.pem" "$TLS/client/key.pem" "$TLS/wrong-ca/"
    cp "$TLS/ca/ca.pem" "$TLS/no-cert/ca.pem"
    chmod 600 "$TLS"/*/*key.pem "$TLS"/*-key.pem
    touch "$TLS/.for-$INSIDE"
}

# ---------------------------------------------------------------------------------------------
# Engines and sshd, each a background process of its own inside the namespace
# ---------------------------------------------------------------------------------------------
ping_sock() {
    [[ -S $1 ]] && [[ $(curl -fsS --max-time 5 --unix-socket "$1" http://localhost/_ping 2>/dev/null) == OK ]]
}

alive() { # alive PIDFILE
    [[ -s $1 ]] && kill -0 "$(<"$1")" 2>/dev/null
}

wait_for() { # wait_for NAME PIDFILE LOG CHECK...
    local name=$1 pidfile=$2 logf=$3 deadline=$((SECONDS + TIMEOUT))
    shift 3
    until "$@"; do
        if ! alive "$pidfile"; then
            tail -n 30 "$logf" >&2 || true
            die "$name exited during startup"
        fi
        ((SECONDS < deadline)) || { tail -n 30 "$logf" >&2 || true; die "$name did not start in ${TIMEOUT}s"; }
        sleep 0.2
    done
}

start_docker() {
    if alive "$RUN/docker.pid" && ping_sock "$RUN/docker.sock"; then return 0; fi
    local driver=overlay2
    [[ -s $REPO/.run/storage-driver && $(<"$REPO/.run/storage-driver") == vfs ]] && driver=vfs
    mkdir -p "$RUN/docker/data" "$RUN/docker/exec"
    sed -e "s|@RUN@|$RUN|g" "$TEMPLATES/daemon.json.in" >"$RUN/docker/daemon.json"
    rm -f "$RUN/docker.sock"
    log "docker: dockerd in $NETNS on tcp://$INSIDE:2376 (TLS) and $RUN/docker.sock"
    (cd "$RUN" && exec setsid nohup nsenter --net="/var/run/netns/$NETNS" dockerd \
        --config-file "$RUN/docker/daemon.json" \
        -H "unix://$RUN/docker.sock" -H "tcp://$INSIDE:2376" \
        --tlsverify --tlscacert "$TLS/ca/ca.pem" --tlscert "$TLS/server-cert.pem" \
        --tlskey "$TLS/server-key.pem" \
        --data-root "$RUN/docker/data" --exec-root "$RUN/docker/exec" \
        --pidfile "$RUN/docker/dockerd.pid" --storage-driver "$driver") \
        </dev/null >>"$RUN/docker.log" 2>&1 9>&- &
    echo $! >"$RUN/docker.pid"
    wait_for dockerd "$RUN/docker.pid" "$RUN/docker.log" ping_sock "$RUN/docker.sock"
}

start_podman() {
    if alive "$RUN/podman.pid" && ping_sock "$RUN/podman.sock"; then return 0; fi
    local driver=overlay backend=cni
    [[ -s $REPO/.run/storage-driver ]] && driver=$(<"$REPO/.run/storage-driver")
    for p in /usr/libexec/podman/netavark /usr/lib/podman/netavark; do [[ -x $p ]] && backend=netavark; done
    mkdir -p "$RUN/podman/storage" "$RUN/podman/runroot" "$RUN/podman/tmp" "$RUN/podman/networks"
    local r
    for r in containers.conf storage.conf; do
        sed -e "s|@RUN@|$RUN|g" -e "s|@DRIVER@|$driver|g" -e "s|@NETWORK_BACKEND@|$backend|g" \
            "$TEMPLATES/$r.in" >"$RUN/podman/$r"
    done
    rm -f "$RUN/podman.sock"
    log "podman: service in $NETNS on $RUN/podman.sock"
    (cd "$RUN" && CONTAINERS_CONF=$RUN/podman/containers.conf \
        CONTAINERS_STORAGE_CONF=$RUN/podman/storage.conf \
        exec setsid nohup nsenter --net="/var/run/netns/$NETNS" podman --root "$RUN/podman/storage" \
        --runroot "$RUN/podman/runroot" --storage-driver "$driver" --tmpdir "$RUN/podman/tmp" \
        system service --time=0 "unix://$RUN/podman.sock") </dev/null >>"$RUN/podman.log" 2>&1 9>&- &
    echo $! >"$RUN/podman.pid"
    wait_for podman "$RUN/podman.pid" "$RUN/podman.log" ping_sock "$RUN/podman.sock"
}

ssh_keys() {
    mkdir -p "$SSH"
    chmod 700 "$SSH"
    [[ -s $SSH/host_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C pocketdock-remote-host -f "$SSH/host_ed25519"
    [[ -s $SSH/other_host_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C other-host -f "$SSH/other_host_ed25519"
    [[ -s $SSH/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C pocketdock-test -f "$SSH/id_ed25519"
    cp "$SSH/id_ed25519.pub" "$SSH/authorized_keys"
    chmod 600 "$SSH/authorized_keys"
    printf '%s %s\n' "$INSIDE" "$(cut -d' ' -f1-2 "$SSH/host_ed25519.pub")" >"$SSH/known_hosts"
    printf '%s %s\n' "$INSIDE" "$(cut -d' ' -f1-2 "$SSH/other_host_ed25519.pub")" >"$SSH/known_hosts.wrong"
    local kh
    for kh in known_hosts known_hosts.wrong; do
        cat >"$SSH/config${kh#known_hosts}" <<EOF
# pocketdock's remote test engines (scripts/remote-engines.sh)
Host $INSIDE
    User root
    IdentityFile $SSH/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $SSH/$kh
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    ControlPersist 120
EOF
    done
    cat >"$SSH/sshd_config" <<EOF
ListenAddress $INSIDE:22
HostKey $SSH/host_ed25519
PidFile $RUN/sshd.pid
AuthorizedKeysFile $SSH/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
MaxSessions 100
MaxStartups 100:30:200
EOF
}

start_sshd() {
    if alive "$RUN/sshd.pid"; then return 0; fi
    mkdir -p /run/sshd
    log "sshd: in $NETNS on $INSIDE:22"
    in_ns /usr/sbin/sshd -f "$SSH/sshd_config" -E "$RUN/sshd.log" 9>&-
    local deadline=$((SECONDS + TIMEOUT))
    until ssh -F "$SSH/config" -o BatchMode=yes -o ControlPath=none "$INSIDE" true 2>/dev/null; do
        ((SECONDS < deadline)) || { tail -n 20 "$RUN/sshd.log" >&2 || true; die "sshd did not answer"; }
        sleep 0.2
    done
}

# ---------------------------------------------------------------------------------------------
# Images: copied from the main engines (scripts/engines.sh), once
# ---------------------------------------------------------------------------------------------
has_image() { # has_image SOCK IMAGE
    curl -fsS --max-time 10 --unix-socket "$1" "http://localhost/v1.41/images/$2/json" >/dev/null 2>&1
}

copy_images() {
    local main_docker main_podman img missing
    # The main engines: from the environment (scripts/test.sh has set it), else engines.sh.
    if [[ -z ${POCKETDOCK_TEST_DOCKER:-} || -z ${POCKETDOCK_TEST_PODMAN:-} ]]; then
        eval "$("$SCRIPT_DIR/engines.sh" env)"
    fi
    main_docker=${POCKETDOCK_TEST_DOCKER#unix://}
    main_podman=${POCKETDOCK_TEST_PODMAN#unix://}
    missing=()
    for img in "${IMAGES[@]}"; do has_image "$RUN/docker.sock" "$img" || missing+=("$img"); done
    if ((${#missing[@]})); then
        log "docker: loading ${missing[*]} from the main docker"
        mkdir -p "$RUN/cli"
        [[ -s $RUN/cli/config.json ]] || echo '{}' >"$RUN/cli/config.json"
        DOCKER_CONFIG=$RUN/cli docker -H "unix://$main_docker" save "${missing[@]}" |
            DOCKER_CONFIG=$RUN/cli docker -H "unix://$RUN/docker.sock" load -q >&2
    fi
    missing=()
    for img in "${IMAGES[@]}"; do has_image "$RUN/podman.sock" "$img" || missing+=("$img"); done
    if ((${#missing[@]})); then
        log "podman: loading ${missing[*]} from the main podman"
        rm -f "$RUN/podman-images.tar"
        podman --url "unix://$main_podman" save -m -q -o "$RUN/podman-images.tar" "${missing[@]}"
        podman --url "unix://$RUN/podman.sock" load -q -i "$RUN/podman-images.tar" >&2
        rm -f "$RUN/podman-images.tar"
    fi
}

# ---------------------------------------------------------------------------------------------
cmd_up() {
    ((EUID == 0)) || die "run as root (network namespaces)"
    ensure_packages
    net_up
    make_certs
    ssh_keys
    start_docker
    start_podman
    start_sshd
    copy_images
    log "up: docker tcp://$INSIDE:2376 (TLS), podman and docker over ssh://root@$INSIDE"
}

stop_pidfile() { # stop_pidfile NAME PIDFILE
    local pid i
    alive "$2" || { rm -f "$2"; return 0; }
    pid=$(<"$2")
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$2"
    log "$1: stopped"
}

cmd_down() {
    # Containers first: their processes live in the namespace.
    local s
    for s in "$RUN/docker.sock" "$RUN/podman.sock"; do
        ping_sock "$s" || continue
        local ids
        ids=$(curl -fsS --max-time 20 --unix-socket "$s" "http://localhost/v1.41/containers/json?all=1" 2>/dev/null |
            grep -o '"Id":"[0-9a-f]*"' | cut -d'"' -f4 || true)
        for id in $ids; do
            curl -fsS --max-time 20 --unix-socket "$s" -X DELETE "http://localhost/v1.41/containers/$id?force=1" >/dev/null 2>&1 || true
        done
    done
    stop_pidfile sshd "$RUN/sshd.pid"
    stop_pidfile podman "$RUN/podman.pid"
    stop_pidfile dockerd "$RUN/docker.pid"
    # Anything else still in the namespace (containerd, shims, conmon).
    local pids
    pids=$(ip netns pids "$NETNS" 2>/dev/null || true)
    if [[ -n $pids ]]; then kill -TERM $pids 2>/dev/null || true; sleep 1; kill -KILL $pids 2>/dev/null || true; fi
    net_down
}

cmd_env() {
    cat <<EOF
export POCKETDOCK_TEST_DOCKER_TLS=tcp://$INSIDE:2376
export POCKETDOCK_TEST_TLS_DIR=$TLS/client
export POCKETDOCK_TEST_TLS_WRONG_CA=$TLS/wrong-ca
export POCKETDOCK_TEST_TLS_NO_CERT=$TLS/no-cert
export POCKETDOCK_TEST_PODMAN_SSH=ssh://root@$INSIDE:22$RUN/podman.sock
export POCKETDOCK_TEST_DOCKER_SSH=ssh://root@$INSIDE:22$RUN/docker.sock
export POCKETDOCK_SSH_CONFIG=$SSH/config
export POCKETDOCK_TEST_SSH_BAD_KEY=$SSH/config.wrong
export POCKETDOCK_TEST_REMOTE_DOCKER_SOCK=$RUN/docker.sock
export POCKETDOCK_TEST_REMOTE_PODMAN_SOCK=$RUN/podman.sock
EOF
}

cmd_status() {
    local ok=0
    alive "$RUN/docker.pid" && ping_sock "$RUN/docker.sock" && echo "docker: up ($RUN/docker.sock, tcp://$INSIDE:2376)" || { echo "docker: down"; ok=1; }
    alive "$RUN/podman.pid" && ping_sock "$RUN/podman.sock" && echo "podman: up ($RUN/podman.sock)" || { echo "podman: down"; ok=1; }
    alive "$RUN/sshd.pid" && echo "sshd: up ($INSIDE:22)" || { echo "sshd: down"; ok=1; }
    return $ok
}

case ${1:-} in
up) exec 9>"$RUN/.lock"; flock -w 600 9; cmd_up ;;
down) exec 9>"$RUN/.lock"; flock -w 600 9; cmd_down ;;
env) cmd_env ;;
status) cmd_status || exit $? ;;
*) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
