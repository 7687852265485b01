"""Complete the spec's pydantic models from core schemas cached beside their bytecode.

Generating the models' core schemas (pydantic walking every field in Python) is most of the cost of importing
`dalecpy.spec`, and every `dalecpy render` and every frontend container start pays for it. The schemas depend
only on the models' source and the Python and pydantic versions, so, like a .pyc file, they are computed once
and kept in `__pycache__` (or under `sys.pycache_prefix`), keyed by a digest of those. The models are declared
with `defer_build`; `complete()` gives each its schema, validator and serializer from the cache (building the
validators in pydantic-core from ready schemas takes a few milliseconds), or lets pydantic build them as usual
and writes the cache, unless bytecode writing is off. A missing, stale or unreadable cache only costs that
rebuild. The file is trusted as the .pyc files next to it are: it is written by this code and unpickled.
"""

from __future__ import annotations

import hashlib
import os
import sys
from types import ModuleType
from typing import Any

from pydantic import BaseModel

_FORMAT = b"dalecpy-schemas-1"

#: Whether the last complete() used the cache (for tests and benchmarks).
from_cache: bool | None = None


def model_classes(*modules: ModuleType) -> list[type[BaseModel]]:
    """The pydantic models defined in `modules`, in definition order."""
    return [
        v
        for m in modules
        for v in vars(m).values()
        if isinstance(v, type) and issubclass(v, BaseModel) and v.__module__ == m.__name__
    ]


def complete(classes: list[type[BaseModel]]) -> bool:
    """Make `classes` (declared with `defer_build`) complete; True when that came from the cache."""
    global from_cache
    path, key = _where(classes)
    cached = _read(path, key) if path else None
    if cached is not None:
        try:
            _install(classes, cached)
            from_cache = True
            return True
        except Exception:  # noqa: BLE001 - a cache that does not fit is rebuilt, never fatal
            pass
    incomplete = {c.__qualname__ for c in classes if not getattr(c, "__pydantic_fields_complete__", True)}
    for cls in classes:
        cls.model_rebuild()
    if path and not sys.dont_write_bytecode:
        _write(path, key, classes, incomplete)
    from_cache = False
    return False


def _where(classes: list[type[BaseModel]]) -> tuple[str | None, bytes]:
    """(cache file, key): the key digests the versions and the source of every module defining a model."""
    from importlib.util import cache_from_source

    h = hashlib.sha256(_FORMAT)
    for part in (sys.version, _version("pydantic"), _version("pydantic_core")):
        h.update(part.encode() + b"\0")
    if not all(hasattr(c, "__pydantic_fields_complete__") for c in classes):  # pydantic < 2.11: no cache
        return None, b""
    files = []
    for name in sorted({c.__module__ for c in classes}):
        file = getattr(sys.modules.get(name), "__file__", None)
        if not file:
            return None, b""
        files.append(file)
        try:
            with open(file, "rb") as f:
                h.update(f.read())
        except OSError:
            return None, b""
    try:
        pyc = cache_from_source(files[0])
    except (NotImplementedError, ValueError):
        return None, b""
    return pyc[: -len(".pyc")] + ".schemas.pickle", h.digest()


def _version(module: str) -> str:
    return str(getattr(sys.modules.get(module), "__version__", ""))


def _read(path: str, key: bytes) -> dict[str, Any] | None:
    import pickle

    try:
        with open(path, "rb") as f:
            if f.read(len(key)) != key:
                return None
            return pickle.load(f)
    except Exception:  # noqa: BLE001 - missing, partial or foreign: rebuild
        return None


def _install(classes: list[type[BaseModel]], cached: dict[str, Any]) -> None:
    from pydantic_core import SchemaSerializer, SchemaValidator

    entries = [(cls, cached[cls.__qualname__]) for cls in classes]  # KeyError: the cache does not fit
    # Definition order, so most nested models already have their validator for pydantic-core to reuse.
    for cls, (schema, config, fields) in entries:
        if fields is not None:  # forward references, resolved when the cache was written
            cls.__pydantic_fields__ = fields
        cls.__pydantic_core_schema__ = schema
        cls.__pydantic_validator__ = SchemaValidator(schema, config)
        cls.__pydantic_serializer__ = SchemaSerializer(schema, config)
        cls.__pydantic_complete__ = True


def _write(path: str, key: bytes, classes: list[type[BaseModel]], incomplete: set[str]) -> None:
    import pickle

    entries = {}
    for cls in classes:
        # A validator pickles as (SchemaValidator, (schema, core config, ...)): the config pydantic derived.
        _, (schema, config, *_) = cls.__pydantic_validator__.__reduce__()
        fields = cls.__pydantic_fields__ if cls.__qualname__ in incomplete else None
        entries[cls.__qualname__] = (schema, config, fields)
    try:
        data = pickle.dumps(entries, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - something in a schema does not pickle (a lambda): no cache
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(key + data)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
