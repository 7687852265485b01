"""Bad input to the command line: one escaped line on stderr and exit 2, never a traceback; `-` as SPEC."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.client.fake_daemon import FakeDaemon

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "specs" / "hello.yml"
ENTRY = [sys.executable, "-c", "from dalecpy._entry import main; main()"]  # what the `dalecpy` script runs


def run(*args, input: bytes | None = None, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "BUILDKIT_HOST"}
    full.update(env or {})
    return subprocess.run([*ENTRY, *args], capture_output=True, input=input, cwd=cwd, env=full, timeout=60)


def one_line_error(r: subprocess.CompletedProcess, code: int = 2) -> str:
    err = r.stderr.decode("utf-8")  # everything printed is valid UTF-8 (lone surrogates are escaped)
    assert r.returncode == code, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("error: ") or ": " in err
    return err


@pytest.mark.parametrize("addr", ["tcp://[::1", "tcp://host", "tcp://h:70000", "unix://", "ssh://me@host",
                                  "docker://ssh://x", "tcp://h:1\n2", b"unix:///run/\xff.sock"])
def test_malformed_addr(addr):
    err = one_line_error(run("build", "--addr", addr, str(HELLO)))
    assert "--addr" in err


def test_malformed_buildkit_host_from_the_environment():
    err = one_line_error(run("build", str(HELLO), env={"BUILDKIT_HOST": "tcp://[::1"}))
    assert "BUILDKIT_HOST 'tcp://[::1'" in err


@pytest.mark.parametrize("args, needle", [
    (("-o", "type=bogus"), "unsupported type 'bogus'"),
    (("-o", "type=local"), "dest= is required"),
    (("-o", "type=local,dest"), "expected KEY=VALUE"),
    (("--socket", "noequals"), "expected ID=PATH"),
    (("--socket", "id=/x,forward=agent"), "unsupported option"),
    (("--secret", "id=only"), "expected id=ID,src=PATH"),
    (("--secret", "id=s,src=/no/such/file"), "is not a file"),
    (("--build-arg", "NOEQUALS"), "expected KEY=VALUE"),
    (("-o", b"type=docker,name=caf\xe9"), "not UTF-8"),
    (("--frontend-image", b"img\xff"), "not valid UTF-8"),
    (("--no-cache-filter", b"\xff"), "not valid UTF-8"),
])
def test_build_usage_errors_exit_2_before_anything_else(args, needle):
    # --addr points nowhere: a usage error must be found before any connection is tried
    err = one_line_error(run("build", str(HELLO), "--addr", "unix:///nonexistent.sock", *args))
    assert needle in err


@pytest.mark.parametrize("command", ["render", "caches", "build"])
def test_undecodable_build_args(command):
    err = one_line_error(run(command, str(HELLO), "--build-arg", b"GREETING=\xff\xfe"))
    assert "build arg 'GREETING'" in err and "\\udcff" in err and "UTF-8" in err


def test_control_characters_in_messages_are_escaped():
    err = one_line_error(run("render", str(HELLO), "--target", "x\ny\x1b[31mred"))
    assert "x\\ny\\x1b[31mred" in err


@pytest.mark.parametrize("command", ["render", "validate", "caches", "targets", "build"])
def test_directory_as_spec_is_one_line(command):
    err = one_line_error(run(command, str(REPO / "specs")))
    assert "is a directory" in err


@pytest.mark.parametrize("command", ["render", "validate", "caches", "targets"])
def test_spec_from_stdin(command):
    from_file = run(command, str(HELLO))
    from_stdin = run(command, "-", input=HELLO.read_bytes())
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout == from_file.stdout


def test_spec_from_stdin_errors_name_stdin():
    err = one_line_error(run("validate", "-", input=b"name: x\nbogus: 1\n"))
    assert err.startswith("<stdin>:2:1: ")


def test_build_spec_from_stdin_uses_the_current_directory_as_context(tmp_path):
    spec = HELLO.read_bytes()
    d = FakeDaemon({"<stdin>": spec})
    try:
        ctx = tmp_path / "the-context"
        ctx.mkdir()
        r = run("build", "-", "--addr", d.addr, "--progress", "plain", input=spec, cwd=ctx)
        assert r.returncode == 0, r.stderr.decode()
        assert b"built bookworm/container for linux/amd64" in r.stdout
        assert d.sessions[0]["x-docker-expose-session-name"] == ["the-context"]
        assert b"<stdin>" in d.bridge.solves[0].Definition.SerializeToString()  # the spec as the daemon has it
    finally:
        d.stop()


@pytest.mark.parametrize("name", ["café\x01", b"\xff-latin1".decode("utf-8", "surrogateescape")])
def test_build_with_a_context_dir_that_is_not_ascii(tmp_path, name):
    d = FakeDaemon({"hello.yml": HELLO.read_bytes()})
    try:
        ctx = tmp_path / name
        ctx.mkdir()
        r = run("build", str(HELLO), str(ctx), "--addr", d.addr, "--progress", "plain")
        assert r.returncode == 0, r.stderr.decode()
        assert d.sessions[0]["x-docker-expose-session-name"] in (["caf__"], ["_-latin1"])
    finally:
        d.stop()
