"""One (spec, target) pair through both frontends, and a whole run over specs x targets with its report."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, TextIO

from dalecpy.platforms import Platform
from tests.frontend import fakebridge

from . import compare as cmp
from . import dalec
from .facts import Facts, dalec_facts, dalecpy_facts

MATCH, DIFFER, UNKNOWN_TARGET, DALEC_REJECTS = "match", "differ", "dalecpy: unknown target", "rejected by Dalec"


@dataclass
class PairResult:
    spec: str
    target: str
    status: str = MATCH
    differences: list[cmp.Difference] = field(default_factory=list)  # neither deliberate nor known-open
    deliberate: list[tuple[cmp.Deliberate, cmp.Difference]] = field(default_factory=list)
    open: list[tuple[cmp.Open, cmp.Difference]] = field(default_factory=list)
    dalec: Facts | None = None
    dalec_error: str | None = None
    dalecpy_error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.spec} {self.target}"


def spec_files(paths: Iterable[str]) -> list[Path]:
    """The YAML files named, and those under the directories named (recursively), sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix in (".yml", ".yaml") and f.is_file())
        else:
            out.append(p)
    return out


def _name(data: bytes, loaded) -> str:
    if loaded is not None:
        return loaded.spec.name
    m = re.search(rb"^name:\s*['\"]?([^'\"\s#]+)", data, re.M)
    return m.group(1).decode() if m else ""


def _dalecpy(path: Path, target: str, platform: Platform, build_args: dict[str, str]):
    """(loaded spec or None, definitions, image facts or None, error, unknown-target?)"""
    from dalecpy.compile import CompileOptions, TargetError, compile_spec, merge_image_config
    from dalecpy.errors import UserError
    from dalecpy.spec import load_spec_file

    try:
        loaded = load_spec_file(path)
    except UserError as exc:
        return None, [], None, str(exc).strip().splitlines()[0], False
    opts = CompileOptions(target=target, platform=platform, build_platform=platform, build_args=build_args,
                          llb_caps=frozenset(fakebridge.CURRENT_LLB_CAPS), session_id=fakebridge.SESSION_ID)
    try:
        result = compile_spec(loaded, opts)
    except TargetError as exc:
        return loaded, [], None, str(exc), True
    except UserError as exc:
        return loaded, [], None, str(exc).strip().splitlines()[0], False
    image = None
    if result.base_image is not None:
        base = dict(fakebridge.BASE_CONFIG, architecture=platform.architecture)
        image = cmp.image_facts(merge_image_config(base, result.image, result.platform))
    return loaded, [result.definition, *(d for _, d in result.tests)], image, None, False


def check_pair(binary: str, path: Path, target: str, platform: Platform, build_args: dict[str, str],
               label: str | None = None) -> PairResult:
    res = PairResult(label or str(path), target)
    data = path.read_bytes()
    loaded, ours_defs, ours_image, res.dalecpy_error, unknown = _dalecpy(path, target, platform, build_args)
    run = dalec.run(binary, data, target, platform, build_args)
    res.dalec_error = run.error
    if run.error is None:
        res.dalec = dalec_facts(run.definitions, _name(data, loaded), internal_images=("docker-image://" + dalec.FRONTEND_IMAGE,))
    if unknown:
        res.status = UNKNOWN_TARGET
        return res
    diffs: list[cmp.Difference]
    if run.error is not None:
        res.status = DALEC_REJECTS
        if res.dalecpy_error is not None:
            return res  # both refuse it
        diffs = [cmp.Difference("accept", f"Dalec rejects the spec ({run.error}); dalecpy accepts it", run.error, None)]
    elif res.dalecpy_error is not None:
        diffs = [cmp.Difference("accept", f"dalecpy rejects the spec ({res.dalecpy_error}); Dalec accepts it",
                                None, res.dalecpy_error)]
    else:
        assert res.dalec is not None
        image = None
        if ours_image is not None and run.image_config:
            image = (cmp.image_facts(json.loads(run.image_config)), ours_image)
        diffs = cmp.compare(res.dalec, dalecpy_facts(ours_defs), image)
        if not res.dalec.found_build:
            # No build op in Dalec's graph (debug targets: the sources, the buildroot): the build's env, steps
            # and Bazel lines are not in it to compare.
            diffs = [d for d in diffs if d.aspect not in ("env", "steps", "bazelrc", "bazel remote line")]
    for d in diffs:
        if known := cmp.deliberate_for(d, target):
            res.deliberate.append((known, d))
        elif o := cmp.open_for(d, res.spec, target):
            res.open.append((o, d))
        else:
            res.differences.append(d)
    if res.status != DALEC_REJECTS and (res.differences or res.open):
        res.status = DIFFER
    return res


def _dalec_only_lines(res: PairResult) -> list[str]:
    f = res.dalec
    if f is None:
        return [f"dalec rejects: {res.dalec_error}"]
    lines = [f"cache {c}" for c in sorted(f.caches, key=str)]
    lines += [f"ssh mount {i} at {d}{' (optional)' if o else ''}" for i, d, o in sorted(f.ssh)]
    lines += [f"env {k}={v}" for k, v in sorted(f.build_env.items())]
    lines += [f"build steps: {len(f.steps)}"]
    lines += [f"bazelrc {t!r}" for t in sorted(f.bazelrc)]
    lines += [f"bazel remote line {t!r}" for t in sorted(f.bazel_remote)]
    lines += [f"source {s}" for s in sorted(f.sources)]
    lines += [f"deps {k}: {', '.join(v)}" for k, v in sorted(f.deps.items())]
    lines += [f"layout {p} <- {s}" for p, s in sorted(f.layout.items())]
    lines += [f"package version {f.version}"] if f.version else []
    if not f.found_build:
        lines.append("note: the harness did not find Dalec's build op for this target (env and steps not read)")
    return lines


def report(results: list[PairResult], out: TextIO) -> None:
    """One line per pair, one line per difference, Dalec's facts for targets dalecpy does not route, a
    summary."""
    seen_deliberate: dict[str, cmp.Deliberate] = {}
    seen_open: dict[str, cmp.Open] = {}
    for r in results:
        notes = []
        if r.deliberate:
            notes.append("deliberate: " + ", ".join(sorted({k.key for k, _ in r.deliberate})))
        if r.open:
            notes.append("known open: " + ", ".join(sorted({o.key for o, _ in r.open})))
        suffix = f" ({'; '.join(notes)})" if notes else ""
        count = len(r.differences) + len(r.open)
        head = {MATCH: "match", DIFFER: f"{count} difference{'s' if count != 1 else ''}"}.get(r.status, r.status)
        if r.status == DALEC_REJECTS:
            head += f": {r.dalec_error}" + (f"; dalecpy too: {r.dalecpy_error}" if r.dalecpy_error else "")
        print(f"{r.label}: {head}{suffix}", file=out)
        for d in r.differences:
            print(f"  DIFF {r.label}: {d.text}", file=out)
        for o, d in r.open:
            print(f"  OPEN {r.label}: {d.text}  [{o.key}]", file=out)
        for k, _ in r.deliberate:
            seen_deliberate[k.key] = k
        for o, _ in r.open:
            seen_open[o.key] = o
        if r.status == UNKNOWN_TARGET:
            for line in _dalec_only_lines(r):
                print(f"  DALEC {r.label}: {line}", file=out)
    if seen_deliberate:
        print("deliberate differences seen (README, \"Where dalecpy differs from Dalec on purpose\"):", file=out)
        for k in seen_deliberate.values():
            print(f"  {k.key}: {k.readme}", file=out)
    if seen_open:
        print("known open differences seen (reported, not fixed yet):", file=out)
        for o in seen_open.values():
            print(f"  {o.key}: {o.note}", file=out)
    compared = [r for r in results if r.status in (MATCH, DIFFER)]
    matched = sum(r.status == MATCH for r in compared)
    extra = [f"{sum(r.status == s for r in results)} {s}" for s in (UNKNOWN_TARGET, DALEC_REJECTS)
             if any(r.status == s for r in results)]
    caches_match = sum(not any(d.aspect == "cache" for d in [*r.differences, *(d for _, d in r.open)])
                       for r in compared)
    print(f"cache mounts: {caches_match}/{len(compared)} (spec, target) pairs match, deliberate differences aside",
          file=out)
    print(f"parity: {matched}/{len(compared)} (spec, target) pairs match" + "".join(f"; {e}" for e in extra),
          file=out)
