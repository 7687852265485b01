"""dalecpy's frontend image on a real BuildKit: the examples build, images run, subrequests and errors."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.e2e

HELLO = ROOT / "specs" / "hello.yml"
# sources.yml fetches its git source from GitHub by default: test_sources_e2e.py builds it from a local repository.
EXAMPLES = sorted(p.name for p in (ROOT / "specs").glob("*.yml") if p.name != "sources.yml")


def _deb_fields(deb: Path) -> dict[str, str]:
    out = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"^([A-Za-z-]+): (.*)$", out, re.M))


def _spec_name(spec: Path) -> str:
    m = re.search(r"^name:\s*(\S+)", spec.read_text(), re.M)
    assert m, spec
    return m.group(1)


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_builds_a_deb(engine, frontend_image, tmp_path, example):
    spec = ROOT / "specs" / example
    out = tmp_path / "out"
    proc = engine.run(engine.build_cmd("-f", str(spec), "--target", "bookworm/deb", "-o", f"type=local,dest={out}", "."))
    if proc.returncode != 0 and re.search(r"Could not resolve host|Network is unreachable", proc.stderr):
        pytest.skip(f"{example} fetches remote sources and this machine cannot reach them")
    assert proc.returncode == 0, proc.stderr[-4000:]
    debs = sorted(out.rglob("*.deb"))
    assert debs, f"no .deb in {list(out.rglob('*'))}"
    fields = _deb_fields(debs[0])
    assert fields["Package"] == _spec_name(spec)
    assert fields["Architecture"] in ("amd64", "all")
    assert re.match(r"^[0-9][^ ]*-[^ ]+$", fields["Version"]), fields
    assert fields.get("Maintainer")
    # the package installs with dpkg -i in a fresh container, and every program it ships runs
    script = (f"dpkg -i /pkg/{debs[0].name} && for f in $(dpkg -L {fields['Package']} | grep '^/usr/bin/.'); "
              'do "$f" > /dev/null || { echo "$f failed"; exit 1; }; done')
    run = engine.run_container("debian:bookworm", ["sh", "-c", script], volumes={str(debs[0].parent): "/pkg"})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert subprocess.run(["dpkg-deb", "-I", str(debs[0])], capture_output=True).returncode == 0


def test_hello_deb_fields(engine, frontend_image, tmp_path):
    out = tmp_path / "out"
    engine.run(engine.build_cmd("-f", str(HELLO), "--target", "bookworm/deb", "-o", f"type=local,dest={out}", "."),
               check=True)
    (deb,) = out.glob("*.deb")
    assert deb.name == "dalec-hello_1.0.0-1_amd64.deb"
    fields = _deb_fields(deb)
    assert fields["Package"] == "dalec-hello" and fields["Version"] == "1.0.0-1"
    assert fields["Maintainer"] == "dalecpy examples <examples@example.com>"
    assert fields["Homepage"] == "https://example.com/dalec-hello"
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "./usr/bin/dalec-hello" in listing


def test_hello_container_runs(engine, frontend_image):
    tag = f"dalecpy-e2e/hello:{uuid.uuid4().hex[:8]}"
    args = ["-f", str(HELLO), "--target", "bookworm/container", "-t", tag]
    if engine.has_buildx:
        args.append("--load")
    engine.run(engine.build_cmd(*args, "."), check=True)
    try:
        run = engine.run_container(tag)
        assert (run.returncode, run.stdout) == (0, "Hello from dalecpy, world!\n"), run.stderr[-3000:]
        run = engine.run_container(tag, ["e2e"])
        assert (run.returncode, run.stdout) == (0, "Hello from dalecpy, e2e!\n"), run.stderr[-3000:]
        cfg = engine.image_config(tag)["Config"]
        assert cfg["Entrypoint"] == ["/usr/bin/dalec-hello"]
        assert cfg["Labels"]["org.opencontainers.image.title"] == "dalec-hello"
    finally:
        engine.remove_image(tag)


def test_call_targets(engine, frontend_image):
    if not engine.has_buildx:
        pytest.skip("engine A (docker build 20.10) has no --call")
    proc = engine.run(engine.build_cmd("-f", str(HELLO), "--call", "targets", "."), check=True)
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["TARGET", "DESCRIPTION"]
    assert any(line.startswith("bookworm/deb (default) ") for line in lines)  # Dalec's default for a deb distro
    assert any(line.startswith("bookworm/container ") for line in lines)
    assert any(line.startswith("azlinux3/container (default) ") for line in lines)
    assert any(line.startswith("windowscross/zip ") for line in lines)


def test_bad_spec_reports_the_positioned_line(engine, frontend_image, tmp_path):
    bad = tmp_path / "spec.yml"
    bad.write_text(HELLO.read_text().replace("sharing: locked", "sharing: forever"))
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "sharing: forever" in t)
    proc = engine.run(engine.build_cmd("-f", str(bad), "--target", "bookworm/deb",
                                       "-o", f"type=local,dest={tmp_path / 'out'}", str(tmp_path)))
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert f"spec.yml:{line}:18: " in text, text[-3000:]
    assert "invalid cache dir sharing mode: forever, valid values: [shared locked private]" in text
    assert "Traceback" not in text


QUOTING_SPEC = """\
# syntax=dalecpy/frontend:latest
name: quoting-e2e
version: "1:2.0~rc1"
revision: "1"
description: artifact names with shell metacharacters are installed as they are
packager: dalecpy e2e <e2e@example.com>
build:
  env:
    TAG: "$(echo expanded)"
  steps:
    - command: |
        mkdir -p "out/bin dir" doc
        printf '#!/bin/sh\\necho %s\\n' "$TAG" > "out/a b;touch pwned;c"
        cp "out/a b;touch pwned;c" "out/bin dir/tool-1"
        cp "out/a b;touch pwned;c" "out/-rf"
        echo doc > 'doc/$(id).txt'
artifacts:
  binaries:
    "out/a b;touch pwned;c": {}
    "out/bin dir/tool-*": {}
    "out/-rf": {name: "dash rf"}
  docs:
    "doc/*.txt": {}
  links:
    - {source: "a b;touch pwned;c", dest: usr/bin/the-link}
"""


def test_metacharacters_in_artifact_names_are_data(engine, frontend_image, tmp_path):
    spec = tmp_path / "spec.yml"
    spec.write_text(QUOTING_SPEC)
    out = tmp_path / "out"
    proc = engine.run(engine.build_cmd("-f", str(spec), "--target", "bookworm/deb", "-o", f"type=local,dest={out}",
                                       str(tmp_path)))
    assert proc.returncode == 0, proc.stderr[-4000:]
    (deb,) = out.glob("*.deb")
    assert deb.name == "quoting-e2e_2.0~rc1-1_amd64.deb"  # no epoch in the file name, as Debian names it
    assert _deb_fields(deb)["Version"] == "1:2.0~rc1-1"
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    for path in ("./usr/bin/a b;touch pwned;c", "./usr/bin/tool-1", "./usr/bin/dash rf",
                 "./usr/share/doc/quoting-e2e/$(id).txt", "./usr/bin/the-link -> a b;touch pwned;c"):
        assert path in listing, listing
    assert "pwned\n" not in listing and "/pwned" not in listing
    script = 'dpkg -i /pkg/*.deb && "/usr/bin/a b;touch pwned;c" && the-link && [ ! -e pwned ] && [ ! -e /pwned ]'
    run = engine.run_container("debian:bookworm", ["sh", "-c", script], volumes={str(out): "/pkg"}, workdir="/")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert run.stdout.splitlines()[-2:] == ["expanded", "expanded"]  # build env values expand by design
