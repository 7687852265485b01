"""What a built .deb holds, as a user of the package sees it, and how Dalec's and dalecpy's .debs compare.

The LLB comparison (`compare.py`) says what each side asks BuildKit to do; this says what came out: the
package's members (path, kind, mode, owner, link target, and for ELF files whether they keep their symbol
table), its control fields and its control members (maintainer scripts, md5sums, conffiles, ...). File contents
are not compared otherwise: Dalec builds under dpkg-buildpackage, whose debhelper steps strip and compress.
"""

from __future__ import annotations

import io
import struct
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from .compare import Difference
from .facts import _RELATIONS, control_stanzas

_KINDS = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink",
          tarfile.LNKTYPE: "hardlink"}


@dataclass(frozen=True)
class Member:
    kind: str  # file, dir, symlink, hardlink (or the tar type)
    mode: str  # octal permission bits, e.g. "0755"
    owner: str  # "user:group" as named in the archive (uid:gid where unnamed)
    target: str = ""  # a link's target
    elf: str = ""  # for an ELF file: "stripped" or "not stripped" (has a symbol table)

    def __str__(self) -> str:
        link = f" -> {self.target}" if self.target else ""
        elf = f", ELF {self.elf}" if self.elf else ""
        return f"{self.kind} {self.mode} {self.owner}{link}{elf}"


@dataclass
class Deb:
    members: dict[str, Member] = field(default_factory=dict)  # absolute path ("/usr/bin/x") -> member
    fields: dict[str, str] = field(default_factory=dict)  # the control file's fields
    control: dict[str, bytes] = field(default_factory=dict)  # the other control members: postinst, md5sums, ...


def _tar(deb: Path, what: str) -> tarfile.TarFile:
    data = subprocess.run(["dpkg-deb", what, str(deb)], capture_output=True, check=True).stdout
    return tarfile.open(fileobj=io.BytesIO(data))


def elf_symbols(data: bytes) -> str:
    """"not stripped" for an ELF file with a symbol table (a SHT_SYMTAB section), "stripped" for one without,
    "" for anything that is not ELF."""
    if data[:4] != b"\x7fELF" or len(data) < 64:
        return ""
    end = "<" if data[5] == 1 else ">"
    try:
        if data[4] == 2:  # ELFCLASS64
            (shoff,) = struct.unpack_from(end + "Q", data, 0x28)
            shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
        else:
            (shoff,) = struct.unpack_from(end + "I", data, 0x20)
            shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
        for i in range(shnum):
            (sh_type,) = struct.unpack_from(end + "I", data, shoff + i * shentsize + 4)
            if sh_type == 2:  # SHT_SYMTAB
                return "not stripped"
    except struct.error:
        return ""
    return "stripped"


def _path(name: str) -> str:
    return "/" + name.removeprefix("./").removeprefix("/").rstrip("/")


def read_deb(deb: Path) -> Deb:
    """The members of the data archive, the control fields and the control members of one .deb."""
    out = Deb()
    with _tar(deb, "--fsys-tarfile") as tar:
        for m in tar.getmembers():
            path = _path(m.name)
            if path == "/":
                continue
            owner = f"{m.uname or m.uid}:{m.gname or m.gid}"
            target = _path(m.linkname) if m.type == tarfile.LNKTYPE else m.linkname
            f = tar.extractfile(m) if m.isfile() else None
            elf = elf_symbols(f.read()) if f is not None else ""
            out.members[path] = Member(_KINDS.get(m.type, f"type {m.type!r}"), f"{m.mode & 0o7777:04o}", owner, target,
                                       elf)
    with _tar(deb, "--ctrl-tarfile") as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m) if m.isfile() else None
            if f is None:
                continue
            name = _path(m.name).lstrip("/")
            data = f.read()
            if name == "control":
                (stanza,) = control_stanzas(data.decode())
                out.fields = stanza
            else:
                out.control[name] = data
    return out


def _field_value(name: str, value: str) -> str:
    """Relationship fields as a sorted list (dpkg keeps the writer's order and line breaks), others as written."""
    if name in _RELATIONS:
        return ", ".join(sorted(" ".join(x.split()) for x in value.split(",") if x.strip()))
    return value


def compare_debs(dalec: Deb, ours: Deb) -> list[Difference]:
    """One Difference per member, field or control member that differs (`Version` as aspect `version`, so the
    parity harness's rules for the package version apply to it)."""
    out: list[Difference] = []
    for path in sorted(dalec.members.keys() | ours.members.keys()):
        d, o = dalec.members.get(path), ours.members.get(path)
        if d is None or o is None:
            side, m = ("Dalec", d) if o is None else ("dalecpy", o)
            out.append(Difference("deb:member", f"{path} only in {side}'s .deb ({m})", d and path, o and path))
            continue
        for attr in ("kind", "mode", "owner", "target", "elf"):
            dv, ov = getattr(d, attr), getattr(o, attr)
            if dv != ov:
                label = "ELF" if attr == "elf" else attr
                out.append(Difference(f"deb:{attr}", f"{path} {label}: Dalec {dv or '(none)'}, dalecpy {ov or '(none)'}",
                                      (path, dv), (path, ov)))
    for name in sorted(dalec.fields.keys() | ours.fields.keys()):
        dv, ov = dalec.fields.get(name), ours.fields.get(name)
        if dv is not None and ov is not None and _field_value(name, dv) == _field_value(name, ov):
            continue
        aspect = "version" if name == "Version" else f"deb:field:{name}"
        out.append(Difference(aspect, f"control field {name}: Dalec {dv if dv is not None else '(none)'!r}, "
                                      f"dalecpy {ov if ov is not None else '(none)'!r}", dv, ov))
    for name in sorted(dalec.control.keys() | ours.control.keys()):
        dv, ov = dalec.control.get(name), ours.control.get(name)
        if dv == ov:
            continue
        if dv is None or ov is None:
            text = f"control member {name} only in {'Dalec' if ov is None else 'dalecpy'}'s .deb"
        else:
            text = f"control member {name} differs"
        out.append(Difference(f"deb:control:{name}", text, dv, ov))
    return out
