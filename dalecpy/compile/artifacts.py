"""The spec's artifacts as a package-family-neutral layout: what to install where, with which mode, owner and
capabilities, which directories and links to make, which users and groups to create.

Every family (Debian's `.deb`, RPM's `%install`/`%files`) reads the same `Layout` and writes it in its own
terms. Where an artifact kind lands is the family's one choice, given as a `dirs` mapping from kind to base
directory: `DEB_DIRS` holds the Debian/FHS paths, and an RPM family maps the same kinds to its macros
(`binaries` -> `%{_bindir}`, `licenses` -> `%{_licensedir}/{name}`, ...). `{name}` in a directory is the
package name.

What is decided here once for every family (Dalec's `artifacts.go` and its packagers):
- an entry's final name is its `name`, else the last component of its key (a glob stays a glob);
- `subpath` is a directory beneath the kind's base, never above it;
- its mode is `permissions`, else (as Dalec's Debian packager does) the `permissions` of the inline source the
  key names, else None: the family's default for the kind (`DEFAULT_MODES`);
- file capabilities in setcap's text form (`cap_net_raw=ep`), only on executable kinds;
- a drop-in lands in `<systemd dropins base>/<unit>.d/`.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterator, Mapping

from ..spec import Spec
from ..spec.models import ArtifactCapability, Artifacts

#: Artifact kinds installed from the build tree, in the order packagers walk them, with the spec's key.
FILE_KINDS: tuple[tuple[str, str], ...] = (
    ("binaries", "binaries"),
    ("libexec", "libexec"),
    ("libs", "libs"),
    ("headers", "headers"),
    ("manpages", "manpages"),
    ("docs", "docs"),
    ("licenses", "licenses"),
    ("data_dirs", "data_dirs"),
    ("opt", "opt"),
    ("config_files", "configFiles"),
)
#: Kinds whose files may carry file capabilities (Dalec refuses them elsewhere).
CAPABLE_KINDS = frozenset({"binaries", "libexec", "libs", "opt"})
SYSTEMD_UNITS = "systemd_units"
SYSTEMD_DROPINS = "systemd_dropins"
CONFIG_DIRS = "config_dirs"  # createDirectories.config
STATE_DIRS = "state_dirs"  # createDirectories.state

#: Debian's (and the FHS's) directory per kind. Units: dh_installsystemd's directory differs per debhelper
#: version, so a Debian distro overrides `systemd_units`; Dalec's drop-ins go under /lib on every distro.
DEB_DIRS: Mapping[str, str] = MappingProxyType({
    "binaries": "/usr/bin",
    "libexec": "/usr/libexec",
    "libs": "/usr/lib",
    "headers": "/usr/include",
    "manpages": "/usr/share/man",
    "docs": "/usr/share/doc/{name}",
    "licenses": "/usr/share/doc/{name}",
    "data_dirs": "/usr/share",
    "opt": "/opt",
    "config_files": "/etc",
    SYSTEMD_UNITS: "/lib/systemd/system",
    SYSTEMD_DROPINS: "/lib/systemd/system",
    CONFIG_DIRS: "/etc",
    STATE_DIRS: "/var/lib",
})

#: The mode a file of each kind gets when the spec sets none (what dh_fixperms leaves); None: kept as built.
DEFAULT_MODES: Mapping[str, int | None] = MappingProxyType({
    "binaries": 0o755,
    "libexec": 0o755,
    "libs": 0o644,
    "headers": 0o644,
    "manpages": 0o644,
    "docs": 0o644,
    "licenses": 0o644,
    "data_dirs": None,
    "opt": None,
    "config_files": 0o644,
    SYSTEMD_UNITS: 0o644,
    SYSTEMD_DROPINS: 0o644,
})
DEFAULT_DIR_MODE = 0o755


@dataclass(frozen=True)
class FileItem:
    """One artifact entry: `source` (a path or glob in the build tree) installed into `dest_dir` as `name`."""

    kind: str  # a FILE_KINDS kind, SYSTEMD_UNITS or SYSTEMD_DROPINS
    source: str  # the artifact key, as the spec writes it
    base: str  # the family's directory for the kind, `{name}` filled in
    subpath: str  # beneath `base` ("" for none), cleaned
    name: str  # the installed name; "" keeps each matched file's own name (a glob or a directory's contents)
    mode: int | None  # the mode the spec asks for; None: DEFAULT_MODES[kind] (None there: as built)
    user: str = ""
    group: str = ""
    capabilities: str = ""  # setcap text, e.g. "cap_net_bind_service=ep cap_net_raw=p"; "" for none
    config: bool = False  # a configuration file: kept across upgrades (conffile, %config(noreplace))
    spec_path: tuple = ()  # where the entry is in the spec, for errors

    @property
    def dest_dir(self) -> str:
        return beneath(self.base, self.subpath)

    @property
    def dest_name(self) -> str:
        """The installed file's name as Dalec resolves it: `name`, else the key's last component (may be a glob)."""
        return self.name or posixpath.basename(self.source.rstrip("/"))

    @property
    def dest(self) -> str:
        return posixpath.join(self.dest_dir, self.dest_name)

    @property
    def default_mode(self) -> int | None:
        return DEFAULT_MODES.get(self.kind)


@dataclass(frozen=True)
class DirItem:
    """A directory the package creates (createDirectories), with its mode and owner."""

    kind: str  # CONFIG_DIRS or STATE_DIRS
    path: str
    mode: int
    user: str = ""
    group: str = ""
    spec_path: tuple = ()


@dataclass(frozen=True)
class LinkItem:
    """A symlink in the package: `dest` points to `target`."""

    target: str
    dest: str
    user: str = ""
    group: str = ""
    spec_path: tuple = ()


@dataclass(frozen=True)
class UnitItem:
    """A systemd unit the package installs (also a FileItem), with what the maintainer scripts do with it."""

    name: str  # the installed unit file name, e.g. foo.service
    enable: bool
    start: bool


@dataclass(frozen=True)
class Layout:
    files: tuple[FileItem, ...] = ()
    dirs: tuple[DirItem, ...] = ()
    links: tuple[LinkItem, ...] = ()
    units: tuple[UnitItem, ...] = ()
    users: tuple[str, ...] = ()  # created on install, before ownership is applied
    groups: tuple[str, ...] = ()
    strip: bool = True  # strip debug symbols from ELF files (unless disable_strip)
    auto_requires: bool = True  # add the dependencies the packaging tools discover (unless disable_auto_requires)

    def files_of(self, *kinds: str) -> Iterator[FileItem]:
        return (f for f in self.files if f.kind in kinds)

    @property
    def owned(self) -> tuple[FileItem | DirItem | LinkItem, ...]:
        """Everything installed with a `user` or `group`, in install order."""
        return tuple(x for x in (*self.files, *self.dirs, *self.links) if x.user or x.group)

    @property
    def with_capabilities(self) -> tuple[FileItem, ...]:
        return tuple(f for f in self.files if f.capabilities)


def capabilities_text(caps: list[ArtifactCapability]) -> str:
    """setcap's text form, as Dalec's CapabilitiesString: `name=eip` per capability with any flag set."""
    parts = []
    for c in caps:
        flags = "e" * c.effective + "i" * c.inheritable + "p" * c.permitted
        if flags:
            parts.append(f"{c.name}={flags}")
    return " ".join(parts)


def beneath(base: str, sub: str) -> str:
    """`sub` joined under `base` as Go's filepath.Join does it: a leading `/` in `sub` does not leave `base`."""
    return posixpath.normpath(posixpath.join(base, sub.lstrip("/"))) if sub.strip("/") else base


def clean_name(name: str) -> str:
    """An artifact's `name` as Go's filepath.Join reads it under its directory (`/a/`, `a/./b/` -> `a`, `a/b`)."""
    return posixpath.normpath(name).lstrip("/") if name else ""


def _manpage_section(key: str) -> str:
    """dh_installman's section directory for a page without a subpath: `man<N>` from its extension."""
    ext = key.rsplit(".", 1)[-1] if "." in key else ""
    return f"man{ext[0]}" if ext[:1].isdigit() else ""


def _inline_mode(spec: Spec, key: str) -> int | None:
    """The permissions of the inline source (or inline dir file) an artifact key names: Dalec's Debian packager
    applies them, since the package tools would otherwise reset the build's modes."""
    src_name, _, sub = key.partition("/")
    src = spec.sources.get(src_name)
    if src is None or src.inline is None:
        return None
    inline = src.inline
    if inline.file is not None:
        return inline.file.permissions or None
    if inline.dir is None:
        return None
    if not sub:
        return inline.dir.permissions or None
    f = inline.dir.files.get(sub)
    return (f.permissions or None) if f is not None else None


def layout(spec: Spec, target_key: str | None, dirs: Mapping[str, str] = DEB_DIRS, *,
           man_sections: bool = False) -> Layout:
    """The target's artifacts (the target's own when set) as install items, with `dirs` giving each kind's base.

    `man_sections`: a manpage without a subpath goes to `man<N>` by its extension (dh_installman's rule; RPM's
    `%{_mandir}` takes pages where the spec puts them)."""
    a: Artifacts = spec.get_artifacts(target_key)
    at = spec.override_path(target_key, "artifacts")

    def base(kind: str) -> str:
        return dirs[kind].replace("{name}", spec.name)

    files: list[FileItem] = []
    for kind, key in FILE_KINDS:
        for src, cfg in sorted(getattr(a, kind).items()):
            sub = cfg.subpath
            if kind == "manpages" and man_sections and not sub:
                sub = _manpage_section(src)
            files.append(FileItem(
                kind=kind, source=src, base=base(kind), subpath=_clean_sub(sub), name=clean_name(cfg.name),
                mode=cfg.permissions or _inline_mode(spec, src), user=cfg.user, group=cfg.group,
                capabilities=capabilities_text(cfg.linux_capabilities) if kind in CAPABLE_KINDS else "",
                config=kind == "config_files", spec_path=at + (key, src),
            ))
    units: list[UnitItem] = []
    if a.systemd is not None:
        for src, unit in sorted(a.systemd.units.items()):
            item = FileItem(kind=SYSTEMD_UNITS, source=src, base=base(SYSTEMD_UNITS), subpath="",
                            name=clean_name(unit.name), mode=None, spec_path=at + ("systemd", "units", src))
            files.append(item)
            units.append(UnitItem(item.dest_name, unit.enable, unit.start))
        for src, dropin in sorted(a.systemd.dropins.items()):
            files.append(FileItem(kind=SYSTEMD_DROPINS, source=src, base=base(SYSTEMD_DROPINS),
                                  subpath=_clean_sub(f"{dropin.unit}.d"), name=clean_name(dropin.name), mode=None,
                                  spec_path=at + ("systemd", "dropins", src)))
    made: list[DirItem] = []
    if a.create_directories is not None:
        for kind, key, entries in ((CONFIG_DIRS, "config", a.create_directories.config),
                                   (STATE_DIRS, "state", a.create_directories.state)):
            for d, cfg in sorted(entries.items()):
                made.append(DirItem(kind, beneath(base(kind), d), cfg.mode or DEFAULT_DIR_MODE, cfg.user, cfg.group,
                                    at + ("createDirectories", key, d)))
    links = tuple(LinkItem(link.source, beneath("/", link.dest), link.user, link.group, at + ("links", i))
                  for i, link in enumerate(a.links))
    return Layout(
        files=tuple(files), dirs=tuple(made), links=links, units=tuple(units),
        users=tuple(u.name for u in a.users), groups=tuple(g.name for g in a.groups),
        strip=not a.disable_strip, auto_requires=not a.disable_auto_requires,
    )


def _clean_sub(sub: str) -> str:
    return posixpath.normpath(sub.strip("/")) if sub.strip("/") else ""
