"""Routing, the Debian targets' ops, and the package metadata they write."""

from __future__ import annotations

import textwrap

import pytest

from dalecpy.compile import TargetError, lookup, visible_routes
from dalecpy.compile.deb import control_file, deb_arch, relations
from dalecpy.llb import ops_pb2
from dalecpy.platforms import Platform
from dalecpy.spec import SpecError, load_spec

from .conftest import SPECS, compile_text, graph

HELLO = (SPECS / "hello.yml").read_text()


def _dalec_v0_21_routes() -> set[str]:
    """Every route Dalec v0.21.5 registers (targets/plugin/init.go and each distro's Routes)."""
    deb = ("bullseye", "bookworm", "trixie", "bionic", "focal", "jammy", "noble", "resolute")
    rpm = ("azlinux3", "azlinux4", "almalinux8", "almalinux9", "rockylinux8", "rockylinux9")
    out = set()
    for d in deb:
        out |= {d, f"{d}/deb", f"{d}/testing/container", f"{d}/container", f"{d}/dsc", f"{d}/worker"}
        if d in ("trixie", "noble", "resolute"):
            out.add(f"{d}/testing/sysext")
    for r in rpm:
        out |= {r, f"{r}/rpm", f"{r}/container", f"{r}/container/depsonly", f"{r}/worker",
                f"{r}/rpm/debug/buildroot", f"{r}/rpm/debug/sources", f"{r}/rpm/debug/spec"}
        if r.startswith("azlinux"):
            out.add(f"{r}/testing/sysext")
    out |= {"windowscross", "windowscross/zip", "windowscross/container", "windowscross/worker",
            "flatcar/testing/sysext", "flatcar/worker"}
    out |= {f"debug/{k}" for k in ("resolve", "sources", "patched-sources", "gomods", "cargohome", "pip")}
    return out


def test_every_dalec_route_is_routed_or_refused():
    from dalecpy.compile import ROUTES

    dalec = _dalec_v0_21_routes()
    assert dalec <= set(ROUTES), sorted(dalec - set(ROUTES))
    assert set(ROUTES) - dalec == {f"{r}/rpm/spec" for r in ("azlinux3", "azlinux4", "almalinux8", "almalinux9",
                                                              "rockylinux8", "rockylinux9")}  # dalecpy's alias
    for path in dalec:
        r = ROUTES[path]
        assert r.refused or r.handler is not None
    assert not any(ROUTES[f"{k}/rpm/spec"].hidden is False for k in ("azlinux3", "rockylinux8"))


def test_defaults_and_hidden_aliases_as_dalec():
    from dalecpy.compile.targets import DEFAULT_KINDS

    assert DEFAULT_KINDS["jammy"] == "jammy/deb" and DEFAULT_KINDS["azlinux3"] == "azlinux3/container"
    assert DEFAULT_KINDS["windowscross"] == "windowscross/container"
    listed = {r.path for r in visible_routes()}
    assert not {"jammy", "azlinux3", "windowscross", "azlinux3/rpm/spec", "jammy/dsc"} & listed
    assert {"jammy/testing/container", "azlinux3/rpm/debug/spec", "windowscross/zip", "noble/deb"} <= listed


def test_routes_listed():
    paths = {r.path for r in visible_routes()}
    assert {"bookworm/worker", "bookworm/deb", "bookworm/container", "trixie/deb", "debug/resolve"} <= paths
    assert "bookworm" not in paths  # the bare alias is hidden


@pytest.mark.parametrize(
    "target, route",
    [("bookworm", "bookworm/deb"), ("bookworm/deb", "bookworm/deb"), ("trixie/worker", "trixie/worker"),
     ("bookworm/deb/extra", "bookworm/deb"), ("/bookworm/deb/", "bookworm/deb"), ("jammy", "jammy/deb"),
     ("azlinux3", "azlinux3/container"), ("windowscross", "windowscross/container"),
     ("azlinux3/rpm/debug/spec/x", "azlinux3/rpm/debug/spec"), ("azlinux3/rpm/x", "azlinux3/rpm"),
     ("rockylinux9/container/x", "rockylinux9/container"), ("windowscross/zip", "windowscross/zip")],
)
def test_lookup_longest_prefix(target, route):
    r = lookup(target)
    assert r.path == route or (r.hidden and r.handler is lookup(route).handler)


@pytest.mark.parametrize("target", ["", "fedora/rpm", "bookwormx", "debug"])
def test_unknown_or_empty_target_lists_valid_ones(target):
    with pytest.raises(TargetError) as err:
        lookup(target)
    assert "valid targets: " in str(err.value) and "bookworm/deb" in str(err.value)


def _image_refs(g):
    return sorted(op.source.identifier for op in g.ops.values() if op.WhichOneof("op") == "source"
                  and op.source.identifier.startswith("docker-image://"))


def test_worker_image_per_distro_and_named_context_override():
    assert _image_refs(compile_text(HELLO, "bookworm/worker")) == ["docker-image://docker.io/library/debian:bookworm"]
    assert _image_refs(compile_text(HELLO, "trixie/worker")) == ["docker-image://docker.io/library/debian:trixie"]
    g = compile_text(HELLO, "bookworm/worker", named_contexts={"dalec-bookworm-worker": "docker-image://registry.local/w:1"})
    assert _image_refs(g) == ["docker-image://registry.local/w:1"]


def test_build_steps_run_in_one_exec_as_a_script():
    g = compile_text(HELLO, "bookworm/deb")
    script = g.mkfile("/build.sh")
    assert script.startswith("#!/bin/sh\nset -e\n")
    assert 'export GREETING="Hello from dalecpy"\n' in script  # build env, args substituted
    assert script.count("\n(\n") == 2  # each step in its own subshell
    assert "$(date -u +%FT%TZ)" in script  # step commands are not substituted
    build = g.named("Build dalec-hello")
    assert list(build.exec.meta.args) == ["/tmp/dalec/internal/build.sh"]
    assert build.exec.meta.cwd == "/build"
    assert build.exec.network == ops_pb2.NONE


def test_step_env_is_exported_inside_the_subshell():
    g = compile_text("""\
        name: s
        description: d
        version: "1"
        revision: "1"
        build:
          env: {B: "1"}
          steps:
            - command: echo $A
              env: {A: 'x \\$HOME "q"'}
        """)
    script = g.mkfile("/build.sh")
    # The shell lexer that substitutes args removes quotes and keeps escaped `$` (as BuildKit's does).
    assert '(\n  export A="x $HOME q"\necho $A\n)\n' in script
    assert 'export B="1"\n' in script


def test_sandbox_network_mode():
    g = compile_text("""\
        name: s
        description: d
        version: "1"
        revision: "1"
        build:
          network_mode: sandbox
          steps: [{command: "true"}]
        """)
    assert g.named("Build s").exec.network == ops_pb2.UNSET


def test_deb_control_and_package_op():
    g = compile_text(HELLO, "bookworm/deb", "linux/arm64")
    control = g.mkfile("/control")
    assert "Package: dalec-hello\nVersion: 1.0.0-1\nArchitecture: arm64\n" in control
    assert "Maintainer: dalecpy examples <examples@example.com>\n" in control
    assert "Description: A greeting in shell, built with dir caches.\n Shows the shared" in control
    pkg = g.mkfile("/package.sh")
    assert "dpkg-deb --root-owner-group --build" in pkg and "dalec-hello_1.0.0-1_arm64.deb" in pkg
    assert "dalec_install 755 '/usr/bin' '' 'out/dalec-hello'" in pkg


def test_runtime_deps_with_versions_in_control():
    g = compile_text("""\
        name: s
        description: d
        version: "1"
        revision: "1"
        dependencies:
          runtime:
            libc6: {version: [">= 2.36"]}
            curl:
            zlib1g: {version: [">=1.2", "<2"]}
          recommends: [ca-certificates]
        build:
          steps: [{command: "true"}]
        """)
    control = g.mkfile("/control")
    assert "Depends: curl, libc6 (>= 2.36), zlib1g (>= 1.2), zlib1g (<< 2)\n" in control
    assert "Recommends: ca-certificates\n" in control


def test_build_deps_installed_through_a_meta_package():
    g = compile_text((SPECS / "go-hello.yml").read_text(), "bookworm/worker")
    assert "Depends: golang-go\n" in g.mkfile("/deps.control")
    install = g.named("Install build dependencies")
    assert install.exec.network == ops_pb2.UNSET  # apt needs the network


def test_container_installs_the_deb_on_the_distro_image():
    g = compile_text(HELLO, "trixie/container")
    install = g.named("Install dalec-hello into docker.io/library/debian:trixie")
    assert "/tmp/dalec/pkg" in {m.dest for m in install.exec.mounts}
    assert "apt-get install -y --no-install-recommends /tmp/dalec/pkg/*.deb" in g.mkfile("/install.sh")


def test_no_cache_filters_set_ignore_cache():
    g = compile_text(HELLO, "bookworm/container", no_cache=frozenset({"dalec.pkg"}))
    meta = g.definition.metadata
    by_name = {m.description.get("llb.customname", ""): m for m in meta.values()}
    assert by_name["Build dalec-hello (2 steps)"].ignore_cache
    assert not by_name["Install dalec-hello into docker.io/library/debian:bookworm"].ignore_cache
    g = compile_text(HELLO, "bookworm/container", no_cache=frozenset({"dalec.container"}))
    by_name = {m.description.get("llb.customname", ""): m for m in g.definition.metadata.values()}
    assert by_name["Install dalec-hello into docker.io/library/debian:bookworm"].ignore_cache
    assert not by_name["Build dalec-hello (2 steps)"].ignore_cache


def test_patches_apply_in_a_separate_op_without_caches():
    g = compile_text((SPECS / "sources.yml").read_text(), "bookworm/deb")
    patch = g.named("Apply patches")
    assert g.cache_mounts(patch) == {}
    assert "(cd '/build/tool' && patch -p1 < '/build/fix-greeting.patch')" in g.mkfile("/patch.sh")
    deps = g.mkfile("/deps.control")
    assert "patch" in deps and "xz-utils" in deps


def test_sources_git_http_inline():
    g = compile_text((SPECS / "sources.yml").read_text(), "bookworm/deb")
    ids = {op.source.identifier: op.source for op in g.ops.values() if op.WhichOneof("op") == "source"}
    assert "git://github.com/octocat/Hello-World.git#7fd1a60b01f91b314f59955a4e4d4e80d8edf11d" in ids
    http = ids["http://deb.debian.org/debian/pool/main/h/hello/hello_2.10-3.debian.tar.xz"]
    assert http.attrs["http.checksum"] == "sha256:60ee7a466808301fbaa7fea2490b5e7a6d86f598956fb3e79c71b3295dc1f249"
    assert http.attrs["http.filename"] == "debian-hello"


def test_git_url_from_build_arg():
    g = compile_text((SPECS / "sources.yml").read_text(), "bookworm/deb",
                     build_args={"GIT_URL": "http://127.0.0.1:8000/repo.git", "GIT_COMMIT": "abc123"})
    ids = {op.source.identifier for op in g.ops.values() if op.WhichOneof("op") == "source"}
    assert any(i.startswith("git://127.0.0.1:8000/repo.git#abc123") for i in ids), ids


def test_context_source_uses_session_and_key_hint():
    g = compile_text("""\
        name: s
        description: d
        version: "1"
        revision: "1"
        sources:
          app:
            context: {}
            excludes: [".git"]
        build:
          steps: [{command: "true"}]
        """, session_id="sess-1")
    local = next(op.source for op in g.ops.values() if op.WhichOneof("op") == "source" and op.source.identifier.startswith("local://"))
    assert local.identifier == "local://context"
    assert local.attrs["local.session"] == "sess-1"
    assert local.attrs["local.sharedkeyhint"] == "context"
    assert local.attrs["local.excludepatterns"] == '[".git"]'


def test_debug_resolve_outputs_the_substituted_spec():
    g = compile_text(HELLO, "debug/resolve", build_args={"GREETING": "Hi"})
    text = g.mkfile("/spec.yml")
    assert "GREETING: Hi" in text and "${GREETING}" not in text.split("build:")[1].split("steps")[0]


def test_unknown_build_arg_is_an_error():
    with pytest.raises(SpecError, match='unknown arg: "NOPE"'):
        compile_text(HELLO, "bookworm/deb", build_args={"NOPE": "1"})


@pytest.mark.parametrize("p, arch", [("linux/amd64", "amd64"), ("linux/arm64", "arm64"), ("linux/arm/v7", "armhf"), ("linux/386", "i386")])
def test_deb_arch(p, arch):
    assert deb_arch(Platform.parse(p)) == arch


def test_control_file_shape():
    text = control_file(name="a", version="1-1", arch="all", maintainer="", description="sum\n\nmore\n\nend", fields={"Depends": ""})
    assert text == "Package: a\nVersion: 1-1\nArchitecture: all\nMaintainer: Unknown <unknown@localhost>\nDescription: sum\n more\n .\n end\n"


@pytest.mark.parametrize("variant, line", [
    ("build: {source: {context: {}}}", 7),
    ("context: {}\n            generate:\n              - gomod: {}", 9),
])
def test_unsupported_source_features_are_positioned_errors(variant, line):
    with pytest.raises(SpecError) as err:
        compile_text(f"""\
        name: s
        description: d
        version: "1"
        revision: "1"
        sources:
          s:
            {variant}
        build:
          steps: [{{command: "true"}}]
        """)
    assert str(err.value).startswith(f"spec.yml:{line}:") and "not supported yet" in str(err.value)


def test_step_mounts_file_sources_as_the_file_and_dirs_as_the_dir():
    g = compile_text("""\
        name: s
        description: d
        version: "1"
        revision: "1"
        build:
          steps:
            - command: cat /etc/app.conf && ls /opt/data
              mounts:
                - dest: /etc/app.conf
                  spec: {inline: {file: {contents: "x=1"}}}
                - dest: /opt/data
                  spec: {inline: {dir: {files: {a: {contents: "a"}}}}}
        """)
    mounts = {m.dest: m for m in g.named("Build s").exec.mounts}
    assert mounts["/etc/app.conf"].selector == "step0-mount0" and mounts["/etc/app.conf"].readonly
    assert mounts["/opt/data"].selector == "" and mounts["/opt/data"].readonly


def test_dockerignore_patterns_reach_the_local_source():
    from dalecpy.compile.sources import context_names
    from dalecpy.dockerignore import parse

    text = """\
        name: s
        description: d
        version: "1"
        revision: "1"
        sources:
          app:
            context: {}
            excludes: ["*.tmp"]
          other:
            context: {name: assets}
        build:
          steps:
            - command: "true"
              mounts:
                - dest: /m
                  spec: {context: {name: extra}}
        """
    patterns = parse("# comment\n\n**/*.key\n!keep.key\n./build/\n/abs\n")
    assert patterns == ["**/*.key", "!keep.key", "build", "abs"]
    g = compile_text(text, context_excludes={"context": tuple(patterns)})
    locals_ = {op.source.identifier: op.source.attrs for op in g.ops.values()
               if op.WhichOneof("op") == "source" and op.source.identifier.startswith("local://")}
    assert locals_["local://context"]["local.excludepatterns"] == '["**/*.key","!keep.key","build","abs","*.tmp"]'
    assert "local.excludepatterns" not in locals_["local://assets"]
    assert context_names(load_spec(textwrap.dedent(text)).spec) == {"context", "assets", "extra"}
