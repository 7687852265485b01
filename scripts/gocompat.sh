#!/usr/bin/env bash
# Build tests/gocompat/main.go against BuildKit's own Go client/llb and regenerate the golden file
# tests/gocompat/go_ops.json that tests/gocompat/test_gocompat.py compares dalecpy.llb against.
#
#   scripts/gocompat.sh            fetch + build + run; rewrite tests/gocompat/go_ops.json
#   scripts/gocompat.sh --stdout   same, but print the JSON instead of writing the golden file
#   scripts/gocompat.sh --check    same, and fail if the output differs from the committed golden file
#   scripts/gocompat.sh --fetch    only fetch and unpack the toolchain and sources
#
# Everything comes from Debian sid's package lists, used through private apt options so the host's
# sources and installed packages are never touched (no root needed if GOCOMPAT_DIR is writable):
# the Go toolchain (golang-1.NN-go/-src, whatever sid's golang-go points at), BuildKit's source as
# shipped inside golang-github-docker-docker-dev, and the -dev packages client/llb imports. They are
# unpacked with dpkg-deb -x and built in GOPATH mode (GO111MODULE=off): no module proxy is needed.
# Debs, the unpacked tree and Go's build cache are kept in $GOCOMPAT_DIR (default /opt/gocompat), so
# a second run only rebuilds main.go (seconds). A cold run takes about 3 minutes on 2 cores.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${GOCOMPAT_DIR:-/opt/gocompat}"
mode="${1:-write}"
case "$mode" in write | --stdout | --check | --fetch) ;; *)
	echo "usage: $0 [--stdout|--check|--fetch]" >&2
	exit 2
	;;
esac
log() { echo "gocompat: $*" >&2; }

# The -dev packages whose files `go list -deps` of tests/gocompat reaches (client/llb pulls in
# util/imageutil and so containerd, grpc and otel); found by building against the full dependency
# closure of golang-github-docker-docker-dev and mapping every used package directory to its deb.
DEV_PKGS=(
	golang-github-docker-docker-dev # github.com/moby/buildkit (client/llb, solver/pb) lives here
	golang-google-protobuf-dev
	golang-github-cespare-xxhash-v2-dev
	golang-github-containerd-containerd-dev
	golang-github-containerd-errdefs-dev
	golang-github-containerd-log-dev
	golang-github-containerd-platforms-dev
	golang-github-containerd-ttrpc-dev
	golang-github-containerd-typeurl-dev
	golang-github-distribution-reference-dev
	golang-github-felixge-httpsnoop-dev
	golang-github-go-logr-logr-dev
	golang-github-go-logr-stdr-dev
	golang-github-gogo-protobuf-dev
	golang-github-golang-protobuf-1-5-dev
	golang-github-google-shlex-dev
	golang-github-google-uuid-dev
	golang-github-in-toto-attestation-dev
	golang-github-in-toto-in-toto-golang-dev
	golang-github-klauspost-compress-dev
	golang-github-moby-locker-dev
	golang-github-opencontainers-go-digest-dev
	golang-github-opencontainers-image-spec-dev
	golang-github-pkg-errors-dev
	golang-github-planetscale-vtprotobuf-dev
	golang-github-secure-systems-lab-go-securesystemslib-dev
	golang-github-shibumi-go-pathspec-dev
	golang-github-sirupsen-logrus-dev
	golang-golang-x-crypto-dev
	golang-golang-x-net-dev
	golang-golang-x-sync-dev
	golang-golang-x-sys-dev
	golang-golang-x-text-dev
	golang-google-genproto-dev
	golang-google-grpc-dev
	golang-opentelemetry-contrib-dev
	golang-opentelemetry-otel-dev
)

mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/debs" "$dir/bin"
echo 'deb http://deb.debian.org/debian sid main' >"$dir/apt/sources.list"
APT=(-o "Dir::Etc::sourcelist=$dir/apt/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$dir/apt/lists"
	-o "Dir::Cache=$dir/apt/cache" -o Dir::State::status=/dev/null -o Debug::NoLocking=1)
[ "$(id -u)" = 0 ] && APT+=(-o APT::Sandbox::User=root)

apt_update() {
	log "apt-get update (sid lists in $dir/apt)"
	apt-get "${APT[@]}" -qq update >&2
}
compgen -G "$dir/apt/lists/*_Packages*" >/dev/null || apt_update

go_pkg() { # the golang-1.NN-go that sid's golang-go depends on
	apt-cache "${APT[@]}" depends golang-go 2>/dev/null | awk '/Depends: golang-1\.[0-9]+-go$/ {print $2; exit}'
}
gopkg="$(go_pkg)"
[ -n "$gopkg" ] || { log "cannot resolve golang-go in sid's lists"; exit 1; }
pkgs=("$gopkg" "${gopkg%-go}-src" "${DEV_PKGS[@]}")

# "<package> <file-name version>" for each package's candidate in sid (apt-get download writes an epoch's
# colon as %3a), or "<package> -" when the lists do not know it.
candidates() {
	apt-cache "${APT[@]}" policy "${pkgs[@]}" 2>/dev/null | awk '
		/^[^ ].*:$/ { sub(/:$/, ""); p = $0 }
		/^  Candidate:/ { v = $2; gsub(/:/, "%3a", v); print p, (v == "(none)" ? "-" : v) }'
}
deb_of() { # package version -> cached deb file name, or nothing
	(cd "$dir/debs" && compgen -G "${1}_${2}_*.deb" | head -n1) || true
}

# Download the debs that are not cached yet. Stale lists make the mirror answer 404 for superseded
# versions: refresh the lists once and retry.
fetch() {
	local p v want=()
	while read -r p v; do
		[ "$v" != - ] || return 1
		[ -n "$(deb_of "$p" "$v")" ] || want+=("$p")
	done < <(candidates)
	[ "${#want[@]}" = 0 ] && return 0
	log "downloading ${#want[@]} packages"
	(cd "$dir/debs" && apt-get "${APT[@]}" -qq download "${want[@]}" >&2)
}
if ! fetch; then
	apt_update
	fetch || { log "some of these packages are missing from sid: ${pkgs[*]}"; exit 1; }
fi

# Unpack exactly the current candidate debs into a fresh tree when that set changes.
debs=()
while read -r p v; do
	f="$(deb_of "$p" "$v")"
	[ -n "$f" ] || { log "no cached deb for $p $v"; exit 1; }
	debs+=("$f")
done < <(candidates)
[ "${#debs[@]}" = "${#pkgs[@]}" ] || { log "expected ${#pkgs[@]} debs, found ${#debs[@]}"; exit 1; }
stamp="$(printf '%s\n' "${debs[@]}" | sort)"
root="$dir/root"
if [ "$(cat "$root/.stamp" 2>/dev/null)" != "$stamp" ]; then
	log "unpacking ${#debs[@]} packages into $root"
	rm -rf "$root.new"
	mkdir -p "$root.new"
	for f in "${debs[@]}"; do dpkg-deb -x "$dir/debs/$f" "$root.new"; done
	printf '%s\n' "$stamp" >"$root.new/.stamp"
	rm -rf "$root"
	mv "$root.new" "$root"
fi
[ "$mode" = --fetch ] && { log "toolchain ready in $root"; exit 0; }

goroot="$(echo "$root"/usr/lib/go-1.*)"
bk_version="$(printf '%s\n' "${debs[@]}" | awk -F_ '/^golang-github-docker-docker-dev_/ {print $2}')"
export GOROOT="$goroot" GOPATH="$root/usr/share/gocode" GO111MODULE=off GOFLAGS= GOTOOLCHAIN=local
export GOPROXY=off GOENV=off GOTELEMETRY=off CGO_ENABLED=0 GOCACHE="$dir/gocache"
log "building tests/gocompat with $("$goroot/bin/go" version | cut -d' ' -f3) and BuildKit from golang-github-docker-docker-dev $bk_version"
(cd "$here/tests/gocompat" && "$goroot/bin/go" build -trimpath -o "$dir/bin/gocompat" .)

out="$(GOCOMPAT_BUILDKIT_SOURCE="golang-github-docker-docker-dev $bk_version (Debian sid)" "$dir/bin/gocompat")"
golden="$here/tests/gocompat/go_ops.json"
case "$mode" in
--stdout) printf '%s\n' "$out" ;;
--check)
	if diff -u "$golden" <(printf '%s\n' "$out") >&2; then log "golden file is up to date"; else
		log "tests/gocompat/go_ops.json differs from Go's output (run scripts/gocompat.sh)"
		exit 1
	fi
	;;
*)
	printf '%s\n' "$out" >"$golden"
	log "wrote ${golden#"$here"/}"
	;;
esac
