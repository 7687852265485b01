"""`dalecpy build` (dalecpy's own BuildKit client) against the running engine (scripts/e2e/provision.sh).

Skips with the reason when no engine answers (see conftest.engine).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.client.echo_server import start as start_echo
from tests.e2e.test_spec_tests import EXPECTED, HELLO

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests/client/data"
DALECPY = [sys.executable, "-m", "dalecpy.cli"]


def _build(engine, *args, timeout=1200, check=True):
    proc = subprocess.run([*DALECPY, "build", "--progress", "plain", *args], env=engine.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"dalecpy build {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                    f"{proc.stderr[-5000:]}")
    return proc


def _deb_files(deb: Path, dest: Path) -> Path:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    return dest


def test_local_export_deb(engine, tmp_path):
    out = tmp_path / "out"
    _build(engine, "specs/hello.yml", "--target", "bookworm/deb", "-o", f"type=local,dest={out}")
    debs = list(out.glob("*.deb"))
    assert [d.name for d in debs] == ["dalec-hello_1.0.0-1_amd64.deb"]
    files = _deb_files(debs[0], tmp_path / "x")
    assert (files / "usr/bin/dalec-hello").exists()


def test_raw_socket_forwarding_and_dockerignore(engine, tmp_path):
    sock = str(tmp_path / "echo.sock")
    stop = start_echo(sock)
    try:
        out = tmp_path / "out"
        proc = _build(engine, str(DATA / "socket-echo.yml"), str(DATA / "echo-ctx"), "--target", "bookworm/deb",
                      "--no-cache", "--socket", f"bazel-default={sock}", "-o", f"type=local,dest={out}")
    finally:
        stop.set()
    assert "reply: RAW-ECHO (70015 bytes)" in proc.stderr
    files = _deb_files(next(out.glob("*.deb")), tmp_path / "x")
    doc = files / "usr/share/doc/socket-echo"
    assert (doc / "echo-reply.bin").read_bytes() == b"RAW-ECHO\x00\x01\xfe\xff\r\n" + b"x" * 70000 + b"\n"
    # .dockerignore in the context: ignored.txt and */*.log are not sent
    assert (doc / "ctx-listing.txt").read_text().split() == ["./.dockerignore", "./kept.txt", "./sub/a.txt"]


def test_missing_socket_is_optional(engine, tmp_path):
    out = tmp_path / "out"
    proc = _build(engine, str(DATA / "socket-echo.yml"), str(DATA / "echo-ctx"), "--target", "bookworm/deb",
                  "--no-cache", "-o", f"type=local,dest={out}")
    assert "reply: no socke (10 bytes)" in proc.stderr
    files = _deb_files(next(out.glob("*.deb")), tmp_path / "x")
    assert (files / "usr/share/doc/socket-echo/echo-reply.bin").read_bytes() == b"no socket\n"


def test_docker_image_with_config(engine, tmp_path):
    tag = "dalecpy-client-e2e:hello"
    proc = _build(engine, "specs/hello.yml", "--target", "bookworm/container", *engine.image_output(tag))
    assert "Test greets" in proc.stderr  # the spec's tests ran (in progress output)
    cfg = engine.image_config(tag)["Config"]
    assert cfg["Entrypoint"] == ["/usr/bin/dalec-hello"]
    assert cfg["Cmd"] == ["world"]
    assert "DALEC_EXAMPLE=hello" in cfg["Env"]
    assert cfg["Labels"]["org.opencontainers.image.title"] == "dalec-hello"
    run = engine.run_container(tag, ["tester"])
    assert (run.returncode, run.stdout) == (0, "Hello from dalecpy, tester!\n"), run.stderr[-3000:]


def test_failing_spec_test_fails_the_build_naming_the_test(engine, tmp_path):
    text = HELLO.read_text()
    assert EXPECTED in text
    wrong = tmp_path / "hello-wrong.yml"
    wrong.write_text(text.replace(EXPECTED, 'equals: "Howdy, tester!\\n"'))
    bad = _build(engine, str(wrong), "--target", "bookworm/container", check=False)
    assert bad.returncode == 1, bad.stderr[-4000:]
    assert 'error: build failed: test "greets" failed: ' in bad.stderr, bad.stderr[-4000:]
    # the test script's own line, from the test op's log
    assert ('test "greets": step 0 stdout: does not equal "Howdy, tester!\\n" '
            '(got "Hello from dalecpy, tester!\\n")') in bad.stderr, bad.stderr[-4000:]
    assert "Traceback" not in bad.stderr

    skipped = _build(engine, str(wrong), "--target", "bookworm/container",
                     "--build-arg", "DALEC_SKIP_TESTS=1")
    assert "Test greets" not in skipped.stderr


def test_frontend_image_builds_the_deb(engine, frontend_image, tmp_path):
    out = tmp_path / "out"
    _build(engine, "specs/hello.yml", "--target", "bookworm/deb", "--frontend-image", frontend_image,
           "-o", f"type=local,dest={out}")
    debs = list(out.glob("*.deb"))
    assert [d.name for d in debs] == ["dalec-hello_1.0.0-1_amd64.deb"]
    files = _deb_files(debs[0], tmp_path / "x")
    assert (files / "usr/bin/dalec-hello").exists()


def test_ctrl_c_cancels_and_daemon_stays_healthy(engine, tmp_path):
    spec = tmp_path / "slow.yml"
    spec.write_text((DATA / "socket-echo.yml").read_text().replace(
        "(cd ctx && find . -type f | sort)", "sleep 300; (cd ctx && find . -type f | sort)"))
    proc = subprocess.Popen([*DALECPY, "build", "--progress", "plain", str(spec), str(DATA / "echo-ctx"),
                             "--target", "bookworm/deb", "--no-cache", "-o", f"type=local,dest={tmp_path / 'o'}"],
                            env=engine.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # as from a terminal: a background CI shell starts children with SIGINT ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    seen = ""
    while time.time() < deadline:
        line = proc.stderr.readline()
        seen += line
        if "Build socket-echo" in line:
            break
    # keep draining stderr: a full pipe would block the client's writes, not its Ctrl-C handling
    rest: list[str] = []
    threading.Thread(target=lambda: rest.extend(proc.stderr), daemon=True).start()
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("dalecpy build did not stop within 60 s of SIGINT:\n" + seen[-2000:] + "".join(rest)[-3000:])
    time.sleep(0.5)  # let the drain thread collect the last lines
    assert rc == 130, seen + "".join(rest)
    # the daemon still builds
    test_local_export_deb(engine, tmp_path / "after")


def test_unreachable_daemon_is_a_clear_error(engine, tmp_path):
    proc = _build(engine, "specs/hello.yml", "--target", "bookworm/deb", "--addr", f"unix://{tmp_path}/nope.sock",
                  "-o", f"type=local,dest={tmp_path / 'o'}", check=False, timeout=120)
    assert proc.returncode == 1
    assert "cannot reach BuildKit" in proc.stderr or "cannot connect" in proc.stderr


def test_two_platforms_export_both_or_name_the_platform_it_cannot_build(engine, tmp_path):
    out = tmp_path / "out"
    proc = _build(engine, "specs/hello.yml", "--target", "bookworm/deb", "--platform", "linux/amd64",
                  "--platform", "linux/arm64", "-o", f"type=local,dest={out}", check=False)
    assert (out / "linux_amd64" / "dalec-hello_1.0.0-1_amd64.deb").exists(), proc.stderr[-3000:]
    if proc.returncode == 0:
        assert (out / "linux_arm64" / "dalec-hello_1.0.0-1_arm64.deb").exists()
    else:  # no arm64 base image or no emulation here: the error says which platform and why
        assert "building for linux/arm64: this engine has no linux/arm64 base image" in proc.stderr, proc.stderr[-3000:]
