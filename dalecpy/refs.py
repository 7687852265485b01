"""The grammar of what names a source: Docker image references (distribution/reference
ParseNormalizedNamed + TagNameOnly) and git URLs (BuildKit's gitutil.ParseURL).

One place for both, used by spec validation (a bad ref is a positioned error at load time) and by the
llb layer (which writes the normalised forms into source identifiers). Go's llb.Image writes the
normalised name, so "debian:bookworm" must become "docker.io/library/debian:bookworm" for our digests
to equal Go's.
"""

from __future__ import annotations

import re
from typing import NamedTuple

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


class RefError(ValueError):
    """An image reference or git URL that BuildKit would reject; callers turn it into their own error."""


def normalize_image_ref(ref: str) -> str:
    """Return the fully qualified form of `ref`, adding `:latest` when it has no tag or digest."""
    if _ANCHORED_ID.fullmatch(ref):
        raise RefError(f"invalid repository name {ref!r}: cannot be a 64-byte hexadecimal string")
    name, digest = ref, ""
    if "@" in name:
        name, digest = name.split("@", 1)
        if not _DIGEST_RE.fullmatch(digest):
            raise RefError(f"invalid reference format: {ref!r}")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            raise RefError(f"invalid reference format: {ref!r}")

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
        raise RefError(f"invalid reference format: repository name must be lowercase: {ref!r}")
    full = f"{domain}/{remainder}"
    if not _NAME_RE.fullmatch(full):
        raise RefError(f"invalid reference format: {ref!r}")
    if not tag and not digest:
        tag = "latest"
    return full + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


# gitutil.ParseURL: scheme URLs and scp-like "user@host:path".
_URL_RE = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?:(?P<user>[^@/]*)@)?(?P<host>[^/?#]*)(?P<path>[^?#]*)")
_SCP_RE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>.*)$")
GIT_SCHEMES = ("http", "https", "ssh", "git", "file")


class GitURL(NamedTuple):
    scheme: str
    host: str
    path: str
    remote: str  # the URL git fetches (without a #fragment)


def parse_git_url(url: str) -> GitURL:
    """Parse like gitutil.ParseURL, adding https:// when there is no scheme; RefError for other schemes."""
    m = _URL_RE.match(url)
    if m:
        scheme = m["scheme"].lower()
        if scheme not in GIT_SCHEMES:
            raise RefError(f"unsupported git URL scheme {scheme!r} in {url!r}: expected one of {', '.join(GIT_SCHEMES)}")
        return GitURL(scheme, m["host"], m["path"], url.split("#", 1)[0])
    m = _SCP_RE.match(url)
    if m and m["user"]:
        return GitURL("ssh", m["host"], m["path"], url)
    return parse_git_url("https://" + url)
