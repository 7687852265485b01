# shellcheck shell=bash
# Common helpers for the dalecpy end-to-end scripts. Source it; do not run it.
#
# Every path can be overridden from the environment (see README.md).

: "${E2E_CACHE:=/var/cache/dalecpy-e2e}"      # downloaded .debs, sid apt state, rootfs tarballs
: "${E2E_OPT:=/opt/dalecpy-e2e}"              # extracted sid packages, bin dir with symlinks
: "${E2E_RUN:=/run/dalecpy-e2e}"              # engine.env, pid files
: "${E2E_LOG:=/var/log/dalecpy-e2e}"          # daemon logs
: "${E2E_DEBIAN_MIRROR:=http://deb.debian.org/debian}"
: "${E2E_SID_SUITE:=sid}"

# Engine A: bookworm's docker.io, default locations.
A_SOCK=/var/run/docker.sock
A_PIDFILE=/var/run/docker.pid
A_DATA=${E2E_A_DATA:-/var/lib/docker}
A_EXEC=/var/run/docker
A_CLI=/usr/bin/docker            # NOT /usr/local/bin/docker (a static 28.x CLI without buildx on this image)

# Engine B: sid's docker.io/containerd/buildx, own sockets and state so it never clashes with A.
B_SOCK=/run/docker-sid.sock
B_PIDFILE=/run/docker-sid.pid
B_DATA=${E2E_B_DATA:-/var/lib/docker-sid}
B_EXEC=/run/docker-sid
B_ROOT="$E2E_OPT/sid/root"
B_BIN="$E2E_OPT/sid/bin"
B_CLI="$B_BIN/docker"

ENGINE_ENV="$E2E_RUN/engine.env"

log()  { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || die "run as root"; }

# spawn_daemon LOGFILE CMD...: start CMD detached (own session, stdin /dev/null, output appended to LOGFILE)
# without the caller's open file descriptors. An inherited descriptor would keep, for instance, a
# `flock /run/dalecpy-e2e/engine.lock` held for as long as the daemon lives. $! is the daemon's pid.
spawn_daemon() {
    local logf=$1; shift
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-"; fi
        done
        exec setsid "$@" >>"$logf" 2>&1 </dev/null
    ) &
}

# pid_alive PIDFILE -> 0 when the file names a live process
pid_alive() {
    local f=$1 p
    [ -s "$f" ] || return 1
    p=$(cat "$f" 2>/dev/null) || return 1
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null
}

# stop_pidfile NAME PIDFILE [TIMEOUT]: SIGTERM the process named in PIDFILE and wait for it.
stop_pidfile() {
    local name=$1 f=$2 t=${3:-60} p i
    pid_alive "$f" || return 0
    p=$(cat "$f")
    log "stopping $name (pid $p)"
    kill -TERM "$p" 2>/dev/null || true
    for ((i = 0; i < t * 2; i++)); do
        kill -0 "$p" 2>/dev/null || { log "$name stopped"; rm -f "$f"; return 0; }
        sleep 0.5
    done
    log "$name did not stop after ${t}s; sending SIGKILL to pid $p"
    kill -KILL "$p" 2>/dev/null || true
    sleep 1
    rm -f "$f"
}

# wait_docker CLI HOST TIMEOUT LOGFILE
wait_docker() {
    local cli=$1 host=$2 t=$3 logf=$4 i
    for ((i = 0; i < t * 2; i++)); do
        if DOCKER_HOST=$host "$cli" info >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    log "docker info still failing after ${t}s; last lines of $logf:"
    tail -n 30 "$logf" >&2 || true
    return 1
}

# load_engine_env: source engine.env written by provision.sh, fail clearly otherwise.
load_engine_env() {
    [ -r "$ENGINE_ENV" ] || die "$ENGINE_ENV missing: run scripts/e2e/provision.sh a|b first"
    # shellcheck disable=SC1090
    . "$ENGINE_ENV"
    DOCKER_HOST=$DOCKER_HOST "$DOCKER_CLI" info >/dev/null 2>&1 \
        || die "engine $DALECPY_E2E_ENGINE ($DOCKER_HOST) is not answering: re-run provision.sh $DALECPY_E2E_ENGINE"
}
