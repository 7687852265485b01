"""Dalec's semantic validation and default filling, on the models.

``validate_spec`` returns ``Problem``s: (path, message, at_key). The path is a
YAML path (keys as spelled in YAML, list indices as ints) of the most specific
node; the loader turns it into a ``FILE:LINE:COL`` position. Messages follow
Dalec's wording and wrapping (``build: cache 0: invalid cache dir config: ...``).

One deliberate choice: an empty cache ``dir.dest`` reports only
``cache dir dest is required``; Dalec also appends the (redundant)
``cache dir dest must be an absolute path: `` for the same empty value.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from typing import Mapping, NamedTuple
from urllib.parse import urlsplit

from pydantic import BaseModel

from .. import refs
from ..limits import MAX_BUILD_STEPS, MAX_STEP_MOUNTS, MAX_TESTS
from .models import (
    Artifacts,
    CacheConfig,
    GomodGitAuth,
    GomodGitAuthSSH,
    ImageConfig,
    Source,
    SourceMount,
    TestSpec,
)

Path = tuple


class Problem(NamedTuple):
    path: Path
    message: str
    at_key: bool = False


VALID_SHARING = ("shared", "locked", "private")
VALID_NETWORK_MODES = ("none", "sandbox")
VALID_REPO_ENVS = ("build", "install", "test")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_DIGEST_HEX = {"sha256": 64, "sha384": 96, "sha512": 128}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _is_root(p: str) -> bool:
    return p in ("", "/", ".")


def _clean_path(p: str) -> str:
    """Go's path.Clean: `//a` is `/a` too (posixpath.normpath keeps a leading `//`)."""
    if not p:
        return p
    out = posixpath.normpath(p)
    return "/" + out.lstrip("/") if out.startswith("//") else out


def _path_has_prefix(s: str, prefix: str) -> bool:
    s, prefix = _clean_path(s), _clean_path(prefix)
    return s == prefix or s.startswith(prefix.rstrip("/") + "/")


#: POSIX shell variable names: generated scripts `export NAME=...`, so nothing else may reach them.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ID = 2**32 - 1  # uid/gid: LLB carries them as uint32


def env_name_error(name: str) -> str | None:
    if _ENV_NAME.fullmatch(name):
        return None
    return f"invalid environment variable name {_go_quote(name)}: use letters, digits and _, not starting with a digit"


def _validate_env(env: Mapping[str, str], path: Path, wrap: str, out: list[Problem]) -> None:
    for name in env:
        err = env_name_error(name)
        if err:
            out.append(Problem(path + (name,), wrap + err, True))


def path_error(p: str, *, name: bool = False) -> str | None:
    """Why `p` cannot be a path beneath its root (an install directory, the package root), or None.

    A leading `/` is allowed (it means the root, as Go's filepath.Join reads it); `..` components, control
    characters and paths naming the root itself are not. With `name`, `p` must be one component (no `/`)."""
    if not p:
        return "must not be empty"
    if _CONTROL.search(p):
        return "must not contain control characters"
    parts = p.split("/")
    if ".." in parts:
        return 'must not contain ".." (it must stay beneath its directory)'
    if name and "/" in p:
        return 'must be a name, without "/"'
    if all(x in ("", ".") for x in parts):
        return "must name something beneath its directory, not the directory itself"
    return None


def _check_path(value: str, path: Path, what: str, out: list[Problem], *, name: bool = False, at_key: bool = False) -> None:
    err = path_error(value, name=name)
    if err:
        out.append(Problem(path, f"{what} {_go_quote(value)} {err}", at_key))


# ------------------------------------------------------------------ sources


def validate_source(src: Source, path: Path, wrap: str, out: list[Problem]) -> None:
    """Validate one source; ``wrap`` is the message prefix (e.g. ``invalid source foo: ``)."""
    for i, g in enumerate(src.generate):
        n = sum(x is not None for x in (g.gomod, g.cargohome, g.pip, g.nodemod))
        if n == 0:
            out.append(Problem(path + ("generate", i), f"{wrap}source generator {i}: no generator type specified"))
        elif n > 1:
            out.append(
                Problem(path + ("generate", i), f"{wrap}source generator {i}: more than one generator type specified")
            )
        if g.gomod is not None and g.gomod.edits is not None:
            for j, r in enumerate(g.gomod.edits.replace):
                if not r.old or not r.new:
                    out.append(Problem(
                        path + ("generate", i, "gomod", "edits", "replace", j),
                        f"{wrap}source generator {i}: gomod generator: gomod edits: replace[{j}]: "
                        "invalid gomod replace, old and new must be non-empty (a string must read 'old => new')",
                    ))
    variants = src.variants()
    if not variants:
        out.append(Problem(path, f"{wrap}no non-nil source variant"))
        return
    if len(variants) > 1:
        out.append(Problem(path + (variants[1],), f"{wrap}more than one source variant defined", True))
        return
    kind = variants[0]
    vpath = path + (kind,)
    if kind == "git":
        g = src.git
        if not g.url:
            out.append(Problem(vpath, f"{wrap}invalid git source: git source must have a URL"))
        if not g.commit:
            out.append(Problem(vpath, f"{wrap}invalid git source: git source must have a commit"))
    elif kind == "http":
        h = src.http
        if not h.url:
            out.append(Problem(vpath, f"{wrap}http source must have a URL"))
        if h.digest:
            err = _digest_error(h.digest)
            if err:
                out.append(Problem(vpath + ("digest",), f"{wrap}invalid digest {h.digest!r}: {err}"))
        if src.excludes:
            out.append(Problem(path + ("excludes",), f"{wrap}http source cannot be used with excludes"))
        if src.includes:
            out.append(Problem(path + ("includes",), f"{wrap}http source cannot be used with includes"))
        if src.path:
            out.append(Problem(path + ("path",), f"{wrap}http source cannot be used with path"))
    elif kind == "inline":
        inl = src.inline
        if inl.file is None and inl.dir is None:
            out.append(Problem(vpath, f"{wrap}inline source is missing contents to inline"))
        if inl.file is not None and inl.dir is not None:
            out.append(Problem(vpath, f"{wrap}inline source variant cannot have both a file and dir set"))
        if inl.dir is not None:
            d = inl.dir
            dpath = vpath + ("dir",)
            for attr in ("uid", "gid"):
                err = _id_error(attr, getattr(d, attr))
                if err:
                    out.append(Problem(dpath + (attr,), wrap + err))
            for name, f in d.files.items():
                fpath = dpath + ("files", name)
                if "/" in name:
                    out.append(Problem(fpath, f"{wrap}file {name!r}: source name must not contain path separator", True))
                elif name in ("", ".", ".."):
                    out.append(Problem(fpath, f"{wrap}file {name!r}: invalid inline file name", True))
                for attr in ("uid", "gid"):
                    err = _id_error(attr, getattr(f, attr))
                    if err:
                        out.append(Problem(fpath + (attr,), f"{wrap}file {name!r}: {err}"))
        if inl.file is not None:
            f = inl.file
            if src.path:
                out.append(Problem(path + ("path",), f"{wrap}inline file source cannot have a path set"))
            if src.includes:
                out.append(Problem(path + ("includes",), f"{wrap}inline file source cannot have includes set"))
            if src.excludes:
                out.append(Problem(path + ("excludes",), f"{wrap}inline file source cannot have excludes set"))
            for attr in ("uid", "gid"):
                err = _id_error(attr, getattr(f, attr))
                if err:
                    out.append(Problem(vpath + ("file", attr), f"{wrap}inline file source validation failed: {err}"))
    elif kind == "image":
        img = src.image
        if not img.ref:
            out.append(Problem(vpath, f"{wrap}docker image source must have a ref"))
        if img.cmd is not None:
            cpath = vpath + ("cmd",)
            if not img.cmd.steps:
                out.append(Problem(cpath, f"{wrap}command must have at least one step"))
            _validate_env(img.cmd.env, cpath + ("env",), wrap, out)
            for i, step in enumerate(img.cmd.steps):
                if not step.command:
                    out.append(Problem(cpath + ("steps", i), f"{wrap}step {i}: step must have a command"))
                _validate_env(step.env, cpath + ("steps", i, "env"), f"{wrap}step {i}: ", out)
            _validate_mounts(img.cmd.mounts, cpath + ("mounts",), wrap, out, root=src.path or "/")
        if src.path == "":
            out.append(Problem(path, f"{wrap}docker image source path cannot be empty"))
    elif kind == "build":
        b = src.build
        if b.source is None:
            out.append(Problem(vpath, f"{wrap}build source must have a source"))
        elif b.source.build is not None:
            out.append(Problem(vpath + ("source",), f"{wrap}build sources cannot be recursive"))
        else:
            validate_source(b.source, vpath + ("source",), wrap, out)


def _id_error(attr: str, v: int) -> str | None:
    if v < 0:
        return f"{attr} {v} must be non-negative"
    if v > MAX_ID:
        return f"{attr} {v} must be at most {MAX_ID}"
    return None


def _digest_error(d: str) -> str | None:
    if not _DIGEST_RE.match(d):
        return "invalid checksum digest format"
    alg, _, hexpart = d.partition(":")
    n = _DIGEST_HEX.get(alg)
    if n is None:
        return "unsupported digest algorithm"
    if len(hexpart) != n or not re.fullmatch(r"[a-f0-9]+", hexpart):
        return "invalid checksum digest length"
    return None


def _validate_mounts(mounts: list[SourceMount], path: Path, wrap: str, out: list[Problem], root: str | None = None) -> None:
    if len(mounts) > MAX_STEP_MOUNTS:
        out.append(Problem(path + (MAX_STEP_MOUNTS,), f"{wrap}more than {MAX_STEP_MOUNTS} mounts (the limit)"))
        return
    seen: set[str] = set()
    for i, m in enumerate(mounts):
        mpath = path + (i,)
        if not m.dest:
            out.append(Problem(mpath, f"{wrap}mount {i}: mount destination must not be empty"))
        elif _clean_path(m.dest) == "/":
            out.append(Problem(mpath + ("dest",), f'{wrap}mount {i}: mount destination must not be "/"'))
        elif root is not None and not _is_root(root) and _path_has_prefix(m.dest, root):
            out.append(
                Problem(mpath + ("dest",), f"{wrap}mount {i}: mount destination must not be under the source path {root!r}")
            )
        if m.dest:
            key = _clean_path(m.dest)
            if key in seen:
                out.append(Problem(mpath + ("dest",), f"{wrap}mount {i}: duplicate mount destination: {m.dest}"))
            seen.add(key)
        validate_source(m.spec, mpath + ("spec",), f"{wrap}mount {i}: ", out)


# ---------------------------------------------------------- refs and URLs


def _walk_sources(obj, path: Path):
    """Every Source in the spec tree with its YAML path (sources, mounts, bases, extra repos, build
    sources' contexts): a source kind added later is checked without listing it here."""
    if isinstance(obj, Source):
        yield path, obj
    if isinstance(obj, BaseModel):
        for name, f in type(obj).model_fields.items():
            value = getattr(obj, name)
            if value is not None and not isinstance(value, (str, int, bool)):
                yield from _walk_sources(value, path + (f.alias or name,))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (BaseModel, dict, list)):
                yield from _walk_sources(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if isinstance(v, (BaseModel, dict, list)):
                yield from _walk_sources(v, path + (i,))


def validate_refs(spec, *, resolved: bool) -> list[Problem]:
    """Image references and git URLs that BuildKit would reject, positioned. Before build-arg
    substitution (`resolved` False) a value with a `$` is left for the check after it."""
    out: list[Problem] = []

    def check(value: str, path: Path, parse, what: str) -> None:
        if not value or (not resolved and "$" in value):
            return
        try:
            parse(value)
        except refs.RefError as exc:
            out.append(Problem(path, f"{what}: {exc}"))

    for path, src in _walk_sources(spec, ()):
        if src.image is not None:
            check(src.image.ref, path + ("image", "ref"), refs.normalize_image_ref, "invalid image reference")
        if src.git is not None:
            check(src.git.url, path + ("git", "url"), refs.parse_git_url, "invalid git URL")
    images = [(("image",), spec.image)] + [(("targets", k, "image"), t.image) for k, t in spec.targets.items()]
    for path, img in images:
        if img is not None:
            check(img.base, path + ("base",), refs.normalize_image_ref, "invalid image reference")
    return out


# ------------------------------------------------------------------- build


def validate_cache(c: CacheConfig, path: Path) -> list[Problem]:
    out: list[Problem] = []
    variants = c.variants()
    if len(variants) != 1:
        return [Problem(path, "invalid cache config: exactly one of (dir, gobuild, bazel) must be set")]
    if c.dir is not None:
        d = c.dir
        dpath = path + ("dir",)
        if not d.dest:
            out.append(Problem(dpath, "invalid cache dir config: cache dir dest is required"))
        elif not d.dest.startswith("/"):
            out.append(Problem(dpath + ("dest",), f"invalid cache dir config: cache dir dest must be an absolute path: {d.dest}"))
        if d.sharing not in ("",) + VALID_SHARING:
            out.append(
                Problem(
                    dpath + ("sharing",),
                    f"invalid cache dir config: invalid cache dir sharing mode: {d.sharing}, valid values: [shared locked private]",
                )
            )
    return out


def validate_network_mode(mode: str) -> str | None:
    if mode in ("",) + VALID_NETWORK_MODES:
        return None
    return f"invalid network mode: {_go_quote(mode)}: valid values [none sandbox]"


def _go_quote(s: str) -> str:
    import json

    return json.dumps(s, ensure_ascii=False)


def validate_build(spec, out: list[Problem], *, check_network: bool = True) -> None:
    b = spec.build
    bp: Path = ("build",)
    if not b.steps and (b.caches or b.env or b.network_mode):
        out.append(Problem(bp, "build: artifact build must have at least one step"))
    if len(b.steps) > MAX_BUILD_STEPS:
        out.append(Problem(bp + ("steps", MAX_BUILD_STEPS), f"build: more than {MAX_BUILD_STEPS} steps (the limit)"))
        return
    _validate_env(b.env, bp + ("env",), "build: env: ", out)
    for i, step in enumerate(b.steps):
        if not step.command:
            out.append(Problem(bp + ("steps", i), f"build: step {i}: step must have a command"))
        _validate_env(step.env, bp + ("steps", i, "env"), f"build: step {i}: ", out)
        _validate_mounts(step.mounts, bp + ("steps", i, "mounts"), f"build: step {i}: ", out)
    if check_network and "$" not in b.network_mode:
        err = validate_network_mode(b.network_mode)
        if err:
            out.append(Problem(bp + ("network_mode",), "build: " + err))
    gobuild = 0
    for i, c in enumerate(b.caches):
        cpath = bp + ("caches", i)
        if c.gobuild is not None:
            gobuild += 1
            if gobuild == 2:
                out.append(Problem(cpath, "build: only one gobuild cache is allowed"))
        for p in validate_cache(c, cpath):
            out.append(Problem(p.path, f"build: cache {i}: {p.message}", p.at_key))


# ------------------------------------------------------------------- image


def validate_image(img: ImageConfig | None, path: Path, wrap: str, out: list[Problem]) -> None:
    if img is None:
        return
    if img.base and img.bases:
        out.append(Problem(path + ("base",), f"{wrap}cannot specify both image.base and image.bases", True))
    for field in ("entrypoint", "cmd"):
        try:
            shlex.split(getattr(img, field))
        except ValueError as e:  # unbalanced quotes, a trailing backslash
            out.append(Problem(path + (field,), f"{wrap}{field}: cannot split {_go_quote(getattr(img, field))} into words: {e}"))
    for i, entry in enumerate(img.env):
        name, eq, _ = entry.partition("=")
        err = env_name_error(name) if eq else f"env entry {_go_quote(entry)} must be NAME=value"
        if err:
            out.append(Problem(path + ("env", i), wrap + err))
    for i, b in enumerate(img.bases):
        rp = path + ("bases", i, "rootfs")
        if b.rootfs.image is None:
            out.append(Problem(rp, f"{wrap}bases[{i}]: rootfs currently only supports image source types"))
            continue
        problems: list[Problem] = []
        validate_source(b.rootfs, rp, f"{wrap}bases[{i}]: rootfs: ", problems)
        # A base's rootfs has no path (Dalec ignores that one error for bases).
        out.extend(p for p in problems if not p.message.endswith("docker image source path cannot be empty"))
    if img.post is not None:
        seen: set[str] = set()
        for old, tgt in img.post.symlinks.items():
            sp = path + ("post", "symlinks", old)
            if not old:
                out.append(Problem(sp, f"{wrap}postinstall: symlink source is empty", True))
            if bool(tgt.path) == bool(tgt.paths):
                out.append(
                    Problem(sp, f"{wrap}symlink {old}: 'path' and 'paths' fields are mutually exclusive, and at least one is required")
                )
                continue
            for j, np in enumerate([tgt.path] if tgt.path else tgt.paths):
                if not np:
                    out.append(Problem(sp + ("paths", j), f"{wrap}postinstall: symlink newpath should not be empty"))
                    continue
                if np in seen:
                    out.append(Problem(sp, f"{wrap}symlink 'newpaths' must be unique: {np}"))
                seen.add(np)


# ------------------------------------------------------------------- tests


def validate_tests(tests: list[TestSpec], path: Path, wrap: str, out: list[Problem], before: int = 0) -> None:
    """`before`: how many tests run ahead of these in one target (the root's, for a target's tests)."""
    if before + len(tests) > MAX_TESTS:
        out.append(Problem(path + (max(MAX_TESTS - before, 0),), f"{wrap}more than {MAX_TESTS} tests (the limit)"))
        return
    for i, t in enumerate(tests):
        tp = path + (i,)
        name = t.name or f"test {i}"
        _validate_mounts(t.mounts, tp + ("mounts",), f"{wrap}{name}: ", out)
        _validate_env(t.env, tp + ("env",), f"{wrap}{name}: ", out)
        for j, step in enumerate(t.steps):
            if not step.command:
                out.append(Problem(tp + ("steps", j), f"{wrap}{name}: step {j}: step must have a command"))
            _validate_env(step.env, tp + ("steps", j, "env"), f"{wrap}{name}: step {j}: ", out)


def _validate_deps(deps, path: Path, wrap: str, out: list[Problem]) -> None:
    if deps is None:
        return
    for i, repo in enumerate(deps.extra_repos):
        rp = path + ("extra_repos", i)
        for j, env in enumerate(repo.envs):
            if env not in VALID_REPO_ENVS:
                out.append(
                    Problem(rp + ("envs", j), f"{wrap}extra repo {i}: invalid env {env!r}, valid values: [build install test]")
                )
        for kind in ("keys", "config"):
            for name, src in getattr(repo, kind).items():
                validate_source(src, rp + (kind, name), f"{wrap}extra repo {i}: {kind} {name}: ", out)
        _validate_mounts(repo.data, rp + ("data",), f"{wrap}extra repo {i}: data: ", out)


# --------------------------------------------------------------- artifacts

_ARTIFACT_MAPS = ("binaries", "libexec", "opt", "manpages", "data_dirs", "config_files", "docs", "licenses", "libs",
                  "headers")
_CAPABLE = ("binaries", "libs", "libexec", "opt")  # Dalec: file capabilities only on executables


def validate_artifacts(a: Artifacts | None, path: Path, wrap: str, out: list[Problem]) -> None:
    """Every path an artifact is installed to stays beneath its install directory (and the package root), and
    file capabilities only on executable kinds (Dalec's Artifacts.validate)."""
    if a is None:
        return
    for kind in _ARTIFACT_MAPS:
        field = Artifacts.model_fields[kind]
        key = field.alias or kind
        _validate_artifact_map(getattr(a, kind), path + (key,), f"{wrap}{key} ", out)
        if kind in _CAPABLE:
            continue
        for name, cfg in getattr(a, kind).items():
            if cfg.linux_capabilities:
                out.append(Problem(
                    path + (key, name, "linux_capabilities"),
                    f"{wrap}capabilities can only be set on executable files ({', '.join(_CAPABLE)}); "
                    f"cannot set capabilities on {key} '{name}'",
                ))
    if a.systemd is not None:
        sp = path + ("systemd",)
        for kind, entries in (("unit", a.systemd.units), ("dropin", a.systemd.dropins)):
            for src, cfg in entries.items():
                ep = sp + (kind + "s", src)
                _check_source_key(src, cfg.name, ep, f"{wrap}systemd {kind} ", out)
                if cfg.name:
                    _check_path(cfg.name, ep + ("name",), f"{wrap}systemd {kind} {_go_quote(src)}: name", out, name=True)
                if kind == "dropin":
                    _check_path(cfg.unit, ep + ("unit",), f"{wrap}systemd dropin {_go_quote(src)}: unit", out, name=True)
    if a.create_directories is not None:
        for kind in ("config", "state"):
            for d in getattr(a.create_directories, kind):
                dp = path + ("createDirectories", kind, d)
                _check_path(d, dp, f"{wrap}createDirectories {kind}:", out, at_key=True)
    for i, link in enumerate(a.links):
        lp = path + ("links", i)
        if not link.source or _CONTROL.search(link.source):
            what = "must not be empty" if not link.source else "must not contain control characters"
            out.append(Problem(lp + ("source",), f"{wrap}link {i}: source {_go_quote(link.source)} {what}"))
        _check_path(link.dest, lp + ("dest",), f"{wrap}link {i}: dest", out)


def _check_source_key(src: str, name: str, path: Path, wrap: str, out: list[Problem]) -> None:
    """An artifact's key: the file to install (absolute, or relative to the build directory); without a
    `name`, its last component names the installed file."""
    if not src or _CONTROL.search(src):
        what = "must not be empty" if not src else "must not contain control characters"
        out.append(Problem(path, f"{wrap}{_go_quote(src)} {what}", True))
    elif not name and src.rstrip("/").rpartition("/")[2] in ("", ".", ".."):
        out.append(Problem(path, f"{wrap}{_go_quote(src)} names no file to install as: set name", True))


def _validate_artifact_map(entries: Mapping, path: Path, wrap: str, out: list[Problem]) -> None:
    for src, cfg in entries.items():
        ep = path + (src,)
        _check_source_key(src, cfg.name, ep, wrap, out)
        if cfg.name:
            _check_path(cfg.name, ep + ("name",), f"{wrap}{_go_quote(src)}: name", out)
        if cfg.subpath and cfg.subpath.strip("/"):
            _check_path(cfg.subpath, ep + ("subpath",), f"{wrap}{_go_quote(src)}: subpath", out)


# -------------------------------------------------------------------- spec


def validate_spec(spec) -> list[Problem]:
    out: list[Problem] = []
    for name, src in spec.sources.items():
        wrap = f"invalid source {name}: "
        if "/" in name:
            out.append(Problem(("sources", name), wrap + "source name must not contain path separator", True))
        elif name in ("", ".", "..") or _CONTROL.search(name):
            out.append(Problem(("sources", name), wrap + "source name must name a file or directory", True))
        validate_source(src, ("sources", name), wrap, out)

    validate_tests(spec.tests, ("tests",), "", out)

    for target_src, patches in spec.patches.items():
        for i, p in enumerate(patches):
            pp = ("patches", target_src, i)
            wrap = f"invalid patch for source {_go_quote(target_src)}, patch source: {_go_quote(p.source)}: "
            psrc = spec.sources.get(p.source)
            if psrc is None:
                out.append(Problem(pp + ("source",), wrap + "source is missing from sources list"))
                continue
            if psrc.variant_name is None:
                continue
            if psrc.is_dir():
                if _is_root(p.path):
                    out.append(
                        Problem(pp, wrap + "patch source refers to a directory source without a subpath to the patch file to use")
                    )
            elif not _is_root(p.path):
                out.append(Problem(pp + ("path",), wrap + "patch source refers to a file source but patch spec specifies a subpath"))
            if p.strip is not None and p.strip < 0:
                out.append(Problem(pp + ("strip",), wrap + f"strip {p.strip} must be non-negative"))

    _validate_deps(spec.dependencies, ("dependencies",), "dependencies: ", out)
    validate_image(spec.image, ("image",), "image: ", out)
    validate_artifacts(spec.artifacts, ("artifacts",), "artifacts: ", out)

    for key, t in spec.targets.items():
        tp = ("targets", key)
        wrap = f"target {key}: "
        _validate_deps(t.dependencies, tp + ("dependencies",), wrap + "dependencies: ", out)
        validate_image(t.image, tp + ("image",), wrap + "image: ", out)
        validate_tests(t.tests, tp + ("tests",), wrap, out, before=min(len(spec.tests), MAX_TESTS))
        validate_artifacts(t.artifacts, tp + ("artifacts",), wrap + "artifacts: ", out)

    validate_build(spec, out)

    out.extend(validate_refs(spec, resolved=False))

    for i, c in enumerate(spec.changelog):
        if not _DATE_RE.match(c.date) or not _valid_date(c.date):
            out.append(Problem(("changelog", i, "date"), f"changelog {i}: invalid date {c.date!r}: expected YYYY-MM-DD"))
    return out


def _valid_date(s: str) -> bool:
    import datetime

    try:
        datetime.date.fromisoformat(s)
        return True
    except ValueError:
        return False


# ------------------------------------------------------------ fill defaults


def _fill_source(src: Source) -> None:
    if src.context is not None and not src.context.name:
        src.context.name = "context"
    if src.inline is not None:
        if src.inline.file is not None and not src.inline.file.permissions:
            src.inline.file.permissions = 0o644
        if src.inline.dir is not None:
            if not src.inline.dir.permissions:
                src.inline.dir.permissions = 0o755
            for f in src.inline.dir.files.values():
                if not f.permissions:
                    f.permissions = 0o644
    if src.build is not None:
        if not src.build.dockerfile_path:
            src.build.dockerfile_path = "Dockerfile"
        if src.build.source is not None:
            _fill_source(src.build.source)
    if src.image is not None and src.image.cmd is not None:
        for m in src.image.cmd.mounts:
            _fill_source(m.spec)
    if src.git is not None:
        auth = src.git.auth
        host = _git_host(src.git.url)
        if host and (auth.token or auth.header or auth.ssh):
            for g in src.generate:
                if g.gomod is None or host in g.gomod.auth:
                    continue
                if auth.token:
                    ga = GomodGitAuth(token=auth.token)
                elif auth.header:
                    ga = GomodGitAuth(header=auth.header)
                else:
                    ga = GomodGitAuth(ssh=GomodGitAuthSSH(id=auth.ssh, username="git"))
                g.gomod.auth[host] = ga


def _git_host(url: str) -> str:
    if "://" in url:
        try:
            return urlsplit(url).hostname or ""
        except ValueError:
            return ""
    m = re.match(r"^(?:[^@/]+@)?([^:/]+):", url)  # scp-like git@host:path
    return m.group(1) if m else ""


def _fill_image(img: ImageConfig | None) -> None:
    if img is None:
        return
    if img.base and not img.bases:
        from .models import BaseImage, SourceDockerImage

        img.bases = [BaseImage(rootfs=Source(image=SourceDockerImage(ref=img.base)))]
        img.base = ""


def _fill_deps(deps) -> None:
    if deps is None:
        return
    for repo in deps.extra_repos:
        if not repo.envs:
            repo.envs = list(VALID_REPO_ENVS)
        for src in list(repo.keys.values()) + list(repo.config.values()):
            _fill_source(src)
            if src.http is not None:
                src.http.permissions = 0o644
        for m in repo.data:
            _fill_source(m.spec)


def _fill_mounts(mounts: list[SourceMount]) -> None:
    for m in mounts:
        _fill_source(m.spec)


def fill_defaults(spec) -> None:
    for src in spec.sources.values():
        _fill_source(src)
    for patches in spec.patches.values():
        for p in patches:
            if p.strip is None:
                p.strip = 1
    for step in spec.build.steps:
        _fill_mounts(step.mounts)
    for c in spec.build.caches:
        if c.dir is not None and not c.dir.sharing:
            c.dir.sharing = "shared"
    _fill_deps(spec.dependencies)
    _fill_image(spec.image)
    for t in spec.tests:
        _fill_mounts(t.mounts)
    for t in spec.targets.values():
        _fill_deps(t.dependencies)
        _fill_image(t.image)
        for ts in t.tests:
            _fill_mounts(ts.mounts)
