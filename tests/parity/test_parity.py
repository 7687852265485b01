"""Dalec's own frontend against dalecpy on this repository's specs (mark `parity`; skipped when Dalec's
frontend cannot be built here: see scripts/dalec-frontend.sh)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from dalecpy.compile import lookup, visible_routes
from dalecpy.platforms import Platform
from tests.parity import compare as cmp
from tests.parity import dalec
from tests.parity.facts import dalecpy_facts
from tests.parity.run import DALEC_REJECTS, UNKNOWN_TARGET, check_pair, report, spec_files

pytestmark = pytest.mark.parity

REPO = Path(__file__).resolve().parents[2]
SPEC_DIRS = ("specs", "tests/e2e/data", "tests/client/data", "tests/spec/data", "tests/parity/specs")
AMD64 = Platform.parse("linux/amd64")
#: Debian's targets, each Debian and Ubuntu release's .deb, containers of one of each, every RPM distro's .rpm, a
#: container and the spec file of two, windowscross (each with its default platform); ~25 s with Dalec's binary
TARGETS = (
    *(r.path for r in visible_routes() if r.target_key in ("bookworm", "trixie") and r.distro_key),
    *(f"{d}/deb" for d in ("bullseye", "bionic", "focal", "jammy", "noble", "resolute")),
    "jammy/container", "bullseye/testing/container", "noble/worker",
    *(f"{r}/rpm" for r in ("azlinux3", "azlinux4", "almalinux8", "almalinux9", "rockylinux8", "rockylinux9")),
    "azlinux3/container", "almalinux9/container", "azlinux3/rpm/debug/spec", "rockylinux9/rpm/debug/spec",
    "windowscross/zip", "windowscross/container",
)


def _platform(target: str) -> Platform:
    """The platform a request without one builds for (windowscross: windows/amd64)."""
    return lookup(target).default_platform(AMD64)


@pytest.fixture(scope="module")
def binary() -> str:
    try:
        return dalec.frontend_binary()
    except dalec.Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def results(binary):
    return [check_pair(binary, p, t, _platform(t), {}, label=str(p.relative_to(REPO)))
            for p in spec_files(REPO / d for d in SPEC_DIRS) for t in TARGETS]


def _report(results) -> str:
    buf = io.StringIO()
    report(results, buf)
    return buf.getvalue()


def test_no_unexplained_difference(results):
    """Every difference is deliberate (README) or a reported open one (compare.OPEN)."""
    assert not [r for r in results if r.differences], _report(results)


def test_every_open_difference_still_occurs(results):
    """An OPEN entry that no longer matches anything was fixed: remove it."""
    seen = {o.key for r in results for o, _ in r.open}
    assert not [o.key for o in cmp.OPEN if o.key not in seen], _report(results)


def test_dalecs_graph_is_read(results):
    """The Dalec reader found the package build in every Debian graph Dalec made (guards against a Dalec
    release that moves things: a reader that finds nothing would compare as equal)."""
    for r in results:
        if r.dalec is not None and r.target.endswith("/debug/spec"):
            assert r.dalec.layout and r.dalec.version, r.label  # the spec file alone: no build op
        elif r.dalec is not None and r.target.startswith("windowscross/"):
            assert r.dalec.found_build and r.dalec.steps, r.label
        elif r.dalec is not None and not r.target.endswith("/worker"):
            assert r.dalec.found_build and r.dalec.layout and r.dalec.version, r.label


def test_difference_is_noticed(binary, tmp_path):
    """Dalec's facts for hello against dalecpy's for hello with one cache key changed: the one cache differs."""
    spec = (REPO / "specs/hello.yml").read_text()
    changed = tmp_path / "hello.yml"
    changed.write_text(spec.replace("key: hello-locked", "key: hello-other"))
    from tests.parity.run import _dalecpy

    theirs = dalec.run(binary, spec.encode(), "bookworm/deb", AMD64, {})
    from tests.parity.facts import dalec_facts

    dfacts = dalec_facts(theirs.definitions, "dalec-hello")
    _, defs, _, err, _ = _dalecpy(changed, "bookworm/deb", AMD64, {})
    assert err is None
    diffs = [d for d in cmp.compare(dfacts, dalecpy_facts(defs)) if d.aspect == "cache"]
    assert [d.text for d in diffs if "/var/cache/hello/locked" in d.text] == [
        "cache at /var/cache/hello/locked: Dalec debian12-linux/amd64-hello-locked (locked), "
        "dalecpy debian12-linux/amd64-hello-other (locked)"]


@pytest.mark.parametrize("target, distro_key", [("azlinux3/rpm", "azlinux3"), ("jammy/deb", "ubuntu22.04")])
def test_dalec_only_targets_report_dalecs_caches(binary, target, distro_key):
    """Targets dalecpy may not route yet: Dalec's cache IDs, deps and layout are still read."""
    r = check_pair(binary, REPO / "specs/go-hello.yml", target, AMD64, {}, label="specs/go-hello.yml")
    assert r.dalec is not None and r.dalec.found_build
    assert any(c.id == f"{distro_key}-linux/amd64-dalec-gobuildcache" for c in r.dalec.caches)
    assert r.dalec.deps["build"] == ["golang-go"]
    if r.status == UNKNOWN_TARGET:
        assert f"DALEC specs/go-hello.yml {target}: cache {distro_key}-linux/amd64-dalec-gobuildcache" in _report([r])


def test_rejections_are_compared(results):
    """valid.yml uses `- gobuild:`: Dalec rejects it, dalecpy accepts it on purpose (where it compiles)."""
    worker = next(r for r in results if r.spec == "tests/spec/data/valid.yml" and r.target == "bookworm/worker")
    assert worker.status == DALEC_REJECTS and [k.key for k, _ in worker.deliberate] == ["null-cache-forms"]


def test_parity_sh(binary):
    proc = subprocess.run([str(REPO / "scripts/parity.sh"), "specs/hello.yml", "--target", "bookworm/deb",
                           "--target", "jammy/deb"], cwd=REPO, capture_output=True, text=True,
                          env={"DALEC_FRONTEND": binary, "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})
    assert proc.returncode in (0, 1), proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("specs/hello.yml bookworm/deb: ")
    assert lines[-1].startswith("parity: ") and "(spec, target) pairs match" in lines[-1]
