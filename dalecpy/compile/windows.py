"""`windowscross`: Windows binaries cross-compiled on an Ubuntu jammy worker with mingw-w64 (Dalec's
targets/windows): `/zip` (the binaries in a zip file), `/container` (copied into a Windows base image's
System32) and `/worker`.

As in Dalec, the build runs natively on the build platform (linux) while the target platform is
`windows/<arch>`; `GOOS=windows` is set before the spec's build env; caches are namespaced by
`ubuntu22.04/windowscross` and the build platform; only `binaries` are packaged, and a container cannot
have runtime dependencies. Unlike Dalec, the other artifact kinds are refused rather than ignored.
"""

from __future__ import annotations

from .. import llb
from ..platforms import Platform
from . import caches
from . import artifacts
from .debian import (
    _APT_PREP,
    _apt_mounts,
    _install_fn,
    _install_lines,
    _patched_sources,
    _scripts,
    install_deps,
    worker_image_ref,
)
from .distros import WINDOWSCROSS
from .mounts import BUILD_DIR, MountTable
from .options import NO_CACHE_CONTAINER, NO_CACHE_PKG, BuildContext, CompileError, TargetOutput, UnsupportedSetting
from .script import DEFAULT_PATH, SCRIPT_DIR, build_script, squote
from .sources import SourceEnv, image_state, step_mounts
from .unsupported import refuse_unsupported

OUTPUT_DIR = "/tmp/output"
_ARTIFACT_KINDS = ("libexec", "opt", "manpages", "data_dirs", "config_files", "docs", "licenses", "libs", "headers",
                   "links", "users", "groups")
_YAML = {"config_files": "configFiles"}


def _worker_platform(ctx: BuildContext) -> Platform:
    """The worker runs on the build platform's linux, whatever Windows platform is targeted."""
    b = ctx.options.build_platform
    return b if b.os == "linux" else Platform("linux", b.architecture, b.variant)


def _namespace(ctx: BuildContext) -> caches.CacheNamespace:
    return caches.CacheNamespace.for_build(WINDOWSCROSS.version_id, _worker_platform(ctx), ctx.options.build_args)


def base_worker(ctx: BuildContext) -> llb.State:
    """ubuntu:jammy with the mingw-w64 toolchain; a `dalec-windowscross-worker` named context replaces it whole."""
    w = WINDOWSCROSS.worker
    ref = worker_image_ref(ctx, w.worker_context, w.image_ref)
    st = llb.image(ref, platform=_worker_platform(ctx)).with_env("PATH", DEFAULT_PATH)
    if w.worker_context in ctx.options.named_contexts:
        return st
    pkgs = WINDOWSCROSS.builder_packages
    script = "#!/bin/sh\nset -e\n" + _APT_PREP + f"apt-get install -y --no-install-recommends {' '.join(pkgs)}\n"
    return st.run(
        [f"{SCRIPT_DIR}/install-tools.sh"],
        mounts=(llb.Mount.bind(SCRIPT_DIR, _scripts("windowscross tools: script", {"install-tools.sh": script}),
                               readonly=True), *_apt_mounts(ctx, w, _namespace(ctx))),
        env={"DEBIAN_FRONTEND": "noninteractive"},
        custom_name=f"Install the windowscross build tools: {', '.join(pkgs)}",
    ).root


def worker(ctx: BuildContext) -> llb.State:
    st = base_worker(ctx)
    deps = dict(ctx.spec.get_build_deps(ctx.target_key) or {})
    if ctx.spec.patches and "patch" not in deps:
        deps["patch"] = None
    return install_deps(ctx, WINDOWSCROSS.worker, st, deps, "build", _namespace(ctx)) if deps else st


def _check(ctx: BuildContext) -> None:
    a = ctx.spec.get_artifacts(ctx.target_key)
    base = ctx.spec.override_path(ctx.target_key, "artifacts")
    problems = [(base + (_YAML.get(k, k),), f"artifacts.{_YAML.get(k, k)} is not supported for windowscross "
                 "(it packages binaries only: give targets.windowscross its own artifacts)") for k in _ARTIFACT_KINDS if getattr(a, k)]
    if a.systemd is not None and (a.systemd.units or a.systemd.dropins):
        problems.append((base + ("systemd",), "artifacts.systemd is not supported for windowscross"))
    if a.create_directories is not None and (a.create_directories.config or a.create_directories.state):
        problems.append((base + ("createDirectories",), "artifacts.createDirectories is not supported for windowscross"))
    if problems:
        raise UnsupportedSetting.many(problems)


def binaries(ctx: BuildContext) -> llb.State:
    """Run the build steps (one op, caches attached) and collect the binaries at the root of a state."""
    refuse_unsupported(ctx, "windows")
    _check(ctx)
    builder = worker(ctx)
    env = SourceEnv.for_build(ctx)
    tree = _patched_sources(ctx, builder, env)
    table = MountTable({"/": "the root filesystem", BUILD_DIR: "the build tree", SCRIPT_DIR: "dalecpy's generated "
                        "scripts", OUTPUT_DIR: "the binaries"})
    setup = caches.user_caches(ctx.spec, ctx.target_key, _namespace(ctx), table)
    build = ctx.spec.build
    steps = list(build.steps or ())
    script = build_script(prelude=setup.script_prelude, env={"GOOS": "windows", **dict(setup.env), **dict(build.env or {})},
                          steps=[(s.command, dict(s.env or {})) for s in steps])
    mounts = step_mounts(steps, table, env)
    table.check()
    lay = artifacts.layout(ctx.spec, ctx.target_key, {k: "/" for k in artifacts.DEB_DIRS})
    binaries = artifacts.Layout(files=tuple(lay.files_of("binaries")))  # _check refused every other kind
    collect = "\n".join(["#!/bin/sh", "set -e", f"R={OUTPUT_DIR}", _install_fn(keep_modes=False).rstrip("\n"),
                         f"cd {BUILD_DIR}", f"{SCRIPT_DIR}/build.sh", *_install_lines(binaries), ""])
    files = _scripts("build script", {"build.sh": script, "collect.sh": collect})
    return builder.run(
        [f"{SCRIPT_DIR}/collect.sh"],
        cwd=BUILD_DIR,
        network=llb.NetMode.SANDBOX if build.network_mode == "sandbox" else llb.NetMode.NONE,
        mounts=(llb.Mount.bind(BUILD_DIR, tree), llb.Mount.bind(SCRIPT_DIR, files, readonly=True),
                llb.Mount.bind(OUTPUT_DIR, llb.scratch()), *setup.mounts, *mounts),
        custom_name=f"Build {ctx.spec.name} for {ctx.platform.format()} ({len(steps)} step{'s' if len(steps) != 1 else ''})",
        ignore_cache=ctx.options.ignores_cache(NO_CACHE_PKG),
    ).output(OUTPUT_DIR)


def zip_target(ctx: BuildContext) -> TargetOutput:
    """`windowscross/zip`: `<name>_<version>-<revision>_<arch>.zip` with the binaries."""
    bins = binaries(ctx)
    spec = ctx.spec
    name = f"{spec.name}_{spec.version}-{spec.revision}_{ctx.platform.architecture}.zip"
    if "/" in name:
        raise CompileError(f"zip file name {name!r} would contain '/'", ("name",))
    script = f"#!/bin/sh\nset -e\ncd /tmp/artifacts\nzip {OUTPUT_DIR}/{squote(name)} *\n"
    return TargetOutput(base_worker(ctx).run(
        [f"{SCRIPT_DIR}/zip.sh"],
        network=llb.NetMode.NONE,
        mounts=(llb.Mount.bind("/tmp/artifacts", bins, readonly=True),
                llb.Mount.bind(SCRIPT_DIR, _scripts("zip script", {"zip.sh": script}), readonly=True),
                llb.Mount.bind(OUTPUT_DIR, llb.scratch())),
        custom_name=f"Zip {name}",
        ignore_cache=ctx.options.ignores_cache(NO_CACHE_PKG),
    ).output(OUTPUT_DIR))


def container_target(ctx: BuildContext) -> TargetOutput:
    """`windowscross/container`: the binaries copied into the base image's /Windows/System32/."""
    if ctx.spec.get_runtime_deps(ctx.target_key):
        raise CompileError("targets with windows output images cannot have runtime dependencies",
                           ctx.spec.deps_path(ctx.target_key, "runtime"))
    bases = ctx.spec.get_image(ctx.target_key).bases
    if len(bases) > 1:
        raise CompileError("multiple image bases are not supported by dalecpy yet (Dalec builds one image per "
                           "base platform)", ctx.spec.image_path(ctx.target_key, "bases") + (1,))
    post = ctx.spec.get_image(ctx.target_key).post
    if post is not None and post.symlinks:
        raise UnsupportedSetting("image.post.symlinks is not supported yet",
                                 ctx.spec.image_path(ctx.target_key, "post") + ("symlinks",))
    bins = binaries(ctx)
    if bases:
        img = bases[0].rootfs.image
        ref = img.ref
        base = llb.image(ref, platform=ctx.platform) if img.cmd is None else image_state(
            "image base", img, SourceEnv.for_build(ctx))
    else:
        ref = WINDOWSCROSS.base_image
        base = llb.image(ref, platform=ctx.platform)
    st = base.file(llb.copy(bins, "/", WINDOWSCROSS.system_dir, create_dest_path=True, dir_copy_contents=True),
                   custom_name=f"Copy {ctx.spec.name}'s binaries into {WINDOWSCROSS.system_dir}",
                   ignore_cache=ctx.options.ignores_cache(NO_CACHE_CONTAINER))
    return TargetOutput(st, image=ctx.spec.get_image(ctx.target_key), base_image=ref)


def worker_target(ctx: BuildContext) -> TargetOutput:
    refuse_unsupported(ctx, "worker")
    return TargetOutput(worker(ctx))
