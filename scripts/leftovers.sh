#!/usr/bin/env bash
# What a test run left behind, counted rather than assumed: containers and images on the shared
# engines of scripts/engines.sh that were not there before the run, and processes still running
# from this checkout's build directory.
#
#   scripts/leftovers.sh before DIR   note the engines' containers and images now (in DIR)
#   scripts/leftovers.sh after DIR    count what is new since `before`, and this checkout's
#                                     processes; print one `leftover ...` line per engine and
#                                     one for processes, list what was found, exit 1 if any
#
# A relay (`pocketdock __agent-relay`) ends within seconds of its container's removal, so the
# process count waits up to POCKETDOCK_LEFTOVER_WAIT seconds (default 15) for this checkout's
# processes to end before it counts them.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$SCRIPT_DIR/.." && pwd -P)
WAIT=${POCKETDOCK_LEFTOVER_WAIT:-15}

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

# The engine's containers (all, any state) and images, one id per line, sorted.
listing() {
    local engine=$1 what=$2
    case $what in
    containers) "$SCRIPT_DIR/engines.sh" "$engine" ps -aq --no-trunc ;;
    images) "$SCRIPT_DIR/engines.sh" "$engine" images -q --no-trunc ;;
    esac | sort -u
}

# This checkout's processes (their command line names its build directory), but not this
# script's own pipeline.
own_processes() {
    pgrep -af -- "$REPO/target/" | grep -v -e "leftovers.sh" || true
}

cmd_before() {
    local dir=$1 engine what
    mkdir -p "$dir"
    for engine in podman docker; do
        for what in containers images; do
            listing "$engine" "$what" >"$dir/$engine.$what"
        done
    done
}

cmd_after() {
    local dir=$1 engine what new total=0 found procs n waited=0
    for engine in podman docker; do
        found=""
        for what in containers images; do
            [[ -f $dir/$engine.$what ]] || { echo "no \`before\` listing in $dir" >&2; exit 2; }
            new=$(comm -13 "$dir/$engine.$what" <(listing "$engine" "$what"))
            n=$(grep -c . <<<"$new" || true)
            found+=" $what=$n"
            total=$((total + n))
            if [[ $n != 0 ]]; then
                echo "$engine: new $what since the run began:" >&2
                # shellcheck disable=SC2086
                case $what in
                containers) "$SCRIPT_DIR/engines.sh" "$engine" container inspect --format '{{.Id}} {{.Name}} {{.Config.Labels}}' $new >&2 || true ;;
                images) "$SCRIPT_DIR/engines.sh" "$engine" image inspect --format '{{.Id}} {{.RepoTags}}' $new >&2 || true ;;
                esac
            fi
        done
        echo "leftover $engine$found"
    done
    procs=$(own_processes)
    while [[ -n $procs && $waited -lt $WAIT ]]; do
        sleep 1
        waited=$((waited + 1))
        procs=$(own_processes)
    done
    n=$(grep -c . <<<"$procs" || true)
    echo "leftover processes=$n"
    if [[ $n != 0 ]]; then
        echo "processes of this checkout still running:" >&2
        echo "$procs" >&2
    fi
    total=$((total + n))
    [[ $total == 0 ]]
}

main() {
    local cmd=${1:-help}
    case $cmd in
    before | after)
        [[ $# == 2 ]] || { usage >&2; exit 2; }
        "cmd_$cmd" "$2"
        ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
    esac
}

main "$@"
