"""Property tests with hostile values in the fields that reach generated scripts, paths and the control file.

Each example either loads and compiles, and then the hostile text appears in the output only as data (one shell
word that round-trips through `shlex`, a script `sh -n` accepts, control-file fields that parse back to exactly
the fields we wrote, files created only beneath the package root), or fails with our UserErrors whose
diagnostics are one encodable line each. Never anything else."""

from __future__ import annotations

import json
import posixpath
import re
import shlex
import subprocess

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dalecpy.compile import CompileError, CompileOptions, compile_spec
from dalecpy.compile.deb import deb_version
from dalecpy.errors import UserError
from dalecpy.spec import SpecError, load_spec

from .conftest import graph

BUDGET = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Characters that mean something to a shell, to YAML, to a control file or to a path.
META = " \t\n\r;&|$`'\"\\*?[]{}()<>!#~=,:.-/%^@\x00\x1b\u2028"
hostile = st.text(alphabet=st.sampled_from(META + "aZ09_"), max_size=16)
#: Hostile text, or text that is mostly plain (so a good share of examples gets past validation).
mixed = st.one_of(hostile, st.text(alphabet=st.sampled_from("aZ09_.+~-" + META[:12]), min_size=1, max_size=12))
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)


def spec_text(doc: dict) -> str:
    """JSON is YAML; `ensure_ascii` writes lone surrogates as `\\udXXX` escapes, which YAML decodes back."""
    return json.dumps(doc)


def base(**extra) -> dict:
    doc = {"name": "prop", "version": "1.0", "revision": "1", "description": "d", "build": {"steps": [{"command": "true"}]}}
    doc.update(extra)
    return doc


def attempt(doc: dict, target: str = "bookworm/deb", **kw):
    """The CompileResult, or None after checking the user error is well formed."""
    try:
        result = compile_spec(load_spec(spec_text(doc), "p.yml"), CompileOptions(target=target, **kw))
        event("compiled")
        return result
    except SpecError as err:
        event("refused")
        assert err.diagnostics
        for line in str(err).splitlines():
            assert line.startswith("p.yml") and line.isprintable(), line
            line.encode("utf-8")
        return None
    except CompileError as err:
        event("refused")
        assert err.path is None and "\n" not in str(err)
        return None


def sh_syntax_ok(script: str) -> None:
    r = subprocess.run(["sh", "-n"], input=script.encode("utf-8"), capture_output=True)
    assert r.returncode == 0, (r.stderr, script)


@BUDGET
@given(name=st.one_of(hostile, st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)), value=hostile)
def test_env_names_are_posix_or_refused_and_test_values_are_data(name, value):
    doc = base(
        tests=[{"name": "t", "env": {name: value}, "steps": [{"command": "true"}]}],
    )
    doc["build"]["env"] = {name: "x"}
    result = attempt(doc, "bookworm/container")
    if result is None:
        return
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)
    assert f'export {name}="x"\n' in graph(result.definition).mkfile("/build.sh")
    ((_, test_def),) = result.tests
    script = graph(test_def).mkfile("/test.sh")
    sh_syntax_ok(script)
    resolved = result.spec.tests[0].env[name]  # after build-arg substitution
    start = script.index(f"\n  export {name}=") + 1
    statement = script[start : script.index("\n  exec /bin/sh -c ", start)]  # the value may span lines
    assert shlex.split(statement) == ["export", f"{name}={resolved}"]


@BUDGET
@given(key=mixed.filter(lambda k: k.strip()), name=mixed, glob=st.sampled_from(["", "*", "?", "[ab]", "*.so"]))
def test_artifact_keys_and_names_are_one_word_each(key, name, glob):
    src = f"out/{key}{glob}"
    doc = base(artifacts={"binaries": {src: {"name": name}}, "docs": {src: {}}})
    result = attempt(doc)
    if result is None:
        return
    script = graph(result.definition).mkfile("/package.sh")
    sh_syntax_ok(script)
    lines = [l for l in script.split("\n") if l.startswith("dalec_install ")]
    assert len(lines) == 2
    for line in lines:
        words = shlex.split(line)
        assert len(words) == 5 and words[4] == src, (line, src)
        assert words[3] in ((posixpath.normpath(name).lstrip("/") if name else ""), "")  # as filepath.Join reads it


_VERSION = st.from_regex(r"([0-9]:)?[0-9][a-z0-9.+~]{0,6}", fullmatch=True)
_CONTROL_VALUES = {
    "version": st.one_of(_VERSION, mixed),
    "revision": st.one_of(st.from_regex(r"[a-z0-9.+~]{1,4}", fullmatch=True), mixed),
    "constraint": st.one_of(st.tuples(st.sampled_from(["<", "<<", "<=", "=", "==", ">=", ">", ">>", ""]), _VERSION).map(" ".join), mixed),
    "dep": st.one_of(st.from_regex(r"[a-z0-9][a-z0-9+.-]{1,8}(:any)?", fullmatch=True), mixed),
    "arch": st.one_of(st.sampled_from(["amd64", "!arm64", "linux-any"]), mixed),
}
_CONTROL_DEFAULTS = {"version": "1.0", "revision": "1", "constraint": ">= 1", "dep": "dep", "arch": "amd64"}


@st.composite
def control_values(draw) -> dict[str, str]:
    """The defaults with one or two fields drawn (plain or hostile)."""
    values = dict(_CONTROL_DEFAULTS)
    for field in draw(st.lists(st.sampled_from(sorted(_CONTROL_VALUES)), min_size=1, max_size=2, unique=True)):
        values[field] = draw(_CONTROL_VALUES[field])
    return values


@BUDGET
@given(v=control_values())
def test_control_file_has_exactly_our_fields(v):
    doc = base(version=v["version"], revision=v["revision"], dependencies={"runtime": {
        "libc6": {"version": [v["constraint"]]}, v["dep"] or "x": {}, "zlib1g": {"arch": [v["arch"]]},
    }})
    result = attempt(doc)
    if result is None:
        return
    control = graph(result.definition).mkfile("/control")
    fields: dict[str, str] = {}
    for line in control.split("\n")[:-1]:
        if line.startswith(" "):
            continue  # a Description continuation line
        key, sep, value = line.partition(": ")
        assert sep and key not in fields, line
        fields[key] = value
    assert set(fields) == {"Package", "Version", "Architecture", "Maintainer", "Depends", "Description"}
    assert fields["Version"] == deb_version(result.spec.version, result.spec.revision)
    entry = re.compile(r"[A-Za-z0-9][A-Za-z0-9+.-]*(:[a-z0-9-]+)?( \((<<|<=|=|>=|>>) [A-Za-z0-9.+~:-]+\))?( \[[!a-z0-9 -]+\])?")
    for rel in fields["Depends"].split(", "):
        assert entry.fullmatch(rel), rel


_PATHS = st.lists(st.sampled_from(["..", ".", "", "a", "b c", "-x", "$(id)", "*"]), min_size=1, max_size=5).map("/".join)


_PATH_DEFAULTS = {"dest": "/usr/bin/link", "state": "app", "sub": "", "name": "", "unit": "a.service"}


@BUDGET
@given(field=st.sampled_from(sorted(_PATH_DEFAULTS)), value=_PATHS)
def test_installed_paths_stay_beneath_the_package_root(tmp_path_factory, field, value):
    p = {**_PATH_DEFAULTS, field: value}
    doc = base(artifacts={
        "binaries": {"out/tool": {"subpath": p["sub"], "name": p["name"]}},
        "createDirectories": {"state": {p["state"]: {}}},
        "links": [{"source": "../x", "dest": p["dest"]}],
        "systemd": {"dropins": {"out/d.conf": {"unit": p["unit"]}}},
    })
    result = attempt(doc)
    if result is None:
        return
    script = graph(result.definition).mkfile("/package.sh")
    tmp = tmp_path_factory.mktemp("pkg")
    build, root = tmp / "box" / "build", tmp / "box" / "root"
    (build / "out").mkdir(parents=True)
    (build / "out" / "tool").write_text("t")
    (build / "out" / "d.conf").write_text("d")
    head = script.partition("cp /tmp/dalec/internal/control")[0]
    head = head.replace("R=/tmp/dalec/pkgroot", f"R={shlex.quote(str(root))}").replace("cd /build", f"cd {shlex.quote(str(build))}")
    r = subprocess.run(["sh", "-c", head], cwd=tmp, capture_output=True)
    assert r.returncode == 0, r.stderr
    outside = {p.name for p in (tmp / "box").iterdir()}
    assert outside == {"build", "root"}, outside
    assert {p.name for p in tmp.iterdir()} == {"box"}


@BUDGET
@given(
    field=st.sampled_from(["name", "description", "version", "x-ext", "license"]),
    prefix=st.text(max_size=4),
    bad=surrogates,
)
def test_lone_surrogates_anywhere_are_one_line(field, prefix, bad):
    doc = base(**{field: prefix + bad})
    assert attempt(doc) is None


@BUDGET
@given(n=st.one_of(st.integers(), st.integers(min_value=2**31, max_value=10**5000)), field=st.sampled_from(["uid", "gid"]))
def test_huge_ints_are_refused_or_fit(n, field):
    doc = base(sources={"s": {"inline": {"file": {field: n}}}})
    try:
        text = spec_text(doc)
    except ValueError:  # Python itself cannot print ints over 4300 digits: write the literal by hand
        text = spec_text(base(sources={"s": {"inline": {"file": {field: 0}}}})).replace(f'"{field}": 0', f'"{field}": {"9" * 5000}')
    try:
        result = compile_spec(load_spec(text, "p.yml"), CompileOptions(target="bookworm/deb"))
    except UserError as err:
        assert all("\n" not in line for line in str(err).splitlines())
        return
    assert 0 <= n <= 2**32 - 1 and result is not None
