"""`dalecpy frontend` as BuildKit starts it: the work in one process, the gRPC side in a forked bridge process."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from dalecpy.frontend import fork

from .fakebridge import run_subprocess
from .test_spec_tests import DAEMON_ERROR, FailingBridge

HELLO = open(os.path.join(os.path.dirname(__file__), "..", "..", "specs", "hello.yml"), "rb").read()

# The frontend's entry point, reporting which stacks the working process loaded.
_ARGV = [sys.executable, "-c", (
    "import os, sys\n"
    "from dalecpy.frontend import run\n"
    "code = run()\n"
    "print('loaded:', *sorted(m for m in ('grpc', 'pydantic', 'google.protobuf') if m in sys.modules), file=sys.stderr)\n"
    "sys.stderr.flush()\n"
    "os._exit(code)\n"
)]
OPTS = {"filename": "spec.yml", "target": "bookworm/deb"}
TWO_CPUS = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: no bridge process")


@TWO_CPUS
def test_the_working_process_never_loads_grpc():
    fb, _, rc, err = run_subprocess(_ARGV, {"spec.yml": HELLO}, OPTS)
    assert rc == 0, err
    assert fb.returned is not None and fb.returned.result.ref.id, fb.returned
    assert b"loaded: google.protobuf pydantic\n" in err
    # Ping went out once, first, from the bridge process; the rest as the work asked.
    assert fb.calls == ["Ping", "Inputs", "Solve", "ReadFile", "Solve", "Return"]


@pytest.mark.skipif(not shutil.which("taskset"), reason="no taskset")
def test_on_one_cpu_there_is_one_process():
    fb, _, rc, err = run_subprocess(["taskset", "-c", "0", *_ARGV], {"spec.yml": HELLO}, OPTS)
    assert rc == 0, err
    assert b"loaded: google.protobuf grpc pydantic\n" in err
    assert fb.returned.result.ref.id


def test_daemon_errors_cross_the_bridge_process_with_their_code():
    fb, _, rc, err = run_subprocess(_ARGV, {}, OPTS)
    assert rc == 0, err
    assert fb.returned.error.code == 5 and "open spec.yml: no such file" in fb.returned.error.message
    assert fb.calls == ["Ping", "Inputs", "Solve", "ReadFile", "Return"]


def test_a_subrequest_through_the_bridge_process():
    fb, _, rc, err = run_subprocess(_ARGV, {"Dockerfile": HELLO}, {"requestid": "frontend.targets"})
    assert rc == 0, err
    assert not fb.returned.HasField("error") and b"bookworm/deb" in fb.returned.result.metadata["result.txt"]


def test_a_failing_spec_test_keeps_the_daemons_code_across_the_bridge_process():
    fb, _, rc, err = run_subprocess(_ARGV, {"spec.yml": HELLO}, dict(OPTS, target="bookworm/container"),
                                    bridge_cls=FailingBridge)
    assert rc == 0, err
    assert fb.returned.error.code == 2  # Unknown, as the daemon answered the evaluated Solve
    assert fb.returned.error.message == f'test "greets" failed: {DAEMON_ERROR}'



def test_frames_carry_bodies_of_any_size_and_the_end_of_the_stream():
    r, w = os.pipe()
    bodies = [b"", b"\0", fork.call_frame("Solve", b"x" * 200_000)]
    pid = os.fork()
    if pid == 0:  # a writer on its own: a pipe holds less than one of the bodies
        os.close(r)
        for body in bodies:
            fork.write_frame(w, body)
        os._exit(0)
    os.close(w)
    try:
        assert [fork.read_frame(r) for _ in bodies] == bodies
        assert fork.read_frame(r) is None
    finally:
        os.close(r)
        os.waitpid(pid, 0)


@pytest.mark.parametrize("code, message", [(5, "open x: no such file"), (13, "\u00e9\u00e8 \U0001f600")])
def test_answers_round_trip(code, message):
    import struct

    body = b"\1" + struct.pack(">I", code) + message.encode()
    assert fork.parse_answer(body) == (None, code, message)
    assert fork.parse_answer(b"\0abc") == (b"abc", 0, "")
