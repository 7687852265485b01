"""`dalecpy build`: a gateway build on a BuildKit daemon with a session, dalecpy's frontend run in the client.

Flow: connect (buildkitd or dockerd /grpc upgrade) -> start the session server and attach it through
Control/Session -> Control/Solve with no Definition and no Frontend (the daemon waits for a gateway build
under the solve's Ref) while Control/Status streams progress -> the frontend logic (dalecpy.frontend.build)
runs here over LLBBridge on the same connection (gateway.py) and Returns the result with its image config ->
exporter output arrives through the session (local dir, tar file) or lands in dockerd's image store ("moby").
With `--frontend-image REF` the daemon runs that frontend image instead (Frontend gateway.v0, source=REF).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

import grpc

from ..errors import UserError, one_line
from ..platforms import Platform
from .session import ExportTarget, LocalDir, Session, SessionConfig, new_id, shared_key
from .transport import Address, ConnectError, Connection, parse_addr


class BuildError(Exception):
    """A user-facing build failure (one line, no traceback)."""


class FlagError(UserError, ValueError):
    """A malformed `dalecpy build` flag value (`-o`, `--socket`, `--ssh`, `--secret`): a usage error."""


@dataclass
class Output:
    type: str  # local | docker | oci | none
    attrs: dict[str, str] = field(default_factory=dict)


def parse_output(value: str | None) -> Output:
    """`-o type=local,dest=DIR | type=docker[,name=NAME][,dest=FILE] | type=oci,dest=FILE`; a bare path is local."""
    if not value:
        return Output("none")
    if "=" not in value:
        return Output("local", {"dest": value})
    attrs: dict[str, str] = {}
    for part in value.split(","):
        k, sep, v = part.partition("=")
        if not sep:
            raise FlagError(f"-o {value!r}: expected KEY=VALUE, got {part!r}")
        attrs[k.strip()] = v.strip()
    for k, v in attrs.items():
        if k != "dest" and one_line(f"{k}={v}") != f"{k}={v}":  # everything but dest goes to the daemon
            raise FlagError(f"-o '{one_line(f'{k}={v}')}': control characters or bytes that are not UTF-8")
    typ = attrs.pop("type", "local")
    if typ not in ("local", "docker", "oci", "image", "moby"):
        raise FlagError(f"-o: unsupported type {typ!r} (local, docker, oci)")
    if typ in ("local", "oci") and not attrs.get("dest"):
        raise FlagError(f"-o type={typ}: dest= is required")
    return Output(typ, attrs)


def parse_kv_list(values, what: str, default_path: str | None = None) -> dict[str, str]:
    """`ID=PATH` items (`--socket`, `--ssh`). For --ssh a bare ID uses `default_path` ($SSH_AUTH_SOCK)."""
    out = {}
    for v in values:
        k, sep, path = v.partition("=")
        if not sep:
            if default_path is None:
                raise FlagError(f"{what} {v!r}: expected ID=PATH")
            path = default_path
        if "," in path:
            path, _, opts = path.partition(",")
            if opts not in ("raw=true", "raw"):
                raise FlagError(f"{what} {v!r}: unsupported option {opts!r} (forwarding is always raw)")
        out[k or "default"] = os.path.abspath(path)
    return out


def parse_secrets(values) -> dict[str, str]:
    out = {}
    for v in values:
        attrs = dict(p.partition("=")[::2] for p in v.split(","))
        sid = attrs.get("id")
        src = attrs.get("src") or attrs.get("source")
        if not sid or not src:
            raise FlagError(f"--secret {v!r}: expected id=ID,src=PATH")
        if not os.path.isfile(src):
            raise FlagError(f"--secret {sid}: {src} is not a file")
        out[sid] = os.path.abspath(src)
    return out


@dataclass
class BuildRequest:
    spec: str
    context: str | None = None
    target: str = "bookworm/container"
    platforms: list[Platform] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    sockets: dict[str, str] = field(default_factory=dict)  # raw unix socket forwards (ssh ids)
    secrets: dict[str, str] = field(default_factory=dict)
    output: Output = field(default_factory=lambda: Output("none"))
    no_cache: bool = False
    no_cache_filter: tuple[str, ...] = ()
    addr: str | None = None
    progress: str = "auto"
    frontend_image: str | None = None  # run this frontend image in the daemon (gateway.v0) instead of ours
    spec_data: bytes | None = None  # the spec itself (read from stdin): `spec` is then only its name


@dataclass
class BuildResult:
    exporter_response: dict[str, str]
    platform: str
    files: int = 0


def _exporter(addr: Address, out: Output, name_default: str) -> tuple[str, dict[str, str]]:
    """The exporter and its attrs; image configs come from the frontend's result metadata."""
    attrs: dict[str, str] = {}
    if out.type == "local":
        return "local", attrs
    if out.type in ("docker", "moby") and addr.is_docker and not out.attrs.get("dest"):
        attrs["name"] = out.attrs.get("name") or name_default
        return "moby", attrs
    if out.type == "image":
        attrs.update(out.attrs)
        return "image", attrs
    if out.type in ("docker", "oci"):
        if out.attrs.get("name"):
            attrs["name"] = out.attrs["name"]
        elif out.type == "docker":
            attrs["name"] = name_default
        return out.type, attrs
    return "", {}


def build(req: BuildRequest, log: TextIO | None = None) -> list[BuildResult]:
    """Run the build(s): one Solve per platform for a local export (none given: the daemon's default platform),
    one multi-platform Solve for an image or tarball."""
    from ..spec import load_spec, load_spec_file

    log = log or sys.stderr
    if req.spec_data is not None:
        loaded = load_spec(req.spec_data, req.spec)  # SpecError goes to the caller as is
        context = req.context or os.getcwd()
    else:
        loaded = load_spec_file(req.spec)
        context = req.context or os.path.dirname(os.path.abspath(req.spec))
    if not os.path.isdir(context):
        raise BuildError(f"{context}: the context is not a directory")
    for sid, path in req.sockets.items():
        if not os.path.exists(path):
            raise BuildError(f"--socket/--ssh {sid}: {path} does not exist")
    if not req.frontend_image:
        _precheck(req, loaded)

    addr = parse_addr(req.addr)
    try:
        conn = Connection(addr)
    except ConnectError as exc:
        raise BuildError(str(exc)) from None
    results = []
    try:
        with _spec_file(req) as spec_path:
            default_platform = _check_daemon(conn)
            platforms = req.platforms or [None]
            if len(platforms) > 1 and req.output.type != "local":
                # an image or tarball is one multi-platform result (one index), as with buildx
                groups = [platforms]
            else:  # a directory per platform: each solved alone, so one that fails leaves the others exported
                groups = [[p] for p in platforms]
            for group in groups:
                try:
                    results.append(_build_one(req, loaded, conn, context, spec_path, group, len(platforms) > 1,
                                              log, default_platform))
                except BuildError as exc:
                    foreign = [p for p in group if p is not None and str(p) != default_platform]
                    raise BuildError(_platform_hint(str(exc), group[0] if len(group) == 1 else
                                                    (foreign[0] if foreign else None))) from None
    finally:
        conn.close()
    return results


@contextmanager
def _spec_file(req: BuildRequest) -> Iterator[str]:
    """The spec's path; a spec given as data is written to a private directory, which is what the daemon
    gets as the spec's directory (the frontend reads the spec from there, as from any spec's directory)."""
    if req.spec_data is None:
        yield os.path.abspath(req.spec)
        return
    tmp = tempfile.mkdtemp(prefix="dalecpy-spec-")
    try:
        path = os.path.join(tmp, os.path.basename(req.spec) or "spec.yml")
        with open(path, "wb") as f:
            f.write(req.spec_data)
        yield path
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _precheck(req: BuildRequest, loaded) -> None:
    """Compile once here (no daemon needed) so that user errors (unknown target, bad build arg) are one line
    and exit code 2 before any daemon work; the frontend compiles again with the daemon's capabilities."""
    from ..compile import CompileOptions, compile_spec

    for plat in req.platforms or [None]:
        compile_spec(loaded, CompileOptions(target=req.target, platform=plat, build_args=req.build_args))


_MISSING_IMAGE = ("failed to do request", "no match for platform", "does not match the specified platform",
                  "exec format error")


def _platform_hint(message: str, plat) -> str:
    """Name the platform when the engine cannot provide its base image or run its binaries."""
    if plat is None or not any(m in message for m in _MISSING_IMAGE):
        return message
    return (f"{message} (building for {plat}: this engine has no {plat} base image it can use, or cannot run "
            f"{plat} binaries; load that platform's image, use a named context, or enable emulation with binfmt/qemu)")


def _check_daemon(conn: Connection) -> str:
    """ListWorkers (fails clearly when the daemon is not there); returns the first worker platform."""
    from .control_pb2 import ListWorkersRequest, ListWorkersResponse

    call = conn.channel.unary_unary("/moby.buildkit.v1.Control/ListWorkers",
                                    request_serializer=ListWorkersRequest.SerializeToString,
                                    response_deserializer=ListWorkersResponse.FromString)
    try:
        resp = call(ListWorkersRequest(), timeout=20)
    except grpc.RpcError as exc:
        errs = conn.relay.errors if conn.relay else []
        detail = errs[-1] if errs else f"{exc.code().name}: {exc.details()}"
        raise BuildError(f"cannot reach BuildKit at {conn.addr.display}: {detail}") from None
    for w in resp.record:
        for p in w.platforms:
            if p.OS and p.Architecture:
                return str(Platform(p.OS, p.Architecture, p.Variant))
    return "linux/amd64"


def _build_one(req: BuildRequest, loaded, conn: Connection, context: str, spec_path: str, plats: list, multi: bool,
               log: TextIO, default_platform: str = "linux/amd64") -> BuildResult:
    """One Solve for `plats` (several: one multi-platform result; [None]: the daemon's default platform)."""
    from .control_pb2 import SolveRequest, SolveResponse, StatusRequest, StatusResponse
    from .gateway import GatewayRun, frontend_opts

    out = req.output
    target: ExportTarget | None = None
    if out.type == "local":
        plat = plats[0]
        sub = f"{plat.os}_{plat.architecture}{'_' + plat.variant if plat.variant else ''}" if multi and plat else None
        target = ExportTarget("dir", out.attrs["dest"], subdir=sub)
    elif out.type in ("oci", "docker") and (out.attrs.get("dest") or not conn.addr.is_docker):
        if out.attrs.get("dest"):
            target = ExportTarget("file", os.path.abspath(out.attrs["dest"]))
        else:  # docker tar from a standalone buildkitd: load it into the local docker
            target = ExportTarget("file", writer=_docker_load_writer)

    config = SessionConfig(
        dirs={"context": LocalDir(context, dockerignore=True), "dockerfile": LocalDir(os.path.dirname(spec_path))},
        secrets=dict(req.secrets), sockets=dict(req.sockets), export=target,
        name=os.path.basename(os.path.abspath(context)) or "context", shared_key=shared_key(context),
    )
    opts = frontend_opts(filename=os.path.basename(spec_path), target=req.target,
                         platform=",".join(p.format() for p in plats if p is not None) or None,
                         build_args=req.build_args,
                         no_cache=req.no_cache, no_cache_filter=tuple(req.no_cache_filter))
    exporter, attrs = _exporter(conn.addr, out, _image_name(loaded))
    ref = new_id()
    session = Session(conn.channel, config)
    status_call = None
    try:  # from here on the session is closed however this ends, Ctrl-C included
        solve_req = SolveRequest(Ref=ref, Session=session.id, ExporterDeprecated=exporter,
                                 ExporterAttrsDeprecated=attrs)
        if req.frontend_image:  # the daemon runs that image as the frontend (what `# syntax=REF` does)
            solve_req.Frontend = "gateway.v0"
            solve_req.FrontendAttrs.update(opts)
            solve_req.FrontendAttrs["source"] = req.frontend_image
        # else: no Definition, no Frontend, no FrontendAttrs: a gateway build we run here (GatewayRun)
        session.attach()
        printer = _progress_printer(req.progress, log)
        status_call = conn.channel.unary_stream("/moby.buildkit.v1.Control/Status",
                                                request_serializer=StatusRequest.SerializeToString,
                                                response_deserializer=StatusResponse.FromString)(StatusRequest(Ref=ref))

        def status_loop() -> None:
            try:
                for st in status_call:
                    printer.update(st)
            except grpc.RpcError:
                pass

        st_thread = threading.Thread(target=status_loop, name="status", daemon=True)
        st_thread.start()
        solve = conn.channel.unary_unary("/moby.buildkit.v1.Control/Solve",
                                         request_serializer=SolveRequest.SerializeToString,
                                         response_deserializer=SolveResponse.FromString)
        fut = solve.future(solve_req)
        gateway = None
        if not req.frontend_image:
            gateway = GatewayRun(conn.channel, ref, session.id, opts, solve_done=fut.done).start()
        gateway_failed_at = None
        try:
            while True:
                try:
                    resp = fut.result(timeout=0.5)
                    break
                except grpc.FutureTimeoutError:
                    pass
                if gateway is not None and gateway.done.is_set() and gateway.error:
                    # The frontend could not Return: the daemon would wait for ever. Give the Solve a moment
                    # to fail on its own (its error says more), then stop it, as BuildKit's Go client does.
                    gateway_failed_at = gateway_failed_at or time.monotonic()
                    if time.monotonic() - gateway_failed_at > 5:
                        fut.cancel()
                        raise BuildError(f"build failed: {gateway.error}")
        except KeyboardInterrupt:
            fut.cancel()
            status_call.cancel()
            printer.line("cancelled: the Solve request was cancelled")
            raise
        except grpc.RpcError as exc:
            st_thread.join(timeout=3)
            printer.flush()
            code = exc.code()
            if code == grpc.StatusCode.UNAVAILABLE:
                raise BuildError(f"lost the BuildKit daemon at {conn.addr.display}: {exc.details()}") from None
            msg = daemon_message(exc.details() or code.name)
            if printer.exec_format_error and "exec format error" not in msg:
                msg += " (exec format error)"  # only the step's log says so; _platform_hint names the platform
            if "could not be found" in msg and exporter in ("oci", "docker") and conn.addr.is_docker:
                msg += (" (dockerd only has its tarball exporters with the containerd image store;"
                        " use -o type=docker without dest to load into dockerd, or a standalone buildkitd)")
            extra = "; ".join(session.server.errors)
            raise BuildError(f"build failed: {msg}" + (f" (client: {extra})" if extra else "")) from None
        st_thread.join(timeout=10)
        printer.flush()
    finally:
        if status_call is not None:
            status_call.cancel()
        session.close()
    for warning in dict.fromkeys(session.server.warnings):
        print(f"warning: {warning}", file=sys.stderr)
    if session.server.errors:
        raise BuildError("; ".join(session.server.errors))
    built_for = ",".join(str(p) for p in plats if p is not None) or _returned_platform(gateway) or default_platform
    return BuildResult(dict(resp.ExporterResponse), built_for, target.files if target else 0)


_GRPC_WRAP = re.compile(r"rpc error: code = \w+ desc = ")


def daemon_message(msg: str) -> str:
    """The daemon's error without gRPC's `rpc error: code = X desc = ` wrappers (BuildKit 0.8 passes a
    gateway Return error on wrapped so)."""
    return _GRPC_WRAP.sub("", msg)


def _returned_platform(gateway) -> str | None:
    """The platform in the image config our frontend returned (single-platform result)."""
    ret = getattr(gateway, "returned", None)
    if ret is None or not ret.HasField("result"):
        return None
    raw = ret.result.metadata.get("containerimage.config")
    if not raw:
        return None
    try:
        cfg = json.loads(raw)
        return str(Platform(cfg["os"], cfg["architecture"], cfg.get("variant", "")))
    except (ValueError, KeyError, TypeError):
        return None


def _image_name(loaded) -> str:
    """The default image name: the spec's `name:version`."""
    spec = getattr(loaded, "spec", None)
    name = getattr(spec, "name", None)
    version = getattr(spec, "version", None)
    if name:
        return f"{name}:{version}" if version else name
    return "dalecpy"


def _docker_load_writer():
    proc = subprocess.Popen(["docker", "load"], stdin=subprocess.PIPE)

    class W:
        def write(self, data: bytes) -> None:
            proc.stdin.write(data)  # type: ignore[union-attr]

        def close(self) -> None:
            proc.stdin.close()  # type: ignore[union-attr]
            if proc.wait() != 0:
                raise BuildError("docker load failed")

    return W()


# ---- progress -------------------------------------------------------------------------------------------
class PlainPrinter:
    """buildctl --progress=plain style lines: `#N name`, `#N CACHED`, `#N DONE 1.2s`, logs, errors."""

    def __init__(self, out: TextIO, quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self.index: dict[str, int] = {}
        self.names: dict[str, str] = {}
        self.started: dict[str, float] = {}
        self.done: set[str] = set()
        self.lock = threading.Lock()
        self.exec_format_error = False  # a step's log said the kernel cannot run its binary (no emulation)

    def _n(self, dg: str) -> int:
        if dg not in self.index:
            self.index[dg] = len(self.index) + 1
        return self.index[dg]

    def line(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.out, flush=True)

    def update(self, st) -> None:
        with self.lock:
            for v in st.vertexes:
                n = self._n(v.digest)
                if v.digest not in self.names:
                    self.names[v.digest] = v.name
                    self.line(f"#{n} {v.name}")
                if v.HasField("started") and v.digest not in self.started:
                    self.started[v.digest] = v.started.seconds + v.started.nanos / 1e9
                if v.digest in self.done:
                    continue
                if v.cached:
                    self.done.add(v.digest)
                    self.line(f"#{n} CACHED")
                elif v.error:
                    self.done.add(v.digest)
                    self.line(f"#{n} ERROR: {v.error}")
                elif v.HasField("completed"):
                    self.done.add(v.digest)
                    t0 = self.started.get(v.digest)
                    t1 = v.completed.seconds + v.completed.nanos / 1e9
                    self.line(f"#{n} DONE {t1 - t0:.1f}s" if t0 else f"#{n} DONE")
            for s in st.statuses:
                if s.HasField("completed") and s.total:
                    self.line(f"#{self._n(s.vertex)} {s.ID} {s.current}/{s.total} done")
            for lg in st.logs:
                n = self._n(lg.vertex)
                for text in lg.msg.decode(errors="replace").splitlines():
                    self.exec_format_error = self.exec_format_error or "exec format error" in text
                    self.line(f"#{n} {text}")
            for w in st.warnings:
                self.line(f"#{self._n(w.vertex)} WARN: {w.short.decode(errors='replace')}")

    def flush(self) -> None:
        pass


class TTYPrinter(PlainPrinter):
    """A compact live view: one status line rewritten in place; logs and step names above it."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self.t0 = time.monotonic()
        self.running: dict[str, str] = {}

    def line(self, text: str) -> None:
        print("\r\x1b[2K" + text, file=self.out, flush=True)
        self._status()

    def _status(self) -> None:
        active = [self.names.get(d, d)[:60] for d in self.started if d not in self.done]
        el = time.monotonic() - self.t0
        msg = f"[+] {el:6.1f}s {len(self.done)}/{len(self.index)} " + (f"running: {active[-1]}" if active else "")
        print("\r\x1b[2K" + msg, end="", file=self.out, flush=True)

    def flush(self) -> None:
        print("\r\x1b[2K", end="", file=self.out, flush=True)


def _progress_printer(mode: str, out: TextIO) -> PlainPrinter:
    if mode == "quiet":
        return PlainPrinter(out, quiet=True)
    if mode == "tty" or (mode == "auto" and out.isatty()):
        return TTYPrinter(out)
    return PlainPrinter(out)
