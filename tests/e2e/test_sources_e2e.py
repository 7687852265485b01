"""Remote and local sources through the frontend image on a real BuildKit: git (served from a local
repository), http with a digest, inline files, a patch, and a context that honours .dockerignore."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.e2e


def _deb_files(deb: Path, dest: Path) -> Path:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    return dest


def test_sources_example_with_git_http_inline_and_patch(engine, frontend_image, tmp_path, git_server):
    url, commit = git_server
    out = tmp_path / "out"
    proc = engine.run(engine.build_cmd(
        "-f", str(ROOT / "specs" / "sources.yml"), "--target", "bookworm/deb",
        "--build-arg", f"GIT_URL={url}", "--build-arg", f"GIT_COMMIT={commit}",
        "-o", f"type=local,dest={out}", str(ROOT)))
    assert proc.returncode == 0, proc.stderr[-4000:]
    root = _deb_files(next(out.rglob("*.deb")), tmp_path / "x")
    assert "hello, patched" in (root / "usr/bin/sources-demo").read_text()
    manifest = (root / "usr/share/doc/sources-demo/manifest.txt").read_text()
    assert "README" in manifest  # from the git repository
    assert "debian/control" in manifest  # from the http download, checked against its digest


def test_context_source_honours_dockerignore(engine, frontend_image, tmp_path):
    ctx = tmp_path / "ctx"
    (ctx / "app").mkdir(parents=True)
    (ctx / "app" / "keep.txt").write_text("keep\n")
    (ctx / "app" / "secret.key").write_text("do not send\n")
    (ctx / ".dockerignore").write_text("# keys stay home\n**/*.key\n")
    spec = ctx / "spec.yml"
    spec.write_text(textwrap.dedent("""\
        # syntax=dalecpy/frontend:latest
        name: ctx-demo
        description: context with a .dockerignore
        version: "1.0"
        revision: "1"
        sources:
          app:
            context: {}
        build:
          steps:
            - command: mkdir -p out && find app -type f | sort > out/files.txt
        artifacts:
          docs:
            out/files.txt: {}
        """))
    out = tmp_path / "out"
    proc = engine.run(engine.build_cmd("-f", str(spec), "--target", "bookworm/deb", "-o", f"type=local,dest={out}", str(ctx)))
    assert proc.returncode == 0, proc.stderr[-4000:]
    root = _deb_files(next(out.rglob("*.deb")), tmp_path / "x")
    files = (root / "usr/share/doc/ctx-demo/files.txt").read_text().split()
    assert "app/app/keep.txt" in files or "app/keep.txt" in files, files
    assert not any(f.endswith("secret.key") for f in files), files
