"""Copies of the examples whose build step must run again with its caches (for the e2e tests and bench/)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Callable

SYNTAX = "# syntax=dalecpy/frontend:latest\n"


def rerun_copy(spec: Path, tmp: Path) -> Path:
    """A copy of `spec` whose build step must run again (one more build env var, a fresh RUN_ID) with the same
    cache IDs and Bazel action keys (only WORK reaches the actions). Not `--no-cache-filter dalec.pkg`:
    BuildKit gives an op that ignores the cache fresh, empty cache mounts, so the disk cache would be gone."""
    copy = tmp / f"{spec.stem}-{uuid.uuid4().hex[:8]}.yml"
    copy.write_text(spec.read_text().replace("  env:\n", f"  env:\n    RUN_ID: {uuid.uuid4().hex}\n", 1))
    return copy


def derive(src: Path, dest: Path, edit: Callable, syntax: str = SYNTAX) -> Path:
    """A copy of an example spec with `edit(doc)` applied (keep the name and build deps: the installed worker is
    then shared with the example's builds) and `syntax` as its first line."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    doc = yaml.load(src.read_text())
    edit(doc)
    with dest.open("w") as f:
        f.write(syntax)
        yaml.dump(doc, f)
    return dest


def with_marker(doc) -> None:
    """Give the spec a MARKER build arg that reaches the build steps (`build.env`): a new value reruns them."""
    doc.setdefault("args", {})["MARKER"] = ""
    doc["build"].setdefault("env", {})["MARKER"] = "${MARKER}"


def one_line_description(doc) -> None:
    """Fold a multi-line `description` into one line: Dalec (v0.21.5) writes the continuation lines unindented into
    debian/control, which dpkg-buildpackage rejects, so a spec built through both frontends needs one line."""
    doc["description"] = " ".join(str(doc["description"]).split())
