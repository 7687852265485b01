"""`dalecpy frontend` starts without the click CLI (BuildKit waits for every import before the first request)."""

from __future__ import annotations

import subprocess
import sys



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

