"""Property tests: arbitrary input yields a LoadedSpec or a SpecError, nothing else."""

import pathlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from dalecpy.platforms import Platform
from dalecpy.spec import SpecError, load_spec

from ..mutation import dump, mutated, values


VALID = YAML(typ="safe").load((pathlib.Path(__file__).parent / "data" / "valid.yml").read_text())

def check(data):
    try:
        ls = load_spec(data, "p.yml")
    except SpecError as e:
        assert e.diagnostics and all(d.filename == "p.yml" for d in e.diagnostics)
        return
    try:
        ls.resolve({"VERSION": "1"}, target_key="azlinux3", target_platform=Platform(), build_platform=Platform())
    except SpecError:
        pass
    ls.spec.to_yaml_dict()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_text(text):
    check(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_random_documents(obj):
    check(dump(obj))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated([VALID]))
def test_mutated_valid_spec(doc):
    check(dump(doc))
