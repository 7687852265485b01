"""Spec settings Dalec honours that dalecpy cannot yet: refused with their position, never ignored.

Each entry names what a target kind would have to do with the setting; a build of that kind with the
setting present fails with `... is not supported yet` at the setting's line. Remove an entry when the
setting is implemented (the contract test in tests/compile/test_contract.py proves each one either way).
"""

from __future__ import annotations

from typing import Iterator

from ..spec import Spec
from .options import BuildContext, UnsupportedSetting

_PACKAGES = ("deb", "container", "rpm", "rpm-container", "windows")  # route kinds that build the package
_OWNERSHIP = ("deb", "container")  # kinds without users, groups and owners (RPMs have them: %pre, %attr)
_CONTAINERS = ("container", "rpm-container")
_NO_CAPABILITIES = ("deb", "container", "windows")  # RPMs set them (%caps)


def _ownership(spec: Spec, key: str) -> Iterator[tuple[tuple, str]]:
    """Every `user`/`group` on an artifact, directory or link: ownership needs the users made first."""
    a = spec.get_artifacts(key)
    base = spec.override_path(key, "artifacts")
    maps = [(k, getattr(a, f)) for f, k in (("binaries", "binaries"), ("libexec", "libexec"), ("opt", "opt"),
            ("manpages", "manpages"), ("data_dirs", "data_dirs"), ("config_files", "configFiles"), ("docs", "docs"),
            ("licenses", "licenses"), ("libs", "libs"), ("headers", "headers"))]
    if a.create_directories is not None:
        maps += [(("createDirectories", "config"), a.create_directories.config),
                 (("createDirectories", "state"), a.create_directories.state)]
    for kind, entries in maps:
        kind_path = kind if isinstance(kind, tuple) else (kind,)
        for name, cfg in sorted(entries.items()):
            for attr in ("user", "group"):
                if getattr(cfg, attr):
                    yield base + kind_path + (name, attr), f"artifact {attr} ownership ({attr}: {getattr(cfg, attr)})"
    for i, link in enumerate(a.links):
        for attr in ("user", "group"):
            if getattr(link, attr):
                yield base + ("links", i, attr), f"artifact link {attr} ownership ({attr}: {getattr(link, attr)})"


def _settings(ctx: BuildContext, kind: str) -> Iterator[tuple[tuple, str]]:
    spec, key = ctx.spec, ctx.target_key
    target = spec.target(key)
    if target is not None and target.frontend is not None:
        yield ("targets", key, "frontend"), f"targets.{key}.frontend (forwarding the target to another frontend)"
    if spec.get_extra_repos(key):
        yield spec.deps_path(key, "extra_repos"), "dependencies.extra_repos"
    if kind not in _PACKAGES:
        return
    a = spec.get_artifacts(key)
    if kind in _OWNERSHIP:
        if a.users:
            yield spec.override_path(key, "artifacts") + ("users",), "artifacts.users (creating users on install)"
        if a.groups:
            yield spec.override_path(key, "artifacts") + ("groups",), "artifacts.groups (creating groups on install)"
        yield from _ownership(spec, key)
    for field in ("binaries", "libexec", "libs", "opt") if kind in _NO_CAPABILITIES else ():
        for name, cfg in sorted(getattr(a, field).items()):
            if cfg.linux_capabilities:
                yield (spec.override_path(key, "artifacts") + (field, name, "linux_capabilities"),
                       "linux_capabilities (setting file capabilities on install)")
    pc = spec.get_package_config(key)
    if pc is not None and pc.signer is not None:
        yield spec.override_path(key, "package_config") + ("signer",), "package_config.signer (package signing)"
    if kind in _CONTAINERS:
        post = spec.get_image(key).post
        if post is not None and post.symlinks:
            yield spec.image_path(key, "post") + ("symlinks",), "image.post.symlinks"


def refuse_unsupported(ctx: BuildContext, kind: str) -> None:
    """Raise one UnsupportedSetting naming every setting a `kind` build (worker, deb, container, rpm,
    rpm-container, windows, sources) would ignore."""
    found = list(_settings(ctx, kind))
    if found:
        raise UnsupportedSetting.many([(path, f"{what} is not supported yet") for path, what in found])
