"""Hand-written protobuf wire encoding for `pb.Op` and the digest helper.

Go's llb (BuildKit >= v0.17, protobuf-go) writes the `Op.op` oneof *after* inputs, platform and
constraints; Python's deterministic serializer writes fields in number order. We therefore emit
the envelope fields (1, 10, 11) ourselves and append the oneof body, which is byte-identical to
Go's output (see shared notes on the BuildKit protocol, section 2). Exec and file op bodies are
written directly as wire bytes too (fields in number order, proto3 defaults omitted, exactly what
`SerializeToString(deterministic=True)` gives): building protobuf message objects per op was most
of the marshal time. Source op bodies are still serialized by protobuf (once, at construction).
"""

from __future__ import annotations

import hashlib
from operator import index as _index
from functools import lru_cache

from dalecpy.platforms import Platform

from . import ops_pb2 as pb
from ._errors import LLBError

# Field keys of pb.Op: inputs=1, exec=2, source=3, file=4 (length-delimited), platform=10, constraints=11.
_TAG_INPUT = b"\x0a"
TAG_EXEC = b"\x12"
TAG_SOURCE = b"\x1a"
TAG_FILE = b"\x22"
_PLATFORM_TAG = b"\x52"
_EMPTY_CONSTRAINTS = b"\x5a\x00"  # Go always sets Constraints: &pb.WorkerConstraints{}


def _encode_varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # negative int32/int64: ten-byte two's complement, as protobuf does
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class _VarintTable(dict):
    """n -> varint bytes, filled on first use (bounded: lengths and small ints repeat a lot)."""

    def __missing__(self, n: int) -> bytes:
        b = _encode_varint(n)
        if len(self) < 16384:
            self[n] = b
        return b


_VARINTS = _VarintTable((i, bytes((i,))) for i in range(128))
_varint = _VARINTS.__getitem__


def _len_field(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


# --- proto3 field writers (defaults omitted, as protobuf does for fields without presence) -------
# `tag` is the already-encoded field key. Callers write fields in field-number order, which is
# the order both protobuf-go and Python's serializer use inside these messages.

ld = _len_field  # a sub-message (or a oneof / repeated string element: always written)


def str_field(tag: bytes, s: str) -> bytes:
    """A singular string field; omitted when empty."""
    if not s:
        return b""
    b = s.encode()
    return tag + _varint(len(b)) + b


def int_field(tag: bytes, n: int) -> bytes:
    """A singular int/enum/bool field with a value we computed ourselves; omitted when 0."""
    return tag + _varint(n) if n else b""


def _check_int(n: int, lo: int, hi: int) -> int:
    if isinstance(n, bool):
        raise TypeError(f"Expected an int, got a boolean: {n!r}")
    if not lo <= n < hi:  # TypeError for non-numbers, as protobuf
        raise LLBError(f"value out of range: {n}")
    return _index(n)  # TypeError for floats, as protobuf


def int64_field(tag: bytes, n: int) -> bytes:
    """A user-supplied int64; range-checked like protobuf's setter."""
    n = _check_int(n, -(1 << 63), 1 << 63)
    return tag + _varint(n) if n else b""


def int32_field(tag: bytes, n: int) -> bytes:
    n = _check_int(n, -(1 << 31), 1 << 31)
    return tag + _varint(n) if n else b""


def uint32_field(tag: bytes, n: int) -> bytes:
    n = _check_int(n, 0, 1 << 32)
    return tag + _varint(n) if n else b""


def uint32_value(tag: bytes, n: int) -> bytes:
    """A uint32 with presence (a oneof member): written even when 0."""
    return tag + _varint(_check_int(n, 0, 1 << 32))


def bool_field(tag: bytes, b: bool) -> bytes:
    return tag + b"\x01" if b else b""


def digest_of(op_bytes: bytes) -> str:
    """`sha256:<hex>` over one marshaled op, as BuildKit names vertices."""
    return "sha256:" + hashlib.sha256(op_bytes).hexdigest()


@lru_cache(maxsize=64)
def platform_field(p: Platform) -> bytes:
    """Encoded `Op.platform` field for a platform (cached: few distinct platforms per build)."""
    msg = pb.Platform(Architecture=p.architecture, OS=p.os, Variant=p.variant)
    return _len_field(_PLATFORM_TAG, msg.SerializeToString(deterministic=True))


def input_field(digest: str, index: int) -> bytes:
    """Encoded `Op.inputs` entry: Input{digest=1, index=2 (omitted when 0)}."""
    d = digest.encode()
    body = b"\x0a" + _varint(len(d)) + d
    if index:
        body += b"\x10" + _varint(index)
    return _len_field(_TAG_INPUT, body)


def op_bytes(inputs: bytes, platform: Platform | None, body_tag: bytes, body: bytes) -> bytes:
    """Assemble an Op the way protobuf-go orders it: inputs, platform, constraints, oneof."""
    plat = platform_field(platform) if platform is not None else b""
    return inputs + plat + _EMPTY_CONSTRAINTS + _len_field(body_tag, body)


def terminal_op(digest: str, index: int) -> bytes:
    """The last Definition entry: an Op with only Inputs naming the result."""
    return input_field(digest, index)
