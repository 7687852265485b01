"""Base class for LLB vertices and the per-op metadata they produce."""

from __future__ import annotations

from typing import NamedTuple

# Marshal modes. The bytes of an exec op depend on whether (and which) daemon caps are known:
# Go adds PATH to env when caps are given without exec.meta.setsdefaultpath.
MODE_NO_CAPS = 0
MODE_DEFAULT_PATH_CAP = 1
MODE_NO_DEFAULT_PATH_CAP = 2

CUSTOM_NAME_KEY = "llb.customname"


class OpMeta(NamedTuple):
    """What becomes pb.OpMetadata for one op (kept as plain data until the Definition is built)."""

    caps: frozenset[str]
    description: tuple[tuple[str, str], ...] = ()
    ignore_cache: bool = False


class Encoded(NamedTuple):
    digest: str
    data: bytes
    meta: OpMeta


def input_index(inputs: dict[tuple[str, int], int], key: tuple[str, int]) -> int:
    """The op's input number for (digest, output index): an input used twice is listed once, as in Go.

    `inputs` maps each input to its number in insertion order (a dict, so an op with many inputs stays
    linear to encode)."""
    return inputs.setdefault(key, len(inputs))


def op_meta(caps: set[str] | frozenset[str], custom_name: str | None, ignore_cache: bool) -> OpMeta:
    desc = ((CUSTOM_NAME_KEY, custom_name),) if custom_name else ()
    return OpMeta(frozenset(caps), desc, ignore_cache)


class Vertex:
    """One LLB op. Immutable once built; its encoding is cached per marshal mode.

    Subclasses implement `_walk_inputs` (inputs in Go's `Vertex.Inputs()` order, which decides
    the Definition order) and `_encode(mode)` (bytes + metadata; may read the cached encodings
    of inputs, which the marshal walk guarantees are present).
    """

    __slots__ = ("_enc",)

    def __init__(self) -> None:
        self._enc: dict[int, Encoded] = {}

    def _walk_inputs(self) -> tuple["Vertex", ...]:
        return ()

    def _encode(self, mode: int) -> tuple[bytes, OpMeta]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _describe(self) -> str:
        """Short human label for errors and graph dumps."""
        return type(self).__name__
