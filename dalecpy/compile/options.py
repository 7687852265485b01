"""Inputs and outputs of the compile step, kept as plain frozen data so compiling stays a pure function."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .. import llb
from ..errors import NotSupportedError, UserError
from ..limits import MAX_NAMED_CONTEXTS
from ..platforms import DEFAULT_PLATFORM, Platform
from ..spec import LoadedSpec, Spec


class CompileError(UserError, ValueError):
    """A user error found while compiling; `path` locates it in the spec (None: not about one spec node).
    compile_spec turns the paths into FILE:LINE:COL positions, in one place."""


class UnsupportedSetting(CompileError, NotSupportedError):
    """A spec setting Dalec has that dalecpy cannot honour yet: refused with its position, never ignored.
    Messages end in "is not supported yet" (or "are not supported yet")."""


NO_CACHE_ALL = "*"
NO_CACHE_PKG = "dalec.pkg"
NO_CACHE_CONTAINER = "dalec.container"
NO_CACHE_TESTS = "dalec.tests"

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class CompileOptions:
    """Everything besides the spec that decides the LLB.

    `llb_caps` is the daemon's LLB capability set (None: record caps as Go's `Marshal()` does without caps).
    `no_cache` holds no-cache filters (`dalec.pkg`, `dalec.container`, `dalec.tests`) or `*` for all.
    `named_contexts` maps a context name to a `docker-image://` reference (e.g. `dalec-bookworm-worker`).
    `context_excludes` maps a local context name to its `.dockerignore` patterns (read by the caller).
    """

    target: str
    platform: Platform | None = None
    build_platform: Platform = DEFAULT_PLATFORM
    build_args: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    llb_caps: frozenset[str] | None = None
    session_id: str | None = None
    named_contexts: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    no_cache: frozenset[str] = frozenset()
    context_excludes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def target_platform(self) -> Platform:
        return self.platform or DEFAULT_PLATFORM

    def check(self) -> None:
        """Refuse options no build should need (their cost is ours to bound)."""
        if len(self.named_contexts) > MAX_NAMED_CONTEXTS:
            raise CompileError(
                f"{len(self.named_contexts)} named contexts given; the limit is {MAX_NAMED_CONTEXTS}"
            )

    def ignores_cache(self, phase: str) -> bool:
        return NO_CACHE_ALL in self.no_cache or phase in self.no_cache


@dataclass(frozen=True)
class BuildContext:
    """What a target handler gets: the loaded spec (for positioned errors), the resolved spec, and options."""

    loaded: LoadedSpec
    spec: Spec
    target_key: str
    options: CompileOptions

    @property
    def platform(self) -> Platform:
        return self.options.target_platform


@dataclass(frozen=True)
class TargetOutput:
    """A handler's result. `image` is the spec's merged image config for container targets, else None."""

    state: llb.State
    image: Any = None
    base_image: str | None = None


@dataclass(frozen=True)
class CompileResult:
    definition: Any  # llb ops_pb2.Definition
    route: str
    target_key: str
    platform: Platform
    spec: Spec
    image_config: dict | None  # spec image merged over the default base config; re-merge over the real one
    base_image: str | None  # the image whose config `image_config` should be merged over (container targets)
    image: Any = None  # the target-merged spec ImageConfig, for merge_image_config(base_config, image, platform)
    # Spec tests of a container target as (name, Definition): solve each (evaluated) after `definition`;
    # empty for other targets and when the DALEC_SKIP_TESTS build arg is true.
    tests: tuple[tuple[str, Any], ...] = ()
