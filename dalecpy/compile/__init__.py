"""Spec -> LLB. `compile_spec` is a pure function of the loaded spec and CompileOptions."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import Iterator

from .. import llb
from ..errors import UserError
from ..spec import Diagnostic, LoadedSpec, SpecError
from . import caches as _caches
from . import tests as _tests
from .image import merge_image_config
from .options import BuildContext, CompileError, CompileOptions, CompileResult, UnsupportedSetting
from .targets import ROUTES, Route, TargetError, lookup, visible_routes

__all__ = [
    "CompileError",
    "CompileOptions",
    "CompileResult",
    "Route",
    "TargetError",
    "UnsupportedSetting",
    "compile_spec",
    "effective_caches",
    "lookup",
    "merge_image_config",
    "visible_routes",
    "ROUTES",
]


def _context(loaded: LoadedSpec, options: CompileOptions) -> tuple[Route, BuildContext]:
    options.check()
    route = lookup(options.target)
    if options.platform is None:
        options = replace(options, platform=route.default_platform(options.build_platform))
    route.check_platform(options.target_platform)
    spec = loaded.resolve(
        options.build_args,
        target_key=route.target_key,
        target_platform=options.target_platform,
        build_platform=options.build_platform,
    )
    return route, BuildContext(loaded, spec, route.target_key, options)


@contextmanager
def _positioned(loaded: LoadedSpec) -> Iterator[None]:
    """The one place compile turns spec paths into FILE:LINE:COL: a UserError whose problems carry
    paths becomes a SpecError; an LLB error (a value the spec passed that BuildKit cannot express) that
    escaped the checks stays a one-line user error."""
    try:
        yield
    except SpecError:
        raise
    except UserError as exc:
        if all(path is None for path, _ in exc.problems):
            raise
        raise SpecError(
            loaded.diagnostic(path, message) if path is not None else Diagnostic(loaded.filename, None, None, message)
            for path, message in exc.problems
        ) from None


def compile_spec(loaded: LoadedSpec, options: CompileOptions) -> CompileResult:
    """Compile one target for one platform.

    Raises SpecError for user errors located in the spec, CompileError (e.g. TargetError) for other user
    errors, and llb.MissingCapError when the daemon lacks a capability the graph needs: all UserErrors.
    """
    with _positioned(loaded):
        route, ctx = _context(loaded, options)
        out = route.handler(ctx)
        test_states = _tests.compile_tests(ctx, out)
        definition = llb.marshal(out.state, caps=options.llb_caps)
        tests = tuple((name, llb.marshal(st, caps=options.llb_caps)) for name, st in test_states)
    image_config = None
    if out.image is not None or out.base_image is not None:
        image_config = merge_image_config(None, out.image, ctx.platform)
    return CompileResult(
        definition=definition,
        route=route.path,
        target_key=route.target_key,
        platform=ctx.platform,
        spec=ctx.spec,
        image_config=image_config,
        base_image=out.base_image,
        image=out.image,
        tests=tests,
    )


def effective_caches(loaded: LoadedSpec, options: CompileOptions) -> list[_caches.CacheMount]:
    """The cache mounts a build of this target and platform uses: what a user checks when a cache misses."""
    from .distros import RPM_DISTROS, WINDOWSCROSS

    with _positioned(loaded):
        route, ctx = _context(loaded, options)
        if route.distro_key is None:
            return []
        platform = ctx.platform
        if route.target_key == WINDOWSCROSS.key:
            from .windows import _worker_platform

            platform = _worker_platform(ctx)
        ns = _caches.CacheNamespace.for_build(route.distro_key, platform, options.build_args)
        setup = _caches.user_caches(ctx.spec, ctx.target_key, ns)
    rpm = next((r for r in RPM_DISTROS if r.key == route.target_key), None)
    if rpm is not None:
        return [*setup.caches, *_caches.package_manager_caches(ns, rpm.cache_dirs, "package manager")]
    return [*setup.caches, *_caches.apt_caches(ns)]
