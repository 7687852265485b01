"""The command line as a user runs it: output, exit codes, one line per user error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HELLO = str(REPO / "specs" / "hello.yml")


def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dalecpy.cli", *args], capture_output=True, text=True, input=input, cwd=REPO)


def test_render_json_one_object_per_op():
    r = run("render", HELLO, "--target", "bookworm/deb", "--format", "json")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    ops = [json.loads(line) for line in lines]
    assert all(o["Digest"].startswith("sha256:") for o in ops)
    assert "inputs" in ops[-1]["Op"] and "exec" not in ops[-1]["Op"]


def test_render_dot():
    r = run("render", HELLO, "--target", "bookworm/container", "--format", "dot")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("digraph") and "->" in r.stdout and "Build dalec-hello" in r.stdout


def test_validate_ok_and_errors(tmp_path):
    assert run("validate", HELLO).stdout.strip() == "ok"
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\nbuild:\n  caches:\n    - dir:\n        dest: /x\n        sharing: forever\n  steps:\n    - command: x\n")
    r = run("validate", str(bad))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"{bad}:6:18: build: cache 0: invalid cache dir config: invalid cache dir sharing mode: forever, valid values: [shared locked private]"
    ]
    assert "Traceback" not in r.stderr


def test_render_reports_several_errors_without_traceback(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\nsourcez: {}\nbuild:\n  caches:\n    - dir: {dest: rel}\n  steps:\n    - command: x\n")
    r = run("render", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert 'did you mean "sources"' in r.stderr


def test_missing_file_is_a_user_error(tmp_path):
    r = run("render", str(tmp_path / "nope.yml"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "nope.yml" in r.stderr


@pytest.mark.parametrize("args, needle", [
    (("--target", "fedora/rpm"), "unknown target 'fedora/rpm'; valid targets:"),
    (("--platform", "linux"), "invalid platform"),
    (("--build-arg", "NOPE=1"), 'unknown arg: "NOPE"'),
])
def test_bad_flags(args, needle):
    r = run("render", HELLO, *args)
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr


def test_targets_lists_routes_and_defaults():
    r = run("targets", HELLO)
    assert r.returncode == 0
    assert "bookworm/deb" in r.stdout and "trixie/container" in r.stdout and "debug/resolve" in r.stdout
    assert "default for bookworm: bookworm/deb" in r.stdout
    assert "default for azlinux3: azlinux3/container" in r.stdout


def test_caches_table():
    r = run("caches", HELLO, "--target", "trixie/deb", "--platform", "linux/arm/v7")
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    assert rows[0] == ["KIND", "SHARING", "MOUNT", "CACHE", "ID"]
    assert ["dir", "private", "/var/cache/hello/private", "debian13-linux/arm/v7-hello-private"] in rows
    assert ["dir", "shared", "/var/cache/hello/keyless", "debian13-linux/arm/v7-/var/cache/hello/keyless"] in rows
    assert ["apt", "locked", "/var/cache/apt", "debian13-linux/arm/v7-dalec-var-cache-apt"] in rows


def test_schema_command_prints_the_committed_schema():
    r = run("schema")
    assert json.loads(r.stdout) == json.loads((REPO / "schemas" / "spec.schema.json").read_text())
