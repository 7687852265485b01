"""`dalecpy frontend` starts without the click CLI (BuildKit waits for every import before the first request)."""

from __future__ import annotations

import subprocess
import sys

from tests.frontend.fakebridge import run_subprocess


def _imported_modules(argv: list[str]) -> set[str]:
    code = f"import sys; sys.argv = {argv!r}; from dalecpy._entry import main; main()"
    # stdout is the gRPC stream for `frontend`: keep it out of the way
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    lines = proc.stderr.decode("utf-8", "replace").splitlines()
    return {line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import time:")}


def test_frontend_entry_skips_click():
    mods = _imported_modules(["dalecpy", "frontend"])
    assert "dalecpy.frontend" in mods
    assert "click" not in mods and "dalecpy.cli" not in mods


def test_other_commands_still_use_the_cli():
    assert "click" in _imported_modules(["dalecpy", "frontend", "--help"])
    assert "click" in _imported_modules(["dalecpy", "targets", "--help"])


def test_entry_frontend_answers_the_bridge():
    argv = [sys.executable, "-c", "import sys; from dalecpy._entry import main; sys.argv[1:] = ['frontend']; main()"]
    fb, _elapsed, rc, err = run_subprocess(argv, {"spec.yml": b"name: x\n"}, {"filename": "spec.yml"})
    assert rc == 0, err
    assert fb.returned is not None
