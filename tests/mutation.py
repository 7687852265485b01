"""Hypothesis strategies shared by the property tests: random YAML values and mutations of valid specs."""

from __future__ import annotations

import copy
import io

from hypothesis import strategies as st
from ruamel.yaml import YAML

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True), st.text(max_size=12),
    st.sampled_from(["${VERSION}", "$X", "${", "/abs", "foo/bar", "..", "forever", "0755", "-1", ">= 1", "<<", "nonsense", "golang-go"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)


def dump(obj) -> str:
    y = YAML(typ="safe", pure=True)
    buf = io.StringIO()
    y.dump(obj, buf)
    return buf.getvalue()


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw, docs):
    """A deep copy of one of `docs` with 1-4 random deletions, replacements or junk insertions."""
    doc = copy.deepcopy(draw(st.sampled_from(docs)))
    paths = [p for p in _paths(doc) if p]
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths))
        parent = doc
        try:
            for el in path[:-1]:
                parent = parent[el]
            parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(parent, (dict, list)):  # an earlier mutation replaced a container with a string
            continue
        last = path[-1]
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
