"""Human-readable views of a Definition: dump-llb style JSON and Graphviz dot."""

from __future__ import annotations

import base64
import json

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


_ONEOF_WRAPPERS = {"Op": ("op", "Op"), "FileAction": ("action", "Action"), "UserOpt": ("user", "User")}
_ALWAYS = {"FileAction": ("input", "secondaryInput", "output")}  # BuildKit's MarshalJSON writes these even when 0


def _go_value(field, value):
    if field.type == field.TYPE_MESSAGE:
        return _go_dict(value)
    if field.type == field.TYPE_BYTES:
        return base64.b64encode(value).decode()
    return value


def _go_dict(msg) -> dict:
    """The object Go's encoding/json writes for a BuildKit pb message (protobuf-go structs with `omitempty`
    tags, plus the MarshalJSON methods in solver/pb/json.go for Op, FileAction and UserOpt)."""
    name = msg.DESCRIPTOR.name
    oneof, wrapper = _ONEOF_WRAPPERS.get(name, (None, None))
    always = _ALWAYS.get(name, ())
    out: dict = {}
    for field in msg.DESCRIPTOR.fields:
        if oneof and field.containing_oneof is not None and field.containing_oneof.name == oneof:
            continue
        value = getattr(msg, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            if value:
                vf = field.message_type.fields_by_name["value"]
                out[field.name] = {k: _go_value(vf, value[k]) for k in sorted(value)}
        elif field.is_repeated:
            if value:
                out[field.name] = [_go_value(field, v) for v in value]
        elif field.type == field.TYPE_MESSAGE:
            if msg.HasField(field.name):
                out[field.name] = _go_dict(value)
        elif value or field.name in always:
            out[field.name] = _go_value(field, value)
        if wrapper and field.name == ("inputs" if name == "Op" else "output"):
            out[wrapper] = _oneof_dict(msg, oneof)
    if wrapper and wrapper not in out:
        out[wrapper] = _oneof_dict(msg, oneof)
    return out


def _oneof_dict(msg, oneof: str) -> dict:
    kind = msg.WhichOneof(oneof)
    if kind is None:
        return {}
    field = msg.DESCRIPTOR.fields_by_name[kind]
    return {kind: _go_value(field, getattr(msg, kind))}


# Go's json.Encoder escapes HTML characters and the JavaScript line separators.
_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def go_json_line(obj) -> str:
    """Compact JSON escaped as Go's json.Encoder escapes it (without the trailing newline)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).translate(_GO_ESCAPES)


def definition_to_json(definition: pb.Definition) -> list[dict]:
    """One object per op, as `buildctl debug dump-llb` prints them: Op, Digest, OpMetadata."""
    result = []
    for dgst, op in _ops(definition):
        meta = definition.metadata[dgst] if dgst in definition.metadata else pb.OpMetadata()
        result.append({"Op": _go_dict(op), "Digest": dgst, "OpMetadata": _go_dict(meta)})
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
