#!/usr/bin/env bash
# Provision and start one BuildKit-capable docker engine for dalecpy's end-to-end tests.
#
#   scripts/e2e/provision.sh a [--restart]
#       engine A: Debian bookworm's docker.io (dockerd 20.10, BuildKit 0.8 embedded), default socket.
#   scripts/e2e/provision.sh b [--restart] [--refresh] [--buildctl]
#       engine B: dockerd 28.x + buildx 0.29 + containerd 2.1 from Debian sid's packages (extracted, not
#       installed), bookworm's runc, own socket/data-root so it never touches engine A's state.
#       --refresh   re-read sid's package lists and re-download the .debs (default: reuse the cache)
#       --buildctl  also build buildctl from sid's Go source packages and serve the engine's embedded
#                   BuildKit on /run/dalecpy-e2e/buildkit.sock (BUILDKIT_HOST in engine.env); works for a too
#   scripts/e2e/provision.sh c [--restart]
#       engine C: standalone buildkitd beside A or B (scripts/e2e/engine-c.sh start; env in engine-c.env)
#
# Idempotent; run as root. Stops the other engine first (only one dockerd can own docker0), waits for
# `docker info`, and writes $E2E_RUN/engine.env (default /run/dalecpy-e2e/engine.env) to source:
#   . /run/dalecpy-e2e/engine.env && "$DOCKER_CLI" info
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

ENGINE=${1:-}
[ $# -gt 0 ] && shift
[ "$ENGINE" = c ] && exec "$HERE/engine-c.sh" start "$@"
RESTART=0 REFRESH=0 WANT_BUILDCTL=0
for arg in "$@"; do
    case $arg in
        --restart) RESTART=1 ;;
        --refresh) REFRESH=1 ;;
        --buildctl) WANT_BUILDCTL=1 ;;
        -h|--help) usage ;;
        *) log "unknown option: $arg"; usage ;;
    esac
done
case $ENGINE in a|b) ;; -h|--help|"") usage ;; *) log "unknown engine: $ENGINE"; usage ;; esac

need_root
T0=$(date +%s)
mkdir -p "$E2E_CACHE" "$E2E_OPT" "$E2E_RUN" "$E2E_LOG"

# --- 1. bookworm packages ------------------------------------------------------------------------
# On a machine booted with systemd, the docker.io package starts its own docker.service: stop it so the
# engines below are the only dockerd (they use pid files, not systemd).
stop_systemd_docker() {
    [ -d /run/systemd/system ] || return 0
    local u
    for u in docker.socket docker.service; do
        if systemctl is-active --quiet "$u" 2>/dev/null; then
            log "stopping systemd unit $u (the e2e engines are started by this script)"
            systemctl stop "$u" || true
        fi
    done
}

if [ "$ENGINE" = a ]; then
    # docker.io pulls containerd, runc and tini (docker-init) from bookworm.
    apt_ensure docker.io iptables debootstrap ca-certificates qemu-user-static
else
    # sid's binaries need glibc >= 2.34 only; sid's runc needs 2.38, so use bookworm's runc.
    apt_ensure runc tini iptables debootstrap ca-certificates qemu-user-static
fi
stop_systemd_docker

# --- 1b. arm64 emulation (lib.sh) -------------------------------------------------------------
ensure_binfmt

# --- 2. engine B: sid packages, downloaded once into the cache ----------------------------------
SID_APT="$E2E_CACHE/sid-apt"
SID_DEBS="$E2E_CACHE/sid-debs"
SID_PKGS=(docker.io docker-cli docker-buildx containerd)
# Own lists/cache dirs; no sources.list.d or preferences from the host. Empty dirs for the *parts
# options ('-' makes apt warn "Unable to read /etc/apt/-/"). Sandbox user root: the download dir is ours.
APT_SID=(-o "Dir::Etc::sourcelist=$SID_APT/sources.list" -o "Dir::Etc::sourceparts=$SID_APT/empty.d"
         -o "Dir::State::Lists=$SID_APT/lists" -o "Dir::Cache=$SID_APT/cache"
         -o "Dir::Etc::preferences=$SID_APT/preferences" -o "Dir::Etc::preferencesparts=$SID_APT/empty.d"
         -o APT::Sandbox::User=root -o Debug::NoLocking=1)

sid_update() {
    mkdir -p "$SID_APT/lists/partial" "$SID_APT/cache/archives/partial" "$SID_APT/empty.d"
    : >"$SID_APT/preferences"
    echo "deb $E2E_DEBIAN_MIRROR $E2E_SID_SUITE main" >"$SID_APT/sources.list"
    log "apt-get update ($E2E_SID_SUITE lists kept in $SID_APT)"
    apt-get "${APT_SID[@]}" update -qq
}

# have_debs PKG...: every package has a .deb in $SID_DEBS
have_debs() {
    local p
    for p in "$@"; do compgen -G "$SID_DEBS/${p}_*.deb" >/dev/null || return 1; done
}

sid_download() {  # sid_download PKG...
    mkdir -p "$SID_DEBS"
    local tmp
    tmp=$(mktemp -d "$SID_DEBS/.dl.XXXXXX")
    log "downloading from $E2E_SID_SUITE: $*"
    (cd "$tmp" && apt-get "${APT_SID[@]}" download "$@" 2>&1 | grep -v '^Get:' >&2 || true)
    local p f
    for p in "$@"; do
        f=$(compgen -G "$tmp/${p}_*.deb" | head -n1) || true
        [ -n "$f" ] || { rm -rf "$tmp"; die "apt-get download $p failed"; }
        rm -f "$SID_DEBS/${p}"_*.deb      # keep one version per package
        mv "$f" "$SID_DEBS/"
    done
    rmdir "$tmp" 2>/dev/null || rm -rf "$tmp"
}

deb_version() { dpkg-deb -f "$(compgen -G "$SID_DEBS/${1}_*.deb" | head -n1)" Version; }

# extract_debs: (re)create $B_ROOT from the cached .debs when they changed
extract_debs() {
    local stamp="$B_ROOT/.dalecpy-e2e-debs" want
    want=$(cd "$SID_DEBS" && ls -1 ./*.deb | sort | xargs sha256sum)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "sid packages already extracted in $B_ROOT"
        return 0
    fi
    log "extracting $(echo "$want" | wc -l) .debs into $B_ROOT"
    rm -rf "$B_ROOT.new"
    mkdir -p "$B_ROOT.new"
    local f
    for f in "$SID_DEBS"/*.deb; do dpkg-deb -x "$f" "$B_ROOT.new"; done
    echo "$want" >"$B_ROOT.new/.dalecpy-e2e-debs"
    rm -rf "$B_ROOT"
    mv "$B_ROOT.new" "$B_ROOT"
}

# first_existing PATH...: print the first path that exists
first_existing() { local p; for p in "$@"; do [ -e "$p" ] && { echo "$p"; return 0; }; done; return 1; }

link_bins_b() {
    mkdir -p "$B_BIN"
    local b src
    for b in docker containerd containerd-shim-runc-v2 ctr; do
        src=$(first_existing "$B_ROOT/usr/bin/$b" "$B_ROOT/usr/sbin/$b") || die "$b not found in sid packages"
        ln -sfn "$src" "$B_BIN/$b"
    done
    for b in dockerd docker-proxy; do
        src=$(first_existing "$B_ROOT/usr/sbin/$b" "$B_ROOT/usr/bin/$b" "$B_ROOT/usr/libexec/docker/$b") \
            || die "$b not found in sid packages"
        ln -sfn "$src" "$B_BIN/$b"
    done
    # docker-init (tini) is not in the 4 packages; dockerd only needs it for `docker run --init`: use
    # bookworm's tini-static if installed, else skip.
    if src=$(first_existing "$B_ROOT/usr/bin/docker-init" /usr/bin/tini-static /usr/bin/docker-init); then
        ln -sfn "$src" "$B_BIN/docker-init"
    fi
    ln -sfn "$(command -v runc || echo /usr/sbin/runc)" "$B_BIN/runc"
    # buildx: the docker CLI looks for plugins in ~/.docker/cli-plugins and fixed system dirs, not next to
    # its own binary. Link it into root's plugin dir (works for every docker CLI root runs).
    local plug
    plug=$(first_existing "$B_ROOT/usr/libexec/docker/cli-plugins/docker-buildx" \
                          "$B_ROOT/usr/lib/docker/cli-plugins/docker-buildx") || die "docker-buildx not found"
    mkdir -p "$HOME/.docker/cli-plugins"
    ln -sfn "$plug" "$HOME/.docker/cli-plugins/docker-buildx"
}

if [ "$ENGINE" = b ]; then
    if [ "$REFRESH" = 1 ] || ! have_debs "${SID_PKGS[@]}"; then
        sid_update
        sid_download "${SID_PKGS[@]}"
    else
        log "using cached sid .debs in $SID_DEBS (--refresh to update)"
    fi
    extract_debs
    link_bins_b
fi

# --- 3. optional buildctl/buildkitd ----------------------------------------------------------
BUILDCTL=""
if [ "$WANT_BUILDCTL" = 1 ]; then
    # shellcheck source=buildctl.sh
    . "$HERE/buildctl.sh"
    BUILDCTL=$(install_buildctl) || log "WARNING: buildctl not available (see README.md); continuing without it"
fi

# --- 4. stop the other engine, start this one ---------------------------------------------------
start_dockerd() {  # start_dockerd NAME PIDFILE SOCK LOG CLI PATH ARGS...
    local name=$1 pidf=$2 sock=$3 logf=$4 cli=$5 path=$6; shift 6
    if pid_alive "$pidf" && [ "$RESTART" = 0 ] && [ "$(tr '\0' ' ' <"/proc/$(cat "$pidf")/cmdline")" != "$* " ]; then
        log "$name runs with other options than this script's: restarting it"
        log "  running: $(tr '\0' ' ' <"/proc/$(cat "$pidf")/cmdline")"
        log "  wanted:  $*"
        stop_pidfile "$name" "$pidf"
    fi
    if pid_alive "$pidf" && [ "$RESTART" = 0 ]; then
        if wait_docker "$cli" "unix://$sock" 30 "$logf"; then
            log "$name already running (pid $(cat "$pidf"))"
            return 0
        fi
        log "$name has a live pid but does not answer: restarting it"
    fi
    stop_pidfile "$name" "$pidf"
    log "starting $name, log in $logf"
    echo "=== $(date -Is) $*" >>"$logf"
    PATH=$path spawn_daemon "$logf" "$@"
    local t1
    t1=$(date +%s)
    wait_docker "$cli" "unix://$sock" 60 "$logf" || die "$name did not come up"
    log "$name ready in $(( $(date +%s) - t1 ))s (pid $(cat "$pidf"))"
}

SYS_PATH=/usr/sbin:/usr/bin:/sbin:/bin
if [ "$ENGINE" = a ]; then
    stop_pidfile "engine B dockerd" "$B_PIDFILE"
    A_BIN="$E2E_OPT/a/bin"          # a bin dir whose `docker` is bookworm's 20.10 CLI
    mkdir -p "$A_BIN"
    ln -sfn "$A_CLI" "$A_BIN/docker"
    start_dockerd "engine A dockerd" "$A_PIDFILE" "$A_SOCK" "$E2E_LOG/dockerd-a.log" "$A_CLI" "$SYS_PATH" \
        /usr/sbin/dockerd --storage-driver=overlay2 --data-root "$A_DATA" --exec-root "$A_EXEC" \
        --pidfile "$A_PIDFILE" -H "unix://$A_SOCK"
    ENV_HOST="unix://$A_SOCK" ENV_CLI="$A_CLI" ENV_BIN="$A_BIN"
    ENV_BUILD='docker build'      # with DOCKER_BUILDKIT=1; the 20.10 CLI has BuildKit built in
else
    stop_pidfile "engine A dockerd" "$A_PIDFILE"
    # The containerd image store (docker 29's default): buildx's docker driver then builds several platforms
    # at once and dockerd has the oci/docker tarball exporters. Images of the classic store stay in
    # $B_DATA/image but are not seen (base-images.sh re-creates them; ci.sh rebuilds the frontend image).
    start_dockerd "engine B dockerd" "$B_PIDFILE" "$B_SOCK" "$E2E_LOG/dockerd-b.log" "$B_CLI" "$B_BIN:$SYS_PATH" \
        "$B_BIN/dockerd" --storage-driver=overlayfs --feature containerd-snapshotter=true \
        --data-root "$B_DATA" --exec-root "$B_EXEC" --pidfile "$B_PIDFILE" -H "unix://$B_SOCK"
    ENV_HOST="unix://$B_SOCK" ENV_CLI="$B_CLI" ENV_BIN="$B_BIN"
    ENV_BUILD='docker buildx build'
fi

BUILDKIT_HOST_URL=""
if [ -n "$BUILDCTL" ]; then
    start_buildkit_proxy "${ENV_HOST#unix://}" && BUILDKIT_HOST_URL="unix://$E2E_RUN/buildkit.sock"
fi

# --- 5. engine.env ------------------------------------------------------------------------------
SERVER_VERSION=$(DOCKER_HOST=$ENV_HOST "$ENV_CLI" version -f '{{.Server.Version}}' 2>/dev/null || echo '?')
CLIENT_VERSION=$(DOCKER_HOST=$ENV_HOST "$ENV_CLI" version -f '{{.Client.Version}}' 2>/dev/null || echo '?')
BUILDX_VERSION=$(DOCKER_HOST=$ENV_HOST "$ENV_CLI" buildx version 2>/dev/null | awk '{print $2}' || true)
{
    echo "# written by scripts/e2e/provision.sh $ENGINE at $(date -Is); source this file"
    echo "DALECPY_E2E_ENGINE=$ENGINE"
    echo "export DOCKER_HOST=$ENV_HOST"
    echo "export DOCKER_CLI=$ENV_CLI"
    echo "export DOCKER_BUILDKIT=1"
    echo "export PATH=\"$ENV_BIN:\$PATH\""
    echo "DALECPY_E2E_BUILD=\"$ENV_BUILD\""
    echo "DALECPY_E2E_SERVER_VERSION=$SERVER_VERSION"
    echo "DALECPY_E2E_CLIENT_VERSION=$CLIENT_VERSION"
    echo "DALECPY_E2E_BUILDX_VERSION=${BUILDX_VERSION:-none}"
    [ -n "$BUILDCTL" ] && echo "export BUILDCTL=$BUILDCTL"
    [ -n "$BUILDKIT_HOST_URL" ] && echo "export BUILDKIT_HOST=$BUILDKIT_HOST_URL   # buildctl reads it"
    true
} >"$ENGINE_ENV.tmp"
mv "$ENGINE_ENV.tmp" "$ENGINE_ENV"

log "engine $ENGINE up: dockerd $SERVER_VERSION, CLI $CLIENT_VERSION, buildx ${BUILDX_VERSION:-none} ($(( $(date +%s) - T0 ))s total)"
log "use it with:  . $ENGINE_ENV   (DOCKER_HOST=$ENV_HOST, DOCKER_CLI=$ENV_CLI)"
cat "$ENGINE_ENV"
