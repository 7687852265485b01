"""dalecpy as a BuildKit gateway frontend (`dalecpy frontend`, the frontend image's entrypoint).

The daemon starts the frontend container with the LLBBridge gRPC service on stdin/stdout, the build's
options in BUILDKIT_FRONTEND_OPT_<i> and the client session in BUILDKIT_SESSION_ID. Imports stay lazy:
the frontend's start is what a fully cached rebuild waits for.
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
    """Entry point: claim stdin/stdout for the protocol, serve, and exit with the code."""
    code = run()
    sys.stdout.flush()
    sys.stderr.flush()
    # Daemon threads may still block in read(); leave without waiting for them.
    os._exit(code)


def run() -> int:
    """Serve on stdin/stdout with the gRPC side in a forked bridge process (see `fork`) while this process
    loads the spec stack; in one process where there is no fork."""
    from .fork import fork_bridge

    read_fd, write_fd = take_stdio()
    pipes = fork_bridge(read_fd, write_fd)
    if pipes is None:
        return serve(read_fd, write_fd)
    try:
        from .. import compile, spec  # noqa: F401 - the work's imports, while the bridge process starts
        from .bridge import PipeBridge
        from .build import handle

        bridge = PipeBridge(*pipes)
        bridge.return_(handle(bridge, os.environ))
    except Exception as exc:  # noqa: BLE001 - the daemon only sees stderr in its log
        print(f"dalecpy frontend: {exc!r}", file=sys.stderr)
        return 1
    return 0


def take_stdio() -> tuple[int, int]:
    """Claim fds 0 and 1 for the protocol; afterwards fd 0 reads /dev/null and fd 1 writes to stderr,
    so a stray print can never corrupt the HTTP/2 stream."""
    read_fd = os.dup(0)
    write_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return read_fd, write_fd
