"""The cost of the worst specs a user (or an attacker) can hand dalecpy: time and peak memory of loading.

    python bench/worst_spec.py [--runs N] [--only NAME]

Generates each worst-case spec (at the 4 MiB size cap, or just under the node limit where the cap
would be refused early), loads it with `load_spec` and substitutes its build args (`resolve`) in a fresh
child process (so each peak RSS is its own), and prints wall time, peak RSS, the outcome, and the time as a ratio to loading a normal spec
(specs/hello.yml) in the same run. Targets: every spec under ~2 s and ~200 MB. Always exits 0: these
are measurements, not tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dalecpy.spec.yamlsrc import MAX_SPEC_BYTES, MAX_TOTAL_NODES  # noqa: E402

CAP = MAX_SPEC_BYTES - 64  # a little under the byte cap, so the spec is parsed, not refused by its size
T_SECONDS = 2.0
T_RSS_MB = 200.0

_HEAD = "name: worst\nversion: '1.0'\nrevision: '1'\n"


def _fill(head: str, item: str, tail: str = "", limit: int = CAP) -> str:
    """`head` + as many `item`s as fit under `limit` bytes + `tail`."""
    n = max(0, (limit - len(head) - len(tail)) // len(item))
    return head + item * n + tail


def _numbered(head: str, fmt: str, count: int, limit: int = CAP) -> str:
    out, size, parts = [head], len(head), 0
    while parts < count:
        line = fmt.format(i=parts)
        if size + len(line) > limit:
            break
        out.append(line)
        size += len(line)
        parts += 1
    return "".join(out)


def _laughs(levels: int) -> str:
    lines = ['x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for i in range(levels):
        name = f"l{i}"
        lines.append(f"x-{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    return _HEAD + "\n".join(lines) + "\n"


def _steps(n: int) -> str:
    """A valid spec of `n` build steps, each with a command and one env var."""
    return _numbered(_HEAD + "build:\n  steps:\n", "    - command: echo {i}\n      env: {{N: '{i}'}}\n", n)  # 7 nodes a step


NEAR = MAX_TOTAL_NODES - 50  # node budget for the "just under the node limit" shapes

# name -> (description, generator)
CASES: dict[str, tuple[str, Callable[[], str]]] = {
    "flow-list-at-cap": ("2M-item flow list of ints at 4 MiB", lambda: _fill(_HEAD + "x-a: [", "1,", "1]\n")),
    "flow-list-near-limit": (
        f"{NEAR:,}-item flow list (accepted)", lambda: _HEAD + "x-a: [" + "1," * (NEAR - 10) + "1]\n"
    ),
    "unknown-keys-at-cap": (
        "top-level unknown keys at 4 MiB", lambda: _numbered(_HEAD, "k{i}: 1\n", 10**7)
    ),
    "unknown-keys-near-limit": (
        f"{NEAR // 2:,} unknown keys (every one an error)", lambda: _numbered(_HEAD, "k{i}: 1\n", NEAR // 2)
    ),
    "unknown-keys-nested": (
        f"{NEAR // 2:,} unknown keys in a source", lambda: _numbered(
            _HEAD + "sources:\n  s:\n    inline: {file: {}}\n", "    k{i}: 1\n", NEAR // 2
        )
    ),
    "duplicate-keys": (
        f"{NEAR // 2:,} duplicate keys", lambda: _numbered(_HEAD + "x-d:\n", "  k: {i}\n", NEAR // 2)
    ),
    "bad-values-near-limit": (
        f"{NEAR // 4:,} build steps with a bad type (every one an error)", lambda: _numbered(
            _HEAD + "build:\n  steps:\n", "    - command: [{i}]\n", NEAR // 4
        )
    ),
    "steps-near-limit": (f"{NEAR // 7:,} valid build steps", lambda: _steps(NEAR // 7)),
    "deep-flow-nesting": ("[[[[... 2M deep at 4 MiB", lambda: _fill(_HEAD + "x-a: ", "[", "")),
    "deep-block-nesting": ("block mappings 60 deep, towers up to the node limit", lambda: _HEAD + _nested_blocks()),
    "alias-bomb": ("billion laughs (9 levels of 9 aliases)", lambda: _laughs(9)),
    "alias-fanout": (
        "one anchored 100-key mapping aliased 10,000 times", lambda: _HEAD + "x-b: &b {"
        + ", ".join(f"k{i}: v" for i in range(100)) + "}\nx-c: [" + ",".join(["*b"] * 10_000) + "]\n"
    ),
    "long-string": ("one 4 MiB string (description)", lambda: _fill(_HEAD + "description: ", "x", "\n")),
    "long-keys": ("unknown keys of 64 KiB each, to 4 MiB", lambda: _numbered(_HEAD, "k{i}" + "x" * 65536 + ": 1\n", 10**6)),
    "huge-int": ("a 4 MiB integer literal", lambda: _fill(_HEAD + "x-i: ", "9", "\n")),
    "huge-hex-uid": (
        "a 4 MiB hex uid", lambda: _fill(_HEAD + "sources:\n  s:\n    inline:\n      file:\n        uid: 0x", "f", "\n")
    ),
    "arg-expansion-bomb": (
        "a 1 MB arg referenced 300,000 times", lambda: _HEAD + "args:\n  A: " + "a" * 1_000_000
        + "\nbuild:\n  env:\n    X: '" + "${A}" * 300_000 + "'\n  steps: [{command: x}]\n"
    ),
    "arg-pattern-bomb": (
        "${A//?/x} on a 128,000-char arg, 1,000 times", lambda: _HEAD + "args:\n  A: " + "a" * 128_000
        + "\nbuild:\n  env:\n" + "".join(f"    X{i}: '${{A//?/x}}'\n" for i in range(1000)) + "  steps: [{command: x}]\n"
    ),
    "many-small-ints": ("a flow list of 2-char hex ints at the node limit", lambda: _HEAD + "x-a: [" + "0x1," * (NEAR - 10) + "1]\n"),
}


def _nested_blocks() -> str:
    """Block mappings 60 deep (under MAX_DEPTH), as many such towers as fit in the node budget."""
    towers, out, size = 0, [], 0
    budget = NEAR - 10
    while budget > 400:
        tower = f"x-t{towers}:\n" + "".join(f"{' ' * (j + 1)}k:\n" for j in range(60)) + f"{' ' * 61}v\n"
        if size + len(tower) > CAP - 100:
            break
        out.append(tower)
        size += len(tower)
        towers += 1
        budget -= 2 * 61
    return "".join(out)

# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec (a child would report this process's peak).
_CHILD = r"""
import json, re, sys, time
sys.path.insert(0, sys.argv[1])
from dalecpy.platforms import Platform
from dalecpy.spec import SpecError, load_spec
def hwm_kb():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\s*(\d+) kB", f.read()).group(1))
data = sys.stdin.buffer.read()
rss0 = hwm_kb()
t0 = time.perf_counter()
try:
    loaded = load_spec(data, "w.yml")
    loaded.resolve({}, target_key="bookworm", target_platform=Platform(), build_platform=Platform())
    outcome, lines = "ok", 0
except SpecError as e:
    text = str(e)
    lines = text.count("\n") + 1
    outcome = text.splitlines()[0]
dt = time.perf_counter() - t0
print(json.dumps({"s": dt, "rss_mb": hwm_kb() / 1024,
                  "import_rss_mb": rss0 / 1024, "outcome": outcome, "lines": lines}))
"""


def measure(data: bytes) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(ROOT)], input=data, capture_output=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs per case; the median time and max RSS are shown")
    ap.add_argument("--only", action="append", help="run only these cases")
    args = ap.parse_args()

    normal = (ROOT / "specs" / "hello.yml").read_bytes()
    base = [measure(normal) for _ in range(max(args.runs, 5))]
    base_s = statistics.median(r["s"] for r in base)
    print(f"normal spec (specs/hello.yml, {len(normal):,} bytes): {base_s * 1000:.1f} ms, "
          f"peak RSS {max(r['rss_mb'] for r in base):.0f} MB (after imports: {base[0]['import_rss_mb']:.0f} MB)")
    print(f"limits: {MAX_SPEC_BYTES:,} bytes, {MAX_TOTAL_NODES:,} YAML nodes; targets: {T_SECONDS} s, {T_RSS_MB:.0f} MB\n")
    print(f"| case | spec | bytes | time (s) | x normal | peak RSS (MB) | outcome |")
    print("|---|---|---|---|---|---|---|")
    worst_s = worst_rss = 0.0
    for name, (desc, gen) in CASES.items():
        if args.only and name not in args.only:
            continue
        data = gen().encode()
        runs = [measure(data) for _ in range(args.runs)]
        s = statistics.median(r["s"] for r in runs)
        rss = max(r["rss_mb"] for r in runs)
        worst_s, worst_rss = max(worst_s, s), max(worst_rss, rss)
        r = runs[0]
        outcome = r["outcome"] if r["lines"] <= 1 else f"{r['outcome']} (+{r['lines'] - 1} lines)"
        outcome = outcome.replace("|", "\\|")
        if len(outcome) > 110:
            outcome = outcome[:107] + "..."
        print(f"| {name} | {desc} | {len(data):,} | {s:.2f} | {s / base_s:,.0f} | {rss:.0f} | {outcome} |", flush=True)
    print(f"\nworst: {worst_s:.2f} s (target {T_SECONDS} s: {'met' if worst_s <= T_SECONDS else 'NOT met'}), "
          f"{worst_rss:.0f} MB (target {T_RSS_MB:.0f} MB: {'met' if worst_rss <= T_RSS_MB else 'NOT met'})")


if __name__ == "__main__":
    main()
