"""The generated RPM spec builds: each example's `azlinux3/rpm/debug/buildroot` (SPECS/ and SOURCES/, made by the
frontend image on a real BuildKit) goes to `rpmbuild -ba` from Debian's `rpm` package in a Debian container, and
the .rpm is checked with `rpm -qp` (requires, provides, file modes and owners, scriptlets, changelog).

No Azure Linux, Alma or Rocky mirror is reachable here, so the distro worker is replaced (as Dalec allows) by the
`dalec-azlinux3-worker` named context: a Debian image with rpm and the examples' build dependencies. rpmbuild
runs with --nodeps (Debian's rpm database knows no Debian package), with the build's cache directories made
empty and the Bazel rc written, as the build op's mounts would give them.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from dalecpy.compile import CompileOptions, effective_caches
from dalecpy.compile.caches import BAZELRC_PATH, BAZELRC_TEXT
from dalecpy.spec import load_spec_file

from .conftest import ROOT

pytestmark = pytest.mark.e2e

WORKER = "dalecpy-e2e/rpmbuild:bookworm"
# rpm (rpmbuild), and what the examples build with: the spec's build dependencies as Debian names them.
_WORKER_PACKAGES = "rpm cpio patch make golang-go xz-utils bazel-bootstrap socat ca-certificates"
TARGET = "azlinux3/rpm/debug/buildroot"


@pytest.fixture(scope="module")
def rpm_worker(engine, tmp_path_factory) -> str:
    ctx = tmp_path_factory.mktemp("rpm-worker")
    (ctx / "Dockerfile").write_text(
        "FROM docker.io/library/debian:bookworm\n"
        "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
        f"{_WORKER_PACKAGES} && rm -rf /var/lib/apt/lists/*\n")
    args = ["-t", WORKER, *(["--load"] if engine.has_buildx else []), str(ctx)]
    engine.run(engine.build_cmd(*args), timeout=1800, check=True)
    return WORKER


def _rpmbuild(engine, spec: Path, out: Path, build_args: dict[str, str]) -> tuple[Path, Path]:
    """Make the buildroot with the frontend image, rpmbuild it in the worker; (binary rpm, source rpm)."""
    top = out / "top"
    args = ["-f", str(spec), "--target", TARGET, "--build-context", f"dalec-azlinux3-worker=docker-image://{WORKER}",
            *(a for k, v in build_args.items() for a in ("--build-arg", f"{k}={v}")),
            "-o", f"type=local,dest={top}", str(ROOT)]
    proc = engine.run(engine.build_cmd(*args))
    assert proc.returncode == 0, proc.stderr[-4000:]
    loaded = load_spec_file(spec)
    name = loaded.spec.name
    assert (top / "SPECS" / name / f"{name}.spec").is_file()
    mounts = effective_caches(loaded, CompileOptions(target=TARGET, build_args=build_args))
    rc = [f"printf %s {shlex.quote(BAZELRC_TEXT)} > {BAZELRC_PATH}"] if any(c.kind == "bazel" for c in mounts) else []
    script = "; ".join([
        "set -e",
        *(f"mkdir -p {shlex.quote(d)}" for d in sorted({c.dest for c in mounts})),
        *rc,
        "cd /build/top",
        'rpmbuild --nodeps --define "_topdir /build/top" --define "_srcrpmdir /build/out/SRPMS" '
        f'--define "_rpmdir /build/out/RPMS" --buildroot /build/tmp/work -ba SPECS/{name}/{name}.spec',
    ])
    (out / "rpms").mkdir()
    proc = engine.run([engine.cli, "run", "--rm", "-v", f"{top}:/build/top", "-v", f"{out / 'rpms'}:/build/out",
                       WORKER, "sh", "-c", script], timeout=1800)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    rpms = [p for p in (out / "rpms" / "RPMS").rglob("*.rpm") if "-debug" not in p.name]
    assert len(rpms) == 1, rpms
    return rpms[0], next((out / "rpms" / "SRPMS").glob("*.src.rpm"))


def _rpm(engine, rpm: Path, *query: str) -> str:
    proc = engine.run([engine.cli, "run", "--rm", "-v", f"{rpm.parent}:/rpms:ro", WORKER, *query,
                       f"/rpms/{rpm.name}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _run_installed(engine, rpm: Path, command: str) -> str:
    """Unpack the rpm's payload into the worker (rpm2cpio) and run `command` there."""
    script = f"cd / && rpm2cpio /rpms/{shlex.quote(rpm.name)} | cpio -idm --quiet && {command}"
    proc = engine.run([engine.cli, "run", "--rm", "-v", f"{rpm.parent}:/rpms:ro", WORKER, "sh", "-c", script])
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _expected_files(spec: Path, build_args: dict[str, str]) -> set[str]:
    """The paths the same spec's .deb has (bookworm), with RPM's directories for licenses."""
    from dalecpy.compile import compile_spec
    from tests.parity.facts import dalecpy_facts

    result = compile_spec(load_spec_file(spec), CompileOptions(target="bookworm/deb", build_args=build_args))
    return set(dalecpy_facts([result.definition]).layout)


@pytest.mark.parametrize("example", ["hello", "go-hello", "bazel-genrule", "bazel-remote-cache", "sources"])
def test_every_example_builds_with_rpmbuild(engine, frontend_image, rpm_worker, tmp_path, example, request):
    build_args: dict[str, str] = {}
    if example == "sources":
        url, commit = request.getfixturevalue("git_server")
        build_args = {"GIT_URL": url, "GIT_COMMIT": commit}
    spec = ROOT / "specs" / f"{example}.yml"
    rpm, srpm = _rpmbuild(engine, spec, tmp_path, build_args)
    listed = {line for line in _rpm(engine, rpm, "rpm", "-qp", "-l").splitlines() if line}
    expected = _expected_files(spec, build_args)
    assert expected and expected <= listed | {p.rstrip("/") for p in listed}, (expected, listed)
    binary = next(p for p in expected if p.startswith("/usr/bin/"))
    info = _rpm(engine, rpm, "rpm", "-qpi")
    assert f"Name        : {load_spec_file(spec).spec.name}" in info
    assert "build.sh" in _rpm(engine, srpm, "rpm", "-qp", "-l")  # the source rpm carries the sources
    if example == "hello":
        assert _run_installed(engine, rpm, f"{binary} tester") == "Hello from dalecpy, tester!\n"
    if example == "sources":
        assert "hello, patched" in _run_installed(engine, rpm, f"cat {binary}")


def test_rpm_features(engine, frontend_image, rpm_worker, tmp_path):
    """Dependencies, every artifact kind with modes and owners, systemd scriptlets, users, groups, changelog."""
    spec = ROOT / "tests" / "e2e" / "data" / "rpm-features.yml"
    rpm, _ = _rpmbuild(engine, spec, tmp_path, {})
    requires = set(_rpm(engine, rpm, "rpm", "-qp", "--requires").splitlines())
    assert {"bash", "coreutils >= 8.0", "coreutils < 100", "arch-only", "systemd", "/usr/sbin/useradd",
            "/usr/sbin/groupadd"} <= requires
    provides = set(_rpm(engine, rpm, "rpm", "-qp", "--provides").splitlines())
    assert {"rpmf-tool = 1.2.3", "user(rpmf)", "group(rpmfgrp)", "rpm-features = 1.2.3-4"} <= provides
    assert _rpm(engine, rpm, "rpm", "-qp", "--conflicts").split() == ["rpmf-legacy"]
    assert _rpm(engine, rpm, "rpm", "-qp", "--obsoletes").strip() == "rpmf-old < 1.0"
    assert _rpm(engine, rpm, "rpm", "-qp", "--recommends").split() == ["less"]
    dump = {f[0]: (f[4], f[5], f[6]) for f in (line.split() for line in
            _rpm(engine, rpm, "rpm", "-qp", "--dump").splitlines()) if f}
    assert dump["/usr/bin/rpmf-tool"] == ("0100755", "rpmf", "rpmfgrp")
    assert dump["/usr/bin/extra/mode.txt"] == ("0100700", "root", "root")
    assert dump["/var/lib/rpmf"] == ("040750", "rpmf", "root")
    assert dump["/usr/bin/rpmf"][0] == "0120777"
    for path in ("/usr/libexec/rpmf-helper", "/usr/lib64/libthing.so.1", "/usr/include/thing.h",
                 "/usr/share/doc/rpm-features/README.md", "/usr/share/doc/rpm-features/notes.txt",
                 "/usr/share/licenses/rpm-features/LICENSE", "/usr/share/rpm-features/data.txt", "/etc/tool.conf",
                 "/usr/lib/systemd/system/rpmf.service", "/usr/lib/systemd/system/rpmf-idle.service",
                 "/usr/lib/systemd/system/rpmf.service.d/10-env.conf"):
        assert path in dump, path
    assert any(p.startswith("/usr/share/man/man1/tool.1") for p in dump)
    assert "/etc/tool.conf" in _rpm(engine, rpm, "rpm", "-qp", "--configfiles")
    scripts = _rpm(engine, rpm, "rpm", "-qp", "--scripts")
    assert "groupadd --system 'rpmfgrp'" in scripts and "useradd 'rpmf'" in scripts
    assert "systemctl enable 'rpmf.service'" in scripts and "systemctl start 'rpmf.service'" in scripts
    assert "rpmf-idle" not in scripts.split("postuninstall")[0]  # not enabled: installed only
    info = _rpm(engine, rpm, "rpm", "-qpi")
    assert "Summary     : Every RPM feature dalecpy writes, 100% checked." in info
    assert "%{_bindir} and %(echo no) as text" in info  # no macro expanded, no command run
    changelog = _rpm(engine, rpm, "rpm", "-qp", "--changelog")
    assert changelog.index("Second release.") < changelog.index("First release, 100% done.")
    assert _run_installed(engine, rpm, "/usr/bin/rpmf-tool") == "tool patched\n"
