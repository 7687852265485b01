"""An RPM `.spec` file from a Dalec spec: header, dependencies, %prep/%build/%install/%files and scriptlets.

The layout and ordering follow Dalec's generated spec (packaging/linux/rpm/template.go) so a spec written
for Dalec gives the same package: `Release: <revision>%{?dist}`, `Replaces` as `Obsoletes`, version
constraints in RPM's operators, `%ifarch` blocks for arch-qualified dependencies, sources as
`SourceN` (directory sources as `<name>.tar.gz`, the build steps as `build.sh`), the artifact layout under
RPM's directory macros. Where dalecpy differs (each noted at the code): every section starts in
%{_builddir}; systemd scriptlets are written out instead of using systemd-rpm-macros' %systemd_* (so the
spec builds where those macros are missing, e.g. with Debian's rpmbuild); users and groups are made in
%pre and owners set with %attr in %files rather than chown in %post.

Every spec value that lands in the file is checked or escaped: names, versions and dependency relations
against RPM's syntax (positioned errors), and `%` in free text doubled, so no value can expand a macro
(`%(cmd)` runs a shell command at build time) or start a section.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from .options import CompileError

BUILD_SCRIPT = "build.sh"

# %{_unitdir} comes from systemd-rpm-macros (or systemd); define it where neither is installed.
_PREAMBLE = "%{!?_unitdir:%global _unitdir /usr/lib/systemd/system}\n"

# Artifact kind -> RPM directory macro; `{name}` is the package name.
DIRS: Mapping[str, str] = {
    "binaries": "%{_bindir}",
    "libexec": "%{_libexecdir}",
    "libs": "%{_libdir}",
    "headers": "%{_includedir}",
    "manpages": "%{_mandir}",
    "data_dirs": "%{_datadir}",
    "config_files": "%{_sysconfdir}",
    "docs": "%{_docdir}/{name}",
    "licenses": "%{_licensedir}/{name}",
    "opt": "/opt",
    "systemd": "%{_unitdir}",
    "state": "%{_sharedstatedir}",
}

# ------------------------------------------------------------------ syntax (rpm's parsePreamble / rpmds)
# Name, Version and Release: rpm allows letters, digits and `._+~^` (Name also `-`); `%` would be a macro.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*")
_VERSION = re.compile(r"[A-Za-z0-9._+~^]+")
# A dependency name: a package, a file path or a capability like `pkgconfig(foo)` / `perl(Foo::Bar)`.
_DEP_NAME = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9._+-]*(?:\([A-Za-z0-9._+:/@-]*\))?|/[A-Za-z0-9._+/-]+)")
_EVR = re.compile(r"(?:[0-9]+:)?[A-Za-z0-9._+~^]+(?:-[A-Za-z0-9._+~^]+)?")
_ARCH = re.compile(r"[A-Za-z0-9_]+")
_CONSTRAINT = re.compile(r"\s*(>=|<=|>>|<<|==|=|>|<)\s*(\S+)\s*")
# Dalec's FormatVersionConstraint: Debian's `<<`/`>>` become `<`/`>`, `=` becomes `==`; a bare version is `==`.
_RPM_OPS = {">=": ">=", "<=": "<=", ">>": ">", "<<": "<", "==": "==", "=": "==", ">": ">", "<": "<"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def name_error(name: str) -> str | None:
    if _NAME.fullmatch(name):
        return None
    return (f"{json.dumps(name)} is not an RPM package name: letters, digits, '.', '_', '+' and '-', "
            "starting with a letter, digit or '_'")


def version_error(value: str, what: str = "version") -> str | None:
    if not value:
        return f"an RPM {what} is required"
    if _VERSION.fullmatch(value):
        return None
    return f"{json.dumps(value)} is not an RPM {what}: letters, digits, '.', '_', '+', '~' and '^' (no '-')"


def constraint(v: str) -> tuple[str, str] | None:
    """(RPM operator, EVR) of one version constraint, or None when it is not one."""
    m = _CONSTRAINT.fullmatch(v)
    if m:
        op, ver = _RPM_OPS[m.group(1)], m.group(2)
    elif v[:1].isdigit() and " " not in v:
        op, ver = "==", v
    else:
        return None
    return (op, ver) if _EVR.fullmatch(ver) else None


@dataclass(frozen=True)
class Dependency:
    name: str
    versions: tuple[str, ...] = ()  # `OP EVR` each
    arches: tuple[str, ...] = ()


def dependencies(deps: Mapping[str, object] | None, path: tuple = ()) -> list[Dependency]:
    """A dependency map checked against RPM's syntax; errors name the entry's spec path."""
    out = []
    for name, c in sorted((deps or {}).items()):
        p = path + (name,)
        if not _DEP_NAME.fullmatch(name):
            raise CompileError(
                f"dependency {json.dumps(name)} is not an RPM dependency name: a package name, "
                "a capability like pkgconfig(foo) or an absolute path", p)
        versions = []
        for i, v in enumerate(getattr(c, "version", None) or ()):
            parsed = constraint(v)
            if parsed is None:
                raise CompileError(
                    f"dependency {name}: invalid version constraint {json.dumps(v)}: expected an operator "
                    "(<, <=, =, >=, >) and an RPM version ([epoch:]version[-release]), e.g. '>= 1.2'",
                    p + ("version", i))
            versions.append(f"{parsed[0]} {parsed[1]}")
        arches = list(getattr(c, "arch", None) or ())
        for i, a in enumerate(arches):
            if not _ARCH.fullmatch(a):
                raise CompileError(f"dependency {name}: {json.dumps(a)} is not an RPM architecture (e.g. x86_64, "
                                   "aarch64, noarch)", p + ("arch", i))
        out.append(Dependency(name, tuple(versions), tuple(arches)))
    return out


def escape(text: str) -> str:
    """Free text for the spec: `%` doubled, so rpmbuild expands no macro in it."""
    return text.replace("%", "%%")


def one_line_error(value: str) -> str | None:
    if _CONTROL.search(value):
        return f"{json.dumps(value)} must be one line without control characters"
    return None


# ------------------------------------------------------------------ the document

@dataclass(frozen=True)
class SpecSource:
    name: str  # the spec's source name
    is_dir: bool  # packed as <name>.tar.gz


@dataclass(frozen=True)
class Patch:
    target: str  # the patched source
    file: str  # the patch file, relative to %{_builddir}
    strip: int


@dataclass(frozen=True)
class FileEntry:
    """One %files line: a path (RPM globs allowed), optionally a directive and attributes."""

    path: str
    directive: str = ""  # %dir, %doc, %license, %config(noreplace)
    mode: str = "-"
    user: str = "-"
    group: str = "-"

    def line(self) -> str:
        attr = f"%attr({self.mode}, {self.user}, {self.group}) " if (self.mode, self.user, self.group) != ("-",) * 3 else ""
        directive = f"{self.directive} " if self.directive else ""
        return f"{attr}{directive}{_files_path(self.path)}"


def _files_path(path: str) -> str:
    """A %files path: `%` escaped, quoted when it has blanks (RPM globs stay globs)."""
    path = path.replace("%", "%%") if "%{" not in path else path
    return f'"{path}"' if re.search(r"\s", path) else path


@dataclass(frozen=True)
class Unit:
    name: str
    enable: bool
    start: bool


@dataclass
class RpmSpec:
    """Everything that goes into the .spec file; `render()` writes it."""

    name: str
    version: str
    release: str
    license: str
    summary: str
    description: str
    url: str = ""
    vendor: str = ""
    packager: str = ""
    noarch: bool = False
    disable_strip: bool = False
    disable_auto_requires: bool = False
    sources: Sequence[SpecSource] = ()
    has_build_script: bool = False
    patches: Sequence[Patch] = ()
    requires: Sequence[Dependency] = ()
    build_requires: Sequence[Dependency] = ()
    recommends: Sequence[Dependency] = ()
    provides: Sequence[Dependency] = ()
    conflicts: Sequence[Dependency] = ()
    obsoletes: Sequence[Dependency] = ()
    install: str = ""  # the body of %install (shell, run in %{_builddir})
    files: Sequence[FileEntry] = ()
    units: Sequence[Unit] = ()
    users: Sequence[str] = ()
    groups: Sequence[str] = ()
    changelog: Sequence[tuple[datetime.date, str, Sequence[str]]] = ()  # (date, author, changes)
    extra_post: str = ""

    def render(self) -> str:
        out = ["# Automatically generated by dalecpy", "", _PREAMBLE.rstrip()]
        if self.disable_strip:
            out.append("%global __strip /bin/true")
        out += [f"Name: {self.name}", f"Version: {self.version}", f"Release: {self.release}%{{?dist}}",
                f"License: {escape(self.license)}", f"Summary: {escape(self.summary)}"]
        if self.disable_auto_requires:
            out.append("AutoReq: no")
        for key, value in (("URL", self.url), ("Vendor", self.vendor), ("Packager", self.packager)):
            if value:
                out.append(f"{key}: {escape(value)}")
        if self.noarch:
            out.append("BuildArch: noarch")
        for i, s in enumerate(self.sources):
            out.append(f"Source{i}: {s.name}.tar.gz" if s.is_dir else f"Source{i}: {s.name}")
        if self.has_build_script:
            out.append(f"Source{len(self.sources)}: {BUILD_SCRIPT}")
        out += _deps("Conflicts", self.conflicts)
        out += _deps("Provides", self.provides)
        out += [f"Provides: user({u})" for u in self.users] + [f"Provides: group({g})" for g in self.groups]
        out += _deps("Obsoletes", self.obsoletes)
        out += self._scriptlet_requires()
        out += _deps("BuildRequires", self.build_requires)
        out += _deps("Requires", self.requires)
        out += _deps("Recommends", self.recommends)
        out += ["", "%description", escape(self.description.strip("\n")) or escape(self.summary), ""]
        out += self._prep() + self._build() + self._install() + self._scriptlets() + self._files()
        out += self._changelog()
        return "\n".join(out).rstrip("\n") + "\n"

    def _scriptlet_requires(self) -> list[str]:
        out = []
        managed = [u for u in self.units if "@" not in u.name]
        if any(u.enable for u in managed):
            out += ["Requires(post): systemd"]
        if managed:
            out += ["Requires(preun): systemd", "Requires(postun): systemd"]
        if self.users or self.groups:
            out += ["Requires(pre): /usr/bin/getent"]
        if self.groups:
            out += ["Requires(pre): /usr/sbin/groupadd"]
        if self.users:
            out += ["Requires(pre): /usr/sbin/useradd"]
        return out

    def _prep(self) -> list[str]:
        if not self.sources:
            return []
        out = ["%prep", 'cd "%{_builddir}"']
        for i, s in enumerate(self.sources):
            if s.is_dir:
                out.append(f'tar -C "%{{_builddir}}/" -xzf "%{{SOURCE{i}}}"')
            else:
                out.append(f'cp -a "%{{SOURCE{i}}}" .')
        for p in self.patches:
            out.append(f'patch -d {_sh(p.target)} -p{p.strip} -s --input "%{{_builddir}}"/{_sh(p.file)}')
        return out + [""]

    def _build(self) -> list[str]:
        if not self.has_build_script:
            return []
        return ["%build", 'cd "%{_builddir}"', f"sh %{{SOURCE{len(self.sources)}}}", ""]

    def _install(self) -> list[str]:
        return ["%install", 'cd "%{_builddir}"', self.install.rstrip("\n"), ""]

    def _scriptlets(self) -> list[str]:
        out: list[str] = []
        if self.groups or self.users:
            out.append("%pre")
            out += [f"getent group {_sh(g)} >/dev/null || groupadd --system {_sh(g)}" for g in self.groups]
            out += [f"getent passwd {_sh(u)} >/dev/null || useradd {_sh(u)}" for u in self.users]
            out.append("")
        managed = [u for u in self.units if "@" not in u.name]
        post = []
        for u in managed:
            # As Dalec: `systemctl enable` on first install (not `%systemd_post`, whose preset policy disables
            # third-party units on every RPM distro), start only with `start: true` and a running systemd.
            if u.enable:
                post.append(f"if [ $1 -eq 1 ]; then\n    systemctl enable {_sh(u.name)} || :\nfi")
            if u.start:
                post.append(f"if [ $1 -eq 1 ] && [ -d /run/systemd/system ]; then\n"
                            f"    systemctl start {_sh(u.name)} || :\nfi")
        if self.extra_post:
            post.append(self.extra_post.rstrip("\n"))
        if post:
            out += ["%post", *post, ""]
        enabled = [u for u in managed if u.enable or u.start]
        if enabled:
            # %systemd_preun, written out: on erase, disable and stop the unit.
            names = " ".join(_sh(u.name) for u in enabled)
            out += ["%preun", "if [ $1 -eq 0 ]; then",
                    f"    systemctl --no-reload disable --now {names} >/dev/null 2>&1 || :", "fi", ""]
        if managed:
            # %systemd_postun (Dalec's choice for every unit), written out: reload systemd's view of units.
            out += ["%postun", "if [ -d /run/systemd/system ]; then",
                    "    systemctl daemon-reload >/dev/null 2>&1 || :", "fi", ""]
        return out

    def _files(self) -> list[str]:
        return ["%files", *(f.line() for f in self.files), ""]

    def _changelog(self) -> list[str]:
        if not self.changelog:
            return []
        out = ["%changelog"]
        for date, author, changes in sorted(self.changelog, key=lambda e: e[0], reverse=True):
            out.append(f"* {date.strftime('%a %b')} {date.day} {date.year} {escape(author)}")
            out += [f"- {escape(c)}" for c in changes]
        return out + [""]


def _deps(kind: str, deps: Iterable[Dependency]) -> list[str]:
    out = []
    for d in deps:
        lines = [f"{kind}: {d.name} {v}" for v in d.versions] or [f"{kind}: {d.name}"]
        if not d.arches:
            out += lines
            continue
        for a in d.arches:
            out += [f"%ifarch {a}", *lines, "%endif"]
    return out


def _sh(value: str) -> str:
    """One single-quoted shell word with `%` escaped for rpmbuild."""
    return "'" + value.replace("'", "'\"'\"'").replace("%", "%%") + "'"


