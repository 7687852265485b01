"""The RPM target family (Azure Linux, AlmaLinux, Rocky Linux): `<key>/rpm`, `/container`, `/worker` and
`/rpm/debug/{spec,sources,buildroot}`.

As in Dalec, the spec becomes an RPM `.spec` file (rpmspec.py) built with `rpmbuild -ba` on the distro's
worker: sources packed into SOURCES/ (directory sources as `<name>.tar.gz`, the build steps as
`build.sh`), the spec at SPECS/<name>/<name>.spec, the caches on the rpmbuild op. Build dependencies are
installed through a generated meta-package whose Requires are the spec's build dependencies, so the package
manager resolves the version constraints. A container is the package installed with the package manager's
`--installroot` into an empty root (or the spec's base image), with the distro's base packages.
"""

from __future__ import annotations

import datetime
import json
import posixpath

from .. import llb
from ..platforms import Platform
from . import caches, rpmspec
from . import artifacts
from .debian import _install_fn, _install_lines, _scripts, worker_image_ref
from .distros import RpmDistro
from .mounts import MountTable
from .options import NO_CACHE_CONTAINER, NO_CACHE_PKG, BuildContext, CompileError, TargetOutput
from .script import DEFAULT_PATH, SCRIPT_DIR, build_script, squote
from .sources import SourceEnv, image_state, is_dir_source, sources_tree, step_mounts
from .unsupported import refuse_unsupported

TOP_DIR = "/build/top"
OUT_DIR = "/build/out"
ROOTFS = "/tmp/rootfs"
RPMS_IN = "/tmp/dalec/rpms"

_RPM_ARCH = {
    ("amd64", ""): "x86_64",
    ("arm64", ""): "aarch64",
    ("386", ""): "i686",
    ("arm", "v7"): "armv7hl",
    ("arm", "v6"): "armv6hl",
    ("ppc64le", ""): "ppc64le",
    ("s390x", ""): "s390x",
    ("riscv64", ""): "riscv64",
}
_LIB64 = {"x86_64", "aarch64", "ppc64le", "s390x", "riscv64"}
UNIT_DIR = "/usr/lib/systemd/system"


def rpm_arch(platform: Platform) -> str:
    try:
        return _RPM_ARCH[(platform.architecture, platform.variant)]
    except KeyError:
        raise CompileError(f"no RPM architecture for platform {platform.format()}") from None


def install_dirs(platform: Platform) -> dict[str, str]:
    """RPM's directory macros as the paths they expand to for the platform (%{_libdir} is lib64 on 64-bit), per
    artifact kind. The %install script gets paths, not macros, so every spec value in it can be escaped."""
    libdir = "/usr/lib64" if rpm_arch(platform) in _LIB64 else "/usr/lib"
    return {
        **artifacts.DEB_DIRS,
        "libs": libdir,  # %{_libdir}
        "licenses": "/usr/share/licenses/{name}",  # %{_licensedir}/<name>
        artifacts.SYSTEMD_UNITS: UNIT_DIR,  # %{_unitdir}
        artifacts.SYSTEMD_DROPINS: UNIT_DIR,
    }


# ------------------------------------------------------------------ package manager

def _pm_script(distro: RpmDistro, root: str = "", docs: bool = False) -> str:
    """Dalec's install wrapper: tdnf switches to dnf once dnf is installed (tdnf cannot install local files
    reliably); the packages are the script's arguments (shell globs for local .rpm files are expanded)."""
    flags = ""
    if root:
        flags += f" --installroot={root} --setopt=reposdir=/etc/yum.repos.d"
    if not docs:
        flags += " --setopt=tsflags=nodocs"
    flags += f" -y --setopt varsdir=/etc/dnf/vars --releasever={distro.release_ver}"
    return (
        "#!/bin/sh\nset -e\n"
        f"cmd={distro.package_manager}\n"
        'if [ "$cmd" = tdnf ] && command -v dnf >/dev/null 2>&1; then cmd=dnf; fi\n'
        f'exec $cmd install{flags} "$@"\n'
    )


def package_caches(ctx: BuildContext, distro: RpmDistro) -> tuple[caches.CacheMount, ...]:
    ns = caches.CacheNamespace.for_build(distro.version_id, ctx.platform, ctx.options.build_args)
    return caches.package_manager_caches(ns, distro.cache_dirs, "package manager")


def _pm_mounts(ctx: BuildContext, distro: RpmDistro, root: str = "") -> tuple[llb.Mount, ...]:
    return tuple(llb.Mount.cache(posixpath.join(root or "/", c.dest.lstrip("/")), c.id, llb.CacheSharing.LOCKED)
                 for c in package_caches(ctx, distro))


def _install(ctx: BuildContext, distro: RpmDistro, st: llb.State, packages: list[str], name: str,
             mounts: tuple[llb.Mount, ...] = (), root: str = "", docs: bool = False,
             ignore_cache: bool = False) -> llb.ExecState:
    files = _scripts(f"package manager script ({name})", {"install.sh": _pm_script(distro, root, docs)})
    # The package arguments go through `sh -c` so globs of local .rpm files expand; they come from the
    # distro table or are paths dalecpy makes, never from the spec.
    cmd = f'exec {SCRIPT_DIR}/install.sh {" ".join(packages)}'
    return st.run(["/bin/sh", "-c", cmd],
                  mounts=(llb.Mount.bind(SCRIPT_DIR, files, readonly=True), *mounts, *_pm_mounts(ctx, distro, root)),
                  custom_name=name, ignore_cache=ignore_cache)


def base_worker(ctx: BuildContext, distro: RpmDistro) -> llb.State:
    """The distro image with rpmbuild and the builder packages; a `dalec-<key>-worker` named context
    replaces it whole (as in Dalec)."""
    ref = worker_image_ref(ctx, distro.worker_context, distro.image_ref)
    st = llb.image(ref, platform=ctx.platform).with_env("PATH", DEFAULT_PATH)
    if distro.worker_context in ctx.options.named_contexts:
        return st
    pkgs = list(distro.builder_packages)
    if distro.package_manager == "tdnf" and "dnf" in pkgs:
        # dnf first, with tdnf: the rest (and everything after) is installed with dnf.
        st = _install(ctx, distro, st, ["dnf"], "Install dnf").root
    return _install(ctx, distro, st, pkgs, f"Install {distro.full_name} build tools: {', '.join(pkgs)}").root


def _meta_rpm(ctx: BuildContext, distro: RpmDistro, worker: llb.State, spec: rpmspec.RpmSpec, what: str) -> llb.State:
    """A generated meta-package (no files, only dependencies) built with rpmbuild; /RPMS/<arch>/*.rpm."""
    script = (
        "#!/bin/sh\nset -e\n"
        f'rpmbuild --define "_topdir /tmp/dalec/meta" --define "_rpmdir {OUT_DIR}/RPMS" '
        f"-bb {SCRIPT_DIR}/meta.spec\n"
    )
    files = _scripts(f"{what}: spec", {"meta.spec": spec.render(), "build-meta.sh": script})
    return worker.run(
        [f"{SCRIPT_DIR}/build-meta.sh"],
        network=llb.NetMode.NONE,
        mounts=(llb.Mount.bind(SCRIPT_DIR, files, readonly=True), llb.Mount.tmpfs("/tmp/dalec/meta"),
                llb.Mount.bind(OUT_DIR, llb.scratch())),
        custom_name=f"Build the {what} meta-package",
    ).output(OUT_DIR)


def meta_spec(name: str, summary: str, requires=(), recommends=()) -> rpmspec.RpmSpec:
    return rpmspec.RpmSpec(name=name, version="1.0", release="1", license="Apache-2.0", summary=summary,
                           description=summary, requires=list(requires), recommends=list(recommends))


def install_deps(ctx: BuildContext, distro: RpmDistro, st: llb.State, deps, kind: str, root: str = "") -> llb.State:
    """Install a dependency map into `st` (or into the root filesystem mounted at `root` on a worker) through a
    meta-package whose Requires are the deps."""
    requires = rpmspec.dependencies(deps, ctx.spec.deps_path(ctx.target_key, kind))
    name = f"{ctx.spec.name}-{kind}-dependencies"
    worker = base_worker(ctx, distro) if root else st
    meta = _meta_rpm(ctx, distro, worker, meta_spec(name, f"{kind} dependencies of {ctx.spec.name}", requires),
                     f"{kind} dependencies")
    label = f"Install {kind} dependencies: {', '.join(sorted(deps))}"
    mounts = (llb.Mount.bind(RPMS_IN, meta, selector="RPMS", readonly=True),)
    if not root:
        return _install(ctx, distro, st, [f"{RPMS_IN}/*/*.rpm"], label, mounts).root
    return _install(ctx, distro, worker, [f"{RPMS_IN}/*/*.rpm"], label,
                    (llb.Mount.bind(root, st), *mounts), root=root).output(root)


def worker(ctx: BuildContext, distro: RpmDistro) -> llb.State:
    st = base_worker(ctx, distro)
    deps = ctx.spec.get_build_deps(ctx.target_key)
    return install_deps(ctx, distro, st, deps, "build") if deps else st


# ------------------------------------------------------------------ the .spec file

def check_spec(ctx: BuildContext) -> None:
    """Dalec's required fields for rpmbuild (name, version, revision, description, license) and RPM's
    syntax for the header values, after build-arg substitution; all problems at once, positioned."""
    spec = ctx.spec
    problems: list[tuple[tuple, str]] = []
    for field_ in ("name", "version", "revision", "description", "license"):
        if not getattr(spec, field_):
            problems.append(((field_,), f"{field_}: an RPM package needs one (missing required field: {field_})"))
    checks = ((("name",), spec.name, rpmspec.name_error(spec.name) if spec.name else None),
              (("version",), spec.version, rpmspec.version_error(spec.version) if spec.version else None),
              (("revision",), spec.revision,
               rpmspec.version_error(spec.revision, "release") if spec.revision else None))
    for path, _, err in checks:
        if err:
            problems.append((path, f"{path[0]}: {err}"))
    for field_ in ("license", "website", "vendor", "packager"):
        err = rpmspec.one_line_error(getattr(spec, field_) or "")
        if err:
            problems.append(((field_,), f"{field_}: {err}"))
    if problems:
        raise CompileError.many(problems)


def _changelog(spec) -> list[tuple[datetime.date, str, list[str]]]:
    return [(datetime.date.fromisoformat(e.date), " ".join(e.author.split()),
             [" ".join(c.split()) for c in e.changes]) for e in spec.changelog or ()]


_DIRECTIVES = {"docs": "%doc", "licenses": "%license", "config_files": "%config(noreplace)"}


def _files_path(path: str) -> str:
    if '"' in path or rpmspec.one_line_error(path):
        raise CompileError(f"artifact path {json.dumps(path)} cannot be listed in an RPM %files section "
                           "(double quotes and control characters are not allowed)")
    return rpmspec.escape(path)


def _files(lay: artifacts.Layout) -> list[rpmspec.FileEntry]:
    """%files: every installed file, directory and link, with %doc/%license/%config, %caps and owners."""
    out = []
    for f in lay.files:
        path = _files_path(f.dest) + ("*" if f.kind == "manpages" else "")  # rpmbuild compresses man pages
        directive = " ".join(d for d in (_DIRECTIVES.get(f.kind, ""),
                                         f"%caps({f.capabilities})" if f.capabilities else "") if d)
        out.append(rpmspec.FileEntry(path, directive, "-", f.user or "-", f.group or "-"))
    for d in lay.dirs:
        out.append(rpmspec.FileEntry(_files_path(d.path), "%dir", oct(d.mode)[2:], d.user or "-", d.group or "-"))
    for link in lay.links:
        out.append(rpmspec.FileEntry(_files_path(link.dest), "", "-", link.user or "-", link.group or "-"))
    for unit_d in sorted({f.dest_dir for f in lay.files_of(artifacts.SYSTEMD_DROPINS)}):
        out.append(rpmspec.FileEntry(_files_path(unit_d), "%dir"))
    return out


def rpm_spec(ctx: BuildContext) -> rpmspec.RpmSpec:
    """The RpmSpec of the target's package (checked: raises positioned CompileErrors)."""
    check_spec(ctx)
    spec, key = ctx.spec, ctx.target_key
    # man pages without a subpath go to man<N>/ as in a .deb (Dalec's RPM leaves them in %{_mandir} itself)
    lay = artifacts.layout(spec, key, install_dirs(ctx.platform), man_sections=True)
    keep = any(f.kind == "opt" for f in lay.files)
    body = "R=%{buildroot}\n" + rpmspec.escape("\n".join([_install_fn(keep_modes=keep).rstrip("\n"),
                                                          *_install_lines(lay)]))
    sources = [rpmspec.SpecSource(n, is_dir_source(s)) for n, s in sorted((spec.sources or {}).items())]
    patches = []
    for target in sorted(spec.patches or {}):
        for p in spec.patches[target]:
            strip = 1 if p.strip is None else p.strip
            patches.append(rpmspec.Patch(target, posixpath.join(p.source, p.path) if p.path else p.source, strip))
    units = [rpmspec.Unit(u.name, u.enable, u.start) for u in lay.units]
    desc = (spec.description or "").strip()
    return rpmspec.RpmSpec(
        name=spec.name,
        version=spec.version,
        release=spec.revision or "1",
        license=spec.license or "",
        summary=desc.splitlines()[0] if desc else "",
        description=desc,
        url=spec.website or "",
        vendor=spec.vendor or "",
        packager=spec.packager or "",
        noarch=bool(spec.noarch),
        disable_strip=not lay.strip,
        disable_auto_requires=not lay.auto_requires,
        sources=sources,
        has_build_script=bool(spec.build.steps),
        patches=patches,
        build_requires=rpmspec.dependencies(spec.get_build_deps(key), spec.deps_path(key, "build")),
        requires=rpmspec.dependencies(spec.get_runtime_deps(key), spec.deps_path(key, "runtime")),
        recommends=rpmspec.dependencies(spec.get_recommends(key), spec.deps_path(key, "recommends")),
        provides=rpmspec.dependencies(spec.get_provides(key), spec.override_path(key, "provides")),
        conflicts=rpmspec.dependencies(spec.get_conflicts(key), spec.override_path(key, "conflicts")),
        obsoletes=rpmspec.dependencies(spec.get_replaces(key), spec.override_path(key, "replaces")),
        install=body,
        files=_files(lay),
        units=units,
        users=list(lay.users),
        groups=list(lay.groups),
        changelog=_changelog(spec),
    )


def spec_path(ctx: BuildContext) -> str:
    return f"SPECS/{ctx.spec.name}/{ctx.spec.name}.spec"


def spec_state(ctx: BuildContext, base: llb.State | None = None) -> llb.State:
    """SPECS/<name>/<name>.spec (Dalec's path and mode) on `base` (scratch)."""
    text = rpm_spec(ctx).render()
    st = base if base is not None else llb.scratch()
    return st.file(llb.mkdir(f"/SPECS/{ctx.spec.name}", 0o755, parents=True)
                   .mkfile("/" + spec_path(ctx), 0o640, text), custom_name="Generate RPM spec")


def _build_sh(ctx: BuildContext, ns: caches.CacheNamespace, table: MountTable) -> tuple[str, caches.CacheSetup]:
    setup = caches.user_caches(ctx.spec, ctx.target_key, ns, table)
    build = ctx.spec.build
    script = build_script(prelude=setup.script_prelude, env=dict(setup.env) | dict(build.env or {}),
                          steps=[(s.command, dict(s.env or {})) for s in build.steps or ()])
    return script, setup


def sources_state(ctx: BuildContext, worker: llb.State, build_sh: str | None) -> llb.State:
    """SOURCES/: directory sources as `<name>.tar.gz` (top directory `<name>/`), file sources as they are,
    and the build script as `build.sh`."""
    env = SourceEnv.for_build(ctx)
    srcs = ctx.spec.sources or {}
    out: llb.State = llb.scratch()
    if srcs:
        lines = ["#!/bin/sh", "set -e", "cd /tmp/dalec/src"]
        for name, src in sorted(srcs.items()):
            if is_dir_source(src):
                lines.append(f"tar --sort=name --numeric-owner -cf - -- {squote(name)} | gzip -n "
                             f"> /tmp/dalec/sources/{squote(name + '.tar.gz')}")
            else:
                lines.append(f"cp -p -- {squote(name)} /tmp/dalec/sources/{squote(name)}")
        files = _scripts("sources: pack script", {"pack.sh": "\n".join(lines) + "\n"})
        out = worker.run(
            [f"{SCRIPT_DIR}/pack.sh"],
            network=llb.NetMode.NONE,
            mounts=(llb.Mount.bind("/tmp/dalec/src", sources_tree(srcs, env), readonly=True),
                    llb.Mount.bind(SCRIPT_DIR, files, readonly=True),
                    llb.Mount.bind("/tmp/dalec/sources", llb.scratch())),
            custom_name="Pack sources for rpmbuild",
        ).output("/tmp/dalec/sources")
    if build_sh is not None:
        out = out.file(llb.mkfile("/" + rpmspec.BUILD_SCRIPT, 0o755, build_sh), custom_name="build script")
    return out


def _namespace(ctx: BuildContext, distro: RpmDistro) -> caches.CacheNamespace:
    return caches.CacheNamespace.for_build(distro.version_id, ctx.platform, ctx.options.build_args)


_RPMBUILD_MOUNTS = {"/": "the root filesystem", TOP_DIR: "the rpmbuild top directory", "/build/tmp": "rpmbuild's "
                    "build root", OUT_DIR: "the built packages", SCRIPT_DIR: "dalecpy's generated scripts"}


def buildroot(ctx: BuildContext, distro: RpmDistro, worker_st: llb.State,
              table: MountTable | None = None) -> tuple[llb.State, caches.CacheSetup]:
    """The rpmbuild top directory (SPECS/ and SOURCES/) and the caches the build op mounts."""
    table = table if table is not None else MountTable(_RPMBUILD_MOUNTS)
    build_sh, setup = _build_sh(ctx, _namespace(ctx, distro), table)
    srcs = sources_state(ctx, worker_st, build_sh if ctx.spec.build.steps else None)
    top = llb.scratch().file(llb.copy(srcs, "/", "/SOURCES", create_dest_path=True, dir_copy_contents=True),
                             custom_name="SOURCES")
    return spec_state(ctx, top), setup


def rpm_package(ctx: BuildContext, distro: RpmDistro) -> llb.State:
    """`rpmbuild -ba` of the generated spec: /RPMS/<arch>/*.rpm and /SRPMS/*.src.rpm."""
    rpm_arch(ctx.platform)
    refuse_unsupported(ctx, "rpm")
    builder = worker(ctx, distro)
    table = MountTable(_RPMBUILD_MOUNTS)
    top, setup = buildroot(ctx, distro, builder, table)
    env = SourceEnv.for_build(ctx)
    mounts = step_mounts(ctx.spec.build.steps or (), table, env)
    table.check()
    script = (
        "#!/bin/sh\nset -e\n"
        f"cd {TOP_DIR}\n"
        f'exec rpmbuild --define "_topdir {TOP_DIR}" --define "_srcrpmdir {OUT_DIR}/SRPMS" '
        f'--define "_rpmdir {OUT_DIR}/RPMS" --buildroot /build/tmp/work -ba {squote(spec_path(ctx))}\n'
    )
    files = _scripts("rpmbuild script", {"rpmbuild.sh": script})
    steps = len(ctx.spec.build.steps or ())
    return builder.run(
        [f"{SCRIPT_DIR}/rpmbuild.sh"],
        cwd=TOP_DIR,
        network=llb.NetMode.SANDBOX if ctx.spec.build.network_mode == "sandbox" else llb.NetMode.NONE,
        mounts=(llb.Mount.bind(TOP_DIR, top), llb.Mount.tmpfs("/build/tmp"),
                llb.Mount.bind(SCRIPT_DIR, files, readonly=True), llb.Mount.bind(OUT_DIR, llb.scratch()),
                *setup.mounts, *mounts),
        custom_name=f"Build {ctx.spec.name} ({steps} step{'s' if steps != 1 else ''}) with rpmbuild",
        ignore_cache=ctx.options.ignores_cache(NO_CACHE_PKG),
    ).output(OUT_DIR)


# ------------------------------------------------------------------ targets

def _container_root(ctx: BuildContext) -> tuple[str | None, llb.State]:
    bases = ctx.spec.get_image(ctx.target_key).bases
    if len(bases) > 1:
        raise CompileError("multiple image bases, expected only one", ctx.spec.image_path(ctx.target_key, "bases") + (1,))
    if not bases:
        return None, llb.scratch()
    img = bases[0].rootfs.image
    if img.cmd is None:
        return img.ref, llb.image(img.ref, platform=ctx.platform)
    return img.ref, image_state("image base", img, SourceEnv.for_build(ctx))


def container(ctx: BuildContext, distro: RpmDistro) -> TargetOutput:
    """The package (and, on an empty root, the distro's base packages) installed into a new root filesystem."""
    refuse_unsupported(ctx, "rpm-container")
    pkg = rpm_package(ctx, distro)
    ref, root = _container_root(ctx)
    wk = base_worker(ctx, distro)
    globs = [f"{RPMS_IN}/*/*.rpm"]
    mounts = [llb.Mount.bind(ROOTFS, root), llb.Mount.bind(RPMS_IN, pkg, selector="RPMS", readonly=True)]
    if ref is None and distro.base_requires:
        base = meta_spec(f"dalec-base-{distro.key}", f"DALEC base packages for {distro.key}",
                         [rpmspec.Dependency(n) for n in distro.base_requires],
                         [rpmspec.Dependency(n) for n in distro.base_recommends])
        base_rpm = _meta_rpm(ctx, distro, wk, base, "base packages")
        mounts.append(llb.Mount.bind(RPMS_IN + "-base", base_rpm, selector="RPMS", readonly=True))
        globs.append(f"{RPMS_IN}-base/*/*.rpm")
    a = ctx.spec.get_artifacts(ctx.target_key)
    st = _install(ctx, distro, wk, globs, f"Install {ctx.spec.name} into {ref or 'an empty root'}",
                  tuple(mounts), root=ROOTFS, docs=bool(a.docs or a.manpages),
                  ignore_cache=ctx.options.ignores_cache(NO_CACHE_CONTAINER)).output(ROOTFS)
    return TargetOutput(st, image=ctx.spec.get_image(ctx.target_key), base_image=ref)


def container_target(ctx: BuildContext, distro: RpmDistro) -> TargetOutput:
    return container(ctx, distro)


def rpm_target(ctx: BuildContext, distro: RpmDistro) -> TargetOutput:
    return TargetOutput(rpm_package(ctx, distro))


def worker_target(ctx: BuildContext, distro: RpmDistro) -> TargetOutput:
    refuse_unsupported(ctx, "worker")
    return TargetOutput(worker(ctx, distro))


def spec_target(ctx: BuildContext, distro: RpmDistro) -> TargetOutput:
    """`/rpm/debug/spec`: SPECS/<name>/<name>.spec alone."""
    rpm_arch(ctx.platform)
    refuse_unsupported(ctx, "rpm")
    return TargetOutput(spec_state(ctx))


def sources_target(ctx: BuildContext, distro: RpmDistro) -> TargetOutput:
    """`/rpm/debug/sources`: SOURCES/ as rpmbuild gets it."""
    refuse_unsupported(ctx, "rpm")
    build_sh, _ = _build_sh(ctx, _namespace(ctx, distro), MountTable(_RPMBUILD_MOUNTS))
    srcs = sources_state(ctx, base_worker(ctx, distro), build_sh if ctx.spec.build.steps else None)
    return TargetOutput(llb.scratch().file(llb.copy(srcs, "/", "/SOURCES", create_dest_path=True,
                                                    dir_copy_contents=True), custom_name="SOURCES"))


def buildroot_target(ctx: BuildContext, distro: RpmDistro) -> TargetOutput:
    """`/rpm/debug/buildroot`: the rpmbuild top directory (SPECS/ and SOURCES/)."""
    rpm_arch(ctx.platform)
    refuse_unsupported(ctx, "rpm")
    return TargetOutput(buildroot(ctx, distro, base_worker(ctx, distro))[0])

