"""`.dockerignore` parsing and the sender's path filter."""

from __future__ import annotations

import os

import pytest

from dalecpy.client.filesync import walk
from dalecpy.client.patterns import PathFilter, clean, match, read_dockerignore


def test_read_dockerignore(tmp_path):
    (tmp_path / ".dockerignore").write_text("# comment\n\n /build/ \n!build/keep\n./a/../b\n*.log\n")
    assert read_dockerignore(tmp_path / ".dockerignore") == ["build", "!build/keep", "b", "*.log"]
    assert read_dockerignore(tmp_path / "missing") == []


@pytest.mark.parametrize("pattern,path,want", [
    ("*.log", "x.log", True),
    ("*.log", "sub/x.log", False),  # `*` does not cross directories
    ("**/*.log", "sub/deep/x.log", True),
    ("**/*.log", "x.log", True),
    ("build", "build/out/file", True),  # a matched directory covers its contents
    ("sub/*.txt", "sub/a.txt", True),
    ("sub/?.txt", "sub/ab.txt", False),
    ("[ab].txt", "b.txt", True),
    ("[^ab].txt", "c.txt", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
    ("docs/**", "docs/x/y", True),
])
def test_match(pattern, path, want):
    assert match(clean(pattern), path) is want


def test_exceptions_last_match_wins():
    f = PathFilter(excludes=["build", "!build/keep", "*.tmp"])
    assert f.excluded("build/x")
    assert not f.excluded("build/keep")
    assert not f.excluded("build/keep/inner")
    assert f.excluded("a.tmp")
    assert not f.excluded("src/a.tmp")


def _tree(root, files):
    for rel, data in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(data)


def test_walk_order_and_filters(tmp_path):
    _tree(tmp_path, {"b.txt": "", "a/x.log": "", "a/y.txt": "", "a.b": "", "build/keep": "", "build/drop": "",
                     "node_modules/m/i.js": ""})
    paths = [s.path for s in walk(tmp_path)]
    # depth first, names sorted bytewise, a directory before its contents
    assert paths == ["a", "a/x.log", "a/y.txt", "a.b", "b.txt", "build", "build/drop", "build/keep",
                     "node_modules", "node_modules/m", "node_modules/m/i.js"]
    f = PathFilter(excludes=["**/*.log", "node_modules", "build", "!build/keep"])
    assert [s.path for s in walk(tmp_path, f)] == ["a", "a/y.txt", "a.b", "b.txt", "build", "build/keep"]


def test_walk_includes_send_parents_lazily(tmp_path):
    _tree(tmp_path, {"docs/a.md": "", "docs/img/x.png": "", "src/main.c": "", "top.md": ""})
    f = PathFilter(includes=["docs/img", "*.md"])
    assert [s.path for s in walk(tmp_path, f)] == ["docs", "docs/img", "docs/img/x.png", "top.md"]
    f = PathFilter(includes=["**/*.md"])
    assert [s.path for s in walk(tmp_path, f)] == ["docs", "docs/a.md", "top.md"]


def test_followpaths_include_symlink_targets(tmp_path):
    _tree(tmp_path, {"real/spec.yml": "x", "other": ""})
    os.symlink("real/spec.yml", tmp_path / "spec.yml")
    f = PathFilter(follow_paths=["spec.yml"])
    assert [s.path for s in walk(tmp_path, f)] == ["real", "real/spec.yml", "spec.yml"]
