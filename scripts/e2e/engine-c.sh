#!/usr/bin/env bash
# Engine C: the current standalone BuildKit (buildkitd + buildctl, built from the Go module proxy at a pinned
# release), OCI worker with bookworm's runc, as root on a unix socket, with the local registry as its image
# store. Runs beside engine A or B (no docker0, no dockerd): its own socket, root dir and env file.
#
#   scripts/e2e/engine-c.sh start [--restart]   # idempotent (also: scripts/e2e/provision.sh c)
#   scripts/e2e/engine-c.sh stop                # buildkitd only; the registry stays (registry.sh stop)
#   scripts/e2e/engine-c.sh status
#
# start: builds buildkitd/buildctl $E2E_BUILDKIT_VERSION once (cached in $E2E_CACHE/bin/buildkit-<version>,
# Go caches in $E2E_CACHE/go), starts the registry (registry.sh), registers qemu-aarch64 (binfmt_misc) and
# starts buildkitd with $E2E_RUN/buildkitd-c.toml: docker.io mirrored by http://127.0.0.1:5000, host network
# for build steps (no CNI; `network_mode: none` steps still get their own empty netns), platforms amd64 and
# arm64. Writes $E2E_RUN/engine-c.env (BUILDKIT_HOST, BUILDCTL, no DOCKER_HOST) for the e2e tests:
#   DALECPY_E2E_ENV=/run/dalecpy-e2e/engine-c.env pytest -m e2e tests/e2e
# Then scripts/e2e/base-images.sh --engine c pushes debian:bookworm and debian:trixie to the registry.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
need_root

ACTION=${1:-}
[ $# -gt 0 ] && shift
RESTART=0
for arg in "$@"; do
    case $arg in
        --restart) RESTART=1 ;;
        *) die "unknown option: $arg" ;;
    esac
done

BK_DIR="$E2E_CACHE/bin/buildkit-$E2E_BUILDKIT_VERSION"
CONF="$E2E_RUN/buildkitd-c.toml"
LOGF="$E2E_LOG/buildkitd-c.log"

buildctl_c() { "$C_BIN/buildctl" --addr "unix://$C_SOCK" "$@"; }
answers() { buildctl_c debug workers >/dev/null 2>&1; }

write_conf() {  # -> $CONF.new
    cat >"$CONF.new" <<EOF
# written by scripts/e2e/engine-c.sh
root = "$C_DATA"

[grpc]
  address = ["unix://$C_SOCK"]

[worker.oci]
  enabled = true
  binary = "$(command -v runc)"
  networkMode = "host"
  platforms = ["linux/amd64", "linux/arm64"]
  gc = true
  reservedSpace = "2GB"
  maxUsedSpace = "30GB"

[worker.containerd]
  enabled = false

# Engine C's image store is the local registry: docker.io names (debian:bookworm, dalecpy/frontend:latest)
# resolve to 127.0.0.1:5000/library/debian:bookworm, 127.0.0.1:5000/dalecpy/frontend:latest.
[registry."docker.io"]
  mirrors = ["$REGISTRY_ADDR"]

[registry."$REGISTRY_ADDR"]
  http = true
EOF
}

start() {
    local t0 t1 started=0
    t0=$(date +%s)
    mkdir -p "$E2E_CACHE" "$E2E_RUN" "$E2E_LOG" "$C_DATA" "$C_BIN"
    apt_ensure runc ca-certificates curl qemu-user-static debootstrap
    ensure_binfmt
    go_tool_build "$BK_DIR" github.com/moby/buildkit "$E2E_BUILDKIT_VERSION" buildkitd=cmd/buildkitd buildctl=cmd/buildctl
    ln -sfn "$BK_DIR/buildkitd" "$C_BIN/buildkitd"
    ln -sfn "$BK_DIR/buildctl" "$C_BIN/buildctl"
    "$HERE/registry.sh" start

    write_conf
    local want_cmd="$C_BIN/buildkitd --config $CONF"
    if pid_alive "$C_PIDFILE" && [ "$RESTART" = 0 ] && cmp -s "$CONF" "$CONF.new" \
        && [ "$(readlink -f "/proc/$(cat "$C_PIDFILE")/exe")" = "$(readlink -f "$BK_DIR/buildkitd")" ] && answers; then
        rm -f "$CONF.new"
        log "engine C buildkitd already running (pid $(cat "$C_PIDFILE"))"
    else
        pid_alive "$C_PIDFILE" && log "engine C: restarting buildkitd (--restart, new config or new binary)"
        stop_pidfile "engine C buildkitd" "$C_PIDFILE" 30
        mv "$CONF.new" "$CONF"
        rm -f "$C_SOCK"
        echo "=== $(date -Is) $want_cmd" >>"$LOGF"
        spawn_daemon "$LOGF" $want_cmd
        echo $! >"$C_PIDFILE"
        t1=$(date +%s)
        for _ in $(seq 120); do answers && break; pid_alive "$C_PIDFILE" || break; sleep 0.5; done
        answers || { tail -n 30 "$LOGF" >&2; die "engine C buildkitd did not come up (log: $LOGF)"; }
        log "engine C buildkitd ready in $(( $(date +%s) - t1 ))s (pid $(cat "$C_PIDFILE"), log $LOGF)"
        started=1
    fi

    local server client
    server=$(buildctl_c debug info 2>/dev/null | awk '/^BuildKit:/{print $3}' || true)
    client=$("$C_BIN/buildctl" --version | awk '{print $3}')
    {
        echo "# written by scripts/e2e/engine-c.sh at $(date -Is); source this file"
        echo "DALECPY_E2E_ENGINE=c"
        echo "unset DOCKER_HOST DOCKER_CLI DOCKER_CONTEXT"
        echo "export BUILDKIT_HOST=unix://$C_SOCK   # dalecpy build and buildctl read it"
        echo "export BUILDCTL=$C_BIN/buildctl"
        echo "export PATH=\"$C_BIN:\$PATH\""
        echo "export DALECPY_E2E_REGISTRY=$REGISTRY_ADDR"
        echo "DALECPY_E2E_BUILD=\"buildctl build\""
        echo "DALECPY_E2E_SERVER_VERSION=buildkitd-${server:-?}"
        echo "DALECPY_E2E_CLIENT_VERSION=buildctl-$client"
        echo "DALECPY_E2E_BUILDX_VERSION=none"
    } >"$C_ENV.tmp"
    mv "$C_ENV.tmp" "$C_ENV"
    log "engine C up: buildkitd ${server:-?} on unix://$C_SOCK, runc $(runc --version | awk 'NR==1{print $3}')," \
        "registry $REGISTRY_ADDR ($(( $(date +%s) - t0 ))s total$([ $started = 1 ] && echo ', started'))"
    log "use it with:  . $C_ENV"
}

case $ACTION in
start) start ;;
stop)
    stop_pidfile "engine C buildkitd" "$C_PIDFILE" 30
    rm -f "$C_SOCK" "$C_ENV"
    ;;
status)
    if pid_alive "$C_PIDFILE" && answers; then echo "running: unix://$C_SOCK (pid $(cat "$C_PIDFILE"))"
    else echo "not running"; exit 1; fi
    ;;
-h|--help|"") sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
*) die "unknown action: $ACTION (start|stop|status)" ;;
esac
