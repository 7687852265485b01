"""dalecpy as a BuildKit gateway frontend (`dalecpy frontend`, the frontend image's entrypoint).

The daemon starts the frontend container with the LLBBridge gRPC service on stdin/stdout, the build's
options in BUILDKIT_FRONTEND_OPT_<i> and the client session in BUILDKIT_SESSION_ID. Imports stay lazy so
the process reaches Ping quickly.
"""

from __future__ import annotations

import os
import sys


def serve(read_fd: int, write_fd: int, environ=None) -> int:
    """Speak LLBBridge over (read_fd, write_fd): handle the build, Return, and report the exit code."""
    from .bridge import Bridge
    from .build import handle
    from .relay import StdioRelay

    relay = StdioRelay(read_fd, write_fd)
    try:
        bridge = Bridge(relay.start())
        request = handle(bridge, os.environ if environ is None else environ)
        bridge.return_(request)
    except Exception as exc:  # noqa: BLE001 - the daemon only sees stderr in its log
        print(f"dalecpy frontend: {exc!r}", file=sys.stderr)
        return 1
    finally:
        relay.close()
    return 0


def main() -> None:
    """Entry point: claim stdin/stdout for the protocol and exit with serve()'s code."""
    from .relay import take_stdio

    read_fd, write_fd = take_stdio()
    code = serve(read_fd, write_fd)
    sys.stdout.flush()
    sys.stderr.flush()
    # Daemon threads may still block in read(); leave without waiting for them.
    os._exit(code)
