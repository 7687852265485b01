"""What the daemon tells a gateway frontend: opts from BUILDKIT_FRONTEND_OPT_<i>, session, workers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping

from ..errors import UserError
from ..platforms import DEFAULT_PLATFORM, Platform

OPT_PREFIX = "BUILDKIT_FRONTEND_OPT_"

KEY_TARGET = "target"
KEY_FILENAME = "filename"
KEY_DOCKERFILEKEY = "dockerfilekey"
KEY_PLATFORM = "platform"
KEY_NO_CACHE = "no-cache"
KEY_RESOLVE_MODE = "image-resolve-mode"
KEY_REQUEST_ID = "requestid"
KEY_MULTI_PLATFORM = "multi-platform"
PREFIX_BUILD_ARG = "build-arg:"
PREFIX_CONTEXT = "context:"

DEFAULT_FILENAME = "Dockerfile"
DEFAULT_DOCKERFILE_KEY = "dockerfile"


class OptionError(UserError, ValueError):
    """A frontend opt the user set to something unusable (e.g. a bad platform)."""


def opts_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """BUILDKIT_FRONTEND_OPT_<i>=<key>=<value>; the index is arbitrary (Go map order)."""
    out: dict[str, str] = {}
    for name, raw in environ.items():
        if not name.startswith(OPT_PREFIX):
            continue
        key, _, value = raw.partition("=")
        out[key] = value
    return out


def worker_platforms(environ: Mapping[str, str]) -> list[Platform]:
    """Platforms from BUILDKIT_WORKERS (v0.8 writes capitalised JSON keys, newer versions lower-case)."""
    raw = environ.get("BUILDKIT_WORKERS")
    if not raw:
        return []
    try:
        workers = json.loads(raw) or []
    except ValueError:
        return []
    out = []
    for w in workers:
        if not isinstance(w, dict):
            continue
        plats = w.get("platforms") or w.get("Platforms") or []
        for p in plats:
            os_ = p.get("os") or p.get("OS")
            arch = p.get("architecture") or p.get("Architecture")
            if os_ and arch:
                out.append(Platform(os_, arch, p.get("variant") or p.get("Variant") or ""))
    return out


def _parse_platform(text: str) -> Platform:
    from ..platforms import PlatformError

    try:
        return Platform.parse(text)
    except PlatformError as exc:
        raise OptionError(str(exc)) from None


@dataclass(frozen=True)
class FrontendOptions:
    target: str = ""
    filename: str = DEFAULT_FILENAME
    dockerfile_key: str = DEFAULT_DOCKERFILE_KEY
    platforms: tuple[Platform, ...] = ()
    multi_platform: bool = False
    build_args: Mapping[str, str] = field(default_factory=dict)
    named_contexts: Mapping[str, str] = field(default_factory=dict)
    no_cache: frozenset[str] = frozenset()
    resolve_mode: str = "default"
    request_id: str | None = None

    @classmethod
    def parse(cls, opts: Mapping[str, str]) -> "FrontendOptions":
        build_args = {k[len(PREFIX_BUILD_ARG):]: v for k, v in opts.items() if k.startswith(PREFIX_BUILD_ARG)}
        named = {k[len(PREFIX_CONTEXT):]: v for k, v in opts.items() if k.startswith(PREFIX_CONTEXT)}
        platforms: list[Platform] = []
        for item in (opts.get(KEY_PLATFORM) or "").split(","):
            if item.strip():
                p = _parse_platform(item)
                if p not in platforms:
                    platforms.append(p)
        no_cache: frozenset[str] = frozenset()
        if KEY_NO_CACHE in opts:
            value = opts[KEY_NO_CACHE].strip()
            no_cache = frozenset({"*"}) if not value else frozenset(s.strip() for s in value.split(",") if s.strip())
        mode = (opts.get(KEY_RESOLVE_MODE) or "default").strip()
        if mode not in ("default", "pull", "local"):
            raise OptionError(f"invalid image-resolve-mode {mode!r}: expected default, pull or local")
        multi = (opts.get(KEY_MULTI_PLATFORM) or "").strip().lower() in ("1", "true", "t")
        return cls(
            target=opts.get(KEY_TARGET, ""),
            filename=opts.get(KEY_FILENAME) or DEFAULT_FILENAME,
            dockerfile_key=opts.get(KEY_DOCKERFILEKEY) or DEFAULT_DOCKERFILE_KEY,
            platforms=tuple(platforms),
            multi_platform=multi or len(platforms) > 1,
            build_args=build_args,
            named_contexts=named,
            no_cache=no_cache,
            resolve_mode=mode,
            request_id=opts.get(KEY_REQUEST_ID) or None,
        )


def build_platform(pong_platforms: list[Platform], environ: Mapping[str, str]) -> Platform:
    """The first worker platform (Ping first, then BUILDKIT_WORKERS), else linux/amd64."""
    for plats in (pong_platforms, worker_platforms(environ)):
        if plats:
            return plats[0]
    return DEFAULT_PLATFORM
