"""Debian 11 (bullseye) end to end: its base image made here from Debian's mirror (scripts/e2e/base-images.sh
--arch amd64 bullseye: one debootstrap, 39 s and a 131 MB tarball the first time, seconds afterwards), then the
hello example's .deb and test container built through the frontend image, and the container run."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.e2e

HELLO = ROOT / "specs" / "hello.yml"


@pytest.fixture(scope="module")
def bullseye_image(engine) -> str:
    if engine.name not in ("a", "b"):
        pytest.skip("bullseye's base image is made for the dockerd engines (a, b) only")
    proc = subprocess.run([str(ROOT / "scripts/e2e/base-images.sh"), "--arch", "amd64", "bullseye"],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return "docker.io/library/debian:bullseye"


def test_bullseye_deb_and_container(engine, frontend_image, bullseye_image, tmp_path):
    out = tmp_path / "out"
    engine.run(engine.build_cmd("-f", str(HELLO), "--target", "bullseye/deb", "--platform", "linux/amd64",
                                "-o", f"type=local,dest={out}", str(ROOT)), check=True)
    deb = next(out.rglob("*.deb"))
    info = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Architecture"], capture_output=True, text=True,
                          check=True).stdout
    assert "Package: dalec-hello" in info and "Architecture: amd64" in info
    tag = f"dalecpy-e2e/hello-bullseye:{uuid.uuid4().hex[:8]}"
    args = ["-f", str(HELLO), "--target", "bullseye/testing/container", "--platform", "linux/amd64", "-t", tag]
    engine.run(engine.build_cmd(*args, *(["--load"] if engine.has_buildx else []), str(ROOT)), check=True)
    try:
        run = engine.run_container(tag, ["bullseye"])
        assert (run.returncode, run.stdout) == (0, "Hello from dalecpy, bullseye!\n"), run.stderr[-3000:]
        run = engine.run([engine.cli, "run", "--rm", "--entrypoint", "cat", tag, "/etc/debian_version"])
        assert run.stdout.startswith("11."), run.stdout
    finally:
        engine.remove_image(tag)
