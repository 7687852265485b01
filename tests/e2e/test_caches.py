"""Persistent `build.caches` on a real BuildKit, through the frontend image (no fakes).

Every build here gets a fresh MARKER build arg (reaching the steps through `build.env`), which changes the
build op, so the step really runs each time; what the step saw in each cache is written into the package
as a doc file and read back from the exported .deb.

- tests/e2e/data/caches.yml: every cache kind (dir shared/private/locked, keyless, no_auto_namespace,
  gobuild, bazel) without any build dependency: persistence across builds and isolation across distros.
- specs/go-hello.yml and specs/bazel-genrule.yml (copies with a MARKER arg and extra reporting steps, same
  name and build deps so the installed worker is shared with test_frontend_e2e): a real `go build` and a
  real `bazel build` twice; the second build finds the first one's cache entries.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import pytest
from .conftest import ROOT
from .rerun import derive, with_marker

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parent / "data"
CACHES = DATA / "caches.yml"
RUN = uuid.uuid4().hex[:10]  # this session's markers never match an earlier run's
DIRS = ("shared", "private", "locked", "keyless", "global")


def _marker(name: str) -> str:
    return f"{name}-{RUN}"


def _doc(deb: Path, name: str) -> str:
    """One file from the .deb's /usr/share/doc/<package>/."""
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    members = subprocess.run(["tar", "-t"], input=tar, capture_output=True, check=True).stdout.decode().split()
    (member,) = [m for m in members if m.startswith("./usr/share/doc/") and m.endswith("/" + name)]
    return subprocess.run(["tar", "-xO", member], input=tar, capture_output=True, check=True).stdout.decode()


def build_deb(engine, spec: Path, out: Path, *, target: str = "bookworm/deb", marker: str, doc: str) -> str:
    """Build `spec` for `target` with MARKER=`marker`, export the .deb and return its doc file `doc`."""
    proc = engine.run(engine.build_cmd("-f", str(spec), "--target", target, "--build-arg", f"MARKER={marker}",
                                       "-o", f"type=local,dest={out}", str(spec.parent)))
    assert proc.returncode == 0, f"build of {spec.name} ({target}) failed:\n{proc.stderr[-6000:]}"
    (deb,) = out.glob("*.deb")
    return _doc(deb, doc)


def _fields(text: str) -> dict[str, str]:
    return {k: v.strip() for k, v in re.findall(r"^([\w-]+): ?(.*)$", text, re.M)}


def _markers(fields: dict[str, str], name: str) -> list[str]:
    return fields[name].split()



# ------------------------------------------------------------------ every cache kind, no build deps


@pytest.fixture(scope="module")
def cache_runs(engine, frontend_image, tmp_path_factory):
    """Three builds of caches.yml: bookworm (writes m1), bookworm again (sees m1), trixie (sees m1 only globally)."""
    base = tmp_path_factory.mktemp("caches")
    runs = {}
    for name, target in (("m1", "bookworm/deb"), ("m2", "bookworm/deb"), ("t1", "trixie/deb")):
        runs[name] = _fields(build_deb(engine, CACHES, base / name, target=target, marker=_marker(name),
                                       doc="seen.txt"))
    return runs


def test_every_cache_kind_persists_across_builds(cache_runs):
    first, second = cache_runs["m1"], cache_runs["m2"]
    m1 = _marker("m1")
    for kind in (*DIRS, "gobuild", "bazel"):
        assert m1 not in _markers(first, kind), (kind, first)
        assert m1 in _markers(second, kind), f"cache {kind} lost build 1's marker: {second}"
    assert second["GOCACHE"] == "/tmp/dalec/gobuild-cache"


def test_caches_are_namespaced_by_distro(cache_runs):
    trixie = cache_runs["t1"]
    m1, m2 = _marker("m1"), _marker("m2")
    for kind in ("shared", "private", "locked", "keyless", "gobuild", "bazel"):
        seen = _markers(trixie, kind)
        assert m1 not in seen and m2 not in seen, f"trixie build sees bookworm's {kind} cache: {trixie}"
    assert {m1, m2} <= set(_markers(trixie, "global")), f"no_auto_namespace cache not shared: {trixie}"


def test_bazel_rc_without_socket(cache_runs):
    for run in cache_runs.values():
        assert run["bazelrc-disk"] == "2"  # build and fetch --disk_cache
        assert run["bazelrc-remote"] == "0"  # no socket forwarded: no remote lines


# ------------------------------------------------------------------ GOCACHE rules


def test_gobuild_cache_unset_without_go(engine, frontend_image, tmp_path):
    def edit(doc):
        doc["build"]["caches"] = [c for c in doc["build"]["caches"] if "gobuild" not in c]
        doc["build"]["steps"][0]["command"] = doc["build"]["steps"][0]["command"].replace(
            'seen gobuild "$GOCACHE"\n', "")

    spec = derive(CACHES, tmp_path / "nogo.yml", edit)
    fields = _fields(build_deb(engine, spec, tmp_path / "out", marker=_marker("nogo"), doc="seen.txt"))
    assert fields["GOCACHE"] == "unset"


GO_REPORT = 'mkdir -p out && echo "GOCACHE: ${GOCACHE:-unset}" > out/go.txt'
GO_COUNT = 'echo "gocache-{when}: $(find "${{GOCACHE:-/nonexistent}}" -mindepth 2 -type f 2>/dev/null | wc -l)" >> out/go.txt'
GO_BUILD = "go build -o ../out/go-hello ."
GO_BUILD_X = ("go build -x -o ../out/go-hello . 2>../out/go-x.log || { cat ../out/go-x.log; exit 1; }\n"
              'echo "compiles: $(grep -c "/compile " ../out/go-x.log)" >> ../out/go.txt')


def _unique_sources(files, comment: str) -> None:
    """Append a per-session comment to every inline source file: build 1 of this session misses every cache."""
    for f in files.values():
        f["contents"] = str(f["contents"]) + comment


def test_gobuild_disabled_with_go_dep(engine, frontend_image, tmp_path):
    def edit(doc):
        with_marker(doc)
        doc["build"]["caches"] = [{"gobuild": {"disabled": True}}]
        doc["build"]["steps"] = [{"command": GO_REPORT}]
        doc["artifacts"] = {"docs": {"out/go.txt": {}}}  # no go build here: no binary either

    spec = derive(ROOT / "specs" / "go-hello.yml", tmp_path / "go-disabled.yml", edit)
    fields = _fields(build_deb(engine, spec, tmp_path / "out", marker=_marker("godis"), doc="go.txt"))
    assert fields["GOCACHE"] == "unset"


def test_real_go_build_reuses_the_go_cache(engine, frontend_image, tmp_path):
    """specs/go-hello.yml (golang-go: the gobuild cache is auto-added) built twice with sources new to the cache:
    build 1 compiles both packages and adds entries to GOCACHE, build 2 finds them and compiles nothing."""

    def edit(doc):
        with_marker(doc)
        for src in doc["sources"].values():
            _unique_sources(src["inline"]["dir"]["files"], f"\n// dalecpy e2e run {RUN}\n")
        steps = doc["build"]["steps"]
        assert GO_BUILD in steps[0]["command"], "specs/go-hello.yml changed: update this test"
        steps[0]["command"] = str(steps[0]["command"]).replace(GO_BUILD, GO_BUILD_X)
        steps.insert(0, {"command": GO_REPORT + "\n" + GO_COUNT.format(when="before")})
        steps.append({"command": GO_COUNT.format(when="after")})
        doc.setdefault("artifacts", {})["docs"] = {"out/go.txt": {}}

    spec = derive(ROOT / "specs" / "go-hello.yml", tmp_path / "go-hello.yml", edit)
    first = _fields(build_deb(engine, spec, tmp_path / "out1", marker=_marker("go1"), doc="go.txt"))
    second = _fields(build_deb(engine, spec, tmp_path / "out2", marker=_marker("go2"), doc="go.txt"))
    print(f"go build 1: {first}\ngo build 2: {second}")
    assert first["GOCACHE"] == second["GOCACHE"] == "/tmp/dalec/gobuild-cache"
    assert int(first["compiles"]) >= 2, first  # main and greet: new to the cache
    assert int(first["gocache-after"]) > int(first["gocache-before"]), first
    assert int(second["gocache-before"]) >= int(first["gocache-after"]), (first, second)
    assert int(second["compiles"]) == 0, f"build 2 recompiled: the Go build cache did not persist {second}"


# ------------------------------------------------------------------ Bazel disk cache

BAZEL_BEFORE = """mkdir -p out
cp /etc/bazel.bazelrc out/bazelrc.txt
for d in ac cas; do
  echo "$d-before: $(find /tmp/dalec/bazel-local-cache/$d -type f 2>/dev/null | wc -l)" >> out/bazel.txt
done"""
BAZEL_BUILD = "bazel build --color=no --curses=no //:hello"
BAZEL_BUILD_LOG = (BAZEL_BUILD + " 2>../out/bazel-build.log || { cat ../out/bazel-build.log; exit 1; }\n"
                   "cat ../out/bazel-build.log")
BAZEL_AFTER = """for d in ac cas; do
  echo "$d-after: $(find /tmp/dalec/bazel-local-cache/$d -type f 2>/dev/null | wc -l)" >> out/bazel.txt
done"""


def test_real_bazel_build_fills_and_reuses_the_disk_cache(engine, frontend_image, tmp_path):
    def edit(doc):
        with_marker(doc)
        _unique_sources(doc["sources"]["src"]["inline"]["dir"]["files"], f"# dalecpy e2e run {RUN}\n")
        steps = doc["build"]["steps"]
        assert BAZEL_BUILD in steps[0]["command"], "specs/bazel-genrule.yml changed: update this test"
        steps[0]["command"] = str(steps[0]["command"]).replace(BAZEL_BUILD, BAZEL_BUILD_LOG)
        steps.insert(0, {"command": BAZEL_BEFORE})
        steps.append({"command": BAZEL_AFTER})
        doc.setdefault("artifacts", {})["docs"] = {"out/bazel.txt": {}, "out/bazelrc.txt": {}, "out/bazel-build.log": {}}

    spec = derive(ROOT / "specs" / "bazel-genrule.yml", tmp_path / "bazel-genrule.yml", edit)
    first = _fields(build_deb(engine, spec, tmp_path / "out1", marker=_marker("bz1"), doc="bazel.txt"))
    second_out = tmp_path / "out2"
    second = _fields(build_deb(engine, spec, second_out, marker=_marker("bz2"), doc="bazel.txt"))
    print(f"bazel build 1: {first}\nbazel build 2: {second}")
    for d in ("ac", "cas"):
        assert int(first[f"{d}-after"]) > int(first[f"{d}-before"]), f"bazel build 1 added no {d}/ entries: {first}"
        assert int(second[f"{d}-before"]) >= int(first[f"{d}-after"]), f"disk cache {d}/ not kept: {first} {second}"
    (deb,) = second_out.glob("*.deb")
    log = _doc(deb, "bazel-build.log")
    assert re.search(r"\b1 (disk|remote) cache hit\b", log), f"build 2's genrule was not a cache hit:\n{log}"
    rc = _doc(deb, "bazelrc.txt")
    assert "build --disk_cache=/tmp/dalec/bazel-local-cache" in rc
    assert "fetch --disk_cache=/tmp/dalec/bazel-local-cache" in rc
    assert "remote_cache" not in rc  # no socket forwarded
