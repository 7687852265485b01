"""fsutil's DiffCopy packet protocol, both ends, over any pair of (incoming packets, send function).

Sender (FileSync/DiffCopy: the daemon pulls a local source): one PACKET_STAT per entry in walk order
(depth-first, names sorted bytewise, a directory before its contents), then an empty PACKET_STAT. The
receiver answers PACKET_REQ{ID} for the files it wants (ID = index of the entry among all STATs); each is
answered with PACKET_DATA{ID, data} chunks and an empty PACKET_DATA{ID}. The receiver ends with
PACKET_FIN, the sender replies PACKET_FIN. PACKET_ERR{data=message} aborts either way.

Receiver (FileSend/DiffCopy: the daemon pushes a local export): the mirror image.

Stat.mode carries Go os.FileMode bits (ModeDir = 1<<31, ModeSymlink = 1<<27, ...), not st_mode.
"""

from __future__ import annotations

import os
import stat as _stat
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .fsutil_pb2 import Packet, Stat
from .patterns import PathFilter

STAT, REQ, DATA, FIN, ERR = (Packet.PACKET_STAT, Packet.PACKET_REQ, Packet.PACKET_DATA, Packet.PACKET_FIN,
                             Packet.PACKET_ERR)
CHUNK = 32 << 10

GO_MODE_DIR = 1 << 31
GO_MODE_SYMLINK = 1 << 27
GO_MODE_DEVICE = 1 << 26
GO_MODE_NAMED_PIPE = 1 << 25
GO_MODE_SOCKET = 1 << 24
GO_MODE_SETUID = 1 << 23
GO_MODE_SETGID = 1 << 22
GO_MODE_CHAR_DEVICE = 1 << 21
GO_MODE_STICKY = 1 << 20
GO_MODE_TYPE = GO_MODE_DIR | GO_MODE_SYMLINK | GO_MODE_NAMED_PIPE | GO_MODE_SOCKET | GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE | (1 << 19)


class DiffCopyError(Exception):
    pass


def go_mode(st_mode: int) -> int | None:
    """st_mode -> Go os.FileMode bits; None for entries fsutil would not send (sockets)."""
    m = _stat.S_IMODE(st_mode) & 0o777
    if st_mode & _stat.S_ISUID:
        m |= GO_MODE_SETUID
    if st_mode & _stat.S_ISGID:
        m |= GO_MODE_SETGID
    if st_mode & _stat.S_ISVTX:
        m |= GO_MODE_STICKY
    if _stat.S_ISDIR(st_mode):
        return m | GO_MODE_DIR
    if _stat.S_ISLNK(st_mode):
        return m | GO_MODE_SYMLINK
    if _stat.S_ISREG(st_mode):
        return m
    if _stat.S_ISFIFO(st_mode):
        return m | GO_MODE_NAMED_PIPE
    if _stat.S_ISCHR(st_mode):
        return m | GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE
    if _stat.S_ISBLK(st_mode):
        return m | GO_MODE_DEVICE
    return None  # socket


def unix_perm(mode: int) -> int:
    m = mode & 0o777
    if mode & GO_MODE_SETUID:
        m |= _stat.S_ISUID
    if mode & GO_MODE_SETGID:
        m |= _stat.S_ISGID
    if mode & GO_MODE_STICKY:
        m |= _stat.S_ISVTX
    return m


def _stat_of(root: str, rel: str) -> Stat | None:
    full = os.path.join(root, rel)
    st = os.lstat(full)
    mode = go_mode(st.st_mode)
    if mode is None:
        return None
    s = Stat(path=rel, mode=mode, uid=st.st_uid, gid=st.st_gid, modTime=st.st_mtime_ns)
    if not _stat.S_ISDIR(st.st_mode):
        s.size = st.st_size
    if _stat.S_ISLNK(st.st_mode):
        s.linkname = os.readlink(full)
    if _stat.S_ISCHR(st.st_mode) or _stat.S_ISBLK(st.st_mode):
        s.devmajor, s.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    return s


def walk(root: str | Path, flt: PathFilter | None = None) -> Iterator[Stat]:
    """The Stats the sender sends for `root` under `flt`, in fsutil's walk order.

    A directory that is not itself selected is sent (once, just before its first selected descendant)
    only when something below it is selected, as fsutil's FilterFS does.
    """
    root = os.fspath(root)
    flt = flt or PathFilter()
    extra = _follow_targets(root, flt)

    def rec(rel_dir: str, pending: list[Stat], parent_included: bool) -> Iterator[Stat]:
        try:
            names = sorted(os.listdir(os.path.join(root, rel_dir)), key=os.fsencode)
        except OSError as exc:
            raise DiffCopyError(f"cannot read {os.path.join(root, rel_dir)}: {exc}") from None
        for name in names:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            st = _stat_of(root, rel)
            if st is None:
                continue
            is_dir = bool(st.mode & GO_MODE_DIR)
            included = parent_included or flt.included(rel) or rel in extra
            excluded = flt.excluded(rel)
            if is_dir:
                if excluded and not flt.has_exceptions:
                    continue
                if included and not excluded:
                    yield from pending
                    pending.clear()
                    yield st
                    yield from rec(rel, [], True)
                elif included or flt.may_contain_included(rel) or any(e.startswith(rel + "/") for e in extra):
                    sub = [*pending, st]
                    emitted = False
                    for s in rec(rel, sub, included):
                        emitted = True
                        yield s
                    if emitted:
                        pending.clear()
            elif included and not excluded:
                yield from pending
                pending.clear()
                yield st

    yield from rec("", [], False)


def _follow_targets(root: str, flt: PathFilter) -> set[str]:
    """followpaths that are symlinks also send their (in-root) targets."""
    out = set()
    for p in flt.follow_paths:
        cur = p
        for _ in range(40):
            full = os.path.join(root, cur)
            if not os.path.islink(full):
                break
            target = os.path.normpath(os.path.join(os.path.dirname(cur), os.readlink(full))).lstrip("/")
            if target.startswith(".."):
                break
            out.add(target)
            cur = target
    return out


def send(root: str | Path, incoming: Iterable[Packet], emit: Callable[[Packet], None],
         flt: PathFilter | None = None) -> None:
    """Run the sender: stats, then answer REQs from `incoming` (read in a thread) until FIN.

    `emit` must be safe to call from the caller's thread only; requests are queued back to it.
    """
    import queue

    root = os.fspath(root)
    files: dict[int, str] = {}
    q: queue.Queue = queue.Queue()

    def reader() -> None:
        try:
            for p in incoming:
                q.put(p)
        except Exception as exc:  # the stream broke: stop the sender
            q.put(exc)
        q.put(None)

    threading.Thread(target=reader, name="diffcopy-recv", daemon=True).start()
    try:
        for i, st in enumerate(walk(root, flt)):
            if st.mode & GO_MODE_TYPE == 0:
                files[i] = st.path
            emit(Packet(type=STAT, stat=st))
    except (DiffCopyError, OSError) as exc:
        emit(Packet(type=ERR, data=str(exc).encode()))
        raise
    emit(Packet(type=STAT))
    while True:
        p = q.get()
        if p is None:
            return
        if isinstance(p, Exception):
            raise p
        if p.type == ERR:
            raise DiffCopyError(f"error from receiver: {p.data.decode(errors='replace')}")
        if p.type == REQ:
            path = files.pop(p.ID, None)
            if path is None:
                raise DiffCopyError(f"invalid file id {p.ID}")
            try:
                with open(os.path.join(root, path), "rb") as f:
                    while chunk := f.read(CHUNK):
                        emit(Packet(type=DATA, ID=p.ID, data=chunk))
            except OSError:
                pass  # like fsutil: an unreadable file ends with an empty DATA
            emit(Packet(type=DATA, ID=p.ID))
        elif p.type == FIN:
            emit(Packet(type=FIN))
            return


class Receiver:
    """Write what a DiffCopy sender sends into `dest` (a local export).

    Feed packets with `handle()`; `outgoing()` yields the REQs and the final FIN to send back.
    """

    def __init__(self, dest: str | Path) -> None:
        import queue

        self.dest = os.path.abspath(os.fspath(dest))
        os.makedirs(self.dest, exist_ok=True)
        self.out: queue.Queue = queue.Queue()
        self.index = 0
        self.pending: dict[int, tuple[str, Stat, object]] = {}
        self.dirs: list[tuple[str, Stat]] = []
        self.stats_done = False
        self.finished = False
        self.complete = False  # every file received and our FIN sent: the transfer is done
        self.files_written = 0

    def _target(self, rel: str) -> str:
        full = os.path.normpath(os.path.join(self.dest, rel))
        if full != self.dest and not full.startswith(self.dest + os.sep):
            raise DiffCopyError(f"path escapes the destination: {rel!r}")
        return full

    def handle(self, p: Packet) -> None:
        if p.type == ERR:
            raise DiffCopyError(f"error from sender: {p.data.decode(errors='replace')}")
        if p.type == STAT:
            if not p.HasField("stat"):
                self.stats_done = True
                self._maybe_fin()
                return
            st = p.stat
            i = self.index
            self.index += 1
            full = self._target(st.path)
            if st.mode & GO_MODE_DIR:
                os.makedirs(full, exist_ok=True)
                self.dirs.append((full, st))
            elif st.mode & GO_MODE_SYMLINK:
                if os.path.lexists(full):
                    os.unlink(full)
                os.symlink(st.linkname, full)
            elif st.mode & GO_MODE_TYPE == 0:
                if os.path.lexists(full) and not os.path.isfile(full):
                    os.unlink(full)
                f = open(full, "wb")
                self.pending[i] = (full, st, f)
                self.out.put(Packet(type=REQ, ID=i))
            # fifos and devices are not recreated
            return
        if p.type == DATA:
            entry = self.pending.get(p.ID)
            if entry is None:
                raise DiffCopyError(f"invalid file request {p.ID}")
            full, st, f = entry
            if p.data:
                f.write(p.data)  # type: ignore[attr-defined]
                return
            f.close()  # type: ignore[attr-defined]
            del self.pending[p.ID]
            os.chmod(full, unix_perm(st.mode))
            os.utime(full, ns=(st.modTime, st.modTime))
            self.files_written += 1
            self._maybe_fin()
            return
        if p.type == FIN:
            self.finished = True
            self.out.put(None)

    def _maybe_fin(self) -> None:
        if self.stats_done and not self.pending:
            for full, st in reversed(self.dirs):
                try:
                    os.chmod(full, unix_perm(st.mode))
                    os.utime(full, ns=(st.modTime, st.modTime))
                except OSError:
                    pass
            self.dirs.clear()
            self.complete = True
            self.out.put(Packet(type=FIN))

    def outgoing(self) -> Iterator[Packet]:
        while True:
            p = self.out.get()
            if p is None:
                return
            yield p
