"""The Go build cache on a real engine: after a one-line change, a multi-package Go program rebuilds faster
with the gobuild cache than with `gobuild: {disabled: true}` (only "faster" is asserted; bench/caches.py
prints the figures)."""

from __future__ import annotations

import importlib.util
import random
import re

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.e2e

_spec = importlib.util.spec_from_file_location("bench_caches", ROOT / "bench" / "caches.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_go_rebuild_is_faster_with_the_gobuild_cache(engine, tmp_path):
    text = bench.GO_SPEC.read_text()
    disabled = tmp_path / "gobench-disabled.yml"
    disabled.write_text(text.replace("- gobuild: {}", "- gobuild: {disabled: true}"))
    run_id = f"{random.randrange(10**9):09d}"
    steps = {}
    for variant, spec in (("cache", bench.GO_SPEC), ("disabled", disabled)):
        ctx = tmp_path / f"go-{variant}"
        bench.gen_go_program(ctx, packages=6, funcs=80, label=f"{run_id}-first")
        first = bench.dalecpy_build(engine.env, spec, tmp_path / f"{variant}-1", context=ctx)
        assert first.ok, first.proc.stderr[-3000:]
        main = ctx / "main.go"
        main.write_text(main.read_text().replace(f"{run_id}-first", f"{run_id}-second"))  # the one-line change
        second = bench.dalecpy_build(engine.env, spec, tmp_path / f"{variant}-2", context=ctx)
        assert second.ok, second.proc.stderr[-3000:]
        assert re.search(rf"{run_id}-second -?\d+", second.proc.stderr), "the rebuilt program did not run"
        gocache = re.findall(r"GOCACHE=(\S+)", second.proc.stderr)
        assert gocache and gocache[-1] == ("/tmp/dalec/gobuild-cache" if variant == "cache" else "unset"), gocache
        steps[variant] = second.step("dalecpy-gobench")
    assert steps["cache"] is not None and steps["disabled"] is not None, steps
    assert steps["cache"] < steps["disabled"], steps
