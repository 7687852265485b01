"""Marshal a State into a pb.Definition exactly as Go's State.Marshal lays it out."""

from __future__ import annotations

from . import _wire
from . import ops_pb2 as pb
from ._vertex import (
    MODE_DEFAULT_PATH_CAP,
    MODE_NO_CAPS,
    MODE_NO_DEFAULT_PATH_CAP,
    Encoded,
    OpMeta,
    Vertex,
)
from .state import State
from ._errors import LLBError


class MissingCapError(LLBError):
    """The graph needs an LLB capability the target daemon did not report."""

    def __init__(self, cap: str, needed_by: str) -> None:
        super().__init__(
            f'the BuildKit daemon does not support LLB capability "{cap}" needed by {needed_by}'
        )
        self.cap = cap
        self.needed_by = needed_by


def _merge(a: OpMeta, b: OpMeta) -> OpMeta:
    """Two vertices with one digest share one metadata entry (Go's mergeMetadata)."""
    return OpMeta(a.caps | b.caps, tuple(sorted(dict(a.description + b.description).items())),
                  a.ignore_cache or b.ignore_cache)


def marshal(state: State, *, caps: frozenset[str] | None = None) -> pb.Definition:
    """Serialize the graph that produces `state`.

    `def` is a depth-first post-order of ops (inputs first, duplicates skipped) followed by the
    terminal op naming the result. With `caps` (the daemon's LLB caps, e.g. from Ping), every
    recorded cap is checked (MissingCapError) and exec ops follow Go's default-PATH rule.
    Scratch marshals to an empty Definition, as in Go.
    """
    if caps is None:
        mode = MODE_NO_CAPS
    elif "exec.meta.setsdefaultpath" in caps:
        mode = MODE_DEFAULT_PATH_CAP
    else:
        mode = MODE_NO_DEFAULT_PATH_CAP
    root = state._vertex
    if root is None:
        return pb.Definition()

    defs: list[bytes] = []
    metas: dict[str, OpMeta] = {}
    labels: dict[str, Vertex] = {}
    # Vertices hash by identity. A vertex popped while in `expanded` is ready (its inputs are
    # done): a second copy pushed before its expansion always sits below that entry, so it is
    # popped after `done` has it.
    expanded: set[Vertex] = set()
    done: set[Vertex] = set()
    stack: list[Vertex] = [root]
    pop, push, digest_of = stack.pop, stack.append, _wire.digest_of
    # Iterative so deep chains do not hit Python's recursion limit.
    while stack:
        v = pop()
        if v in expanded:
            if v in done:
                continue
            done.add(v)
            enc = v._enc.get(mode)
            if enc is None:
                data, meta = v._encode(mode)
                enc = v._enc[mode] = Encoded(digest_of(data), data, meta)
            d = enc.digest
            if d in metas:
                metas[d] = _merge(metas[d], enc.meta)
            else:
                metas[d] = enc.meta
                labels[d] = v
                defs.append(enc.data)
            continue
        expanded.add(v)
        push(v)
        for child in reversed(v._walk_inputs()):
            if child not in expanded:
                push(child)

    head = root._enc[mode].digest
    term = _wire.terminal_op(head, state._index)
    defs.append(term)
    tcaps = {"constraints", "platform"}
    for m in metas.values():
        if m.ignore_cache:
            tcaps.add("meta.ignorecache")
        if m.description:
            tcaps.add("meta.description")
    tdigest = _wire.digest_of(term)

    if caps is not None:
        for d, m in metas.items():
            for c in sorted(m.caps - caps):
                raise MissingCapError(c, f"{labels[d]._describe()} ({d})")
        for c in sorted(tcaps - caps):
            raise MissingCapError(c, "the definition")

    # Built as wire bytes and parsed once: far cheaper than constructing thousands of
    # pb.OpMetadata messages (the parsed Definition is the same message).
    varint, meta_bytes = _wire._varint, _meta_bytes
    parts = [b"\x0a" + varint(len(b)) + b for b in defs]  # def = 1
    tmeta = OpMeta(frozenset(tcaps))
    for d, m in (*metas.items(), (tdigest, tmeta)):
        # metadata = 2: map entry {key = 1: digest, value = 2: OpMetadata}
        key = d.encode()
        body = meta_bytes(m)
        entry = b"\x0a" + varint(len(key)) + key + b"\x12" + varint(len(body)) + body
        parts.append(b"\x12" + varint(len(entry)) + entry)
    return pb.Definition.FromString(b"".join(parts))


_CAPS_BYTES: dict[frozenset[str], bytes] = {}


def _caps_bytes(caps: frozenset[str]) -> bytes:
    """OpMetadata.caps (= 5) map entries {key = 1: cap, value = 2: true}; cached per cap set."""
    b = _CAPS_BYTES.get(caps)
    if b is None:
        out = []
        for c in sorted(caps):
            k = c.encode()
            entry = b"\x0a" + _wire._varint(len(k)) + k + b"\x10\x01"
            out.append(b"\x2a" + _wire._varint(len(entry)) + entry)
        b = b"".join(out)
        if len(_CAPS_BYTES) < 1024:
            _CAPS_BYTES[caps] = b
    return b


def _meta_bytes(m: OpMeta) -> bytes:
    """pb.OpMetadata wire bytes: ignore_cache = 1, description = 2 (map), caps = 5 (map)."""
    out = b"\x08\x01" if m.ignore_cache else b""
    for k, v in m.description:
        kb, vb = k.encode(), v.encode()
        entry = b"\x0a" + _wire._varint(len(kb)) + kb + b"\x12" + _wire._varint(len(vb)) + vb
        out += b"\x12" + _wire._varint(len(entry)) + entry
    return out + _caps_bytes(m.caps)
