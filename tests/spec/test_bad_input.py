import resource

import pytest

from dalecpy.spec import SpecError, load_spec


def err_lines(data):
    with pytest.raises(SpecError) as ei:
        load_spec(data, "s.yml")
    return str(ei.value).splitlines()


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_billion_laughs_fails_fast_low_memory():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    errs = err_lines(BILLION_LAUGHS)  # refused while composing: returning at all shows the cost is bounded
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB
    assert len(errs) == 1 and "alias expansion too large" in errs[0]


def test_recursive_alias():
    errs = err_lines("a: &a [*a]\n")
    assert len(errs) == 1 and errs[0].startswith("s.yml:")


def test_deep_nesting():
    errs = err_lines("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in errs[0]


def test_small_alias_use_is_fine():
    ls = load_spec("x-env: &env {A: b}\nbuild:\n  env: *env\n  steps:\n    - command: a\n      env: *env\n")
    assert ls.spec.build.steps[0].env == {"A": "b"}


def test_merge_keys():
    ls = load_spec("x-base: &b {command: a, env: {K: v}}\nbuild:\n  steps:\n    - <<: *b\n      command: z\n")
    st = ls.spec.build.steps[0]
    assert st.command == "z" and st.env == {"K": "v"}


@pytest.mark.parametrize(
    "data, expected",
    [
        ("", "s.yml:1:1: spec is empty: expected a YAML mapping at the top level"),
        ("# only a comment\n", "s.yml:1:1: spec is empty: expected a YAML mapping at the top level"),
        ("- a\n- b\n", "s.yml:1:1: spec must be a YAML mapping at the top level, got a list"),
        ("just text\n", "s.yml:1:1: spec must be a YAML mapping at the top level, got a scalar"),
        ("name: a\nname: b\n", "s.yml:2:1: duplicate key 'name' (first defined at line 1)"),
        ("a: 1\n---\nb: 2\n", "s.yml:2:1: invalid YAML: expected a single document in the stream; but found another document"),
        ("name: [a\n", None),
        ("name: a\n  bad: x\n", None),
        ("name: !!python/object:os.system x\n", "s.yml:1:7: unsupported YAML tag 'tag:yaml.org,2002:python/object:os.system'"),
        ("name: !custom x\n", "s.yml:1:7: unsupported YAML tag '!custom'"),
        ("? [a]\n: b\n", "s.yml:1:3: mapping keys must be scalars"),
        (b"name: \xff\n", "s.yml: spec is not valid UTF-8 (byte offset 6)"),
        ("a: *nope\n", None),
    ],
)
def test_malformed(data, expected):
    errs = err_lines(data)
    if expected is None:
        assert errs[0].startswith("s.yml:") and "invalid YAML" in errs[0], errs
        line, col = errs[0].split(":")[1:3]
        assert int(line) >= 1 and int(col) >= 1
    else:
        assert errs == [expected]


def test_malformed_position():
    assert err_lines("name: a\nbuild:\n  steps: [a\n")[0].startswith("s.yml:4:1: invalid YAML")


def test_bom_and_bytes():
    assert load_spec("\ufeffname: a\n".encode()).spec.name == "a"


def test_non_str_data():
    with pytest.raises(SpecError):
        load_spec(123)  # type: ignore[arg-type]
