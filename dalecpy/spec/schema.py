"""JSON schema of the spec, generated lazily from the models (YAML key names)."""

from __future__ import annotations

import copy
import functools
from typing import Any

_DEP_KINDS = ("build", "runtime", "recommends", "test", "sysext")
_SCALAR_STR = {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "number"}]}


@functools.lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    from .models import SpecModel

    schema = SpecModel.model_json_schema(by_alias=True, mode="validation")
    schema["title"] = "Spec"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["patternProperties"] = {"^[xX]-": {}}
    props = schema["properties"]
    for key in ("version", "revision"):
        desc = props[key].get("default")
        props[key] = dict(_SCALAR_STR, default=desc)
    # Legacy list form for dependency lists.
    deps = schema.get("$defs", {}).get("PackageDependencies", {}).get("properties", {})
    for kind in _DEP_KINDS:
        if kind in deps:
            deps[kind] = {"anyOf": [deps[kind], {"type": "array", "items": {"type": "string"}}]}
    defs = schema.get("$defs", {})
    # The dependency map form allows `pkg:` with no constraints.
    for kind in _DEP_KINDS:
        if kind in deps:
            obj = deps[kind]["anyOf"][0]
            obj["additionalProperties"] = {"anyOf": [obj["additionalProperties"], {"type": "null"}]}
    cache_dir = defs.get("CacheDir")
    if cache_dir:
        cache_dir["properties"]["sharing"]["enum"] = ["", "shared", "private", "locked"]
        cache_dir["required"] = ["dest"]
    edits = defs.get("GomodEdits", {}).get("properties", {}).get("replace")
    if edits:  # Dalec's shorthand "old => new"
        edits["items"] = {"anyOf": [edits["items"], {"type": "string", "pattern": " => "}]}
    if "CacheConfig" in defs:
        defs["CacheConfig"]["minProperties"] = defs["CacheConfig"]["maxProperties"] = 1
    return schema


def spec_json_schema() -> dict[str, Any]:
    """A JSON schema (draft 2020-12) for spec files; deterministic; a fresh copy each call."""
    return copy.deepcopy(_schema())
