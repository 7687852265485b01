"""A thin client of BuildKit's `moby.buildkit.v1.frontend.LLBBridge` service."""

from __future__ import annotations

import sys

from . import fork
from . import gateway_pb2 as gw
from .fork import SERVICE, UNKNOWN

METHODS = {
    "Ping": (gw.PingRequest, gw.PongResponse),
    "Solve": (gw.SolveRequest, gw.SolveResponse),
    "ReadFile": (gw.ReadFileRequest, gw.ReadFileResponse),
    "ResolveImageConfig": (gw.ResolveImageConfigRequest, gw.ResolveImageConfigResponse),
    "Inputs": (gw.InputsRequest, gw.InputsResponse),
    "Return": (gw.ReturnRequest, gw.ReturnResponse),
}


class Bridge:
    """One method per RPC we use; each takes the request message and returns the response message.

    `metadata` goes with every call: `dalecpy build` runs the frontend in the client and reaches the daemon's
    LLBBridge forwarder on its control connection, naming the build in `buildkit-controlapi-buildid`."""

    def __init__(self, channel, metadata=()) -> None:
        self._metadata = tuple(metadata) or None
        self._calls = {
            name: channel.unary_unary(
                SERVICE + name,
                request_serializer=req.SerializeToString,
                response_deserializer=resp.FromString,
            )
            for name, (req, resp) in METHODS.items()
        }

    def call(self, name: str, request):
        return self._calls[name](request, metadata=self._metadata)

    def ping(self) -> gw.PongResponse:
        return self.call("Ping", gw.PingRequest())

    def solve(self, request: gw.SolveRequest) -> gw.SolveResponse:
        return self.call("Solve", request)

    def read_file(self, ref: str, path: str) -> bytes:
        return self.call("ReadFile", gw.ReadFileRequest(Ref=ref, FilePath=path)).Data

    def resolve_image_config(self, request: gw.ResolveImageConfigRequest) -> gw.ResolveImageConfigResponse:
        return self.call("ResolveImageConfig", request)

    def inputs(self) -> gw.InputsResponse:
        return self.call("Inputs", gw.InputsRequest())

    def return_(self, request: gw.ReturnRequest) -> gw.ReturnResponse:
        return self.call("Return", request)


class PipeBridge(Bridge):
    """A `Bridge` whose calls go through the forked bridge process (see `fork`): no grpc in this process."""

    def __init__(self, answers_fd: int, calls_fd: int) -> None:
        self._answers_fd = answers_fd
        self._calls_fd = calls_fd

    def call(self, name: str, request):
        fork.write_frame(self._calls_fd, fork.call_frame(name, request.SerializeToString()))
        body = fork.read_frame(self._answers_fd)
        if body is None:
            raise RuntimeError("the frontend's bridge process exited")
        response, code, details = fork.parse_answer(body)
        if response is None:
            raise BridgeError(code, details)
        return METHODS[name][1].FromString(response)


class BridgeError(Exception):
    """A failed call through a `PipeBridge`, as the daemon answered it."""

    def __init__(self, code: int, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


def rpc_failure(exc: BaseException) -> tuple[int, str] | None:
    """(gRPC status code, message) when `exc` is a failed bridge call (grpc's RpcError or a BridgeError)."""
    if isinstance(exc, BridgeError):
        return exc.code, exc.details
    grpc = sys.modules.get("grpc")  # not loaded: `exc` cannot be one of its errors
    if grpc is not None and isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        code = exc.code()
        return (code.value[0] if code else UNKNOWN), (exc.details() or str(code))
    return None


def solve_ref(bridge: Bridge, definition) -> str:
    """Solve a definition and return the ref id, for daemons that answer with `ref` (v0.9+) or
    `refDeprecated` (v0.8 when it does not honour allowResultArrayRef)."""
    resp = bridge.solve(gw.SolveRequest(Definition=definition, allowResultReturn=True, allowResultArrayRef=True))
    res = resp.result
    kind = res.WhichOneof("result")
    if kind == "ref":
        return res.ref.id
    if kind == "refDeprecated":
        return res.refDeprecated
    if resp.ref:
        return resp.ref
    raise RuntimeError(f"Solve returned no single ref (result kind {kind!r})")
