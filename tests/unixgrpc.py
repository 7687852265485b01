"""A grpc server for the fakes on a unix socket in its own temporary directory (gone after `stop()`)."""

from __future__ import annotations

import os
import tempfile
from concurrent import futures
from typing import Callable, Iterable

import grpc


class UnixGrpcServer:
    def __init__(self, prefix: str, add_servicers: Iterable[Callable[[grpc.Server], None]],
                 max_workers: int = 4) -> None:
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.path = os.path.join(self.dir, "grpc.sock")
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers))
        for add in add_servicers:
            add(self.server)
        self.server.add_insecure_port("unix:" + self.path)
        self.server.start()

    def stop(self) -> None:
        self.server.stop(None)
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass
