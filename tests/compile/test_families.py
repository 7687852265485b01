"""The target families beyond Debian bookworm/trixie: Ubuntu and bullseye releases, RPM distros, windowscross."""

from __future__ import annotations

import pytest

from dalecpy.compile import CompileOptions, compile_spec, effective_caches
from dalecpy.errors import UserError
from dalecpy.compile.distros import DEB_DISTROS, RPM_DISTROS
from dalecpy.compile.rpmspec import constraint
from dalecpy.llb import ops_pb2
from dalecpy.platforms import Platform
from dalecpy.spec import SpecError, load_spec, load_spec_file

from .conftest import REPO, SPECS, compile_text

HELLO = (SPECS / "hello.yml").read_text()
GO = (SPECS / "go-hello.yml").read_text()
FEATURES = REPO / "tests" / "e2e" / "data" / "rpm-features.yml"

BASE = """\
name: s
description: d
version: "1.0"
revision: "1"
license: MIT
build:
  steps: [{command: "true"}]
"""


def _images(g) -> set[str]:
    return {op.source.identifier for op in g.ops.values() if op.WhichOneof("op") == "source"
            and op.source.identifier.startswith("docker-image://")}


def _caches(g) -> dict[str, tuple[str, int]]:
    out = {}
    for op in g.execs():
        out.update(g.cache_mounts(op))
    return out


def _spec_file(text: str, target: str = "azlinux3/rpm/debug/spec", **kw) -> str:
    g = compile_text(text, target, **kw)
    [path] = [a.mkfile.path for op in g.ops.values() if op.WhichOneof("op") == "file" for a in op.file.actions
              if a.WhichOneof("action") == "mkfile" and a.mkfile.path.endswith(".spec")]
    return g.mkfile(path)


# ------------------------------------------------------------------ Debian and Ubuntu releases

@pytest.mark.parametrize("codename, key, image, units", [
    ("bullseye", "debian11", "docker.io/library/debian:bullseye", "/lib/systemd/system"),
    ("jammy", "ubuntu22.04", "docker.io/library/ubuntu:jammy", "/lib/systemd/system"),
    ("noble", "ubuntu24.04", "docker.io/library/ubuntu:noble", "/usr/lib/systemd/system"),
    ("resolute", "ubuntu26.04", "docker.io/library/ubuntu:resolute", "/usr/lib/systemd/system"),
    ("bionic", "ubuntu18.04", "docker.io/library/ubuntu:bionic", "/lib/systemd/system"),
])
def test_each_release_has_its_image_cache_namespace_and_unit_dir(codename, key, image, units):
    g = compile_text(GO, f"{codename}/deb")
    assert _images(g) == {f"docker-image://{image}"}
    caches = _caches(g)
    assert caches["/tmp/dalec/gobuild-cache"][0] == f"{key}-linux/amd64-dalec-gobuildcache"
    assert caches["/var/cache/apt"][0] == f"{key}-linux/amd64-dalec-var-cache-apt"
    g = compile_text(BASE + "artifacts:\n  systemd:\n    units:\n      a.service: {}\n", f"{codename}/deb")
    assert f"'{units}' '' 'a.service'" in g.mkfile("/package.sh")


def test_ubuntu_container_unmasks_dpkg_excludes_for_docs_only():
    with_docs = BASE + "artifacts:\n  docs:\n    README: {}\n"
    mounts = {m.dest for op in compile_text(with_docs, "jammy/container").execs() for m in op.exec.mounts}
    assert "/etc/dpkg/dpkg.cfg.d/excludes" in mounts
    for text, target in ((BASE, "jammy/container"), (with_docs, "bookworm/container")):
        mounts = {m.dest for op in compile_text(text, target).execs() for m in op.exec.mounts}
        assert "/etc/dpkg/dpkg.cfg.d/excludes" not in mounts


def test_testing_container_and_container_install_into_the_distro_image():
    g = compile_text(HELLO, "noble/testing/container")
    assert g.named("Install dalec-hello into docker.io/library/ubuntu:noble")


def test_every_deb_release_is_routed():
    from dalecpy.compile import lookup

    for d in DEB_DISTROS:
        assert lookup(d.codename).path == d.codename and lookup(f"{d.codename}/deb").distro_key == d.version_id


# ------------------------------------------------------------------ RPM: the spec file

def test_rpm_spec_header_deps_and_sections():
    text = _spec_file(FEATURES.read_text())
    assert "Name: rpm-features\nVersion: 1.2.3\nRelease: 4%{?dist}\nLicense: MIT\n" in text
    assert "Summary: Every RPM feature dalecpy writes, 100%% checked.\n" in text  # first line, % escaped
    assert "Source0: fix.patch\nSource1: notes.txt\nSource2: src.tar.gz\nSource3: build.sh\n" in text
    assert "Requires: coreutils >= 8.0\nRequires: coreutils < 100\n" in text  # Debian's << is RPM's <
    assert "%ifarch x86_64\nRequires: arch-only\n%endif\n" in text
    assert "Provides: rpmf-tool == 1.2.3\n" in text and "Obsoletes: rpmf-old < 1.0\n" in text
    assert "Conflicts: rpmf-legacy\n" in text and "Recommends: less\n" in text and "BuildRequires: make\n" in text
    assert "Requires(pre): /usr/sbin/useradd\n" in text and "Requires(post): systemd\n" in text
    assert "%%{_bindir} and %%(echo no)" in text  # no macro from a spec value
    assert "tar -C \"%{_builddir}/\" -xzf \"%{SOURCE2}\"\n" in text
    assert "patch -d 'src' -p1 -s --input \"%{_builddir}\"/'fix.patch'\n" in text
    assert "%build\ncd \"%{_builddir}\"\nsh %{SOURCE3}\n" in text
    assert "dalec_install 644 '/usr/lib64' '' 'out/libthing.so.1'\n" in text
    assert "%attr(-, rpmf, rpmfgrp) /usr/bin/rpmf-tool\n" in text
    assert "%attr(750, rpmf, -) %dir /var/lib/rpmf\n" in text
    assert "%config(noreplace) /etc/tool.conf\n" in text and "%license /usr/share/licenses/rpm-features/LICENSE\n" in text
    assert "/usr/share/man/man1/tool.1*\n" in text
    assert "%pre\ngetent group 'rpmfgrp' >/dev/null || groupadd --system 'rpmfgrp'\n" in text
    assert text.index("* Wed Mar 4 2026") < text.index("* Fri Jan 2 2026")  # newest first


def test_rpm_libdir_follows_the_platform():
    text = BASE + "artifacts:\n  libs:\n    libx.so: {}\n"
    assert "'/usr/lib64' '' 'libx.so'" in _spec_file(text, platform="linux/arm64")
    assert "'/usr/lib' '' 'libx.so'" in _spec_file(text, platform="linux/arm/v7")


@pytest.mark.parametrize("v, expected", [("1.2", ("==", "1.2")), (">= 1:2.0-3", (">=", "1:2.0-3")), ("<< 2", ("<", "2")),
                                         (">>2", (">", "2")), ("= 1", ("==", "1")), ("~> 1", None), (">= a b", None)])
def test_rpm_version_constraints(v, expected):
    assert constraint(v) == expected


@pytest.mark.parametrize("snippet, message, line", [
    ("dependencies:\n  runtime:\n    'bad name':\n", "is not an RPM dependency name", 10),
    ("dependencies:\n  runtime:\n    ok:\n      version: ['>= 1-2-3']\n", "invalid version constraint", 11),
    ("dependencies:\n  runtime:\n    ok:\n      arch: ['x86-64!']\n", "is not an RPM architecture", 11),
])
def test_rpm_dependency_syntax_errors_are_positioned(snippet, message, line):
    with pytest.raises(SpecError) as err:
        _spec_file(BASE + snippet)
    assert f"spec.yml:{line}:" in str(err.value) and message in str(err.value)


def test_rpm_required_fields_and_header_syntax():
    text = "name: s\ndescription: d\nversion: 1.0-2\nbuild:\n  steps: [{command: 'true'}]\n"
    with pytest.raises(SpecError) as err:
        _spec_file(text)
    msg = str(err.value)
    assert "revision: an RPM package needs one (missing required field: revision)" in msg
    assert "license: an RPM package needs one" in msg
    assert 'spec.yml:3:10: version: "1.0-2" is not an RPM version' in msg


# ------------------------------------------------------------------ RPM: the build

def test_rpm_worker_package_manager_and_caches():
    g = compile_text(GO, "azlinux3/rpm")
    assert _images(g) == {"docker-image://mcr.microsoft.com/azurelinux/base/core:3.0"}
    g.named("Install dnf")
    g.named("Install Azure Linux 3 build tools: rpm-build, mariner-rpm-macros")
    scripts = [a.mkfile.data.decode() for op in g.ops.values() if op.WhichOneof("op") == "file"
               for a in op.file.actions if a.WhichOneof("action") == "mkfile" and a.mkfile.path == "/install.sh"]
    assert scripts and all("cmd=tdnf\n" in s and "--releasever=3.0" in s for s in scripts)
    caches = _caches(g)
    assert caches["/var/cache/tdnf"] == ("azlinux3-linux/amd64-dalec-var-cache-tdnf", ops_pb2.LOCKED)
    assert caches["/var/cache/dnf"] == ("azlinux3-linux/amd64-dalec-var-cache-dnf", ops_pb2.LOCKED)
    assert caches["/tmp/dalec/gobuild-cache"][0] == "azlinux3-linux/amd64-dalec-gobuildcache"
    build = g.named("Build go-hello (3 steps) with rpmbuild")
    assert "/tmp/dalec/gobuild-cache" in g.cache_mounts(build)  # the caches are on the rpmbuild op only
    assert "Requires: golang-go\n" in g.mkfile("/meta.spec")  # build deps through a meta-package
    alma = compile_text(GO, "almalinux9/rpm")
    assert set(_caches(alma)) >= {"/var/cache/dnf"} and "/var/cache/tdnf" not in _caches(alma)


def test_rpm_named_context_replaces_the_whole_worker():
    g = compile_text(HELLO, "rockylinux9/rpm", named_contexts={"dalec-rockylinux9-worker": "docker-image://local/w:1"})
    assert _images(g) == {"docker-image://docker.io/local/w:1"}
    assert not [op for op in g.execs() if "install.sh" in " ".join(op.exec.meta.args)]


def test_rpm_container_on_an_empty_root_with_base_packages():
    g = compile_text(HELLO, "azlinux3/container")
    install = g.named("Install dalec-hello into an empty root")
    assert "/tmp/rootfs/var/cache/tdnf" in g.cache_mounts(install)
    base = [a.mkfile.data.decode() for op in g.ops.values() if op.WhichOneof("op") == "file"
            for a in op.file.actions if a.WhichOneof("action") == "mkfile" and a.mkfile.path == "/meta.spec"]
    assert any("Requires: distroless-packages-minimal\n" in s and "Recommends: prebuilt-ca-certificates" in s for s in base)
    result = compile_spec(load_spec(HELLO, "hello.yml"), CompileOptions(target="azlinux3"))
    assert result.route == "azlinux3" and result.base_image is None
    assert result.image_config["config"]["WorkingDir"] == "/"  # Dalec's BaseImageConfig


def test_rpm_effective_caches():
    caches = effective_caches(load_spec_file(SPECS / "hello.yml"), CompileOptions(target="almalinux8/rpm"))
    assert {(c.kind, c.id) for c in caches} >= {("package manager", "almalinux8-linux/amd64-dalec-var-cache-dnf"),
                                                ("dir", "almalinux8-linux/amd64-hello-locked")}


def test_every_rpm_distro_routes_rpm_container_worker():
    for r in RPM_DISTROS:
        g = compile_text(HELLO, f"{r.key}/worker")
        assert _images(g) == {f"docker-image://{r.image_ref}"}


def test_rpm_sets_file_capabilities_with_caps():
    text = BASE + ("artifacts:\n  binaries:\n    b:\n      linux_capabilities: [{name: cap_net_admin, effective: true, "
                   "permitted: true}]\n")
    assert "%caps(cap_net_admin=ep) /usr/bin/b\n" in _spec_file(text)
    with pytest.raises(UserError, match="linux_capabilities .* is not supported yet"):
        compile_text(text, "bookworm/deb")


# ------------------------------------------------------------------ windowscross

def test_windowscross_defaults_to_windows_and_keys_caches_like_dalec():
    result = compile_spec(load_spec(GO, "go-hello.yml"), CompileOptions(target="windowscross/zip"))
    assert result.platform == Platform("windows", "amd64")
    g = compile_text(GO, "windowscross/zip")
    caches = _caches(g)
    assert caches["/tmp/dalec/gobuild-cache"][0] == "ubuntu22.04/windowscross-linux/amd64-dalec-gobuildcache"
    assert caches["/var/cache/apt"][0] == "ubuntu22.04/windowscross-linux/amd64-dalec-var-cache-apt"
    assert 'export GOOS="windows"\n' in g.mkfile("/build.sh")
    assert "zip /tmp/output/'go-hello_0.2.0-1_amd64.zip' *" in g.mkfile("/zip.sh")
    assert _images(g) == {"docker-image://docker.io/library/ubuntu:jammy"}


def test_windowscross_container_copies_binaries_into_system32():
    g = compile_text(GO, "windowscross/container")
    assert "docker-image://mcr.microsoft.com/windows/nanoserver:1809" in _images(g)
    copy = g.named("Copy go-hello's binaries into /Windows/System32/")
    assert copy.file.actions[0].copy.dest == "/Windows/System32/"
    with pytest.raises(UserError, match="builds for windows only"):
        compile_text(GO, "windowscross/container", platform="linux/amd64")


def test_windowscross_refuses_runtime_deps_and_other_artifacts():
    with pytest.raises(UserError, match="spec.yml:10:5: targets with windows output images cannot have runtime"):
        compile_text(BASE + "dependencies:\n  runtime:\n    x:\n", "windowscross/container")
    with pytest.raises(SpecError, match=r"spec.yml:10:5: artifacts.docs is not supported for windowscross"):
        compile_text(BASE + "artifacts:\n  docs:\n    README: {}\n", "windowscross/zip")


def test_rpm_container_runs_the_spec_tests_with_test_deps_installed_into_its_root():
    text = HELLO.replace("tests:", "dependencies:\n  test:\n    jq:\n\ntests:", 1)
    result = compile_spec(load_spec(text, "hello.yml"), CompileOptions(target="azlinux3/container"))
    assert [n for n, _ in result.tests] == ["greets"]
    from .conftest import graph

    g = graph(result.tests[0][1])
    g.named("Install test dependencies: jq")
    assert compile_spec(load_spec(HELLO, "hello.yml"), CompileOptions(target="windowscross/container")).tests == ()


def test_debug_resolve_with_extension_values_of_every_yaml_type():
    text = BASE + "x-custom:\n  anything: [1, 2.5, true, null, {a: b}]\n"
    g = compile_text(text, "debug/resolve")
    assert "x-custom:\n  anything:\n  - 1\n  - 2.5\n  - true\n" in g.mkfile("/spec.yml")
