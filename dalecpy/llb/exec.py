"""Exec ops: run a process with mounts (Go: client/llb/exec.go)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from dalecpy.platforms import DEFAULT_PLATFORM

from . import _wire
from ._errors import LLBError
from ._vertex import MODE_DEFAULT_PATH_CAP, MODE_NO_DEFAULT_PATH_CAP, OpMeta, Vertex, input_index, op_meta
from .state import CacheSharing, NetMode, State, _env_set, go_clean

# system.DefaultPathEnv("linux"): what Go adds when the daemon lacks exec.meta.setsdefaultpath.
DEFAULT_UNIX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SETS_DEFAULT_PATH = "exec.meta.setsdefaultpath"
_NO_INPUT = b"\x08" + _wire._varint(-1)  # Mount.input = -1
_NO_OUTPUT = b"\x20" + _wire._varint(-1)  # Mount.output = -1


class _Kind(enum.Enum):
    BIND = "bind"
    CACHE = "cache"
    TMPFS = "tmpfs"
    SECRET = "secret"
    SSH = "ssh"


@dataclass(frozen=True, slots=True)
class Mount:
    """A mount for State.run; build one with the Mount.bind/cache/tmpfs/secret/ssh constructors."""

    dest: str
    kind: _Kind
    source: State | None = None
    selector: str = ""
    readonly: bool = False
    cache_id: str = ""
    sharing: CacheSharing = CacheSharing.SHARED
    size: int = 0
    secret_id: str = ""
    uid: int = 0
    gid: int = 0
    mode: int = 0
    optional: bool = False

    @classmethod
    def bind(cls, dest: str, state: State, *, selector: str = "", readonly: bool = False) -> Mount:
        """Mount `state` (or its `selector` sub-path) at dest; read-write mounts are outputs."""
        return cls(dest, _Kind.BIND, source=state, selector=selector, readonly=readonly)

    @classmethod
    def cache(cls, dest: str, id: str, sharing: CacheSharing = CacheSharing.SHARED) -> Mount:
        """A persistent cache directory shared across builds by id."""
        if not id:
            raise LLBError(f"cache mount at {dest} needs an id")
        return cls(dest, _Kind.CACHE, cache_id=id, sharing=CacheSharing(sharing))

    @classmethod
    def tmpfs(cls, dest: str, size: int = 0) -> Mount:
        return cls(dest, _Kind.TMPFS, size=size)

    @classmethod
    def secret(
        cls, dest: str, id: str, *, uid: int = 0, gid: int = 0, mode: int = 0o400, optional: bool = False
    ) -> Mount:
        return cls(dest, _Kind.SECRET, secret_id=id, uid=uid, gid=gid, mode=mode, optional=optional)

    @classmethod
    def ssh(
        cls, dest: str = "", id: str = "", *, uid: int = 0, gid: int = 0, mode: int = 0o600, optional: bool = False
    ) -> Mount:
        """An ssh-agent socket; an empty dest means /run/buildkit/ssh_agent.<n> as in Go."""
        return cls(dest, _Kind.SSH, secret_id=id, uid=uid, gid=gid, mode=mode, optional=optional)


class ExecVertex(Vertex):
    __slots__ = ("base", "args", "env", "cwd", "user", "network", "platform", "mounts", "secrets",
                 "sshs", "_walk", "_outputs", "_caps", "_custom_name",
                 "_ignore_cache")

    def __init__(self, base: State, args: Sequence[str], env, cwd, user, network, mounts, custom_name, ignore_cache):
        super().__init__()
        self.base = base
        self.args = tuple(args)
        self.env = env
        self.cwd = cwd
        self.user = user
        self.network = network
        self.platform = base.platform or DEFAULT_PLATFORM
        self._custom_name = custom_name
        self._ignore_cache = ignore_cache
        regular = [Mount(dest="/", kind=_Kind.BIND, source=base)]
        secrets: list[Mount] = []
        sshs: list[Mount] = []
        for m in mounts:
            if m.kind is _Kind.SECRET:
                secrets.append(m)
            elif m.kind is _Kind.SSH:
                sshs.append(m)
            else:
                regular.append(m)
        # Go sorts the regular mounts by target; secret then ssh mounts are appended after.
        regular.sort(key=lambda m: m.dest)
        sshs = [m if m.dest else replace(m, dest=f"/run/buildkit/ssh_agent.{i}") for i, m in enumerate(sshs)]
        seen: set[str] = set()
        for m in (*regular, *secrets, *sshs):
            key = go_clean(m.dest)  # "/a", "/a/", "//a" and "/x/../a" are one mount point
            if key in seen:
                raise LLBError(f"duplicate mount destination {m.dest}")
            seen.add(key)
        self.mounts = tuple(regular)
        self.secrets = tuple(secrets)
        self.sshs = tuple(sshs)

        walk: list[Vertex] = []
        walked: set[Vertex] = set()  # vertices hash by identity; `in walk` would make many mounts quadratic
        outputs: dict[str, int] = {}
        caps = {"exec.meta.base"}
        out = 0
        for m in regular:
            src = m.source
            has_src = src is not None and src._vertex is not None
            if has_src and src._vertex not in walked:
                walked.add(src._vertex)
                walk.append(src._vertex)
            if m.selector:
                caps.add("exec.mount.selector")
            if m.kind is _Kind.CACHE:
                caps.update(("exec.mount.cache", "exec.mount.cache.sharing"))
            elif m.kind is _Kind.TMPFS:
                caps.add("exec.mount.tmpfs")
                if m.size > 0:
                    caps.add("exec.mount.tmpfs.size")
            elif has_src:
                caps.add("exec.mount.bind")
            if m.kind is _Kind.BIND and not m.readonly:
                outputs[m.dest] = out
                out += 1
        if secrets:
            caps.add("exec.mount.secret")
        if sshs:
            caps.add("exec.mount.ssh")
        if network != NetMode.SANDBOX:
            caps.add("exec.meta.network")
        self._walk = tuple(walk)
        self._outputs = outputs
        self._caps = caps

    def _walk_inputs(self) -> tuple[Vertex, ...]:
        return self._walk

    def _env_for(self, mode: int) -> list[str]:
        env = self.env
        if self.sshs and not any(k == "SSH_AUTH_SOCK" for k, _ in env):
            env = _env_set(env, "SSH_AUTH_SOCK", self.sshs[0].dest)
        if mode == MODE_NO_DEFAULT_PATH_CAP and not any(k == "PATH" for k, _ in env):
            env = _env_set(env, "PATH", DEFAULT_UNIX_PATH)
        return [f"{k}={v}" for k, v in env]

    def _encode(self, mode: int) -> tuple[bytes, OpMeta]:
        # pb.Op with a pb.ExecOp body, written as wire bytes (what ExecOp.SerializeToString
        # would give; proto3 defaults omitted): this runs once per op per marshal, so it is
        # kept free of per-field helper calls.
        V = _wire._varint
        outputs = self._outputs
        # Inputs dedupe on (digest, index) like Go's proto.Equal, so equal-but-distinct
        # vertices share one input.
        inputs: dict[tuple[str, int], int] = {}
        mounts = []
        for m in self.mounts:
            # Mount: input=1 selector=2 dest=3 output=4 readonly=5 mountType=6 TmpfsOpt=19 cacheOpt=20
            src = m.source
            if src is None or src._vertex is None:
                b = _NO_INPUT
            else:
                i = input_index(inputs, (src._vertex._enc[mode].digest, src._index))
                b = b"\x08" + V(i) if i else b""
            if m.selector:
                x = m.selector.encode()
                b += b"\x12" + V(len(x)) + x
            if m.dest:
                x = m.dest.encode()
                b += b"\x1a" + V(len(x)) + x
            kind = m.kind
            if kind is _Kind.BIND:
                out = outputs.get(m.dest, -1)
                if out:
                    b += b"\x20" + V(out)
                if m.readonly:
                    b += b"\x28\x01"
            else:
                b += _NO_OUTPUT
                if m.readonly:
                    b += b"\x28\x01"
                if kind is _Kind.CACHE:
                    x = m.cache_id.encode()
                    opt = (b"\x0a" + V(len(x)) + x if x else b"") + (b"\x10" + V(m.sharing) if m.sharing else b"")
                    b += b"\x30\x03\xa2\x01" + V(len(opt)) + opt
                elif kind is _Kind.TMPFS:
                    # Go always sets TmpfsOpt, even for size 0.
                    opt = _wire.int64_field(b"\x08", m.size)
                    b += b"\x30\x04\x9a\x01" + V(len(opt)) + opt
            mounts.append(b"\x12" + V(len(b)) + b)  # ExecOp.mounts = 2
        w = _wire
        for tag, ms in ((b"\x30\x01\xaa\x01", self.secrets), (b"\x30\x02\xb2\x01", self.sshs)):
            for m in ms:
                # Mount{input: -1, dest, mountType: SECRET|SSH, secretOpt=21|SSHOpt=22: ID uid gid mode optional}
                opt = (w.str_field(b"\x0a", m.secret_id) + w.uint32_field(b"\x10", m.uid)
                       + w.uint32_field(b"\x18", m.gid) + w.uint32_field(b"\x20", m.mode)
                       + w.bool_field(b"\x28", m.optional))
                b = _NO_INPUT + w.str_field(b"\x1a", m.dest) + tag + V(len(opt)) + opt
                mounts.append(b"\x12" + V(len(b)) + b)
        meta = self._meta(mode)
        body = b"\x0a" + V(len(meta)) + meta + b"".join(mounts)  # ExecOp.meta = 1
        if self.network:
            body += b"\x18" + V(self.network)  # ExecOp.network = 3
        head = b"".join([_wire.input_field(d, i) for d, i in inputs])
        data = _wire.op_bytes(head, self.platform, _wire.TAG_EXEC, body)
        caps = self._caps
        if mode == MODE_DEFAULT_PATH_CAP:
            caps = caps | {_SETS_DEFAULT_PATH}
        return data, op_meta(caps, self._custom_name, self._ignore_cache)

    def _meta(self, mode: int) -> bytes:
        """pb.Meta: args=1 env=2 cwd=3 user=4; removeMountStubsRecursive=11 (Go sets it, no cap)."""
        V = _wire._varint
        out = []
        for a in self.args:
            x = a.encode()
            out.append(b"\x0a" + V(len(x)) + x)
        for e in self._env_for(mode):
            x = e.encode()
            out.append(b"\x12" + V(len(x)) + x)
        if self.cwd:
            x = self.cwd.encode()
            out.append(b"\x1a" + V(len(x)) + x)
        if self.user:
            x = self.user.encode()
            out.append(b"\x22" + V(len(x)) + x)
        out.append(b"\x58\x01")
        return b"".join(out)

    def _describe(self) -> str:
        return " ".join(self.args)


@dataclass(frozen=True, slots=True)
class ExecState:
    """The result of State.run: the root filesystem and each read-write mount are outputs."""

    _vertex: ExecVertex

    @property
    def root(self) -> State:
        """Output of the "/" mount, carrying the settings of the state run was called on."""
        return self._vertex.base._with_output(self._vertex, self._vertex._outputs["/"])

    def output(self, dest: str) -> State:
        """Output of the mount at dest. A read-only bind returns its unchanged source (as Go)."""
        v = self._vertex
        for m in v.mounts:
            if m.dest == dest:
                if m.kind is _Kind.BIND and m.readonly:
                    return m.source  # type: ignore[return-value]
                if m.kind is not _Kind.BIND:
                    raise LLBError(f"{m.kind.value} mount at {dest} has no output")
                src = m.source if m.source is not None else State()
                return src._with_output(v, v._outputs[dest])
        raise KeyError(f"no mount at {dest}")


def new_exec(base: State, args, mounts, env: Mapping[str, str] | None, cwd, user, network,
             custom_name, ignore_cache) -> ExecState:
    if isinstance(args, str) or not args:
        raise LLBError("run needs a non-empty sequence of arguments")
    full_env = base.env
    for k, v in (env or {}).items():
        full_env = _env_set(full_env, k, v)
    run_cwd = base.cwd if cwd is None else base.with_cwd(cwd).cwd
    if not run_cwd:
        raise LLBError("working directory is required")
    net = base.network if network is None else NetMode(network)
    vertex = ExecVertex(base, args, full_env, run_cwd, base.user if user is None else user, net,
                        mounts, custom_name, ignore_cache)
    return ExecState(vertex)
