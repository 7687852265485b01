"""The routing table: `<distro>/<kind>` paths, longest-prefix match, bare `<distro>` for its default kind.

Lookup is Dalec's (frontend/router.go): an exact match, then the longest registered `<route>/` prefix,
with one deliberate difference: the hidden bare-distro alias matches only exactly, so an unregistered
sub-path (`bookworm/testing/sysext`) is an error listing the valid targets instead of building the
alias's default kind. Dalec's routes that dalecpy does not build yet are registered as refusals, so
they never fall through to another route either.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import partial
from typing import Callable

from .. import llb
from ..platforms import Platform
from . import debian
from .options import BuildContext, CompileError, TargetOutput


class TargetError(CompileError):
    """An empty or unknown target; the message lists the valid ones."""


@dataclass(frozen=True)
class Route:
    path: str
    description: str
    handler: Callable[[BuildContext], TargetOutput]
    distro_key: str | None = None  # the Debian VersionID used in cache IDs, when the route builds
    hidden: bool = False  # bare-distro aliases are listed as the default of their distro, not as routes
    os: str | None = "linux"  # the only platform OS the route builds for (None: any)
    unsupported: bool = False  # a Dalec route dalecpy refuses (not built yet)

    @property
    def target_key(self) -> str:
        """The top-level segment: DALEC_TARGET and the key of `targets:` overrides."""
        return self.path.split("/", 1)[0]

    def check_platform(self, platform: Platform) -> None:
        if self.os is not None and platform.os != self.os:
            raise TargetError(
                f"target {self.path} builds for {self.os} only; platform {platform.format()} is not supported"
            )


def _unsupported(ctx: BuildContext) -> TargetOutput:  # pragma: no cover - lookup refuses these routes first
    raise TargetError("target is not supported yet")


def _resolve_handler(ctx: BuildContext) -> TargetOutput:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(ctx.spec.to_yaml_dict(), buf)
    st = llb.scratch().file(llb.mkfile("/spec.yml", 0o644, buf.getvalue()), custom_name="resolved spec")
    return TargetOutput(st)


def _build_table() -> dict[str, Route]:
    table: dict[str, Route] = {}
    for d in debian.DISTROS:
        kinds = (
            ("container", f"{d.description}: container image with the package installed (default)", debian.container),
            ("deb", f"{d.description}: the .deb package", debian.deb_target),
            ("worker", f"{d.description}: the build environment with build dependencies", debian.worker_target),
        )
        for kind, desc, fn in kinds:
            table[f"{d.codename}/{kind}"] = Route(f"{d.codename}/{kind}", desc, partial(fn, distro=d), d.version_id)
        for kind, desc in (("dsc", "a Debian source package"), ("testing/container", "a test-only container")):
            path = f"{d.codename}/{kind}"
            table[path] = Route(path, f"{d.description}: {desc}", _unsupported, hidden=True, unsupported=True)
        default = table[f"{d.codename}/container"]
        table[d.codename] = Route(d.codename, default.description, default.handler, d.version_id, hidden=True)
    table["debug/resolve"] = Route("debug/resolve", "the spec after build-arg substitution", _resolve_handler, os=None)
    return table


ROUTES: dict[str, Route] = _build_table()
DEFAULT_KINDS = {d.codename: f"{d.codename}/container" for d in debian.DISTROS}


def visible_routes() -> list[Route]:
    return [r for r in ROUTES.values() if not r.hidden]


def lookup(target: str) -> Route:
    """Exact match, then the longest registered `<route>/` prefix (not a bare alias). Empty is an error."""
    target = target.strip().strip("/")
    route = ROUTES.get(target)
    if route is None:
        prefixes = [r for p, r in ROUTES.items() if target.startswith(p + "/") and (r.unsupported or not r.hidden)]
        route = max(prefixes, key=lambda r: len(r.path), default=None)
    valid = ", ".join(r.path for r in visible_routes())
    if route is None:
        if not target:
            raise TargetError(f"no target given; valid targets: {valid}")
        raise TargetError(f"unknown target {target!r}; valid targets: {valid}")
    if route.unsupported:
        raise TargetError(f"target {route.path} ({route.description}) is not supported yet; valid targets: {valid}")
    return route
