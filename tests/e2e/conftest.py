"""End-to-end fixtures: a real dockerd/BuildKit (scripts/e2e/provision.sh) and the frontend image.

The engine comes from /run/dalecpy-e2e/engine.env when it exists (written by scripts/e2e/provision.sh),
else from the environment (DOCKER_HOST or the default socket). Tests skip with the reason when no
engine answers `docker info`.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE_ENV = Path(os.environ.get("DALECPY_E2E_ENV", "/run/dalecpy-e2e/engine.env"))
FRONTEND_TAGS = ("dalecpy/frontend:latest", "dalecpy/frontend:dev")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass
class Engine:
    name: str  # "a" (dockerd 20.10, BuildKit 0.8), "b" (dockerd 28 + buildx) or "env"
    env: dict[str, str]
    cli: str

    @property
    def has_buildx(self) -> bool:
        return self.name != "a"

    def build_cmd(self, *args: str) -> list[str]:
        if self.has_buildx:
            return [self.cli, "buildx", "build", "--progress=plain", *args]
        return [self.cli, "build", "--progress=plain", *args]

    def run(self, argv: list[str], timeout: float = 900, check: bool = False) -> subprocess.CompletedProcess:
        proc = subprocess.run(argv, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            pytest.fail(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        return proc


def _load_env_file(path: Path) -> dict[str, str]:
    out = subprocess.run(
        ["bash", "-c", 'set -a; . "$1" >/dev/null; env -0', "_", str(path)],
        capture_output=True, check=True,
    ).stdout
    env = {}
    for item in out.split(b"\0"):
        if b"=" in item:
            k, _, v = item.partition(b"=")
            env[k.decode()] = v.decode()
    return env


def _no_engine(reason: str):
    """Skip, or fail when the caller provisioned an engine and requires one (scripts/e2e/ci.sh sets DALECPY_E2E_REQUIRE=1)."""
    if os.environ.get("DALECPY_E2E_REQUIRE") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def engine() -> Engine:
    if ENGINE_ENV.exists():
        env = _load_env_file(ENGINE_ENV)
        name = env.get("DALECPY_E2E_ENGINE", "env")
    elif os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists():
        env, name = dict(os.environ), "env"
    else:
        _no_engine(f"no BuildKit engine: {ENGINE_ENV} missing and no DOCKER_HOST (run scripts/e2e/provision.sh b)")
    env["DOCKER_BUILDKIT"] = "1"
    cli = env.get("DOCKER_CLI") or shutil.which("docker", path=env.get("PATH")) or "docker"
    try:
        info = subprocess.run([cli, "info", "--format", "{{.ServerVersion}}"], env=env, capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _no_engine(f"no BuildKit engine: {cli} info: {exc}")
    if info.returncode != 0:
        _no_engine(f"no BuildKit engine: docker info failed: {info.stderr.strip()[:300]}")
    if name == "env":
        has_buildx = subprocess.run([cli, "buildx", "version"], env=env, capture_output=True).returncode == 0
        name = "b" if has_buildx else "a"
    return Engine(name, env, cli)


@pytest.fixture(scope="session")
def frontend_image(engine: Engine) -> str:
    """Build frontend.Dockerfile into the engine's image store as dalecpy/frontend:{latest,dev}."""
    args = ["-f", "frontend.Dockerfile"]
    for tag in FRONTEND_TAGS:
        args += ["-t", tag]
    if HOST_CA.exists():
        args += ["--secret", f"id=pipca,src={HOST_CA}"]
    if engine.has_buildx:
        args.append("--load")
    engine.run(engine.build_cmd(*args, "."), timeout=1800, check=True)
    return FRONTEND_TAGS[0]


@pytest.fixture(scope="session")
def image_store(engine: Engine) -> str:
    """"containerd" when dockerd keeps its images in containerd (the containerd-snapshotter feature: multi-platform
    builds with buildx's docker driver, oci/docker tarball exporters), else "classic"."""
    proc = engine.run([engine.cli, "info", "--format", "{{json .DriverStatus}}"], timeout=30)
    return "containerd" if "io.containerd.snapshotter" in proc.stdout else "classic"


#: fixed commit dates: the same commit every run, so builds from it are cached across runs (BuildKit keys a git
#: source by its commit, not its URL, whose port changes)
_GIT_ENV = {"GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **_GIT_ENV}).stdout.strip()


@pytest.fixture
def git_server(tmp_path):
    """A bare repository served over dumb HTTP on loopback (BuildKit's git source runs in the daemon's netns),
    with the same one commit every time."""
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q")
    (work / "README").write_text("Hello World!\n")
    _git(work, "add", "README")
    _git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init")
    commit = _git(work, "rev-parse", "HEAD")
    served = tmp_path / "srv"
    served.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(served / "repo.git")], check=True)
    _git(served / "repo.git", "update-server-info")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/repo.git", commit
    server.shutdown()
