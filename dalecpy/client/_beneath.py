"""Paths beneath a directory fd, resolved one component at a time with O_NOFOLLOW (openat-style).

Both ends of a file transfer use it: the receiver so that a symlink already in the export's dest, or
planted earlier in the same stream, is never written through; the sender so that a context entry swapped
for a symlink after it was listed is never followed out of the context.
"""

from __future__ import annotations

import os

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_root(path: str) -> int:
    """An fd for the transfer's root directory itself (which the user named, so it may be a symlink)."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


class DirChain:
    """Directory fds for the components of one relative path below `root_fd`, none reached through a symlink.

    Transfers go in walk order, so consecutive lookups share most of their parents: the fds of the last
    path are kept and only the part that differs is reopened. `root_fd` stays the caller's.
    """

    def __init__(self, root_fd: int) -> None:
        self.root = root_fd
        self.names: list[str] = []
        self.fds: list[int] = []

    def open(self, parts: tuple[str, ...] | list[str]) -> int:
        """The fd of the directory `parts` (() is the root); OSError (ELOOP, ENOTDIR, ...) when a component is
        missing, not a directory, or a symlink."""
        n = 0
        while n < len(self.names) and n < len(parts) and self.names[n] == parts[n]:
            n += 1
        self._drop(n)
        for name in parts[n:]:
            fd = os.open(name, DIR_FLAGS, dir_fd=self.fds[-1] if self.fds else self.root)
            self.names.append(name)
            self.fds.append(fd)
        return self.fds[-1] if self.fds else self.root

    def forget(self, parts: tuple[str, ...] | list[str]) -> None:
        """Drop cached fds for `parts` and below (that entry is being replaced)."""
        if tuple(self.names[: len(parts)]) == tuple(parts):
            self._drop(len(parts))

    def close(self) -> None:
        self._drop(0)

    def _drop(self, n: int) -> None:
        for fd in self.fds[n:]:
            os.close(fd)
        del self.names[n:], self.fds[n:]
