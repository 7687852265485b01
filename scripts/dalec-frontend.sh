#!/usr/bin/env bash
# Build Dalec's own frontend (github.com/project-dalec/dalec/cmd/frontend, pinned) once, cache it, print its path.
# tests/parity runs it against a recording LLBBridge to compare Dalec's LLB with dalecpy's.
#
#   scripts/dalec-frontend.sh            print the binary's path, building it first if it is not cached
#
# Ways to get it, in order (the first that works wins):
#   1. the cached binary $DALEC_CACHE/bin/frontend-$DALEC_VERSION;
#   2. `go install github.com/project-dalec/dalec/cmd/frontend@$DALEC_VERSION` through the Go module proxy;
#   3. `go build ./cmd/frontend` of `git archive $DALEC_VERSION` from DALEC_SRC, a git clone of
#      project-dalec/dalec that has the tag (its Go dependencies still come from the module proxy).
# Nothing of Dalec's is written into this repository: sources, module and build caches and the binary stay
# under $DALEC_CACHE. When none of these works it prints one line saying why and exits 3, so callers can skip.
#
# Env: DALEC_VERSION (default v0.21.5), DALEC_CACHE (default /var/cache/dalecpy-e2e/dalec), DALEC_SRC.
# Measured on this project's 2-core machine: a cold build (module and build caches empty) takes ~90 s and
# ~580 MB of cache; a rebuild with warm caches ~0.3 s; a cached binary is printed at once.
set -euo pipefail

version="${DALEC_VERSION:-v0.21.5}"
cache="${DALEC_CACHE:-/var/cache/dalecpy-e2e/dalec}"
module=github.com/project-dalec/dalec
bin="$cache/bin/frontend-$version"
log() { echo "dalec-frontend: $*" >&2; }
unavailable() { echo "dalec-frontend: Dalec's frontend $version is not available: $*" >&2; exit 3; }

[ -x "$bin" ] && { echo "$bin"; exit 0; }
command -v go >/dev/null || unavailable "no Go toolchain (go) on PATH"
mkdir -p "$cache/bin" 2>/dev/null || unavailable "cannot create $cache"

export GOMODCACHE="$cache/gomod" GOCACHE="$cache/gocache" CGO_ENABLED=0 GOFLAGS=-trimpath GOTELEMETRY=off
exec 9>"$cache/.lock"
flock 9
[ -x "$bin" ] && { echo "$bin"; exit 0; } # built by whoever held the lock before us

work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)
if GOBIN="$work" go install "$module/cmd/frontend@$version" 2>"$work/proxy.err"; then
	log "built $module/cmd/frontend@$version from the module proxy in $(($(date +%s) - t0)) s"
	mv "$work/frontend" "$bin"
	echo "$bin"
	exit 0
fi
proxy_err="$(grep -m1 -v '^go: downloading' "$work/proxy.err" || true)"
proxy_err="${proxy_err##*: }" # Go's message ends with the proxy's answer, e.g. "403 Forbidden"
if [ -z "${DALEC_SRC:-}" ]; then
	unavailable "go install $module/cmd/frontend@$version failed (${proxy_err:-no output}) and DALEC_SRC (a clone of project-dalec/dalec) is not set"
fi
git -C "$DALEC_SRC" rev-parse -q --verify "refs/tags/$version" >/dev/null ||
	unavailable "DALEC_SRC=$DALEC_SRC has no tag $version"
mkdir "$work/src"
git -C "$DALEC_SRC" archive "$version" | tar -x -C "$work/src"
log "go install: ${proxy_err:-failed}; building $version from DALEC_SRC ($(git -C "$DALEC_SRC" rev-parse --short "$version^{commit}"))"
(cd "$work/src" && go build -o "$work/frontend" ./cmd/frontend) || unavailable "go build of $version failed"
log "built $module/cmd/frontend $version from DALEC_SRC in $(($(date +%s) - t0)) s"
mv "$work/frontend" "$bin"
echo "$bin"
