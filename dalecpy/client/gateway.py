"""dalecpy's frontend run inside `dalecpy build`, as BuildKit's Go `Client.Build` runs a build function.

Control/Solve is sent with no Definition and no Frontend: the daemon then registers an LLBBridge forwarder
under the solve's Ref and waits for a `Return` on it. We call LLBBridge (Ping, Solve, ReadFile,
ResolveImageConfig, Return...) on the same gRPC connection, each call carrying the gRPC metadata
`buildkit-controlapi-buildid=<Ref>` (moby/buildkit `client/buildid`, `control/gateway`), and run exactly the
frontend image's logic (`dalecpy.frontend.build.handle`) with the options as a dict. So the result is what
the frontend image returns: image config in the Return metadata, spec tests run with Evaluate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import grpc

BUILDID_METADATA_KEY = "buildkit-controlapi-buildid"
# The daemon's forwarder waits a few seconds for the build to register; we keep asking while Solve runs.
REGISTER_WAIT = 30.0


class GatewayRun:
    """The in-process frontend for one Control/Solve, run in a daemon thread."""

    def __init__(self, channel: grpc.Channel, build_ref: str, session_id: str, opts: Mapping[str, str],
                 solve_done: Callable[[], bool]) -> None:
        from ..frontend.bridge import Bridge

        self.bridge = Bridge(channel, metadata=[(BUILDID_METADATA_KEY, build_ref)])
        self.environ = {"BUILDKIT_SESSION_ID": session_id}
        self.opts = dict(opts)
        self.solve_done = solve_done
        self.error: str | None = None  # set when the frontend could not hand its result to the daemon
        self.returned = None  # the ReturnRequest sent
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)

    def start(self) -> "GatewayRun":
        self._thread.start()
        return self

    def _wait_registered(self) -> bool:
        deadline = time.monotonic() + REGISTER_WAIT
        while True:
            try:
                self.bridge.ping()
                return True
            except grpc.RpcError as exc:
                if self.solve_done():
                    return False  # the Solve ended (its error is the one to report)
                if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED) \
                        or time.monotonic() > deadline:
                    self.error = f"the daemon's gateway did not answer: {exc.details() or exc.code().name}"
                    return False
                time.sleep(0.2)

    def _run(self) -> None:
        from ..frontend.build import handle

        try:
            if not self._wait_registered():
                return
            request = handle(self.bridge, self.environ, self.opts)
            self.returned = request
            self.bridge.return_(request)
        except grpc.RpcError as exc:
            if not self.solve_done():
                self.error = f"gateway: {exc.details() or exc.code().name}"
        except Exception as exc:  # noqa: BLE001 - reported by the caller
            self.error = f"gateway: {exc!r}"
        finally:
            self.done.set()


def frontend_opts(*, filename: str, target: str, platform: str | None, build_args: Mapping[str, str],
                  no_cache: bool, no_cache_filter: tuple[str, ...] = ()) -> dict[str, str]:
    """The frontend opts a BuildKit client sends (the keys dalecpy.frontend.options reads)."""
    opts = {"filename": filename, "target": target}
    if platform:
        opts["platform"] = platform
    for k, v in build_args.items():
        opts[f"build-arg:{k}"] = v
    if no_cache:
        opts["no-cache"] = ""
    elif no_cache_filter:
        opts["no-cache"] = ",".join(no_cache_filter)
    return opts
