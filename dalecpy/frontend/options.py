"""What the daemon tells a gateway frontend: opts from BUILDKIT_FRONTEND_OPT_<i>, session, workers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping

from ..errors import UserError, one_line
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


def env_text(name: str, value: str) -> str:
    """`value` of the environment variable `name`, which must be UTF-8 text: bytes that are not reach Python
    as lone surrogates, and could not go to the daemon (every string on the wire is UTF-8)."""
    if any("\ud800" <= c <= "\udfff" for c in value):
        raise OptionError(f"{name} '{one_line(value)}' is not valid UTF-8")
    return value


def opts_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """BUILDKIT_FRONTEND_OPT_<i>=<key>=<value>; the index is arbitrary (Go map order)."""
    out: dict[str, str] = {}
    for name, raw in environ.items():
        if not name.startswith(OPT_PREFIX):
            continue
        key, _, value = env_text("frontend option", raw).partition("=")
        out[key] = value
    return out


def worker_platforms(environ: Mapping[str, str]) -> list[Platform]:
    """Platforms from BUILDKIT_WORKERS (v0.8 writes capitalised JSON keys, newer versions lower-case).

    Like BuildKit's own frontends, an unreadable value counts as no workers, and so does any entry that is
    not a platform (a string "os/arch" is taken too)."""
    raw = environ.get("BUILDKIT_WORKERS")
    if not raw:
        return []
    try:
        workers = json.loads(raw)
    except (ValueError, RecursionError):
        return []
    out = []
    for w in workers if isinstance(workers, list) else []:
        plats = (w.get("platforms") or w.get("Platforms")) if isinstance(w, dict) else None
        for p in plats if isinstance(plats, list) else []:
            plat = _worker_platform(p)
            if plat is not None:
                out.append(plat)
    return out


def _worker_platform(p: object) -> Platform | None:
    from ..platforms import PlatformError

    if isinstance(p, dict):
        fields = [p.get(k) or p.get(k.capitalize()) or "" for k in ("os", "architecture", "variant")]
        text = "/".join(f for f in fields if f) if all(isinstance(f, str) for f in fields) and all(fields[:2]) else ""
    else:
        text = p if isinstance(p, str) else ""
    if not text or one_line(text) != text:
        return None
    try:
        return Platform.parse(text)
    except PlatformError:
        return None


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
