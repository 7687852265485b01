"""Run Dalec's own frontend binary as BuildKit would, against the recording fake LLBBridge.

BuildKit starts a gateway frontend with the LLBBridge on its stdin/stdout, the build's options in
BUILDKIT_FRONTEND_OPT_<i>, and (since v0.13) the frontend image's own Definition at
/run/config/buildkit/metadata/frontend.bin; Dalec mounts that image into test steps, and panics without it.
So the binary runs in a private mount namespace with a tmpfs over /run holding that file (`unshare`, as
root or in a user namespace).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from dalecpy import llb
from dalecpy.llb import ops_pb2 as pb
from dalecpy.platforms import Platform
from tests.frontend import fakebridge

REPO = Path(__file__).resolve().parents[2]
DALEC_VERSION = os.environ.get("DALEC_VERSION", "v0.21.5")
#: the image BuildKit would have run: what Dalec's test steps mount (its digest is made up)
FRONTEND_IMAGE = f"docker.io/dalecpy/dalec-frontend:{DALEC_VERSION}@sha256:" + "d" * 64
_METADATA_DIR = "/run/config/buildkit/metadata"


class Unavailable(Exception):
    """Dalec's frontend cannot be built or run here; the message is the one-line reason."""


def frontend_binary() -> str:
    """The cached binary (DALEC_FRONTEND overrides), built by scripts/dalec-frontend.sh if needed."""
    if path := os.environ.get("DALEC_FRONTEND"):
        if not os.access(path, os.X_OK):
            raise Unavailable(f"DALEC_FRONTEND={path} is not an executable file")
        return path
    proc = subprocess.run([str(REPO / "scripts" / "dalec-frontend.sh")], capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise Unavailable(lines[-1] if lines else f"scripts/dalec-frontend.sh exited {proc.returncode}")
    return proc.stdout.strip()


def _namespace_prefix() -> list[str]:
    if not shutil.which("unshare"):
        raise Unavailable("no unshare(1) to give Dalec's frontend its /run/config/buildkit/metadata")
    base = ["unshare", "--mount", "--propagation", "private"]
    return base if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]


def _argv(binary: str, metadata: str) -> list[str]:
    script = (f'mount -t tmpfs -o size=1m,mode=0755 dalec-run /run && mkdir -p {_METADATA_DIR} '
              f'&& cp "$1" {_METADATA_DIR}/frontend.bin && exec "$0"')
    return [*_namespace_prefix(), "sh", "-c", script, binary, metadata]


@dataclass
class DalecRun:
    """What Dalec's frontend did for one (spec, target, platform, build args)."""

    definitions: list[pb.Definition] = field(default_factory=list)  # every Solve but the frontend's own reads
    error: str | None = None  # the Status message Dalec returned (or why it did not run)
    image_config: bytes | None = None  # Return's containerimage.config
    calls: list[str] = field(default_factory=list)


def _is_client_read(definition: pb.Definition) -> bool:
    """A Solve of one local source alone: the frontend reading the spec or a .dockerignore from the client
    (dalecpy's frontend does the same reads outside compile_spec), not part of the build."""
    ops = []
    for dt in getattr(definition, "def"):
        op = pb.Op()
        op.ParseFromString(dt)
        ops.append(op)
    body = [op for op in ops if op.WhichOneof("op") is not None]
    return len(body) == 1 and body[0].WhichOneof("op") == "source" and body[0].source.identifier.startswith("local://")


def _worker_env(platform: Platform) -> dict[str, str]:
    """BUILDKIT_WORKERS and BUILDKIT_EXPORTEDPRODUCT as a current buildkitd sets them."""
    plat = {"os": platform.os, "architecture": platform.architecture}
    if platform.variant:
        plat["variant"] = platform.variant
    workers = [{"id": "parity", "labels": {}, "platforms": [plat]}]
    return {"BUILDKIT_WORKERS": json.dumps(workers), "BUILDKIT_EXPORTEDPRODUCT": "buildkit"}


def run(binary: str, spec: bytes, target: str, platform: Platform, build_args: dict[str, str],
        filename: str = "Dockerfile", timeout: float = 60.0) -> DalecRun:
    """One frontend invocation with the spec served as the `dockerfile` local source's `filename`."""
    opts = {"target": target, "filename": filename, "platform": platform.format()}
    opts.update({f"build-arg:{k}": v for k, v in build_args.items()})
    with tempfile.TemporaryDirectory(prefix="dalec-parity-") as tmp:
        meta = os.path.join(tmp, "frontend.bin")
        with open(meta, "wb") as f:
            f.write(llb.marshal(llb.image(FRONTEND_IMAGE)).SerializeToString())
        bridge, _, rc, err = fakebridge.run_subprocess(
            _argv(binary, meta), {filename: spec}, opts, timeout=timeout,
            llb_caps=fakebridge.CURRENT_LLB_CAPS, frontend_caps=fakebridge.CURRENT_FRONTEND_CAPS,
            platforms=((platform.os, platform.architecture),), extra_env=_worker_env(platform),
        )
    out = DalecRun(calls=bridge.calls)
    out.definitions = [s.Definition for s in bridge.solves if not _is_client_read(s.Definition)]
    ret = bridge.returned
    if ret is None:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        out.error = f"Dalec's frontend exited {rc} without a result: {tail[0][:300]}"
    elif ret.HasField("error") and ret.error.code:
        out.error = ret.error.message.strip().splitlines()[0]
    else:
        out.image_config = ret.result.metadata.get("containerimage.config")
    return out
