"""Two platforms in one `docker buildx build` through dalecpy's frontend (`# syntax=dalecpy/frontend:latest`).

Engine b (dockerd 28.5 with the containerd image store, qemu-aarch64 in binfmt_misc, two-platform debian images:
scripts/e2e) builds linux/amd64 and linux/arm64 and exports both; an engine that cannot take the request fails
with a message that says why.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.e2e

HELLO = ROOT / "specs" / "hello.yml"
PLATFORMS = "linux/amd64,linux/arm64"
BINFMT_ARM64 = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
DALECPY = [sys.executable, "-m", "dalecpy.cli"]


def _deb_fields(deb: Path) -> dict[str, str]:
    out = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"^([A-Za-z-]+): (.*)$", out, re.M))


def _multi_platform_engine(engine, image_store) -> bool:
    return engine.has_buildx and image_store != "classic"


def test_two_platform_deb_exports_both_and_the_arm64_package_runs(engine, image_store, frontend_image, tmp_path):
    if not _multi_platform_engine(engine, image_store):
        pytest.skip(f"engine {engine.name} ({image_store} image store) cannot take a multi-platform build")
    out = tmp_path / "out"
    engine.run(engine.build_cmd("--platform", PLATFORMS, "-f", str(HELLO), "--target", "bookworm/deb",
                                "-o", f"type=local,dest={out}", "."), timeout=1800, check=True)
    assert sorted(p.name for p in out.iterdir()) == ["linux_amd64", "linux_arm64"]
    for arch in ("amd64", "arm64"):
        debs = [p.name for p in (out / f"linux_{arch}").iterdir()]
        assert debs == [f"dalec-hello_1.0.0-1_{arch}.deb"], debs
        fields = _deb_fields(out / f"linux_{arch}" / debs[0])
        assert fields["Architecture"] == arch and fields["Package"] == "dalec-hello", fields
    # the arm64 package installs and its program runs in an arm64 container (qemu through binfmt_misc)
    script = "uname -m; dpkg --print-architecture; dpkg -i /pkg/*.deb >/dev/null && dalec-hello arm64"
    run = engine.run_container("debian:bookworm", ["sh", "-c", script], platform="linux/arm64",
                               volumes={str(out / "linux_arm64"): "/pkg"})
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert run.stdout.splitlines() == ["aarch64", "arm64", "Hello from dalecpy, arm64!"], run.stdout + run.stderr


def test_engine_without_multi_platform_support_says_so(engine, image_store, frontend_image, tmp_path):
    if _multi_platform_engine(engine, image_store):
        pytest.skip(f"engine {engine.name} takes multi-platform builds")
    proc = engine.run(engine.build_cmd("--platform", PLATFORMS, "-f", str(HELLO), "--target", "bookworm/deb",
                                       "-o", f"type=local,dest={tmp_path / 'out'}", "."), timeout=600)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    if engine.has_buildx:  # buildx's docker driver on the classic image store
        assert "Multi-platform build is not supported for the docker driver" in text, text[-3000:]
    else:  # dockerd 20.10 validates --platform as a single platform before BuildKit sees it
        assert f'is an invalid component of "{PLATFORMS}"' in text, text[-3000:]
    assert "Traceback" not in text


@pytest.fixture
def arm64_emulation_off():
    """Disable qemu-aarch64 in binfmt_misc (host-wide) for one test, then restore it."""
    if os.geteuid() != 0 or not BINFMT_ARM64.exists():
        pytest.skip(f"needs root and {BINFMT_ARM64} (scripts/e2e/provision.sh registers it)")
    was_enabled = BINFMT_ARM64.read_text().startswith("enabled")
    BINFMT_ARM64.write_text("0")
    try:
        yield
    finally:
        if was_enabled:
            BINFMT_ARM64.write_text("1")


def test_arm64_without_emulation_fails_with_exec_format_error(engine, image_store, frontend_image,
                                                              arm64_emulation_off, tmp_path):
    if not _multi_platform_engine(engine, image_store):
        pytest.skip(f"engine {engine.name} ({image_store} image store) has no arm64 base image")
    # the arm64 base image is there, but nothing can run its binaries: the build step fails as a
    # Dockerfile RUN would, with the kernel's "exec format error" in the step's log
    proc = engine.run(engine.build_cmd("--no-cache", "--platform", "linux/arm64", "-f", str(HELLO),
                                       "--target", "bookworm/deb", "-o", f"type=local,dest={tmp_path / 'o1'}", "."))
    assert proc.returncode != 0
    assert "exec format error" in proc.stderr, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    # dalecpy build names the platform and the way out
    proc = subprocess.run([*DALECPY, "build", "--progress", "plain", "--no-cache", "specs/hello.yml",
                           "--target", "bookworm/deb", "--platform", "linux/arm64",
                           "-o", f"type=local,dest={tmp_path / 'o2'}"],
                          env=engine.env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert ("building for linux/arm64: this engine has no linux/arm64 base image it can use, or cannot run "
            "linux/arm64 binaries") in proc.stderr, proc.stderr[-3000:]
