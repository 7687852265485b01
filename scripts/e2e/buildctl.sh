# shellcheck shell=bash
# buildctl from Debian packages (sourced by provision.sh --buildctl; needs lib.sh and provision.sh's APT_SID).
#
# Debian ships no buildctl/buildkitd binary. But sid's golang-github-docker-docker-dev (source docker.io)
# carries moby/buildkit's Go source, cmd/buildctl included (the same BuildKit dockerd 28.5 embeds, >= v0.23:
# `--ssh id=sock,raw=true` and `debug dump-llb`). We build it offline, GOPATH mode, with sid's golang-go and
# sid's golang-*-dev packages. ~380 MB of .debs (cached), ~60 s compile; the binary is cached by version.
# buildkitd cannot be built this way (about 25 imports are not packaged: azure sdk, go-actions-cache, ...).

BUILDCTL_EXTRA_PKGS=(golang-github-gofrs-flock-dev golang-github-google-shlex-dev golang-github-pkg-profile-dev)

# install_buildctl: print the path of a working buildctl (cached), build it when needed.
install_buildctl() {
    local debs="$E2E_CACHE/gosrc-debs" bindir="$E2E_CACHE/bin" ver bin tree
    mkdir -p "$debs" "$bindir"
    if ! compgen -G "$debs/golang-github-docker-docker-dev_*.deb" >/dev/null; then
        compgen -G "$SID_APT/lists/*Packages*" >/dev/null || sid_update
        log "resolving the Go build dependencies of buildctl in $E2E_SID_SUITE"
        local pkgs
        pkgs=$(apt-get "${APT_SID[@]}" -o Dir::State::status=/dev/null -s install --no-install-recommends \
                   golang-go golang-github-docker-docker-dev "${BUILDCTL_EXTRA_PKGS[@]}" \
               | awk '/^Inst golang-/{print $2}')
        log "downloading $(echo "$pkgs" | wc -l) golang-* .debs into $debs (one time, ~380 MB)"
        # shellcheck disable=SC2086
        (cd "$debs" && apt-get "${APT_SID[@]}" download $pkgs >/dev/null)
    fi
    ver=$(dpkg-deb -f "$(compgen -G "$debs/golang-github-docker-docker-dev_*.deb" | head -n1)" Version)
    bin="$bindir/buildctl-$ver"
    if [ ! -x "$bin" ]; then
        tree=$(mktemp -d "$E2E_OPT/gosrc.XXXXXX")
        log "extracting Go toolchain + sources into $tree"
        local f
        for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$tree"; done
        local goroot
        goroot=$(dirname "$(dirname "$(readlink -f "$tree/usr/bin/go")")")
        log "go build github.com/moby/buildkit/cmd/buildctl ($("$goroot/bin/go" version | awk '{print $3}'), docker.io source $ver)"
        (cd "$tree" && env -i HOME="$HOME" PATH="$goroot/bin:/usr/bin:/bin" GOROOT="$goroot" \
            GOPATH="$tree/usr/share/gocode" GO111MODULE=off GOFLAGS= CGO_ENABLED=0 GOPROXY=off \
            GOTOOLCHAIN=local GOCACHE="$E2E_CACHE/gocache" \
            go build -trimpath -o "$bin.tmp" \
               -ldflags "-X github.com/moby/buildkit/version.Version=debian-docker.io-$ver" \
               github.com/moby/buildkit/cmd/buildctl) >&2 || { rm -rf "$tree"; return 1; }
        mv "$bin.tmp" "$bin"
        rm -rf "$tree"
    fi
    mkdir -p "$E2E_OPT/bin"
    ln -sfn "$bin" "$E2E_OPT/bin/buildctl"
    "$E2E_OPT/bin/buildctl" --version >&2
    echo "$E2E_OPT/bin/buildctl"
}

# start_buildkit_proxy DOCKER_SOCK: serve the engine's embedded BuildKit on $E2E_RUN/buildkit.sock
start_buildkit_proxy() {
    local sock=$1 pidf="$E2E_RUN/buildkit-proxy.pid" listen="$E2E_RUN/buildkit.sock" i
    stop_pidfile "buildkit proxy" "$pidf" 10
    spawn_daemon "$E2E_LOG/buildkit-proxy.log" python3 "$HERE/dockerd-buildkit-proxy.py" "$sock" "$listen"
    echo $! >"$pidf"
    for ((i = 0; i < 20; i++)); do
        "$E2E_OPT/bin/buildctl" --addr "unix://$listen" debug workers >/dev/null 2>&1 && {
            log "buildctl --addr unix://$listen reaches the engine's BuildKit"; return 0; }
        sleep 0.5
    done
    log "WARNING: buildkit proxy on $listen does not answer (log: $E2E_LOG/buildkit-proxy.log)"
    return 1
}
