#!/usr/bin/env python3
"""Regenerate testdata/: golden JSON dumps of the examples' LLB per target family, target and platform.

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
#: one or more targets of every other family (Debian bullseye, Ubuntu, RPM, windowscross), for the examples whose
#: artifacts every family packages
FAMILY_TARGETS = ["bullseye/deb", "jammy/deb", "noble/container", "azlinux3/rpm", "azlinux3/container",
                  "almalinux9/rpm", "rockylinux9/worker", "windowscross/zip", "windowscross/container"]
FAMILY_SPECS = ("hello", "go-hello", "bazel-genrule")
ARCHES = ("amd64", "arm64")


def golden_cases():
    """(spec path, target, platform, golden file) for every case the golden test checks."""
    for spec in sorted((REPO / "specs").glob("*.yml")):
        targets = TARGETS + (FAMILY_TARGETS if spec.stem in FAMILY_SPECS else [])
        for target in targets:
            os_ = "windows" if target.startswith("windowscross/") else "linux"
            for arch in ARCHES:
                name = f"{target.replace('/', '-')}-{arch}.json"
                yield spec, target, f"{os_}/{arch}", REPO / "testdata" / spec.stem / name


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
