"""The parity harness's own parts, without Dalec: readers, comparison, deliberate-difference list, CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path


from dalecpy.compile import CompileOptions, compile_spec, effective_caches
from dalecpy.llb import ops_pb2 as pb
from dalecpy.platforms import Platform
from dalecpy.spec import load_spec_file
from tests.frontend import fakebridge
from tests.parity import compare as cmp
from tests.parity.facts import Cache, Facts, _dalec_deb_layout, control_stanzas, dalecpy_facts

REPO = Path(__file__).resolve().parents[2]
AMD64 = Platform.parse("linux/amd64")


def _facts(spec: str, target: str = "bookworm/deb") -> Facts:
    loaded = load_spec_file(REPO / spec)
    result = compile_spec(loaded, CompileOptions(target=target, platform=AMD64,
                                                 llb_caps=frozenset(fakebridge.CURRENT_LLB_CAPS)))
    return dalecpy_facts([result.definition, *(d for _, d in result.tests)])


def test_every_deliberate_difference_is_a_readme_line():
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Where dalecpy differs from Dalec on purpose", 1)[1].split("\n## ", 1)[0]
    for known in cmp.DELIBERATE:
        assert known.readme in section, known.key


def test_every_open_difference_is_in_docs_parity_md():
    docs = (REPO / "docs" / "parity.md").read_text()
    assert not [o.key for o in (*cmp.OPEN, *cmp.BUILT_OPEN) if f"- `{o.key}`:" not in docs]


def test_dalecpy_reader_on_hello():
    facts = _facts("specs/hello.yml")
    loaded = load_spec_file(REPO / "specs/hello.yml")
    expected = {Cache(c.id, c.dest, c.sharing)
                for c in effective_caches(loaded, CompileOptions(target="bookworm/deb", platform=AMD64))}
    # hello installs nothing, so its graph has no apt op (`dalecpy caches` lists the apt caches regardless)
    assert facts.caches == {c for c in expected if not c.dest.startswith(("/var/cache/apt", "/var/lib/apt"))}
    assert facts.found_build
    assert facts.build_env["GREETING"] == "Hello from dalecpy"
    assert len(facts.steps) == 2 and facts.steps[1].startswith("mkdir -p out")
    assert facts.layout == {"/usr/bin/dalec-hello": "out/dalec-hello"}
    assert facts.version == "1.0.0-1"


def test_dalecpy_reader_on_every_artifact_kind():
    facts = _facts("tests/parity/specs/artifacts.yml")
    assert facts.layout["/usr/bin/parity-tool"] == "out/tool.sh"
    assert facts.layout["/usr/bin/extra/helper.sh"] == "out/helper.sh"
    assert facts.layout["/usr/share/man/man1/tool.1"] == "out/tool.1"
    assert facts.layout["/var/lib/parity"] == "dir"
    assert facts.layout["/usr/bin/ptool"] == "-> /usr/bin/parity-tool"
    assert facts.modes["/usr/bin/extra/helper.sh"] == "700" and facts.modes["/var/lib/parity"] == "750"
    assert facts.deps["Depends"] == ["bash", "libc6 (>= 2.36)"]
    assert facts.deps["build"] == ["make", "pkg-config (>= 0.29)"]
    assert facts.build_env == {"DEBIAN_FRONTEND": "noninteractive", "HOME": "${HOME:-/root}",
                               "FLAVOUR": "plain", "BUILD_MODE": "release"}


def test_bazel_facts():
    facts = _facts("specs/bazel-remote-cache.yml")
    assert facts.bazelrc == {"\nbuild --disk_cache=/tmp/dalec/bazel-local-cache\n"
                             "fetch --disk_cache=/tmp/dalec/bazel-local-cache\n"}
    assert facts.bazel_remote == {"build --remote_cache=unix:/tmp/dalec/bazel-remote.sock",
                                  "fetch --remote_cache=unix:/tmp/dalec/bazel-remote.sock"}
    assert facts.ssh == {("bazel-default", "/tmp/dalec/bazel-remote.sock", True)}


def test_dalec_debian_dir_reader():
    """debhelper's files as Dalec writes them (formats, not Dalec's text): where each entry lands."""
    files = {
        "/debian/p.install": b"do_install debian/p/usr/bin debian/p/usr/bin/tool out/tool.sh\n"
                             b"do_install debian/p/usr/lib debian/p/usr/lib out/a.so out/b.so\n",
        "/debian/p.docs": b"out/README.md\n",
        "/debian/p.manpages": b"out/tool.8\n",
        "/debian/p.dirs": b"/etc/p\n",
        "/debian/p.links": b"usr/bin/tool usr/bin/t\n",
        "/debian/dalec/fix_perms.sh": b'#!/bin/sh\nchmod 700 "debian/p/usr/bin/tool"\n',
    }
    facts = Facts()
    _dalec_deb_layout(files, "p", facts)
    assert facts.layout == {
        "/usr/bin/tool": "out/tool.sh", "/usr/lib/a.so": "out/a.so", "/usr/lib/b.so": "out/b.so",
        "/usr/share/doc/p/README.md": "out/README.md", "/usr/share/man/man8/tool.8": "out/tool.8",
        "/etc/p": "dir", "/usr/bin/t": "-> /usr/bin/tool",
    }
    assert facts.modes == {"/usr/bin/tool": "700"}


def test_control_stanzas_read_both_styles():
    text = ("# generated\n\nSource:x\nBuild-Depends: debhelper-compat (= 11),\n  make\n\n"
            "Package: x\nDepends: ${misc:Depends},\n         bash\nDescription: d\nlong line\n")
    src, pkg = control_stanzas(text)
    assert src["Source"] == "x" and "make" in src["Build-Depends"]
    assert pkg["Depends"].split("\n")[-1] == "bash"


def test_compare_reports_each_kind_of_difference():
    base = _facts("tests/parity/specs/artifacts.yml")
    other = replace(
        base,
        caches=set(base.caches) | {Cache("debian12-linux/amd64-k", "/k", "locked")},
        build_env={**base.build_env, "FLAVOUR": "fancy"},
        steps=[*base.steps[:-1], "echo changed"],
        deps={**base.deps, "Depends": ["bash"]},
        layout={**base.layout, "/usr/bin/parity-tool": "out/other"},
        modes={**base.modes, "/var/lib/parity": "755"},
        version="2.3.4-4",
    )
    aspects = {d.aspect for d in cmp.compare(base, other)}
    assert aspects == {"cache", "env", "steps", "deps:Depends", "layout", "mode", "version"}
    assert cmp.compare(base, base) == []


def test_deliberate_apt_ids_match_only_the_namespacing():
    dalec = Facts(caches={Cache("bookwormdalec-var-cache-apt", "/var/cache/apt", "locked"),
                          Cache("debian12-linux/amd64-k", "/k", "shared")})
    ours = Facts(caches={Cache("debian12-linux/amd64-dalec-var-cache-apt", "/var/cache/apt", "locked"),
                         Cache("debian12-linux/amd64-k", "/k", "locked")})
    diffs = cmp.compare(dalec, ours)
    assert [cmp.deliberate_for(d).key if cmp.deliberate_for(d) else None for d in diffs] == [None, "package-manager-cache-ids"]  # sorted by dest: /k first


def test_open_entries_do_not_swallow_other_differences():
    d = cmp.Difference("deps:build", "deps build: ...", ["make"], ["make", "zlib1g-dev"])
    assert cmp.open_for(d, "s.yml", "bookworm/deb") is None
    d = cmp.Difference("deps:build", "deps build: ...", ["make"], ["make", "patch"])
    assert cmp.open_for(d, "s.yml", "bookworm/deb").key == "patch-build-dep"


def test_fake_bridge_resolves_source_meta():
    from dalecpy.frontend import gateway_pb2 as gw

    bridge = fakebridge.FakeBridge({})
    img = bridge.ResolveSourceMeta(gw.ResolveSourceMetaRequest(
        Source=pb.SourceOp(identifier="docker-image://docker.io/library/debian:bookworm"),
        Platform=pb.Platform(OS="linux", Architecture="arm64")), None)
    assert img.Image.Digest.startswith("sha256:") and b'"arm64"' in img.Image.Config
    git = bridge.ResolveSourceMeta(gw.ResolveSourceMetaRequest(Source=pb.SourceOp(identifier="git://x/y")), None)
    assert git.Source.identifier == "git://x/y" and not git.HasField("Image")


def test_cli_without_dalec_says_why():
    env = dict(os.environ, DALEC_FRONTEND="/nonexistent/frontend")
    proc = subprocess.run([sys.executable, "-m", "tests.parity", "specs", "--target", "bookworm/deb"], cwd=REPO,
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 3
    assert proc.stderr.strip() == "parity: skipped: DALEC_FRONTEND=/nonexistent/frontend is not an executable file"


def test_build_script_steps_in_both_closing_styles():
    from tests.parity.facts import _script_facts

    env, steps = _script_facts('#!/bin/sh\nset -e\nexport "A"="1 2"\n(\nmake\n)\n(\necho "$(date)")\n(\nexport B=x\nrun)\n')
    assert env == {"A": "1 2"}
    assert steps == ["make", 'echo "$(date)"', "export B=x\nrun"]
