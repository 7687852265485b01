"""Spec strings that reach a generated script, a path in the package or the LLB are checked against their
format at load time, each bad one a positioned line."""

import textwrap

import pytest

from dalecpy.platforms import Platform
from dalecpy.spec import SpecError, load_spec


def errors(text: str) -> list[str]:
    with pytest.raises(SpecError) as ei:
        load_spec(textwrap.dedent(text), "s.yml")
    return str(ei.value).splitlines()


def ok(text: str) -> None:
    load_spec(textwrap.dedent(text), "s.yml")


_BAD_NAME = ": use letters, digits and _, not starting with a digit"


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            'build:\n  env: {"K;touch /tmp/pwn;X": v}\n  steps: [{command: a}]\n',
            's.yml:2:9: build: env: invalid environment variable name "K;touch /tmp/pwn;X"' + _BAD_NAME,
        ),
        (
            "build:\n  steps:\n    - command: a\n      env: {1A: x, OK_1: y}\n",
            's.yml:4:13: build: step 0: invalid environment variable name "1A"' + _BAD_NAME,
        ),
        (
            'tests:\n  - name: t\n    env: {"a-b": 1}\n',
            's.yml:3:11: t: invalid environment variable name "a-b"' + _BAD_NAME,
        ),
        (
            'targets:\n  bookworm:\n    tests:\n      - steps: [{command: x, env: {"A=B": 1}}]\n',
            's.yml:4:36: target bookworm: test 0: step 0: invalid environment variable name "A=B"' + _BAD_NAME,
        ),
        (
            'image:\n  env: ["A B=1", "GOOD=1=2"]\n',
            's.yml:2:9: image: invalid environment variable name "A B"' + _BAD_NAME,
        ),
        ('image:\n  env: ["GOOD=1=2", NOEQ]\n', 's.yml:2:21: image: env entry "NOEQ" must be NAME=value'),
        (
            "sources:\n  s:\n    image:\n      ref: x\n      cmd:\n        env: {\"a b\": 1}\n        steps: [{command: a}]\n    path: /\n",
            's.yml:6:15: invalid source s: invalid environment variable name "a b"' + _BAD_NAME,
        ),
    ],
)
def test_env_names_are_posix(text, expected):
    assert errors(text) == [expected]


def test_env_values_are_free_text():
    ok('build:\n  env: {A: "$(date) `id` \\"q\\" \\n"}\n  steps: [{command: a}]\n')


@pytest.mark.parametrize(
    "text, expected",
    [
        ("sources:\n  '..': {inline: {file: {}}}\n", "s.yml:2:3: invalid source ..: source name must name a file or directory"),
        ("sources:\n  '.': {inline: {dir: {}}}\n", "s.yml:2:3: invalid source .: source name must name a file or directory"),
        ("sources:\n  '': {inline: {dir: {}}}\n", "s.yml:2:3: invalid source : source name must name a file or directory"),
        (
            "artifacts:\n  binaries:\n    out/x: {name: ../../etc/passwd}\n",
            's.yml:3:19: artifacts: binaries "out/x": name "../../etc/passwd" must not contain ".." (it must stay beneath its directory)',
        ),
        (
            "artifacts:\n  configFiles:\n    out/x: {subpath: a/../../b}\n",
            's.yml:3:22: artifacts: configFiles "out/x": subpath "a/../../b" must not contain ".." (it must stay beneath its directory)',
        ),
        ("artifacts:\n  binaries:\n    out/..: {}\n", 's.yml:3:5: artifacts: binaries "out/.." names no file to install as: set name'),
        ("artifacts:\n  docs:\n    '': {}\n", 's.yml:3:5: artifacts: docs "" must not be empty'),
        ('artifacts:\n  docs:\n    "a\\nb": {}\n', 's.yml:3:5: artifacts: docs "a\\nb" must not contain control characters'),
        (
            "artifacts:\n  binaries:\n    out/x: {name: .}\n",
            's.yml:3:19: artifacts: binaries "out/x": name "." must name something beneath its directory, not the directory itself',
        ),
        (
            "artifacts:\n  systemd:\n    dropins:\n      d.conf: {unit: ../../etc}\n",
            's.yml:4:22: artifacts: systemd dropin "d.conf": unit "../../etc" must not contain ".." (it must stay beneath its directory)',
        ),
        (
            "artifacts:\n  systemd:\n    dropins:\n      d.conf: {unit: a/b}\n",
            's.yml:4:22: artifacts: systemd dropin "d.conf": unit "a/b" must be a name, without "/"',
        ),
        (
            "artifacts:\n  systemd:\n    units:\n      u.service: {name: x/y.service}\n",
            's.yml:4:25: artifacts: systemd unit "u.service": name "x/y.service" must be a name, without "/"',
        ),
        (
            "artifacts:\n  createDirectories:\n    state:\n      ../x: {}\n",
            's.yml:4:7: artifacts: createDirectories state: "../x" must not contain ".." (it must stay beneath its directory)',
        ),
        (
            "artifacts:\n  links:\n    - {source: /usr/bin/a, dest: /usr/../../x}\n",
            's.yml:3:34: artifacts: link 0: dest "/usr/../../x" must not contain ".." (it must stay beneath its directory)',
        ),
        ("artifacts:\n  links:\n    - {dest: /usr/bin/x}\n", 's.yml:3:7: artifacts: link 0: source "" must not be empty'),
        (
            "targets:\n  bookworm:\n    artifacts:\n      libs:\n        a: {name: ..}\n",
            's.yml:5:19: target bookworm: artifacts: libs "a": name ".." must not contain ".." (it must stay beneath its directory)',
        ),
    ],
)
def test_paths_stay_beneath_their_root(text, expected):
    assert errors(text) == [expected]


def test_usual_artifact_paths_are_fine():
    ok(
        """\
        artifacts:
          binaries:
            /tmp/ping: {name: ping}
            out/*: {}
            ../elsewhere/tool: {subpath: /sub/dir/}
          manpages:
            man/x.1: {subpath: man1}
          createDirectories:
            config: {my-app: {}, /abs/ok: {}}
          links:
            - {source: ../lib/x.so.1, dest: usr/lib/x.so}
          systemd:
            units: {unit/a.service: {name: b.service}}
            dropins: {unit/d.conf: {unit: a.service}}
        """
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "sources:\n  s: {inline: {file: {uid: 4294967296}}}\n",
            "s.yml:2:28: invalid source s: inline file source validation failed: uid 4294967296 must be at most 4294967295",
        ),
        (
            "sources:\n  s: {inline: {dir: {gid: 99999999999999999999}}}\n",
            "s.yml:2:27: invalid source s: gid 99999999999999999999 must be at most 4294967295",
        ),
        (
            "sources:\n  s: {inline: {dir: {files: {f: {uid: -1}}}}}\n",
            "s.yml:2:39: invalid source s: file 'f': uid -1 must be non-negative",
        ),
    ],
)
def test_ids_fit_in_uint32(text, expected):
    assert errors(text) == [expected]


def test_max_ids_are_fine():
    ok("sources:\n  s: {inline: {file: {uid: 4294967295, gid: 4294967295}}}\n")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("entrypoint", "a 'b", "No closing quotation"),
        ("cmd", "x \\\\", "No escaped character"),
        ("entrypoint", 'sh -c \\"echo', "No closing quotation"),
    ],
)
def test_entrypoint_and_cmd_must_split_into_words(field, value, message):
    errs = errors(f'targets:\n  bookworm:\n    image:\n      {field}: "{value}"\n')
    assert len(errs) == 1 and errs[0].startswith(f"s.yml:4:{9 + len(field)}: target bookworm: image: {field}: cannot split ")
    assert errs[0].endswith(f"into words: {message}")


@pytest.mark.parametrize("arg", [{"A": "\udcff"}, {"\udcfe": "1"}])
def test_build_args_with_lone_surrogates_are_refused(arg):
    ls = load_spec("name: a\nargs: {A: ''}\n", "s.yml")
    with pytest.raises(SpecError) as ei:
        ls.resolve(arg, target_key="bookworm", target_platform=Platform(), build_platform=Platform())
    (line,) = str(ei.value).splitlines()
    assert line.startswith("s.yml: build arg ") and "lone surrogate \\udc" in line
    line.encode()  # one encodable line
