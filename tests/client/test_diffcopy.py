"""fsutil DiffCopy packets: our sender against our receiver, and the packet stream itself."""

from __future__ import annotations

import os
import queue
import stat
import threading

import pytest

from dalecpy.client import filesync
from dalecpy.client.filesync import DATA, FIN, GO_MODE_DIR, GO_MODE_SYMLINK, REQ, STAT, Receiver, send
from dalecpy.client.fsutil_pb2 import Packet
from dalecpy.client.patterns import PathFilter


def _pipe():
    q: queue.Queue = queue.Queue()

    def it():
        while True:
            p = q.get()
            if p is None:
                return
            yield p

    return q, it()


def _transfer(src, dest, flt=None, log=None):
    """Wire send() to a Receiver in memory, round-tripping every packet through its wire bytes."""
    rx = Receiver(dest)
    to_rx_log = [] if log is None else log
    q, incoming = _pipe()

    def feed_back():
        for p in rx.outgoing():
            q.put(Packet.FromString(p.SerializeToString()))
        q.put(None)

    t = threading.Thread(target=feed_back, daemon=True)
    t.start()

    def emit(p):
        p2 = Packet.FromString(p.SerializeToString())
        to_rx_log.append(p2)
        rx.handle(p2)

    send(src, incoming, emit, flt)
    t.join(5)
    return rx


def _mk(root):
    os.makedirs(root / "dir/sub")
    (root / "dir/sub/big.bin").write_bytes(os.urandom(200_000))
    (root / "empty").write_bytes(b"")
    (root / "exec.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "exec.sh", 0o755)
    os.chmod(root / "dir/sub", 0o700)
    os.symlink("dir/sub/big.bin", root / "link")
    (root / "skip.log").write_text("no")


def test_roundtrip(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    _mk(src)
    log = []
    rx = _transfer(src, dest, PathFilter(excludes=["*.log"]), log)
    assert rx.finished
    assert (dest / "dir/sub/big.bin").read_bytes() == (src / "dir/sub/big.bin").read_bytes()
    assert (dest / "empty").read_bytes() == b""
    assert stat.S_IMODE(os.stat(dest / "exec.sh").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(dest / "dir/sub").st_mode) == 0o700
    assert os.readlink(dest / "link") == "dir/sub/big.bin"
    assert not (dest / "skip.log").exists()
    assert os.stat(dest / "exec.sh").st_mtime_ns == os.stat(src / "exec.sh").st_mtime_ns
    # the stream: STATs, an empty STAT, DATA chunks ending with an empty DATA per file, FIN last
    kinds = [p.type for p in log]
    end = kinds.index(STAT, 0)
    stats = [p for p in log if p.type == STAT]
    assert not stats[-1].HasField("stat")
    assert [s.stat.path for s in stats[:-1]] == ["dir", "dir/sub", "dir/sub/big.bin", "empty", "exec.sh", "link"]
    assert stats[0].stat.mode & GO_MODE_DIR and stats[5].stat.mode & GO_MODE_SYMLINK
    assert stats[2].stat.size == 200_000
    big = [p for p in log if p.type == DATA and p.ID == 2]
    assert len(big) > 2 and big[-1].data == b"" and all(len(p.data) <= filesync.CHUNK for p in big)
    assert kinds[-1] == FIN and end == 0


def test_sender_rejects_unknown_request(tmp_path):
    (tmp_path / "f").write_text("x")
    sent = []
    with pytest.raises(filesync.DiffCopyError, match="invalid file id 7"):
        send(tmp_path, iter([Packet(type=REQ, ID=7)]), sent.append)


def test_sender_answers_fin(tmp_path):
    (tmp_path / "f").write_text("hello")
    sent = []
    send(tmp_path, iter([Packet(type=REQ, ID=0), Packet(type=FIN)]), sent.append)
    assert [(p.type, p.ID, p.data) for p in sent[2:]] == [(DATA, 0, b"hello"), (DATA, 0, b""), (FIN, 0, b"")]


@pytest.mark.parametrize("path", ["../evil", "a/../../evil", "/etc/evil", "", ".", "a//b", "a/"])
def test_receiver_refuses_unclean_paths(tmp_path, path):
    rx = Receiver(tmp_path / "d")
    rx.handle(Packet(type=STAT, stat=dict(path="a", mode=GO_MODE_DIR | 0o755)))
    with pytest.raises(filesync.DiffCopyError, match="invalid path"):
        rx.handle(Packet(type=STAT, stat=dict(path=path, mode=0o644)))
    assert not (tmp_path / "evil").exists() and os.listdir(tmp_path / "d") == ["a"]


def test_receiver_error_packet(tmp_path):
    rx = Receiver(tmp_path / "d")
    with pytest.raises(filesync.DiffCopyError, match="boom"):
        rx.handle(Packet(type=filesync.ERR, data=b"boom"))
