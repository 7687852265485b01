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
    first, rss = _load_in_child(BILLION_LAUGHS.encode())
    assert "alias expansion too large" in first
    assert rss < 100, rss


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


# ------------------------------------------------------------------ bounded cost, no crash on any input

# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child of the (large) pytest process would
# report the parent's peak.
_PEAK_RSS = r"""
import re, sys
from dalecpy.spec import SpecError, load_spec
try:
    load_spec(sys.stdin.buffer.read(), "s.yml")
    print("ok")
except SpecError as e:
    print(str(e).splitlines()[0])
with open("/proc/self/status") as f:
    print(int(re.search(r"VmHWM:\s*(\d+) kB", f.read()).group(1)) // 1024)
"""


def _load_in_child(data: bytes) -> tuple[str, int]:
    """(first output line, peak RSS in MB) of a fresh process loading `data`."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _PEAK_RSS], input=data, capture_output=True, check=True).stdout
    first, rss = out.decode().splitlines()
    return first, int(rss)


def test_flow_list_at_the_size_cap_stops_while_parsing():
    # 2M items in 4 MiB: composing them all cost ~1 GB before the node count was checked.
    from dalecpy.spec import MAX_SPEC_BYTES
    from dalecpy.spec.yamlsrc import MAX_TOTAL_NODES

    data = b"x-a: [" + b"1," * ((MAX_SPEC_BYTES - 16) // 2) + b"1]\n"
    first, rss = _load_in_child(data)
    # node 1 is the top mapping, 2 its key, 3 the list: the item after the limit is item MAX-3.
    assert first == f"s.yml:1:{7 + 2 * (MAX_TOTAL_NODES - 3)}: spec is too large: more than {MAX_TOTAL_NODES} YAML nodes"
    assert rss < 150, rss


def test_many_errors_stop_after_a_hundred_with_a_count():
    errs = err_lines("name: a\n" + "".join(f"k{i}: 1\n" for i in range(450)))
    assert len(errs) == 101
    assert errs[0] == 's.yml:2:1: unknown field "k0"' and errs[99] == 's.yml:101:1: unknown field "k99"'
    assert errs[100] == "s.yml: ... and 350 more errors"


def test_validation_errors_are_capped_too():
    steps = "".join("  - {}\n" for _ in range(150))  # every step lacks its command
    errs = err_lines("name: a\nbuild:\n steps:\n" + steps)
    assert len(errs) == 101 and errs[-1] == "s.yml: ... and 50 more errors"


@pytest.mark.parametrize(
    "data, expected",
    [
        ('name: "a\\nb\\u001b[31m"\nnope: 1\n', 's.yml:2:1: unknown field "nope"'),
        ('"k\\ny\\r\\u2028\\u0085": 1\n', 's.yml:1:1: unknown field "k\\ny\\r\\u2028\\x85"'),
        ("x-a: !!int abc\n", "s.yml:1:6: invalid integer 'abc'"),
        ("x-a: !!float abc\n", "s.yml:1:6: invalid number 'abc'"),
        ("x-a: !!int 0x\n", "s.yml:1:6: invalid integer '0x'"),
        ("x-a: " + "9" * 5000 + "\n", "s.yml:1:6: integer literal is too long (5000 characters; at most 1000)"),
        ("x-a: 0x" + "f" * 4000 + "\n", "s.yml:1:6: integer literal is too long (4002 characters; at most 1000)"),
        ('name: "ok\\ud800"\n', "s.yml:1:7: invalid Unicode: lone surrogate \\ud800 at character 3 (not encodable as UTF-8)"),
        ('"\\udfff": 1\n', "s.yml:1:1: invalid Unicode: lone surrogate \\udfff at character 1 (not encodable as UTF-8)"),
    ],
)
def test_hostile_scalars_are_one_positioned_line(data, expected):
    assert err_lines(data) == [expected]


def test_largest_python_int_literal_still_loads():
    ls = load_spec("x-a: " + "9" * 1000 + "\nname: a\n")
    assert str(ls.spec.extensions["x-a"]).startswith("999")
