"""Spec `tests:` on a real BuildKit: they run after the container is built and a failing one fails the build."""

from __future__ import annotations

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.e2e

HELLO = ROOT / "specs" / "hello.yml"
EXPECTED = 'equals: "Hello from dalecpy, tester!\\n"'


def test_hello_spec_tests_pass_and_a_wrong_expectation_fails(engine, frontend_image, tmp_path):
    build = ["--target", "bookworm/container"]
    if engine.has_buildx:  # docker build 20.10 has no --no-cache-filter; a cached test op still shows its name
        build += ["--no-cache-filter", "dalec.tests"]

    ok = engine.run(engine.build_cmd("-f", str(HELLO), *build, "."))
    assert ok.returncode == 0, ok.stderr[-4000:]
    assert "Test greets" in ok.stderr

    text = HELLO.read_text()
    assert EXPECTED in text
    wrong = tmp_path / "hello-wrong.yml"
    wrong.write_text(text.replace(EXPECTED, 'equals: "Howdy, tester!\\n"'))
    bad = engine.run(engine.build_cmd("-f", str(wrong), *build, "."))
    assert bad.returncode != 0
    assert 'test "greets" failed: ' in bad.stderr, bad.stderr[-4000:]
    # The script's own line, from the test op's log.
    assert ('test "greets": step 0 stdout: does not equal "Howdy, tester!\\n" '
            '(got "Hello from dalecpy, tester!\\n")') in bad.stderr, bad.stderr[-4000:]

    skipped = engine.run(engine.build_cmd("-f", str(wrong), *build, "--build-arg", "DALEC_SKIP_TESTS=1", "."))
    assert skipped.returncode == 0, skipped.stderr[-4000:]
    assert "Test greets" not in skipped.stderr
