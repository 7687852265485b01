"""Reach a BuildKit control API: standalone buildkitd (unix://, tcp://) or dockerd's embedded BuildKit.

dockerd serves BuildKit's gRPC API behind `POST /grpc` with an HTTP/1.1 `Upgrade: h2c`; after
`101 Switching Protocols` the connection is plain HTTP/2 (what buildx's docker driver dials). grpcio cannot
take an already-open socket, so `UpgradeRelay` listens on a private unix socket, points the channel at it
and, for each connection grpcio opens, performs the upgrade on a fresh dockerd connection and pumps bytes.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlparse

from .._unixsock import PrivateSocket

MAX_MESSAGE = 16 << 20
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.enable_http_proxy", 0),
    ("grpc.enable_retries", 0),
    ("grpc.use_local_subchannel_pool", 1),
]
DEFAULT_DOCKER_SOCK = "/var/run/docker.sock"


class ConnectError(Exception):
    """The daemon cannot be reached (clear, user-facing message)."""


@dataclass(frozen=True)
class Address:
    kind: str  # "buildkitd" or "docker"
    target: str  # grpc target for buildkitd; "unix:/path" or "tcp:host:port" for docker
    display: str

    @property
    def is_docker(self) -> bool:
        return self.kind == "docker"


def parse_addr(addr: str | None, env: dict[str, str] | None = None) -> Address:
    """--addr value -> Address. Default: BUILDKIT_HOST, else DOCKER_HOST (dockerd), else the docker socket.

    docker:// uses DOCKER_HOST (or the default socket); docker://unix:///path or docker+unix:///path and
    docker+tcp://host:port name the dockerd explicitly.
    """
    env = os.environ if env is None else env
    if not addr:
        addr = env.get("BUILDKIT_HOST") or "docker://"
    if addr.startswith("docker+"):
        return _docker(addr[len("docker+"):], addr)
    if addr.startswith("docker://"):
        rest = addr[len("docker://"):]
        if rest:
            return _docker(rest, addr)
        return _docker(env.get("DOCKER_HOST") or "unix://" + DEFAULT_DOCKER_SOCK, addr)
    u = urlparse(addr)
    if u.scheme == "unix":
        path = u.path or u.netloc
        return Address("buildkitd", "unix:" + path, addr)
    if u.scheme == "tcp":
        return Address("buildkitd", u.netloc, addr)
    raise ConnectError(f"unsupported address {addr!r}: use unix://PATH, tcp://HOST:PORT or docker://[DOCKER_HOST]")


def _docker(host: str, display: str) -> Address:
    u = urlparse(host)
    if u.scheme == "unix":
        return Address("docker", "unix:" + (u.path or u.netloc), display)
    if u.scheme == "tcp":
        return Address("docker", "tcp:" + u.netloc, display)
    raise ConnectError(f"unsupported DOCKER_HOST {host!r} (unix:// or tcp:// only)")


def _dial_raw(target: str, timeout: float | None = 10.0) -> socket.socket:
    try:
        if target.startswith("unix:"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(target[5:])
        else:
            host, _, port = target[4:].rpartition(":")
            s = socket.create_connection((host, int(port)), timeout=timeout)
    except OSError as exc:
        raise ConnectError(f"cannot connect to {target}: {exc}") from None
    return s


def http_upgrade(target: str, path: str, headers: list[tuple[str, str]] = ()) -> socket.socket:
    """POST `path` with `Upgrade: h2c` to dockerd and return the socket after `101 Switching Protocols`."""
    s = _dial_raw(target)
    lines = [f"POST {path} HTTP/1.1", "Host: docker", "Connection: Upgrade", "Upgrade: h2c", "Content-Length: 0"]
    lines += [f"{k}: {v}" for k, v in headers]
    try:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(1)  # byte by byte: nothing after the header may be swallowed
            if not chunk:
                raise ConnectError(f"dockerd at {target} closed the connection during the {path} upgrade")
            head += chunk
            if len(head) > 65536:
                raise ConnectError(f"dockerd at {target}: oversized upgrade response")
    except OSError as exc:
        s.close()
        raise ConnectError(f"dockerd at {target}: {path} upgrade failed: {exc}") from None
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if " 101" not in status:
        s.close()
        raise ConnectError(f"dockerd at {target} refused the {path} upgrade: {status}")
    s.settimeout(None)
    return s


def pump_pair(a: socket.socket, b: socket.socket, name: str = "pump") -> list[threading.Thread]:
    """Copy bytes a->b and b->a in two daemon threads; half-close on EOF; close both when both are done."""
    done = threading.Barrier(2, action=lambda: (_close(a), _close(b)))

    def one(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            done.wait(timeout=None)
        except threading.BrokenBarrierError:
            pass

    threads = [threading.Thread(target=one, args=(a, b), name=name + "-ab", daemon=True),
               threading.Thread(target=one, args=(b, a), name=name + "-ba", daemon=True)]
    for t in threads:
        t.start()
    return threads


def _close(s: socket.socket) -> None:
    try:
        s.close()
    except OSError:
        pass


class UpgradeRelay:
    """A private unix socket whose every connection is relayed to a freshly upgraded dockerd connection."""

    def __init__(self, target: str, path: str = "/grpc", headers: list[tuple[str, str]] = ()) -> None:
        self.target = target
        self.upgrade_path = path
        self.headers = list(headers)
        self._sock = PrivateSocket("dalecpy-client-", backlog=8)
        self.path = self._sock.path
        self._closed = False
        self.errors: list[str] = []
        threading.Thread(target=self._accept_loop, name="relay-accept", daemon=True).start()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.listener.accept()
            except OSError:
                return
            try:
                up = http_upgrade(self.target, self.upgrade_path, self.headers)
            except ConnectError as exc:
                self.errors.append(str(exc))
                _close(conn)
                continue
            pump_pair(conn, up, "relay")

    def close(self) -> None:
        self._closed = True
        self._sock.close()


class Connection:
    """A grpc channel to the control API (plus the relay that carries it for dockerd)."""

    def __init__(self, addr: Address) -> None:
        import grpc

        self.addr = addr
        self.relay: UpgradeRelay | None = None
        if addr.is_docker:
            # fail fast with a clear message when dockerd is not there
            _close(_dial_raw(addr.target, timeout=5))
            self.relay = UpgradeRelay(addr.target, "/grpc")
            target = "unix:" + self.relay.path
        else:
            target = addr.target
        self.channel = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)

    def close(self) -> None:
        self.channel.close()
        if self.relay is not None:
            self.relay.close()
