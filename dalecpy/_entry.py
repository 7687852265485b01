"""The `dalecpy` console script. `dalecpy frontend` (the frontend image's entrypoint, started by BuildKit for
every build) skips the click CLI: its import is time the daemon waits before the frontend's first request.
Ctrl-C at any point, the imports included, exits 130 with one line, never a traceback."""

from __future__ import annotations

import os
import signal
import sys


def interrupted() -> None:
    """Ctrl-C: one line and exit 130, whatever was running (cleanup already ran on the way out)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the exit
    try:
        sys.stdout.flush()
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
    finally:
        os._exit(130)  # no waiting for worker threads still blocked on the daemon


def main() -> None:
    try:
        if sys.argv[1:] == ["frontend"]:
            from .frontend import main as frontend_main

            frontend_main()
        from .cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        interrupted()
