"""The mount points of the one build op, checked in one place.

Every build step, cache and internal mount of a build lands on one ExecOp, so a destination can be
claimed once. Destinations are compared after Go's path.Clean (`/a`, `/a/`, `//a` and `/x/../a` are one
mount point): a cache at `/build/` would otherwise be mounted over the build tree and hide it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Path
from ..limits import MAX_BUILD_OP_MOUNTS
from ..llb.state import go_clean
from .options import CompileError
from .script import SCRIPT_DIR

BUILD_DIR = "/build"

#: What dalecpy itself mounts on the build op, by mount point.
INTERNAL_MOUNTS = {
    "/": "the root filesystem",
    BUILD_DIR: "the build tree",
    SCRIPT_DIR: "dalecpy's generated scripts",
}


def mount_point(dest: str) -> str:
    return go_clean(dest)


@dataclass(frozen=True)
class _Claim:
    path: Path | None  # spec path of the claiming node; None for dalecpy's own mounts
    what: str  # how messages name the claimant: "cache 2", "step 0 mount 1"
    prefix: str  # message prefix for an error positioned at this claim: "build: cache 2: cache mount"
    identity: Any  # claims with equal identity share the mount instead of colliding


class MountTable:
    """Claims on the mount points of one ExecOp; collisions are collected, then raised at once."""

    def __init__(self, internal: dict[str, str] | None = None) -> None:
        self._owners: dict[str, _Claim] = {}
        self._problems: list[tuple[Path | None, str]] = []
        self.count = 0  # mounts claimed by the spec
        for dest, what in (INTERNAL_MOUNTS if internal is None else internal).items():
            self._owners[mount_point(dest)] = _Claim(None, what, "", object())

    def claim(self, dest: str, path: Path | None, what: str, prefix: str, identity: Any = None) -> bool:
        """Claim `dest`. False when it is taken: by an equal `identity` (share it, no error) or by another
        claim (a collision, reported at the spec node that came second, or at the first when the second
        is dalecpy's own)."""
        key = mount_point(dest)
        mine = _Claim(path, what, prefix, identity if identity is not None else object())
        owner = self._owners.get(key)
        if owner is None:
            self._owners[key] = mine
            self.count += 1
            if self.count == MAX_BUILD_OP_MOUNTS + 1:
                self._problems.append(
                    (path, f"{prefix} destination {dest}: more than {MAX_BUILD_OP_MOUNTS} mounts on the build op")
                )
            return True
        if owner.identity == mine.identity:
            return False
        if path is None and owner.path is not None:
            self._problems.append((owner.path, f"{owner.prefix} destination {dest} is used by {what}"))
        else:
            self._problems.append((path, f"{prefix} destination {dest} is already used by {owner.what}"))
        return False

    def report(self, path: Path | None, message: str) -> None:
        """Add a problem found while claiming (e.g. a cache ID that aliases a built-in one)."""
        self._problems.append((path, message))

    def check(self) -> None:
        """Raise every collision found so far as one CompileError (positioned by compile_spec)."""
        if self._problems:
            raise CompileError.many(self._problems)
