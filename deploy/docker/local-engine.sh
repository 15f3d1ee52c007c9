#!/usr/bin/env bash
# A private Docker engine on this machine, for building and trying the worker image without
# a system service (tests/deploy/test_docker.py). Everything it stores (images, containers,
# build cache) lives in DIR, so removing DIR after the stop leaves the disk as it was.
#
#   deploy/docker/local-engine.sh install         # Debian packages docker.io mmdebstrap
#   deploy/docker/local-engine.sh start DIR       # prints the DOCKER_HOST to export
#   export DOCKER_HOST=unix://DIR/docker.sock
#   deploy/docker/local-engine.sh stop DIR        # stops the engine and removes DIR
#
# No bridge network and no iptables rules: run containers with `--network host` (they then
# reach each other on 127.0.0.1) and build with `docker build --network host`. The daemon
# runs in the foreground under setsid; its PID is kept in DIR/dockerd.pid for the stop.
set -euo pipefail

# the docker.io package's client, of the engine's version (a newer client elsewhere on PATH
# may want the buildx plugin for `docker build`)
DOCKER=${DOCKER:-/usr/bin/docker}

die() { echo "local-engine: $*" >&2; exit 1; }

install_packages() {
    [ -x /usr/sbin/dockerd ] && command -v mmdebstrap >/dev/null && return 0
    [ "$(id -u)" = 0 ] || die "installing Docker needs root"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        docker.io mmdebstrap >/dev/null
}

start() {
    local dir t0 i
    [ -n "${1:-}" ] || die "usage: $0 start DIR"
    [ -x /usr/sbin/dockerd ] || die "Docker is not installed (run: $0 install)"
    mkdir -p "$1"
    dir=$(cd "$1" && pwd)
    t0=$(date +%s.%N)
    # a short exec-root: containerd's socket paths must stay under 108 characters
    mkdir -p "$dir/root"
    local exec_root
    exec_root=$(mktemp -d /tmp/hts-docker-exec.XXXXXX)
    echo "$exec_root" >"$dir/exec-root"
    setsid /usr/sbin/dockerd --data-root "$dir/root" --exec-root "$exec_root" \
        --pidfile "$dir/dockerd.daemon.pid" -H "unix://$dir/docker.sock" \
        --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
        >"$dir/dockerd.log" 2>&1 </dev/null &
    echo $! >"$dir/dockerd.pid"
    for ((i = 0; i < 300; i++)); do
        DOCKER_HOST=unix://$dir/docker.sock "$DOCKER" version >/dev/null 2>&1 && break
        kill -0 "$(cat "$dir/dockerd.pid")" 2>/dev/null || break
        sleep 0.1
    done
    if ! DOCKER_HOST=unix://$dir/docker.sock "$DOCKER" version >/dev/null 2>&1; then
        echo "local-engine: dockerd did not answer:" >&2
        tail -n 20 "$dir/dockerd.log" >&2 || true
        stop "$dir"
        exit 1
    fi
    echo "Docker engine up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s;" \
        "export DOCKER_HOST=unix://$dir/docker.sock"
}

stop() {
    local dir pid i
    [ -n "${1:-}" ] || die "usage: $0 stop DIR"
    [ -d "$1" ] || return 0
    dir=$(cd "$1" && pwd)
    if [ -f "$dir/dockerd.pid" ]; then
        pid=$(cat "$dir/dockerd.pid")
        if kill -0 "$pid" 2>/dev/null; then
            # containers first, so that none outlives the engine
            local ids
            ids=$(DOCKER_HOST=unix://$dir/docker.sock timeout 30 "$DOCKER" ps -aq 2>/dev/null || true)
            if [ -n "$ids" ]; then
                # shellcheck disable=SC2086 # one id per word
                DOCKER_HOST=unix://$dir/docker.sock timeout 60 "$DOCKER" rm -f $ids >/dev/null 2>&1 || true
            fi
            kill -TERM "$pid" 2>/dev/null || true
            for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    # the engine's mounts (overlay layers, the socket folder) before the files
    local exec_root=""
    [ -f "$dir/exec-root" ] && exec_root=$(cat "$dir/exec-root")
    awk '{print $2}' /proc/mounts | sort -r | while read -r mnt; do
        case "$mnt" in
            "$dir"/* | "${exec_root:-/nonexistent}"/* | "${exec_root:-/nonexistent}")
                umount -l "$mnt" 2>/dev/null || true ;;
        esac
    done
    [ -n "$exec_root" ] && rm -rf "$exec_root"
    rm -rf "$dir"
}

case "${1:-}" in
    install) install_packages ;;
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    *) die "usage: $0 install | start DIR | stop DIR" ;;
esac
