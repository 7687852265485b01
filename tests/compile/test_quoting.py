"""Spec values in generated scripts and package metadata are data: quoted where they are words, checked against
Debian's syntax where they are control-file fields. The install script is run here with a real `sh`."""

from __future__ import annotations

import shlex
import subprocess
import textwrap

import pytest

from dalecpy.compile import CompileOptions, compile_spec
from dalecpy.compile.debian import glob_word
from dalecpy.spec import SpecError, load_spec

from .conftest import compile_text, graph

HEAD = """\
name: s
description: d
version: "1.0"
revision: "1"
build:
  steps: [{command: "true"}]
"""


def package_script(extra: str, **kw) -> str:
    return compile_text(HEAD + textwrap.dedent(extra), "bookworm/deb", **kw).mkfile("/package.sh")


def run_install(script: str, tmp_path, files: dict[str, str]) -> set[str]:
    """Run the artifact-install part of package.sh with `sh` in a scratch build dir holding `files`;
    returns the paths created under the package root."""
    build, root = tmp_path / "build", tmp_path / "root"
    for rel, text in files.items():
        p = build / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    head, _, _ = script.partition("cp /tmp/dalec/internal/control")
    head = head.replace("R=/tmp/dalec/pkgroot", f"R={shlex.quote(str(root))}").replace(
        "cd /build", f"cd {shlex.quote(str(build))}"
    )
    subprocess.run(["sh", "-c", head], check=True, cwd=tmp_path, capture_output=True)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_artifact_names_with_metacharacters_install_as_one_file(tmp_path):
    script = package_script(
        """\
        artifacts:
          binaries:
            "out/a b;touch pwned;x": {}
            "out/$(touch pwned2)": {}
            "out/-rf": {}
            "out/q'uote\\"": {name: "n a;m`id`e"}
        """
    )
    made = run_install(
        script, tmp_path,
        {"out/a b;touch pwned;x": "1", "out/$(touch pwned2)": "2", "out/-rf": "3", "out/q'uote\"": "4"},
    )
    assert made == {
        "DEBIAN", "usr/bin/a b;touch pwned;x", "usr/bin/$(touch pwned2)", "usr/bin/-rf", "usr/bin/n a;m`id`e",
    } - {"DEBIAN"}
    assert not list(tmp_path.rglob("pwned*"))


def test_glob_characters_stay_globs_and_the_rest_is_quoted(tmp_path):
    script = package_script(
        """\
        artifacts:
          binaries:
            "out/bin dir;x/tool-*": {}
          docs:
            "doc/[ab].md": {}
            "doc/*.txt;touch pwned": {}
        """
    )
    made = run_install(
        script, tmp_path,
        {"out/bin dir;x/tool-1": "", "out/bin dir;x/tool-2": "", "doc/a.md": "", "doc/c.md": "",
         "doc/r.txt;touch pwned": ""},
    )
    assert made == {"usr/bin/tool-1", "usr/bin/tool-2", "usr/share/doc/s/a.md", "usr/share/doc/s/r.txt;touch pwned"}
    assert not list(tmp_path.rglob("pwned"))


@pytest.mark.parametrize(
    "path, words",
    [
        ("out/x", "'out/x'"),
        ("out/*", "'out/'*"),
        ("a b/*.so.?", "'a b/'*'.so.'?"),
        ("x/[0-9]*;rm -rf /", "'x/'[0-9]*';rm -rf /'"),
        ("x/[a b]", "'x/[a b]'"),  # a set with a space is not a plain set: literal
        ("it's/*", "'it'\"'\"'s/'*"),
    ],
)
def test_glob_word(path, words):
    assert glob_word(path) == words
    assert len(shlex.split(words)) == 1


def test_links_dirs_and_subpaths_stay_in_the_package_root(tmp_path):
    script = package_script(
        """\
        artifacts:
          binaries:
            out/tool: {subpath: /sbin-like/}
          createDirectories:
            config: {/abs: {}, "sp ace": {}}
            state: {"-x": {}}
          links:
            - {source: "../lib/x;y", dest: usr/bin/rel}
            - {source: "-n", dest: "/usr/bin/dash-n"}
        """
    )
    made = run_install(script, tmp_path, {"out/tool": ""})
    assert made == {"usr/bin/sbin-like/tool", "usr/bin/rel", "usr/bin/dash-n"}
    root = tmp_path / "root"
    assert (root / "etc/abs").is_dir() and (root / "etc/sp ace").is_dir() and (root / "var/lib/-x").is_dir()
    assert (root / "usr/bin/rel").readlink().as_posix() == "../lib/x;y"
    assert (root / "usr/bin/dash-n").readlink().as_posix() == "-n"


def test_build_env_values_expand_by_design_and_test_env_values_are_data():
    text = (
        HEAD.replace('  steps: [{command: "true"}]\n', '  env: {A: "$(date) `id`"}\n  steps: [{command: "true"}]\n')
        + 'tests:\n  - name: t\n    env: {B: "$(date) `id`;x"}\n    steps: [{command: "true"}]\n'
    )
    result = compile_spec(load_spec(text, "spec.yml"), CompileOptions(target="bookworm/container"))
    assert 'export A="$(date) `id`"\n' in graph(result.definition).mkfile("/build.sh")
    (_, test_def), = result.tests
    assert "  export B='$(date) `id`;x'\n" in graph(test_def).mkfile("/test.sh")


@pytest.mark.parametrize(
    "extra, expected",
    [
        ('version: "1.0\\nEssential: yes"', 'spec.yml:3:10: version: "1.0\\nEssential: yes" is not a Debian version'),
        ('revision: "1\\nX: y"', 'spec.yml:4:11: revision: "1\\nX: y" is not a Debian revision: the revision must be'),
        ('version: "v1.0"', 'spec.yml:3:10: version: "v1.0" is not a Debian version: the version must start with a digit'),
        ('revision: "1-2"', 'spec.yml:4:11: revision: "1-2" is not a Debian revision'),
        ('packager: "me\\nDepends: evil"', 'spec.yml:7:11: packager: "me\\nDepends: evil" must be one line'),
        ('website: "https://x\\nPre-Depends: evil"', 'spec.yml:7:10: website: "https://x\\nPre-Depends: evil" must be one line'),
        ("name: 'a b'", 'spec.yml:1:7: name: "a b" is not a Debian package name'),
    ],
)
def test_control_fields_cannot_add_lines(extra, expected):
    key = extra.split(":")[0]
    text = "\n".join(line for line in HEAD.splitlines() if not line.startswith(key + ":"))
    lines = text.splitlines()
    lines.insert({"name": 0, "version": 2, "revision": 3}.get(key, 6), extra)
    with pytest.raises(SpecError) as ei:
        compile_text("\n".join(lines) + "\n")
    (line,) = str(ei.value).splitlines()
    assert line.startswith(expected), line


@pytest.mark.parametrize(
    "dep, expected",
    [
        ('evil: {version: [">=1),evil(>=0"]}', 'spec.yml:9:22: dependency evil: invalid version constraint ">=1),evil(>=0"'),
        ('evil: {version: [">= 1\\nX: y"]}', 'spec.yml:9:22: dependency evil: invalid version constraint ">= 1\\nX: y"'),
        ('evil: {version: [">= (1)"]}', 'spec.yml:9:22: dependency evil: invalid version constraint ">= (1)"'),
        ('"a, b": {}', 'spec.yml:9:13: dependency "a, b" is not a Debian package name'),
        ('"a\\nDepends": {}', 'spec.yml:9:19: dependency "a\\nDepends" is not a Debian package name'),
        ('"a:amd64 b": {}', 'spec.yml:9:18: dependency "a:amd64 b": the architecture qualifier'),
        ('ok: {arch: ["amd64]", "x"]}', 'spec.yml:9:17: dependency ok: "amd64]" is not a Debian architecture'),
    ],
)
def test_relations_cannot_add_relations(dep, expected):
    with pytest.raises(SpecError) as ei:
        compile_text(HEAD + f"dependencies:\n  runtime:\n    {dep}\n")
    (line,) = str(ei.value).splitlines()
    assert line.startswith(expected), line


def test_relations_dalec_writes():
    g = compile_text(
        HEAD + 'dependencies:\n  runtime:\n    a: {version: ["1.2"]}\n    b: {version: ["< 2", "> 1:0.5~rc1"]}\n'
        '    c:any: {}\n    d: {arch: [amd64, "!arm64", linux-any]}\n'
    )
    control = g.mkfile("/control")
    assert "Depends: a (= 1.2), b (<< 2), b (>> 1:0.5~rc1), c:any, d [amd64 !arm64 linux-any]\n" in control


def test_epoch_is_not_in_the_deb_file_name():
    script = compile_text(HEAD.replace('version: "1.0"', 'version: "2:1.0"')).mkfile("/package.sh")
    assert "/tmp/dalec/out/'s_1.0-1_amd64.deb'" in script
    assert "Version: 2:1.0-1\n" in compile_text(HEAD.replace('version: "1.0"', 'version: "2:1.0"')).mkfile("/control")


def test_build_deps_meta_package_name_is_always_valid():
    g = compile_text(HEAD.replace("name: s", "name: My_App") + "dependencies:\n  build: [make]\n", "bookworm/worker")
    assert g.mkfile("/deps.control").startswith("Package: dalecpy-build-deps-my-app\n")


def test_substituted_version_is_checked_after_substitution():
    text = HEAD.replace('version: "1.0"', 'version: "${V}"') + "args: {V: '1.0'}\n"
    compile_text(text)
    with pytest.raises(SpecError, match=r'spec.yml:3:10: version: "1.0\\n" is not a Debian version'):
        compile_text(text, build_args={"V": "1.0\n"})
