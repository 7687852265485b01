"""The running e2e engine's environment (scripts/e2e/provision.sh writes it), for the benchmarks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ENGINE_ENV = Path(os.environ.get("DALECPY_E2E_ENV", "/run/dalecpy-e2e/engine.env"))


def engine_environ() -> dict[str, str]:
    """os.environ plus what engine.env exports (DOCKER_HOST, PATH, ...), with DOCKER_BUILDKIT=1."""
    return env_file_environ(ENGINE_ENV)


def env_file_environ(path: Path) -> dict[str, str]:
    """os.environ plus what the engine env file `path` exports (engine.env, engine-c.env), with DOCKER_BUILDKIT=1."""
    env = dict(os.environ)
    if path.exists():
        out = subprocess.run(["bash", "-c", 'set -a; . "$1" >/dev/null; env -0', "_", str(path)],
                             capture_output=True, check=True).stdout
        env = dict(item.decode().split("=", 1) for item in out.split(b"\0") if b"=" in item)
    env["DOCKER_BUILDKIT"] = "1"
    return env
