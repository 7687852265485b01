"""A unix socket listening in a fresh private directory.

grpcio can only dial addresses, not an already-open byte stream (the frontend's stdin/stdout, an upgraded
dockerd connection), so both the frontend and the client listen here, point a channel at `path` and relay.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile


class PrivateSocket:
    def __init__(self, prefix: str, name: str = "relay.sock", backlog: int = 1) -> None:
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.path = os.path.join(self.dir, name)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(backlog)

    def remove(self) -> None:
        """Delete the socket file and its directory; established connections are unaffected."""
        shutil.rmtree(self.dir, ignore_errors=True)

    def close(self) -> None:
        try:
            self.listener.close()
        except OSError:
            pass
        self.remove()
