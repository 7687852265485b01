"""The models completed from cached core schemas behave exactly as the models pydantic builds."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Loads every example spec and a few wrong ones, and prints what a user can observe of the models.
_PROBE = r"""
import json, pathlib, sys
import dalecpy.spec as spec
from dalecpy.spec import _prebuilt, models

out = {"from_cache": _prebuilt.from_cache, "json_schema": spec.spec_json_schema(), "specs": {}, "errors": []}
for path in sorted(pathlib.Path(sys.argv[1]).glob("specs/*.yml")) + [pathlib.Path(sys.argv[2])]:
    loaded = spec.load_spec_file(path)
    out["specs"][path.name] = loaded.spec.model_dump(mode="json", by_alias=True)
bad = [
    "name: x\nsources:\n  a:\n    git: {url: 1, nope: 2}\n",
    "name: x\nbuild:\n  steps:\n    - command: [1]\n  caches:\n    - dir: {key: k}\n      bazel: {}\n",
    "name: x\ntargets:\n  bookworm:\n    image: {post: {symlinks: {/a: {paths: [[1]]}}}}\n",
    "name: x\nsources:\n  s:\n    image:\n      ref: r\n      cmd: {mounts: [{dest: /d, spec: {build: {source: {inline: {file: {permissions: 9999}}}}}}]}\n",
    # suggestions below the models' forward references (SourceMount.spec, SourceBuild.source)
    "name: x\nbuild:\n  steps:\n    - command: c\n      mounts: [{dest: /d, spec: {contxt: {}}}]\n"
    "sources:\n  s:\n    build: {source: {gti: {}}}\n",
]
for text in bad:
    try:
        spec.load_spec(text.encode(), "bad.yml")
        out["errors"].append(None)
    except spec.SpecError as exc:
        out["errors"].append(str(exc))
out["defaults"] = [models.SourceMount().model_dump(), models.BuildStep(mounts=[{"dest": "/x"}]).model_dump()]
print(json.dumps(out, sort_keys=True))
"""


def _probe(prefix: pathlib.Path, write: bool = True) -> dict:
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(prefix), PYTHONPATH=str(ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(ROOT), str(ROOT / "tests/spec/data/valid.yml")],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_cached_models_match_built_models(tmp_path: pathlib.Path) -> None:
    built = _probe(tmp_path)
    cached = _probe(tmp_path)
    assert (built.pop("from_cache"), cached.pop("from_cache")) == (False, True)
    assert cached == built
    assert all(built["errors"]) and "permissions" in built["errors"][3]
    assert 'did you mean "context"' in built["errors"][4] and 'did you mean "git"' in built["errors"][4]


def test_no_cache_without_bytecode_writing_and_a_broken_cache_is_rebuilt(tmp_path: pathlib.Path) -> None:
    assert _probe(tmp_path, write=False)["from_cache"] is False
    assert not list(tmp_path.rglob("*.schemas.pickle"))
    first = _probe(tmp_path)
    (cache,) = tmp_path.rglob("*.schemas.pickle")
    data = cache.read_bytes()
    cache.write_bytes(data[: len(data) // 2])  # a torn write
    again = _probe(tmp_path)
    assert again.pop("from_cache") is False and first.pop("from_cache") is False
    assert again == first
    assert _probe(tmp_path)["from_cache"] is True
