"""A hostile daemon and a racing context: file transfers never write or read through a symlink.

The export tests play the daemon on the session's real FileSend/DiffCopy service with scripted fsutil
streams; the sender tests swap context entries for symlinks between the STAT and the REQ for their data.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path

import grpc
import pytest

from dalecpy.client import filesync
from dalecpy.client._beneath import DirChain, open_root
from dalecpy.client.filesync import DATA, ERR, FIN, GO_MODE_DIR, GO_MODE_SYMLINK, REQ, STAT
from dalecpy.client.fsutil_pb2 import Packet, Stat
from dalecpy.client.session import ExportTarget, SessionConfig, SessionServer

SECRET = b"outside, must stay as it is\n"


def d(path: str) -> tuple[Stat, None]:
    return Stat(path=path, mode=GO_MODE_DIR | 0o755, modTime=10**18), None


def f(path: str, data: bytes, mode: int = 0o644, link: str = "") -> tuple[Stat, bytes]:
    return Stat(path=path, mode=mode, size=len(data), linkname=link, modTime=10**18), data


def ln(path: str, target: str) -> tuple[Stat, None]:
    return Stat(path=path, mode=GO_MODE_SYMLINK | 0o777, linkname=target), None


def export(dest: Path, entries: list[tuple[Stat, bytes | None]]) -> tuple[SessionServer, list[Packet]]:
    """Play the daemon's local exporter: STAT every entry, answer REQs with DATA, end with FIN. Returns the
    session (its `errors`) and what the client sent back."""
    srv = SessionServer(SessionConfig(export=ExportTarget("dir", str(dest))))
    ch = grpc.insecure_channel("unix:" + srv.path)
    call = ch.stream_stream("/moby.filesync.v1.FileSend/DiffCopy", request_serializer=Packet.SerializeToString,
                            response_deserializer=Packet.FromString)
    q: queue.Queue = queue.Queue()
    for st, _ in entries:
        q.put(Packet(type=STAT, stat=st))
    q.put(Packet(type=STAT))

    def outgoing():
        while (p := q.get()) is not None:
            yield p

    got: list[Packet] = []
    try:
        for p in call(outgoing(), timeout=10):
            got.append(p)
            if p.type == REQ:
                data = entries[p.ID][1] or b""
                if data:
                    q.put(Packet(type=DATA, ID=p.ID, data=data))
                q.put(Packet(type=DATA, ID=p.ID))
            elif p.type in (FIN, ERR):
                q.put(Packet(type=FIN))
                break
    except grpc.RpcError:
        pass
    q.put(None)
    ch.close()
    srv.close()
    return srv, got


@pytest.fixture
def outside(tmp_path):
    """A file and a directory outside every dest: they must never change."""
    o = tmp_path / "outside"
    o.mkdir()
    (o / "file").write_bytes(SECRET)
    (o / "dir").mkdir()
    yield o
    assert (o / "file").read_bytes() == SECRET and not (o / "file").is_symlink()
    assert os.listdir(o / "dir") == []


def test_file_over_a_symlink_left_by_an_earlier_export(tmp_path, outside):
    dest = tmp_path / "dest"
    srv, _ = export(dest, [ln("x", str(outside / "file"))])
    assert not srv.errors and os.readlink(dest / "x") == str(outside / "file")
    srv, _ = export(dest, [f("x", b"new contents")])
    assert not srv.errors, srv.errors
    assert not (dest / "x").is_symlink() and (dest / "x").read_bytes() == b"new contents"


def test_directory_over_a_symlinked_directory_left_by_an_earlier_export(tmp_path, outside):
    dest = tmp_path / "dest"
    export(dest, [ln("d", str(outside / "dir")), ln("e", "../outside/dir")])
    srv, _ = export(dest, [d("d"), f("d/planted", b"in d"), d("e"), d("e/sub"), f("e/sub/planted", b"in e")])
    assert not srv.errors, srv.errors
    assert not (dest / "d").is_symlink() and (dest / "d/planted").read_bytes() == b"in d"
    assert not (dest / "e").is_symlink() and (dest / "e/sub/planted").read_bytes() == b"in e"


def test_child_of_a_symlink_sent_earlier_in_the_same_stream_is_refused(tmp_path, outside):
    dest = tmp_path / "dest"
    srv, got = export(dest, [ln("a", str(outside / "dir")), f("a/planted", b"evil")])
    assert any("without its parent directory" in e for e in srv.errors), srv.errors
    assert got[-1].type == ERR and not any(p.type == REQ for p in got)
    assert os.readlink(dest / "a") == str(outside / "dir")  # what the stream said before the bad entry


def test_child_of_a_symlink_already_in_dest_is_refused(tmp_path, outside):
    """The stream names `link/x` without sending `link` as a directory: refused, dest's symlink not entered."""
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(outside / "dir", dest / "link")
    srv, _ = export(dest, [f("link/x", b"evil")])
    assert srv.errors and os.readlink(dest / "link") == str(outside / "dir")


def test_path_sent_twice_is_refused(tmp_path, outside):
    dest = tmp_path / "dest"
    srv, _ = export(dest, [d("a"), ln("a/x", str(outside / "file")), f("a/x", b"evil")])
    assert any("out of order" in e for e in srv.errors), srv.errors


@pytest.mark.parametrize("target", ["../outside/file", "/etc/passwd", "s", "nothing"])
def test_hardlink_only_to_a_file_sent_before(tmp_path, outside, target):
    dest = tmp_path / "dest"
    srv, _ = export(dest, [ln("s", str(outside / "file")), f("t", b"", link=target)])
    assert srv.errors and not (dest / "t").exists()


def test_hardlink_within_the_export(tmp_path):
    dest = tmp_path / "dest"
    srv, got = export(dest, [d("bin"), f("bin/a", b"binary", 0o755), f("bin/b", b"", 0o755, link="bin/a")])
    assert not srv.errors, srv.errors
    assert (dest / "bin/b").read_bytes() == b"binary"
    assert os.stat(dest / "bin/a").st_ino == os.stat(dest / "bin/b").st_ino
    assert [p.ID for p in got if p.type == REQ] == [1]  # no data is asked for a hardlink


def test_directory_and_file_replace_each_other(tmp_path, outside):
    dest = tmp_path / "dest"
    (dest / "was-dir/deep").mkdir(parents=True)
    os.symlink(outside / "file", dest / "was-dir/deep/link")  # removed, not followed
    (dest / "was-file").write_text("old")
    (dest / "kept").write_text("not in the stream")
    srv, _ = export(dest, [f("was-dir", b"now a file"), d("was-file"), f("was-file/child", b"c")])
    assert not srv.errors, srv.errors
    assert (dest / "was-dir").read_bytes() == b"now a file"
    assert (dest / "was-file/child").read_bytes() == b"c"
    assert (dest / "kept").read_text() == "not in the stream"
    assert not [n for n in os.listdir(dest) if n.startswith(".tmp")]


def test_file_swapped_for_a_symlink_while_its_data_is_in_flight(tmp_path, outside):
    """The file the receiver created is replaced by a symlink before its data arrives: not written through."""
    rx = filesync.Receiver(tmp_path / "dest")
    rx.handle(Packet(type=STAT, stat=Stat(path="x", mode=0o644)))
    rx.handle(Packet(type=STAT))
    os.unlink(tmp_path / "dest/x")
    os.symlink(outside / "file", tmp_path / "dest/x")
    with pytest.raises(filesync.DiffCopyError):
        rx.handle(Packet(type=DATA, ID=0, data=b"evil"))
    rx.close()


def test_dir_chain_never_follows_a_symlink(tmp_path, outside):
    (tmp_path / "root/real").mkdir(parents=True)
    os.symlink(outside / "dir", tmp_path / "root/link")
    os.symlink("real", tmp_path / "root/inside-link")
    fd = open_root(str(tmp_path / "root"))
    chain = DirChain(fd)
    chain.open(["real"])
    for parts in (["link"], ["inside-link"], ["link", "x"]):
        with pytest.raises(OSError):
            chain.open(parts)
    chain.close()
    os.close(fd)


# ---- the sending side: the context served to the daemon ------------------------------------------------
def _send_with_swap(root: Path, swap) -> tuple[list[Packet], BaseException | None]:
    """Run the sender; after its STATs and before the REQ for entry `want`, call `swap()`."""
    sent: list[Packet] = []
    stats_done = threading.Event()

    def emit(p: Packet) -> None:
        sent.append(p)
        if p.type == STAT and not p.HasField("stat"):
            stats_done.set()

    def incoming():
        stats_done.wait(5)
        swap()
        ids = [i for i, p in enumerate(q for q in sent if q.type == STAT and q.HasField("stat"))
               if not p.stat.mode & (GO_MODE_DIR | GO_MODE_SYMLINK)]
        for i in ids:
            yield Packet(type=REQ, ID=i)
        yield Packet(type=FIN)

    err = None
    try:
        filesync.send(root, incoming(), emit)
    except filesync.DiffCopyError as exc:
        err = exc
    return sent, err


def test_sender_does_not_follow_a_file_swapped_for_a_symlink(tmp_path, outside):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "a.txt").write_text("a")

    def swap():
        os.unlink(ctx / "a.txt")
        os.symlink(outside / "file", ctx / "a.txt")

    sent, err = _send_with_swap(ctx, swap)
    assert err is not None and "changed while it was being sent" in str(err)
    assert not any(SECRET in p.data for p in sent)
    assert sent[-1].type == ERR


def test_sender_does_not_follow_a_directory_swapped_for_a_symlink(tmp_path, outside):
    ctx = tmp_path / "ctx"
    (ctx / "sub").mkdir(parents=True)
    (ctx / "sub/file").write_text("mine")

    def swap():
        os.rename(ctx / "sub", tmp_path / "moved")
        os.symlink(outside, ctx / "sub")

    sent, err = _send_with_swap(ctx, swap)
    assert err is not None
    assert not any(SECRET in p.data for p in sent)


def test_sender_refuses_a_file_replaced_by_another(tmp_path, outside):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "a.txt").write_text("a")

    def swap():
        os.link(outside / "file", ctx / "tmp")
        os.rename(ctx / "tmp", ctx / "a.txt")

    sent, err = _send_with_swap(ctx, swap)
    assert err is not None and "no longer the file" in str(err)
    assert not any(SECRET in p.data for p in sent)


def test_sender_unchanged_file_is_sent(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "a.txt").write_text("a")
    sent, err = _send_with_swap(ctx, lambda: None)
    assert err is None
    assert [(p.type, p.data) for p in sent[2:]] == [(DATA, b"a"), (DATA, b""), (FIN, b"")]


def test_platform_subdir_of_a_multi_platform_export_is_not_followed(tmp_path, outside):
    """One platform of several goes into DIR/linux_arm64: a symlink there (left by an earlier export) is replaced."""
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(outside / "dir", dest / "linux_arm64")
    rx = filesync.Receiver(dest, "linux_arm64")
    for p in (Packet(type=STAT, stat=Stat(path="f", mode=0o644)), Packet(type=STAT), Packet(type=DATA, ID=0, data=b"x"),
              Packet(type=DATA, ID=0)):
        rx.handle(p)
    rx.close()
    assert not (dest / "linux_arm64").is_symlink() and (dest / "linux_arm64/f").read_bytes() == b"x"
