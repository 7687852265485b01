"""Debian package metadata: the control file and where each artifact kind is installed."""

from __future__ import annotations

import datetime
import json
import re
from typing import Mapping

from ..platforms import Platform
from .options import CompileError
from .script import squote

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

def deb_arch(platform: Platform) -> str:
    try:
        return _DEB_ARCH[(platform.architecture, platform.variant)]
    except KeyError:
        raise CompileError(f"no Debian architecture for platform {platform.format()}") from None


# Debian policy 5.6.1 (package names), 5.6.12 (versions), 7.1 (relationship fields).
# Package names as dpkg-deb takes them (it lowercases them; policy also wants 2 characters or more).
_PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+.-]*")
_ARCH = re.compile(r"[a-z0-9][a-z0-9-]*")
_UPSTREAM = re.compile(r"[0-9][A-Za-z0-9.+~-]*")
_REVISION = re.compile(r"[A-Za-z0-9.+~]+")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def package_name_error(name: str) -> str | None:
    if _PACKAGE.fullmatch(name):
        return None
    return (
        f"{json.dumps(name)} is not a Debian package name: letters, digits, '+', '-' and '.', "
        "starting with a letter or digit"
    )


def upstream_reason(upstream: str) -> str | None:
    """Why `upstream` (an optional epoch and the version before a revision) breaks Debian's syntax, or None."""
    epoch, colon, rest = upstream.partition(":")
    if colon and not (epoch.isascii() and epoch.isdigit()):
        return "the epoch before ':' must be a number"
    if not _UPSTREAM.fullmatch(rest if colon else upstream):
        return "the version must start with a digit and hold only letters, digits, '.', '+', '~' and '-'"
    return None


def revision_reason(revision: str) -> str | None:
    if _REVISION.fullmatch(revision):
        return None
    return "the revision must be letters, digits, '+', '.' and '~'"


def version_error(version: str) -> str | None:
    """Why `version` is not a Debian version (`[epoch:]upstream[-revision]`), or None."""
    head, hyphen, revision = version.rpartition("-")
    if not hyphen:
        reason = upstream_reason(version) if version else "it is empty"
    elif not head or not revision:
        reason = "a '-' must separate a version and a revision"
    else:
        reason = upstream_reason(head) or revision_reason(revision)
    return f"{json.dumps(version)} is not a Debian version: {reason}" if reason else None


def deb_version(version: str, revision: str) -> str:
    return f"{version}-{revision}" if revision else version


def deb_filename(name: str, version: str, revision: str, arch: str) -> str:
    """`name_version_arch.deb`, without the epoch as Debian's archive names it (`dpkg-name`)."""
    full = deb_version(version, revision)
    epoch, colon, rest = full.partition(":")
    return f"{name}_{rest if colon and epoch.isdigit() else full}_{arch}.deb"


_OPS = {">=": ">=", "<=": "<=", ">>": ">>", "<<": "<<", "=": "=", "==": "=", ">": ">>", "<": "<<"}
_CONSTRAINT = re.compile(r"\s*(>=|<=|>>|<<|==|=|>|<)\s*(\S+)\s*")


def constraint(v: str) -> tuple[str, str] | None:
    """(operator, version) of one version constraint, or None when it is not one. As in Dalec, a bare version
    (`1.2`) means `= 1.2`, and RPM's `<`, `>`, `==` mean Debian's `<<`, `>>`, `=`."""
    m = _CONSTRAINT.fullmatch(v)
    if m:
        op, ver = _OPS[m.group(1)], m.group(2)
    elif v[:1].isdigit() and " " not in v:
        op, ver = "=", v
    else:
        return None
    return (op, ver) if version_error(ver) is None else None


def relation(name: str, versions, arches=(), path: tuple | None = None) -> str:
    """One Debian relation list entry; several version constraints become several entries (`a (>= 1), a (<< 2)`).

    Every part is checked against Debian's syntax (names, versions, architectures): a spec value can never
    add a relation or a field to the control file."""
    base = path or ()
    qualified, colon, qualifier = name.partition(":")
    err = package_name_error(qualified)
    if err is None and colon and not _ARCH.fullmatch(qualifier):
        err = f"{json.dumps(name)}: the architecture qualifier after ':' must be an architecture name, any or native"
    if err:
        raise CompileError(f"dependency {err}", path)
    for i, a in enumerate(arches):
        if not _ARCH.fullmatch(a[1:] if a.startswith("!") else a):
            raise CompileError(
                f"dependency {name}: {json.dumps(a)} is not a Debian architecture (e.g. amd64, linux-any, !arm64)",
                base + ("arch", i),
            )
    arch = f" [{' '.join(arches)}]" if arches else ""
    if not versions:
        return f"{name}{arch}"
    out = []
    for i, v in enumerate(versions):
        c = constraint(v)
        if c is None:
            raise CompileError(
                f"dependency {name}: invalid version constraint {json.dumps(v)}: expected an operator "
                "(<<, <=, =, >=, >>) and a Debian version, e.g. '>= 1.2'",
                base + ("version", i),
            )
        out.append(f"{name} ({c[0]} {c[1]}){arch}")
    return ", ".join(out)


def relations(deps: Mapping[str, object] | None, path: tuple = ()) -> str:
    """A Debian relation field from a dependency map; `path` is the map's spec path, for error positions."""
    if not deps:
        return ""
    return ", ".join(
        relation(n, list(getattr(c, "version", None) or ()), list(getattr(c, "arch", None) or ()), path + (n,))
        for n, c in sorted(deps.items())
    )


def one_line_error(value: str) -> str | None:
    """Why `value` cannot be a one-line control field value (a newline would start another field)."""
    if _CONTROL_CHARS.search(value):
        return f"{json.dumps(value)} must be one line without control characters"
    return None


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


def changelog(spec, version: str, distribution: str) -> str:
    """`changelog.Debian` from the spec's newest `changelog` entry, in Dalec's one-entry form ("" without one)."""
    if not spec.changelog:
        return ""
    entry = max(spec.changelog, key=lambda e: e.date)  # YYYY-MM-DD sorts as text
    when = datetime.date.fromisoformat(entry.date).strftime("%a, %d %b %Y 00:00:00 +0000")
    changes = "".join(f"  * {line}\n" for change in entry.changes for line in [" ".join(change.split())])
    author = " ".join(entry.author.split())
    return f"{spec.name} ({version}) {distribution}; urgency=low\n\n{changes}\n -- {author}  {when}\n"


# ------------------------------------------------------------------ systemd maintainer scripts
# The snippets dh_installsystemd (debhelper 13.11 and 13.24, identical) writes, as Dalec's deb packaging
# gets them from `dh_installsystemd --name=<unit> [--no-enable]`: every unit is "enabled" or only
# state-tracked on configure, purged on purge, and the daemon reloaded on remove. One deliberate
# difference: Dalec never passes --no-start, so dh starts every unit; here a unit is started (restarted
# on upgrade, stopped on remove) only with `start: true`, as the spec field says (Dalec's RPMs do this).

_ON_CONFIGURE = (
    'if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] '
    '|| [ "$1" = "abort-remove" ] ; then\n'
)
_ENABLE = _ON_CONFIGURE + """\
	# The following line should be removed in trixie or trixie+1
	deb-systemd-helper unmask {unit} >/dev/null || true

	# was-enabled defaults to true, so new installations run enable.
	if deb-systemd-helper --quiet was-enabled {unit}; then
		# Enables the unit on first installation, creates new
		# symlinks on upgrades if the unit file has changed.
		deb-systemd-helper enable {unit} >/dev/null || true
	else
		# Update the statefile to add new symlinks (if any), which need to be
		# cleaned up on purge. Also remove old symlinks.
		deb-systemd-helper update-state {unit} >/dev/null || true
	fi
fi
"""
_DONT_ENABLE = _ON_CONFIGURE + """\
	if deb-systemd-helper debian-installed {unit}; then
		# The following line should be removed in trixie or trixie+1
		deb-systemd-helper unmask {unit} >/dev/null || true

		if deb-systemd-helper --quiet was-enabled {unit}; then
			# Create new symlinks, if any.
			deb-systemd-helper enable {unit} >/dev/null || true
		fi
	fi

	# Update the statefile to add new symlinks (if any), which need to be cleaned
	# up on purge. Also remove old symlinks.
	deb-systemd-helper update-state {unit} >/dev/null || true
fi
"""
_START = _ON_CONFIGURE + """\
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		if [ -n "$2" ]; then
			_dh_action=restart
		else
			_dh_action=start
		fi
		deb-systemd-invoke $_dh_action {units} >/dev/null || true
	fi
fi
"""
_STOP = """\
if [ -z "${{DPKG_ROOT:-}}" ] && [ "$1" = remove ] && [ -d /run/systemd/system ] ; then
	deb-systemd-invoke stop {units} >/dev/null || true
fi
"""
_PURGE = """\
if [ "$1" = "purge" ]; then
	if [ -x "/usr/bin/deb-systemd-helper" ]; then
		deb-systemd-helper purge {units} >/dev/null || true
	fi
fi
"""
_RELOAD = """\
if [ "$1" = remove ] && [ -d /run/systemd/system ] ; then
	systemctl --system daemon-reload >/dev/null || true
fi
"""
_SCRIPT_HEAD = "#!/bin/sh\nset -e\n# Added by dalecpy: dh_installsystemd's snippets for the package's units\n"


def systemd_maintainer_scripts(units: Mapping[str, tuple[bool, bool]]) -> dict[str, str]:
    """DEBIAN/postinst, prerm and postrm for installed units: `units` maps a unit file name to
    (enable, start). Template units (`foo@.service`) are installed only, as dh_installsystemd does."""
    managed = sorted(u for u in units if "@" not in u)
    if not managed:
        return {}
    started = [u for u in managed if units[u][1]]
    postinst = "".join((_ENABLE if units[u][0] else _DONT_ENABLE).format(unit=squote(u)) for u in managed)
    if started:
        postinst += _START.format(units=" ".join(map(squote, started)))
    postrm = _PURGE.format(units=" ".join(map(squote, managed))) + _RELOAD
    out = {"postinst": _SCRIPT_HEAD + postinst, "postrm": _SCRIPT_HEAD + postrm}
    if started:
        out["prerm"] = _SCRIPT_HEAD + _STOP.format(units=" ".join(map(squote, started)))
    return out
