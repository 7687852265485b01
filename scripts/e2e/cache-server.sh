#!/bin/bash
# A Bazel HTTP remote cache on a unix socket, for the remote-cache tests and bench/caches.py:
# Debian's nginx serving DIR over WebDAV (GET/HEAD/PUT under /ac/ and /cas/, which is all Bazel's HTTP
# cache protocol needs), listening on the unix socket SOCK. Its own config file, pid file and logs live in
# STATE (default SOCK.d/); no system service is started or touched.
#
#   scripts/e2e/cache-server.sh start DIR SOCK    # installs nginx-light first if there is no nginx
#   scripts/e2e/cache-server.sh stop DIR SOCK     # stops it and removes SOCK
#   scripts/e2e/cache-server.sh status DIR SOCK   # exit 0 when it runs
#
# Logs: STATE/access.log ("METHOD URI STATUS BYTES CONNECTION" per request, CONNECTION nginx's serial number) and STATE/error.log.
# Forward it into a build with `dalecpy build --socket bazel-default=SOCK` or
# `buildctl build --ssh bazel-default=SOCK,raw=true`.
set -euo pipefail

usage() { echo "usage: $0 start|stop|status DIR SOCK" >&2; exit 2; }
[ $# -eq 3 ] || usage
action=$1
DIR=$(realpath -m "$2")
SOCK=$(realpath -m "$3")
STATE=$(realpath -m "${CACHE_SERVER_STATE:-$SOCK.d}")
CONF=$STATE/nginx.conf
PIDFILE=$STATE/nginx.pid

find_nginx() {
    local n
    for n in "$(command -v nginx 2>/dev/null || true)" /usr/sbin/nginx; do
        [ -n "$n" ] && [ -x "$n" ] && { echo "$n"; return 0; }
    done
    return 1
}

running_pid() {
    local pid
    [ -f "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

write_conf() {
    local user_line=""
    [ "$(id -u)" = 0 ] && user_line="user root root;"  # workers write DIR as the caller
    cat >"$CONF" <<EOF
# written by scripts/e2e/cache-server.sh
$user_line
daemon on;
pid $PIDFILE;
error_log $STATE/error.log warn;
worker_processes 2;
events { worker_connections 512; }
http {
    log_format cache '\$request_method \$uri \$status \$body_bytes_sent \$connection';
    access_log $STATE/access.log cache;
    client_body_temp_path $STATE/tmp/body;
    proxy_temp_path $STATE/tmp/proxy;
    fastcgi_temp_path $STATE/tmp/fastcgi;
    client_max_body_size 0;
    sendfile on;
    types { }
    default_type application/octet-stream;
    server {
        listen unix:$SOCK;
        root $DIR;
        location /ac/ {
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }
        location /cas/ {
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }
        location / { return 404; }
    }
}
EOF
}

case $action in
start)
    if pid=$(running_pid); then
        echo "cache server already running (pid $pid, socket $SOCK)"
        exit 0
    fi
    if ! NGINX=$(find_nginx); then
        echo "installing nginx-light" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light >&2 \
            || DEBIAN_FRONTEND=noninteractive apt-get install -y nginx >&2
        NGINX=$(find_nginx)
    fi
    mkdir -p "$DIR/ac" "$DIR/cas" "$STATE/tmp" "$(dirname "$SOCK")"
    rm -f "$SOCK"  # a stale socket file makes bind() fail
    write_conf
    "$NGINX" -q -t -p "$STATE" -e "$STATE/error.log" -c "$CONF"
    "$NGINX" -p "$STATE" -e "$STATE/error.log" -c "$CONF"
    for _ in $(seq 50); do
        [ -S "$SOCK" ] && running_pid >/dev/null && break
        sleep 0.1
    done
    [ -S "$SOCK" ] || { echo "nginx did not create $SOCK; see $STATE/error.log" >&2; exit 1; }
    chmod 666 "$SOCK"
    echo "cache server: pid $(running_pid), socket $SOCK, data $DIR, logs $STATE"
    ;;
stop)
    if pid=$(running_pid); then
        kill -QUIT "$pid"  # graceful: the master removes the socket file on exit
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; sleep 0.5; fi
    fi
    rm -f "$SOCK" "$PIDFILE"
    echo "cache server stopped (socket $SOCK)"
    ;;
status)
    if pid=$(running_pid); then echo "running: pid $pid, socket $SOCK"; else echo "not running"; exit 1; fi
    ;;
*) usage ;;
esac
