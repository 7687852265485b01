"""Spec tests in the frontend: each test is solved with Evaluate after the container; a failure fails the build."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from dalecpy.frontend import gateway_pb2 as gw

from . import fakebridge
from .fakebridge import V08_FRONTEND_CAPS, run_inprocess

ROOT = Path(__file__).resolve().parents[2]
HELLO = (ROOT / "specs" / "hello.yml").read_bytes()
TWO_TESTS = HELLO + b"""  - name: second
    steps:
      - command: "true"
"""

DAEMON_ERROR = (
    'process "/tmp/dalec/internal/test.sh" did not complete successfully: exit code: 1'
)


class FailingBridge(fakebridge.FakeBridge):
    """Fails the evaluated Solve of the test whose op is named `fail_test`, as the daemon does for exit 1."""

    fail_test = "Test greets"

    def Solve(self, request, context):
        resp = super().Solve(request, context)
        if request.Evaluate and any(
            m.description.get("llb.customname") == self.fail_test for m in request.Definition.metadata.values()
        ):
            context.abort(grpc.StatusCode.UNKNOWN, DAEMON_ERROR)
        return resp


def _test_names(req: gw.SolveRequest) -> list[str]:
    return sorted(
        m.description["llb.customname"] for m in req.Definition.metadata.values()
        if m.description.get("llb.customname", "").startswith("Test ")
    )


def _container(extra: dict[str, str] | None = None, files=None, **kw):
    opts = {"filename": "spec.yml", "target": "bookworm/container", **(extra or {})}
    return run_inprocess(files or {"spec.yml": HELLO}, opts, **kw)


def test_container_tests_are_solved_with_evaluate_after_the_image():
    fb = _container()
    assert not fb.returned.HasField("error"), fb.returned.error
    spec_load, image, test = fb.solves
    assert not spec_load.Evaluate and not image.Evaluate
    assert test.Evaluate and test.allowResultReturn and test.allowResultArrayRef
    assert _test_names(image) == [] and _test_names(test) == ["Test greets"]
    assert fb.returned.result.ref.id == "ref-2"  # the image, not the test
    assert fb.calls.index("ResolveImageConfig") > 3  # tests run before the config is resolved


def test_each_test_is_its_own_solve_in_order():
    fb = _container(files={"spec.yml": TWO_TESTS})
    assert [_test_names(r) for r in fb.solves[2:]] == [["Test greets"], ["Test second"]]
    assert all(r.Evaluate for r in fb.solves[2:])


def test_multi_platform_runs_tests_per_platform():
    fb = _container({"platform": "linux/amd64,linux/arm64"})
    assert not fb.returned.HasField("error"), fb.returned.error
    assert [r.Evaluate for r in fb.solves] == [False, False, True, False, True]


@pytest.mark.parametrize("extra", [{"build-arg:DALEC_SKIP_TESTS": "1"}, {"build-arg:DALEC_SKIP_TESTS": "true"},
                                   {"target": "bookworm/deb"}])
def test_no_test_solve_when_skipped_or_not_a_container(extra):
    fb = _container(extra)
    assert not fb.returned.HasField("error"), fb.returned.error
    assert len(fb.solves) == 2 and not any(r.Evaluate for r in fb.solves)


def test_bad_skip_tests_value_is_invalid_argument():
    fb = _container({"build-arg:DALEC_SKIP_TESTS": "yes"})
    assert fb.returned.error.code == 3 and "DALEC_SKIP_TESTS" in fb.returned.error.message


def test_failed_test_fails_the_build_naming_the_test(monkeypatch):
    monkeypatch.setattr(fakebridge, "FakeBridge", FailingBridge)
    fb = _container(files={"spec.yml": TWO_TESTS})
    err = fb.returned.error
    assert err.code == grpc.StatusCode.UNKNOWN.value[0]
    assert err.message == f'test "greets" failed: {DAEMON_ERROR}'
    assert "Return" in fb.calls and "ResolveImageConfig" not in fb.calls
    assert len(fb.solves) == 3  # the first failure stops the build: "second" is not run


def test_later_test_failure_names_that_test(monkeypatch):
    monkeypatch.setattr(fakebridge, "FakeBridge", FailingBridge)
    monkeypatch.setattr(FailingBridge, "fail_test", "Test second")
    fb = _container(files={"spec.yml": TWO_TESTS})
    assert fb.returned.error.message.startswith('test "second" failed: ')


def test_daemon_without_evaluate_cannot_run_tests():
    caps = [c for c in V08_FRONTEND_CAPS if c != "gateway.solve.evaluate"]
    fb = _container(frontend_caps=caps)
    err = fb.returned.error
    assert err.code == 3 and "gateway.solve.evaluate" in err.message and "DALEC_SKIP_TESTS" in err.message
    fb = _container({"build-arg:DALEC_SKIP_TESTS": "1"}, frontend_caps=caps)
    assert not fb.returned.HasField("error"), fb.returned.error
