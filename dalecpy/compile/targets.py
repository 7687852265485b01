"""The routing table: `<distro>/<kind>` paths, longest-prefix match, bare `<distro>` for its default kind."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import partial
from typing import Callable

from .. import llb
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

    @property
    def target_key(self) -> str:
        """The top-level segment: DALEC_TARGET and the key of `targets:` overrides."""
        return self.path.split("/", 1)[0]


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
        default = table[f"{d.codename}/container"]
        table[d.codename] = Route(d.codename, default.description, default.handler, d.version_id, hidden=True)
    table["debug/resolve"] = Route("debug/resolve", "the spec after build-arg substitution", _resolve_handler)
    return table


ROUTES: dict[str, Route] = _build_table()
DEFAULT_KINDS = {d.codename: f"{d.codename}/container" for d in debian.DISTROS}


def visible_routes() -> list[Route]:
    return [r for r in ROUTES.values() if not r.hidden]


def lookup(target: str) -> Route:
    """Exact match, then the longest `<prefix>/` match, as Dalec's router does. Empty is an error."""
    target = target.strip().strip("/")
    if target in ROUTES:
        return ROUTES[target]
    best = max((p for p in ROUTES if target.startswith(p + "/")), key=len, default=None)
    if best is None:
        valid = ", ".join(r.path for r in visible_routes())
        if not target:
            raise TargetError(f"no target given; valid targets: {valid}")
        raise TargetError(f"unknown target {target!r}; valid targets: {valid}")
    return ROUTES[best]
