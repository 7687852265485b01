"""Debian package metadata: the control file and where each artifact kind is installed."""

from __future__ import annotations

import datetime
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
    "opt": "/opt",
}
# dh_installsystemd's unit directory per debhelper (bookworm 13.11: /lib, trixie 13.24: /usr/lib); Dalec's
# .install file puts drop-ins under /lib/systemd/system/<unit>.d on every distro.
SYSTEMD_DROPIN_BASE = "/lib/systemd/system"
DEFAULT_MODES: Mapping[str, int] = {
    "binaries": 0o755,
    "libexec": 0o755,
    "libs": 0o644,
    "headers": 0o644,
    "manpages": 0o644,
    "config_files": 0o644,
    "docs": 0o644,
    "licenses": 0o644,
    "systemd": 0o644,
}


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
