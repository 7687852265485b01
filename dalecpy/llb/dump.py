"""Human-readable views of a Definition: dump-llb style JSON and Graphviz dot."""

from __future__ import annotations

import json

from google.protobuf import json_format

from . import ops_pb2 as pb
from ._vertex import CUSTOM_NAME_KEY
from ._wire import digest_of


def _ops(definition: pb.Definition) -> list[tuple[str, pb.Op]]:
    out = []
    for dt in getattr(definition, "def"):
        op = pb.Op()
        op.ParseFromString(dt)
        out.append((digest_of(dt), op))
    return out


def _to_dict(msg) -> dict:
    d = json_format.MessageToDict(msg, preserving_proto_field_name=True)
    return json.loads(json.dumps(d, sort_keys=True))  # sorted map keys: deterministic output


def definition_to_json(definition: pb.Definition) -> list[dict]:
    """One object per op, like `buildctl debug dump-llb --format json`: Op, Digest, OpMetadata."""
    result = []
    for dgst, op in _ops(definition):
        meta = definition.metadata[dgst] if dgst in definition.metadata else None
        result.append({"Op": _to_dict(op), "Digest": dgst,
                       "OpMetadata": _to_dict(meta) if meta is not None else None})
    return result


def _label(op: pb.Op, meta: pb.OpMetadata | None) -> str:
    if meta is not None and CUSTOM_NAME_KEY in meta.description:
        return meta.description[CUSTOM_NAME_KEY]
    kind = op.WhichOneof("op")
    if kind == "source":
        return op.source.identifier
    if kind == "exec":
        return " ".join(op.exec.meta.args)
    if kind == "file":
        parts = []
        for a in op.file.actions:
            k = a.WhichOneof("action")
            if k == "copy":
                parts.append(f"copy {a.copy.src} -> {a.copy.dest}")
            elif k is not None:
                parts.append(f"{k} {getattr(a, k).path}")
        return "; ".join(parts)
    return "result"


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def definition_to_dot(definition: pb.Definition) -> str:
    """Graphviz digraph: one node per op (the terminal op is drawn as "result"), edges input -> op."""
    lines = ["digraph llb {", "  node [shape=box];"]
    for dgst, op in _ops(definition):
        meta = definition.metadata[dgst] if dgst in definition.metadata else None
        label = _label(op, meta)
        if len(label) > 80:
            label = label[:77] + "..."
        lines.append(f"  {_quote(dgst)} [label={_quote(label + chr(10) + dgst[:19])}];")
        for inp in op.inputs:
            attr = f" [label={_quote(str(inp.index))}]" if inp.index else ""
            lines.append(f"  {_quote(inp.digest)} -> {_quote(dgst)}{attr};")
    lines.append("}")
    return "\n".join(lines) + "\n"
