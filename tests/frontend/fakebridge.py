"""An in-process LLBBridge server that stands in for the BuildKit daemon.

It is a real grpc server on a unix socket; `DaemonSide` plays the daemon's end of the stdio
transport: it pumps a pipe pair (the frontend's stdin/stdout) to and from that socket, so the
frontend's relay is exercised byte for byte as with BuildKit's h2c-over-stdio.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading

import grpc

from dalecpy.frontend import caps_pb2, gateway_pb2 as gw, gateway_pb2_grpc, worker_pb2
from dalecpy.llb import ops_pb2
from tests.unixgrpc import UnixGrpcServer

# dockerd 20.10.24 (BuildKit v0.8), as listed in the shared protocol notes.
V08_LLB_CAPS = """constraints platform meta.description meta.exportcache meta.ignorecache exec.cgroup exec.meta.base
exec.meta.network exec.meta.proxyenv exec.meta.security exec.meta.security.devices.v1 exec.meta.setsdefaultpath
exec.mount.bind exec.mount.bind.readwrite-nooutput exec.mount.cache exec.mount.cache.sharing exec.mount.secret
exec.mount.selector exec.mount.ssh exec.mount.tmpfs file.base file.rm.wildcard soruce.http.uidgid
source.buildop.llbfilename source.git source.git.fullurl source.git.httpauth source.git.keepgitdir
source.git.knownsshhosts source.git.mountsshsock source.http source.http.checksum source.http.perm source.image
source.image.resolvemode source.local source.local.excludepatterns source.local.followpaths
source.local.includepatterns source.local.sessionid source.local.sharedkeyhint source.local.unique""".split()
V08_FRONTEND_CAPS = """frontend.caps frontend.inputs gateway.exec gateway.solve.evaluate gateway.solve.metadata importcaches
proto.refarray readdir readfile reference.output resolveimage resolveimage.resolvemode return returnmap solve.base
solve.inlinereturn statfile""".split()

# BuildKit v0.31 (what Dalec v0.21 is built against): every cap its solver/pb and frontend/gateway/pb define.
CURRENT_LLB_CAPS = """source.image source.image.resolvemode source.image.layerlimit source.image.checksum source.local
source.local.unique source.local.sessionid source.local.includepatterns source.local.followpaths
source.local.excludepatterns source.local.sharedkeyhint source.local.differ source.local.metadatatransfer source.git
source.git.keepgitdir source.git.fullurl source.git.httpauth source.git.knownsshhosts source.git.mountsshsock
source.git.subdir source.git.checksum source.git.skipsubmodules source.git.signatureverify source.git.mtime
source.git.fetchbycommit source.git.bundle source.git.checkoutbundle source.http source.http.auth source.http.checksum
source.http.perm soruce.http.uidgid source.http.header source.http.signatureverify source.imageblob source.ocilayout
source.buildop.llbfilename exec.meta.base exec.meta.cgroup.parent exec.meta.network exec.meta.network.proxy
exec.meta.proxyenv exec.meta.security exec.meta.security.devices.v1 exec.meta.setsdefaultpath exec.meta.ulimit
exec.meta.cdi exec.meta.removemountstubs.recursive exec.meta.linux.resources exec.mount.bind
exec.mount.bind.readwrite-nooutput exec.mount.cache exec.mount.cache.sharing exec.mount.selector exec.mount.tmpfs
exec.mount.tmpfs.size exec.mount.secret exec.mount.ssh exec.mount.cache.content exec.cgroup exec.secretenv
exec.validexitcode file.base file.rm.wildcard file.copy.includeexcludepatterns file.copy.requiredpaths
file.rm.nofollowsymlink file.copy.alwaysreplaceexistingdestpaths file.copy.modestring file.symlink.create constraints
platform meta.ignorecache meta.description meta.exportcache cache.gha cache.s3 cache.azblob mergeop diffop
passthroughop exporter.image.annotations exporter.image.attestations exporter.sourcedateepoch exporter.multiple
exporter.session source.policy source.policy.session gc.freespacefilter history.filter""".split()
CURRENT_FRONTEND_CAPS = """solve.base solve.inlinereturn resolveimage resolveimage.resolvemode readfile return returnmap readdir
statfile importcaches proto.refarray reference.output frontend.inputs gateway.solve.metadata gateway.exec
gateway.exec.extrahosts gateway.exec.secretenv gateway.exec.signals gateway.exec.filesystem frontend.caps
gateway.solve.evaluate gateway.evaluate gateway.warnings reference.attestations source.metaresolver
source.metaresolver.image.attestations source.metaresolver.http.checksumrequest""".split()

BASE_CONFIG = {
    "architecture": "amd64",
    "os": "linux",
    "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["bash"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]},
}


class FakeBridge(gateway_pb2_grpc.LLBBridgeServicer):
    def __init__(self, files: dict[str, bytes], *, llb_caps=V08_LLB_CAPS, frontend_caps=V08_FRONTEND_CAPS,
                 platforms=(("linux", "amd64"),), array_ref=True):
        self.files = files
        self.llb_caps = llb_caps
        self.frontend_caps = frontend_caps
        self.platforms = platforms
        self.array_ref = array_ref
        self.solves: list[gw.SolveRequest] = []
        self.resolves: list[gw.ResolveImageConfigRequest] = []
        self.calls: list[str] = []
        self.warnings: list[gw.WarnRequest] = []
        self.returned: gw.ReturnRequest | None = None
        self.done = threading.Event()

    def Ping(self, request, context):
        self.calls.append("Ping")
        return gw.PongResponse(
            FrontendAPICaps=[caps_pb2.APICap(ID=c, Enabled=True) for c in self.frontend_caps],
            LLBCaps=[caps_pb2.APICap(ID=c, Enabled=True) for c in self.llb_caps],
            Workers=[worker_pb2.WorkerRecord(ID="fake", platforms=[ops_pb2.Platform(OS=o, Architecture=a) for o, a in self.platforms])],
        )

    def Inputs(self, request, context):
        self.calls.append("Inputs")
        return gw.InputsResponse()

    def Solve(self, request, context):
        self.calls.append("Solve")
        self.solves.append(request)
        ref = f"ref-{len(self.solves)}"
        if self.array_ref and request.allowResultArrayRef:
            return gw.SolveResponse(result=gw.Result(ref=gw.Ref(id=ref)))
        return gw.SolveResponse(result=gw.Result(refDeprecated=ref))

    def ReadFile(self, request, context):
        self.calls.append("ReadFile")
        if request.FilePath not in self.files:
            context.abort(grpc.StatusCode.NOT_FOUND, f"open {request.FilePath}: no such file or directory")
        return gw.ReadFileResponse(Data=self.files[request.FilePath])

    @staticmethod
    def _image_config(platform) -> tuple[str, bytes]:
        cfg = dict(BASE_CONFIG, architecture=platform.Architecture or "amd64")
        return "sha256:" + "1" * 64, json.dumps(cfg).encode()

    def ResolveImageConfig(self, request, context):
        self.calls.append("ResolveImageConfig")
        self.resolves.append(request)
        digest, config = self._image_config(request.Platform)
        return gw.ResolveImageConfigResponse(Digest=digest, Config=config)

    def ResolveSourceMeta(self, request, context):
        """Images get the canned config (the identifier is left as asked: no digest pinning, as with
        ResolveImageConfig's answers); other sources come back unchanged."""
        self.calls.append("ResolveSourceMeta")
        out = gw.ResolveSourceMetaResponse(Source=request.Source)
        if request.Source.identifier.startswith(("docker-image://", "oci-layout://")):
            self.resolves.append(gw.ResolveImageConfigRequest(
                Ref=request.Source.identifier.split("://", 1)[1], Platform=request.Platform,
                ResolveMode=request.ResolveMode, LogName=request.LogName))
            digest, config = self._image_config(request.Platform)
            out.Image.Digest = digest
            if not request.Image.NoConfig:
                out.Image.Config = config
        return out

    def Evaluate(self, request, context):
        self.calls.append("Evaluate")
        return gw.EvaluateResponse()

    def Warn(self, request, context):
        self.calls.append("Warn")
        self.warnings.append(request)
        return gw.WarnResponse()

    def Return(self, request, context):
        self.calls.append("Return")
        self.returned = request
        self.done.set()
        return gw.ReturnResponse()


class Server(UnixGrpcServer):
    """The fake bridge served on a private unix socket."""

    def __init__(self, bridge: FakeBridge) -> None:
        self.bridge = bridge
        super().__init__("fakebridge-", [lambda srv: gateway_pb2_grpc.add_LLBBridgeServicer_to_server(bridge, srv)])


class DaemonSide:
    """Pump (frontend stdout -> server) and (server -> frontend stdin), like the daemon's ServeConn."""

    def __init__(self, server_path: str, from_frontend: int, to_frontend: int) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(server_path)
        self.from_frontend = from_frontend
        self.to_frontend = to_frontend
        for fn in (self._up, self._down):
            threading.Thread(target=fn, daemon=True).start()

    def _up(self) -> None:
        try:
            while data := os.read(self.from_frontend, 65536):
                self.sock.sendall(data)
        except OSError:
            pass
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _down(self) -> None:
        try:
            while data := self.sock.recv(65536):
                os.write(self.to_frontend, data)
        except OSError:
            pass
        try:
            os.close(self.to_frontend)
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


#: `dalecpy frontend` as BuildKit starts it (the console script's entry), run by this python
FRONTEND_ARGV = [sys.executable, "-c",
                 "import sys; from dalecpy._entry import main; sys.argv[1:] = ['frontend']; main()"]


SESSION_ID = "sess-123"


def env_for(opts: dict[str, str], **extra: str) -> dict[str, str]:
    env = {f"BUILDKIT_FRONTEND_OPT_{i}": f"{k}={v}" for i, (k, v) in enumerate(opts.items())}
    env.setdefault("BUILDKIT_SESSION_ID", SESSION_ID)
    env.update(extra)
    return env


def run_inprocess(files: dict[str, bytes], opts: dict[str, str], **bridge_kw) -> FakeBridge:
    """Run dalecpy.frontend.serve() against a FakeBridge through real pipes; return the bridge."""
    from dalecpy.frontend import serve

    fb = FakeBridge(files, **bridge_kw)
    srv = Server(fb)
    down_r, down_w = os.pipe()  # daemon -> frontend (the frontend's stdin)
    up_r, up_w = os.pipe()  # frontend -> daemon (the frontend's stdout)
    side = DaemonSide(srv.path, up_r, down_w)
    try:
        rc = serve(down_r, up_w, env_for(opts))
        assert rc == 0
        assert fb.done.wait(10), "no Return"
    finally:
        side.close()
        srv.stop()
        for fd in (down_r, up_w, up_r):
            try:
                os.close(fd)
            except OSError:
                pass
    return fb


def run_subprocess(argv: list[str], files: dict[str, bytes], opts: dict[str, str], timeout: float = 60.0,
                   extra_env: dict[str, str] | None = None, bridge_cls: type[FakeBridge] = FakeBridge,
                   **bridge_kw) -> tuple[FakeBridge, float, int, bytes]:
    """Start the frontend as a process with the bridge on its stdin/stdout, as BuildKit does.
    Returns (bridge, seconds from spawn to Return, exit code, stderr)."""
    import subprocess
    import time

    fb = bridge_cls(files, **bridge_kw)
    srv = Server(fb)
    env = dict(os.environ)
    env.update(env_for(opts, **(extra_env or {})))
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    side = DaemonSide(srv.path, proc.stdout.fileno(), proc.stdin.fileno())
    err_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    try:
        fb.done.wait(timeout)
        elapsed = time.monotonic() - t0
        # Not communicate(): it would close the frontend's stdin and read its stdout, which belong to the bridge.
        proc.wait(timeout=timeout)
        reader.join(timeout)
        err = b"".join(err_chunks)
    finally:
        side.close()
        srv.stop()
        if proc.poll() is None:
            proc.kill()
    return fb, elapsed, proc.returncode, err
