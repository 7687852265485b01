"""`dalecpy build` gives what `docker buildx build` (or `docker build`) gives through the frontend image.

The client runs the frontend's own code in-process (a gateway build), so on the same engine the same spec
compiles to the same LLB: the packages are the same bytes and the images the same layers and config.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from .conftest import ROOT
from .test_frontend_e2e import EXAMPLES

pytestmark = pytest.mark.e2e

DALECPY = [sys.executable, "-m", "dalecpy.cli"]
CONTAINER_EXAMPLES = ["go-hello.yml", "hello.yml"]
CONFIG_KEYS = ("Entrypoint", "Cmd", "Env", "Labels", "User", "WorkingDir")


def _client(engine, *args: str) -> None:
    proc = subprocess.run([*DALECPY, "build", "--progress", "plain", *args], env=engine.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-5000:]


@pytest.mark.parametrize("example", EXAMPLES)
def test_deb_is_the_same_bytes(engine, frontend_image, tmp_path, example):
    spec = ROOT / "specs" / example
    ours, theirs = tmp_path / "client", tmp_path / "frontend"
    engine.run(engine.build_cmd("-f", str(spec), "--target", "bookworm/deb", "-o", f"type=local,dest={theirs}", "."),
               check=True)
    _client(engine, str(spec), ".", "--target", "bookworm/deb", "-o", f"type=local,dest={ours}")
    names = sorted(p.name for p in theirs.rglob("*.deb"))
    assert names and sorted(p.name for p in ours.rglob("*.deb")) == names
    for name in names:
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name


@pytest.mark.parametrize("example", CONTAINER_EXAMPLES)
def test_image_has_the_same_layers_and_config(engine, frontend_image, example):
    spec = ROOT / "specs" / example
    tag = f"dalecpy-e2e-match-{uuid.uuid4().hex[:8]}"
    theirs, ours = f"{tag}:frontend", f"{tag}:client"
    load = ["--load"] if engine.has_buildx else []
    try:
        engine.run(engine.build_cmd("-f", str(spec), "--target", "bookworm/container", "-t", theirs, *load, "."),
                   check=True)
        _client(engine, str(spec), ".", "--target", "bookworm/container", *engine.image_output(ours))
        got = {t: engine.image_config(t) for t in (theirs, ours)}
        for key in CONFIG_KEYS:
            assert got[ours]["Config"].get(key) == got[theirs]["Config"].get(key), key
        assert got[ours]["Layers"] == got[theirs]["Layers"]  # the layers' diff IDs
        assert got[ours]["Architecture"] == got[theirs]["Architecture"]
    finally:
        engine.remove_image(theirs)
        engine.remove_image(ours)
