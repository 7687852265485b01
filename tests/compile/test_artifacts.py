"""Debian packaging of artifacts: systemd units, /opt, the changelog; image bases; settings refused until built."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from dalecpy.compile import CompileOptions, compile_spec
from dalecpy.compile.deb import systemd_maintainer_scripts
from dalecpy.spec import SpecError, load_spec

from .conftest import compile_text, graph

HEAD = """\
name: svc
description: d
version: "1.2"
revision: "3"
build:
  steps:
    - command: "true"
"""


def _graph(body: str, target: str = "bookworm/deb"):
    return compile_text(HEAD + body, target)


def _errors(body: str, target: str = "bookworm/deb") -> list[str]:
    with pytest.raises(SpecError) as err:
        _graph(body, target)
    return str(err.value).splitlines()


SYSTEMD = """\
artifacts:
  systemd:
    units:
      src/svc.service: {enable: true, start: true}
      src/svc.socket: {}
      src/other.service: {name: renamed.service, enable: true}
      src/tmpl@.service: {enable: true}
    dropins:
      src/override.conf: {unit: svc.service}
      src/extra.conf: {unit: renamed.service, name: 10-extra.conf}
"""


@pytest.mark.parametrize("target, unit_dir", [("bookworm/deb", "/lib/systemd/system"),
                                               ("trixie/deb", "/usr/lib/systemd/system")])
def test_units_and_dropins_install_where_debhelper_puts_them(target, unit_dir):
    script = _graph(SYSTEMD, target).mkfile("/package.sh")
    assert f"dalec_install 644 '{unit_dir}' '' 'src/svc.service'" in script
    assert f"dalec_install 644 '{unit_dir}' 'renamed.service' 'src/other.service'" in script
    assert f"dalec_install 644 '{unit_dir}' '' 'src/tmpl@.service'" in script
    assert "dalec_install 644 '/lib/systemd/system/svc.service.d' '' 'src/override.conf'" in script
    assert "dalec_install 644 '/lib/systemd/system/renamed.service.d' '10-extra.conf' 'src/extra.conf'" in script
    for m in ("postinst", "postrm", "prerm"):
        assert f'install -m 0755 /tmp/dalec/internal/{m} "$R/DEBIAN/{m}"' in script


def test_maintainer_scripts_enable_and_start_as_the_spec_says():
    g = _graph(SYSTEMD)
    postinst, prerm, postrm = g.mkfile("/postinst"), g.mkfile("/prerm"), g.mkfile("/postrm")
    assert postinst.startswith("#!/bin/sh\nset -e\n")
    # enable: dh_installsystemd's enable snippet; not enabled: only state tracking; templates: nothing
    assert "deb-systemd-helper enable 'svc.service'" in postinst
    assert "deb-systemd-helper enable 'renamed.service'" in postinst
    assert "if deb-systemd-helper debian-installed 'svc.socket'; then" in postinst
    assert "tmpl@" not in postinst + prerm + postrm
    # start: only units with start: true are started (restarted on upgrade) and stopped on remove
    assert "deb-systemd-invoke $_dh_action 'svc.service' >/dev/null || true" in postinst
    assert "deb-systemd-invoke stop 'svc.service' >/dev/null || true" in prerm
    assert "renamed.service" not in prerm and "svc.socket" not in prerm
    assert "deb-systemd-helper purge 'renamed.service' 'svc.service' 'svc.socket'" in postrm
    for text in (postinst, prerm, postrm):
        assert subprocess.run(["/bin/sh", "-n"], input=text, text=True).returncode == 0


def test_no_start_means_no_prerm_and_no_units_means_no_scripts():
    scripts = systemd_maintainer_scripts({"a.service": (True, False)})
    assert set(scripts) == {"postinst", "postrm"} and "deb-systemd-invoke" not in scripts["postinst"]
    assert systemd_maintainer_scripts({"t@.service": (True, True)}) == {}
    script = _graph("artifacts: {binaries: {a: {}}}").mkfile("/package.sh")
    assert "DEBIAN/postinst" not in script


def test_units_render_for_the_container_target_too():
    g = _graph(SYSTEMD, "bookworm/container")
    assert "deb-systemd-helper enable 'svc.service'" in g.mkfile("/postinst")


def test_opt_artifacts_install_under_opt_keeping_their_mode():
    script = _graph("artifacts: {opt: {out/app: {subpath: myapp}, out/tool: {name: t, permissions: 0750}}}") \
        .mkfile("/package.sh")
    assert "dalec_install = '/opt/myapp' '' 'out/app'" in script
    assert "dalec_install 750 '/opt' 't' 'out/tool'" in script
    assert 'elif [ "$mode" = "=" ]; then cp -p -- "$src" "$dest"' in script


def test_changelog_is_installed_with_the_newest_entry():
    g = _graph(textwrap.dedent("""\
        changelog:
          - {date: 2024-01-02, author: "Old <o@x>", changes: [first]}
          - {date: 2024-03-04, author: "New <n@x>", changes: ["fix a", "add\\nb"]}
        """))
    assert g.mkfile("/changelog") == (
        "svc (1.2-3) bookworm; urgency=low\n\n  * fix a\n  * add b\n\n -- New <n@x>  Mon, 04 Mar 2024 00:00:00 +0000\n"
    )
    assert 'gzip -9n < /tmp/dalec/internal/changelog > "$R"\'/usr/share/doc/svc\'/changelog.Debian.gz' in \
        g.mkfile("/package.sh")


# ------------------------------------------------------------------ image bases


def _image_refs(g) -> list[str]:
    return sorted(op.source.identifier for op in g.ops.values() if op.WhichOneof("op") == "source"
                  and op.source.identifier.startswith("docker-image://"))


def test_base_rootfs_cmd_runs_on_the_base():
    g = _graph(textwrap.dedent("""\
        image:
          bases:
            - rootfs:
                image:
                  ref: registry.local/base:1
                  cmd:
                    steps: [{command: "echo prepared > /etc/prepared"}]
        """), "bookworm/container")
    step = g.named("source image base: echo prepared")
    assert list(step.exec.meta.args) == ["/bin/sh", "-c", "echo prepared > /etc/prepared"]
    install = g.named("Install svc into registry.local/base:1")
    assert install.inputs[0].digest in {d for d, op in g.ops.items() if op is step}


def test_two_bases_are_refused_for_a_container():
    lines = _errors("image: {bases: [{rootfs: {image: {ref: a}}}, {rootfs: {image: {ref: b}}}]}\n", "bookworm/container")
    assert lines == ["spec.yml:8:46: multiple image bases, expected only one"]
    _graph("image: {bases: [{rootfs: {image: {ref: a}}}, {rootfs: {image: {ref: b}}}]}\n")  # a .deb has no base


def test_empty_target_bases_override_the_root_bases():
    body = "image: {bases: [{rootfs: {image: {ref: registry.local/root:1}}}]}\n"
    assert "docker-image://registry.local/root:1" in _image_refs(_graph(body, "bookworm/container"))
    g = _graph(body + "targets: {bookworm: {image: {bases: []}}}\n", "bookworm/container")
    assert "docker-image://registry.local/root:1" not in _image_refs(g)
    assert "docker-image://docker.io/library/debian:bookworm" in _image_refs(g)


# ------------------------------------------------------------------ validation Dalec does


@pytest.mark.parametrize(
    "body, message",
    [
        ('image: {post: {symlinks: {"": {path: /x}}}}', "image: postinstall: symlink source is empty"),
        ('image: {post: {symlinks: {/a: {paths: [/x, ""]}}}}', "image: postinstall: symlink newpath should not be empty"),
        ("image: {bases: [{rootfs: {image: {ref: a, cmd: {dir: /}}}}]}", "image: bases[0]: rootfs: command must have at least one step"),
        ('sources: {s: {context: {}, generate: [{gomod: {edits: {replace: ["a b"]}}}]}}',
         "invalid gomod replace, old and new must be non-empty"),
        ("artifacts: {docs: {README: {linux_capabilities: [{name: cap_net_raw, effective: true}]}}}",
         "artifacts: capabilities can only be set on executable files (binaries, libs, libexec, opt); "
         "cannot set capabilities on docs 'README'"),
    ],
)
def test_validation_dalec_does(body, message):
    with pytest.raises(SpecError) as err:
        load_spec(HEAD + body + "\n", "spec.yml")
    assert message in str(err.value) and str(err.value).startswith("spec.yml:8:")


def test_keys_dalec_accepts_are_loaded():
    loaded = load_spec(HEAD + """\
sources:
  g:
    git: {url: "https://example.com/x.git", commit: main, checksum: 0123456789abcdef0123456789abcdef01234567}
    generate:
      - gomod:
          edits:
            replace: ["example.com/a => ../a", {old: example.com/b, new: example.com/c@v1.2.0}]
            drop: [example.com/d]
      - nodemod: {registry: "https://npm.example.com"}
artifacts:
  opt: {out/app: {}}
  binaries: {out/b: {linux_capabilities: [{name: cap_net_raw, effective: true, permitted: true}]}}
tests:
  - name: t
    files: {/usr/bin/x: {no_follow: true, link_target: /opt/x}}
""")
    src = loaded.spec.sources["g"]
    replace = src.generate[0].gomod.edits.replace
    assert [(r.old, r.new) for r in replace] == [("example.com/a", "../a"), ("example.com/b", "example.com/c@v1.2.0")]
    assert src.generate[0].gomod.edits.drop == ["example.com/d"] and src.generate[1].nodemod.registry
    assert loaded.spec.tests[0].files["/usr/bin/x"].link_target == "/opt/x"


def test_git_checksum_reaches_the_git_source():
    g = _graph('sources: {g: {git: {url: "https://example.com/x.git", commit: main, checksum: "${SUM}"}}}\n'
               "args: {SUM: abc123}\n")
    (git,) = [op for op in g.ops.values() if op.WhichOneof("op") == "source" and op.source.identifier.startswith("git://")]
    assert git.source.attrs["git.checksum"] == "abc123"


# ------------------------------------------------------------------ refused until implemented


@pytest.mark.parametrize(
    "body, target, position, what",
    [
        ("image: {post: {symlinks: {/a: {path: /b}}}}", "bookworm/container", "8:26", "image.post.symlinks"),
        ("dependencies: {extra_repos: [{config: {r: {inline: {file: {contents: x}}}}}]}", "bookworm/worker", "8:29",
         "dependencies.extra_repos"),
        ("artifacts: {users: [{name: svc}]}", "bookworm/deb", "8:20", "artifacts.users (creating users on install)"),
        ("artifacts: {groups: [{name: svc}]}", "bookworm/deb", "8:21", "artifacts.groups (creating groups on install)"),
        ("artifacts: {binaries: {b: {user: svc}}}", "bookworm/deb", "8:34", "artifact user ownership (user: svc)"),
        ("artifacts: {createDirectories: {state: {d: {group: g}}}}", "bookworm/deb", "8:52",
         "artifact group ownership (group: g)"),
        ("artifacts: {links: [{source: /a, dest: /b, user: u}]}", "bookworm/container", "8:50",
         "artifact link user ownership (user: u)"),
        ("artifacts: {libs: {l: {linux_capabilities: [{name: cap_net_raw, effective: true}]}}}", "bookworm/deb",
         "8:44", "linux_capabilities (setting file capabilities on install)"),
        ("targets: {bookworm: {frontend: {image: x/y}}}", "bookworm/deb", "8:32",
         "targets.bookworm.frontend (forwarding the target to another frontend)"),
        ("package_config: {signer: {image: x/signer}}", "bookworm/deb", "8:26", "package_config.signer (package signing)"),
    ],
)
def test_settings_not_honoured_yet_are_refused_with_their_position(body, target, position, what):
    assert _errors(body + "\n", target) == [f"spec.yml:{position}: {what} is not supported yet"]


def test_refusals_apply_only_where_the_setting_matters():
    _graph("image: {post: {symlinks: {/a: {path: /b}}}}\n", "bookworm/deb")  # no image in a .deb
    _graph("artifacts: {users: [{name: svc}]}\n", "bookworm/worker")
    _graph("targets: {trixie: {frontend: {image: x/y}}}\n", "bookworm/deb")  # another target's key
    compile_spec(load_spec(HEAD + "targets: {bookworm: {frontend: {image: x}}}\n"), CompileOptions(target="debug/resolve"))


def test_recommends_test_and_sysext_versions_are_not_substituted():
    loaded = load_spec(HEAD + """\
dependencies:
  recommends: {r: {version: [">= ${UNDECLARED}"]}}
  test: {t: {version: ["${ALSO}"]}}
  sysext: {s: {version: ["$X"]}}
  runtime: {rt: {version: [">= ${V}"]}}
args: {V: "2"}
""")
    spec = loaded.resolve({}, target_key="bookworm", target_platform=CompileOptions("x").target_platform,
                          build_platform=CompileOptions("x").target_platform)
    deps = spec.dependencies
    assert deps.recommends["r"].version == [">= ${UNDECLARED}"] and deps.test["t"].version == ["${ALSO}"]
    assert deps.sysext["s"].version == ["$X"] and deps.runtime["rt"].version == [">= 2"]
    with pytest.raises(SpecError, match='build arg "NOPE" not declared'):
        load_spec(HEAD + 'dependencies: {build: {b: {version: ["$NOPE"]}}}\n').resolve(
            {}, target_key="bookworm", target_platform=CompileOptions("x").target_platform,
            build_platform=CompileOptions("x").target_platform)


def test_graph_helper_is_used():  # keep the import honest for the helpers above
    assert graph
