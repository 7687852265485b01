"""Ctrl-C at any moment of `dalecpy build` (imports, flag parsing, session setup, the Solve) exits 130 with one
line, never a traceback. SIGINT is sent to a real subprocess at increasing delays against the fake daemon."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.client.fake_daemon import FakeDaemon

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "specs" / "hello.yml"
# What the `dalecpy` console script runs, after a marker: the delays count from the moment its code starts.
# SIGINT handled as in a terminal: a background CI shell starts its children with SIGINT ignored, and Python
# then leaves it so (no preexec_fn: forking this process, which runs grpc threads, is not safe).
ENTRY = [sys.executable, "-c",
         "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
         "sys.stderr.write('started\\n'); sys.stderr.flush(); "
         "from dalecpy._entry import main; main()"]


@pytest.fixture(scope="module")
def slow_daemon():
    d = FakeDaemon({"hello.yml": HELLO.read_bytes()}, register_delay=60.0)  # the Solve waits: Ctrl-C comes first
    yield d
    d.stop()


def _interrupt_after(argv: list[str], delay: float | None) -> tuple[int, str]:
    """SIGINT `delay` seconds after the start, or (None) once the Solve runs (its progress is printed)."""
    proc = subprocess.Popen([*ENTRY, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert proc.stderr is not None
    assert proc.stderr.readline() == b"started\n"
    head = b""
    if delay is None:
        while b"#1 " not in head and proc.poll() is None:
            head += proc.stderr.readline()
    else:
        time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, (head + err).decode("utf-8", "replace")


@pytest.fixture(scope="module")
def solve_starts_after(slow_daemon) -> float:
    """How long `dalecpy build` takes here to reach the Solve (imports, spec, compile, session): the delays
    below are fractions of it, so each phase gets its interrupt on a slow machine too."""
    t0 = time.monotonic()
    code, err = _interrupt_after(_build_argv(slow_daemon), None)
    assert code == 130 and "Traceback" not in err, err
    return time.monotonic() - t0


def _build_argv(daemon: FakeDaemon) -> list[str]:
    return ["build", str(HELLO), "--addr", daemon.addr, "--progress", "plain"]


@pytest.mark.parametrize("fraction", [0.02, 0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.85, 0.9, 0.95, 1.0, 1.5])
def test_ctrl_c_during_build(slow_daemon, solve_starts_after, fraction):
    code, err = _interrupt_after(_build_argv(slow_daemon), fraction * solve_starts_after)
    assert code == 130, err
    assert "Traceback" not in err and err.rstrip().endswith("interrupted"), err


@pytest.mark.parametrize("delay", [0.02, 0.1, 0.3])
def test_ctrl_c_during_render(delay):
    code, err = _interrupt_after(["render", str(HELLO), "--format", "json"], delay)
    # 0: it finished first; -SIGINT: it had finished and Python was exiting (default handlers are back then);
    # a shell shows 130 for both interrupted cases
    assert code in (130, -signal.SIGINT, 0), err
    assert "Traceback" not in err
