#!/usr/bin/env bash
# The e2e image registry: Debian's docker-registry (distribution 2.8) on 127.0.0.1:5000, plain HTTP, no auth.
#
#   scripts/e2e/registry.sh start|stop|status
#
# Engine C (standalone buildkitd) has no image store of its own: its buildkitd.toml makes this registry the
# docker.io mirror, so `debian:bookworm` and `dalecpy/frontend:latest` resolve to
# 127.0.0.1:5000/library/debian:bookworm and 127.0.0.1:5000/dalecpy/frontend:latest. Any engine can pull
# `127.0.0.1:5000/...` (dockerd treats 127.0.0.0/8 as an insecure registry by default).
# Its own config ($E2E_RUN/registry.yml), storage ($E2E_REGISTRY_DATA, default /var/lib/dalecpy-e2e/registry)
# and log ($E2E_LOG/registry.log: one line per request); the package's system service is never started.
# Idempotent; run as root.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
need_root

CONF=$E2E_RUN/registry.yml
LOGF=$E2E_LOG/registry.log

registry_up() { curl -fsS -o /dev/null "http://$REGISTRY_ADDR/v2/" 2>/dev/null; }

write_conf() {
    cat >"$CONF.tmp" <<EOF
# written by scripts/e2e/registry.sh
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $REGISTRY_DATA
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
    mv "$CONF.tmp" "$CONF"
}

case ${1:-} in
start)
    mkdir -p "$E2E_RUN" "$E2E_LOG" "$REGISTRY_DATA"
    if ! command -v docker-registry >/dev/null; then
        log "installing docker-registry (bookworm)"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            docker-registry >/dev/null; } || die "apt-get install docker-registry failed"
    fi
    # The package enables a system service on 0.0.0.0:5000 with htpasswd auth: keep it off.
    if [ -d /run/systemd/system ]; then systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi
    write_conf
    if pid_alive "$REGISTRY_PIDFILE" && registry_up; then
        log "registry already running on $REGISTRY_ADDR (pid $(cat "$REGISTRY_PIDFILE"))"
        exit 0
    fi
    stop_pidfile "registry" "$REGISTRY_PIDFILE" 10
    registry_up && die "something else answers on $REGISTRY_ADDR"
    echo "=== $(date -Is) docker-registry serve $CONF" >>"$LOGF"
    spawn_daemon "$LOGF" docker-registry serve "$CONF"
    echo $! >"$REGISTRY_PIDFILE"
    for _ in $(seq 50); do registry_up && break; sleep 0.2; done
    registry_up || { tail -n 20 "$LOGF" >&2; die "registry did not come up on $REGISTRY_ADDR"; }
    log "registry on http://$REGISTRY_ADDR (pid $(cat "$REGISTRY_PIDFILE"), data $REGISTRY_DATA, log $LOGF)"
    ;;
stop)
    stop_pidfile "registry" "$REGISTRY_PIDFILE" 10
    ;;
status)
    if pid_alive "$REGISTRY_PIDFILE" && registry_up; then echo "running: http://$REGISTRY_ADDR"; else echo "not running"; exit 1; fi
    ;;
*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
