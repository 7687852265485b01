"""The routing table: every route Dalec v0.21 registers, as `<key>/<kind>` paths, built or refused.

Lookup is Dalec's (frontend/router.go): an empty target is an error, then an exact match, then the longest
registered `<route>/` prefix, with one deliberate difference: a hidden bare alias (`bookworm`, `azlinux3`)
matches only exactly, so an unregistered sub-path (`bookworm/testing/foo`) is an error listing the valid
targets instead of building the alias's default kind. Dalec's routes that dalecpy does not build are
registered as refusals saying why, so they never fall through to another route either.

Defaults are Dalec's: a Debian-family key alone builds its `.deb`, an RPM key or `windowscross` alone its
container; `windowscross` builds for `windows/<arch>` when no platform is given.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import partial
from typing import Callable

from .. import llb
from ..platforms import Platform
from . import debian, rpm, windows
from .distros import DEB_DISTROS, RPM_DISTROS, WINDOWSCROSS
from .options import BuildContext, CompileError, TargetOutput


class TargetError(CompileError):
    """An empty, unknown or refused target; the message lists the valid ones."""


@dataclass(frozen=True)
class Route:
    path: str
    description: str
    handler: Callable[[BuildContext], TargetOutput]
    distro_key: str | None = None  # the cache namespace of the build (Dalec's distroKey), when the route builds
    hidden: bool = False  # bare aliases (and dalecpy-only aliases) are dispatchable but not listed
    os: str | None = "linux"  # the only platform OS the route builds for (None: any)
    refused: str = ""  # why dalecpy refuses this Dalec route ("": it builds it)
    default: bool = False  # the kind the listing flags as its key's default (Dalec's `Default`)
    default_os: str | None = None  # the OS built for when no platform is given (None: `os`, else the build's)

    @property
    def target_key(self) -> str:
        """The top-level segment: DALEC_TARGET and the key of `targets:` overrides."""
        return self.path.split("/", 1)[0]

    @property
    def unsupported(self) -> bool:
        return bool(self.refused)

    def default_platform(self, build_platform: Platform) -> Platform:
        """The target platform when the request names none: the build platform, on the route's OS."""
        os_ = self.default_os or self.os
        if os_ is None or os_ == build_platform.os:
            return build_platform
        return Platform(os_, build_platform.architecture)

    def check_platform(self, platform: Platform) -> None:
        if self.os is not None and platform.os != self.os:
            raise TargetError(
                f"target {self.path} builds for {self.os} only; platform {platform.format()} is not supported"
            )


def _refused(ctx: BuildContext) -> TargetOutput:  # pragma: no cover - lookup refuses these routes first
    raise TargetError("target is not supported")


def _resolve_handler(ctx: BuildContext) -> TargetOutput:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(ctx.spec.to_yaml_dict(), buf)
    st = llb.scratch().file(llb.mkfile("/spec.yml", 0o644, buf.getvalue()), custom_name="resolved spec")
    return TargetOutput(st)


_SYSEXT = "systemd-sysext images (erofs) are not built by dalecpy"
_DSC = ("dalecpy packs .deb files with dpkg-deb from its own build script, without a debian/ source tree, so "
        "there is no Debian source package to build")
_GENERATORS = "source generators (gomod, cargohome, pip, nodemod) are not supported, so there is nothing to output"


def _build_table() -> dict[str, Route]:
    table: dict[str, Route] = {}

    def add(path: str, description: str, handler=_refused, key: str | None = None, **kw) -> Route:
        table[path] = Route(path, description, handler, key, **kw)
        return table[path]

    def refuse(path: str, description: str, why: str) -> None:
        add(path, description, refused=why, hidden=True)

    for d in DEB_DISTROS:
        name, key, desc = d.codename, d.version_id, d.description
        deb_ = add(f"{name}/deb", f"{desc}: the .deb package", partial(debian.deb_target, distro=d), key, default=True)
        add(f"{name}/container", f"{desc}: container image with the package installed",
            partial(debian.container, distro=d), key)
        add(f"{name}/testing/container", f"{desc}: the distro image with the package installed, for testing",
            partial(debian.container, distro=d), key)
        add(f"{name}/worker", f"{desc}: the build environment with build dependencies",
            partial(debian.worker_target, distro=d), key)
        refuse(f"{name}/dsc", f"{desc}: a Debian source package", _DSC)
        if d.sysext:
            refuse(f"{name}/testing/sysext", f"{desc}: a systemd system extension image", _SYSEXT)
        add(name, deb_.description, deb_.handler, key, hidden=True)

    for r in RPM_DISTROS:
        name, key, desc = r.key, r.version_id, r.full_name
        ctr = add(f"{name}/container", f"{desc}: container image with the package installed",
                  partial(rpm.container_target, distro=r), key, default=True)
        add(f"{name}/rpm", f"{desc}: the .rpm and .src.rpm packages", partial(rpm.rpm_target, distro=r), key)
        add(f"{name}/worker", f"{desc}: the build environment with build dependencies",
            partial(rpm.worker_target, distro=r), key)
        spec = add(f"{name}/rpm/debug/spec", f"{desc}: the generated RPM spec file",
                   partial(rpm.spec_target, distro=r), key)
        add(f"{name}/rpm/spec", spec.description, spec.handler, key, hidden=True)
        add(f"{name}/rpm/debug/sources", f"{desc}: the sources as rpmbuild gets them (SOURCES/)",
            partial(rpm.sources_target, distro=r), key)
        add(f"{name}/rpm/debug/buildroot", f"{desc}: an rpmbuild top directory (SPECS/ and SOURCES/)",
            partial(rpm.buildroot_target, distro=r), key)
        refuse(f"{name}/container/depsonly", f"{desc}: a container with only the runtime dependencies",
               "a runtime-dependencies-only container is not built by dalecpy")
        if r.sysext:
            refuse(f"{name}/testing/sysext", f"{desc}: a systemd system extension image", _SYSEXT)
        add(name, ctr.description, ctr.handler, key, hidden=True)

    w, wkey = WINDOWSCROSS, WINDOWSCROSS.version_id
    add(f"{w.key}/zip", "Windows binaries cross-compiled with mingw, in a zip file", windows.zip_target, wkey,
        os=None, default_os="windows")
    ctr = add(f"{w.key}/container", "Windows binaries cross-compiled with mingw, in a Windows base image",
              windows.container_target, wkey, os="windows", default=True)
    add(f"{w.key}/worker", "the Ubuntu jammy worker with mingw-w64 that builds Windows binaries",
        windows.worker_target, wkey, os=None)
    add(w.key, ctr.description, ctr.handler, wkey, hidden=True, os="windows")

    refuse("flatcar/testing/sysext", "a Flatcar systemd system extension image", _SYSEXT)
    refuse("flatcar/worker", "the worker that assembles Flatcar sysext images", _SYSEXT)

    add("debug/resolve", "the spec after build-arg substitution", _resolve_handler, os=None)
    add("debug/sources", "every source of the spec, each at /<name>", debian.sources_target, os=None)
    add("debug/patched-sources", "every source with the spec's patches applied", debian.patched_sources_target,
        "debian12", os=None)
    for kind in ("gomods", "cargohome", "pip"):
        refuse(f"debug/{kind}", f"the {kind} generator's output", _GENERATORS)
    return table


ROUTES: dict[str, Route] = _build_table()
DEFAULT_KINDS = {r.target_key: r.path for r in ROUTES.values() if r.default}


def visible_routes() -> list[Route]:
    return [r for r in ROUTES.values() if not r.hidden]


def lookup(target: str) -> Route:
    """Exact match, then the longest registered `<route>/` prefix (not a hidden alias). Empty is an error."""
    target = target.strip().strip("/")
    route = ROUTES.get(target)
    if route is None:
        prefixes = [r for p, r in ROUTES.items() if target.startswith(p + "/") and (r.refused or not r.hidden)]
        route = max(prefixes, key=lambda r: len(r.path), default=None)
    valid = ", ".join(r.path for r in visible_routes())
    if route is None:
        if not target:
            raise TargetError(f"no target given; valid targets: {valid}")
        raise TargetError(f"unknown target {target!r}; valid targets: {valid}")
    if route.refused:
        raise TargetError(f"target {route.path} ({route.description}) is not supported: {route.refused}; "
                          f"valid targets: {valid}")
    return route
