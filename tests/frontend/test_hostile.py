"""Hostile specs through the frontend: InvalidArgument with one positioned line, never an internal error."""

from __future__ import annotations

import pytest

from tests.hostile import HOSTILE_SPECS

from .fakebridge import run_inprocess


@pytest.mark.parametrize("spec, target, expected", [c[1:] for c in HOSTILE_SPECS], ids=[c[0] for c in HOSTILE_SPECS])
def test_hostile_spec_is_invalid_argument_with_one_line(spec, target, expected):
    fb = run_inprocess({"spec.yml": spec.encode("utf-8")}, {"filename": "spec.yml", "target": target})
    err = fb.returned.error
    assert err.code == 3, err.message
    assert "\n" not in err.message and err.message.startswith(f"spec.yml:{expected}"), err.message
