"""Docker image reference normalisation (distribution/reference ParseNormalizedNamed + TagNameOnly).

Go's llb.Image writes the normalised name into the identifier, so "debian:bookworm" must become
"docker.io/library/debian:bookworm" for our digests to equal Go's.
"""

from __future__ import annotations

import re

_DEFAULT_DOMAIN = "docker.io"
_LEGACY_DOMAIN = "index.docker.io"
_OFFICIAL_PREFIX = "library/"

# Grammar from distribution/reference regexp.go (simplified to the same accepted language).
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH = rf"{_COMPONENT}(?:/{_COMPONENT})*"
_NAME_RE = re.compile(rf"(?:{_DOMAIN}/)?{_PATH}")
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_ANCHORED_ID = re.compile(r"[a-f0-9]{64}")


class ReferenceError(ValueError):
    """An image reference that distribution/reference would reject."""


def normalize_image_ref(ref: str) -> str:
    """Return the fully qualified form of `ref`, adding `:latest` when it has no tag or digest."""
    if _ANCHORED_ID.fullmatch(ref):
        raise ReferenceError(f"invalid repository name {ref!r}: cannot be a 64-byte hexadecimal string")
    name, digest = ref, ""
    if "@" in name:
        name, digest = name.split("@", 1)
        if not _DIGEST_RE.fullmatch(digest):
            raise ReferenceError(f"invalid reference format: {ref!r}")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            raise ReferenceError(f"invalid reference format: {ref!r}")

    first, sep, rest = name.partition("/")
    if not sep or (not any(c in first for c in ".:") and first != "localhost" and first.lower() == first):
        domain, remainder = _DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == _LEGACY_DOMAIN:
        domain = _DEFAULT_DOMAIN
    if domain == _DEFAULT_DOMAIN and "/" not in remainder:
        remainder = _OFFICIAL_PREFIX + remainder
    if remainder.lower() != remainder:
        raise ReferenceError(f"invalid reference format: repository name must be lowercase: {ref!r}")
    full = f"{domain}/{remainder}"
    if not _NAME_RE.fullmatch(full):
        raise ReferenceError(f"invalid reference format: {ref!r}")
    if not tag and not digest:
        tag = "latest"
    return full + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
