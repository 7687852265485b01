"""The session's gRPC services, called the way the daemon calls them (a fake daemon on the session socket)."""

from __future__ import annotations

import os
import queue
import threading

import grpc
import pytest

from dalecpy.client import filesync
from dalecpy.client.filesync_pb2 import BytesMessage as FileBytes
from dalecpy.client.fsutil_pb2 import Packet
from dalecpy.client.secrets_pb2 import GetSecretRequest, GetSecretResponse
from dalecpy.client.session import ExportTarget, LocalDir, SessionConfig, SessionServer, forward_bytes
from dalecpy.client.sshforward_pb2 import BytesMessage, CheckAgentRequest, CheckAgentResponse

from .echo_server import start as start_echo


@pytest.fixture
def echo(tmp_path):
    path = str(tmp_path / "echo.sock")
    stop = start_echo(path)
    yield path
    stop.set()


def _server(**kw) -> tuple[SessionServer, grpc.Channel]:
    srv = SessionServer(SessionConfig(**kw))
    return srv, grpc.insecure_channel("unix:" + srv.path)


def _forward(ch, chunks, sid="myid"):
    call = ch.stream_stream("/moby.sshforward.v1.SSH/ForwardAgent", request_serializer=BytesMessage.SerializeToString,
                            response_deserializer=BytesMessage.FromString)
    return b"".join(m.data for m in call(iter([BytesMessage(data=c) for c in chunks]),
                                         metadata=[("buildkit.ssh.id", sid)], timeout=10))


def test_raw_socket_forwarding_is_byte_exact(echo):
    srv, ch = _server(sockets={"myid": echo})
    payload = [bytes(range(256)), b"\x00" * 5, os.urandom(300_000), b"SSH-2.0-not-an-agent\r\n"]
    assert _forward(ch, payload) == b"".join(payload)
    # several concurrent connections (the container may open many)
    results = []
    ts = [threading.Thread(target=lambda i=i: results.append(_forward(ch, [f"conn-{i}".encode()] * 100)))
          for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(results) == sorted(f"conn-{i}".encode() * 100 for i in range(8))
    srv.close()


def test_check_agent_and_methods(echo):
    srv, ch = _server(sockets={"myid": echo, "default": echo})
    check = ch.unary_unary("/moby.sshforward.v1.SSH/CheckAgent", request_serializer=CheckAgentRequest.SerializeToString,
                           response_deserializer=CheckAgentResponse.FromString)
    check(CheckAgentRequest(ID="myid"), timeout=5)
    check(CheckAgentRequest(ID=""), timeout=5)  # empty means "default"
    with pytest.raises(grpc.RpcError) as exc:
        check(CheckAgentRequest(ID="other"), timeout=5)
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    assert "/moby.sshforward.v1.SSH/ForwardAgent" in srv.methods
    assert "/moby.filesync.v1.FileSync/DiffCopy" in srv.methods
    assert "/grpc.health.v1.Health/Check" in srv.methods
    assert "/moby.filesync.v1.FileSend/DiffCopy" not in srv.methods  # no export target
    srv.close()


def test_forward_bytes_half_close(echo):
    import asyncio

    async def run() -> bytes:
        reader, writer = await asyncio.open_unix_connection(echo)

        async def incoming():
            for chunk in (b"a", b"", b"bc"):
                yield chunk

        return b"".join([m.data async for m in forward_bytes(reader, writer, incoming(), BytesMessage)])

    assert asyncio.run(run()) == b"abc"


def test_secrets(tmp_path):
    (tmp_path / "s").write_bytes(b"top\x00secret")
    srv, ch = _server(secrets={"pipca": str(tmp_path / "s")})
    get = ch.unary_unary("/moby.buildkit.secrets.v1.Secrets/GetSecret",
                         request_serializer=GetSecretRequest.SerializeToString,
                         response_deserializer=GetSecretResponse.FromString)
    assert get(GetSecretRequest(ID="pipca"), timeout=5).data == b"top\x00secret"
    with pytest.raises(grpc.RpcError) as exc:
        get(GetSecretRequest(ID="nope"), timeout=5)
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    srv.close()


def test_filesync_diffcopy_with_daemon_metadata(tmp_path):
    ctx = tmp_path / "ctx"
    (ctx / "sub").mkdir(parents=True)
    (ctx / "a.txt").write_text("a")
    (ctx / "b.md").write_text("b")
    (ctx / "sub/c.txt").write_text("c")
    (ctx / "ignored.txt").write_text("x")
    (ctx / ".dockerignore").write_text("ignored.txt\n")
    srv, ch = _server(dirs={"context": LocalDir(str(ctx), dockerignore=True)})
    dest = tmp_path / "out"
    rx = filesync.Receiver(dest)
    q: queue.Queue = queue.Queue()

    def reqs():
        for p in rx.outgoing():
            yield p

    call = ch.stream_stream("/moby.filesync.v1.FileSync/DiffCopy", request_serializer=Packet.SerializeToString,
                            response_deserializer=Packet.FromString)
    md = [("dir-name", "context"), ("exclude-patterns", "*.md"), ("include-patterns", "*.txt"),
          ("include-patterns", "sub")]
    for p in call(reqs(), metadata=md, timeout=10):
        rx.handle(p)
    assert sorted(os.listdir(dest)) == ["a.txt", "sub"]
    assert (dest / "sub/c.txt").read_text() == "c"
    # an unknown dir name is NotFound
    with pytest.raises(grpc.RpcError) as exc:
        list(call(iter([]), metadata=[("dir-name", "nope")], timeout=5))
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    srv.close()


def test_filesend_file_export(tmp_path):
    out = tmp_path / "image.tar"
    target = ExportTarget("file", str(out))
    srv, ch = _server(export=target)
    call = ch.stream_stream("/moby.filesync.v1.FileSend/DiffCopy", request_serializer=FileBytes.SerializeToString,
                            response_deserializer=FileBytes.FromString)
    assert list(call(iter([FileBytes(data=b"abc"), FileBytes(data=b"def")]), timeout=5)) == []
    assert out.read_bytes() == b"abcdef" and target.files == 1
    srv.close()


def test_filesend_local_export(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "pkg.deb").write_bytes(os.urandom(100_000))
    target = ExportTarget("dir", str(tmp_path / "dest"))
    srv, ch = _server(export=target)
    call = ch.stream_stream("/moby.filesync.v1.FileSend/DiffCopy", request_serializer=Packet.SerializeToString,
                            response_deserializer=Packet.FromString)
    # we play the daemon's sender; the session is the receiver
    q: queue.Queue = queue.Queue()

    def outgoing():
        while (p := q.get()) is not None:
            yield p

    responses = call(outgoing(), timeout=10)
    t = threading.Thread(target=lambda: filesync.send(src, responses, q.put), daemon=True)
    t.start()
    t.join(10)
    q.put(None)
    assert (tmp_path / "dest/pkg.deb").read_bytes() == (src / "pkg.deb").read_bytes()
    assert target.files == 1
    srv.close()


class _HoldingServer:
    """A unix socket server that echoes and keeps every connection open until the peer closes it; counts them."""

    def __init__(self, path: str) -> None:
        import socket

        self.open = 0
        self.closed = threading.Event()  # set each time a connection is closed by the peer
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(512)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.open += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)
        with self.lock:
            self.open -= 1
        self.closed.set()


def _open_forward(ch, sid="myid"):
    """A forwarded connection left open: (call, queue to send on); the first echo proves it is through."""
    call = ch.stream_stream("/moby.sshforward.v1.SSH/ForwardAgent", request_serializer=BytesMessage.SerializeToString,
                            response_deserializer=BytesMessage.FromString)
    q: queue.Queue = queue.Queue()

    def reqs():
        while (item := q.get()) is not None:
            yield BytesMessage(data=item)

    stream = call(reqs(), metadata=[("buildkit.ssh.id", sid)], timeout=60)
    q.put(b"hello")
    return stream, q


def test_forwarding_is_not_bounded_by_a_thread_pool(tmp_path):
    """200 forwarded connections stay open (Bazel's remote cache pool) while secrets and new forwards answer
    at once; a cancelled stream closes its socket at once."""
    held = _HoldingServer(str(tmp_path / "held.sock"))
    (tmp_path / "s").write_bytes(b"sekrit")
    srv, ch = _server(sockets={"myid": str(tmp_path / "held.sock")}, secrets={"s": str(tmp_path / "s")})
    streams = [_open_forward(ch) for _ in range(200)]
    for stream, _ in streams:
        assert next(stream).data == b"hello"
    assert held.open == 200
    get = ch.unary_unary("/moby.buildkit.secrets.v1.Secrets/GetSecret",
                         request_serializer=GetSecretRequest.SerializeToString,
                         response_deserializer=GetSecretResponse.FromString)
    assert get(GetSecretRequest(ID="s"), timeout=3).data == b"sekrit"
    extra, _ = _open_forward(ch)
    assert next(extra).data == b"hello"  # a new forward still gets through
    # cancelling a stream closes its socket now, though the server on the other end would keep it open
    held.closed.clear()
    streams[0][0].cancel()
    assert held.closed.wait(3), "the cancelled stream's socket stayed open"
    assert held.open == 200
    for stream, q in streams[1:]:
        q.put(None)  # the daemon half-closes: the server sees EOF, closes, and the stream ends
    extra.cancel()
    srv.close()
    ch.close()
