"""Every distro's facts in one place: the tables the target families and the router are built from.

Facts follow Dalec v0.21.5 (`targets/linux/deb/{debian,ubuntu}`, `targets/linux/rpm/*`, `targets/windows`):
image references, distro keys (the cache namespace), worker named contexts, package managers and the
packages a worker needs. Per-release package differences dalecpy emulates itself (where debhelper installs
systemd units) are read from each release's own tools and noted beside the field.
"""

from __future__ import annotations

from dataclasses import dataclass

# dh_installsystemd installs units under /usr/lib from debhelper 13.11.8 ("systemd helpers: install units
# to /usr"); older releases (bullseye 13.3, bookworm 13.11.4, bionic 11.1, focal 12.10, jammy 13.6) use /lib.
_LIB_UNITS, _USR_LIB_UNITS = "/lib/systemd/system", "/usr/lib/systemd/system"


@dataclass(frozen=True)
class DebDistro:
    """A Debian or Ubuntu release (`targets/linux/deb/*`)."""

    codename: str
    version_id: str  # Dalec's distroKey for deb families: the os-release ID and VERSION_ID (`debian12`)
    description: str
    image_ref: str
    systemd_unit_dir: str  # where the release's dh_installsystemd installs units
    sysext: bool = False  # Dalec routes `<codename>/testing/sysext`
    # Ubuntu's images exclude /usr/share/doc, man pages and locales from dpkg installs
    # (/etc/dpkg/dpkg.cfg.d/excludes); a package with docs is installed with that file masked.
    dpkg_excludes: bool = False
    worker_name: str = ""  # the named context that replaces the worker image ("": dalec-<codename>-worker)

    @property
    def worker_context(self) -> str:
        return self.worker_name or f"dalec-{self.codename}-worker"

    @property
    def family(self) -> str:
        return "deb"


def _debian(codename: str, number: int, units: str, sysext: bool = False) -> DebDistro:
    return DebDistro(codename, f"debian{number}", f"Debian {number} ({codename})",
                     f"docker.io/library/debian:{codename}", units, sysext)


def _ubuntu(codename: str, version: str, units: str, sysext: bool = False) -> DebDistro:
    return DebDistro(codename, f"ubuntu{version}", f"Ubuntu {version} ({codename})",
                     f"docker.io/library/ubuntu:{codename}", units, sysext, dpkg_excludes=True)


DEB_DISTROS: tuple[DebDistro, ...] = (
    _debian("bullseye", 11, _LIB_UNITS),
    _debian("bookworm", 12, _LIB_UNITS),
    _debian("trixie", 13, _USR_LIB_UNITS, sysext=True),
    _ubuntu("bionic", "18.04", _LIB_UNITS),
    _ubuntu("focal", "20.04", _LIB_UNITS),
    _ubuntu("jammy", "22.04", _LIB_UNITS),
    _ubuntu("noble", "24.04", _USR_LIB_UNITS, sysext=True),
    _ubuntu("resolute", "26.04", _USR_LIB_UNITS, sysext=True),
)


@dataclass(frozen=True)
class RpmDistro:
    """An RPM distro (`targets/linux/rpm/*`)."""

    key: str  # the target key, also Dalec's distroKey for RPM caches
    full_name: str
    image_ref: str
    release_ver: str  # passed to the package manager as --releasever
    package_manager: str  # tdnf (Azure Linux 3, switches to dnf once installed) or dnf
    cache_dirs: tuple[str, ...]  # the package manager's caches, mounted locked
    builder_packages: tuple[str, ...]  # what the worker needs to run rpmbuild
    base_requires: tuple[str, ...]  # a container's base packages (Dalec's `dalec-base-<key>` Requires)
    base_recommends: tuple[str, ...] = ()
    sysext: bool = False

    @property
    def worker_context(self) -> str:
        return f"dalec-{self.key}-worker"

    @property
    def version_id(self) -> str:
        return self.key

    @property
    def description(self) -> str:
        return self.full_name

    @property
    def family(self) -> str:
        return "rpm"


_ALMA_ROCKY_BUILDER = ("rpm-build", "ca-certificates")
_DNF_CACHE = ("/var/cache/dnf",)

RPM_DISTROS: tuple[RpmDistro, ...] = (
    RpmDistro("azlinux3", "Azure Linux 3", "mcr.microsoft.com/azurelinux/base/core:3.0", "3.0", "tdnf",
              ("/var/cache/tdnf", "/var/cache/dnf"),
              ("rpm-build", "mariner-rpm-macros", "build-essential", "ca-certificates", "dnf"),
              ("distroless-packages-minimal",), ("prebuilt-ca-certificates",), sysext=True),
    RpmDistro("azlinux4", "Azure Linux 4", "mcr.microsoft.com/azurelinux-beta/base/core:4.0", "4.0", "dnf",
              ("/var/cache/libdnf5",),
              ("rpm-build", "azurelinux-rpm-config", "systemd-rpm-macros", "autoconf", "automake", "binutils",
               "bison", "diffutils", "file", "gawk", "gcc", "glibc-devel", "gzip", "kernel-headers", "libtool",
               "make", "patch", "pkgconf", "tar", "ca-certificates", "dnf5"),
              ("azurelinux-release", "tzdata"), sysext=True),
    RpmDistro("almalinux8", "AlmaLinux 8", "docker.io/library/almalinux:8", "8", "dnf", _DNF_CACHE,
              ("binutils", *_ALMA_ROCKY_BUILDER), ("almalinux-release", "tzdata")),
    RpmDistro("almalinux9", "AlmaLinux 9", "docker.io/library/almalinux:9", "9", "dnf", _DNF_CACHE,
              ("binutils", *_ALMA_ROCKY_BUILDER), ("almalinux-release", "tzdata")),
    RpmDistro("rockylinux8", "Rocky Linux 8", "docker.io/library/rockylinux:8", "8", "dnf", _DNF_CACHE,
              _ALMA_ROCKY_BUILDER, ("rocky-release", "tzdata")),
    RpmDistro("rockylinux9", "Rocky Linux 9", "docker.io/library/rockylinux:9", "9", "dnf", _DNF_CACHE,
              (*_ALMA_ROCKY_BUILDER, "systemd-rpm-macros"), ("rocky-release", "tzdata")),
)


@dataclass(frozen=True)
class WindowsCross:
    """`windowscross`: Windows binaries cross-compiled with mingw on an Ubuntu jammy worker."""

    key: str = "windowscross"
    worker: DebDistro = DebDistro(
        "jammy", "ubuntu22.04", "Ubuntu 22.04 (jammy) with mingw-w64", "docker.io/library/ubuntu:jammy",
        _LIB_UNITS, dpkg_excludes=True, worker_name="dalec-windowscross-worker",
    )
    builder_packages: tuple[str, ...] = (
        "aptitude", "build-essential", "binutils-mingw-w64", "g++-mingw-w64-x86-64", "gcc", "git", "make",
        "pkg-config", "zip", "dpkg-dev", "debhelper",
    )
    base_image: str = "mcr.microsoft.com/windows/nanoserver:1809"
    system_dir: str = "/Windows/System32/"

    @property
    def version_id(self) -> str:
        """Dalec keys windowscross caches by `<jammy's VersionID>/<target key>`."""
        return f"{self.worker.version_id}/{self.key}"


WINDOWSCROSS = WindowsCross()
