"""Property tests: arbitrary input yields a LoadedSpec or a SpecError, nothing else."""

import copy
import pathlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from dalecpy.platforms import Platform
from dalecpy.spec import SpecError, load_spec

VALID = YAML(typ="safe").load((pathlib.Path(__file__).parent / "data" / "valid.yml").read_text())

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True), st.text(max_size=12),
    st.sampled_from(["${VERSION}", "$X", "${", "/abs", "foo/bar", "..", "forever", "0755", "-1"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)


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


def dump(obj) -> str:
    import io

    y = YAML(typ="safe", pure=True)
    buf = io.StringIO()
    y.dump(obj, buf)
    return buf.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_text(text):
    check(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_random_documents(obj):
    check(dump(obj))


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


ALL_PATHS = [p for p in _paths(VALID) if p]


@st.composite
def mutated(draw):
    doc = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = doc
        try:
            for el in path[:-1]:
                parent = parent[el]
            last = path[-1]
            parent[last]
        except (KeyError, IndexError, TypeError):
            continue
        op = draw(st.sampled_from(["delete", "replace", "junk"]))
        if op == "delete":
            del parent[last]
        elif op == "replace":
            parent[last] = draw(values)
        elif isinstance(parent[last], dict):
            parent[last][draw(st.text(min_size=1, max_size=8))] = draw(values)
        else:
            parent[last] = draw(scalars)
    return doc


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_valid_spec(doc):
    check(dump(doc))
