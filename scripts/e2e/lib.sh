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

# Engine C: standalone buildkitd (Go module proxy build, OCI worker, bookworm's runc), beside A or B: its own
# socket, state and env file (engine.env stays the dockerd's). Base images and the frontend image come from the
# local registry, which buildkitd.toml makes the docker.io mirror.
: "${E2E_BUILDKIT_VERSION:=v0.34.2}"
: "${E2E_BAZEL_REMOTE_VERSION:=v2.6.2}"
C_SOCK=$E2E_RUN/buildkitd-c.sock
C_PIDFILE=$E2E_RUN/buildkitd-c.pid
C_DATA=${E2E_C_DATA:-/var/lib/dalecpy-e2e/buildkitd-c}
C_EXEC=$E2E_RUN/buildkitd-c
C_ENV="$E2E_RUN/engine-c.env"
C_BIN="$E2E_OPT/c/bin"

# The local registry (Debian's docker-registry) on loopback: engine C's image store, and where the frontend
# image is pushed for `# syntax=127.0.0.1:5000/...` builds on any engine.
REGISTRY_ADDR=127.0.0.1:5000
REGISTRY_DATA=${E2E_REGISTRY_DATA:-/var/lib/dalecpy-e2e/registry}
REGISTRY_PIDFILE=$E2E_RUN/registry.pid

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

# go_tool_build OUTDIR MODULE VERSION NAME=PKG...: build the commands PKG (directories inside MODULE, "." for
# its root) of the pinned MODULE@VERSION from the Go module proxy into OUTDIR/NAME, once. The module is built
# as the main module, with its own go.mod and go.sum (`go install pkg@version` refuses a module whose go.mod
# has exclude or replace directives, as BuildKit's has). Module and build caches live under $E2E_CACHE/go,
# so later runs and CI reuse them.
go_tool_build() {
    local outdir=$1 module=$2 version=$3 pair todo=() dir src t0; shift 3
    for pair in "$@"; do [ -x "$outdir/${pair%%=*}" ] || todo+=("$pair"); done
    [ ${#todo[@]} -eq 0 ] && return 0
    command -v go >/dev/null || die "go is not installed (needed to build $module@$version)"
    # auto: a module that needs a newer Go than the installed one gets that toolchain from the proxy
    export GOMODCACHE="$E2E_CACHE/go/mod" GOCACHE="$E2E_CACHE/go/cache" GOTOOLCHAIN=${E2E_GOTOOLCHAIN:-auto}
    mkdir -p "$GOMODCACHE" "$GOCACHE" "$outdir"
    t0=$(date +%s)
    dir=$(go mod download -json "$module@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') \
        || die "go mod download $module@$version failed"
    src=$(mktemp -d "$E2E_CACHE/go/src.XXXXXX")
    cp -r "$dir/." "$src/" && chmod -R u+w "$src"
    for pair in "${todo[@]}"; do
        log "go: building $module@$version ${pair#*=} -> $outdir/${pair%%=*}"
        (cd "$src" && GOFLAGS="-mod=mod -trimpath" CGO_ENABLED=0 go build -o "$outdir/${pair%%=*}.tmp" \
            -ldflags "-X $module/version.Version=$version" "./${pair#*=}") >&2 \
            || { rm -rf "$src"; die "go build of $module@$version ${pair#*=} failed"; }
        mv "$outdir/${pair%%=*}.tmp" "$outdir/${pair%%=*}"
    done
    rm -rf "$src"
    log "go: $module@$version built in $(( $(date +%s) - t0 ))s"
}

apt_ensure() {  # apt_ensure PKG...: install what is missing, `apt-get update` only when needed
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && { log "bookworm packages present: $*"; return 0; }
    log "installing from bookworm: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# arm64 emulation: qemu-aarch64 in binfmt_misc with the F (fix-binary) flag.
# F makes the kernel open the interpreter when it is registered, so it runs inside containers and chroots
# that do not have /usr/libexec/qemu-binfmt. Host-wide (the kernel's table): both engines see it. Debian's
# qemu-user-static ships the line (flags OPF) in /usr/lib/binfmt.d; without systemd-binfmt nobody loads it.
ensure_binfmt() {
    local bm=/proc/sys/fs/binfmt_misc conf=/usr/lib/binfmt.d/qemu-aarch64.conf entry
    entry=$bm/qemu-aarch64
    if [ ! -e "$bm/register" ]; then
        mount -t binfmt_misc binfmt_misc "$bm" || { log "WARNING: cannot mount binfmt_misc: no arm64 emulation"; return 0; }
    fi
    [ -r "$conf" ] || { log "WARNING: $conf missing (qemu-user-static): no arm64 emulation"; return 0; }
    if [ -e "$entry" ] && grep -q '^enabled' "$entry" && grep -q '^flags:.*F' "$entry"; then
        log "binfmt_misc: qemu-aarch64 registered ($(sed -n 's/^flags: //p' "$entry"))"
        return 0
    fi
    [ -e "$entry" ] && echo -1 >"$entry"     # registered without F (or disabled): replace it
    grep -v '^#' "$conf" | grep . >"$bm/register" || { log "WARNING: registering qemu-aarch64 failed"; return 0; }
    log "binfmt_misc: registered qemu-aarch64 ($(sed -n 's/^flags: //p' "$entry"), $(sed -n 's/^interpreter //p' "$entry"))"
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
