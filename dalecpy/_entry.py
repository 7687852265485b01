"""The `dalecpy` console script. `dalecpy frontend` (the frontend image's entrypoint, started by BuildKit for
every build) skips the click CLI: its import is time the daemon waits before the frontend's first request."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["frontend"]:
        from .frontend import main as frontend_main

        frontend_main()
    from .cli import main as cli_main

    cli_main()
