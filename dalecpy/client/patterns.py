""".dockerignore parsing and the path filter the FileSync sender applies (fsutil FilterOpt semantics).

Patterns follow moby/patternmatcher: Go filepath.Match syntax per path component (`*`, `?`, `[...]`, `\\`
escapes) plus `**` for any number of directories; a leading `/` and `./` are ignored; a pattern that
matches a directory matches everything below it; `!pattern` re-includes; the last matching pattern wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .. import dockerignore
from ..dockerignore import clean


def read_dockerignore(path: str | Path) -> list[str]:
    """The patterns of a .dockerignore file ([] when it does not exist)."""
    try:
        return dockerignore.parse(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    """Translate one cleaned pattern to an anchored regex over a slash-separated relative path."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                    out.append("(?:.*/)?")  # `**/` : zero or more directories
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.S)


def match(pattern: str, path: str) -> bool:
    """True when `pattern` matches `path` or one of its parent directories."""
    rx = _regex(pattern)
    if rx.match(path):
        return True
    parts = path.split("/")
    return any(rx.match("/".join(parts[:k])) for k in range(1, len(parts)))


@dataclass(frozen=True)
class _Rule:
    pattern: str
    negate: bool


class PathFilter:
    """Which paths of a directory the sender may send.

    excludes: dockerignore-style patterns (with `!` exceptions); includes: send only matching paths (and
    their contents); follow_paths: like includes, plus the targets of symlinks among them (resolved by
    the walker).
    """

    def __init__(self, includes=(), excludes=(), follow_paths=()) -> None:
        self.includes = [clean(p) for p in includes if clean(p)] + [clean(p) for p in follow_paths if clean(p)]
        self.follow_paths = [clean(p) for p in follow_paths if clean(p)]
        rules = []
        for p in excludes:
            neg = p.startswith("!")
            body = clean(p[1:] if neg else p)
            if body:
                rules.append(_Rule(body, neg))
        self.rules = rules
        self.has_exceptions = any(r.negate for r in rules)

    def excluded(self, path: str) -> bool:
        out = False
        for r in self.rules:
            if match(r.pattern, path):
                out = not r.negate
        return out

    def included(self, path: str) -> bool:
        """True when includes allow `path` itself (no includes: everything)."""
        if not self.includes:
            return True
        return any(match(p, path) for p in self.includes)

    def may_contain_included(self, path: str) -> bool:
        """For a directory that is not itself included: could something below it be?"""
        if not self.includes:
            return True
        depth = path.count("/") + 1
        for p in self.includes:
            if "**" in p:
                return True
            comps = p.split("/")
            if len(comps) <= depth:
                continue
            if _regex("/".join(comps[:depth])).match(path):
                return True
        return False
