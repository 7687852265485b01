"""A fake BuildKit daemon for `dalecpy build`: Control (ListWorkers, Solve, Status, Session) and the LLBBridge
forwarder on one unix socket, as buildkitd serves them.

A Control/Solve with no Definition and no Frontend registers a gateway build under its Ref and waits for the
LLBBridge `Return`; LLBBridge calls find their build by the `buildkit-controlapi-buildid` metadata and fail
with "no such job" otherwise (as control/gateway does). The LLBBridge side is tests/frontend/fakebridge.
"""

from __future__ import annotations

import threading
import time

import grpc

from dalecpy.client import control_pb2 as ctl
from dalecpy.client import control_pb2_grpc
from dalecpy.frontend import gateway_pb2_grpc, worker_pb2
from dalecpy.llb import ops_pb2
from tests.frontend.fakebridge import FakeBridge
from tests.unixgrpc import UnixGrpcServer

BUILDID = "buildkit-controlapi-buildid"


def _code(value: int) -> grpc.StatusCode:
    return next((c for c in grpc.StatusCode if c.value[0] == value), grpc.StatusCode.UNKNOWN)


class ForwardingBridge(FakeBridge):
    """FakeBridge behind the forwarder: each call must name a registered build."""

    def __init__(self, daemon: "FakeDaemon", *args, fail_test: str | None = None, **kw) -> None:
        super().__init__(*args, **kw)
        self.daemon = daemon
        self.fail_test = fail_test
        self.build_ids: list[str] = []

    def _check(self, context) -> None:
        bid = dict(context.invocation_metadata()).get(BUILDID, "")
        self.build_ids.append(bid)
        if bid not in self.daemon.registered:
            context.abort(grpc.StatusCode.UNKNOWN, f"no such job {bid}")

    def Ping(self, request, context):
        self._check(context)
        return super().Ping(request, context)

    def Inputs(self, request, context):
        self._check(context)
        return super().Inputs(request, context)

    def Solve(self, request, context):
        self._check(context)
        resp = super().Solve(request, context)
        if request.Evaluate and self.fail_test and any(
            m.description.get("llb.customname") == self.fail_test for m in request.Definition.metadata.values()
        ):
            context.abort(grpc.StatusCode.UNKNOWN,
                          'process "/tmp/dalec/internal/test.sh" did not complete successfully: exit code: 1')
        return resp

    def ReadFile(self, request, context):
        self._check(context)
        return super().ReadFile(request, context)

    def ResolveImageConfig(self, request, context):
        self._check(context)
        return super().ResolveImageConfig(request, context)

    def Return(self, request, context):
        self._check(context)
        return super().Return(request, context)


class FakeDaemon(control_pb2_grpc.ControlServicer):
    def __init__(self, files: dict[str, bytes], register_delay: float = 0.0, **bridge_kw) -> None:
        self.register_delay = register_delay
        self.registered: set[str] = set()
        self.solves: list[ctl.SolveRequest] = []
        self.sessions: list[dict[str, list[str]]] = []
        self.bridge = ForwardingBridge(self, files, **bridge_kw)
        self._srv = UnixGrpcServer("fakedaemon-", [
            lambda srv: control_pb2_grpc.add_ControlServicer_to_server(self, srv),
            lambda srv: gateway_pb2_grpc.add_LLBBridgeServicer_to_server(self.bridge, srv),
        ], max_workers=16)
        self.server = self._srv.server
        self.path = self._srv.path

    @property
    def addr(self) -> str:
        return "unix://" + self.path

    def stop(self) -> None:
        self._srv.stop()

    # ---- Control ----------------------------------------------------------------------------------------
    def ListWorkers(self, request, context):
        return ctl.ListWorkersResponse(record=[worker_pb2.WorkerRecord(
            ID="fake", platforms=[ops_pb2.Platform(OS="linux", Architecture="amd64")])])

    def Session(self, request_iterator, context):
        md: dict[str, list[str]] = {}
        for k, v in context.invocation_metadata():
            md.setdefault(k, []).append(v)
        self.sessions.append(md)
        for _ in request_iterator:
            pass
        return
        yield  # pragma: no cover

    def Status(self, request, context):
        yield ctl.StatusResponse(vertexes=[ctl.Vertex(digest="sha256:fake", name="[fake] gateway build")])

    def Solve(self, request, context):
        self.solves.append(request)
        if request.Frontend or request.HasField("Definition"):
            return ctl.SolveResponse(ExporterResponse={"frontend": request.Frontend})
        time.sleep(self.register_delay)
        self.registered.add(request.Ref)
        self.bridge.done.clear()
        if not self.bridge.done.wait(30):
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "no Return from the gateway")
        ret = self.bridge.returned
        if ret.HasField("error"):
            context.abort(_code(ret.error.code), ret.error.message)
        return ctl.SolveResponse(ExporterResponse={"returned": "yes"})
