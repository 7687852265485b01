"""Every cache rule, read back from the marshaled LLB of the build ExecOp."""

from __future__ import annotations

import pytest

from dalecpy.llb import ops_pb2
from dalecpy.spec import SpecError

from .conftest import compile_text

SHARED, PRIVATE, LOCKED = ops_pb2.SHARED, ops_pb2.PRIVATE, ops_pb2.LOCKED

BASE = """\
name: demo
description: demo
version: "1.0"
revision: "1"
license: MIT
{deps}
build:
  caches:
{caches}
  steps:
    - command: echo hi
"""


def spec(caches: str, deps: str = "") -> str:
    return BASE.format(caches=caches, deps=deps)


DIRS = """\
    - dir: {key: k-shared, dest: /c/shared, sharing: shared}
    - dir: {key: k-private, dest: /c/private, sharing: private}
    - dir: {key: k-locked, dest: /c/locked, sharing: locked}
    - dir: {dest: /c/keyless}
    - dir: {key: global, dest: /c/global, no_auto_namespace: true}
"""


@pytest.mark.parametrize(
    "target, platform, prefix",
    [
        ("bookworm/deb", None, "debian12-linux/amd64"),
        ("bookworm/deb", "linux/arm64", "debian12-linux/arm64"),
        ("bookworm/deb", "linux/arm/v7", "debian12-linux/arm/v7"),
        ("trixie/deb", "linux/amd64", "debian13-linux/amd64"),
        ("trixie/container", "linux/arm64", "debian13-linux/arm64"),
    ],
)
def test_dir_cache_ids_are_namespaced_by_distro_and_platform(target, platform, prefix):
    g = compile_text(spec(DIRS), target, platform)
    mounts = g.cache_mounts(g.named("Build demo"))
    assert mounts["/c/shared"] == (f"{prefix}-k-shared", SHARED)
    assert mounts["/c/private"] == (f"{prefix}-k-private", PRIVATE)
    assert mounts["/c/locked"] == (f"{prefix}-k-locked", LOCKED)
    assert mounts["/c/keyless"] == (f"{prefix}-/c/keyless", SHARED)
    assert mounts["/c/global"] == ("global", SHARED)


def test_sharing_enum_values_match_buildkit():
    assert (SHARED, PRIVATE, LOCKED) == (0, 1, 2)


def test_cache_mount_records_buildkit_caps():
    g = compile_text(spec(DIRS))
    digest = next(d for d, op in g.ops.items() if op is g.named("Build demo"))
    caps = g.definition.metadata[digest].caps
    assert caps["exec.mount.cache"] and caps["exec.mount.cache.sharing"]


def test_mount_namespace_prefixes_every_cache_id():
    g = compile_text(spec(DIRS + "    - gobuild: {}\n    - bazel: {}\n"), build_args={"BUILDKIT_CACHE_MOUNT_NS": "team-a"})
    ids = [cid for cid, _ in g.cache_mounts(g.named("Build demo")).values()]
    assert ids and all(i.startswith("team-a/") for i in ids), ids
    assert "team-a/global" in ids
    assert "team-a/debian12-linux/amd64-dalec-gobuildcache" in ids
    for op in g.execs():  # apt caches too
        for cid, _ in g.cache_mounts(op).values():
            assert cid.startswith("team-a/")


def test_null_form_of_gobuild_and_bazel():
    g = compile_text(spec("    - gobuild:\n    - bazel:\n"))
    mounts = g.cache_mounts(g.named("Build demo"))
    assert mounts["/tmp/dalec/gobuild-cache"] == ("debian12-linux/amd64-dalec-gobuildcache", SHARED)
    assert mounts["/tmp/dalec/bazel-local-cache"] == ("debian12-linux/amd64-dalec-bazelcache", SHARED)


def test_scoped_builtin_caches():
    g = compile_text(spec("    - gobuild: {scope: s1}\n    - bazel: {scope: s2}\n"), "trixie/deb", "linux/arm64")
    mounts = g.cache_mounts(g.named("Build demo"))
    assert mounts["/tmp/dalec/gobuild-cache"][0] == "debian13-linux/arm64-dalec-gobuildcache-s1"
    assert mounts["/tmp/dalec/bazel-local-cache"][0] == "debian13-linux/arm64-dalec-bazelcache-s2"


def _env(op) -> dict[str, str]:
    return dict(e.split("=", 1) for e in op.exec.meta.env)


def _build_script(g) -> str:
    return g.mkfile("/build.sh")


@pytest.mark.parametrize("dep", ["golang-go", "golang", "msft-golang", "golang-1.22"])
def test_gobuild_auto_added_for_go_build_deps(dep):
    g = compile_text(spec("    - dir: {dest: /x}\n", deps=f"dependencies:\n  build:\n    {dep}:\n"))
    mounts = g.cache_mounts(g.named("Build demo"))
    assert mounts["/tmp/dalec/gobuild-cache"] == ("debian12-linux/amd64-dalec-gobuildcache", SHARED)
    assert 'export GOCACHE="/tmp/dalec/gobuild-cache"' in _build_script(g)


def test_gobuild_auto_added_from_target_merged_deps():
    text = spec("    - dir: {dest: /x}\n", deps="targets:\n  trixie:\n    dependencies:\n      build:\n        golang-go:\n")
    assert "/tmp/dalec/gobuild-cache" not in compile_text(text, "bookworm/deb").cache_mounts(compile_text(text, "bookworm/deb").named("Build demo"))
    g = compile_text(text, "trixie/deb")
    assert "/tmp/dalec/gobuild-cache" in g.cache_mounts(g.named("Build demo"))


@pytest.mark.parametrize("dep", ["gcc", "go-md2man", "golangci-lint-x"])
def test_gobuild_not_added_without_go(dep):
    g = compile_text(spec("    - dir: {dest: /x}\n", deps=f"dependencies:\n  build:\n    {dep}:\n"))
    assert "/tmp/dalec/gobuild-cache" not in g.cache_mounts(g.named("Build demo"))
    assert "GOCACHE" not in _build_script(g)


def test_gobuild_disabled_means_no_mount_no_env_no_auto_add():
    g = compile_text(spec("    - gobuild: {disabled: true}\n", deps="dependencies:\n  build:\n    golang-go:\n"))
    assert "/tmp/dalec/gobuild-cache" not in g.cache_mounts(g.named("Build demo"))
    assert "GOCACHE" not in _build_script(g)


def test_explicit_gobuild_suppresses_auto_add_and_keeps_scope():
    g = compile_text(spec("    - gobuild: {scope: mine}\n", deps="dependencies:\n  build:\n    golang-go:\n"))
    mounts = g.cache_mounts(g.named("Build demo"))
    assert [v[0] for k, v in mounts.items() if k == "/tmp/dalec/gobuild-cache"] == ["debian12-linux/amd64-dalec-gobuildcache-mine"]


def test_bazel_rc_file_and_mounts():
    g = compile_text(spec("    - bazel: {}\n"))
    build = g.named("Build demo")
    assert g.mkfile("/bazelrc") == (
        "\nbuild --disk_cache=/tmp/dalec/bazel-local-cache\nfetch --disk_cache=/tmp/dalec/bazel-local-cache\n"
    )
    by_dest = {m.dest: m for m in build.exec.mounts}
    rc = by_dest["/etc/bazel.bazelrc"]
    assert rc.mountType == ops_pb2.BIND and rc.selector == "bazelrc" and not rc.readonly
    sock = by_dest["/tmp/dalec/bazel-remote.sock"]
    assert sock.mountType == ops_pb2.SSH
    assert (sock.SSHOpt.ID, sock.SSHOpt.mode, sock.SSHOpt.uid, sock.SSHOpt.gid, sock.SSHOpt.optional) == (
        "bazel-default", 0o600, 0, 0, True,
    )


def test_bazel_remote_lines_are_decided_inside_the_build_op():
    g = compile_text(spec("    - bazel: {}\n"))
    script = _build_script(g)
    check = 'if [ -S "/tmp/dalec/bazel-remote.sock" ]; then'
    assert check in script
    assert 'echo "build --remote_cache=unix:/tmp/dalec/bazel-remote.sock" >> /etc/bazel.bazelrc' in script
    assert 'echo "fetch --remote_cache=unix:/tmp/dalec/bazel-remote.sock" >> /etc/bazel.bazelrc' in script
    # No separately cached helper op decides it: only the build op mounts the socket.
    with_ssh = [op for op in g.execs() if any(m.mountType == ops_pb2.SSH for m in op.exec.mounts)]
    assert with_ssh == [g.named("Build demo")]
    # The build op runs the script that holds the check.
    build_args = list(g.named("Build demo").exec.meta.args)
    assert build_args == ["/tmp/dalec/internal/build.sh"]


def test_no_bazel_cache_no_rc_no_socket():
    g = compile_text(spec("    - dir: {dest: /x}\n"))
    build = g.named("Build demo")
    assert not any(m.mountType == ops_pb2.SSH for m in build.exec.mounts)
    assert "/etc/bazel.bazelrc" not in {m.dest for m in build.exec.mounts}
    assert "bazel" not in _build_script(g)


def test_caches_attach_only_to_the_build_op():
    text = spec(DIRS + "    - bazel: {}\n", deps="dependencies:\n  build:\n    golang-go:\n")
    g = compile_text(text.replace("build:\n  caches", "patches:\n  src:\n    - source: p\nsources:\n  src:\n    inline:\n      dir:\n        files:\n          a: {contents: x}\n  p:\n    inline:\n      file: {contents: x}\nbuild:\n  caches"), "bookworm/container")
    build = g.named("Build demo")
    user_dests = {"/c/shared", "/c/private", "/c/locked", "/c/keyless", "/c/global", "/tmp/dalec/gobuild-cache", "/tmp/dalec/bazel-local-cache"}
    assert user_dests <= set(g.cache_mounts(build))
    for op in g.execs():
        if op is not build:
            assert not user_dests & set(g.cache_mounts(op)), op.exec.meta.args


def test_apt_caches_are_locked_on_install_ops():
    g = compile_text(spec("    - dir: {dest: /x}\n", deps="dependencies:\n  build:\n    gcc:\n"))
    install = g.named("Install build dependencies")
    mounts = g.cache_mounts(install)
    assert mounts["/var/cache/apt"][1] == LOCKED and mounts["/var/lib/apt"][1] == LOCKED


@pytest.mark.parametrize(
    "entry, key",
    [
        ("{key: dalec-gobuildcache, dest: /x}", "dalec-gobuildcache"),
        ("{key: dalec-bazelcache-s, dest: /x}", "dalec-bazelcache-s"),
        ("{key: debian12-linux/amd64-dalec-gobuildcache, dest: /x, no_auto_namespace: true}", "debian12-linux/amd64-dalec-gobuildcache"),
    ],
)
def test_dir_key_colliding_with_builtin_cache_is_an_error(entry, key):
    with pytest.raises(SpecError) as err:
        compile_text(spec(f"    - dir: {entry}\n"))
    msg = str(err.value)
    assert msg.startswith("spec.yml:")
    assert f"cache dir key {key!r}" in msg and "reserved" in msg


def test_two_caches_on_one_mount_point_is_an_error():
    with pytest.raises(SpecError, match="cache mount destination /x is already used by cache 0"):
        compile_text(spec("    - dir: {key: a, dest: /x}\n    - dir: {key: b, dest: /x}\n"))


def test_dir_cache_on_the_auto_gobuild_mount_point_is_an_error():
    with pytest.raises(SpecError, match="cache mount destination /tmp/dalec/gobuild-cache is used by the automatic gobuild cache"):
        compile_text(spec("    - dir: {key: a, dest: /tmp/dalec/gobuild-cache}\n", deps="dependencies:\n  build:\n    golang-go:\n"))
