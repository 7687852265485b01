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
from typing import Mapping
from urllib.parse import urlsplit

from .._unixsock import PrivateSocket
from ..errors import UserError, one_line

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


class AddressError(UserError, ValueError):
    """A daemon address (--addr, BUILDKIT_HOST, DOCKER_HOST) that is not one we can dial."""


@dataclass(frozen=True)
class Address:
    kind: str  # "buildkitd" or "docker"
    target: str  # grpc target for buildkitd; "unix:/path" or "tcp:host:port" for docker
    display: str

    @property
    def is_docker(self) -> bool:
        return self.kind == "docker"


_FORMS = "use unix://PATH, tcp://HOST:PORT or docker://[DOCKER_HOST]"


def parse_addr(addr: str | None, env: Mapping[str, str] | None = None) -> Address:
    """--addr value -> Address. Default: BUILDKIT_HOST, else DOCKER_HOST (dockerd), else the docker socket.

    docker:// uses DOCKER_HOST (or the default socket); docker://unix:///path or docker+unix:///path and
    docker+tcp://host:port name the dockerd explicitly. AddressError (one line) for anything else.
    """
    env = os.environ if env is None else env
    origin = "address"
    if not addr:
        addr, origin = (env["BUILDKIT_HOST"], "BUILDKIT_HOST") if env.get("BUILDKIT_HOST") else ("docker://", "")
    _check_text(addr, origin)
    if addr.startswith("docker+"):
        return _docker(addr[len("docker+"):], addr, origin)
    if addr.startswith("docker://"):
        rest = addr[len("docker://"):]
        if rest:
            return _docker(rest, addr, origin)
        host = env.get("DOCKER_HOST") or "unix://" + DEFAULT_DOCKER_SOCK
        _check_text(host, "DOCKER_HOST")
        return _docker(host, addr, "DOCKER_HOST")
    kind, target = _endpoint(addr, origin, _FORMS)
    return Address("buildkitd", target if kind == "unix" else target[len("tcp:"):], addr)


def _docker(host: str, display: str, origin: str) -> Address:
    _, target = _endpoint(host, origin or "DOCKER_HOST", "dockerd is reached by unix:// or tcp:// only")
    return Address("docker", target, display)


def _check_text(value: str, origin: str) -> None:
    if one_line(value) != value:  # control characters, or bytes that are not UTF-8 (lone surrogates here)
        raise AddressError(f"invalid {origin} '{one_line(value)}': control characters or bytes that are not UTF-8")


def _endpoint(value: str, origin: str, forms: str) -> tuple[str, str]:
    """("unix", "unix:PATH") or ("tcp", "tcp:HOST:PORT") for a unix:// or tcp:// URL."""
    def bad(why: str) -> AddressError:
        return AddressError(f"invalid {origin or 'address'} '{one_line(value)}': {why}")

    scheme, sep, rest = value.partition("://")
    if not sep and value.startswith("unix:"):  # grpc's unix:PATH
        scheme, sep, rest = "unix", ":", value[len("unix:"):]
    if not sep:
        raise bad(forms)
    if scheme == "unix":
        if not rest:
            raise bad("no socket path")
        return "unix", "unix:" + rest
    if scheme != "tcp":
        raise bad(f"unsupported scheme '{one_line(scheme)}': {forms}")
    try:
        u = urlsplit(value)
        host, port = u.hostname, u.port
    except ValueError as exc:  # an unclosed [IPv6 bracket, a port that is not a number or out of range
        raise bad(str(exc)) from None
    if not host or port is None:
        raise bad("expected tcp://HOST:PORT")
    if u.path not in ("", "/") or u.query or u.fragment:
        raise bad("expected tcp://HOST:PORT and nothing after it")
    return "tcp", f"tcp:[{host}]:{port}" if ":" in host else f"tcp:{host}:{port}"


def _dial_raw(target: str, timeout: float | None = 10.0) -> socket.socket:
    try:
        if target.startswith("unix:"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(target[5:])
        else:
            host, _, port = target[4:].rpartition(":")
            s = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
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
