"""Exact bytes of small ops, derived by hand from the field numbers in the protocol notes."""

from __future__ import annotations

import hashlib

from dalecpy import llb
from dalecpy.llb import ops_pb2 as pb

from .llbtest_helpers import defs, ops_of

PLATFORM_AMD64 = b"\x52\x0e" + b"\x0a\x05amd64" + b"\x12\x05linux"
EMPTY_CONSTRAINTS = b"\x5a\x00"
NEG1 = b"\xff" * 9 + b"\x01"  # int64 -1 as a varint


def _ld(tag: bytes, payload: bytes) -> bytes:
    assert len(payload) < 128
    return tag + bytes([len(payload)]) + payload


def test_image_source_op_bytes():
    d = llb.marshal(llb.image("busybox"))
    ident = b"docker-image://docker.io/library/busybox:latest"
    expected = PLATFORM_AMD64 + EMPTY_CONSTRAINTS + _ld(b"\x1a", _ld(b"\x0a", ident))
    assert defs(d)[0] == expected
    assert expected[:2] == b"\x52\x0e" and expected[16:18] == b"\x5a\x00" and expected[18:19] == b"\x1a"


def test_image_platform_variant_bytes():
    d = llb.marshal(llb.image("alpine:3", platform="linux/arm/v7"))
    plat = b"\x0a\x03arm" + b"\x12\x05linux" + b"\x1a\x02v7"
    assert defs(d)[0].startswith(_ld(b"\x52", plat) + EMPTY_CONSTRAINTS + b"\x1a")


def test_local_source_has_no_platform():
    d = llb.marshal(llb.local("context"))
    assert defs(d)[0] == EMPTY_CONSTRAINTS + _ld(b"\x1a", _ld(b"\x0a", b"local://context"))


def test_source_attrs_sorted_map_entries():
    d = llb.marshal(llb.http("https://example.com/f", filename="f", checksum="sha256:00"))
    body = _ld(b"\x0a", b"https://example.com/f")
    body += _ld(b"\x12", _ld(b"\x0a", b"http.checksum") + _ld(b"\x12", b"sha256:00"))
    body += _ld(b"\x12", _ld(b"\x0a", b"http.filename") + _ld(b"\x12", b"f"))
    assert defs(d)[0] == EMPTY_CONSTRAINTS + _ld(b"\x1a", body)


def test_terminal_op_bytes_and_digest():
    d = llb.marshal(llb.image("busybox"))
    first, term = defs(d)
    dg = "sha256:" + hashlib.sha256(first).hexdigest()
    assert llb.digest_of(first) == dg
    assert term == b"\x0a\x49\x0a\x47" + dg.encode()


def test_terminal_op_carries_output_index():
    base = llb.image("busybox")
    out = base.run(["true"], mounts=[llb.Mount.bind("/out", llb.scratch())]).output("/out")
    term = defs(llb.marshal(out))[-1]
    assert term.startswith(b"\x0a\x4b\x0a\x47") and term.endswith(b"\x10\x01")


def test_exec_op_bytes_minimal():
    base = llb.image("busybox")
    d = llb.marshal(base.run(["true"]).root)
    src, ex, _ = defs(d)
    dg = llb.digest_of(src).encode()
    meta = _ld(b"\x0a", b"true") + _ld(b"\x1a", b"/") + b"\x58\x01"  # args, cwd, removeMountStubsRecursive
    execop = _ld(b"\x0a", meta) + _ld(b"\x12", b"\x1a\x01\x2f")  # root mount: only dest "/"
    expected = _ld(b"\x0a", _ld(b"\x0a", dg)) + PLATFORM_AMD64 + EMPTY_CONSTRAINTS + _ld(b"\x12", execop)
    assert ex == expected


def test_exec_on_scratch_root_mount_input_minus_one():
    d = llb.marshal(llb.scratch().run(["/x"]).root)
    (ex, _) = defs(d)
    op = ops_of(d)[0]
    assert list(op.inputs) == []
    assert op.exec.mounts[0].input == -1 and op.exec.mounts[0].output == 0
    assert (b"\x12\x0e" + b"\x08" + NEG1 + b"\x1a\x01\x2f") in ex


def test_special_mount_encodings():
    st = llb.image("busybox").run(
        ["true"],
        mounts=[
            llb.Mount.cache("/c", "k", llb.CacheSharing.LOCKED),
            llb.Mount.tmpfs("/t"),
            llb.Mount.tmpfs("/t2", size=1024),
            llb.Mount.secret("/s", "sec", uid=1, gid=2, optional=True),
            llb.Mount.ssh("/a", "agent"),
        ],
    ).root
    ex = defs(llb.marshal(st))[1]
    cache = b"\x08" + NEG1 + b"\x1a\x02/c" + b"\x20" + NEG1 + b"\x30\x03" + b"\xa2\x01\x05" + b"\x0a\x01k\x10\x02"
    tmpfs = b"\x08" + NEG1 + b"\x1a\x02/t" + b"\x20" + NEG1 + b"\x30\x04" + b"\x9a\x01\x00"
    tmpfs_size = b"\x08" + NEG1 + b"\x1a\x03/t2" + b"\x20" + NEG1 + b"\x30\x04" + b"\x9a\x01\x03\x08\x80\x08"
    secret = b"\x08" + NEG1 + b"\x1a\x02/s" + b"\x30\x01" + b"\xaa\x01\x0e" + b"\x0a\x03sec\x10\x01\x18\x02\x20\x80\x02\x28\x01"
    ssh = b"\x08" + NEG1 + b"\x1a\x02/a" + b"\x30\x02" + b"\xb2\x01\x0a" + b"\x0a\x05agent\x20\x80\x03"
    for m in (cache, tmpfs, tmpfs_size, secret, ssh):
        assert _ld(b"\x12", m) in ex, m


def test_split_envelope_matches_protobuf_serialisation():
    """Our envelope equals protobuf's bytes of (Op without oneof) + (Op with only the oneof)."""
    local = llb.local("ctx", session_id="s")
    st = llb.image("busybox").run(["sh"], mounts=[llb.Mount.bind("/src", local, readonly=True)]).root
    st = st.file(llb.copy(local, "a", "/b").mkdir("/c", 0o755))
    d = llb.marshal(st)
    for raw, op in zip(defs(d), ops_of(d)):
        kind = op.WhichOneof("op")
        head = pb.Op()
        head.CopyFrom(op)
        head.ClearField("op") if kind else None
        tail = pb.Op()
        if kind:
            getattr(tail, kind).CopyFrom(getattr(op, kind))
        assert raw == head.SerializeToString(deterministic=True) + tail.SerializeToString(deterministic=True)
