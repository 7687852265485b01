"""`dalecpy frontend` as BuildKit starts it: the work in one process, the gRPC side in a forked bridge process."""

from __future__ import annotations

import os
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


def test_the_working_process_never_loads_grpc():
    fb, _, rc, err = run_subprocess(_ARGV, {"spec.yml": HELLO}, OPTS)
    assert rc == 0, err
    assert fb.returned is not None and fb.returned.result.ref.id, fb.returned
    assert b"loaded: google.protobuf pydantic\n" in err
    # The bridge process made the first calls ahead; the work's same calls were answered from them.
    assert fb.calls == ["Ping", "Inputs", "Solve", "ReadFile", "Solve", "Return"]


def test_daemon_errors_cross_the_bridge_process_with_their_code():
    fb, _, rc, err = run_subprocess(_ARGV, {}, OPTS)
    assert rc == 0, err
    assert fb.returned.error.code == 5 and "open spec.yml: no such file" in fb.returned.error.message
    assert fb.calls == ["Ping", "Inputs", "Solve", "ReadFile", "Return"]  # the failed read made once


def test_the_bridge_process_reads_the_spec_before_the_work_asks():
    # A working process that asks for nothing but Return: the spec was read all the same, ahead of it.
    argv = [sys.executable, "-c", (
        "import os\n"
        "from dalecpy.frontend import gateway_pb2, take_stdio\n"
        "from dalecpy.frontend.bridge import PipeBridge\n"
        "from dalecpy.frontend.fork import fork_bridge\n"
        "PipeBridge(*fork_bridge(*take_stdio())).return_(gateway_pb2.ReturnRequest())\n"
        "os._exit(0)\n"
    )]
    fb, _, rc, err = run_subprocess(argv, {"spec.yml": HELLO}, OPTS)
    assert rc == 0, err
    assert fb.calls == ["Ping", "Inputs", "Solve", "ReadFile", "Return"]


@pytest.mark.parametrize("files, opts, calls", [
    ({}, {"requestid": "frontend.subrequests.describe"}, ["Ping", "Return"]),  # reads no spec: none read ahead
    ({"Dockerfile": HELLO}, {"requestid": "frontend.targets"}, ["Ping", "Inputs", "Solve", "ReadFile", "Return"]),
])
def test_subrequests_read_ahead_only_what_they_read(files, opts, calls):
    fb, _, rc, err = run_subprocess(_ARGV, files, opts)
    assert rc == 0, err
    assert not fb.returned.HasField("error") and fb.calls == calls


def test_prefetch_makes_the_runs_first_calls_byte_for_byte():
    from dalecpy.frontend import caps_pb2, gateway_pb2 as gw
    from dalecpy.frontend.bridge import RawBridge
    from dalecpy.frontend.build import FrontendOptions, Session, prefetch

    answers = {
        "Ping": gw.PongResponse(FrontendAPICaps=[caps_pb2.APICap(ID="frontend.inputs", Enabled=True)]),
        "Inputs": gw.InputsResponse(),
        "Solve": gw.SolveResponse(result=gw.Result(ref=gw.Ref(id="r1"))),
        "ReadFile": gw.ReadFileResponse(Data=HELLO),
    }
    made = []

    def daemon(method, request):
        made.append(method)
        return b"\0" + answers[method].SerializeToString()

    env = {"BUILDKIT_FRONTEND_OPT_0": "filename=spec.yml", "BUILDKIT_SESSION_ID": "s"}
    ahead = prefetch(daemon, env)
    assert made == ["Ping", "Inputs", "Solve", "ReadFile"]
    session = Session(RawBridge(lambda m, r: ahead.pop((m, r))), env)  # KeyError: not the bytes made ahead
    assert session.fetch_spec(FrontendOptions.parse({"filename": "spec.yml"})) == HELLO
    assert not ahead


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
