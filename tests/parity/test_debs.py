"""Reading and comparing built .debs (tests/parity/debs.py), on packages made here with dpkg-deb."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tests.parity import compare as cmp
from tests.parity.debs import Member, compare_debs, elf_symbols, read_deb

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="no dpkg-deb")

CONTROL = """Package: demo
Version: {version}
Architecture: amd64
Maintainer: t <t@example.com>
Depends: {depends}
Description: demo
 two lines
"""


def _deb(tmp: Path, name: str, *, version: str = "1.0-1", depends: str = "libc6, bash", mode: int = 0o755,
         extra: str | None = None, postinst: str | None = None) -> Path:
    root = tmp / name
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(CONTROL.format(version=version, depends=depends))
    if postinst is not None:
        (root / "DEBIAN" / "postinst").write_text(postinst)
        (root / "DEBIAN" / "postinst").chmod(0o755)
    tool = root / "usr" / "bin" / "demo"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\n")
    tool.chmod(mode)
    (root / "usr" / "bin" / "demo-link").symlink_to("demo")
    if extra:
        (root / extra.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / extra.lstrip("/")).write_text("x\n")
        (root / extra.lstrip("/")).chmod(0o644)
    for d in [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())]:
        d.chmod(0o755)  # whatever the umask
    out = tmp / f"{name}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-b", str(root), str(out)], check=True,
                   capture_output=True)
    return out


def test_read_deb(tmp_path):
    deb = read_deb(_deb(tmp_path, "a", postinst="#!/bin/sh\ntrue\n"))
    assert deb.members["/usr/bin/demo"] == Member("file", "0755", "root:root")
    assert deb.members["/usr/bin/demo-link"] == Member("symlink", "0777", "root:root", "demo")
    assert deb.members["/usr"].kind == "dir"
    assert deb.fields["Package"] == "demo" and deb.fields["Description"] == "demo\ntwo lines"
    assert deb.control == {"postinst": b"#!/bin/sh\ntrue\n"}


def test_same_package_no_difference(tmp_path):
    a = read_deb(_deb(tmp_path, "a"))
    b = read_deb(_deb(tmp_path, "b", depends="bash,\n         libc6"))  # same relations, other order and layout
    assert compare_debs(a, b) == []


def test_each_difference_is_one_line(tmp_path):
    dalec = read_deb(_deb(tmp_path, "a", version="1.0-debian12u1", extra="/usr/share/doc/demo/changelog.Debian.gz",
                          postinst="#!/bin/sh\n"))
    ours = read_deb(_deb(tmp_path, "b", mode=0o700, depends="bash"))
    diffs = compare_debs(dalec, ours)
    assert [d.text for d in diffs] == [
        "/usr/bin/demo mode: Dalec 0755, dalecpy 0700",
        "/usr/share only in Dalec's .deb (dir 0755 root:root)",
        "/usr/share/doc only in Dalec's .deb (dir 0755 root:root)",
        "/usr/share/doc/demo only in Dalec's .deb (dir 0755 root:root)",
        "/usr/share/doc/demo/changelog.Debian.gz only in Dalec's .deb (file 0644 root:root)",
        "control field Depends: Dalec 'libc6, bash', dalecpy 'bash'",
        "control field Version: Dalec '1.0-debian12u1', dalecpy '1.0-1'",
        "control member postinst only in Dalec's .deb",
    ]
    version = next(d for d in diffs if d.aspect == "version")
    assert cmp.open_for(version, "specs/x.yml", "bookworm/deb").key == "deb-revision"


def _elf64(section_types: list[int]) -> bytes:
    """A minimal little-endian ELF64 file: the header and one section header per type."""
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 0x28, 64)  # e_shoff: right after the header
    struct.pack_into("<HH", header, 0x3A, 64, len(section_types))  # e_shentsize, e_shnum
    return bytes(header) + b"".join(struct.pack("<II", 0, t) + bytes(56) for t in section_types)


def test_elf_symbols():
    assert elf_symbols(_elf64([0, 1, 2, 3])) == "not stripped"  # has SHT_SYMTAB
    assert elf_symbols(_elf64([0, 1, 3])) == "stripped"
    assert elf_symbols(_elf64([0, 2])[:80]) == ""  # truncated
    assert elf_symbols(b"#!/bin/sh\n" * 10) == ""


def test_stripped_binary_is_a_difference(tmp_path):
    a, b = read_deb(_deb(tmp_path, "a")), read_deb(_deb(tmp_path, "b"))
    a.members["/usr/bin/demo"] = Member("file", "0755", "root:root", elf="stripped")
    b.members["/usr/bin/demo"] = Member("file", "0755", "root:root", elf="not stripped")
    assert [d.text for d in compare_debs(a, b)] == ["/usr/bin/demo ELF: Dalec stripped, dalecpy not stripped"]
