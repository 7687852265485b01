"""Carry the daemon's gRPC connection from stdin/stdout to a grpcio channel.

BuildKit serves LLBBridge as HTTP/2 cleartext over the frontend container's stdin (daemon -> us) and
stdout (us -> daemon). grpcio cannot dial a file-descriptor pair, so we listen on a private unix
socket, point the channel at it, accept its single connection and pump bytes both ways.
"""

from __future__ import annotations

import os
import socket
import threading

from .._unixsock import PrivateSocket

_CHUNK = 1 << 16
# BuildKit's gateway server allows 16 MiB messages; allow the same on our side.
MAX_MESSAGE = 16 << 20


class StdioRelay:
    """Relay between a byte stream pair (read_fd, write_fd) and a grpc channel on a private unix socket.

    `start()` returns the channel. The pumps run in daemon threads; `close()` tears everything down.
    """

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self._sock = PrivateSocket("dalecpy-frontend-", "bridge.sock")
        self.path = self._sock.path
        self._conn: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self.channel = None

    def start(self):
        import grpc

        t = threading.Thread(target=self._accept, name="relay-accept", daemon=True)
        t.start()
        self._threads.append(t)
        self.channel = grpc.insecure_channel(
            "unix:" + self.path,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE),
                ("grpc.max_send_message_length", MAX_MESSAGE),
                ("grpc.enable_http_proxy", 0),
                ("grpc.enable_retries", 0),
                # One connection for the whole run: the daemon serves exactly one over stdio.
                ("grpc.use_local_subchannel_pool", 1),
            ],
        )
        return self.channel

    def _accept(self) -> None:
        conn, _ = self._sock.listener.accept()
        self._sock.close()  # nobody else may connect: the socket file is no longer needed
        self._conn = conn
        for name, fn in (("relay-in", self._pump_in), ("relay-out", self._pump_out)):
            t = threading.Thread(target=fn, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def _pump_in(self) -> None:
        """daemon -> grpc: stdin to the socket; on EOF half-close the socket."""
        conn = self._conn
        assert conn is not None
        try:
            while True:
                data = os.read(self.read_fd, _CHUNK)
                if not data:
                    break
                conn.sendall(data)
        except OSError:
            pass
        try:
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _pump_out(self) -> None:
        """grpc -> daemon: the socket to stdout."""
        conn = self._conn
        assert conn is not None
        try:
            while True:
                data = conn.recv(_CHUNK)
                if not data:
                    break
                view = memoryview(data)
                while view:
                    n = os.write(self.write_fd, view)
                    view = view[n:]
        except OSError:
            pass

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
        self._sock.close()
