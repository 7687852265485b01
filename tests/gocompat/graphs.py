"""The graphs of tests/gocompat/main.go, built with dalecpy.llb (same names, same parameters).

Keep this file and main.go in step; test_gocompat.py checks both list the same graph names.
"""

from __future__ import annotations

from typing import Callable

from dalecpy import llb
from dalecpy.llb import CacheSharing, Mount, NetMode

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

GRAPHS: dict[str, Callable[[], llb.State]] = {}


def graph(fn: Callable[[], llb.State]) -> Callable[[], llb.State]:
    GRAPHS[fn.__name__] = fn
    return fn


# --- sources ----------------------------------------------------------------------------------
@graph
def scratch() -> llb.State:
    return llb.scratch()


@graph
def image_default() -> llb.State:
    return llb.image("debian:bookworm")


@graph
def image_platform_arm64() -> llb.State:
    return llb.image("docker.io/library/debian:bookworm", platform="linux/arm64")


@graph
def image_platform_armv7_exec() -> llb.State:
    return llb.image("alpine", platform="linux/arm/v7").run(["uname", "-m"]).root


@graph
def image_resolve_pull_named() -> llb.State:
    return llb.image("ghcr.io/example/builder:1.2", resolve_mode="pull", custom_name="builder image")


@graph
def image_resolve_local() -> llb.State:
    return llb.image("busybox", resolve_mode="local")


@graph
def image_digest() -> llb.State:
    return llb.image("alpine@sha256:1e42bbe2508154c9126d48c2b8a75420c3544343bf86fd041fb7527e017a4b4a")


@graph
def local() -> llb.State:
    return llb.local(
        "context",
        session_id="s3ss10n-id",
        shared_key_hint="context",
        include_patterns=["src/**", "*.go", "a<b>&c"],
        exclude_patterns=["**/*_test.go", "vendor"],
        follow_paths=["src", "go.mod"],
        custom_name="context context (source src)",
    )


@graph
def local_minimal() -> llb.State:
    return llb.local("dalec-ctx", session_id="sid")


@graph
def git_keepgitdir() -> llb.State:
    return llb.git(
        "https://github.com/moby/buildkit.git",
        "v0.17.0",
        keep_git_dir=True,
        custom_name="git https://github.com/moby/buildkit.git#v0.17.0 (source bk)",
    )


@graph
def git_plain() -> llb.State:
    return llb.git("https://github.com/moby/buildkit.git", "0123456789abcdef0123456789abcdef01234567")


@graph
def git_auth() -> llb.State:
    return llb.git(
        "https://gitlab.example.com/group/repo.git",
        "main",
        auth_token_secret="my-token",
        auth_header_secret="my-header",
    )


@graph
def git_ssh() -> llb.State:
    return llb.git(
        "git@github.com:moby/buildkit.git",
        "main",
        mount_ssh_sock="gitssh",
        known_ssh_hosts="github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
    )


@graph
def http() -> llb.State:
    return llb.http(
        "https://example.com/releases/tool-1.0.tar.gz",
        checksum="sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        filename="tool.tar.gz",
        perm=0o755,
        custom_name="http https://example.com/releases/tool-1.0.tar.gz (source tool)",
    )


@graph
def http_chown() -> llb.State:
    return llb.http("https://example.com/file.txt", uid=1000, gid=1001, perm=0o600)


# --- exec -------------------------------------------------------------------------------------
def _exec_full() -> llb.ExecState:
    base = (
        llb.image("debian:bookworm")
        .with_env("PATH", DEFAULT_PATH)
        .with_env("DEBIAN_FRONTEND", "noninteractive")
        .with_cwd("/src")
        .with_user("builder")
    )
    src = llb.local("context", session_id="sess", shared_key_hint="context")
    out_dir = llb.image("alpine").file(llb.mkdir("/sub/dir", 0o755, parents=True))
    return base.run(
        ["/bin/sh", "-c", "make -j2 && make install DESTDIR=/out"],
        env={"GOCACHE": "/cache/go", "DEBIAN_FRONTEND": "readline"},
        cwd="/work",
        user="1000:1000",
        network=NetMode.NONE,
        mounts=[
            Mount.bind("/src", src, readonly=True),
            Mount.bind("/out", out_dir, selector="/sub/dir"),
            Mount.bind("/scratch", llb.scratch()),
            Mount.cache("/cache/shared", "cache-shared", CacheSharing.SHARED),
            Mount.cache("/cache/private", "cache-private", CacheSharing.PRIVATE),
            Mount.cache("/cache/locked", "cache-locked", CacheSharing.LOCKED),
            Mount.tmpfs("/tmp"),
            Mount.tmpfs("/dev/shm", size=64 << 20),
            Mount.secret("/run/secrets/token", "token", uid=1000, gid=1000, mode=0o440, optional=True),
            Mount.secret("/run/secrets/plain", "plain"),
            Mount.ssh("/run/ssh.sock", "default", optional=True),
        ],
        custom_name="Build everything",
    )


@graph
def exec_full() -> llb.State:
    return _exec_full().root


@graph
def exec_outputs() -> llb.State:
    es = _exec_full()
    cp = dict(dir_copy_contents=True, create_dest_path=True)
    return llb.scratch().file(
        llb.copy(es.root, "/usr/bin/tool", "/bin/tool")
        .copy(es.output("/out"), "/", "/out", **cp)
        .copy(es.output("/scratch"), "/", "/scratch/", **cp),
        custom_name="collect outputs",
    )


@graph
def exec_env_order() -> llb.State:
    base = (
        llb.image("busybox")
        .with_env("A", "1").with_env("B", "2").with_env("A", "3").with_env("PATH", "/bin")
        .with_cwd("/a").with_cwd("b")
    )
    return base.run(["env"], env={"C": "4", "B": "5"}).root


@graph
def exec_ssh_default_target() -> llb.State:
    return llb.image("busybox").run(
        ["ssh-add", "-l"],
        mounts=[Mount.ssh(), Mount.ssh("", "other", uid=1000, gid=1000, mode=0o400)],
    ).root


@graph
def exec_ssh_env_preset() -> llb.State:
    return (
        llb.image("busybox")
        .with_env("SSH_AUTH_SOCK", "/custom.sock")
        .run(["true"], mounts=[Mount.ssh("/run/ssh.sock", "default")])
        .root
    )


@graph
def exec_network_host() -> llb.State:
    return llb.image("busybox").with_network(NetMode.HOST).run(["wget", "example.com"]).root


# --- file ops ---------------------------------------------------------------------------------
@graph
def fileop_chain() -> llb.State:
    base = llb.image("debian:bookworm").with_cwd("/work")
    ctx = llb.local("context", session_id="sess").with_cwd("/app")
    return base.file(
        llb.mkdir("/a/b/c", 0o755, parents=True)
        .mkdir("rel", 0o700)
        .mkfile("/a/b/c/f.txt", 0o644, b"hello\x00\xffworld\n")
        .mkfile("rel/g.txt", 0o600, b"")
        .copy(ctx, "src/", "/dst/", dir_copy_contents=True, create_dest_path=True)
        .copy(ctx, "/abs/file", "dest/.")
        .copy(base, "/etc/os-release", "../up/./os-release")
        .rm("/a/b/c/f.txt", allow_not_found=True)
        .rm("/tmp/*", allow_wildcard=True),
        custom_name="file chain",
    )


@graph
def fileop_scratch_mkfile() -> llb.State:
    return llb.scratch().file(llb.mkfile("/hello.txt", 0o644, "hello\n"), custom_name="inline file hello.txt")


@graph
def fileop_copy_filter() -> llb.State:
    g = llb.git("https://github.com/example/project.git", "v1.2.3", keep_git_dir=True)
    return llb.scratch().file(
        llb.copy(
            g,
            "/cmd/tool",
            "/",
            dir_copy_contents=True,
            include_patterns=["*.go", "go.*"],
            exclude_patterns=["*_test.go"],
            allow_wildcard=True,
            create_dest_path=True,
        ),
        custom_name="filter source src: /cmd/tool",
    )


@graph
def fileop_chown() -> llb.State:
    return llb.image("busybox").file(
        llb.mkdir("/home/u", 0o700, owner="builder:staff")
        .mkfile("/home/u/a", 0o600, "a", owner=(1000, 1000))
        .mkfile("/home/u/b", 0o600, "b", owner="root:1000")
        .mkdir("/home/v", 0o755, owner=llb.ChownOpt(0, 1000))
        .copy(llb.image("alpine"), "/etc/passwd", "/home/u/passwd", owner="builder")
    )


@graph
def fileop_copy_mode() -> llb.State:
    return llb.scratch().file(
        llb.copy(
            llb.image("alpine"),
            "/bin/busybox",
            "/busybox",
            mode=0o755,
            follow_symlinks=True,
            allow_wildcard=True,
            allow_empty_wildcard=True,
        )
    )


# --- metadata ---------------------------------------------------------------------------------
@graph
def ignore_cache() -> llb.State:
    st = llb.image("busybox").run(["date"], ignore_cache=True, custom_name="no cache run").root
    return st.file(llb.mkfile("/stamp", 0o644, "x"), ignore_cache=True)


@graph
def same_digest_merge() -> llb.State:
    a = llb.image("alpine:3.20", custom_name="first name")
    b = llb.image("alpine:3.20", custom_name="second name")
    return a.run(["ls"], mounts=[Mount.bind("/b", b, readonly=True)]).root


@graph
def shared_input() -> llb.State:
    base = llb.image("debian:bookworm")
    left = base.run(["touch", "/left"]).root
    right = base.run(["touch", "/right"]).root
    joined = left.run(
        ["cp", "/r/right", "/"],
        mounts=[
            Mount.bind("/r", right, readonly=True),
            Mount.bind("/r2", right, readonly=True),
            Mount.bind("/base", base, readonly=True),
        ],
    ).root
    return llb.scratch().file(
        llb.copy(joined, "/left", "/left").copy(right, "/right", "/right").copy(joined, "/right", "/right2")
    )


# --- a realistic graph: what dalecpy/compile/debian.py emits for specs/bazel-genrule.yml ------
SCRIPT_DIR = "/tmp/dalec/internal"

DEPS_CONTROL = (
    "Package: dalecpy-build-deps-bazel-hello\nVersion: 1.0\nArchitecture: all\n"
    "Maintainer: dalecpy <dalecpy@localhost>\nDepends: bazel-bootstrap\n"
    "Description: build dependencies of bazel-hello\n"
)
INSTALL_DEPS = (
    "#!/bin/sh\nset -e\nrm -f /etc/apt/apt.conf.d/docker-clean\napt-get update\n"
    "mkdir -p /tmp/dalec/deps/DEBIAN\ncp /tmp/dalec/internal/deps.control /tmp/dalec/deps/DEBIAN/control\n"
    "dpkg-deb --build /tmp/dalec/deps /tmp/dalec/deps.deb >/dev/null\n"
    "apt-get install -y --no-install-recommends /tmp/dalec/deps.deb\n"
    "rm -rf /tmp/dalec/deps /tmp/dalec/deps.deb\n"
)
BUILD_BUILD = (
    'genrule(\n    name = "hello",\n    srcs = ["greeting.txt"],\n    outs = ["bazel-hello"],\n'
    "    cmd = \"(echo '#!/bin/sh'; echo \\\"echo '$$(cat $(location greeting.txt))'\\\") > $@\",\n"
    "    executable = True,\n)\n"
)
BAZELRC = "\nbuild --disk_cache=/tmp/dalec/bazel-local-cache\nfetch --disk_cache=/tmp/dalec/bazel-local-cache\n"
BUILD_SH = (
    '#!/bin/sh\nset -e\nexport HOME="${HOME:-/root}"\n'
    'if [ -S "/tmp/dalec/bazel-remote.sock" ]; then\n'
    '  echo "build --remote_cache=unix:/tmp/dalec/bazel-remote.sock" >> /etc/bazel.bazelrc\n'
    '  echo "fetch --remote_cache=unix:/tmp/dalec/bazel-remote.sock" >> /etc/bazel.bazelrc\n'
    "fi\n(\ncat /etc/bazel.bazelrc\ncd src\nbazel build --color=no --curses=no //:hello\n"
    "mkdir -p ../out && cp -L bazel-bin/bazel-hello ../out/bazel-hello\nbazel shutdown\n)\n"
)
PKG_CONTROL = (
    "Package: bazel-hello\nVersion: 1.0.0-1\nArchitecture: amd64\n"
    "Maintainer: dalecpy examples <examples@example.com>\nHomepage: https://example.com/bazel-hello\n"
    "Description: A Bazel genrule project built with the Bazel disk cache.\n"
)
PACKAGE_SH = (
    '#!/bin/sh\n'
    'set -e\n'
    'R=/tmp/dalec/pkgroot\n'
    'rm -rf "$R" && mkdir -p "$R/DEBIAN"\n'
    'dalec_install() {\n'
    '  mode="$1"; dir="$R$2"; name="$3"; shift 3\n'
    '  [ -e "$1" ] || [ -L "$1" ] || { printf \'dalecpy: artifact not found: %s\\n\' "$1" >&2; exit 1; }\n'
    '  mkdir -p -- "$dir"\n'
    '  for src in "$@"; do\n'
    '    base=$(basename -- "$src")\n'
    '    case "$base" in .|..) continue ;; esac\n'
    '    dest="$dir/${name:-$base}"\n'
    '    mkdir -p -- "$(dirname -- "$dest")"\n'
    '    if [ -d "$src" ]; then mkdir -p -- "$dest" && cp -a -- "$src/." "$dest/"\n'
    '    elif [ "$mode" = "-" ]; then install -m 0644 -- "$src" "$dest"\n'
    '    else install -m "$mode" -- "$src" "$dest"; fi\n'
    '  done\n'
    '}\n'
    '\n'
    'cd /build\n'
    "dalec_install 755 '/usr/bin' '' 'out/bazel-hello'\n"
    'cp /tmp/dalec/internal/control "$R/DEBIAN/control"\n'
    'if [ -d "$R/etc" ]; then (cd "$R" && find etc -type f | sort | sed "s|^|/|") > "$R/DEBIAN/conffiles"; fi\n'
    '[ -s "$R/DEBIAN/conffiles" ] || rm -f "$R/DEBIAN/conffiles"\n'
    'dpkg-deb --root-owner-group --build "$R" /tmp/dalec/out/\'bazel-hello_1.0.0-1_amd64.deb\'\n'
)
INSTALL_SH = (
    "#!/bin/sh\nset -e\nrm -f /etc/apt/apt.conf.d/docker-clean\napt-get update\n"
    "apt-get install -y --no-install-recommends /tmp/dalec/pkg/*.deb\n"
)
REALISTIC_SCRIPTS = {
    "deps.control": DEPS_CONTROL,
    "install-deps.sh": INSTALL_DEPS,
    "bazelrc": BAZELRC,
    "build.sh": BUILD_SH,
    "control": PKG_CONTROL,
    "package.sh": PACKAGE_SH,
    "install.sh": INSTALL_SH,
}


def _distro_base() -> llb.State:
    return (
        llb.image("docker.io/library/debian:bookworm", platform="linux/amd64")
        .with_env("PATH", DEFAULT_PATH)
        .with_env("DEBIAN_FRONTEND", "noninteractive")
    )


def _apt_mounts() -> list[Mount]:
    return [
        Mount.cache("/var/cache/apt", "debian12-linux/amd64-dalec-var-cache-apt", CacheSharing.LOCKED),
        Mount.cache("/var/lib/apt", "debian12-linux/amd64-dalec-var-lib-apt", CacheSharing.LOCKED),
    ]


def _realistic() -> tuple[llb.State, llb.State]:
    deps_files = llb.scratch().file(
        llb.mkfile("/deps.control", 0o644, DEPS_CONTROL).mkfile("/install-deps.sh", 0o755, INSTALL_DEPS),
        custom_name="build dependencies: scripts",
    )
    worker = _distro_base().run(
        [SCRIPT_DIR + "/install-deps.sh"],
        mounts=[Mount.bind(SCRIPT_DIR, deps_files, readonly=True), *_apt_mounts()],
        custom_name="Install build dependencies: bazel-bootstrap",
    ).root

    tree = llb.scratch().file(
        llb.mkdir("/src", 0o755, parents=True)
        .mkfile("/src/BUILD", 0o644, BUILD_BUILD)
        .mkfile("/src/WORKSPACE", 0o644, 'workspace(name = "bazel_hello")\n')
        .mkfile("/src/greeting.txt", 0o644, "Hello from a Bazel genrule!\n"),
        custom_name="collect sources",
    )
    rc = llb.scratch().file(llb.mkfile("/bazelrc", 0o644, BAZELRC), custom_name="bazelrc")
    build_files = llb.scratch().file(llb.mkfile("/build.sh", 0o755, BUILD_SH), custom_name="build script")
    build = worker.run(
        [SCRIPT_DIR + "/build.sh"],
        cwd="/build",
        network=NetMode.NONE,
        mounts=[
            Mount.bind("/build", tree),
            Mount.bind(SCRIPT_DIR, build_files, readonly=True),
            Mount.bind("/etc/bazel.bazelrc", rc, selector="bazelrc"),
            Mount.ssh("/tmp/dalec/bazel-remote.sock", "bazel-default", optional=True),
            Mount.cache("/tmp/dalec/bazel-local-cache", "debian12-linux/amd64-dalec-bazelcache", CacheSharing.SHARED),
        ],
        custom_name="Build bazel-hello (1 step)",
    )
    built = build.output("/build")

    pkg_files = llb.scratch().file(
        llb.mkfile("/control", 0o644, PKG_CONTROL).mkfile("/package.sh", 0o755, PACKAGE_SH),
        custom_name="package: control and script",
    )
    pkg = worker.run(
        [SCRIPT_DIR + "/package.sh"],
        network=NetMode.NONE,
        mounts=[
            Mount.bind("/build", built, readonly=True),
            Mount.bind(SCRIPT_DIR, pkg_files, readonly=True),
            Mount.bind("/tmp/dalec/out", llb.scratch()),
        ],
        custom_name="Package bazel-hello_1.0.0-1_amd64.deb",
    ).output("/tmp/dalec/out")

    install_files = llb.scratch().file(
        llb.mkfile("/install.sh", 0o755, INSTALL_SH), custom_name="container: install script"
    )
    container = _distro_base().run(
        [SCRIPT_DIR + "/install.sh"],
        mounts=[
            Mount.bind("/tmp/dalec/pkg", pkg, readonly=True),
            Mount.bind(SCRIPT_DIR, install_files, readonly=True),
            *_apt_mounts(),
        ],
        custom_name="Install bazel-hello into docker.io/library/debian:bookworm",
    ).root
    return pkg, container


@graph
def realistic_deb() -> llb.State:
    return _realistic()[0]


@graph
def realistic_container() -> llb.State:
    return _realistic()[1]
