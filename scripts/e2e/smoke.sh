#!/usr/bin/env bash
# Prove the running e2e engine builds for real: FROM debian:bookworm, apt-get from the Debian mirror
# inside a build container, and a cache mount that persists between builds.
#
#   scripts/e2e/smoke.sh
#
# Engine A builds with `DOCKER_BUILDKIT=1 docker build` (20.10 CLI), engine B with `docker buildx build`.
# Builds twice with a different NONCE so the RUN step re-executes; the second run must see the line the
# first wrote into the cache mount.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
load_engine_env

CTX=$(mktemp -d)
trap 'rm -rf "$CTX"' EXIT
cat >"$CTX/Dockerfile" <<'EOF'
FROM debian:bookworm
ARG NONCE=0
RUN --mount=type=cache,id=dalecpy-e2e-smoke,target=/c \
    apt-get update -qq && apt-get install -y -qq --no-install-recommends hello >/dev/null \
    && hello && echo "run $NONCE" >>/c/runs && echo "cache mount holds $(wc -l </c/runs) run(s):" && cat /c/runs
EOF

build() {  # build NONCE -> prints build output
    if [ "$DALECPY_E2E_ENGINE" = a ]; then
        DOCKER_BUILDKIT=1 "$DOCKER_CLI" build --progress=plain --build-arg "NONCE=$1" -t dalecpy-e2e-smoke "$CTX"
    else
        "$DOCKER_CLI" buildx build --progress=plain --load --build-arg "NONCE=$1" -t dalecpy-e2e-smoke "$CTX"
    fi
}

n1="$(date +%s%N)-1" n2="$(date +%s%N)-2"
for n in "$n1" "$n2"; do
    t0=$(date +%s.%N)
    out=$(build "$n" 2>&1) || { echo "$out" >&2; die "smoke build failed on engine $DALECPY_E2E_ENGINE"; }
    t1=$(date +%s.%N)
    echo "$out" | grep -E 'Hello, world|cache mount holds|run [0-9]' | sed 's/^/    /' >&2 || true
    log "smoke build (NONCE=$n) on engine $DALECPY_E2E_ENGINE took $(printf '%.1f' "$(echo "$t1 - $t0" | bc)")s"
done
echo "$out" | grep -q "run $n1" || die "second build did not see the first build's line in the cache mount"
echo "$out" | grep -q 'Hello, world' || die "hello did not run"
"$DOCKER_CLI" run --rm dalecpy-e2e-smoke hello

# buildctl (provision.sh --buildctl): raw socket forwarding `--ssh id=sock,raw=true` through the engine's
# BuildKit. A host echo server on a unix socket; the build step talks to it through the forwarded socket.
if [ -n "${BUILDCTL:-}" ] && [ -n "${BUILDKIT_HOST:-}" ]; then
    sock="$CTX/echo.sock"
    python3 -c '
import socket, sys, os
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
while True:
    c, _ = s.accept(); d = c.recv(4096); c.sendall(b"RAW-OK:" + d); c.close()
' "$sock" &
    echo_pid=$!
    trap 'kill $echo_pid 2>/dev/null || true; rm -rf "$CTX"' EXIT
    mkdir -p "$CTX/raw"
    cat >"$CTX/raw/Dockerfile" <<'EOF2'
FROM debian:bookworm
ARG NONCE=0
RUN --mount=type=cache,id=dalecpy-e2e-smoke-apt,target=/var/cache/apt,sharing=locked \
    apt-get update -qq && apt-get install -y -qq --no-install-recommends socat >/dev/null
RUN --mount=type=ssh,id=rawsock,target=/run/raw.sock \
    echo "hello-raw-$NONCE" | socat -t 5 - UNIX-CONNECT:/run/raw.sock
EOF2
    for _ in 1 2 3 4 5 6 7 8 9 10; do [ -S "$sock" ] && break; sleep 0.2; done
    t0=$(date +%s)
    out=$("$BUILDCTL" build --progress=plain --frontend dockerfile.v0 --local context="$CTX/raw" \
          --local dockerfile="$CTX/raw" --opt build-arg:NONCE="$n2" --ssh "rawsock=$sock,raw=true" 2>&1) \
        || { echo "$out" >&2; die "buildctl raw-ssh build failed"; }
    echo "$out" | grep -q "RAW-OK:hello-raw-$n2" || { echo "$out" >&2; die "raw socket forwarding did not pass bytes"; }
    log "buildctl $("$BUILDCTL" --version | awk '{print $3}') raw ssh forwarding OK on engine $DALECPY_E2E_ENGINE ($(( $(date +%s) - t0 ))s)"
fi
log "OK: engine $DALECPY_E2E_ENGINE ($DALECPY_E2E_SERVER_VERSION) reaches the Debian mirror and keeps cache mounts"
