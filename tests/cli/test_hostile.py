"""Hostile specs and arguments through the real command line: exit 2 and one positioned line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.hostile import HOSTILE_SPECS

from .test_cli import REPO


@pytest.mark.parametrize("spec, target, expected", [c[1:] for c in HOSTILE_SPECS], ids=[c[0] for c in HOSTILE_SPECS])
def test_hostile_spec_is_one_positioned_line_and_exit_2(tmp_path, spec, target, expected):
    path = tmp_path / "h.yml"
    path.write_text(spec, encoding="utf-8")
    r = subprocess.run(
        [sys.executable, "-m", "dalecpy.cli", "render", "-t", target, str(path)], capture_output=True, cwd=REPO
    )
    assert r.returncode == 2, r.stderr
    (line,) = r.stderr.decode("utf-8").splitlines()
    assert line.startswith(f"{path}:{expected}"), line


def test_non_utf8_build_arg_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "a.yml"
    path.write_text("name: a\nargs: {A: ''}\n")
    arg = os.fsencode("A=") + b"\xff"
    r = subprocess.run(
        [sys.executable, "-m", "dalecpy.cli", "render", "-t", "bookworm/deb", "--build-arg", arg, str(path)],
        capture_output=True, cwd=REPO,
    )
    assert r.returncode == 2
    (line,) = r.stderr.decode("utf-8").splitlines()
    assert line == f"{path}: build arg 'A': invalid Unicode: lone surrogate \\udcff at character 1 (not encodable as UTF-8)"
