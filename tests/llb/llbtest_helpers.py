"""Helpers shared by the llb tests."""

from __future__ import annotations

from dalecpy import llb
from dalecpy.llb import ops_pb2 as pb


def ops_of(definition: pb.Definition) -> list[pb.Op]:
    out = []
    for dt in getattr(definition, "def"):
        op = pb.Op()
        op.ParseFromString(dt)
        out.append(op)
    return out


def defs(definition: pb.Definition) -> list[bytes]:
    return list(getattr(definition, "def"))
