"""A raw unix-socket echo server for the socket forwarding tests: `python -m tests.client.echo_server PATH`."""

from __future__ import annotations

import os
import socket
import sys
import threading


def serve(path: str, ready: threading.Event | None = None, stop: threading.Event | None = None) -> None:
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o777)
    srv.listen(16)
    srv.settimeout(0.2)
    if ready is not None:
        ready.set()
    while stop is None or not stop.is_set():
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        except OSError:
            break
        threading.Thread(target=_echo, args=(conn,), daemon=True).start()
    srv.close()


def _echo(conn: socket.socket) -> None:
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)


def start(path: str) -> threading.Event:
    """Serve in a daemon thread; set the returned event to stop."""
    ready, stop = threading.Event(), threading.Event()
    threading.Thread(target=serve, args=(path, ready, stop), daemon=True).start()
    ready.wait(5)
    return stop


if __name__ == "__main__":
    serve(sys.argv[1])
