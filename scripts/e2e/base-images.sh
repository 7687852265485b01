#!/usr/bin/env bash
# Create debian:<suite> base images in the running e2e engine without a registry:
# debootstrap --variant=minbase + docker import. Rootfs tarballs are cached, so re-runs take seconds.
#
#   scripts/e2e/base-images.sh [--force] [SUITE...]        (default suites: bookworm trixie)
#     --force   rebuild the rootfs tarball and re-import even when the image exists
#
# Needs the engine started by provision.sh (reads /run/dalecpy-e2e/engine.env).
# Env: E2E_DEBIAN_MIRROR (default http://deb.debian.org/debian), E2E_CACHE (default /var/cache/dalecpy-e2e).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
need_root

FORCE=0 SUITES=()
for arg in "$@"; do
    case $arg in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
        -*) die "unknown option $arg" ;;
        *) SUITES+=("$arg") ;;
    esac
done
[ ${#SUITES[@]} -gt 0 ] || SUITES=(bookworm trixie)

load_engine_env
command -v debootstrap >/dev/null || die "debootstrap missing: run provision.sh first"
D() { "$DOCKER_CLI" "$@"; }
ROOTFS_DIR="$E2E_CACHE/rootfs"
mkdir -p "$ROOTFS_DIR"

# The tag the engine stores for "debian:bookworm" (docker normalises to docker.io/library/debian:bookworm;
# `docker image inspect` answers to both spellings).
has_image() { D image inspect "$1" >/dev/null 2>&1; }

build_tarball() {  # build_tarball SUITE TARBALL
    local suite=$1 tarball=$2 dir t0
    dir=$(mktemp -d "$ROOTFS_DIR/.${suite}.XXXXXX")
    t0=$(date +%s)
    log "debootstrap --variant=minbase $suite ($E2E_DEBIAN_MIRROR) into $dir"
    # debootstrap may need a newer script for a newer suite; bookworm's debootstrap knows trixie/sid
    # (they are symlinks to the 'sid' script).
    if ! debootstrap --variant=minbase "$suite" "$dir" "$E2E_DEBIAN_MIRROR" >"$ROOTFS_DIR/$suite.debootstrap.log" 2>&1; then
        tail -n 20 "$ROOTFS_DIR/$suite.debootstrap.log" >&2
        rm -rf "$dir"
        die "debootstrap $suite failed (log: $ROOTFS_DIR/$suite.debootstrap.log)"
    fi
    log "debootstrap $suite done in $(( $(date +%s) - t0 ))s"
    # Same apt sources line the official images use, and drop the debootstrap cache to keep it small.
    echo "deb $E2E_DEBIAN_MIRROR $suite main" >"$dir/etc/apt/sources.list"
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/debootstrap
    tar --numeric-owner --xattrs -C "$dir" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
    log "rootfs tarball $tarball ($(du -h "$tarball" | cut -f1))"
}

for suite in "${SUITES[@]}"; do
    ref="debian:$suite"
    tarball="$ROOTFS_DIR/debian-$suite-minbase.tar"
    if has_image "$ref" && [ "$FORCE" = 0 ]; then
        log "$ref already in engine $DALECPY_E2E_ENGINE ($(D image inspect -f '{{.Id}}' "$ref" | cut -c1-19)); skipping"
        continue
    fi
    if [ ! -s "$tarball" ] || [ "$FORCE" = 1 ]; then
        build_tarball "$suite" "$tarball"
    else
        log "using cached $tarball"
    fi
    t0=$(date +%s)
    D import -c 'CMD ["bash"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$tarball" "$ref" >/dev/null
    log "imported $ref in $(( $(date +%s) - t0 ))s"
done

# Check how the engine resolves the short name, and make sure the fully qualified name exists too.
for suite in "${SUITES[@]}"; do
    short="debian:$suite" full="docker.io/library/debian:$suite"
    has_image "$full" || D tag "$short" "$full"
    log "$short -> $(D image inspect -f '{{.Id}} {{.RepoTags}}' "$short")"
done
