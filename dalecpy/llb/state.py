"""The immutable State you chain to build a graph (Go: client/llb State)."""

from __future__ import annotations

import enum
import posixpath
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Mapping, Sequence

from dalecpy.platforms import Platform

from ._vertex import Vertex

if TYPE_CHECKING:
    from .exec import ExecState, Mount
    from .fileop import FileAction


class NetMode(enum.IntEnum):
    """pb.NetMode; SANDBOX is BuildKit's UNSET (the default, isolated network)."""

    SANDBOX = 0
    UNSET = 0
    HOST = 1
    NONE = 2


class CacheSharing(enum.IntEnum):
    """pb.CacheSharingOpt for cache mounts."""

    SHARED = 0
    PRIVATE = 1
    LOCKED = 2


def go_clean(p: str) -> str:
    """Go's path.Clean (posixpath.normpath keeps a leading '//', Go does not)."""
    if not p:
        return "."
    if p[0] == "/" and "//" not in p and "/." not in p and (p[-1] != "/" or p == "/"):
        return p  # already clean: absolute, no empty, "." or ".." element, no trailing slash
    out = posixpath.normpath(p)
    if out.startswith("//"):
        out = "/" + out.lstrip("/")
    return out


def go_join(*parts: str) -> str:
    """Go's path.Join: join the non-empty parts, then Clean; "" if all are empty."""
    nonempty = [p for p in parts if p]
    return go_clean("/".join(nonempty)) if nonempty else ""


@dataclass(frozen=True, slots=True)
class State:
    """A filesystem result plus the process settings later ops inherit (env, cwd, user, ...).

    `_vertex is None` means scratch (an empty filesystem). Every `with_*` returns a new State.
    """

    _vertex: Vertex | None = None
    _index: int = 0
    platform: Platform | None = None
    env: tuple[tuple[str, str], ...] = ()
    cwd: str = "/"
    user: str = ""
    network: NetMode = NetMode.SANDBOX

    # --- settings -----------------------------------------------------------------------------
    def with_env(self, key: str, value: str) -> State:
        """Set K=V. Like Go's EnvList, re-setting a key moves it to the end of the list."""
        return replace(self, env=_env_set(self.env, key, value))

    def get_env(self, key: str) -> str | None:
        for k, v in self.env:
            if k == key:
                return v
        return None

    def with_cwd(self, path: str) -> State:
        """Set the working directory; a relative path is joined onto the current one (Go's Dir)."""
        if not posixpath.isabs(path):
            path = go_join(self.cwd, path)
        return replace(self, cwd=path)

    def with_user(self, user: str) -> State:
        return replace(self, user=user)

    def with_network(self, network: NetMode) -> State:
        return replace(self, network=NetMode(network))

    def with_platform(self, platform: Platform | str) -> State:
        if isinstance(platform, str):
            platform = Platform.parse(platform)
        return replace(self, platform=platform)

    @property
    def is_scratch(self) -> bool:
        return self._vertex is None

    def _with_output(self, vertex: Vertex | None, index: int) -> State:
        return replace(self, _vertex=vertex, _index=index)

    # --- ops ----------------------------------------------------------------------------------
    def run(
        self,
        args: Sequence[str],
        *,
        mounts: Sequence[Mount] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        user: str | None = None,
        network: NetMode | None = None,
        custom_name: str | None = None,
        ignore_cache: bool = False,
    ) -> ExecState:
        """Run a process on this state's filesystem; see ExecState for its outputs.

        env/cwd/user/network apply to this process only; the result keeps this state's settings.
        """
        from .exec import new_exec

        return new_exec(self, args, mounts, env, cwd, user, network, custom_name, ignore_cache)

    def file(self, action: FileAction, *, custom_name: str | None = None, ignore_cache: bool = False) -> State:
        """Apply a chain of file actions (mkdir/mkfile/copy/rm) as one FileOp."""
        from .fileop import new_file_op

        return new_file_op(self, action, custom_name, ignore_cache)


def _env_set(env: tuple[tuple[str, str], ...], key: str, value: str) -> tuple[tuple[str, str], ...]:
    return tuple(kv for kv in env if kv[0] != key) + ((key, value),)


def scratch() -> State:
    """An empty filesystem."""
    return State()
