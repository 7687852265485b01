"""systemd units in a .deb built by the frontend on a real BuildKit, installed with dpkg -i in a fresh container:
the unit where Debian's debhelper puts it, the drop-in, the enable symlink from postinst, and purge cleaning up."""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.e2e

SERVICE = "[Unit]\\nDescription=dalecpy e2e\\n[Service]\\nExecStart=/bin/true\\n[Install]\\nWantedBy=multi-user.target\\n"
SOCKET = "[Socket]\\nListenStream=/run/dalecpy-e2e.sock\\n[Install]\\nWantedBy=sockets.target\\n"

SPEC = f"""\
# syntax=dalecpy/frontend:latest
name: dalecpy-systemd
description: systemd units packaged as Dalec's debhelper packaging does
version: "1.0"
revision: "1"
packager: dalecpy e2e <e2e@example.com>
license: MIT
sources:
  units:
    inline:
      dir:
        files:
          svc.service: {{contents: "{SERVICE}"}}
          svc.socket: {{contents: "{SOCKET}"}}
          override.conf: {{contents: "[Service]\\nEnvironment=DALECPY=1\\n"}}
build:
  steps:
    - command: "true"
artifacts:
  systemd:
    units:
      units/svc.service: {{enable: true, start: true}}
      units/svc.socket: {{}}
    dropins:
      units/override.conf: {{unit: svc.service}}
"""

# Installed in a fresh container the way an admin would; deb-systemd-helper comes from init-system-helpers
# (in every Debian system that boots with systemd, not in a minbase rootfs).
CHECK = """\
set -e
command -v deb-systemd-helper >/dev/null || { apt-get update -qq && apt-get install -y -qq init-system-helpers >/dev/null; }
dpkg -i /pkg/*.deb
test -f {unit_dir}/svc.service && test -f {unit_dir}/svc.socket
grep -q DALECPY=1 /lib/systemd/system/svc.service.d/override.conf
echo "enabled -> $(readlink /etc/systemd/system/multi-user.target.wants/svc.service)"
test ! -e /etc/systemd/system/sockets.target.wants/svc.socket && echo "socket not enabled"
dpkg -P dalecpy-systemd >/dev/null
test ! -e /etc/systemd/system/multi-user.target.wants/svc.service && echo "purged"
"""


@pytest.mark.parametrize("codename, unit_dir", [("bookworm", "/lib/systemd/system"),
                                                 ("trixie", "/usr/lib/systemd/system")])
def test_units_install_and_enable_from_the_deb(engine, frontend_image, tmp_path, codename, unit_dir):
    spec = tmp_path / "spec.yml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    engine.run(engine.build_cmd("-f", str(spec), "--target", f"{codename}/deb", "-o", f"type=local,dest={out}",
                                str(tmp_path)), check=True)
    (deb,) = out.glob("*.deb")
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    assert f".{unit_dir}/svc.service" in listing and "./lib/systemd/system/svc.service.d/override.conf" in listing
    info = subprocess.run(["dpkg-deb", "-I", str(deb)], capture_output=True, text=True, check=True).stdout
    assert all(script in info for script in ("postinst", "prerm", "postrm"))
    run = engine.run_container(f"debian:{codename}", ["sh", "-c", CHECK.replace("{unit_dir}", unit_dir)],
                               volumes={str(out): "/pkg"})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert f"enabled -> {unit_dir}/svc.service" in run.stdout or "enabled -> /lib/systemd/system/svc.service" \
        in run.stdout, run.stdout
    assert "socket not enabled" in run.stdout and "purged" in run.stdout
