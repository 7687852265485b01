"""Rerunning the Bazel example's build step with its caches (for test_remote_cache.py and bench/caches.py)."""

from __future__ import annotations

import uuid
from pathlib import Path


def rerun_copy(spec: Path, tmp: Path) -> Path:
    """A copy of `spec` whose build step must run again (one more build env var, a fresh RUN_ID) with the same
    cache IDs and Bazel action keys (only WORK reaches the actions). Not `--no-cache-filter dalec.pkg`:
    BuildKit gives an op that ignores the cache fresh, empty cache mounts, so the disk cache would be gone."""
    copy = tmp / f"{spec.stem}-{uuid.uuid4().hex[:8]}.yml"
    copy.write_text(spec.read_text().replace("  env:\n", f"  env:\n    RUN_ID: {uuid.uuid4().hex}\n", 1))
    return copy
