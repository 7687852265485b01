"""`dalecpy build` as a gateway build: an empty Control/Solve plus dalecpy's frontend run in the client over
LLBBridge (fake daemon), and `--frontend-image` (the daemon runs the frontend image)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dalecpy.client import BuildError, BuildRequest, Output, build
from dalecpy.client.gateway import BUILDID_METADATA_KEY, frontend_opts
from dalecpy.platforms import Platform

from .fake_daemon import FakeDaemon

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "specs" / "hello.yml"


@pytest.fixture
def daemon_factory():
    made = []

    def make(**kw) -> FakeDaemon:
        d = FakeDaemon({"hello.yml": HELLO.read_bytes()}, **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()


def _run(daemon: FakeDaemon, **kw):
    kw.setdefault("target", "bookworm/container")
    req = BuildRequest(spec=str(HELLO), addr=daemon.addr, progress="plain", **kw)
    log = io.StringIO()
    return build(req, log=log), log.getvalue()


def test_empty_solve_and_frontend_in_process_return_the_image_config(daemon_factory):
    d = daemon_factory()
    results, log = _run(d, output=Output("none"))
    (solve,) = d.solves
    # Client.Build: no Definition, no Frontend, no FrontendAttrs; the session is named
    assert not solve.HasField("Definition") and solve.Frontend == "" and dict(solve.FrontendAttrs) == {}
    assert solve.Session and d.sessions[0]["x-docker-expose-session-uuid"] == [solve.Session]
    # every LLBBridge call names the build
    assert d.bridge.build_ids and set(d.bridge.build_ids) == {solve.Ref}
    assert d.bridge.calls[0] == "Ping" and d.bridge.calls[-1] == "Return"
    # the frontend read the spec from the session's dockerfile dir with our session id
    spec_load = d.bridge.solves[0]
    assert b"hello.yml" in spec_load.Definition.SerializeToString()
    assert solve.Session.encode() in spec_load.Definition.SerializeToString()
    ret = d.bridge.returned
    assert not ret.HasField("error"), ret.error
    cfg = json.loads(ret.result.metadata["containerimage.config"])
    assert cfg["config"]["Entrypoint"] == ["/usr/bin/dalec-hello"]
    assert "DALEC_EXAMPLE=hello" in cfg["config"]["Env"]
    assert cfg["config"]["Labels"]["org.opencontainers.image.title"] == "dalec-hello"
    assert [r.platform for r in results] == ["linux/amd64"]
    assert results[0].exporter_response == {"returned": "yes"}
    assert "[fake] gateway build" in log  # progress of the solve's Ref is printed


def test_spec_tests_run_with_evaluate(daemon_factory):
    d = daemon_factory()
    _run(d)
    assert [r.Evaluate for r in d.bridge.solves] == [False, False, True]


def test_failing_spec_test_fails_the_build_naming_the_test(daemon_factory):
    d = daemon_factory(fail_test="Test greets")
    with pytest.raises(BuildError) as exc:
        _run(d)
    msg = str(exc.value)
    assert msg.startswith('build failed: test "greets" failed: ')
    assert "did not complete successfully: exit code: 1" in msg
    assert "\n" not in msg


def test_skip_tests_build_arg(daemon_factory):
    d = daemon_factory(fail_test="Test greets")
    _run(d, build_args={"DALEC_SKIP_TESTS": "1"})
    assert not any(r.Evaluate for r in d.bridge.solves)


def test_waits_for_the_daemon_to_register_the_build(daemon_factory):
    d = daemon_factory(register_delay=1.0)
    _run(d, target="bookworm/deb")
    assert not d.bridge.returned.HasField("error")
    assert d.bridge.calls.count("Ping") >= 2  # asked again after "no such job"


def test_options_reach_the_frontend(daemon_factory):
    d = daemon_factory()
    results, _ = _run(d, target="bookworm/deb", platforms=[Platform.parse("linux/arm64")],
                      build_args={"GREETING": "Hi"}, no_cache=True)
    image = d.bridge.solves[1]
    plats = {(m.platform.OS, m.platform.Architecture) for m in [_op(dt) for dt in getattr(image.Definition, "def")]
             if m.HasField("platform")}
    assert ("linux", "arm64") in plats
    assert any(m.ignore_cache for m in image.Definition.metadata.values())  # no-cache reached the compile
    assert [r.platform for r in results] == ["linux/arm64"]


def _op(data: bytes):
    from dalecpy.llb import ops_pb2

    return ops_pb2.Op.FromString(data)


def test_two_platforms_are_two_gateway_builds(daemon_factory, tmp_path):
    d = daemon_factory()
    results, _ = _run(d, target="bookworm/deb", platforms=[Platform.parse("linux/amd64"), Platform.parse("linux/arm64")],
                      output=Output("local", {"dest": str(tmp_path)}))
    assert len(d.solves) == 2 and all(s.ExporterDeprecated == "local" for s in d.solves)
    assert [r.platform for r in results] == ["linux/amd64", "linux/arm64"]


def test_unknown_target_is_a_user_error_before_the_daemon(daemon_factory):
    from dalecpy.errors import UserError

    d = daemon_factory()
    with pytest.raises(UserError):
        _run(d, target="nope/deb")
    assert d.solves == []


def test_frontend_image_is_run_by_the_daemon(daemon_factory, tmp_path):
    d = daemon_factory()
    _run(d, target="bookworm/deb", frontend_image="dalecpy/frontend:latest", build_args={"A": "1"},
         platforms=[Platform.parse("linux/amd64")], no_cache_filter=("dalec.tests",),
         output=Output("local", {"dest": str(tmp_path)}))
    (solve,) = d.solves
    assert solve.Frontend == "gateway.v0" and not solve.HasField("Definition")
    assert dict(solve.FrontendAttrs) == {
        "source": "dalecpy/frontend:latest", "filename": "hello.yml", "target": "bookworm/deb",
        "platform": "linux/amd64", "build-arg:A": "1", "no-cache": "dalec.tests",
    }
    assert d.bridge.calls == []  # nothing runs in the client


def test_image_export_names_the_image_and_carries_no_config_attr(daemon_factory):
    d = daemon_factory()
    _run(d, output=Output("image", {"name": "x/y:1"}))
    (solve,) = d.solves
    assert solve.ExporterDeprecated == "image"
    assert dict(solve.ExporterAttrsDeprecated) == {"name": "x/y:1"}  # the config is in the Return metadata


def test_frontend_opts():
    assert frontend_opts(filename="s.yml", target="t", platform=None, build_args={}, no_cache=False) == {
        "filename": "s.yml", "target": "t"}
    assert frontend_opts(filename="s.yml", target="t", platform="linux/arm64", build_args={"K": "V"},
                         no_cache=True, no_cache_filter=("x",)) == {
        "filename": "s.yml", "target": "t", "platform": "linux/arm64", "build-arg:K": "V", "no-cache": ""}
    assert frontend_opts(filename="s", target="t", platform=None, build_args={}, no_cache=False,
                         no_cache_filter=("a", "b"))["no-cache"] == "a,b"


def test_buildid_metadata_key():
    # moby/buildkit client/buildid: the forwarder looks the build up under this key
    assert BUILDID_METADATA_KEY == "buildkit-controlapi-buildid"


def test_daemon_message_drops_grpc_wrappers():
    from dalecpy.client.build import daemon_message

    # as BuildKit 0.8 (dockerd 20.10) reports a gateway Return error
    assert daemon_message('rpc error: code = Unknown desc = test "greets" failed: exit code: 1') == \
        'test "greets" failed: exit code: 1'
    assert daemon_message("plain") == "plain"


def test_lost_daemon_during_the_build_is_one_clear_line(daemon_factory):
    import threading
    import time as _time

    d = daemon_factory(register_delay=60.0)  # the Solve hangs before the build registers
    errors = []

    def run():
        try:
            _run(d)
        except BuildError as exc:
            errors.append(str(exc))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    while not d.solves:
        _time.sleep(0.05)
    d.server.stop(None)
    t.join(30)
    assert not t.is_alive()
    assert len(errors) == 1 and errors[0].startswith("lost the BuildKit daemon at unix://"), errors


def test_ctrl_c_during_session_setup_closes_the_session(daemon_factory, monkeypatch):
    import os

    from dalecpy.client import session as session_mod

    closed = []
    close = session_mod.Session.close

    def attach(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(session_mod.Session, "attach", attach)
    monkeypatch.setattr(session_mod.Session, "close", lambda self: (closed.append(self), close(self)))
    with pytest.raises(KeyboardInterrupt):
        _run(daemon_factory())
    assert len(closed) == 1 and not os.path.exists(closed[0].server._dir)
