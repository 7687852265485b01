"""The client side of a BuildKit session: the gRPC services the daemon calls back during a build.

`Control/Session` is a bidi stream of BytesMessage carrying one HTTP/2 connection on which the DAEMON is
the gRPC client and we serve. grpcio cannot serve an existing stream, so the session's grpc server listens on
a private unix socket and `attach()` connects to it and pumps bytes between that socket and the stream.

The request metadata announces the session: x-docker-expose-session-uuid (the id Solve refers to),
-name, -sharedkey, and one -grpc-method value per method we serve (the daemon checks these before calling).

Services: FileSync/DiffCopy (local sources by dir name), FileSend/DiffCopy (exports: fsutil packets into a
dir, or a byte stream into a file), Auth/Credentials (anonymous), Secrets/GetSecret, SSH CheckAgent/ForwardAgent
(forwarding is a raw byte copy to the configured unix socket), grpc.health.v1.Health/Check.
"""

from __future__ import annotations

import hashlib
import os
import queue
import secrets as _secrets
import socket
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_plus

import grpc

from . import filesync
from .auth_pb2 import CredentialsRequest, CredentialsResponse
from .filesync_pb2 import BytesMessage as FileBytes
from .fsutil_pb2 import Packet
from .patterns import PathFilter, read_dockerignore
from .secrets_pb2 import GetSecretRequest, GetSecretResponse
from .sshforward_pb2 import BytesMessage as SSHBytes
from .sshforward_pb2 import CheckAgentRequest, CheckAgentResponse

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_id() -> str:
    """A 25-character id like BuildKit's identity.NewID."""
    return "".join(_secrets.choice(_ID_ALPHABET) for _ in range(25))


@dataclass
class LocalDir:
    path: str
    dockerignore: bool = False  # apply <path>/.dockerignore (the build context)


@dataclass
class ExportTarget:
    kind: str  # "dir" (fsutil packets into `path`) or "file" (bytes into `path`, or into `writer`)
    path: str | None = None
    writer: Callable[[], object] | None = None  # returns a binary file-like object; closed at the end
    files: int = 0
    subdir: str | None = None  # "dir": write into this directory of `path` (one platform of several)


@dataclass
class SessionConfig:
    dirs: dict[str, LocalDir] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # id -> file path
    sockets: dict[str, str] = field(default_factory=dict)  # ssh id -> unix socket path (forwarded raw)
    export: ExportTarget | None = None
    name: str = "dalecpy"
    shared_key: str = ""


def _metadata(context) -> dict[str, list[str]]:
    md: dict[str, list[str]] = {}
    for k, v in context.invocation_metadata():
        md.setdefault(k, []).append(v)
    out = {}
    for k, vals in md.items():
        if k.endswith("-encoded"):
            continue
        enc = md.get(k + "-encoded", ["0"])[0].lower() in ("1", "true")
        out[k] = [unquote_plus(v) for v in vals] if enc else vals
    return out


def _split(values: list[str]) -> list[str]:
    # grpc-go sends each value separately; some clients join with ", " in one header
    return [v for v in values if v != ""]


class SessionServer:
    """The grpc server for one session, on a private unix socket.

    An asyncio server on its own event-loop thread: socket forwards are coroutines, so any number of
    forwarded connections (Bazel keeps a pool of them to its remote cache) hold no thread, and a stream the
    daemon cancels is cancelled here and closes its socket at once. The file transfers do blocking file I/O
    and stay plain handlers, run on a thread pool of their own.
    """

    def __init__(self, config: SessionConfig, session_id: str | None = None) -> None:
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        self.config = config
        self.id = session_id or new_id()
        self.errors: list[str] = []
        # Not failures: a forwarded socket nobody listens on is the build's business (Bazel falls back to
        # local work), as with buildctl's raw forwarding. Reported once each after the build.
        self.warnings: list[str] = []
        self._dir = tempfile.mkdtemp(prefix="dalecpy-session-")  # grpc binds the socket itself
        self.path = os.path.join(self._dir, "session.sock")
        self.methods: list[str] = []
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="session")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="session-loop", daemon=True)
        self._thread.start()
        self.server = self._call(self._start())

    def _call(self, coro, timeout: float | None = 30):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start(self):
        server = grpc.aio.server(
            migration_thread_pool=self._pool,
            options=[("grpc.max_receive_message_length", 16 << 20), ("grpc.max_send_message_length", 16 << 20)],
        )
        self._register(server)
        server.add_insecure_port("unix:" + self.path)
        await server.start()
        return server

    def close(self) -> None:
        import shutil

        if self._loop.is_running():
            try:
                self._call(self.server.stop(None), timeout=10)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(10)
        self._pool.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self._dir, ignore_errors=True)

    # ---- registration -------------------------------------------------------------------------------
    def _add(self, server, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
        self.methods += [f"/{service}/{m}" for m in handlers]

    def _register(self, server) -> None:
        raw = dict(request_deserializer=None, response_serializer=None)

        async def health(req, ctx) -> bytes:
            return b"\x08\x01"  # HealthCheckResponse{status: SERVING}

        async def credentials(req, ctx) -> CredentialsResponse:
            return CredentialsResponse()

        self._add(server, "grpc.health.v1.Health", {"Check": grpc.unary_unary_rpc_method_handler(health, **raw)})
        self._add(server, "moby.filesync.v1.FileSync", {"DiffCopy": grpc.stream_stream_rpc_method_handler(
            self._diffcopy, request_deserializer=Packet.FromString, response_serializer=Packet.SerializeToString)})
        if self.config.export is not None:
            self._add(server, "moby.filesync.v1.FileSend", {"DiffCopy": grpc.stream_stream_rpc_method_handler(
                self._filesend, **raw)})
        self._add(server, "moby.filesync.v1.Auth", {"Credentials": grpc.unary_unary_rpc_method_handler(
            credentials, request_deserializer=CredentialsRequest.FromString,
            response_serializer=CredentialsResponse.SerializeToString)})
        self._add(server, "moby.buildkit.secrets.v1.Secrets", {"GetSecret": grpc.unary_unary_rpc_method_handler(
            self._get_secret, request_deserializer=GetSecretRequest.FromString,
            response_serializer=GetSecretResponse.SerializeToString)})
        if self.config.sockets:
            self._add(server, "moby.sshforward.v1.SSH", {
                "CheckAgent": grpc.unary_unary_rpc_method_handler(
                    self._check_agent, request_deserializer=CheckAgentRequest.FromString,
                    response_serializer=CheckAgentResponse.SerializeToString),
                "ForwardAgent": grpc.stream_stream_rpc_method_handler(
                    self._forward_agent, request_deserializer=SSHBytes.FromString,
                    response_serializer=SSHBytes.SerializeToString),
            })

    # ---- FileSync ------------------------------------------------------------------------------------
    def _diffcopy(self, requests, context) -> Iterator[Packet]:
        md = _metadata(context)
        name = (md.get("dir-name") or [""])[0]
        local = self.config.dirs.get(name)
        if local is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no access allowed to dir {name!r}")
        excludes = _split(md.get("exclude-patterns", []))
        if local.dockerignore:
            excludes = read_dockerignore(os.path.join(local.path, ".dockerignore")) + excludes
        flt = PathFilter(includes=_split(md.get("include-patterns", [])), excludes=excludes,
                         follow_paths=_split(md.get("followpaths", [])))
        yield from _run_with_queue(lambda emit: filesync.send(local.path, requests, emit, flt), self.errors,
                                   f"sending {name!r}")

    # ---- FileSend (exports) --------------------------------------------------------------------------
    def _filesend(self, requests, context) -> Iterator[bytes]:
        target = self.config.export
        assert target is not None
        if target.kind == "dir":
            try:
                rx = filesync.Receiver(target.path, target.subdir)  # type: ignore[arg-type]
            except filesync.DiffCopyError as exc:
                self.errors.append(f"local export: {exc}")
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
            base = target.files

            def consume() -> None:
                try:
                    for raw in requests:
                        rx.handle(Packet.FromString(raw))
                        target.files = base + rx.files_written
                        if rx.finished:
                            break
                except grpc.RpcError:
                    # The daemon may end the stream once it has our FIN, before its own FIN reaches us.
                    if not rx.complete:
                        self.errors.append("local export: the daemon ended the transfer before all files arrived")
                except Exception as exc:  # report and stop the response stream
                    self.errors.append(f"local export: {exc}")
                    rx.out.put(Packet(type=filesync.ERR, data=str(exc).encode()))
                finally:
                    rx.close()
                rx.out.put(None)

            threading.Thread(target=consume, name="filesend-recv", daemon=True).start()
            for p in rx.outgoing():
                yield p.SerializeToString()
            return
        f = target.writer() if target.writer else open(target.path, "wb")  # type: ignore[arg-type]
        try:
            for raw in requests:
                data = FileBytes.FromString(raw).data
                if data:
                    f.write(data)
        finally:
            f.close()
        target.files += 1
        return
        yield  # pragma: no cover - make this a generator

    # ---- secrets ----------------------------------------------------------------------------------------
    async def _get_secret(self, req: GetSecretRequest, context) -> GetSecretResponse:
        path = self.config.secrets.get(req.ID)
        if path is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"secret {req.ID} not found")
        try:
            return GetSecretResponse(data=Path(path).read_bytes())
        except OSError as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"secret {req.ID}: {exc.strerror}")

    # ---- ssh / raw socket forwarding ---------------------------------------------------------------
    async def _check_agent(self, req: CheckAgentRequest, context) -> CheckAgentResponse:
        sid = req.ID or "default"
        if sid not in self.config.sockets:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unset ssh forward key {sid}")
        return CheckAgentResponse()

    async def _forward_agent(self, requests, context) -> AsyncIterator[SSHBytes]:
        import asyncio

        md = _metadata(context)
        sid = (md.get("buildkit.ssh.id") or ["default"])[0] or "default"
        path = self.config.sockets.get(sid)
        if path is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unset ssh forward key {sid}")
        try:
            reader, writer = await asyncio.open_unix_connection(path)
        except OSError as exc:
            self.warnings.append(f"--socket {sid}={path}: {exc.strerror or exc}")
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"failed to connect to {path}: {exc.strerror or exc}")
        async for message in forward_bytes(reader, writer, (m.data async for m in requests), SSHBytes):
            yield message


async def forward_bytes(reader, writer, incoming: AsyncIterator[bytes], message_type) -> AsyncIterator:
    """Copy byte chunks from `incoming` into the socket (`reader`, `writer`) and yield `message_type(data=...)`
    for everything read back from it, unchanged, until the socket reaches EOF. The end of `incoming`
    half-closes the socket; however this generator ends (EOF, error, or the stream cancelled: CancelledError
    at an await), the socket is closed right away."""
    import asyncio

    async def pump_in() -> None:
        try:
            async for data in incoming:
                if data:
                    writer.write(data)
                    await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, grpc.RpcError, asyncio.IncompleteReadError):
            pass

    task = asyncio.ensure_future(pump_in())
    try:
        while data := await reader.read(1 << 15):
            yield message_type(data=data)
    except OSError:
        pass
    finally:
        task.cancel()
        writer.close()


def _run_with_queue(fn: Callable[[Callable[[object], None]], None], errors: list[str], what: str) -> Iterator:
    """Run `fn(emit)` in a thread and yield what it emits (grpc handlers must yield from their own thread)."""
    q: queue.Queue = queue.Queue(maxsize=256)
    done = object()

    def run() -> None:
        try:
            fn(q.put)
        except Exception as exc:
            errors.append(f"{what}: {exc}")
        q.put(done)

    threading.Thread(target=run, name="session-send", daemon=True).start()
    while True:
        item = q.get()
        if item is done:
            return
        yield item


class Session:
    """A SessionServer attached to the daemon through a Control/Session stream."""

    def __init__(self, channel: grpc.Channel, config: SessionConfig) -> None:
        self.config = config
        self.server = SessionServer(config)
        self.id = self.server.id
        self.channel = channel
        self._call = None
        self._sock: socket.socket | None = None
        self.closed = threading.Event()

    def metadata(self) -> list[tuple[str, str]]:
        md = [
            ("x-docker-expose-session-uuid", self.id),
            # a label only; gRPC refuses header values that are not printable ASCII (a context dir "café")
            ("x-docker-expose-session-name", "".join(c if " " <= c <= "~" else "_" for c in self.config.name)),
            ("x-docker-expose-session-sharedkey", self.config.shared_key),
        ]
        md += [("x-docker-expose-session-grpc-method", m) for m in self.server.methods]
        return md

    def attach(self) -> None:
        from .control_pb2 import BytesMessage

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.server.path)
        self._sock = sock

        def requests() -> Iterator[BytesMessage]:
            try:
                while True:
                    data = sock.recv(1 << 16)
                    if not data:
                        return
                    yield BytesMessage(data=data)
            except OSError:
                return

        stub = self.channel.stream_stream("/moby.buildkit.v1.Control/Session",
                                          request_serializer=BytesMessage.SerializeToString,
                                          response_deserializer=BytesMessage.FromString)
        self._call = stub(requests(), metadata=self.metadata())

        def responses() -> None:
            try:
                for m in self._call:
                    sock.sendall(m.data)
            except (grpc.RpcError, OSError):
                pass
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self.closed.set()

        threading.Thread(target=responses, name="session-stream", daemon=True).start()

    def close(self) -> None:
        if self._call is not None:
            self._call.cancel()
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self.server.close()


def shared_key(path: str) -> str:
    return hashlib.sha256(os.fsencode(os.path.abspath(path))).hexdigest()[:32]
