"""Loading: YAML -> plain data -> pydantic models -> Dalec validation -> defaults."""

from __future__ import annotations

import copy
import difflib
import os
import types
import typing
from typing import Any, Mapping, Union

from pydantic import BaseModel, ValidationError

from dalecpy.platforms import Platform

from . import args as _args
from .errors import MAX_DIAGNOSTICS, Diagnostic, SpecError
from .models import ArtifactBuild, Source, SourceMount, TestSpec
from .spec import Spec
from .validate import fill_defaults, validate_network_mode, validate_refs, validate_spec
from .yamlsrc import MAX_SPEC_BYTES, SourceMap, YFloat, YInt, parse_yaml

_FIELD_TO_ALIAS: dict[str, str] = {}


def _collect_aliases(cls: type[BaseModel], seen: set) -> None:
    if cls in seen:
        return
    seen.add(cls)
    for name, f in cls.model_fields.items():
        if f.alias and f.alias != name:
            _FIELD_TO_ALIAS[name] = f.alias
        for sub in _models_in(f.annotation):
            _collect_aliases(sub, seen)


def _models_in(tp: Any) -> list[type[BaseModel]]:
    out = []
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    for a in typing.get_args(tp):
        out.extend(_models_in(a))
    return out


def format_path(path: tuple) -> str:
    parts: list[str] = []
    for p in path:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            s = str(p)
            if s and all(c.isalnum() or c in "_-" for c in s):
                parts.append(("." if parts else "") + s)
            else:
                parts.append(f'["{s}"]')
    return "".join(parts)


# ----------------------------------------------------------- pydantic errors


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


def _type_at(loc: tuple) -> Any:
    """The (unwrapped) type at a pydantic ``loc`` below Spec, or None."""
    tp: Any = Spec
    for el in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = None
            for name, f in tp.model_fields.items():
                if (f.alias or name) == el or name == el:
                    field = f
                    break
            if field is None:
                return None
            tp = field.annotation
            continue
        origin = typing.get_origin(tp)
        if origin is list and isinstance(el, int):
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    return _unwrap(tp)


_EXPECT = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "a boolean",
    "bool_parsing": "a boolean (true or false)",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "float_type": "a number",
}


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    return type(v).__name__


def _pydantic_problems(errors: list[dict]) -> list[tuple[tuple, str, bool]]:
    out: list[tuple[tuple, str, bool]] = []
    for e in errors:
        loc = tuple(e["loc"])
        typ = e["type"]
        where = format_path(loc)
        if typ == "extra_forbidden":
            key = str(loc[-1])
            parent = loc[:-1]
            msg = f'unknown field "{key}"'
            cls = _type_at(parent)
            if isinstance(cls, type) and issubclass(cls, BaseModel):
                names = [f.alias or n for n, f in cls.model_fields.items()]
                close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
                if not close:
                    low = {n.lower(): n for n in names}
                    if key.lower() in low:
                        close = [low[key.lower()]]
                if close:
                    msg += f', did you mean "{close[0]}"?'
            if parent:
                msg = f"{format_path(parent)}: {msg}"
            out.append((loc, msg, True))
            continue
        expect = _EXPECT.get(typ)
        if expect:
            msg = f"{where}: expected {expect}, got {_kind(e.get('input'))}"
        elif typ in ("greater_than_equal", "less_than_equal"):
            msg = f"{where}: value {e.get('input')!r} out of range (permissions must be between 0 and 0o7777)"
        elif typ == "missing":
            msg = f"{where}: missing required field"
        else:
            msg = f"{where}: {e['msg']}"
        out.append((loc, msg, False))
    return out


# ----------------------------------------------------------------- LoadedSpec


class LoadedSpec:
    """A validated spec with its source map, for positioned errors."""

    def __init__(self, spec: Spec, filename: str, smap: SourceMap):
        self.spec = spec
        self.filename = filename
        self._smap = smap

    def _norm(self, path: tuple) -> tuple:
        return tuple(_FIELD_TO_ALIAS.get(p, p) if isinstance(p, str) else p for p in path)

    def position(self, path: tuple) -> tuple[int, int] | None:
        """1-based (line, col) of the node at ``path`` (YAML key names or field names), or None."""
        path = tuple(path)
        pos = self._smap.value(path)
        if pos is None:
            pos = self._smap.value(self._norm(path))
        return pos

    def key_position(self, path: tuple) -> tuple[int, int] | None:
        path = self._norm(tuple(path))
        return self._smap.keys.get(path) or self._smap.value(path)

    def diagnostic(self, path: tuple, message: str, *, at_key: bool = False) -> Diagnostic:
        pos = self._smap.nearest(self._norm(tuple(path)), prefer_key=at_key)
        if pos is None:
            return Diagnostic(self.filename, None, None, message)
        return Diagnostic(self.filename, pos[0], pos[1], message)

    def error(self, path: tuple, message: str) -> SpecError:
        """A positioned SpecError (nearest ancestor with a position)."""
        return SpecError([self.diagnostic(path, message)])

    def resolve(
        self,
        build_args: Mapping[str, str],
        *,
        target_key: str,
        target_platform: Platform,
        build_platform: Platform,
        allow_any_arg: bool = False,
    ) -> Spec:
        """A deep copy with build args substituted (Dalec ``SubstituteArgs``)."""
        spec = _deep_copy(self.spec)
        env, arg_errors = _args.build_arg_env(
            spec.args,
            build_args,
            target_key=target_key,
            target_platform=target_platform,
            build_platform=build_platform,
            allow_any_arg=allow_any_arg,
        )
        diags = [Diagnostic(self.filename, None, None, m) for m in arg_errors]
        declared = spec.args
        allow = (lambda k: True) if allow_any_arg else (lambda k: k in declared)
        ex = _args.Expander(env, allow)
        _substitute(spec, ex)
        for path, msg in ex.errors:
            diags.append(self.diagnostic(path, msg))
        err = validate_network_mode(spec.build.network_mode)
        if err and not any(p[:2] == ("build", "network_mode") for p, _ in ex.errors):
            diags.append(self.diagnostic(("build", "network_mode"), "build: " + err))
        if not ex.errors:
            diags.extend(self.diagnostic(p.path, p.message) for p in validate_refs(spec, resolved=True))
        if "SOURCE_DATE_EPOCH" in env and "SOURCE_DATE_EPOCH" not in spec.build.env:
            spec.build.env["SOURCE_DATE_EPOCH"] = env["SOURCE_DATE_EPOCH"]
        if diags:
            raise SpecError(_sorted(diags))
        spec._extensions = dict(self.spec._extensions)
        return spec


_ATOMS = frozenset({str, int, bool, float, type(None), YInt, YFloat})


def _deep_copy(v: Any) -> Any:
    """``model_copy(deep=True)`` for spec data, ~4x faster: the tree holds only models, lists, dicts
    and immutable scalars, so it needs none of ``copy.deepcopy``'s memo and dispatch. Anything else
    goes to ``copy.deepcopy``."""
    t = type(v)
    if t in _ATOMS:
        return v
    if t is list:
        return [_deep_copy(x) for x in v]
    if t is dict:
        return {k: _deep_copy(x) for k, x in v.items()}
    if isinstance(v, BaseModel):
        new = t.__new__(t)
        setattr_ = object.__setattr__
        setattr_(new, "__dict__", {k: _deep_copy(x) for k, x in v.__dict__.items()})
        extra = v.__pydantic_extra__
        setattr_(new, "__pydantic_extra__", None if extra is None else _deep_copy(extra))
        setattr_(new, "__pydantic_fields_set__", set(v.__pydantic_fields_set__))
        private = v.__pydantic_private__
        setattr_(new, "__pydantic_private__", None if private is None else copy.deepcopy(private))
        return new
    return copy.deepcopy(v)


def _sorted(diags: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(diags, key=lambda d: (d.line is not None, d.line or 0, d.column or 0))


# --------------------------------------------------------------- substitution


def _sub_source(src: Source, p: tuple, ex: _args.Expander) -> None:
    if src.path:
        src.path = ex.expand(src.path, p + ("path",))
    ex.list(src.includes, p + ("includes",))
    ex.list(src.excludes, p + ("excludes",))
    if src.context is not None:
        src.context.name = ex.expand(src.context.name, p + ("context", "name"))
    if src.git is not None:
        src.git.url = ex.expand(src.git.url, p + ("git", "url"))
        src.git.commit = ex.expand(src.git.commit, p + ("git", "commit"))
        src.git.checksum = ex.expand(src.git.checksum, p + ("git", "checksum"))
    if src.http is not None:
        src.http.url = ex.expand(src.http.url, p + ("http", "url"))
    if src.image is not None:
        ip = p + ("image",)
        src.image.ref = ex.expand(src.image.ref, ip + ("ref",))
        cmd = src.image.cmd
        if cmd is not None:
            _sub_mounts(cmd.mounts, ip + ("cmd", "mounts"), ex)
            ex.map(cmd.env, ip + ("cmd", "env"))
            for i, step in enumerate(cmd.steps):
                ex.map(step.env, ip + ("cmd", "steps", i, "env"))
    if src.build is not None:
        bp = p + ("build",)
        if src.build.source is not None:
            _sub_source(src.build.source, bp + ("source",), ex)
        src.build.dockerfile_path = ex.expand(src.build.dockerfile_path, bp + ("dockerfile_path",))
        src.build.target = ex.expand(src.build.target, bp + ("target",))
    for i, g in enumerate(src.generate):
        if g.gomod is not None and g.gomod.auth:
            new = {}
            for host, auth in g.gomod.auth.items():
                new[ex.expand(host, p + ("generate", i, "gomod", "auth", host))] = auth
            g.gomod.auth = new


def _sub_mounts(mounts: list[SourceMount], p: tuple, ex: _args.Expander) -> None:
    for i, m in enumerate(mounts):
        _sub_source(m.spec, p + (i, "spec"), ex)


def _sub_check(c, p: tuple, ex: _args.Expander) -> None:
    if c is None:
        return
    for f in ("equals", "starts_with", "ends_with"):
        setattr(c, f, ex.expand(getattr(c, f), p + (f,)))
    ex.list(c.contains, p + ("contains",))
    ex.list(c.matches, p + ("matches",))


def _sub_tests(tests: list[TestSpec], p: tuple, ex: _args.Expander) -> None:
    for i, t in enumerate(tests):
        tp = p + (i,)
        ex.map(t.env, tp + ("env",))
        _sub_mounts(t.mounts, tp + ("mounts",), ex)
        for j, step in enumerate(t.steps):
            sp = tp + ("steps", j)
            ex.map(step.env, sp + ("env",))
            step.stdin = ex.expand(step.stdin, sp + ("stdin",))
            _sub_check(step.stdout, sp + ("stdout",), ex)
            _sub_check(step.stderr, sp + ("stderr",), ex)
        for path, check in t.files.items():
            _sub_check(check, tp + ("files", path), ex)


def _sub_deps(deps, p: tuple, ex: _args.Expander) -> None:
    if deps is None:
        return
    for kind in ("build", "runtime"):  # as Dalec: recommends, test and sysext versions are left as written
        for versions, vp in _args.iter_versions(getattr(deps, kind), p + (kind,)):
            ex.list(versions, vp)
    for i, repo in enumerate(deps.extra_repos):
        rp = p + ("extra_repos", i)
        for kind in ("keys", "config"):
            for name, src in getattr(repo, kind).items():
                _sub_source(src, rp + (kind, name), ex)
        _sub_mounts(repo.data, rp + ("data",), ex)


def _sub_pkg_lists(obj, p: tuple, ex: _args.Expander) -> None:
    for kind in ("provides", "replaces", "conflicts"):
        d = getattr(obj, kind)
        if d:
            for versions, vp in _args.iter_versions(d, p + (kind,)):
                ex.list(versions, vp)


def _substitute(spec: Spec, ex: _args.Expander) -> None:
    for name, src in spec.sources.items():
        _sub_source(src, ("sources", name), ex)
    for sname, patches in spec.patches.items():
        for i, patch in enumerate(patches):
            patch.path = ex.expand(patch.path, ("patches", sname, i, "path"))
    spec.version = ex.expand(spec.version, ("version",))
    spec.revision = ex.expand(spec.revision, ("revision",))
    b: ArtifactBuild = spec.build
    ex.map(b.env, ("build", "env"))
    if b.network_mode:
        b.network_mode = ex.expand(b.network_mode, ("build", "network_mode"))
    for i, step in enumerate(b.steps):
        ex.map(step.env, ("build", "steps", i, "env"))
    _sub_tests(spec.tests, ("tests",), ex)
    for key, t in spec.targets.items():
        tp = ("targets", key)
        _sub_tests(t.tests, tp + ("tests",), ex)
        if t.package_config is not None and t.package_config.signer is not None:
            ex.map(t.package_config.signer.args, tp + ("package_config", "signer", "args"))
        if t.image is not None:
            ex.map(t.image.labels, tp + ("image", "labels"))
        _sub_deps(t.dependencies, tp + ("dependencies",), ex)
        _sub_pkg_lists(t, tp, ex)
    if spec.package_config is not None and spec.package_config.signer is not None:
        ex.map(spec.package_config.signer.args, ("package_config", "signer", "args"))
    if spec.image is not None:
        ex.map(spec.image.labels, ("image", "labels"))
    _sub_deps(spec.dependencies, ("dependencies",), ex)
    _sub_pkg_lists(spec, (), ex)


# --------------------------------------------------------------------- load


def load_spec(data: str | bytes, filename: str = "spec.yml") -> LoadedSpec:
    """Parse, validate and fill defaults. Raises SpecError (never anything else for bad input)."""
    raw, smap = parse_yaml(data, filename)
    if not _FIELD_TO_ALIAS:
        _collect_aliases(Spec, set())
    diags: list[Diagnostic] = []

    def diag(path: tuple, msg: str, at_key: bool = False) -> None:
        pos = smap.nearest(path, prefer_key=at_key)
        diags.append(Diagnostic(filename, pos[0] if pos else None, pos[1] if pos else None, msg))

    ext: dict[str, Any] = {}
    body: dict[str, Any] = {}
    for k, v in raw.items():
        if k.startswith(("x-", "X-")):
            ext[k] = v
        elif k == "caches":
            diag(
                ("caches",),
                "caches must be under build: (build.caches); a top-level caches key is not part of the spec",
                True,
            )
        else:
            body[k] = v
    try:
        spec = Spec.model_validate(body)
    except ValidationError as e:
        # Only the first MAX_DIAGNOSTICS (by position) are worded: wording costs (e.g. "did you mean"),
        # and a spec can have one error per node.
        errors = e.errors(include_url=False, include_context=True)

        def where(err: dict) -> tuple[int, int]:
            pos = smap.nearest(tuple(err["loc"]), prefer_key=err["type"] == "extra_forbidden")
            return pos or (0, 0)

        if len(errors) > MAX_DIAGNOSTICS:
            errors = sorted(errors, key=where)
        for loc, msg, at_key in _pydantic_problems(errors[:MAX_DIAGNOSTICS]):
            diag(loc, msg, at_key)
        raise SpecError(_sorted(diags), omitted=max(0, len(errors) - MAX_DIAGNOSTICS)) from None
    except RecursionError:
        raise SpecError.single(filename, "spec is nested too deeply") from None
    for p in validate_spec(spec):
        diag(p.path, p.message, p.at_key)
    if diags:
        raise SpecError(_sorted(diags))
    fill_defaults(spec)
    spec._extensions = ext
    return LoadedSpec(spec, filename, smap)


def load_spec_file(path: str | os.PathLike) -> LoadedSpec:
    """Read a spec file (refusing files over the size limit before reading them)."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            data = f.read(MAX_SPEC_BYTES + 1)
    except OSError as e:
        raise SpecError.single(name, f"cannot read spec: {e.strerror or e}") from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError.single(name, f"spec is too large (limit {MAX_SPEC_BYTES} bytes)")
    return load_spec(data, name)
