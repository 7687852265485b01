#!/usr/bin/env bash
# bazel-remote (github.com/buchgr/bazel-remote, a Bazel remote cache server: gRPC and HTTP) on unix sockets only,
# for the remote-cache e2e tests and bench/caches.py. Built once from the Go module proxy at a pinned release.
#
#   scripts/e2e/bazel-remote.sh install                 # build $E2E_CACHE/bin/bazel-remote-<version>/bazel-remote
#   scripts/e2e/bazel-remote.sh start DIR STATE         # cache data in DIR; sockets, pid and log in STATE
#   scripts/e2e/bazel-remote.sh stop DIR STATE
#   scripts/e2e/bazel-remote.sh status DIR STATE        # exit 0 when it runs
#
# Sockets: STATE/grpc.sock (REAPI over gRPC: Bazel's --remote_cache=grpc://, or unix: for a Bazel that has
# unix socket support) and STATE/http.sock (Bazel's HTTP cache protocol, /ac/ and /cas/, plus /status and the
# Prometheus /metrics with bazel_remote_incoming_requests_total{kind,method,status}). Nothing listens on TCP:
# the TCP defaults (HTTP :8080, gRPC :9092) are replaced by the sockets and profiling stays off.
# Log: STATE/bazel-remote.log (the access log: one line per request, e.g. "GRPC AC GET OK <hash>").
# Forward it with `dalecpy build --socket bazel-default=STATE/grpc.sock` (or http.sock), or
# `buildctl build --ssh bazel-default=STATE/grpc.sock,raw=true`.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

BR_DIR="$E2E_CACHE/bin/bazel-remote-$E2E_BAZEL_REMOTE_VERSION"
BR_BIN="$BR_DIR/bazel-remote"

install() { go_tool_build "$BR_DIR" github.com/buchgr/bazel-remote/v2 "$E2E_BAZEL_REMOTE_VERSION" bazel-remote=.; }

action=${1:-}
case $action in
install) install; echo "$BR_BIN"; exit 0 ;;
start|stop|status) [ $# -eq 3 ] || { echo "usage: $0 $action DIR STATE" >&2; exit 2; } ;;
*) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
DIR=$(realpath -m "$2")
STATE=$(realpath -m "$3")
PIDFILE=$STATE/bazel-remote.pid
LOGF=$STATE/bazel-remote.log

http_up() { curl -fsS --unix-socket "$STATE/http.sock" -o /dev/null http://localhost/status 2>/dev/null; }

case $action in
start)
    if pid_alive "$PIDFILE"; then echo "bazel-remote already running (pid $(cat "$PIDFILE"), $STATE)"; exit 0; fi
    install
    mkdir -p "$DIR" "$STATE"
    rm -f "$STATE/grpc.sock" "$STATE/http.sock"
    spawn_daemon "$LOGF" "$BR_BIN" --dir "$DIR" --max_size 4 \
        --grpc_address "unix://$STATE/grpc.sock" --http_address "unix://$STATE/http.sock" \
        --enable_endpoint_metrics --access_log_level all --log_timezone none
    echo $! >"$PIDFILE"
    for _ in $(seq 100); do http_up && [ -S "$STATE/grpc.sock" ] && break; pid_alive "$PIDFILE" || break; sleep 0.1; done
    http_up && [ -S "$STATE/grpc.sock" ] || { tail -n 20 "$LOGF" >&2; echo "bazel-remote did not start" >&2; exit 1; }
    echo "bazel-remote $E2E_BAZEL_REMOTE_VERSION: pid $(cat "$PIDFILE"), grpc $STATE/grpc.sock, http $STATE/http.sock, data $DIR, log $LOGF"
    ;;
stop)
    stop_pidfile "bazel-remote" "$PIDFILE" 10
    rm -f "$STATE/grpc.sock" "$STATE/http.sock"
    ;;
status)
    if pid_alive "$PIDFILE" && http_up; then echo "running: pid $(cat "$PIDFILE"), $STATE"; else echo "not running"; exit 1; fi
    ;;
esac
