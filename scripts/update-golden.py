#!/usr/bin/env python3
"""Regenerate testdata/: golden JSON dumps of every example's LLB per Debian target and platform.

Run after an intended change to the compiler, then review the diff: `python scripts/update-golden.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dalecpy import llb  # noqa: E402
from dalecpy.compile import CompileOptions, compile_spec  # noqa: E402
from dalecpy.platforms import Platform  # noqa: E402
from dalecpy.spec import load_spec_file  # noqa: E402

TARGETS = [f"{d}/{k}" for d in ("bookworm", "trixie") for k in ("worker", "deb", "container")]
PLATFORMS = ("linux/amd64", "linux/arm64")


def golden_cases():
    """(spec path, target, platform, golden file) for every case the golden test checks."""
    for spec in sorted((REPO / "specs").glob("*.yml")):
        for target in TARGETS:
            for platform in PLATFORMS:
                name = f"{target.replace('/', '-')}-{platform.split('/')[1]}.json"
                yield spec, target, platform, REPO / "testdata" / spec.stem / name


def render_json(spec: Path, target: str, platform: str) -> str:
    result = compile_spec(load_spec_file(spec), CompileOptions(target=target, platform=Platform.parse(platform)))
    ops = llb.definition_to_json(result.definition)
    return "".join(llb.go_json_line(op) + "\n" for op in ops)


def main() -> int:
    written = 0
    for spec, target, platform, path in golden_cases():
        path.parent.mkdir(parents=True, exist_ok=True)
        text = render_json(spec, target, platform)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written += 1
    print(f"{written} golden file(s) updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
