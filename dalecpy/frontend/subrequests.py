"""Subrequest payloads (`requestid` opt): BuildKit's frontend/subrequests JSON shapes, plus dalec's resolve."""

from __future__ import annotations

import base64
import json
from typing import Any, Iterable

DESCRIBE = "frontend.subrequests.describe"
TARGETS = "frontend.targets"
RESOLVE = "frontend.dalec.resolve"

_VERSION = "1.0.0"


def _request(name: str, description: str, metadata: Iterable[str], version: str = _VERSION) -> dict[str, Any]:
    # The JSON of BuildKit's subrequests.Request (Go nil slices marshal as null).
    return {
        "name": name,
        "version": version,
        "type": "rpc",
        "description": description,
        "opts": None,
        "inputs": None,
        "metadata": [{"name": m, "description": ""} for m in metadata],
        "refs": None,
    }


DEFINITIONS = [
    _request(TARGETS, "List all targets current build supports", ("result.json", "result.txt")),
    _request(DESCRIBE, "List available subrequest types", ("result.json", "result.txt")),
    _request(RESOLVE, "Resolve the spec (build args substituted) for the target", ("result.json", "result.txt")),
]


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """text/tabwriter with minwidth 0, padding 1: each column as wide as its widest cell plus one space."""
    all_rows = [header, *rows]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(header) - 1)]
    lines = []
    for r in all_rows:
        cells = [c.ljust(w + 1) for c, w in zip(r, widths)]
        lines.append("".join(cells) + r[-1])
    return "\n".join(lines) + "\n"


def _go_indent(obj: Any) -> bytes:
    """json.MarshalIndent(v, "", "  ") with Go's HTML escaping."""
    out = json.dumps(obj, indent=2, ensure_ascii=False)
    return out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def describe() -> dict[str, bytes]:
    rows = [(d["name"].removeprefix("frontend."), d["version"], d["description"]) for d in DEFINITIONS]
    return {
        "result.json": _go_indent(DEFINITIONS),
        "result.txt": _table(("NAME", "VERSION", "DESCRIPTION"), rows).encode(),
        "version": _VERSION.encode(),
    }


def targets(routes: Iterable[Any], defaults: Iterable[str] = (), sources: Iterable[bytes] = ()) -> dict[str, bytes]:
    """BuildKit targets v1.0.0: {"targets": [{name, default, description}], "sources": [base64 bytes]}.

    As in Dalec's listing, each distro's default kind is flagged, so several entries can be defaults."""
    defaults = set(defaults)
    items = []
    for r in routes:
        t: dict[str, Any] = {"name": r.path}
        if r.path in defaults:
            t["default"] = True
        if r.description:
            t["description"] = r.description
        items.append(t)
    listing = {"targets": items, "sources": [base64.b64encode(s).decode() for s in sources] or None}
    rows = []
    for t in items:
        name = f"{t['name']} (default)" if t.get("default") else t["name"]
        rows.append((name, t.get("description", "")))
    return {
        "result.json": _go_indent(listing),
        "result.txt": _table(("TARGET", "DESCRIPTION"), rows).encode(),
        "version": _VERSION.encode(),
    }


def resolve(spec_yaml_dict: dict[str, Any]) -> dict[str, bytes]:
    """The resolved spec: YAML in result.txt, JSON in result.json."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(spec_yaml_dict, buf)
    return {
        "result.json": _go_indent(spec_yaml_dict),
        "result.txt": buf.getvalue().encode(),
        "version": _VERSION.encode(),
    }
