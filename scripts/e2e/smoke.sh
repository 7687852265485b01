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
log "OK: engine $DALECPY_E2E_ENGINE ($DALECPY_E2E_SERVER_VERSION) reaches the Debian mirror and keeps cache mounts"
