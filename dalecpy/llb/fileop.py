"""File ops: chains of mkdir/mkfile/copy/rm applied as one vertex (Go: client/llb/fileop.go)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Sequence, Union

from . import _wire
from ._vertex import OpMeta, Vertex, input_index, op_meta
from .state import State, go_clean, go_join



@dataclass(frozen=True, slots=True)
class ChownOpt:
    """Owner for mkdir/mkfile/copy: ids or names (names are resolved in the target's /etc/passwd)."""

    user: int | str
    group: int | str | None = None


# ChownOpt, "user[:group]" (names or numeric ids, as Go's llb.WithUser) or (uid, gid) (llb.WithUIDGID).
Owner = Union[ChownOpt, str, tuple[int, int], None]

_INT_RE = re.compile(r"[+-]?[0-9]+")
_NO_OUTPUT = b"\x18" + _wire._varint(-1)  # FileAction.output = -1
_NO_TIMESTAMP_5 = b"\x28" + _wire._varint(-1)  # mkdir/mkfile timestamp = -1
_NO_TIMESTAMP_11 = b"\x58" + _wire._varint(-1)  # copy timestamp = -1
_NO_MODE_4 = b"\x20" + _wire._varint(-1)  # copy mode = -1 (keep)


def _user_opt(part: int | str, base: int) -> bytes:
    """pb.UserOpt wire bytes: oneof byName=1 (NamedUserOpt name=1 input=2) | byID=2 (uint32)."""
    if isinstance(part, int):
        return _wire.uint32_value(b"\x10", part)
    if part == "root":
        return b"\x10\x00"
    if _INT_RE.fullmatch(part) and -(2**31) <= int(part) < 2**31:
        return _wire.uint32_value(b"\x10", int(part) & 0xFFFFFFFF)
    return _wire.ld(b"\x0a", _wire.str_field(b"\x0a", part) + _wire.int_field(b"\x10", base))


def _chown(owner: Owner, base: int) -> bytes | None:
    """pb.ChownOpt wire bytes (user=1, group=2), or None when no owner is set."""
    if owner is None:
        return None
    if isinstance(owner, tuple):
        owner = ChownOpt(*owner)
    if isinstance(owner, ChownOpt):
        user, group = owner.user, owner.group
    else:
        parts = owner.split(":", 1)
        user, group = parts[0], (parts[1] if len(parts) == 2 else None)
    co = _wire.ld(b"\x0a", _user_opt(user, base))
    if group is not None:
        co += _wire.ld(b"\x12", _user_opt(group, base))
    return co


def _normalize(parent: str, p: str, keep_slash: bool) -> str:
    """Go's normalizePath: make p absolute under parent, keeping a trailing / or /. for copy dest."""
    orig = p
    p = go_clean(p)
    if not posixpath.isabs(p):
        p = go_join("/", parent, p)
    if keep_slash:
        if orig.endswith("/") and not p.endswith("/"):
            p += "/"
        elif orig.endswith("/."):
            if p != "/":
                p += "/"
            p += "."
    return p


class FileAction:
    """One file action plus the actions before it. Immutable; chain with .mkdir/.mkfile/.copy/.rm."""

    __slots__ = ("_prev", "_kind", "_args")

    def __init__(self, prev: FileAction | None, kind: str, args: dict) -> None:
        self._prev = prev
        self._kind = kind
        self._args = args

    def mkdir(self, path: str, mode: int, *, parents: bool = False, owner: Owner = None) -> FileAction:
        return FileAction(self, "mkdir", dict(path=path, mode=mode, parents=parents, owner=owner))

    def mkfile(self, path: str, mode: int, data: bytes | str, *, owner: Owner = None) -> FileAction:
        return FileAction(self, "mkfile", _mkfile_args(path, mode, data, owner))

    def copy(self, src_state: State, src: str, dest: str, **kw) -> FileAction:
        return FileAction(self, "copy", _copy_args(src_state, src, dest, **kw))

    def rm(self, path: str, *, allow_not_found: bool = False, allow_wildcard: bool = False) -> FileAction:
        return FileAction(self, "rm", dict(path=path, allow_not_found=allow_not_found, allow_wildcard=allow_wildcard))

    def _chain(self) -> list[FileAction]:
        out = []
        a: FileAction | None = self
        while a is not None:
            out.append(a)
            a = a._prev
        out.reverse()
        return out


def _mkfile_args(path, mode, data, owner) -> dict:
    if isinstance(data, str):
        data = data.encode()
    return dict(path=path, mode=mode, data=bytes(data), owner=owner)


def _copy_args(
    src_state: State,
    src: str,
    dest: str,
    *,
    create_dest_path: bool = False,
    allow_wildcard: bool = False,
    allow_empty_wildcard: bool = False,
    dir_copy_contents: bool = False,
    follow_symlinks: bool = False,
    include_patterns: Sequence[str] = (),
    exclude_patterns: Sequence[str] = (),
    mode: int | None = None,
    owner: Owner = None,
) -> dict:
    if not isinstance(src_state, State):
        raise TypeError(f"copy source must be a State, not {type(src_state).__name__}")
    return dict(state=src_state, src=src, dest=dest, create_dest_path=create_dest_path,
                allow_wildcard=allow_wildcard, allow_empty_wildcard=allow_empty_wildcard,
                dir_copy_contents=dir_copy_contents, follow_symlinks=follow_symlinks,
                include_patterns=tuple(include_patterns), exclude_patterns=tuple(exclude_patterns),
                mode=mode, owner=owner)


def mkdir(path: str, mode: int, *, parents: bool = False, owner: Owner = None) -> FileAction:
    return FileAction(None, "mkdir", dict(path=path, mode=mode, parents=parents, owner=owner))


def mkfile(path: str, mode: int, data: bytes | str, *, owner: Owner = None) -> FileAction:
    return FileAction(None, "mkfile", _mkfile_args(path, mode, data, owner))


def copy(src_state: State, src: str, dest: str, **kw) -> FileAction:
    """Copy src (relative paths resolve against src_state's cwd) to dest on the target state.

    Keyword options: create_dest_path, allow_wildcard, allow_empty_wildcard, dir_copy_contents,
    follow_symlinks, include_patterns, exclude_patterns, mode, owner.
    """
    return FileAction(None, "copy", _copy_args(src_state, src, dest, **kw))


def rm(path: str, *, allow_not_found: bool = False, allow_wildcard: bool = False) -> FileAction:
    return FileAction(None, "rm", dict(path=path, allow_not_found=allow_not_found, allow_wildcard=allow_wildcard))


class FileVertex(Vertex):
    __slots__ = ("base", "actions", "_walk", "_caps", "_custom_name", "_ignore_cache")

    def __init__(self, base: State, action: FileAction, custom_name: str | None, ignore_cache: bool) -> None:
        super().__init__()
        self.base = base
        chain = action._chain()
        self.actions = tuple(chain)
        self._custom_name = custom_name
        self._ignore_cache = ignore_cache

        caps = {"file.base"}
        for act in chain:
            x = act._args
            if act._kind == "rm" and x["allow_wildcard"]:
                # Recorded so MissingCapError can gate it; Go's FileOp never records file caps
                # other than file.base (its cap loop runs before the actions are collected).
                caps.add("file.rm.wildcard")
            elif act._kind == "copy" and (x["include_patterns"] or x["exclude_patterns"]):
                caps.add("file.copy.includeexcludepatterns")
        # Go's Inputs() (walk order): the base, then copy sources from the last action back.
        walk: list[Vertex] = []
        walked: set[Vertex] = set()
        for st in [base] + [a._args["state"] for a in reversed(chain) if a._kind == "copy"]:
            if st._vertex is not None and st._vertex not in walked:
                walked.add(st._vertex)
                walk.append(st._vertex)
        self._walk = tuple(walk)
        self._caps = caps

    def _walk_inputs(self) -> tuple[Vertex, ...]:
        return self._walk

    def _encode(self, mode: int) -> tuple[bytes, OpMeta]:
        # pb.Op with a pb.FileOp body, written as wire bytes (what FileOp.SerializeToString
        # would give; proto3 defaults omitted).
        V = _wire._varint
        # Inputs dedupe on (digest, index) like Go's proto.Equal; indices then follow from them.
        # Go (marshalState.add): each action registers the base state, then its copy source.
        inputs: dict[tuple[str, int], int] = {}
        base = self.base
        if base._vertex is None:
            b = -1
        else:
            inputs[(base._vertex._enc[mode].digest, base._index)] = 0
            b = 0
        seconds = []
        for a in self.actions:
            second = -1
            if a._kind == "copy":
                st = a._args["state"]
                if st._vertex is not None:
                    second = input_index(inputs, (st._vertex._enc[mode].digest, st._index))
            seconds.append(second)
        n = len(inputs)
        parts = []
        parent = base.cwd
        last = len(self.actions) - 1
        for i, a in enumerate(self.actions):
            # FileAction: input=1 secondaryInput=2 output=3, then the oneof action (always written).
            inp = b if i == 0 else n + i - 1
            second = seconds[i]
            head = (b"\x08" + V(inp) if inp else b"") + (b"\x10" + V(second) if second else b"")
            if i != last:
                head += _NO_OUTPUT
            x = a._args
            kind = a._kind
            if kind == "copy":
                src = go_clean(x["src"])
                if not src.startswith("/"):
                    src = go_join(x["state"].cwd, src)
                else:
                    src = go_join("/", src)
                # FileActionCopy: src=1 dest=2 owner=3 mode=4 followSymlink=5 dirCopyContents=6
                # createDestPath=8 allowWildcard=9 allowEmptyWildcard=10 timestamp=11
                # include_patterns=12 exclude_patterns=13
                src_b = src.encode()
                dest_b = _normalize(parent, x["dest"], True).encode()
                body = (b"\x0a" + V(len(src_b)) + src_b if src_b else b"") + (
                    b"\x12" + V(len(dest_b)) + dest_b if dest_b else b"")
                owner = _chown(x["owner"], b)
                if owner is not None:
                    body += b"\x1a" + V(len(owner)) + owner
                body += _NO_MODE_4 if x["mode"] is None else _wire.int32_field(b"\x20", x["mode"])
                if x["follow_symlinks"]:
                    body += b"\x28\x01"
                if x["dir_copy_contents"]:
                    body += b"\x30\x01"
                if x["create_dest_path"]:
                    body += b"\x40\x01"
                if x["allow_wildcard"]:
                    body += b"\x48\x01"
                if x["allow_empty_wildcard"]:
                    body += b"\x50\x01"
                body += _NO_TIMESTAMP_11
                for pat in x["include_patterns"]:
                    pb_ = pat.encode()
                    body += b"\x62" + V(len(pb_)) + pb_
                for pat in x["exclude_patterns"]:
                    pb_ = pat.encode()
                    body += b"\x6a" + V(len(pb_)) + pb_
                tag = b"\x22"
            elif kind == "rm":
                # FileActionRm: path=1 allowNotFound=2 allowWildcard=3
                path = _normalize(parent, x["path"], False).encode()
                body = b"\x0a" + V(len(path)) + path if path else b""
                if x["allow_not_found"]:
                    body += b"\x10\x01"
                if x["allow_wildcard"]:
                    body += b"\x18\x01"
                tag = b"\x3a"
            else:
                # FileActionMkDir: path=1 mode=2 makeParents=3 owner=4 timestamp=5
                # FileActionMkFile: path=1 mode=2 data=3 owner=4 timestamp=5
                path = _normalize(parent, x["path"], False).encode()
                body = b"\x0a" + V(len(path)) + path if path else b""
                fmode = x["mode"] & 0o777
                if fmode:
                    body += b"\x10" + V(fmode)
                if kind == "mkdir":
                    if x["parents"]:
                        body += b"\x18\x01"
                    tag = b"\x32"
                else:
                    data = x["data"]
                    if data:
                        body += b"\x1a" + V(len(data)) + data
                    tag = b"\x2a"
                owner = _chown(x["owner"], b)
                if owner is not None:
                    body += b"\x22" + V(len(owner)) + owner
                body += _NO_TIMESTAMP_5
            act = head + tag + V(len(body)) + body
            parts.append(b"\x12" + V(len(act)) + act)  # FileOp.actions = 2
        body_bytes = b"".join(parts)
        inputs_b = b"".join([_wire.input_field(d, i) for d, i in inputs])
        # BuildKit >= v0.12 (moby/buildkit#3858) leaves Op.platform unset on file ops.
        data = _wire.op_bytes(inputs_b, None, _wire.TAG_FILE, body_bytes)
        return data, op_meta(self._caps, self._custom_name, self._ignore_cache)

    def _describe(self) -> str:
        parts = []
        for a in self.actions:
            x = a._args
            if a._kind == "copy":
                parts.append(f"copy {x['src']} {x['dest']}")
            else:
                parts.append(f"{a._kind} {x['path']}")
        return "; ".join(parts)


def new_file_op(base: State, action: FileAction, custom_name: str | None, ignore_cache: bool) -> State:
    if not isinstance(action, FileAction):
        raise TypeError("file() needs a FileAction (llb.mkdir/mkfile/copy/rm)")
    return base._with_output(FileVertex(base, action, custom_name, ignore_cache), 0)
