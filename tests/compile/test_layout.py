"""The family-neutral artifact layout (dalecpy/compile/artifacts.py): one reading of the spec for every packager."""

from __future__ import annotations

import textwrap

from dalecpy.compile import artifacts
from dalecpy.spec import load_spec

SPEC = textwrap.dedent("""\
    name: kit
    description: d
    version: "1"
    revision: "1"
    sources:
      tool: {inline: {file: {contents: "#!/bin/sh\\n", permissions: 0o700}}}
      data: {inline: {dir: {permissions: 0o750, files: {a.txt: {contents: a, permissions: 0o600}}}}}
    build:
      steps: [{command: "true"}]
    artifacts:
      binaries:
        out/kit: {user: kit, group: kitg, linux_capabilities: [{name: cap_net_raw, effective: true, permitted: true}]}
        tool: {}
        "out/*.sh": {subpath: helpers}
      libexec:
        out/helper: {name: kit-helper, permissions: 0o750}
      manpages:
        man/kit.8: {}
        man/kit.conf.5: {subpath: custom}
      data_dirs:
        data: {}
      configFiles:
        conf/kit.conf: {subpath: kit}
      docs:
        README.md: {}
      licenses:
        LICENSE: {}
      opt:
        out/tree: {subpath: kit}
      systemd:
        units:
          svc/kit.service: {enable: true}
          svc/other.service: {name: renamed.service, start: true}
        dropins:
          svc/10.conf: {unit: kit.service}
      createDirectories:
        config: {kit.d: {mode: 0o750, user: kit}}
        state: {kit: {}}
      links:
        - {source: /usr/bin/kit, dest: usr/sbin/kit, group: kitg}
      users: [{name: kit}]
      groups: [{name: kitg}]
      disable_strip: true
""")


def _layout(dirs=artifacts.DEB_DIRS, **kw) -> artifacts.Layout:
    return artifacts.layout(load_spec(SPEC, "kit.yml").spec, "bookworm", dirs, **kw)


def _by_source(lay: artifacts.Layout) -> dict[str, artifacts.FileItem]:
    return {f.source: f for f in lay.files}


def test_every_kind_lands_in_its_directory_with_subpath_and_name():
    files = _by_source(_layout(man_sections=True))
    assert files["out/kit"].dest == "/usr/bin/kit"
    assert files["out/*.sh"].dest_dir == "/usr/bin/helpers" and files["out/*.sh"].name == ""
    assert files["out/helper"].dest == "/usr/libexec/kit-helper"
    assert files["man/kit.8"].dest == "/usr/share/man/man8/kit.8"
    assert files["man/kit.conf.5"].dest == "/usr/share/man/custom/kit.conf.5"
    assert files["data"].dest == "/usr/share/data"
    assert files["conf/kit.conf"].dest == "/etc/kit/kit.conf" and files["conf/kit.conf"].config
    assert files["README.md"].dest == "/usr/share/doc/kit/README.md"
    assert files["LICENSE"].dest == "/usr/share/doc/kit/LICENSE"
    assert files["out/tree"].dest == "/opt/kit/tree"
    assert files["svc/other.service"].dest == "/lib/systemd/system/renamed.service"
    assert files["svc/10.conf"].dest == "/lib/systemd/system/kit.service.d/10.conf"


def test_a_family_maps_kinds_to_its_own_directories():
    """An RPM packager passes its macros; nothing else changes."""
    rpm = {**artifacts.DEB_DIRS, "binaries": "%{_bindir}", "licenses": "%{_licensedir}/{name}",
           "manpages": "%{_mandir}", artifacts.SYSTEMD_UNITS: "%{_unitdir}", artifacts.STATE_DIRS: "%{_sharedstatedir}"}
    lay = _layout(rpm)
    files = _by_source(lay)
    assert files["out/*.sh"].dest_dir == "%{_bindir}/helpers"
    assert files["LICENSE"].dest == "%{_licensedir}/kit/LICENSE"
    assert files["man/kit.8"].dest == "%{_mandir}/kit.8"  # no man<N> without man_sections
    assert files["svc/kit.service"].dest == "%{_unitdir}/kit.service"
    assert [d.path for d in lay.dirs] == ["/etc/kit.d", "%{_sharedstatedir}/kit"]


def test_modes_owners_and_capabilities():
    lay = _layout()
    files = _by_source(lay)
    assert files["out/kit"].mode is None and files["out/kit"].default_mode == 0o755
    assert files["out/helper"].mode == 0o750
    assert files["tool"].mode == 0o700  # the inline source's permissions, as Dalec's deb applies them
    assert files["data"].mode == 0o750 and files["data"].default_mode is None
    assert files["out/kit"].capabilities == "cap_net_raw=ep"
    assert [f.source for f in lay.with_capabilities] == ["out/kit"]
    assert [(getattr(x, "source", None) or getattr(x, "path", None) or x.dest, x.user, x.group) for x in lay.owned] == [
        ("out/kit", "kit", "kitg"), ("/etc/kit.d", "kit", ""), ("/usr/sbin/kit", "", "kitg")]
    assert lay.dirs[0].mode == 0o750 and lay.dirs[1].mode == 0o755


def test_units_users_groups_and_switches():
    lay = _layout()
    assert [(u.name, u.enable, u.start) for u in lay.units] == [("kit.service", True, False),
                                                                 ("renamed.service", False, True)]
    assert lay.users == ("kit",) and lay.groups == ("kitg",)
    assert lay.links[0].target == "/usr/bin/kit" and lay.links[0].dest == "/usr/sbin/kit"
    assert lay.strip is False and lay.auto_requires is True


def test_spec_paths_point_at_the_entries():
    files = _by_source(_layout())
    assert files["conf/kit.conf"].spec_path == ("artifacts", "configFiles", "conf/kit.conf")
    assert files["svc/10.conf"].spec_path == ("artifacts", "systemd", "dropins", "svc/10.conf")


def test_capability_text_is_setcaps():
    cap = artifacts.capabilities_text
    from dalecpy.spec.models import ArtifactCapability as C

    assert cap([C(name="cap_chown", effective=True, inheritable=True, permitted=True), C(name="cap_x")]) == "cap_chown=eip"
    assert cap([C(name="cap_x")]) == ""
