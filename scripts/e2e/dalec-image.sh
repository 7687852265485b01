#!/usr/bin/env bash
# Load Dalec's own frontend into the running e2e engine as a gateway image, so specs can be built with
# `# syntax=dalec/frontend:v0.21.5` beside `# syntax=dalecpy/frontend:latest` (tests/e2e/test_dalec_side.py,
# bench/frontend.py, bench/caches.py).
#
#   scripts/e2e/dalec-image.sh            print the image's ref once it is in the engine's image store
#
# The image is laid out as Dalec's own (its Dockerfile's `frontend` stage at the pinned version): FROM scratch,
# the static binary at /frontend as the entrypoint, and the labels BuildKit reads from a gateway image:
# `moby.buildkit.frontend.network.none` (no network for the frontend's container) and
# `moby.buildkit.frontend.caps` (the frontend accepts inputs, subrequests and named contexts).
# The binary comes from DALEC_FRONTEND or scripts/dalec-frontend.sh (its cache, else `go install` through
# the module proxy); nothing of Dalec's is kept in this repository. When there is no binary it prints one
# line saying why and exits 3, so callers can skip.
#
# At run time Dalec's frontend resolves its worker images itself: for bookworm and trixie
# docker.io/library/debian:<suite>, which scripts/e2e/base-images.sh makes; its packaging tools
# (dpkg-dev, debhelper, devscripts, ...) come from the Debian mirror in the build's own apt steps.
#
# Run it holding the engine lock (the tag is shared by everyone using the engine).
# Env: DALEC_VERSION (default v0.21.5), DALEC_IMAGE (default dalec/frontend:$DALEC_VERSION), DALEC_FRONTEND.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

export DALEC_VERSION=${DALEC_VERSION:-v0.21.5}
image=${DALEC_IMAGE:-dalec/frontend:$DALEC_VERSION}
CAPS="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts"

if [ -n "${DALEC_FRONTEND:-}" ]; then
    [ -x "$DALEC_FRONTEND" ] || { echo "dalec-image: DALEC_FRONTEND=$DALEC_FRONTEND is not an executable file" >&2; exit 3; }
    bin=$DALEC_FRONTEND
else
    rc=0
    bin=$("$ROOT/scripts/dalec-frontend.sh") || rc=$?
    [ $rc = 0 ] || exit $rc   # it printed the one-line reason (exit 3 when Dalec's frontend is not available)
fi
load_engine_env

ctx=$(mktemp -d "${TMPDIR:-/tmp}/dalec-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
cp "$bin" "$ctx/frontend"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY frontend /frontend
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="$CAPS"
ENTRYPOINT ["/frontend"]
DOCKERFILE

t0=$(date +%s)
if [ "$DALECPY_E2E_ENGINE" = a ]; then
    DOCKER_BUILDKIT=1 "$DOCKER_CLI" build -q -t "$image" "$ctx" >/dev/null
else
    "$DOCKER_CLI" buildx build --progress=quiet --load -t "$image" "$ctx" >/dev/null
fi
log "$image in engine $DALECPY_E2E_ENGINE from $bin ($(( $(date +%s) - t0 ))s)"
echo "$image"
