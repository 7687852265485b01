"""The frontend as two processes, so that the gRPC stack and the spec stack load at the same time.

Starting the frontend is nearly the whole cost of a fully cached rebuild, and the start is imports of two
independent halves: grpc (which loads asyncio) to speak to the daemon, and pydantic, the spec models, protobuf
and the compiler to do the work. One interpreter loads them one after the other, under one GIL. So the
entrypoint forks before importing either: the child loads grpc, connects to the daemon over stdin/stdout
and sends Ping at once, then carries the parent's calls as serialized messages (it never loads protobuf);
the parent loads the spec stack meanwhile (it never loads grpc) and runs the frontend with a
`bridge.PipeBridge`. This module imports nothing but the standard library's basics, so the fork comes first.

Each message between the two is a 4-byte big-endian length and a body. A call is the method name, NUL and
the serialized request; an answer is 0 and the serialized response, or 1, the gRPC status code (4 bytes)
and its message.
"""

from __future__ import annotations

import os
import struct
import sys

SERVICE = "/moby.buildkit.v1.frontend.LLBBridge/"
UNKNOWN = 2  # google.golang.org/grpc/codes

_LEN = struct.Struct(">I")


def fork_bridge(stdin_fd: int, stdout_fd: int) -> tuple[int, int] | None:
    """Fork the bridge process, which takes over (stdin_fd, stdout_fd). Returns the parent's ends of the
    pipes to it, (answers, calls), or None where there is no fork, or one CPU (nothing to gain there)."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    if not hasattr(os, "fork") or len(cpus) < 2:
        return None
    calls_r, calls_w = os.pipe()
    answers_r, answers_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(calls_w)
            os.close(answers_r)
            _serve_calls(stdin_fd, stdout_fd, calls_r, answers_w)
        except BaseException as exc:  # noqa: BLE001 - the daemon only sees stderr in its log
            print(f"dalecpy frontend (bridge process): {exc!r}", file=sys.stderr)
            code = 1
        finally:
            sys.stderr.flush()
            os._exit(code)  # grpc's threads would keep an ordinary exit waiting
    for fd in (stdin_fd, stdout_fd, calls_r, answers_w):
        os.close(fd)
    return answers_r, calls_w


def write_frame(fd: int, body: bytes) -> None:
    view = memoryview(_LEN.pack(len(body)) + body)
    while view:
        view = view[os.write(fd, view):]


def read_frame(fd: int) -> bytes | None:
    """The next message's body, or None at the end of the stream."""
    head = _read_exact(fd, _LEN.size)
    if head is None:
        return None
    (n,) = _LEN.unpack(head)
    return _read_exact(fd, n) if n else b""


def call_frame(method: str, request: bytes) -> bytes:
    return method.encode() + b"\0" + request


def parse_answer(body: bytes) -> tuple[bytes | None, int, str]:
    """(response, 0, "") for an answer, (None, code, message) for a failed call."""
    if body[:1] == b"\0":
        return body[1:], 0, ""
    (code,) = _LEN.unpack_from(body, 1)
    return None, code, body[1 + _LEN.size:].decode("utf-8", "replace")


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        data = os.read(fd, n)
        if not data:
            return None
        chunks.append(data)
        n -= len(data)
    return b"".join(chunks)


def _serve_calls(stdin_fd: int, stdout_fd: int, calls_fd: int, answers_fd: int) -> None:
    """The bridge process: the daemon's LLBBridge on (stdin_fd, stdout_fd), the parent's calls on the pipes."""
    import grpc

    from .relay import StdioRelay

    relay = StdioRelay(stdin_fd, stdout_fd)
    channel = relay.start()
    stubs = {}

    def call(method: str, request: bytes) -> bytes:
        stub = stubs.get(method)
        if stub is None:  # no (de)serializers: the messages stay bytes in this process
            stub = stubs[method] = channel.unary_unary(SERVICE + method)
        try:
            return b"\0" + stub(request)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            details = (exc.details() if hasattr(exc, "details") else None) or str(exc)
            return b"\1" + _LEN.pack(code.value[0] if code else UNKNOWN) + details.encode("utf-8", "replace")

    # Every frontend starts with Ping (an empty request): send it now, while the parent is still importing.
    early = {"Ping": call("Ping", b"")}
    try:
        while True:
            frame = read_frame(calls_fd)
            if frame is None:
                break
            name, _, request = frame.partition(b"\0")
            method = name.decode()
            answer = early.pop(method) if method in early and not request else call(method, request)
            write_frame(answers_fd, answer)
    finally:
        relay.close()
