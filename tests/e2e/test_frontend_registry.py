"""The frontend image from a registry, as users get it: `# syntax=127.0.0.1:5000/dalecpy/frontend:<tag>`.

The session's frontend image is pushed to the local registry (scripts/e2e/registry.sh, Debian's docker-registry
on loopback) under a tag new to this session, and not kept in the engine under that name: the engine must
resolve and pull it from the registry (whose log shows the engine fetching the tag's manifest). Engine c pushes
with buildctl; a dockerd tags, pushes and untags (dockerd treats 127.0.0.0/8 as an insecure, plain-HTTP
registry by default). Each engine builds the spec with its own Dockerfile path (docker build / buildx build,
or buildctl's dockerfile.v0, which reads `# syntax=` and runs that image as the frontend) and with
`dalecpy build --frontend-image`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .conftest import HOST_CA, ROOT

pytestmark = pytest.mark.e2e

REGISTRY = "127.0.0.1:5000"
REGISTRY_LOG = Path("/var/log/dalecpy-e2e/registry.log")
HELLO = ROOT / "specs" / "hello.yml"
DALECPY = [sys.executable, "-m", "dalecpy.cli"]


@pytest.fixture(scope="module")
def pushed_frontend(engine, frontend_image) -> str:
    """The frontend image at 127.0.0.1:5000/dalecpy/frontend:e2e-<random>, absent from the engine's image store."""
    subprocess.run([str(ROOT / "scripts/e2e/registry.sh"), "start"], check=True, capture_output=True)
    ref = f"{REGISTRY}/dalecpy/frontend:e2e-{uuid.uuid4().hex[:10]}"
    if engine.has_docker:
        engine.run([engine.cli, "tag", frontend_image, ref], check=True)
        engine.run([engine.cli, "push", ref], timeout=600, check=True)
        engine.run([engine.cli, "rmi", ref], check=True)
    else:  # the same build as the frontend_image fixture's (cached), pushed under the new name
        args = ["-f", "frontend.Dockerfile", "-o", f"type=image,name={ref},push=true"]
        if HOST_CA.exists():
            args += ["--secret", f"id=pipca,src={HOST_CA}"]
        engine.run(engine.dockerfile_cmd(*args, "."), timeout=1800, check=True)
    return ref


def _manifest_fetches(ref: str) -> int:
    """How many times the registry resolved the tag (HEAD or GET of its manifest, 200)."""
    repo, tag = ref.removeprefix(REGISTRY + "/").rsplit(":", 1)
    text = REGISTRY_LOG.read_text(errors="replace") if REGISTRY_LOG.exists() else ""
    return len(re.findall(rf'"(?:HEAD|GET) /v2/{re.escape(repo)}/manifests/{re.escape(tag)} HTTP/1\.1" 200', text))


@pytest.fixture(params=["engine", "other_engine"])
def any_engine(request, pushed_frontend):
    """The session's engine, then the other running one (engine c beside a dockerd): both pull the image."""
    eng = request.getfixturevalue(request.param)
    if request.param == "other_engine" and eng.has_docker:
        eng.run([eng.cli, "rmi", pushed_frontend])  # no-op unless an earlier run left it there
    return eng


def _spec_with_syntax(tmp: Path, ref: str) -> Path:
    text = HELLO.read_text()
    assert text.startswith("# syntax=dalecpy/frontend:latest\n"), "specs/hello.yml changed: update this test"
    spec = tmp / "hello.yml"
    spec.write_text(f"# syntax={ref}\n" + text.split("\n", 1)[1])
    return spec


def _assert_built_with_the_pulled_frontend(eng, proc, out: Path, ref: str, fetches_before: int) -> None:
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert [p.name for p in out.glob("*.deb")] == ["dalec-hello_1.0.0-1_amd64.deb"]
    assert _manifest_fetches(ref) > fetches_before, f"engine {eng.name} did not fetch {ref} from the registry"


def test_syntax_line_pulls_the_frontend_from_the_registry(any_engine, pushed_frontend, tmp_path):
    before = _manifest_fetches(pushed_frontend)
    out = tmp_path / "out"
    proc = any_engine.run(any_engine.dockerfile_cmd("-f", str(_spec_with_syntax(tmp_path, pushed_frontend)),
                                                    "--target", "bookworm/deb", "-o", f"type=local,dest={out}",
                                                    str(tmp_path)))
    _assert_built_with_the_pulled_frontend(any_engine, proc, out, pushed_frontend, before)


def test_dalecpy_build_frontend_image_from_the_registry(any_engine, pushed_frontend, tmp_path):
    before = _manifest_fetches(pushed_frontend)
    out = tmp_path / "out"
    proc = subprocess.run([*DALECPY, "build", "--progress", "plain", str(HELLO), "--target", "bookworm/deb",
                           "--frontend-image", pushed_frontend, "-o", f"type=local,dest={out}"],
                          env=any_engine.env, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    _assert_built_with_the_pulled_frontend(any_engine, proc, out, pushed_frontend, before)
