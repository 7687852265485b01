"""The running e2e engine's environment (scripts/e2e/provision.sh writes it), for the benchmarks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ENGINE_ENV = Path(os.environ.get("DALECPY_E2E_ENV", "/run/dalecpy-e2e/engine.env"))
ROOT = Path(__file__).resolve().parent.parent
#: Dalec's own frontend as a gateway image (scripts/e2e/dalec-image.sh)
DALEC_IMAGE = f"dalec/frontend:{os.environ.get('DALEC_VERSION', 'v0.21.5')}"


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


def ensure_dalec_image(cli: str, env: dict[str, str]) -> bool:
    """Dalec's frontend image in the engine's store, made by scripts/e2e/dalec-image.sh when missing; prints the
    one-line reason when it cannot be or cannot run there (no Dalec binary here, engine a or c)."""
    engine = env.get("DALECPY_E2E_ENGINE")
    if engine in ("a", "c"):
        why = ("BuildKit 0.8 gives a gateway frontend no /run/config/buildkit/metadata/frontend.bin, and Dalec's "
               "frontend panics without it" if engine == "a" else "no docker image store to load it into")
        print(f"Dalec's frontend image: skipped on engine {engine} ({why})")
        return False
    if subprocess.run([cli, "image", "inspect", DALEC_IMAGE], env=env, capture_output=True).returncode == 0:
        return True
    proc = subprocess.run([str(ROOT / "scripts" / "e2e" / "dalec-image.sh")], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        print(f"Dalec's frontend image: skipped ({lines[-1] if lines else f'dalec-image.sh exited {proc.returncode}'})")
    return proc.returncode == 0
