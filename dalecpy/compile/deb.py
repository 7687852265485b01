"""Debian package metadata: the control file and where each artifact kind is installed."""

from __future__ import annotations

import re
from typing import Mapping

from ..platforms import Platform

_DEB_ARCH = {
    ("amd64", ""): "amd64",
    ("arm64", ""): "arm64",
    ("arm", "v7"): "armhf",
    ("arm", "v6"): "armel",
    ("arm", "v5"): "armel",
    ("386", ""): "i386",
    ("ppc64le", ""): "ppc64el",
    ("s390x", ""): "s390x",
    ("riscv64", ""): "riscv64",
    ("mips64le", ""): "mips64el",
    ("loong64", ""): "loong64",
}

# Artifact kind -> install directory in the package tree; `{name}` is the package name.
INSTALL_DIRS: Mapping[str, str] = {
    "binaries": "/usr/bin",
    "libexec": "/usr/libexec",
    "libs": "/usr/lib",
    "headers": "/usr/include",
    "manpages": "/usr/share/man",
    "data_dirs": "/usr/share",
    "config_files": "/etc",
    "docs": "/usr/share/doc/{name}",
    "licenses": "/usr/share/doc/{name}",
    "systemd_units": "/lib/systemd/system",
}
DEFAULT_MODES: Mapping[str, int] = {
    "binaries": 0o755,
    "libexec": 0o755,
    "libs": 0o644,
    "headers": 0o644,
    "manpages": 0o644,
    "config_files": 0o644,
    "docs": 0o644,
    "licenses": 0o644,
    "systemd_units": 0o644,
}


from .options import CompileError

def deb_arch(platform: Platform) -> str:
    try:
        return _DEB_ARCH[(platform.architecture, platform.variant)]
    except KeyError:
        raise CompileError(f"no Debian architecture for platform {platform.format()}") from None


def deb_version(version: str, revision: str) -> str:
    return f"{version}-{revision}" if revision else version


def deb_filename(name: str, version: str, revision: str, arch: str) -> str:
    return f"{name}_{deb_version(version, revision)}_{arch}.deb"


_OPS = {">=": ">=", "<=": "<=", ">>": ">>", "<<": "<<", "=": "=", "==": "=", ">": ">>", "<": "<<"}
_CONSTRAINT = re.compile(r"^\s*(>=|<=|>>|<<|==|=|>|<)\s*(\S+)\s*$")


def relation(name: str, versions, arches=(), path: tuple | None = None) -> str:
    """One Debian relation list entry; several version constraints become several entries (`a (>= 1), a (<< 2)`)."""
    arch = f" [{' '.join(arches)}]" if arches else ""
    if not versions:
        return f"{name}{arch}"
    out = []
    for v in versions:
        m = _CONSTRAINT.match(v)
        if not m:
            raise CompileError(f"dependency {name}: invalid version constraint {v!r}: expected e.g. '>= 1.2'", path)
        out.append(f"{name} ({_OPS[m.group(1)]} {m.group(2)}){arch}")
    return ", ".join(out)


def relations(deps: Mapping[str, object] | None, path: tuple = ()) -> str:
    """A Debian relation field from a dependency map; `path` is the map's spec path, for error positions."""
    if not deps:
        return ""
    return ", ".join(
        relation(n, list(getattr(c, "version", None) or ()), list(getattr(c, "arch", None) or ()), path + (n,))
        for n, c in sorted(deps.items())
    )


def _description(summary: str, long: str) -> str:
    lines = [summary.strip() or "no description"]
    for line in long.strip("\n").splitlines():
        lines.append(" " + (line if line.strip() else "."))
    return "\n".join(lines)


def control_file(
    *,
    name: str,
    version: str,
    arch: str,
    maintainer: str,
    description: str,
    homepage: str = "",
    fields: Mapping[str, str] = {},
) -> str:
    """`DEBIAN/control` for dpkg-deb. Empty relation fields are left out."""
    desc_lines = (description or "").strip().splitlines() or [""]
    head = [
        ("Package", name),
        ("Version", version),
        ("Architecture", arch),
        ("Maintainer", maintainer or "Unknown <unknown@localhost>"),
    ]
    if homepage:
        head.append(("Homepage", homepage))
    head.extend((k, v) for k, v in fields.items() if v)
    head.append(("Description", _description(desc_lines[0], "\n".join(desc_lines[1:]))))
    return "".join(f"{k}: {v}\n" for k, v in head)
