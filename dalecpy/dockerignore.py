""".dockerignore files: the exclude patterns a build context is sent with (used by the frontend and the client)."""

from __future__ import annotations

import posixpath

FILENAME = ".dockerignore"


def clean(pattern: str) -> str:
    """A pattern as moby/patternmatcher stores it: trimmed, cleaned, no leading `/` or `./`."""
    p = pattern.strip()
    if not p:
        return ""
    p = posixpath.normpath(p).lstrip("/")
    return "" if p == "." else p


def parse(text: str) -> list[str]:
    """The patterns of a .dockerignore file. Comments (#) and blank lines drop; `!` exceptions are kept."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        body = clean(line[1:] if neg else line)
        if body:
            out.append(("!" if neg else "") + body)
    return out
