"""The Debian target family (Debian and Ubuntu): `<codename>/worker`, `/deb`, `/container`, `/testing/container`."""

from __future__ import annotations

import json
import posixpath
import re

from .. import llb, refs
from . import artifacts, caches, deb
from .distros import DEB_DISTROS, DebDistro
from .mounts import BUILD_DIR, MountTable
from .options import NO_CACHE_CONTAINER, NO_CACHE_PKG, BuildContext, CompileError, TargetOutput
from .script import DEFAULT_PATH, SCRIPT_DIR, build_script, squote
from .sources import SourceEnv, image_state, sources_tree, step_mounts
from .unsupported import refuse_unsupported

PKG_OUT_DIR = "/tmp/dalec/out"
PKG_IN_DIR = "/tmp/dalec/pkg"
_BASE_ENV = (("PATH", DEFAULT_PATH), ("DEBIAN_FRONTEND", "noninteractive"))


Distro = DebDistro
DISTROS = DEB_DISTROS


def _base(ref: str, ctx: BuildContext) -> llb.State:
    st = llb.image(ref, platform=ctx.platform)
    for k, v in _BASE_ENV:
        st = st.with_env(k, v)
    return st


def _scripts(name: str, files: dict[str, str]) -> llb.State:
    """Generated scripts and data files in one scratch state, mounted read-only at SCRIPT_DIR."""
    action = None
    for fname, text in sorted(files.items()):
        mode = 0o755 if fname.endswith(".sh") else 0o644
        action = (action.mkfile if action else llb.mkfile)("/" + fname, mode, text)
    return llb.scratch().file(action, custom_name=name)


def _apt_mounts(ctx: BuildContext, distro: Distro, ns: caches.CacheNamespace | None = None) -> tuple[llb.Mount, ...]:
    ns = ns or caches.CacheNamespace.for_build(distro.version_id, ctx.platform, ctx.options.build_args)
    return tuple(c.mount() for c in caches.apt_caches(ns))


_APT_PREP = "rm -f /etc/apt/apt.conf.d/docker-clean\napt-get update\n"


def worker_image_ref(ctx: BuildContext, context_name: str, default_ref: str) -> str:
    """The worker image: `default_ref`, or the `docker-image://` reference given as named context `context_name`."""
    override = ctx.options.named_contexts.get(context_name)
    if not override:
        return default_ref
    if not override.startswith("docker-image://"):
        raise CompileError(
            f"named context {context_name}: only docker-image:// references are supported, got {override!r}"
        )
    ref = override[len("docker-image://") :]
    try:
        refs.normalize_image_ref(ref)
    except refs.RefError as exc:
        raise CompileError(f"named context {context_name}: invalid image reference: {exc}") from None
    return ref


def worker(ctx: BuildContext, distro: Distro) -> llb.State:
    """The build environment: the distro image (or the named-context override) with the build deps installed."""
    ref = worker_image_ref(ctx, distro.worker_context, distro.image_ref)
    st = _base(ref, ctx)
    deps = dict(ctx.spec.get_build_deps(ctx.target_key) or {})
    if ctx.spec.patches and "patch" not in deps:
        deps["patch"] = None
    if not deps:
        return st
    return install_deps(ctx, distro, st, deps, "build")


def install_deps(ctx: BuildContext, distro: Distro, st: llb.State, deps, kind: str,
                 ns: caches.CacheNamespace | None = None) -> llb.State:
    """Install `deps` (a dependency map) into `st` with apt, through one generated meta-package whose
    Depends are the deps, so apt resolves versions and constraints in one go. `kind` is the dependency
    field ("build", "test"): it names the package and the op, and positions errors in the spec."""
    control = deb.control_file(
        name=re.sub(r"[^a-z0-9+.-]+", "-", f"dalecpy-{kind}-deps-{ctx.spec.name}".lower()),
        version="1.0",
        arch="all",
        maintainer="dalecpy <dalecpy@localhost>",
        description=f"{kind} dependencies of {ctx.spec.name}",
        fields={"Depends": deb.relations(deps, ctx.spec.deps_path(ctx.target_key, kind))},
    )
    script = (
        "#!/bin/sh\nset -e\n" + _APT_PREP
        + "mkdir -p /tmp/dalec/deps/DEBIAN\n"
        f"cp {SCRIPT_DIR}/deps.control /tmp/dalec/deps/DEBIAN/control\n"
        "dpkg-deb --build /tmp/dalec/deps /tmp/dalec/deps.deb >/dev/null\n"
        "apt-get install -y --no-install-recommends /tmp/dalec/deps.deb\n"
        "rm -rf /tmp/dalec/deps /tmp/dalec/deps.deb\n"
    )
    files = _scripts(f"{kind} dependencies: scripts", {"deps.control": control, "install-deps.sh": script})
    return st.run(
        [f"{SCRIPT_DIR}/install-deps.sh"],
        mounts=(llb.Mount.bind(SCRIPT_DIR, files, readonly=True), *_apt_mounts(ctx, distro, ns)),
        custom_name=f"Install {kind} dependencies: {', '.join(sorted(deps))}",
    ).root


def _patched_sources(ctx: BuildContext, builder: llb.State, env: SourceEnv) -> llb.State:
    tree = sources_tree(ctx.spec.sources or {}, env)
    if not ctx.spec.patches:
        return tree
    lines = ["#!/bin/sh", "set -e"]
    for target in sorted(ctx.spec.patches):
        for p in ctx.spec.patches[target]:
            patch_file = posixpath.join(BUILD_DIR, p.source, p.path) if p.path else posixpath.join(BUILD_DIR, p.source)
            strip = 1 if p.strip is None else p.strip
            lines.append(
                f"(cd {squote(posixpath.join(BUILD_DIR, target))} && patch -p{strip} < {squote(patch_file)})"
            )
    files = _scripts("patches: script", {"patch.sh": "\n".join(lines) + "\n"})
    return builder.run(
        [f"{SCRIPT_DIR}/patch.sh"],
        mounts=(llb.Mount.bind(BUILD_DIR, tree), llb.Mount.bind(SCRIPT_DIR, files, readonly=True)),
        network=llb.NetMode.NONE,
        custom_name="Apply patches",
    ).output(BUILD_DIR)


def build_op(ctx: BuildContext, distro: Distro) -> tuple[llb.State, llb.State]:
    """Run the build steps in ONE ExecOp with the caches attached; returns (worker, build dir output)."""
    builder = worker(ctx, distro)
    env = SourceEnv.for_build(ctx)
    tree = _patched_sources(ctx, builder, env)
    build = ctx.spec.build
    ns = caches.CacheNamespace.for_build(distro.version_id, ctx.platform, ctx.options.build_args)
    table = MountTable()
    setup = caches.user_caches(ctx.spec, ctx.target_key, ns, table)
    steps = list(build.steps or ())
    script = build_script(
        prelude=setup.script_prelude,
        env=dict(setup.env) | dict(build.env or {}),
        steps=[(s.command, dict(s.env or {})) for s in steps],
    )
    mounts = step_mounts(steps, table, env)
    table.check()
    files = _scripts("build script", {"build.sh": script})
    network = llb.NetMode.SANDBOX if build.network_mode == "sandbox" else llb.NetMode.NONE
    exec_ = builder.run(
        [f"{SCRIPT_DIR}/build.sh"],
        cwd=BUILD_DIR,
        network=network,
        mounts=(
            llb.Mount.bind(BUILD_DIR, tree),
            llb.Mount.bind(SCRIPT_DIR, files, readonly=True),
            *setup.mounts,
            *mounts,
        ),
        custom_name=f"Build {ctx.spec.name} ({len(steps)} step{'s' if len(steps) != 1 else ''})",
        ignore_cache=ctx.options.ignores_cache(NO_CACHE_PKG),
    )
    return builder, exec_.output(BUILD_DIR)


def layout(ctx: BuildContext, distro: Distro) -> artifacts.Layout:
    """The target's artifacts at Debian's locations (dh_installman's man<N> sections, the distro's unit dir)."""
    dirs = {**artifacts.DEB_DIRS, artifacts.SYSTEMD_UNITS: distro.systemd_unit_dir}
    return artifacts.layout(ctx.spec, ctx.target_key, dirs, man_sections=True)


def _mode_word(item: artifacts.FileItem) -> str:
    """dalec_install's mode: octal, `-` (0644 for files) or `=` (kept as built, e.g. /opt trees)."""
    mode = item.mode or item.default_mode
    if mode:
        return oct(mode)[2:]
    return "=" if item.kind == "opt" else "-"


def _install_lines(lay: artifacts.Layout) -> list[str]:
    """Shell lines that copy each artifact into the package root `$R` at its location.

    Every spec value is one quoted shell word (glob characters in artifact keys stay globs); the loader has
    checked that names, subpaths and destinations stay beneath their directories."""
    out = [f"dalec_install {_mode_word(f)} {squote(f.dest_dir)} {squote(f.name)} {glob_word(f.source)}"
           for f in lay.files]
    for d in lay.dirs:
        out.append(f'mkdir -p -m {oct(d.mode)[2:]} -- "$R"{squote(d.path)}')
    for link in lay.links:
        dest = squote(link.dest)
        out.append(f'mkdir -p -- "$(dirname -- "$R"{dest})" && ln -sfn -- {squote(link.target)} "$R"{dest}')
    return out


def _maintainer_scripts(lay: artifacts.Layout) -> dict[str, str]:
    """DEBIAN/ maintainer scripts: the systemd units' enable/start handling (as dh_installsystemd writes it)."""
    return deb.systemd_maintainer_scripts({u.name: (u.enable, u.start) for u in lay.units})


def glob_word(path: str) -> str:
    """`path` as one shell word: quoted, except the glob characters Dalec's unquoted install lines let the
    shell expand (`*`, `?`, and `[...]` sets of plain characters), so a pattern still matches files."""
    if not any(c in path for c in "*?["):
        return squote(path)
    words: list[str] = []
    literal: list[str] = []
    i = 0
    while i < len(path):
        c = path[i]
        token = None
        if c in "*?":
            token = c
        elif c == "[":
            end = path.find("]", i + 2)  # `[]...]`: a leading `]` is a member of the set
            body = path[i + 1 : end] if end > 0 else ""
            if body and all(ch.isalnum() or ch in "!^-_.:" for ch in body):
                token = path[i : end + 1]
        if token is None:
            literal.append(c)
            i += 1
            continue
        if literal:
            words.append(squote("".join(literal)))
            literal = []
        words.append(token)
        i += len(token)
    if literal:
        words.append(squote("".join(literal)))
    return "".join(words)


_INSTALL_FN = r"""dalec_install() {
  mode="$1"; dir="$R$2"; name="$3"; shift 3
  [ -e "$1" ] || [ -L "$1" ] || { printf 'dalecpy: artifact not found: %s\n' "$1" >&2; exit 1; }
  mkdir -p -- "$dir"
  for src in "$@"; do
    base=$(basename -- "$src")
    case "$base" in .|..) continue ;; esac
    dest="$dir/${name:-$base}"
    mkdir -p -- "$(dirname -- "$dest")"
    if [ -d "$src" ]; then mkdir -p -- "$dest" && cp -a -- "$src/." "$dest/"
    elif [ "$mode" = "-" ]; then install -m 0644 -- "$src" "$dest"
    else install -m "$mode" -- "$src" "$dest"; fi
  done
}
"""


def _install_fn(*, keep_modes: bool) -> str:
    """The install helper; mode `=` (artifacts kept as built, e.g. /opt trees) only when a spec needs it."""
    if not keep_modes:
        return _INSTALL_FN
    plain = '    elif [ "$mode" = "-" ]; then install -m 0644 -- "$src" "$dest"\n'
    assert plain in _INSTALL_FN
    return _INSTALL_FN.replace(plain, plain + '    elif [ "$mode" = "=" ]; then cp -p -- "$src" "$dest"\n')


def deb_package(ctx: BuildContext, distro: Distro) -> llb.State:
    """`/deb`: build, install artifacts into a package root, write DEBIAN/control, `dpkg-deb --build`."""
    _check_package_fields(ctx)
    builder, built = build_op(ctx, distro)
    spec = ctx.spec
    arch = "all" if spec.noarch else deb.deb_arch(ctx.platform)
    version = deb.deb_version(spec.version, spec.revision)
    control = deb.control_file(
        name=spec.name,
        version=version,
        arch=arch,
        maintainer=spec.packager or spec.vendor or "",
        description=spec.description or "",
        homepage=spec.website or "",
        fields={
            "Depends": deb.relations(spec.get_runtime_deps(ctx.target_key), spec.deps_path(ctx.target_key, "runtime")),
            "Recommends": deb.relations(spec.get_recommends(ctx.target_key), spec.deps_path(ctx.target_key, "recommends")),
            "Conflicts": deb.relations(spec.get_conflicts(ctx.target_key), spec.override_path(ctx.target_key, "conflicts")),
            "Provides": deb.relations(spec.get_provides(ctx.target_key), spec.override_path(ctx.target_key, "provides")),
            "Replaces": deb.relations(spec.get_replaces(ctx.target_key), spec.override_path(ctx.target_key, "replaces")),
        },
    )
    out_name = deb.deb_filename(spec.name, spec.version, spec.revision, arch)
    lay = layout(ctx, distro)
    maint = _maintainer_scripts(lay)
    changelog = deb.changelog(spec, version, distro.codename)
    doc_dir = f'"$R"{squote(f"/usr/share/doc/{spec.name}")}'
    script = "\n".join(
        [
            "#!/bin/sh",
            "set -e",
            "R=/tmp/dalec/pkgroot",
            'rm -rf "$R" && mkdir -p "$R/DEBIAN"',
            _install_fn(keep_modes=any(_mode_word(f) == "=" for f in lay.files)),
            f"cd {BUILD_DIR}",
            *_install_lines(lay),
            f'cp {SCRIPT_DIR}/control "$R/DEBIAN/control"',
            *(f'install -m 0755 {SCRIPT_DIR}/{m} "$R/DEBIAN/{m}"' for m in sorted(maint)),
            *([f"mkdir -p {doc_dir}", f"gzip -9n < {SCRIPT_DIR}/changelog > {doc_dir}/changelog.Debian.gz"]
              if changelog else []),
            'if [ -d "$R/etc" ]; then (cd "$R" && find etc -type f | sort | sed "s|^|/|") > "$R/DEBIAN/conffiles"; fi',
            '[ -s "$R/DEBIAN/conffiles" ] || rm -f "$R/DEBIAN/conffiles"',
            f'dpkg-deb --root-owner-group --build "$R" {PKG_OUT_DIR}/{squote(out_name)}',
            "",
        ]
    )
    files = _scripts("package: control and script", {"control": control, "package.sh": script, **maint,
                                                       **({"changelog": changelog} if changelog else {})})
    return builder.run(
        [f"{SCRIPT_DIR}/package.sh"],
        network=llb.NetMode.NONE,
        mounts=(
            llb.Mount.bind(BUILD_DIR, built, readonly=True),
            llb.Mount.bind(SCRIPT_DIR, files, readonly=True),
            llb.Mount.bind(PKG_OUT_DIR, llb.scratch()),
        ),
        custom_name=f"Package {out_name}",
        ignore_cache=ctx.options.ignores_cache(NO_CACHE_PKG),
    ).output(PKG_OUT_DIR)


def _check_package_fields(ctx: BuildContext) -> None:
    """The spec values that become one-line fields of DEBIAN/control, checked against Debian's syntax (after
    build-arg substitution): none can add a line, a field or a relation to the control file."""
    spec = ctx.spec
    problems: list[tuple[tuple, str]] = []
    err = deb.package_name_error(spec.name)
    if err:
        problems.append((("name",), f"name: {err}"))
    if spec.revision:
        reason = deb.upstream_reason(spec.version) if spec.version else "it is empty"
        if reason:
            problems.append((("version",), f"version: {json.dumps(spec.version)} is not a Debian version: {reason}"))
        reason = deb.revision_reason(spec.revision)
        if reason:
            problems.append((("revision",), f"revision: {json.dumps(spec.revision)} is not a Debian revision: {reason}"))
    else:
        err = deb.version_error(spec.version)
        if err:
            problems.append((("version",), f"version: {err}"))
    maintainer = ("packager", spec.packager) if spec.packager else ("vendor", spec.vendor)
    for field, value in (maintainer, ("website", spec.website)):
        err = deb.one_line_error(value)
        if err:
            problems.append(((field,), f"{field}: {err}"))
    if problems:
        raise CompileError.many(problems)


def _container_base(ctx: BuildContext, distro: Distro) -> tuple[str, llb.State]:
    """The image the package is installed into (the spec's single base, its `cmd` steps run, or the
    distro's image) and its reference, whose config the output image starts from."""
    bases = ctx.spec.get_image(ctx.target_key).bases
    if len(bases) > 1:
        raise CompileError("multiple image bases, expected only one", ctx.spec.image_path(ctx.target_key, "bases") + (1,))
    if not bases:
        return distro.image_ref, _base(distro.image_ref, ctx)
    img = bases[0].rootfs.image
    if img.cmd is None:
        return img.ref, _base(img.ref, ctx)
    st = image_state("image base", img, SourceEnv.for_build(ctx))
    for k, v in _BASE_ENV:
        st = st.with_env(k, v)
    return img.ref, st


def _dpkg_excludes_mask(ctx: BuildContext, distro: Distro) -> tuple[llb.Mount, ...]:
    """An empty file over Ubuntu's /etc/dpkg/dpkg.cfg.d/excludes while a package with docs, man pages or
    licenses is installed, so dpkg installs them (as Dalec does)."""
    a = ctx.spec.get_artifacts(ctx.target_key)
    if not distro.dpkg_excludes or not (a.docs or a.manpages or a.licenses):
        return ()
    empty = llb.scratch().file(llb.mkfile("/excludes", 0o644, ""), custom_name="empty dpkg excludes")
    return (llb.Mount.bind("/etc/dpkg/dpkg.cfg.d/excludes", empty, selector="excludes"),)


def container(ctx: BuildContext, distro: Distro) -> TargetOutput:
    """`/container` and `/testing/container`: the distro image (or the spec's base) with the package
    installed by apt (runtime deps resolved)."""
    refuse_unsupported(ctx, "container")
    pkg = deb_package(ctx, distro)
    ref, base = _container_base(ctx, distro)
    script = (
        "#!/bin/sh\nset -e\n" + _APT_PREP
        + f"apt-get install -y --no-install-recommends {PKG_IN_DIR}/*.deb\n"
    )
    files = _scripts("container: install script", {"install.sh": script})
    st = base.run(
        [f"{SCRIPT_DIR}/install.sh"],
        mounts=(
            llb.Mount.bind(PKG_IN_DIR, pkg, readonly=True),
            llb.Mount.bind(SCRIPT_DIR, files, readonly=True),
            *_apt_mounts(ctx, distro),
            *_dpkg_excludes_mask(ctx, distro),
        ),
        custom_name=f"Install {ctx.spec.name} into {ref}",
        ignore_cache=ctx.options.ignores_cache(NO_CACHE_CONTAINER),
    ).root
    return TargetOutput(st, image=ctx.spec.get_image(ctx.target_key), base_image=ref)


def worker_target(ctx: BuildContext, distro: Distro) -> TargetOutput:
    refuse_unsupported(ctx, "worker")
    return TargetOutput(worker(ctx, distro))


def deb_target(ctx: BuildContext, distro: Distro) -> TargetOutput:
    refuse_unsupported(ctx, "deb")
    return TargetOutput(deb_package(ctx, distro))


def sources_target(ctx: BuildContext) -> TargetOutput:
    """`debug/sources`: every source, each at /<name>, as the build steps see them."""
    refuse_unsupported(ctx, "sources")
    return TargetOutput(sources_tree(ctx.spec.sources or {}, SourceEnv.for_build(ctx)))


def patched_sources_target(ctx: BuildContext) -> TargetOutput:
    """`debug/patched-sources`: the sources with the spec's patches applied, on a bookworm worker with `patch`."""
    refuse_unsupported(ctx, "sources")
    bookworm = next(d for d in DISTROS if d.codename == "bookworm")
    st = _base(bookworm.image_ref, ctx)
    if ctx.spec.patches:
        st = install_deps(ctx, bookworm, st, {"patch": None}, "build")
    return TargetOutput(_patched_sources(ctx, st, SourceEnv.for_build(ctx)))
