#!/usr/bin/env bash
# dalecpy's end-to-end tests on every engine, one engine at a time (only one dockerd owns docker0).
#
#   scripts/e2e/ci.sh [--engines "b c a"] [pytest args...]
#
# Run as root on Debian bookworm (a fresh machine is fine). For each engine: provision.sh, base-images.sh,
# build the frontend image (with the host CA as the optional `pipca` secret, see frontend.Dockerfile), then
# `pytest -m e2e tests/e2e`. Engine c (standalone buildkitd, engine-c.sh) runs beside the dockerd: after b,
# so its cross-engine test shares a Bazel remote cache with b; its images live in the local registry. Prints a header per engine and a summary with timings; exits non-zero when any
# engine's provisioning or e2e tests failed. Each engine's pytest output and JUnit XML go to
# $E2E_LOG/e2e-<engine>.{log,xml}. Leaves the last engine running (scripts/e2e/stop.sh stops it).
#
# Engine b runs with the containerd image store and two-platform (linux/amd64 + linux/arm64) debian images,
# with qemu-aarch64 registered in binfmt_misc (provision.sh): the first run on a fresh machine debootstraps
# the arm64 rootfs tarballs through qemu (~3 min for bookworm + trixie, then cached).
#
# Also installs what some e2e tests need on the host: nginx-light (the Bazel remote-cache server of
# test_remote_cache.py; its system service is stopped) and buildctl (provision.sh --buildctl: built once
# from Debian's Go sources, then cached; DALECPY_E2E_BUILDCTL=0 skips it and those tests skip).
#
# Env: DALECPY_VENV (python venv with dalecpy[test], default .venv, made if missing), DALECPY_E2E_ENGINES
# (default "b c a"), and everything lib.sh reads (E2E_CACHE, E2E_DEBIAN_MIRROR, ...).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
need_root

ENGINES=${DALECPY_E2E_ENGINES:-"b c a"}
if [ "${1:-}" = "--engines" ]; then ENGINES=$2; shift 2; fi
cd "$ROOT"

venv="${DALECPY_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" || die "python3 -m venv failed (apt-get install python3-venv)"
fi
if ! "$venv/bin/python" -c 'import dalecpy, pytest, ruamel.yaml' 2>/dev/null; then
    "$venv/bin/pip" install -q --disable-pip-version-check -e ".[test]" || die "pip install failed"
fi

if ! dpkg-query -W -f='${Status}\n' nginx-light 2>/dev/null | grep -q '^install ok installed$'; then
    log "installing nginx-light (remote-cache server for the e2e tests)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null; } \
        || log "WARNING: nginx-light not installed; the remote-cache e2e tests will skip"
    if [ -d /run/systemd/system ]; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi
fi
# bazel-remote (test_bazel_remote.py): built once from the Go module proxy, then cached
"$HERE/bazel-remote.sh" install >/dev/null || log "WARNING: bazel-remote not built; test_bazel_remote.py will fail"
PROVISION_ARGS=()
[ "${DALECPY_E2E_BUILDCTL:-1}" = 0 ] || PROVISION_ARGS+=(--buildctl)

HOST_CA=/etc/ssl/certs/ca-certificates.crt
T_ALL=$(date +%s)
declare -A RESULT TIMES
rc_all=0

header() {
    printf '\n%s\n== %s\n%s\n' "$(printf '=%.0s' {1..100})" "$*" "$(printf '=%.0s' {1..100})"
}

secs() { echo $(( $(date +%s) - $1 )); }

build_frontend() {  # with the engine's env file loaded
    local args=(-f frontend.Dockerfile -t dalecpy/frontend:latest -t dalecpy/frontend:dev)
    [ -r "$HOST_CA" ] && args+=(--secret "id=pipca,src=$HOST_CA")
    if [ "$DALECPY_E2E_ENGINE" = c ]; then  # pushed to the registry, engine c's docker.io mirror
        local secret=()
        [ -r "$HOST_CA" ] && secret=(--secret "id=pipca,src=$HOST_CA")
        "$BUILDCTL" build --progress=plain --frontend dockerfile.v0 --local context=. --local dockerfile=. \
            --opt filename=frontend.Dockerfile "${secret[@]}" --output \
            "type=image,\"name=$REGISTRY_ADDR/dalecpy/frontend:latest,$REGISTRY_ADDR/dalecpy/frontend:dev\",push=true"
    elif [ "$DALECPY_E2E_ENGINE" = a ]; then
        DOCKER_BUILDKIT=1 "$DOCKER_CLI" build --progress=plain "${args[@]}" .
    else
        "$DOCKER_CLI" buildx build --progress=plain --load "${args[@]}" .
    fi
}

run_engine() {  # run_engine a|b|c [pytest args...] -> 0 when everything passed
    local e=$1 t0 step env_file=$ENGINE_ENV; shift
    t0=$(date +%s)
    step=$(date +%s)
    if [ "$e" = c ]; then
        env_file=$C_ENV
        "$HERE/engine-c.sh" start || { RESULT[$e]="provision failed"; return 1; }
    else
        "$HERE/provision.sh" "$e" "${PROVISION_ARGS[@]}" || { RESULT[$e]="provision failed"; return 1; }
    fi
    TIMES[$e]="provision $(secs "$step")s"
    step=$(date +%s)
    "$HERE/base-images.sh" $([ "$e" = c ] && echo --engine c) || { RESULT[$e]="base images failed"; return 1; }
    TIMES[$e]+=", base images $(secs "$step")s"
    # shellcheck disable=SC1090
    . "$env_file"
    step=$(date +%s)
    build_frontend >"$E2E_LOG/frontend-$e.log" 2>&1 \
        || { tail -n 40 "$E2E_LOG/frontend-$e.log" >&2; RESULT[$e]="frontend image build failed"; return 1; }
    TIMES[$e]+=", frontend image $(secs "$step")s"
    log "engine $e: server $DALECPY_E2E_SERVER_VERSION, client $DALECPY_E2E_CLIENT_VERSION, buildx $DALECPY_E2E_BUILDX_VERSION"
    step=$(date +%s)
    local prc
    DALECPY_E2E_ENV="$env_file" DALECPY_E2E_REQUIRE=1 "$venv/bin/python" -m pytest -m e2e tests/e2e -p no:cacheprovider \
        --durations=10 --junitxml="$E2E_LOG/e2e-$e.xml" "$@" 2>&1 | tee "$E2E_LOG/e2e-$e.log"
    prc=${PIPESTATUS[0]}
    TIMES[$e]+=", pytest $(secs "$step")s, total $(secs "$t0")s"
    local counts
    counts=$(grep -E '(passed|failed|error|skipped|no tests ran).* in [0-9.]+s' "$E2E_LOG/e2e-$e.log" | tail -n1 \
             | sed -E 's/^=+ ?//; s/ ?=+$//')
    case $prc in
        0) RESULT[$e]="passed: $counts" ;;
        5) RESULT[$e]="no tests collected" ;;
        *) RESULT[$e]="FAILED (pytest exit $prc): $counts"; return 1 ;;
    esac
}

for e in $ENGINES; do
    case $e in
        a) what='bookworm docker.io 20.10, BuildKit 0.8, docker build' ;;
        b) what='sid dockerd 28.5 + buildx 0.29, containerd image store' ;;
        c) what="standalone buildkitd $E2E_BUILDKIT_VERSION + buildctl, OCI worker, images in the local registry" ;;
        *) die "unknown engine $e (a, b or c)" ;;
    esac
    header "e2e on engine $e ($what)"
    run_engine "$e" "$@" || rc_all=1
    log "engine $e: ${RESULT[$e]} (${TIMES[$e]:-})"
done

header "e2e summary ($(secs "$T_ALL")s)"
for e in $ENGINES; do
    printf '  engine %s: %s\n            %s\n' "$e" "${RESULT[$e]:-not run}" "${TIMES[$e]:-}"
done
exit $rc_all
