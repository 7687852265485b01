"""python -m tests.parity SPEC_OR_DIR... --target T [--target T ...] [--platform P] [--build-arg K=V ...]

Compare the LLB Dalec's own frontend produces with dalecpy's for every spec x target (scripts/parity.sh)."""

from __future__ import annotations

import argparse
import sys
import time

from dalecpy.platforms import Platform

from . import dalec
from .run import DIFFER, check_pair, report, spec_files


def _default_platform(target: str) -> Platform:
    from dalecpy.compile import TargetError, lookup

    amd64 = Platform.parse("linux/amd64")
    try:
        return lookup(target).default_platform(amd64)
    except TargetError:
        return amd64


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/parity.sh", description=__doc__.split("\n\n", 1)[1])
    ap.add_argument("paths", nargs="+", metavar="SPEC_OR_DIR")
    ap.add_argument("--target", action="append", required=True, help="e.g. bookworm/deb; repeat for several")
    ap.add_argument("--platform", default=None, help="default: the target's own (linux/amd64; windows/amd64 for "
                    "windowscross)")
    ap.add_argument("--build-arg", action="append", default=[], metavar="K=V")
    args = ap.parse_args(argv)
    try:
        platform = Platform.parse(args.platform) if args.platform else None
    except ValueError as exc:
        ap.error(str(exc))
    build_args = dict(kv.split("=", 1) for kv in args.build_arg if "=" in kv)
    try:
        binary = dalec.frontend_binary()
    except dalec.Unavailable as exc:
        print(f"parity: skipped: {exc}", file=sys.stderr)
        return 3
    specs = spec_files(args.paths)
    if not specs:
        ap.error("no .yml/.yaml specs found")
    t0 = time.monotonic()
    results = [check_pair(binary, p, t, platform or _default_platform(t), build_args)
               for p in specs for t in args.target]
    report(results, sys.stdout)
    print(f"parity: {len(results)} pairs in {time.monotonic() - t0:.1f} s with Dalec {dalec.DALEC_VERSION}",
          file=sys.stderr)
    return 1 if any(r.status == DIFFER for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
