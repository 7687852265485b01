# shellcheck shell=bash
# buildctl from Debian packages (sourced by provision.sh --buildctl; needs lib.sh and provision.sh's APT_SID).
#
# Debian ships no buildctl/buildkitd binary. But sid's golang-github-docker-docker-dev (source docker.io)
# carries moby/buildkit's Go source, cmd/buildctl included (the same BuildKit dockerd 28.5 embeds, >= v0.23:
# `--ssh id=sock,raw=true` and `debug dump-llb`). We build it offline, GOPATH mode, with sid's golang-go and
# sid's golang-*-dev packages. ~380 MB of .debs (cached), ~60 s compile; the binary is cached by version.
# buildkitd cannot be built this way (about 25 imports are not packaged: azure sdk, go-actions-cache, ...).

BUILDCTL_EXTRA_PKGS=(golang-github-gofrs-flock-dev golang-github-google-shlex-dev golang-github-pkg-profile-dev
                     golang-github-agext-levenshtein-dev golang-github-mitchellh-hashstructure-dev)

# _buildkit_go_debs: the golang-* .debs (toolchain + BuildKit's source and dependencies), downloaded once.
_buildkit_go_debs() {
    local debs="$E2E_CACHE/gosrc-debs" p missing=()
    mkdir -p "$debs"
    for p in golang-github-docker-docker-dev "${BUILDCTL_EXTRA_PKGS[@]}"; do
        compgen -G "$debs/${p}_*.deb" >/dev/null || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    compgen -G "$SID_APT/lists/*Packages*" >/dev/null || sid_update
    log "resolving the Go build dependencies of buildctl in $E2E_SID_SUITE"
    local pkgs todo=()
    pkgs=$(apt-get "${APT_SID[@]}" -o Dir::State::status=/dev/null -s install --no-install-recommends \
               golang-go golang-github-docker-docker-dev "${BUILDCTL_EXTRA_PKGS[@]}" \
           | awk '/^Inst golang-/{print $2}')
    for p in $pkgs; do compgen -G "$debs/${p}_*.deb" >/dev/null || todo+=("$p"); done
    log "downloading ${#todo[@]} golang-* .debs into $debs (one time, ~380 MB)"
    (cd "$debs" && apt-get "${APT_SID[@]}" download "${todo[@]}" >/dev/null)
}

# _buildkit_go_build OUT=IMPORT_PATH...: build BuildKit commands offline (GOPATH mode) into cached binaries.
_buildkit_go_build() {
    local debs="$E2E_CACHE/gosrc-debs" tree f goroot ver pair out pkg
    ver=$(dpkg-deb -f "$(compgen -G "$debs/golang-github-docker-docker-dev_*.deb" | head -n1)" Version)
    tree=$(mktemp -d "$E2E_OPT/gosrc.XXXXXX")
    log "extracting Go toolchain + sources into $tree"
    for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$tree"; done
    # Debian ships hashstructure v2 at its v1 GOPATH path; BuildKit imports .../v2.
    local hs="$tree/usr/share/gocode/src/github.com/mitchellh/hashstructure"
    if [ -d "$hs" ] && [ ! -d "$hs/v2" ]; then mkdir "$hs/v2" && cp "$hs"/*.go "$hs/v2/" && rm -f "$hs"/v2/*_test.go; fi
    goroot=$(dirname "$(dirname "$(readlink -f "$tree/usr/bin/go")")")
    for pair in "$@"; do
        out=${pair%%=*} pkg=${pair#*=}
        log "go build $pkg ($("$goroot/bin/go" version | awk '{print $3}'), docker.io source $ver)"
        (cd "$tree" && env -i HOME="$HOME" PATH="$goroot/bin:/usr/bin:/bin" GOROOT="$goroot" \
            GOPATH="$tree/usr/share/gocode" GO111MODULE=off GOFLAGS= CGO_ENABLED=0 GOPROXY=off \
            GOTOOLCHAIN=local GOCACHE="$E2E_CACHE/gocache" \
            go build -trimpath -o "$out.tmp" \
               -ldflags "-X github.com/moby/buildkit/version.Version=debian-docker.io-$ver" "$pkg") >&2 \
            && mv "$out.tmp" "$out" || log "WARNING: go build $pkg failed"
    done
    rm -rf "$tree"
}

# install_buildctl: print the path of a working buildctl (cached), build it when needed. Also builds
# BuildKit's Dockerfile frontend (cmd/dockerfile-frontend, what `# syntax=docker/dockerfile` images run) for
# bench/frontend.py: $E2E_CACHE/bin/dockerfile-frontend-<version>.
install_buildctl() {
    local bindir="$E2E_CACHE/bin" ver bin dff want=()
    mkdir -p "$bindir"
    _buildkit_go_debs || return 1
    ver=$(dpkg-deb -f "$(compgen -G "$E2E_CACHE/gosrc-debs/golang-github-docker-docker-dev_*.deb" | head -n1)" Version)
    bin="$bindir/buildctl-$ver" dff="$bindir/dockerfile-frontend-$ver"
    [ -x "$bin" ] || want+=("$bin=github.com/moby/buildkit/cmd/buildctl")
    [ -x "$dff" ] || want+=("$dff=github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend")
    [ ${#want[@]} -eq 0 ] || _buildkit_go_build "${want[@]}"
    [ -x "$bin" ] || return 1
    mkdir -p "$E2E_OPT/bin"
    ln -sfn "$bin" "$E2E_OPT/bin/buildctl"
    if [ -x "$dff" ]; then ln -sfn "$dff" "$E2E_OPT/bin/dockerfile-frontend"; fi
    "$E2E_OPT/bin/buildctl" --version >&2
    echo "$E2E_OPT/bin/buildctl"
}

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
