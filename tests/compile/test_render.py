"""Rendered output: deterministic bytes, a Definition BuildKit accepts, and golden dumps of the examples."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys

import pytest

from dalecpy.llb import ops_pb2

from .conftest import REPO, SPECS

_spec = importlib.util.spec_from_file_location("update_golden", REPO / "scripts" / "update-golden.py")
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)


def _render(*args: str) -> bytes:
    return subprocess.run(
        [sys.executable, "-m", "dalecpy.cli", "render", *args], check=True, capture_output=True, cwd=REPO
    ).stdout


@pytest.mark.parametrize("target", ["bookworm/container", "trixie/deb"])
def test_render_twice_in_separate_processes_is_byte_identical(target):
    spec = str(SPECS / "sources.yml")
    first, second = _render(spec, "--target", target), _render(spec, "--target", target)
    assert first and first == second


def test_binary_output_parses_back_with_digest_keyed_metadata():
    raw = _render(str(SPECS / "bazel-genrule.yml"), "--target", "bookworm/deb", "--platform", "linux/arm64")
    d = ops_pb2.Definition()
    d.ParseFromString(raw)
    entries = list(getattr(d, "def"))
    assert len(entries) >= 2
    digests = ["sha256:" + hashlib.sha256(e).hexdigest() for e in entries]
    assert set(d.metadata) <= set(digests)
    assert digests[-1] in d.metadata  # the terminal op carries the caps
    seen = set()
    for raw_op, dg in zip(entries, digests):
        op = ops_pb2.Op()
        op.ParseFromString(raw_op)
        for inp in op.inputs:
            assert inp.digest in seen, "inputs come before the ops that use them"
        seen.add(dg)
    terminal = ops_pb2.Op()
    terminal.ParseFromString(entries[-1])
    assert terminal.WhichOneof("op") is None and len(terminal.inputs) == 1


CASES = list(golden.golden_cases())


@pytest.mark.parametrize("spec, target, platform, path", CASES, ids=[str(c[3].relative_to(REPO)) for c in CASES])
def test_golden_llb(spec, target, platform, path):
    assert path.exists(), f"missing golden file; run scripts/update-golden.py"
    assert golden.render_json(spec, target, platform) == path.read_text(), (
        f"LLB for {spec.name} {target} {platform} changed; if intended, run scripts/update-golden.py and review the diff"
    )


def test_every_example_has_golden_files():
    assert len(CASES) >= 4 * 6 * 2


def _buildctl() -> str | None:
    import os
    import shutil

    for candidate in (os.environ.get("BUILDCTL"), shutil.which("buildctl"), "/opt/dalecpy-e2e/bin/buildctl"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.mark.parametrize("spec, target, platform, path", CASES[::5], ids=[str(c[3].relative_to(REPO)) for c in CASES[::5]])
def test_json_is_what_buildctl_dump_llb_prints(spec, target, platform, path):
    """BuildKit's own reader parses our binary output and prints exactly our JSON (scripts/e2e/buildctl.sh builds it)."""
    buildctl = _buildctl()
    if buildctl is None:
        pytest.skip("no buildctl (build one with scripts/e2e/provision.sh b --buildctl)")
    raw = _render(str(spec), "--target", target, "--platform", platform)
    dumped = subprocess.run([buildctl, "debug", "dump-llb"], input=raw, capture_output=True, check=True).stdout
    assert dumped.decode() == path.read_text()
