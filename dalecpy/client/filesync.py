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
import secrets
import shutil
import stat as _stat
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ._beneath import DIR_FLAGS, DirChain, open_root
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


def _stat_of(dir_fd: int, name: str, rel: str) -> tuple[Stat, os.stat_result] | None:
    """The Stat of `name` in the directory `dir_fd` (sent as `rel`), and its lstat for identity checks."""
    st = os.lstat(name, dir_fd=dir_fd)
    mode = go_mode(st.st_mode)
    if mode is None:
        return None
    s = Stat(path=rel, mode=mode, uid=st.st_uid, gid=st.st_gid, modTime=st.st_mtime_ns)
    if not _stat.S_ISDIR(st.st_mode):
        s.size = st.st_size
    if _stat.S_ISLNK(st.st_mode):
        s.linkname = os.readlink(name, dir_fd=dir_fd)
    if _stat.S_ISCHR(st.st_mode) or _stat.S_ISBLK(st.st_mode):
        s.devmajor, s.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    return s, st


def walk(root: str | Path, flt: PathFilter | None = None) -> Iterator[Stat]:
    """The Stats the sender sends for `root` under `flt`, in fsutil's walk order.

    A directory that is not itself selected is sent (once, just before its first selected descendant)
    only when something below it is selected, as fsutil's FilterFS does.
    """
    for st, _ in _walk(os.fspath(root), flt or PathFilter()):
        yield st


def _walk(root: str, flt: PathFilter) -> Iterator[tuple[Stat, os.stat_result]]:
    """walk() with each entry's lstat. Directories are listed through fds opened without following symlinks,
    so a directory swapped for a symlink while we walk is an error, not a detour out of `root`."""
    extra = _follow_targets(root, flt)
    try:
        root_fd = open_root(root)
    except OSError as exc:
        raise DiffCopyError(f"cannot read {root}: {exc.strerror}") from None
    dirs = DirChain(root_fd)

    def rec(rel_dir: str, pending: list, parent_included: bool) -> Iterator[tuple[Stat, os.stat_result]]:
        try:
            fd = dirs.open(rel_dir.split("/") if rel_dir else ())
            names = sorted(os.listdir(fd), key=os.fsencode)
        except OSError as exc:
            raise DiffCopyError(f"cannot read {os.path.join(root, rel_dir)}: {exc.strerror}") from None
        for name in names:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                entry = _stat_of(fd, name, rel)
            except FileNotFoundError:
                continue  # removed since the listing
            if entry is None:
                continue
            st = entry[0]
            is_dir = bool(st.mode & GO_MODE_DIR)
            included = parent_included or flt.included(rel) or rel in extra
            excluded = flt.excluded(rel)
            if is_dir:
                if excluded and not flt.has_exceptions:
                    continue
                if included and not excluded:
                    yield from pending
                    pending.clear()
                    yield entry
                    yield from rec(rel, [], True)
                elif included or flt.may_contain_included(rel) or any(e.startswith(rel + "/") for e in extra):
                    sub = [*pending, entry]
                    emitted = False
                    for s in rec(rel, sub, included):
                        emitted = True
                        yield s
                    if emitted:
                        pending.clear()
            elif included and not excluded:
                yield from pending
                pending.clear()
                yield entry

    try:
        yield from rec("", [], False)
    finally:
        dirs.close()
        os.close(root_fd)


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
    files: dict[int, tuple[str, os.stat_result]] = {}
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
        for i, (st, lst) in enumerate(_walk(root, flt or PathFilter())):
            if st.mode & GO_MODE_TYPE == 0:
                files[i] = (st.path, lst)
            emit(Packet(type=STAT, stat=st))
    except (DiffCopyError, OSError) as exc:
        emit(Packet(type=ERR, data=str(exc).encode()))
        raise
    emit(Packet(type=STAT))
    root_fd = open_root(root)
    dirs = DirChain(root_fd)
    try:
        while True:
            p = q.get()
            if p is None:
                return
            if isinstance(p, Exception):
                raise p
            if p.type == ERR:
                raise DiffCopyError(f"error from receiver: {p.data.decode(errors='replace')}")
            if p.type == REQ:
                entry = files.pop(p.ID, None)
                if entry is None:
                    raise DiffCopyError(f"invalid file id {p.ID}")
                try:
                    _send_file(dirs, *entry, p.ID, emit)
                except DiffCopyError as exc:
                    emit(Packet(type=ERR, data=str(exc).encode()))
                    raise
                emit(Packet(type=DATA, ID=p.ID))
            elif p.type == FIN:
                emit(Packet(type=FIN))
                return
    finally:
        dirs.close()
        os.close(root_fd)


def _send_file(dirs: DirChain, path: str, listed: os.stat_result, file_id: int, emit: Callable[[Packet], None]) -> None:
    """DATA chunks of the file that was STATed as `path`, opened beneath the root without following symlinks;
    the open file must be that same file (device and inode), or the entry changed after it was listed."""
    *parents, name = path.split("/")
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dirs.open(parents))
    except (FileNotFoundError, PermissionError):
        return  # like fsutil: a file gone or unreadable since the walk ends with an empty DATA
    except OSError as exc:  # ELOOP, ENOTDIR: a symlink took its place or its parent's
        raise DiffCopyError(f"{path} changed while it was being sent ({exc.strerror}): not following it") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not _stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (listed.st_dev, listed.st_ino):
            raise DiffCopyError(f"{path} changed while it was being sent: it is no longer the file that was listed")
        while chunk := f.read(CHUNK):
            emit(Packet(type=DATA, ID=file_id, data=chunk))


def _subdir(root: int, name: str) -> int:
    """The directory `name` in `root` (one component), made if missing, a non-directory (a symlink too)
    there replaced; `root` is closed."""
    try:
        try:
            old = os.lstat(name, dir_fd=root)
            if not _stat.S_ISDIR(old.st_mode):
                os.unlink(name, dir_fd=root)
                os.mkdir(name, 0o755, dir_fd=root)
        except FileNotFoundError:
            os.mkdir(name, 0o755, dir_fd=root)
        return os.open(name, DIR_FLAGS, dir_fd=root)
    finally:
        os.close(root)


class _StreamOrder:
    """fsutil's Validator: every path clean and relative, in walk order, each one's parent sent before it as a
    directory. A real sender always satisfies it; a stream that does not (`a -> /x`, then `a/f`) is refused."""

    def __init__(self) -> None:
        self.stack: list[list] = [[(), None]]  # [directory parts, last child name] for each ancestor
        self.files: set[str] = set()  # regular files so far: the only valid hardlink targets

    def check(self, path: str, is_dir: bool) -> tuple[str, ...]:
        parts = tuple(path.split("/"))
        if not path or "\x00" in path or any(p in ("", ".", "..") for p in parts):
            raise DiffCopyError(f"invalid path {path!r} in the transfer")
        parent, name = parts[:-1], parts[-1]
        depth = len(parent)
        if depth >= len(self.stack) or self.stack[depth][0] != parent:
            raise DiffCopyError(f"{path!r} arrived without its parent directory: refusing it")
        del self.stack[depth + 1:]
        last = self.stack[depth][1]
        if last is not None and name <= last:
            raise DiffCopyError(f"{path!r} arrived out of order")
        self.stack[depth][1] = name
        if is_dir:
            self.stack.append([parts, None])
        return parts


class _File:
    def __init__(self, parts: tuple[str, ...], st: Stat, ident: tuple[int, int]) -> None:
        self.parts, self.st, self.ident = parts, st, ident
        self.fd: int | None = None


class Receiver:
    """Write what a DiffCopy sender sends into `dest` (a local export), never following a symlink.

    Like fsutil's DiskWriter: each entry's parent is resolved beneath dest one component at a time with
    O_NOFOLLOW, an existing entry is lstat'ed and replaced by renaming a new one over it (a directory that
    becomes a non-directory, or the reverse, is removed first), and files are opened O_NOFOLLOW. So a symlink
    left in dest by an earlier export, or sent earlier in this stream, is replaced, never written through.

    Feed packets with `handle()`; `outgoing()` yields the REQs and the final FIN to send back; `close()` when done.
    """

    def __init__(self, dest: str | Path, subdir: str | None = None) -> None:
        """`subdir`: write into that directory of `dest` instead (made, or replacing a non-directory, there)."""
        import queue

        self.dest = os.path.abspath(os.fspath(dest))
        try:
            os.makedirs(self.dest, exist_ok=True)
            self._root = open_root(self.dest)
            if subdir:
                self._root = _subdir(self._root, subdir)
                self.dest = os.path.join(self.dest, subdir)
        except OSError as exc:
            raise DiffCopyError(f"cannot write to {self.dest}: {exc.strerror}") from None
        self._order = _StreamOrder()
        self._entries = DirChain(self._root)  # parents of the STATs
        self._data = DirChain(self._root)  # parents of the files being written
        self._links = DirChain(self._root)  # parents of hardlink targets
        self.out: queue.Queue = queue.Queue()
        self.index = 0
        self.pending: dict[int, _File] = {}
        self.dirs: list[tuple[tuple[str, ...], Stat]] = []
        self.stats_done = False
        self.finished = False
        self.complete = False  # every file received and our FIN sent: the transfer is done
        self.files_written = 0

    def handle(self, p: Packet) -> None:
        try:
            self._handle(p)
        except OSError as exc:
            where = f" {exc.filename!r}" if exc.filename else ""
            raise DiffCopyError(f"writing into {self.dest}:{where} {exc.strerror}") from None

    def _handle(self, p: Packet) -> None:
        if p.type == ERR:
            raise DiffCopyError(f"error from sender: {p.data.decode(errors='replace')}")
        if p.type == STAT:
            if not p.HasField("stat"):
                self.stats_done = True
                self._maybe_fin()
                return
            i = self.index
            self.index += 1
            self._entry(i, p.stat)
            return
        if p.type == DATA:
            f = self.pending.get(p.ID)
            if f is None:
                raise DiffCopyError(f"invalid file request {p.ID}")
            if f.fd is None:
                f.fd = self._open_written(f)
            if p.data:
                view = memoryview(p.data)
                while view:
                    view = view[os.write(f.fd, view):]
                return
            os.chmod(f.fd, unix_perm(f.st.mode))
            os.utime(f.fd, ns=(f.st.modTime, f.st.modTime))
            os.close(f.fd)
            del self.pending[p.ID]
            self.files_written += 1
            self._maybe_fin()
            return
        if p.type == FIN:
            self.finished = True
            self.out.put(None)

    def _entry(self, i: int, st: Stat) -> None:
        is_dir = bool(st.mode & GO_MODE_DIR)
        parts = self._order.check(st.path, is_dir)
        parent = self._entries.open(parts[:-1])
        name = parts[-1]
        try:
            old: os.stat_result | None = os.lstat(name, dir_fd=parent)
        except FileNotFoundError:
            old = None
        if is_dir:
            if old is None or not _stat.S_ISDIR(old.st_mode):
                self._create(parent, parts, old, True, lambda n: os.mkdir(n, 0o700, dir_fd=parent))
            self.dirs.append((parts, st))
        elif st.mode & GO_MODE_SYMLINK:
            def symlink(n: str) -> None:
                os.symlink(st.linkname, n, dir_fd=parent)
                try:
                    os.utime(n, ns=(st.modTime, st.modTime), dir_fd=parent, follow_symlinks=False)
                except OSError:
                    pass
            self._create(parent, parts, old, False, symlink)
        elif st.mode & GO_MODE_TYPE == 0:
            if st.linkname:  # a hardlink to a file sent earlier (fsutil sends no data for it)
                if st.linkname not in self._order.files:
                    raise DiffCopyError(f"{st.path!r}: hardlink to {st.linkname!r}, which was not sent before it")
                *src_dirs, src_name = st.linkname.split("/")
                src_fd = self._links.open(src_dirs)
                self._create(parent, parts, old, False, lambda n: os.link(
                    src_name, n, src_dir_fd=src_fd, dst_dir_fd=parent, follow_symlinks=False))
                return
            self._order.files.add(st.path)
            ident: list[tuple[int, int]] = []

            def create(n: str) -> None:
                fd = os.open(n, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                             dir_fd=parent)
                st_new = os.fstat(fd)
                os.close(fd)
                ident.append((st_new.st_dev, st_new.st_ino))

            self._create(parent, parts, old, False, create)
            self.pending[i] = _File(parts, st, ident[0])
            self.out.put(Packet(type=REQ, ID=i))
        # fifos and devices are not recreated

    def _create(self, parent: int, parts: tuple[str, ...], old: os.stat_result | None, is_dir: bool,
                make: Callable[[str], None]) -> None:
        """Make the new entry: in place when nothing is there, else under a temporary name renamed over the
        old entry (a directory replaced by a non-directory, or the reverse, is removed first)."""
        name = parts[-1]
        if old is None:
            make(name)
            return
        for _ in range(100):
            tmp = f".tmp.dalecpy.{secrets.token_hex(6)}"
            try:
                make(tmp)
                break
            except FileExistsError:
                continue
        else:
            raise DiffCopyError(f"cannot make a temporary file next to {'/'.join(parts)!r}")
        try:
            for chain in (self._entries, self._data, self._links):
                chain.forget(parts)
            if _stat.S_ISDIR(old.st_mode):
                shutil.rmtree(name, dir_fd=parent)  # fd-based: does not follow symlinks inside either
            elif is_dir:
                os.unlink(name, dir_fd=parent)  # rename() cannot put a directory over a non-directory
            os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            try:
                if is_dir:
                    os.rmdir(tmp, dir_fd=parent)
                else:
                    os.unlink(tmp, dir_fd=parent)
            except OSError:
                pass
            raise

    def _open_written(self, f: _File) -> int:
        """The file we created for this entry, reopened beneath dest for its data; it must still be that file."""
        fd = os.open(f.parts[-1], os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=self._data.open(f.parts[:-1]))
        st = os.fstat(fd)
        if not _stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != f.ident:
            os.close(fd)
            raise DiffCopyError(f"{'/'.join(f.parts)!r} in {self.dest} changed while it was being written")
        return fd

    def _maybe_fin(self) -> None:
        if self.stats_done and not self.pending:
            dirs = DirChain(self._root)
            try:
                for parts, st in reversed(self.dirs):
                    try:
                        fd = dirs.open(parts)
                        os.chmod(fd, unix_perm(st.mode))
                        os.utime(fd, ns=(st.modTime, st.modTime))
                    except OSError:
                        pass
            finally:
                dirs.close()
            self.dirs.clear()
            self.complete = True
            self.out.put(Packet(type=FIN))

    def close(self) -> None:
        """Release every fd (idempotent)."""
        for f in self.pending.values():
            if f.fd is not None:
                os.close(f.fd)
                f.fd = None
        for chain in (self._entries, self._data, self._links):
            chain.close()
        if self._root >= 0:
            os.close(self._root)
            self._root = -1

    def outgoing(self) -> Iterator[Packet]:
        while True:
            p = self.out.get()
            if p is None:
                return
            yield p
