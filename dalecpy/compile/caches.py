"""`build.caches` -> cache mounts on the one ExecOp that runs the build steps.

This module is the single home of the persistent-cache rules: the cache-ID format, the mount points,
the Go build cache auto-add rule and the Bazel rc text. Everything else asks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from .. import llb
from ..platforms import Platform
from ..spec import Spec
from ..spec.models import CacheConfig, GoBuildCache
from .distros import RPM_DISTROS
from .mounts import MountTable, mount_point

GOBUILD_CACHE_DIR = "/tmp/dalec/gobuild-cache"
BAZEL_CACHE_DIR = "/tmp/dalec/bazel-local-cache"
BAZEL_SOCKET_PATH = "/tmp/dalec/bazel-remote.sock"
BAZEL_SOCKET_ID = "bazel-default"
BAZELRC_PATH = "/etc/bazel.bazelrc"
APT_CACHE_DIRS = ("/var/cache/apt", "/var/lib/apt")
RPM_CACHE_DIRS = tuple(sorted({d for r in RPM_DISTROS for d in r.cache_dirs}))

CACHE_NS_ARG = "BUILDKIT_CACHE_MOUNT_NS"

_GOBUILD_SUFFIX = "dalec-gobuildcache"
_BAZEL_SUFFIX = "dalec-bazelcache"

BAZELRC_TEXT = (
    f"\nbuild --disk_cache={BAZEL_CACHE_DIR}\n"
    f"fetch --disk_cache={BAZEL_CACHE_DIR}\n"
)

# Runs at the top of the build script, i.e. inside the build ExecOp itself, so the decision is made on
# every run of that op. Dalec makes it in a separately cached helper op whose result goes stale when the
# socket is forwarded in one build and not in the next (it then points Bazel at a missing socket).
BAZEL_REMOTE_PRELUDE = (
    f'if [ -S "{BAZEL_SOCKET_PATH}" ]; then\n'
    f'  echo "build --remote_cache=unix:{BAZEL_SOCKET_PATH}" >> {BAZELRC_PATH}\n'
    f'  echo "fetch --remote_cache=unix:{BAZEL_SOCKET_PATH}" >> {BAZELRC_PATH}\n'
    "fi\n"
)

_SHARING = {
    "": llb.CacheSharing.SHARED,
    "shared": llb.CacheSharing.SHARED,
    "private": llb.CacheSharing.PRIVATE,
    "locked": llb.CacheSharing.LOCKED,
}


@dataclass(frozen=True)
class CacheMount:
    """One effective cache mount: what `dalecpy caches` prints and what the build op gets."""

    kind: str  # dir | gobuild | bazel | apt | package manager
    id: str
    dest: str
    sharing: str  # shared | private | locked

    def mount(self) -> llb.Mount:
        return llb.Mount.cache(self.dest, self.id, _SHARING[self.sharing])


@dataclass(frozen=True)
class CacheSetup:
    """Everything the build ExecOp needs for the spec's caches."""

    caches: tuple[CacheMount, ...]
    mounts: tuple[llb.Mount, ...]
    env: tuple[tuple[str, str], ...]
    script_prelude: str


@dataclass(frozen=True)
class CacheNamespace:
    """The `<distroKey>-<os>/<arch>[/<variant>]` prefix plus the client's BUILDKIT_CACHE_MOUNT_NS."""

    distro_key: str
    platform: Platform
    mount_ns: str = ""

    @classmethod
    def for_build(cls, distro_key: str, platform: Platform, build_args: Mapping[str, str]) -> "CacheNamespace":
        return cls(distro_key, platform, build_args.get(CACHE_NS_ARG, ""))

    @property
    def prefix(self) -> str:
        return f"{self.distro_key}-{self.platform.format()}"

    def cache_id(self, key: str, *, auto_namespace: bool = True) -> str:
        """The one cache-ID rule: Dalec's auto-namespace, then the Dockerfile frontend's mount namespace."""
        raw = f"{self.prefix}-{key}" if auto_namespace else key
        return f"{self.mount_ns}/{raw}" if self.mount_ns else raw

    def builtin_id(self, suffix: str, scope: str = "") -> str:
        return self.cache_id(f"{suffix}-{scope}" if scope else suffix)


def needs_auto_gobuild(spec: Spec, target_key: str) -> bool:
    """Dalec's rule: Go in the build deps (after the target merge) or a gomod generator, and no gobuild entry."""
    if any(c.gobuild is not None for c in spec.build.caches):
        return False
    return spec.has_golang(target_key) or spec.has_gomods()


def package_manager_caches(ns: CacheNamespace, dirs: Iterable[str], kind: str) -> tuple[CacheMount, ...]:
    """A package manager's caches (apt's, dnf's, tdnf's): `locked` as in Dalec, namespaced like every other
    cache (`<distroKey>-<platform>-dalec-var-cache-dnf`); Dalec keys them by distro only (plus the platform
    for RPM distros)."""
    return tuple(CacheMount(kind, ns.cache_id("dalec" + d.replace("/", "-")), d, "locked") for d in dirs)


def apt_caches(ns: CacheNamespace) -> tuple[CacheMount, ...]:
    return package_manager_caches(ns, APT_CACHE_DIRS, "apt")


def user_caches(spec: Spec, target_key: str, ns: CacheNamespace, table: MountTable | None = None) -> CacheSetup:
    """Resolve `build.caches` (plus the auto-added gobuild cache) for one target and platform.

    Claims each mount point in `table` (the build op's; a fresh one when None), so a cache on a mount
    point already in use, or spelled differently for one (`/a/`, `//a`), is an error. A `dir` key that
    would alias a built-in cache's ID is an error too (Dalec silently shares them). Problems go to the
    table; with no table given, raises them as a CompileError.
    """
    own_table = table is None
    table = MountTable() if table is None else table
    caches: list[CacheMount] = []
    mounts: list[llb.Mount] = []
    env: list[tuple[str, str]] = []
    prelude = ""

    entries: list[tuple[int, CacheConfig]] = list(enumerate(spec.build.caches))
    if needs_auto_gobuild(spec, target_key):
        entries.append((-1, CacheConfig(gobuild=GoBuildCache())))  # Dalec injects `gobuild: {}`

    def claim(dest: str, index: int, kind: str = "cache mount") -> bool:
        if index < 0:
            return table.claim(dest, None, "the automatic gobuild cache", "")
        return table.claim(dest, ("build", "caches", index), f"cache {index}", f"build: cache {index}: {kind}")

    reserved = _reserved_prefixes(ns)
    for index, entry in entries:
        path = ("build", "caches", index)
        if entry.dir is not None:
            d = entry.dir
            key = d.key or d.dest
            cid = ns.cache_id(key, auto_namespace=not d.no_auto_namespace)
            clash = next((kind for kind, prefix in reserved if cid == prefix or cid.startswith(prefix + "-")), None)
            if clash:
                table.report(
                    path + ("dir", "key" if d.key else "dest"),
                    f"build: cache {index}: cache dir key {key!r} gives cache ID {cid!r}, "
                    f"which is reserved for the {clash} cache",
                )
                continue
            if claim(d.dest, index):
                caches.append(CacheMount("dir", cid, mount_point(d.dest), d.sharing or "shared"))
        elif entry.gobuild is not None:
            if entry.gobuild.disabled:
                continue
            if claim(GOBUILD_CACHE_DIR, index):
                caches.append(
                    CacheMount("gobuild", ns.builtin_id(_GOBUILD_SUFFIX, entry.gobuild.scope), GOBUILD_CACHE_DIR, "shared")
                )
                env.append(("GOCACHE", GOBUILD_CACHE_DIR))
        elif entry.bazel is not None:
            if not all([claim(BAZEL_CACHE_DIR, index), claim(BAZELRC_PATH, index, "bazelrc mount"),
                        claim(BAZEL_SOCKET_PATH, index, "bazel remote cache socket")]):
                continue
            caches.append(
                CacheMount("bazel", ns.builtin_id(_BAZEL_SUFFIX, entry.bazel.scope), BAZEL_CACHE_DIR, "shared")
            )
            rc = llb.scratch().file(llb.mkfile("/bazelrc", 0o644, BAZELRC_TEXT), custom_name="bazelrc")
            mounts.append(llb.Mount.bind(BAZELRC_PATH, rc, selector="bazelrc"))
            mounts.append(llb.Mount.ssh(BAZEL_SOCKET_PATH, BAZEL_SOCKET_ID, optional=True))
            prelude += BAZEL_REMOTE_PRELUDE
    if own_table:
        table.check()
    mounts.extend(c.mount() for c in caches)
    return CacheSetup(tuple(caches), tuple(mounts), tuple(env), prelude)


def _reserved_prefixes(ns: CacheNamespace) -> Iterable[tuple[str, str]]:
    return (
        ("gobuild", ns.builtin_id(_GOBUILD_SUFFIX)),
        ("bazel", ns.builtin_id(_BAZEL_SUFFIX)),
        *(("apt", c.id) for c in apt_caches(ns)),
        *((c.kind, c.id) for c in package_manager_caches(ns, RPM_CACHE_DIRS, "package manager")),
    )
