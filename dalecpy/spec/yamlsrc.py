"""Parse spec YAML into plain data plus a source map of node positions.

ruamel.yaml only *composes* the document (a node graph, where an alias is a
reference to the anchored node, so composing is linear in the input size).
We then convert nodes to plain data ourselves, which lets us:

* record the 1-based (line, column) of every key and value by path;
* refuse duplicate keys and non-scalar keys;
* bound alias expansion (the "billion laughs" document) by counting the nodes
  produced through aliases and the total node count, and refusing past a limit
  *before* memory grows;
* keep the raw text of numeric scalars (``version: 1.10`` must stay "1.10").
"""

from __future__ import annotations

import re
import sys
from typing import Any

from ruamel.yaml import events as ev
from ruamel.yaml.error import MarkedYAMLError, YAMLError

try:  # libyaml-based event parser from ruamel.yaml.clib (optional, much faster)
    from _ruamel_yaml import CParser as _CParser
except ImportError:  # pragma: no cover
    _CParser = None

from .errors import Diagnostic, SpecError

MAX_SPEC_BYTES = 4 * 1024 * 1024
#: Nodes that may be produced by expanding aliases (beyond the first use of each anchor).
MAX_ALIAS_NODES = 10_000
#: YAML nodes (scalars, keys, lists, mappings, alias uses) in a spec, counted while parsing so a
#: refused spec stops early. A large real spec has a few thousand (bench/render.py's spec of 1,000 steps,
#: 200 caches and 100 sources: ~10,000); at this limit the worst shapes load or fail in well under 2 s
#: and 200 MB (bench/worst_spec.py).
MAX_TOTAL_NODES = 50_000
#: Nesting levels (a real spec's deepest path is under 20); also bounds the source map's path tuples.
MAX_DEPTH = 64
#: Longest integer literal (in characters): Python refuses to convert decimal strings of over 4,300 digits,
#: and a longer number is never a meaningful spec value.
MAX_INT_CHARS = 1000

Path = tuple  # tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"


class _RawNumber:
    """A YAML number that remembers its source text; immutable, so a copy is the object itself."""

    __slots__ = ()
    raw: str

    def __new__(cls, value, raw: str):
        obj = super().__new__(cls, value)
        obj.raw = raw
        return obj

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self


class YInt(_RawNumber, int):
    """An int from YAML that remembers its source text (e.g. ``0755``)."""


class YFloat(_RawNumber, float):
    """A float from YAML that remembers its source text (e.g. ``1.10``)."""


_SURROGATE = re.compile("[\ud800-\udfff]")


def surrogate_error(text: str) -> str | None:
    """Why `text` cannot be UTF-8 (a lone surrogate, e.g. from a YAML ``"\\ud800"`` escape), or None."""
    if text.isascii():
        return None
    m = _SURROGATE.search(text)
    if m is None:
        return None
    return f"invalid Unicode: lone surrogate \\u{ord(m.group()):04x} at character {m.start() + 1} (not encodable as UTF-8)"


class _Node:
    """A composed YAML node: ``tag`` (a full tag string), ``value``, 1-based ``pos`` and ``anchor``.

    Our own small classes rather than ruamel's nodes: ruamel computes ``Node.tag`` through a Tag object
    on every read, which was a third of the cost of loading a large spec."""

    __slots__ = ("tag", "value", "pos", "anchor")

    def __init__(self, tag: str, value: Any, pos: tuple[int, int], anchor: str | None) -> None:
        self.tag = tag
        self.value = value
        self.pos = pos
        self.anchor = anchor


class ScalarNode(_Node):
    __slots__ = ()


class SequenceNode(_Node):
    __slots__ = ()


class MappingNode(_Node):
    __slots__ = ()


def _pos(node: _Node) -> tuple[int, int]:
    return node.pos


def _mark_pos(mark) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


class SourceMap:
    """Positions of values (and of the keys naming them) by path."""

    def __init__(self) -> None:
        self.values: dict[Path, tuple[int, int]] = {}
        self.keys: dict[Path, tuple[int, int]] = {}

    def value(self, path: Path) -> tuple[int, int] | None:
        return self.values.get(path)

    def key(self, path: Path) -> tuple[int, int] | None:
        return self.keys.get(path) or self.values.get(path)

    def nearest(self, path: Path, *, prefer_key: bool = False) -> tuple[int, int] | None:
        path = tuple(path)
        while True:
            pos = (self.keys.get(path) if prefer_key else None) or self.values.get(path)
            if pos is not None:
                return pos
            if not path:
                return None
            path = path[:-1]


class _Converter:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.smap = SourceMap()
        self.total = 0
        self.alias_nodes = 0
        self.errors: list[Diagnostic] = []
        self._first_use: set[int] = set()

    def fail(self, node, message: str) -> SpecError:
        line, col = _pos(node)
        return SpecError([Diagnostic(self.filename, line, col, message)])

    def convert(self, node, path: Path, depth: int, in_alias: bool) -> Any:
        self.total += 1
        if self.total > MAX_TOTAL_NODES:
            raise self.fail(node, f"spec is too large: more than {MAX_TOTAL_NODES} YAML nodes")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"spec is nested too deeply (more than {MAX_DEPTH} levels)")
        anchor = getattr(node, "anchor", None)
        if anchor is not None and not in_alias:
            # The first time an anchored node is converted is its definition;
            # every later conversion of the same node object is an alias use.
            if id(node) in self._first_use:
                in_alias = True
            else:
                self._first_use.add(id(node))
        if in_alias:
            self.alias_nodes += 1
            if self.alias_nodes > MAX_ALIAS_NODES:
                raise self.fail(
                    node,
                    f"YAML alias expansion too large: more than {MAX_ALIAS_NODES} nodes reached through aliases",
                )
        self.smap.values[path] = _pos(node)
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            self.check_tag(node, "seq")
            return [self.convert(item, path + (i,), depth + 1, in_alias) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            self.check_tag(node, "map")
            return self.mapping(node, path, depth, in_alias)
        raise self.fail(node, "unsupported YAML node")  # pragma: no cover

    def check_tag(self, node, kind: str) -> None:
        if node.tag != _TAG + kind:
            raise self.fail(node, f"unsupported YAML tag {node.tag!r}")

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag or ""
        text = node.value
        bad = surrogate_error(text)
        if bad:
            raise self.fail(node, bad)
        if tag == _STR:
            return text
        if not tag.startswith(_TAG):
            raise self.fail(node, f"unsupported YAML tag {tag!r}")
        kind = tag[len(_TAG):]
        if kind == "timestamp":
            return text
        if kind == "null":
            return None
        if kind == "bool":
            return text.lower() in ("true", "yes", "on", "y")
        if kind == "int":
            if len(text) > MAX_INT_CHARS:
                raise self.fail(node, f"integer literal is too long ({len(text)} characters; at most {MAX_INT_CHARS})")
            try:
                return YInt(_parse_int(text), text)
            except ValueError:
                raise self.fail(node, f"invalid integer {text!r}") from None
        if kind == "float":
            try:
                return YFloat(_parse_float(text), text)
            except ValueError:
                raise self.fail(node, f"invalid number {text!r}") from None
        if kind in ("binary", "merge", "value"):
            return text
        raise self.fail(node, f"unsupported YAML tag {tag!r}")

    def key_text(self, knode) -> str:
        if not isinstance(knode, ScalarNode):
            raise self.fail(knode, "mapping keys must be scalars")
        if knode.tag == _TAG + "null":
            return ""
        bad = surrogate_error(knode.value)
        if bad:
            raise self.fail(knode, bad)
        return knode.value

    def mapping(self, node: MappingNode, path: Path, depth: int, in_alias: bool) -> dict:
        out: dict[str, Any] = {}
        explicit: set[str] = set()
        merged: list = []
        for knode, vnode in node.value:
            if isinstance(knode, ScalarNode) and knode.tag == _TAG + "merge":
                merged.append((knode, vnode))
                continue
            key = self.key_text(knode)
            if key in explicit:
                line, col = _pos(knode)
                first = self.smap.keys.get(path + (key,))
                where = f" (first defined at line {first[0]})" if first else ""
                self.errors.append(Diagnostic(self.filename, line, col, f"duplicate key {key!r}{where}"))
                continue
            explicit.add(key)
            self.total += 1
            self.smap.keys[path + (key,)] = _pos(knode)
            out[key] = self.convert(vnode, path + (key,), depth + 1, in_alias)
        # YAML merge keys (`<<: *base`): explicit keys win, earlier merges win.
        for knode, vnode in merged:
            sources = vnode.value if isinstance(vnode, SequenceNode) else [vnode]
            for src in sources:
                if not isinstance(src, MappingNode):
                    raise self.fail(src, "merge key `<<` needs a mapping or a list of mappings")
                data = self.convert(src, path, depth + 1, True)
                for k, v in data.items():
                    if k not in out:
                        out[k] = v
        return out


def _parse_int(text: str) -> int:
    t = text.replace("_", "")
    sign = 1
    if t[:1] in "+-":
        sign = -1 if t[0] == "-" else 1
        t = t[1:]
    low = t.lower()
    if not t:
        raise ValueError("no digits")
    if low.startswith("0x"):
        return sign * int(t[2:], 16)
    if low.startswith("0o"):
        return sign * int(t[2:], 8)
    if low.startswith("0b"):
        return sign * int(t[2:], 2)
    if len(t) > 1 and t.startswith("0") and t.isdigit() and all(c in "01234567" for c in t):
        return sign * int(t, 8)  # YAML 1.1 / Go style octal, e.g. 0755
    if ":" in t:  # sexagesimal (YAML 1.1)
        val = 0
        for part in t.split(":"):
            val = val * 60 + int(part)
        return sign * val
    return sign * int(t)


def _parse_float(text: str) -> float:
    t = text.replace("_", "").lower()
    if t in (".inf", "+.inf"):
        return float("inf")
    if t == "-.inf":
        return float("-inf")
    if t == ".nan":
        return float("nan")
    return float(t)


def _yaml_error(filename: str, err: YAMLError) -> SpecError:
    if isinstance(err, MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        parts = [p for p in (err.context, err.problem) if p]
        msg = "invalid YAML: " + ("; ".join(parts) if parts else "syntax error")
        if mark is not None:
            return SpecError([Diagnostic(filename, mark.line + 1, mark.column + 1, msg)])
        return SpecError([Diagnostic(filename, None, None, msg)])
    return SpecError([Diagnostic(filename, None, None, f"invalid YAML: {err}")])


def decode_text(data: str | bytes, filename: str) -> str:
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        if len(data) > MAX_SPEC_BYTES:
            raise SpecError.single(filename, f"spec is too large: {len(data)} bytes (limit {MAX_SPEC_BYTES})")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise SpecError.single(filename, f"spec is not valid UTF-8 (byte offset {e.start})") from None
    if not isinstance(data, str):
        raise SpecError.single(filename, f"spec data must be str or bytes, not {type(data).__name__}")
    if len(data) > MAX_SPEC_BYTES or (len(data) * 4 > MAX_SPEC_BYTES and len(data.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES):
        raise SpecError.single(filename, f"spec is too large (limit {MAX_SPEC_BYTES} bytes)")
    return data.lstrip("\ufeff")


class _ComposeError(Exception):
    def __init__(self, mark, message: str):
        self.mark = mark
        self.message = message


def _events(text: str, fast: bool):
    if fast and _CParser is not None:
        parser = _CParser(text)
        check, get = parser.check_event, parser.get_event
        while check():
            yield get()
    else:
        from ruamel.yaml import YAML

        yield from YAML(typ="safe", pure=True).parse(text)


def _compose_any(text: str):
    """Compose with libyaml when available; libyaml (YAML 1.1) rejects a few
    documents the pure-Python YAML 1.2 parser accepts (e.g. ``{url: https://x}``),
    so on a syntax error retry with the pure parser, whose error is reported."""
    if _CParser is None:
        return _compose(text, False)
    try:
        return _compose(text, True)
    except YAMLError:
        return _compose(text, False)


def _scalar_resolver():
    """``resolve(value, implicit) -> tag`` for plain and quoted scalars, as ruamel's YAML 1.2 resolver
    decides, without its per-call costs (a version lookup, lazily compiled patterns, a Tag per result)."""
    from ruamel.yaml.resolver import VersionedResolver

    table = VersionedResolver().versioned_resolver
    any_first = tuple((str(tag), regexp.match) for tag, regexp in table.get(None, ()))
    by_first = {
        first: tuple((str(tag), regexp.match) for tag, regexp in entries) + any_first
        for first, entries in table.items()
        if first is not None
    }
    default = _TAG + "str"

    def resolve(value: str, implicit) -> str:
        if implicit[0]:
            for tag, match in by_first.get(value[:1], any_first):
                if match(value):
                    return tag
        return default

    return resolve


def _compose(text: str, fast: bool):
    """Compose the single document into nodes, iteratively (no recursion), counting nodes as they come.

    ruamel's own composers are recursive (the C one can even overflow the C stack on deeply nested
    input) and build the whole document before anyone can count it; here a spec over MAX_TOTAL_NODES
    stops at the first node past the limit.
    """
    resolve = _scalar_resolver()
    anchors: dict[str, _Node] = {}
    stack: list[list] = []  # [node, pending key or None]
    root = None
    docs = 0
    nodes = 0
    scalar_event, alias_event = ev.ScalarEvent, ev.AliasEvent
    seq_start, map_start = ev.SequenceStartEvent, ev.MappingStartEvent
    seq_end, map_end = ev.SequenceEndEvent, ev.MappingEndEvent
    for e in _events(text, fast):
        kind = type(e)
        if kind is scalar_event or kind is alias_event or kind is seq_start or kind is map_start:
            nodes += 1
            if nodes > MAX_TOTAL_NODES:
                raise _ComposeError(e.start_mark, f"spec is too large: more than {MAX_TOTAL_NODES} YAML nodes")
        if kind is scalar_event:
            tag = e.tag
            if tag is None or tag == "!":
                tag = resolve(e.value, e.implicit)
            node = ScalarNode(tag, e.value, _mark_pos(e.start_mark), e.anchor)
            if e.anchor:
                anchors[e.anchor] = node
        elif kind is alias_event:
            node = anchors.get(e.anchor)  # type: ignore[assignment]
            if node is None:
                raise _ComposeError(e.start_mark, f"invalid YAML: found undefined alias {e.anchor!r}")
        elif kind is seq_start or kind is map_start:
            if len(stack) >= MAX_DEPTH:
                raise _ComposeError(e.start_mark, f"spec is nested too deeply (more than {MAX_DEPTH} levels)")
            is_map = kind is map_start
            tag = e.tag
            if tag is None or tag == "!":
                tag = _TAG + ("map" if is_map else "seq")
            node = (MappingNode if is_map else SequenceNode)(tag, [], _mark_pos(e.start_mark), e.anchor)
            if e.anchor:
                anchors[e.anchor] = node
            stack.append([node, None])
            continue
        elif kind is seq_end or kind is map_end:
            node = stack.pop()[0]
        elif kind is ev.DocumentStartEvent:
            docs += 1
            if docs > 1:
                raise _ComposeError(e.start_mark, "invalid YAML: expected a single document in the stream; but found another document")
            continue
        else:  # stream and document ends
            continue
        if not stack:
            root = node
            continue
        top = stack[-1]
        parent = top[0]
        if type(parent) is MappingNode:
            if top[1] is None:
                top[1] = node
            else:
                parent.value.append((top[1], node))
                top[1] = None
        else:
            parent.value.append(node)
    return root


def parse_yaml(data: str | bytes, filename: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain data and its source map. Raises SpecError."""
    text = decode_text(data, filename)
    old_limit = sys.getrecursionlimit()
    try:
        try:
            node = _compose_any(text)
        except _ComposeError as e:
            raise SpecError.single(filename, e.message, e.mark.line + 1, e.mark.column + 1) from None
        except RecursionError:
            raise SpecError.single(filename, "spec is nested too deeply") from None
        except YAMLError as e:
            raise _yaml_error(filename, e) from None
        except (ValueError, TypeError, AttributeError, IndexError, KeyError) as e:  # defensive: odd input
            raise SpecError.single(filename, f"invalid YAML: {e}") from None
        if node is None:
            raise SpecError.single(filename, "spec is empty: expected a YAML mapping at the top level", 1, 1)
        conv = _Converter(filename)
        if not isinstance(node, MappingNode):
            line, col = _pos(node)
            kind = "a list" if isinstance(node, SequenceNode) else "a scalar"
            raise SpecError([Diagnostic(filename, line, col, f"spec must be a YAML mapping at the top level, got {kind}")])
        try:
            value = conv.convert(node, (), 0, False)
        except RecursionError:
            raise SpecError.single(filename, "spec is nested too deeply") from None
        if conv.errors:
            raise SpecError(conv.errors)
        return value, conv.smap
    finally:
        sys.setrecursionlimit(old_limit)
