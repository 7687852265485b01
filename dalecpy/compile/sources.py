"""Spec sources -> LLB states, and the tree of all sources the build steps run in."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Mapping

from .. import llb
from ..platforms import Platform
from .options import UnsupportedSetting
from .script import DEFAULT_PATH

DEFAULT_CONTEXT = "context"


@dataclass(frozen=True)
class SourceEnv:
    """What turning a source into LLB depends on besides the source itself."""

    platform: Platform
    session_id: str | None = None
    context_excludes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def for_build(cls, ctx) -> "SourceEnv":
        o = ctx.options
        return cls(ctx.platform, o.session_id, o.context_excludes)


def context_names(spec) -> set[str]:
    """Names of every local context the spec reads (sources, and sources mounted into steps and tests)."""
    from ..spec.models import Source

    names: set[str] = set()

    def walk(obj) -> None:
        if isinstance(obj, Source) and obj.context is not None:
            names.add(obj.context.name or DEFAULT_CONTEXT)
        if isinstance(obj, dict):
            for v in obj.values():
                walk(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v)
        elif hasattr(obj, "__pydantic_fields__"):
            for name in type(obj).__pydantic_fields__:
                walk(getattr(obj, name))

    walk(spec)
    return names


def is_dir_source(src) -> bool:
    """Dalec's file-backed sources are http and inline files; everything else yields a directory."""
    return not (src.http is not None or (src.inline is not None and src.inline.file is not None))


def source_state(name: str, src, env: SourceEnv) -> llb.State:
    """The source's content at the root of a state (a directory's entries, or one file called `name`)."""
    filtered = bool(src.path or src.includes or src.excludes)
    if src.context is not None:
        ctx = src.context.name or DEFAULT_CONTEXT
        ignored = tuple(env.context_excludes.get(ctx, ()))  # .dockerignore, as the Dockerfile frontend applies it
        st = llb.local(
            ctx,
            session_id=env.session_id,
            shared_key_hint=ctx,
            include_patterns=() if src.path else tuple(src.includes or ()),
            exclude_patterns=ignored + (() if src.path else tuple(src.excludes or ())),
            follow_paths=(src.path,) if src.path else (),
            custom_name=f"context {ctx} (source {name})",
        )
        if not src.path:
            return st  # the local source already filtered what it sends
        return _filter(st, name, src)
    if src.git is not None:
        g = src.git
        auth = g.auth
        st = llb.git(
            g.url,
            g.commit,
            keep_git_dir=bool(g.keep_git_dir),
            auth_header_secret=auth.header if auth and auth.header else None,
            auth_token_secret=auth.token if auth and auth.token else None,
            mount_ssh_sock=auth.ssh if auth and auth.ssh else None,
            checksum=g.checksum or None,
            custom_name=f"git {g.url}#{g.commit} (source {name})",
        )
        return _filter(st, name, src) if filtered else st
    if src.http is not None:
        h = src.http
        return llb.http(
            h.url,
            checksum=h.digest or None,
            filename=name,
            perm=h.permissions if h.permissions else None,
            custom_name=f"http {h.url} (source {name})",
        )
    if src.inline is not None:
        return _inline(name, src)
    if src.image is not None:
        return _image(name, src, env)
    raise UnsupportedSetting(
        f"source {name!r}: build sources (Dockerfile forwarding) are not supported yet",
        ("sources", name, "build"),
    )


def _filter(st: llb.State, name: str, src) -> llb.State:
    sub = "/" + (src.path or "").strip("/")
    return llb.scratch().file(
        llb.copy(
            st,
            sub,
            "/",
            dir_copy_contents=True,
            include_patterns=tuple(src.includes or ()),
            exclude_patterns=tuple(src.excludes or ()),
            allow_wildcard=True,
            create_dest_path=True,
        ),
        custom_name=f"filter source {name}: {sub}",
    )


def _owner(uid: int, gid: int):
    return llb.ChownOpt(uid, gid) if (uid or gid) else None


def _inline(name: str, src) -> llb.State:
    inline = src.inline
    if inline.file is not None:
        f = inline.file
        return llb.scratch().file(
            llb.mkfile("/" + name, f.permissions or 0o644, f.contents or "", owner=_owner(f.uid, f.gid)),
            custom_name=f"inline file {name}",
        )
    d = inline.dir
    action = None
    for fname, f in sorted((d.files or {}).items()):
        mk = dict(owner=_owner(f.uid, f.gid))
        action = (action.mkfile if action else llb.mkfile)(
            "/" + fname, f.permissions or 0o644, f.contents or "", **mk
        )
    st = llb.scratch()
    if action is None:
        return st
    st = st.file(action, custom_name=f"inline dir {name}")
    return _filter(st, name, src) if (src.includes or src.excludes) else st


def _image(name: str, src, env: SourceEnv) -> llb.State:
    return _filter(image_state(name, src.image, env), name, src)


def image_state(name: str, img, env: SourceEnv) -> llb.State:
    """An image source's rootfs with its `cmd` steps run on it (for sources and for image bases)."""
    st = llb.image(img.ref, platform=env.platform).with_env("PATH", DEFAULT_PATH)
    cmd = img.cmd
    if cmd is not None:
        base_mounts = tuple(
            source_mount(m.dest, f"{name}-mount{i}", m.spec, env)
            for i, m in enumerate(cmd.mounts or ())
        )
        for k, v in sorted((cmd.env or {}).items()):
            st = st.with_env(k, v)
        for step in cmd.steps or ():
            st = st.run(
                ["/bin/sh", "-c", step.command],
                env=dict(step.env or {}),
                cwd=cmd.dir or None,
                mounts=base_mounts,
                custom_name=f"source {name}: {step.command}",
            ).root
    return st


def source_mount(dest: str, label: str, src, env: SourceEnv) -> llb.Mount:
    """A read-only mount of a SourceMount: a directory source's content at `dest`, or a file source's file
    itself at `dest` (its state holds one file called `label`, so the mount selects it)."""
    selector = "" if is_dir_source(src) else label
    return llb.Mount.bind(dest, source_state(label, src, env), selector=selector, readonly=True)


def sources_tree(spec_sources: Mapping[str, object], env: SourceEnv) -> llb.State:
    """All sources in one directory tree: dir sources at `/<name>/`, file sources at `/<name>`.

    One FileOp with one action per source keeps the graph small for specs with many sources.
    """
    action = None
    for name in sorted(spec_sources):
        src = spec_sources[name]
        if src.generate:
            kinds = sorted({k for g in src.generate for k in ("gomod", "cargohome", "pip", "nodemod") if getattr(g, k)})
            raise UnsupportedSetting(
                f"source {name!r}: source generators are not supported yet ({', '.join(kinds)}); "
                "vendor the dependencies or set build.network_mode: sandbox",
                ("sources", name, "generate"),
            )
        if src.inline is not None and src.inline.dir is not None and not (src.includes or src.excludes):
            d = src.inline.dir
            step = (action.mkdir if action else llb.mkdir)(
                "/" + name, d.permissions or 0o755, parents=True, owner=_owner(d.uid, d.gid)
            )
            action = step
            for fname, f in sorted((d.files or {}).items()):
                action = action.mkfile(
                    posixpath.join("/", name, fname), f.permissions or 0o644, f.contents or "",
                    owner=_owner(f.uid, f.gid),
                )
            continue
        if src.inline is not None and src.inline.file is not None:
            f = src.inline.file
            action = (action.mkfile if action else llb.mkfile)(
                "/" + name, f.permissions or 0o644, f.contents or "", owner=_owner(f.uid, f.gid)
            )
            continue
        st = source_state(name, src, env)
        if is_dir_source(src):
            cp = dict(dir_copy_contents=True, create_dest_path=True)
            action = (action.copy if action else llb.copy)(st, "/", "/" + name, **cp)
        else:
            action = (action.copy if action else llb.copy)(st, "/" + name, "/" + name)
    if action is None:
        return llb.scratch()
    return llb.scratch().file(action, custom_name="collect sources")


def step_mounts(steps, table, env: SourceEnv) -> list[llb.Mount]:
    """The build steps' `mounts` on the one op that runs every step, each mount point claimed in `table` (a
    MountTable): steps that mount the same source at one point share it; different sources there collide
    (Dalec runs one op per step)."""
    out = []
    for i, s in enumerate(steps):
        for j, m in enumerate(s.mounts or ()):
            if table.claim(m.dest, ("build", "steps", i, "mounts", j, "dest"), f"the mount of step {i} mount {j}",
                           f"build: step {i}: mount {j}: mount", identity=("source", m.spec)):
                out.append(source_mount(m.dest, f"step{i}-mount{j}", m.spec, env))
    return out
