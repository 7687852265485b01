#!/usr/bin/env bash
# Build Dalec's own frontend (github.com/project-dalec/dalec/cmd/frontend, pinned) once, cache it, print its path.
# tests/parity runs it against a recording LLBBridge to compare Dalec's LLB with dalecpy's.
#
#   scripts/dalec-frontend.sh            print the binary's path, building it first if it is not cached
#
# Ways to get it, in order (the first that works wins):
#   1. the cached binary $DALEC_CACHE/bin/frontend-$DALEC_VERSION (put a binary you built there, or point
#      DALEC_FRONTEND at it: tests/parity reads that first);
#   2. `go install github.com/project-dalec/dalec/cmd/frontend@$DALEC_VERSION` through the Go module proxy.
# Nothing of Dalec's is written into this repository: module and build caches and the binary stay under
# $DALEC_CACHE. When neither works it prints one line saying why and exits 3, so callers can skip.
#
# Env: DALEC_VERSION (default v0.21.5), DALEC_CACHE (default /var/cache/dalecpy-e2e/dalec).
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
unavailable "go install $module/cmd/frontend@$version failed (${proxy_err:-no output})"
