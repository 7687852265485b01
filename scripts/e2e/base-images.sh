#!/usr/bin/env bash
# Create debian:<suite> base images in the running e2e engine without a registry. Rootfs tarballs come from
# debootstrap --variant=minbase and are cached, so re-runs take seconds.
#
#   scripts/e2e/base-images.sh [--engine c] [--force] [--rootfs-only] [--arch "amd64 arm64"] [SUITE...]
#                                                           (default suites: bookworm trixie)
#     --engine c     engine C (standalone buildkitd, engine-c.sh): push the images to the local registry
#                    (127.0.0.1:5000/library/debian:<suite>, engine C's docker.io mirror) instead
#     --force        rebuild the rootfs tarballs and re-create the images even when they exist
#     --rootfs-only  only make the cached rootfs tarballs (no engine needed; slow the first time for a
#                    foreign arch: run it without holding the engine lock)
#     --arch LIST    architectures (default: amd64 arm64 on engines b and c, amd64 on engine a)
#
# Engine a (dockerd 20.10, classic image store): `docker import` of the host-arch tarball, one platform.
# Engine b (containerd image store): a two-platform image (linux/amd64 + linux/arm64) made by
# `docker buildx build --platform ... --load` of `FROM scratch` + `ADD rootfs-${TARGETARCH}.tar /` (no RUN
# step, so no emulation needed to make it). Engine C: the same build through `buildctl` (dockerfile.v0), pushed
# to the registry. arm64 tarballs are debootstrapped through qemu-user-static
# (binfmt_misc, registered by provision.sh): ~4-5 min each the first time.
#
# Needs the engine started by provision.sh (reads /run/dalecpy-e2e/engine.env), except with --rootfs-only.
# Env: E2E_DEBIAN_MIRROR (default http://deb.debian.org/debian), E2E_CACHE (default /var/cache/dalecpy-e2e).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
need_root

FORCE=0 ROOTFS_ONLY=0 SUITES=() ARCHES="" ENGINE_SEL=""
while [ $# -gt 0 ]; do
    case $1 in
        --engine) ENGINE_SEL=${2:?--engine needs a name}; shift ;;
        --force) FORCE=1 ;;
        --rootfs-only) ROOTFS_ONLY=1 ;;
        --arch) ARCHES=${2:?--arch needs a list}; shift ;;
        --arch=*) ARCHES=${1#--arch=} ;;
        -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
        -*) die "unknown option $1" ;;
        *) SUITES+=("$1") ;;
    esac
    shift
done
[ ${#SUITES[@]} -gt 0 ] || SUITES=(bookworm trixie)

HOST_ARCH=$(dpkg --print-architecture)
if [ "$ROOTFS_ONLY" = 1 ]; then
    :
elif [ "$ENGINE_SEL" = c ]; then
    [ -r "$C_ENV" ] || die "$C_ENV missing: run scripts/e2e/engine-c.sh start first"
    # shellcheck disable=SC1090
    . "$C_ENV"
    ARCHES=${ARCHES:-amd64 arm64}
elif [ -n "$ENGINE_SEL" ]; then
    die "--engine: only c (engines a and b are the one in $ENGINE_ENV)"
else
    load_engine_env
    if [ -z "$ARCHES" ]; then
        if [ "$DALECPY_E2E_ENGINE" = b ]; then ARCHES="amd64 arm64"; else ARCHES=$HOST_ARCH; fi
    fi
fi
[ "$ROOTFS_ONLY" = 1 ] && ARCHES=${ARCHES:-amd64 arm64}
read -r -a ARCH_LIST <<<"$ARCHES"
command -v debootstrap >/dev/null || die "debootstrap missing: run provision.sh first"
D() { "$DOCKER_CLI" "$@"; }
ROOTFS_DIR="$E2E_CACHE/rootfs"
mkdir -p "$ROOTFS_DIR"

# The host arch keeps the tarball name it had before arm64 was added (same cache).
tarball_of() {  # tarball_of SUITE ARCH
    if [ "$2" = "$HOST_ARCH" ]; then echo "$ROOTFS_DIR/debian-$1-minbase.tar"
    else echo "$ROOTFS_DIR/debian-$1-minbase-$2.tar"; fi
}

build_tarball() {  # build_tarball SUITE ARCH TARBALL
    local suite=$1 arch=$2 tarball=$3 dir t0 logf
    logf="$ROOTFS_DIR/$suite$([ "$arch" = "$HOST_ARCH" ] || echo "-$arch").debootstrap.log"
    if [ "$arch" != "$HOST_ARCH" ] && ! grep -qs '^flags:.*F' "/proc/sys/fs/binfmt_misc/qemu-${arch/arm64/aarch64}"; then
        die "no binfmt_misc emulation for $arch (with the F flag): run scripts/e2e/provision.sh first"
    fi
    dir=$(mktemp -d "$ROOTFS_DIR/.${suite}-${arch}.XXXXXX")
    t0=$(date +%s)
    log "debootstrap --arch=$arch --variant=minbase $suite ($E2E_DEBIAN_MIRROR) into $dir"
    # debootstrap may need a newer script for a newer suite; bookworm's debootstrap knows trixie/sid
    # (they are symlinks to the 'sid' script). A foreign arch runs its second stage through qemu (binfmt F).
    if ! debootstrap --arch="$arch" --variant=minbase "$suite" "$dir" "$E2E_DEBIAN_MIRROR" >"$logf" 2>&1; then
        tail -n 20 "$logf" >&2
        rm -rf "$dir"
        die "debootstrap $suite $arch failed (log: $logf)"
    fi
    log "debootstrap $suite $arch done in $(( $(date +%s) - t0 ))s"
    # Same apt sources line the official images use, and drop the debootstrap cache to keep it small.
    echo "deb $E2E_DEBIAN_MIRROR $suite main" >"$dir/etc/apt/sources.list"
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/debootstrap
    tar --numeric-owner --xattrs -C "$dir" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
    log "rootfs tarball $tarball ($(du -h "$tarball" | cut -f1))"
}

ensure_tarball() {  # ensure_tarball SUITE ARCH -> path
    local t
    t=$(tarball_of "$1" "$2")
    if [ ! -s "$t" ] || [ "$FORCE" = 1 ]; then
        build_tarball "$1" "$2" "$t"
    fi
    echo "$t"
}

if [ "$ROOTFS_ONLY" = 1 ]; then
    for suite in "${SUITES[@]}"; do
        for arch in "${ARCH_LIST[@]}"; do log "$(ensure_tarball "$suite" "$arch")"; done
    done
    exit 0
fi

# registry_platforms REPO TAG: the os/arch list of an image in the local registry (nothing when it is missing).
registry_platforms() {
    curl -fsS -H "Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json" \
        "http://$REGISTRY_ADDR/v2/$1/manifests/$2" 2>/dev/null | python3 -c '
import json, sys
m = json.load(sys.stdin)
print(" ".join(sorted(d["platform"]["architecture"] for d in m.get("manifests", []) if d.get("platform", {}).get("os") == "linux")))' 2>/dev/null || true
}

# has_image REF: the image exists with every wanted platform. `docker image inspect` answers to both
# "debian:bookworm" and "docker.io/library/debian:bookworm".
has_image() {
    if [ "$ENGINE_SEL" = c ]; then
        local have a repo=library/${1%%:*}
        have=" $(registry_platforms "$repo" "${1#*:}") "
        for a in "${ARCH_LIST[@]}"; do [[ $have == *" $a "* ]] || return 1; done
        return 0
    fi
    D image inspect "$1" >/dev/null 2>&1 || return 1
    [ ${#ARCH_LIST[@]} -gt 1 ] || return 0
    local a
    for a in "${ARCH_LIST[@]}"; do
        [ "$(D image inspect --platform "linux/$a" -f '{{.Architecture}}' "$1" 2>/dev/null)" = "$a" ] || return 1
    done
}

ENV_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

import_one() {  # import_one REF TARBALL: one platform, docker import
    D import -c 'CMD ["bash"]' -c "ENV PATH=$ENV_PATH" "$2" "$1" >/dev/null
}

build_multi() {  # build_multi REF SUITE: one image, every arch of ARCH_LIST, through buildx (no registry)
    local ref=$1 suite=$2 ctx a plats=()
    ctx=$(mktemp -d "$ROOTFS_DIR/.ctx-$suite.XXXXXX")
    for a in "${ARCH_LIST[@]}"; do
        ln "$(ensure_tarball "$suite" "$a")" "$ctx/rootfs-$a.tar"   # hard link: same filesystem, no copy
        plats+=("linux/$a")
    done
    cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
ARG TARGETARCH
ADD rootfs-\${TARGETARCH}.tar /
ENV PATH=$ENV_PATH
CMD ["bash"]
DOCKERFILE
    local rc=0 plist
    plist=$(IFS=,; echo "${plats[*]}")
    if [ "$ENGINE_SEL" = c ]; then
        "$BUILDCTL" build --progress=quiet --frontend dockerfile.v0 --local context="$ctx" --local dockerfile="$ctx" \
            --opt platform="$plist" --output "type=image,name=$REGISTRY_ADDR/library/$ref,push=true" >/dev/null || rc=$?
    else
        D buildx build --progress=quiet --platform "$plist" --load -t "$ref" "$ctx" >/dev/null || rc=$?
    fi
    rm -rf "$ctx"
    [ $rc = 0 ] || die "building $ref for $plist failed"
}

for suite in "${SUITES[@]}"; do
    ref="debian:$suite"
    if has_image "$ref" && [ "$FORCE" = 0 ]; then
        if [ "$ENGINE_SEL" = c ]; then log "$ref already in $REGISTRY_ADDR (${ARCH_LIST[*]}); skipping"
        else log "$ref already in engine $DALECPY_E2E_ENGINE (${ARCH_LIST[*]}; $(D image inspect -f '{{.Id}}' "$ref" | cut -c1-19)); skipping"
        fi
        continue
    fi
    t0=$(date +%s)
    if [ ${#ARCH_LIST[@]} -gt 1 ] || [ "$ENGINE_SEL" = c ]; then
        build_multi "$ref" "$suite"
    else
        import_one "$ref" "$(ensure_tarball "$suite" "${ARCH_LIST[0]}")"
    fi
    log "made $ref (${ARCH_LIST[*]}) in $(( $(date +%s) - t0 ))s"
done

[ "$ENGINE_SEL" = c ] && exit 0  # engine C resolves debian:<suite> through its docker.io mirror
# Check how the engine resolves the short name, and make sure the fully qualified name exists too.
for suite in "${SUITES[@]}"; do
    short="debian:$suite" full="docker.io/library/debian:$suite"
    has_image "$full" || D tag "$short" "$full"
    log "$short -> $(D image inspect -f '{{.Id}} {{.RepoTags}}' "$short")"
done
