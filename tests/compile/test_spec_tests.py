"""Spec `tests:`: the LLB each test compiles to, and the generated sh script run for real with /bin/sh."""

from __future__ import annotations

import os
import subprocess

import pytest

from dalecpy.compile import CompileError, CompileOptions, compile_spec
from dalecpy.compile import tests as spec_tests
from dalecpy.compile.script import SCRIPT_DIR
from dalecpy.llb import ops_pb2
from dalecpy.spec import SpecError, load_spec
from dalecpy.spec.models import TestSpec

from .conftest import SPECS, graph

HELLO = (SPECS / "hello.yml").read_text()

EXTRA = """
dependencies:
  test:
    curl: {}
    jq:
      version: [">= 1.6"]
targets:
  bookworm:
    tests:
      - name: bookworm only
        env: {WHO: bookworm}
        mounts:
          - dest: /fixtures
            spec:
              inline:
                dir:
                  files:
                    a.txt: {contents: "fixture\\n"}
        steps:
          - command: cat /fixtures/a.txt
            stdout: {equals: "fixture\\n"}
"""


def _compile(text: str = HELLO, target: str = "bookworm/container", **kw):
    return compile_spec(load_spec(text, "spec.yml"), CompileOptions(target=target, **kw))


def _named(g, prefix: str) -> list[tuple[str, ops_pb2.Op]]:
    return [
        (d, g.ops[d]) for d, m in g.definition.metadata.items()
        if d in g.ops and m.description.get("llb.customname", "").startswith(prefix)
    ]


# ---------------------------------------------------------------------- compile


def test_container_target_has_one_definition_per_test():
    result = _compile()
    assert [name for name, _ in result.tests] == ["greets"]
    g = graph(result.tests[0][1])
    (digest, op), = _named(g, "Test greets")
    assert list(op.exec.meta.args) == [f"{SCRIPT_DIR}/test.sh"]
    assert op.exec.network == ops_pb2.NONE
    scripts = [m for m in op.exec.mounts if m.dest == SCRIPT_DIR]
    assert len(scripts) == 1 and scripts[0].readonly
    assert not g.definition.metadata[digest].ignore_cache
    script = g.mkfile("/test.sh")
    assert "exec /bin/sh -c 'dalec-hello tester'" in script
    assert g.mkfile("/s0.stdout.equals") == "Hello from dalecpy, tester!\n"
    # The test runs on the container image: the package install is in its graph, and the test's root is it.
    (install_digest, _), = _named(g, "Install dalec-hello into")
    assert op.inputs[0].digest == install_digest


def test_tests_do_not_change_the_container_definition():
    without = HELLO[: HELLO.index("\ntests:")] + "\n"
    assert _compile().definition == _compile(without).definition
    assert _compile(without).tests == ()


@pytest.mark.parametrize("target", ["bookworm/deb", "bookworm/worker", "trixie/deb", "debug/resolve"])
def test_non_container_targets_have_no_tests(target):
    assert _compile(target=target).tests == ()


def test_bare_debian_distro_is_the_deb_target_and_testing_container_runs_tests():
    assert _compile(target="trixie").tests == ()  # Dalec: a deb distro's key alone builds its .deb
    assert [n for n, _ in _compile(target="trixie/testing/container").tests] == ["greets"]


@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True"])
def test_skip_tests_truthy(value):
    assert _compile(build_args={"DALEC_SKIP_TESTS": value}).tests == ()


@pytest.mark.parametrize("value", ["0", "f", "F", "FALSE", "false", "False", ""])
def test_skip_tests_falsy(value):
    assert len(_compile(build_args={"DALEC_SKIP_TESTS": value}).tests) == 1


@pytest.mark.parametrize("value", ["yes", "on", "tRuE", "2"])
def test_skip_tests_not_a_bool_is_an_error(value):
    with pytest.raises(CompileError, match="DALEC_SKIP_TESTS"):
        _compile(build_args={"DALEC_SKIP_TESTS": value})


def test_no_cache_tests_ignores_the_test_cache_only():
    result = _compile(no_cache=frozenset({"dalec.tests"}))
    g = graph(result.tests[0][1])
    (digest, _), = _named(g, "Test greets")
    assert g.definition.metadata[digest].ignore_cache
    assert not any(m.ignore_cache for d, m in g.definition.metadata.items() if d != digest)
    assert not any(m.ignore_cache for m in graph(result.definition).definition.metadata.values())


def test_target_tests_test_deps_and_mounts():
    result = _compile(HELLO + EXTRA)
    assert [n for n, _ in result.tests] == ["greets", "bookworm only"]
    assert [n for n, _ in _compile(HELLO + EXTRA, target="trixie/container").tests] == ["greets"]
    g = graph(result.tests[1][1])
    (deps_digest, deps), = _named(g, "Install test dependencies: curl, jq")
    control = g.mkfile("/deps.control")
    assert "Package: dalecpy-test-deps-dalec-hello\n" in control
    assert "Depends: curl, jq (>= 1.6)\n" in control
    assert deps.exec.network != ops_pb2.NONE  # apt needs the network; the test itself does not get it
    (_, op), = _named(g, "Test bookworm only")
    assert op.inputs[0].digest == deps_digest
    fixtures = [m for m in op.exec.mounts if m.dest == "/fixtures"]
    assert len(fixtures) == 1 and fixtures[0].readonly
    assert "export WHO='bookworm'" in g.mkfile("/test.sh")
    # The container image itself gets no test dependencies.
    assert not _named(graph(result.definition), "Install test dependencies")


def test_bad_test_dep_constraint_is_positioned():
    bad = HELLO + 'dependencies:\n  test:\n    jq:\n      version: ["~~ 1"]\n'
    line = bad.count("\n", 0, bad.index("version: [\"~~")) + 1  # positioned at the constraint list
    with pytest.raises(SpecError) as err:
        _compile(bad)
    assert str(err.value).startswith(f"spec.yml:{line}:") and "invalid version constraint" in str(err.value)


# ---------------------------------------------------------------------- the script, run with /bin/sh


def run_test(tmp_path, test: dict) -> tuple[int, list[str]]:
    """Write the test's script and data files like the LLB does, run it with /bin/sh; (exit code, stderr lines)."""
    spec = TestSpec.model_validate(test)
    scripts = tmp_path / "internal"
    scripts.mkdir(exist_ok=True)
    for fname, text in spec_tests.script_files(spec).items():
        (scripts / fname).write_text(text)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    proc = subprocess.run(["/bin/sh", str(scripts / "test.sh")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.stdout == ""
    return proc.returncode, proc.stderr.splitlines()


def step(command: str, **checks) -> dict:
    return {"name": "t", "steps": [{"command": command, **checks}]}



@pytest.mark.parametrize(
    "command, checks, failures",
    [
        # equals: exact bytes
        ("printf 'hi\\n'", {"stdout": {"equals": "hi\n"}}, []),
        ("printf 'hi'", {"stdout": {"equals": "hi\n"}}, ['test "t": step 0 stdout: does not equal "hi\\n" (got "hi")']),
        ("printf 'hi\\n\\n'", {"stdout": {"equals": "hi\n"}},
         ['test "t": step 0 stdout: does not equal "hi\\n" (got "hi\\n\\n")']),
        ("printf 'a\\\\b \"q\"\\tx\\n'", {"stdout": {"equals": 'a\\b "q"\tx\n'}}, []),
        ("printf 'x\\n'", {"stdout": {"equals": 'a\\b "q"\n'}},
         ['test "t": step 0 stdout: does not equal "a\\\\b \\"q\\"\\n" (got "x\\n")']),
        ("echo '$HOME'", {"stdout": {"equals": "$HOME\n"}}, []),
        # contains: literal strings, several, one with a newline
        ("echo 'a.c [x] -v'", {"stdout": {"contains": ["a.c", "[x]", "-v", ""]}}, []),
        ("echo abc", {"stdout": {"contains": ["a.c", "b", "zz"]}},
         ['test "t": step 0 stdout: does not contain "a.c"', 'test "t": step 0 stdout: does not contain "zz"']),
        ("printf 'one\\ntwo\\n'", {"stdout": {"contains": ["one\ntwo"]}}, []),
        ("printf 'one\\nxtwo\\n'", {"stdout": {"contains": ["one\ntwo"]}},
         ['test "t": step 0 stdout: does not contain "one\\ntwo"']),
        # matches: POSIX ERE per line
        ("echo 'version 1.22.3'", {"stdout": {"matches": ["^version [0-9]+\\.[0-9]+", "(1|2)\\.3$"]}}, []),
        ("echo 'version x'", {"stdout": {"matches": ["[0-9]+"]}}, ['test "t": step 0 stdout: does not match "[0-9]+"']),
        # starts_with / ends_with: bytes, multibyte safe
        ("echo 'héllo wörld'", {"stdout": {"starts_with": "hé", "ends_with": "wörld\n"}}, []),
        ("echo 'hello'", {"stdout": {"starts_with": "help"}},
         ['test "t": step 0 stdout: does not start with "help" (got "hello\\n")']),
        ("echo 'hello'", {"stdout": {"ends_with": "hello"}},
         ['test "t": step 0 stdout: does not end with "hello" (got "hello\\n")']),
        ("echo 'hi'", {"stdout": {"starts_with": "hi there"}},
         ['test "t": step 0 stdout: does not start with "hi there" (got "hi\\n")']),
        # empty; stderr is checked like stdout
        ("true", {"stdout": {"empty": True}, "stderr": {"empty": True}}, []),
        ("echo oops >&2", {"stdout": {"empty": True}, "stderr": {"empty": True}},
         ['test "t": step 0 stderr: is not empty (got 5 bytes: "oops\\n")']),
        ("echo warn >&2", {"stderr": {"equals": "warn\n", "contains": ["war"]}}, []),
        # a failing command fails the test, and its other checks still run
        ("echo out; echo bad >&2; exit 3", {"stdout": {"equals": "nope"}},
         ['test "t": step 0: exited with status 3 (stderr: "bad\\n")',
          'test "t": step 0 stdout: does not equal "nope" (got "out\\n")']),
        # stdin
        ("tr a-z A-Z", {"stdin": "abc\n", "stdout": {"equals": "ABC\n"}}, []),
        ("cat", {"stdout": {"empty": True}}, []),
    ],
)
def test_step_checks(tmp_path, command, checks, failures):
    rc, lines = run_test(tmp_path, step(command, **checks))
    assert lines == failures
    assert rc == (1 if failures else 0)


def test_long_output_is_cut_in_messages(tmp_path):
    rc, (line,) = run_test(tmp_path, step("printf 'x%.0s' $(seq 300)", stdout={"equals": "y"}))
    assert rc == 1 and line.endswith('(got "' + "x" * 200 + '"...)')


def test_env_dir_and_steps_share_the_rootfs(tmp_path):
    work = tmp_path / "work dir"
    test = {
        "name": "env and dir",
        "dir": str(work),
        "env": {"A": "from test", "B": "from test"},
        "steps": [
            {"command": "echo \"$A|$B|$(pwd)\"; echo made > made.txt", "env": {"B": "from step"},
             "stdout": {"equals": f"from test|from step|{work}\n"}},
            {"command": "cat made.txt; echo \"${B:-unset}\"", "stdout": {"equals": "made\nfrom test\n"}},
        ],
        "files": {"made.txt": {"equals": "made\n"}, str(work / "made.txt"): {"contains": ["ma"]}},
    }
    assert run_test(tmp_path, test) == (0, [])


def test_env_cannot_clobber_the_script(tmp_path):
    test = {"name": "t", "env": {"D": "/nowhere", "W": "/nowhere", "failed": "0", "PATH": "/nowhere"},
            "steps": [{"command": "/bin/echo hi", "stdout": {"equals": "no\n"}}]}
    rc, lines = run_test(tmp_path, test)
    assert (rc, lines) == (1, ['test "t": step 0 stdout: does not equal "no\\n" (got "hi\\n")'])


def test_file_checks_pass(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("hello world\n")
    f.chmod(0o640)
    x = tmp_path / "tool"
    x.write_text("#!/bin/sh\n")
    x.chmod(0o4755)
    link = tmp_path / "link"
    link.symlink_to(f)
    test = {
        "name": "files",
        "files": {
            str(f): {"equals": "hello world\n", "contains": ["lo w"], "matches": ["^hel+o"], "starts_with": "hello",
                     "ends_with": "world\n", "permissions": 0o640},
            str(x): {"permissions": 0o755},  # the permission bits only, as Go's FileMode.Perm()
            str(link): {"permissions": 0o640, "contains": ["hello"]},  # follows the link
            str(tmp_path): {"is_dir": True, "permissions": oct(tmp_path.stat().st_mode & 0o777)},
            str(tmp_path / "absent"): {"not_exist": True},
            str(tmp_path / "empty"): {"empty": True},
            str(tmp_path / "exists"): None,  # no checks: it must exist
        },
    }
    (tmp_path / "empty").write_text("")
    (tmp_path / "exists").write_text("x")
    assert run_test(tmp_path, test) == (0, [])


def test_file_checks_fail_and_all_are_reported(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("hello world\n")
    f.chmod(0o644)
    x = tmp_path / "tool"
    x.write_text("")
    x.chmod(0o755)
    d = tmp_path / "d"
    d.mkdir()
    test = {
        "name": "files",
        "files": {
            str(f): {"equals": "bye\n", "contains": ["xyz"], "matches": ["^world"], "starts_with": "world",
                     "ends_with": "hello", "empty": True, "permissions": 0o755},
            str(x): {"permissions": 0o4755},
            str(d): {"contains": ["x"]},
            str(f) + ".d": {"is_dir": True},
            str(tmp_path / "gone"): {"contains": ["x"]},
            str(tmp_path): {"not_exist": True},
        },
    }
    rc, lines = run_test(tmp_path, test)
    p = str(tmp_path)
    assert rc == 1
    assert lines == [
        f'test "files": file {p}: exists, want it not to exist',
        f'test "files": file {p}/d: is a directory, want a file',
        f'test "files": file {p}/f.txt: permissions are 0644, want 0755',
        f'test "files": file {p}/f.txt: does not equal "bye\\n" (got "hello world\\n")',
        f'test "files": file {p}/f.txt: does not contain "xyz"',
        f'test "files": file {p}/f.txt: does not match "^world"',
        f'test "files": file {p}/f.txt: does not start with "world" (got "hello world\\n")',
        f'test "files": file {p}/f.txt: does not end with "hello" (got "hello world\\n")',
        f'test "files": file {p}/f.txt: is not empty (got 12 bytes: "hello world\\n")',
        f'test "files": file {p}/f.txt.d: does not exist',
        f'test "files": file {p}/gone: does not exist',
        f'test "files": file {p}/tool: permissions are 0755, want 04755',
    ]


def test_is_dir_on_a_file(tmp_path):
    (tmp_path / "f").write_text("")
    rc, lines = run_test(tmp_path, {"name": "t", "files": {str(tmp_path / "f"): {"is_dir": True}}})
    assert (rc, lines) == (1, [f'test "t": file {tmp_path}/f: is not a directory'])


def test_quotes_in_names_commands_and_values(tmp_path):
    test = {
        "name": "it's \"quoted\" $HOME",
        "steps": [{"command": "echo \"it's\" '$x' \\`date\\`", "stdout": {"equals": "it's $x `date`\n",
                                                                          "contains": ["it's", "'", "$x"]}},
                  {"command": "echo no", "stdout": {"equals": "it's\n"}}],
    }
    rc, lines = run_test(tmp_path, test)
    assert (rc, lines) == (1, ['test "it\'s \\"quoted\\" $HOME": step 1 stdout: does not equal "it\'s\\n" (got "no\\n")'])


def test_no_checks_only_runs(tmp_path):
    assert run_test(tmp_path, step("true")) == (0, [])
    rc, lines = run_test(tmp_path, step("false"))
    assert (rc, lines) == (1, ['test "t": step 0: exited with status 1 (stderr: "")'])


def test_script_is_posix_sh():
    """The generated script parses with dash -n (Debian's /bin/sh)."""
    result = _compile(HELLO + EXTRA)
    for _, definition in result.tests:
        script = graph(definition).mkfile("/test.sh")
        proc = subprocess.run(["/bin/sh", "-n"], input=script, text=True, capture_output=True)
        assert proc.returncode == 0, proc.stderr



def test_symlink_checks_no_follow_and_link_target(tmp_path):
    target = tmp_path / "target"
    target.write_text("data\n")
    target.chmod(0o600)
    (tmp_path / "l").symlink_to(target)
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    (tmp_path / "dirlink").symlink_to(tmp_path)
    p = str(tmp_path)
    passing = {
        "name": "links",
        "files": {
            f"{p}/l": {"link_target": str(target), "permissions": 0o600, "contains": ["data"]},  # follows for metadata
            f"{p}/dangling": {"not_exist": True, "link_target": f"{p}/missing"},  # a dangling link does not exist...
            f"{p}/dirlink": {"no_follow": True, "permissions": 0o777},  # ...the link itself, with no_follow
        },
    }
    assert run_test(tmp_path, passing) == (0, [])
    failing = {
        "name": "links",
        "files": {
            f"{p}/l": {"link_target": "/elsewhere", "no_follow": True, "permissions": 0o600},
            f"{p}/target": {"link_target": "/x"},
            f"{p}/dangling": {"not_exist": True, "no_follow": True},
            f"{p}/dirlink": {"no_follow": True, "is_dir": True},
        },
    }
    rc, lines = run_test(tmp_path, failing)
    assert rc == 1
    assert lines == [
        f'test "links": file {p}/dangling: exists, want it not to exist',
        f'test "links": file {p}/dirlink: is not a directory',
        f'test "links": file {p}/l: link target is "{target}", want "/elsewhere"',
        f'test "links": file {p}/l: permissions are 0777, want 0600',
        f'test "links": file {p}/target: is not a symbolic link, want link target "/x"',
    ]
