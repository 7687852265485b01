"""Cache benchmarks on the running BuildKit engine (scripts/e2e/provision.sh; engine.env is sourced).

    python bench/caches.py [--work SECONDS] [--go-packages N] [--go-funcs N] [--skip-bazel] [--skip-go]

1. Bazel remote cache (specs/bazel-remote-cache.yml, cache server scripts/e2e/cache-server.sh forwarded with
   `dalecpy build --socket bazel-default=SOCK`): the build op after `docker builder prune --filter
   type=exec.cachemount` (the local disk cache is gone, every action comes from the server) vs the cold build
   that filled the server. Each genrule sleeps --work seconds, standing in for a compiler; a fresh random
   suffix on it gives new action keys every run. Target: <= 0.5x. Before them, the Bazel disk cache alone
   (no socket): a rebuild that finds every action in the disk cache vs the cold build that filled it (held
   to 0.5x too).
2. gobuild cache (tests/e2e/data/remote-cache/gobench.yml on a generated multi-package Go program): rebuild
   after a one-line change in main.go with the gobuild cache vs the same with `gobuild: {disabled: true}`.
   Target: <= 0.5x.
3. One remote cache, two engines (--cross-engine; needs engine C, scripts/e2e/engine-c.sh, beside the dockerd
   of engine.env): bazel-remote (scripts/e2e/bazel-remote.sh, gRPC on a unix socket, REMOTE_SCHEME=grpc)
   forwarded to both; the dockerd's cold build uploads, then engine C builds the same actions, which its own
   disk cache has never seen: every action is a remote hit (counted by bazel-remote's metrics). Target: <= 0.5x.

Both figures are measured through each frontend (`--frontend`, default both): `dalecpy` (dalecpy build, its
frontend in the client) and `dalec`, Dalec's own frontend image (`dalecpy build --frontend-image
dalec/frontend:v0.21.5`: the same client, session and raw socket forwarding; the daemon runs Dalec's frontend,
loaded by scripts/e2e/dalec-image.sh when missing, skipped with its one line when there is no Dalec binary).
Dalec builds the same spec under dpkg-buildpackage, with the same cache IDs; each frontend gets fresh Bazel
action keys and Go labels of its own.

Times: "wall" is the whole `dalecpy build` process; "step" is the build op's own time from the progress
output (`#N DONE x.ys` of the build vertex: dalecpy's `Build <name>`, Dalec's `dpkg-buildpackage -b` op);
"bazel" is Bazel's own `Elapsed time`.
One run each, no averaging. Prints one table; always exits 0 (measurements, not tests).
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _p in (str(ROOT), str(ROOT / "bench")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from _engine import DALEC_IMAGE, engine_environ, ensure_dalec_image, env_file_environ  # noqa: E402
from tests.e2e.rerun import rerun_copy  # noqa: E402
BAZEL_SPEC = ROOT / "specs" / "bazel-remote-cache.yml"
GO_SPEC = ROOT / "tests" / "e2e" / "data" / "remote-cache" / "gobench.yml"
SERVER = ROOT / "scripts" / "e2e" / "cache-server.sh"
BAZEL_REMOTE = ROOT / "scripts" / "e2e" / "bazel-remote.sh"
ENGINE_C_ENV = Path("/run/dalecpy-e2e/engine-c.env")
TARGET = "bookworm/deb"
T_RATIO = 0.5
#: frontend -> `dalecpy build` arguments that select it
FRONTENDS = {"dalecpy": (), "dalec": ("--frontend-image", DALEC_IMAGE)}
#: frontend -> a regex for the plain progress whose group 1 is the vertex that runs package `name`'s build steps:
#: dalecpy's is named `Build <name> (...)`; Dalec's (in its "Build deb package" group) unpacks the source package
BUILD_VERTEX = {"dalecpy": lambda name: rf"^#(\d+) Build {re.escape(name)} \(",
                "dalec": lambda name: rf"^#(\d+) (?:[\d.]+ )?dpkg-source: info: extracting {re.escape(name)} in "}


class Run:
    def __init__(self, proc: subprocess.CompletedProcess, wall: float, out: Path, frontend: str):
        self.proc, self.wall, self.out, self.frontend = proc, wall, out, frontend

    @property
    def ok(self) -> bool:
        return self.proc.returncode == 0

    def step(self, name: str) -> float | None:
        """The DONE time of the vertex that ran package `name`'s build steps, from the plain progress output."""
        err = self.proc.stderr
        m = re.search(BUILD_VERTEX[self.frontend](name), err, re.M)
        if not m:
            return None
        done = re.findall(rf"^#{m.group(1)} DONE ([\d.]+)s", err, re.M)
        return float(done[-1]) if done else None

    def doc(self, pkg: str, name: str) -> str:
        """A doc file of the package (Dalec's debhelper gzips the larger ones)."""
        debs = list(self.out.glob(f"{pkg}_*.deb"))
        if not debs:
            return ""
        x = self.out / "x"
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(x)], check=True)
        p = x / "usr/share/doc" / pkg / name
        if p.exists():
            return p.read_text()
        gz = p.with_name(name + ".gz")
        return gzip.decompress(gz.read_bytes()).decode() if gz.exists() else ""


def dalecpy_build(env, spec: Path, out: Path, *args: str, context: Path | None = None,
                  frontend: str = "dalecpy") -> Run:
    argv = [sys.executable, "-m", "dalecpy.cli", "build", "--progress", "plain", *FRONTENDS[frontend], str(spec)]
    if context:
        argv.append(str(context))
    argv += ["--target", TARGET, "-o", f"type=local,dest={out}", *args]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    run = Run(proc, time.perf_counter() - t0, out, frontend)
    out.mkdir(parents=True, exist_ok=True)
    (out / "progress.log").write_text(proc.stderr)  # kept with --keep
    if not run.ok:
        print(f"  ! {frontend}: dalecpy build {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-1500:]}")
    return run


def prune_cache_mounts(env) -> None:
    if env.get("DALECPY_E2E_ENGINE") == "c":  # buildctl: containerd's filter syntax
        argv = [env.get("BUILDCTL") or "buildctl", "prune", "--filter", "type==exec.cachemount"]
    else:
        argv = [env.get("DOCKER_CLI") or "docker", "builder", "prune", "-f", "--filter", "type=exec.cachemount"]
    subprocess.run(argv, env=env, capture_output=True, check=True)


def bazel_stats(r: Run) -> tuple[float | None, str]:
    """(Bazel's Elapsed time, its `INFO: N processes: ...` summary) from the package's docs."""
    log = r.doc("bazel-remote-cache", "bazel.log")
    m = re.search(r"Elapsed time: ([\d.]+)s", log)
    summary = " ".join(re.findall(r"INFO: \d+ processes: .*", r.doc("bazel-remote-cache", "remote-cache-stats.txt")))
    return (float(m.group(1)) if m else None, summary)


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}s"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


# ------------------------------------------------------------------ Bazel remote cache

def bench_bazel(env, tmp: Path, work: float, frontend: str) -> list[tuple]:
    tmp = tmp / frontend
    tmp.mkdir()
    data, sock = tmp / "cache-data", tmp / "cache.sock"
    subprocess.run([str(SERVER), "start", str(data), str(sock)], check=True, capture_output=True)
    rows = []
    try:
        w = f"{work:.0f}.{random.randrange(10**5, 10**6)}"
        print(f"bazel through {frontend}: WORK={w} (4 parallel genrules sleep that long, then a link genrule)")
        # dependency install layer (bazel-bootstrap, socat) in place first; not measured
        warm = dalecpy_build(env, BAZEL_SPEC, tmp / "bz-warm", "--build-arg", "WORK=0", frontend=frontend)
        print(f"  warm-up (deps layer) {warm.wall:.1f}s")
        # the disk cache alone (no socket), with action keys (WORK) of its own
        w_disk = f"{work:.0f}.{random.randrange(10**5, 10**6)}"
        disk_cold = dalecpy_build(env, rerun_copy(BAZEL_SPEC, tmp), tmp / "bz-disk-cold", "--build-arg",
                                  f"WORK={w_disk}", frontend=frontend)
        disk = dalecpy_build(env, rerun_copy(BAZEL_SPEC, tmp), tmp / "bz-disk", "--build-arg", f"WORK={w_disk}",
                             frontend=frontend)
        prune_cache_mounts(env)
        cold = dalecpy_build(env, rerun_copy(BAZEL_SPEC, tmp), tmp / "bz-cold", "--build-arg", f"WORK={w}",
                             "--socket", f"bazel-default={sock}", frontend=frontend)
        prune_cache_mounts(env)
        hit = dalecpy_build(env, rerun_copy(BAZEL_SPEC, tmp), tmp / "bz-hit", "--build-arg", f"WORK={w}",
                            "--socket", f"bazel-default={sock}", frontend=frontend)
        stats = {}
        for name, r in (("cold", cold), ("hit", hit), ("disk-cold", disk_cold), ("disk", disk)):
            stats[name] = bazel_stats(r)
            print(f"  {name}: wall {r.wall:.1f}s, step {fmt(r.step('bazel-remote-cache'))}, "
                  f"bazel {fmt(stats[name][0])}: {stats[name][1] or 'no summary'}")
        requests = (sock.parent / "cache.sock.d/access.log").read_text().splitlines()
        print(f"  server: {len(requests)} requests, "
              f"{sum(1 for r in requests if r.startswith('PUT'))} PUT, "
              f"{sum(1 for r in requests if r.startswith('GET') and r.split()[2] == '200')} GET 200")
        hits_ok = "remote cache hit" in stats["hit"][1]
        # Bazel counts disk-cache hits as "remote cache hit" too; what matters is that no action ran
        disk_ok = "cache hit" in stats["disk"][1] and "sandbox" not in stats["disk"][1]
        rows += [
            (f"{frontend}: bazel remote hit / cold (wall)", cold.wall, hit.wall, ratio(hit.wall, cold.wall), hits_ok),
            (f"{frontend}: bazel remote hit / cold (step)", cold.step("bazel-remote-cache"), hit.step("bazel-remote-cache"),
             ratio(hit.step("bazel-remote-cache"), cold.step("bazel-remote-cache")), hits_ok),
            (f"{frontend}: bazel remote hit / cold (bazel)", stats["cold"][0], stats["hit"][0],
             ratio(stats["hit"][0], stats["cold"][0]), hits_ok),
            (f"{frontend}: bazel disk hit / cold (wall)", disk_cold.wall, disk.wall, ratio(disk.wall, disk_cold.wall), disk_ok),
            (f"{frontend}: bazel disk hit / cold (step)", disk_cold.step("bazel-remote-cache"), disk.step("bazel-remote-cache"),
             ratio(disk.step("bazel-remote-cache"), disk_cold.step("bazel-remote-cache")), disk_ok),
        ]
    finally:
        subprocess.run([str(SERVER), "stop", str(data), str(sock)], capture_output=True)
    return rows


# ------------------------------------------------------------------ one remote cache, two engines

def _remote_hits(state: Path) -> float:
    text = subprocess.run(["curl", "-fsS", "--unix-socket", str(state / "http.sock"), "http://localhost/metrics"],
                          capture_output=True, text=True).stdout
    m = re.search(r'^bazel_remote_incoming_requests_total\{kind="ac",method="get",status="hit"\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def bench_cross_engine(first_env, second_env, tmp: Path, work: float) -> list[tuple]:
    data, state = tmp / "br-data", tmp / "br-state"
    subprocess.run([str(BAZEL_REMOTE), "start", str(data), str(state)], check=True, capture_output=True)
    names = [e.get("DALECPY_E2E_ENGINE", "?") for e in (first_env, second_env)]
    try:
        w = f"{work:.0f}.{random.randrange(10**5, 10**6)}"
        print(f"cross-engine: bazel-remote {state / 'grpc.sock'} forwarded to engines {names[0]} then {names[1]}, WORK={w}")
        for env, name in zip((first_env, second_env), names):  # dependency layers in place first; not measured
            warm = dalecpy_build(env, BAZEL_SPEC, tmp / f"x-warm-{name}", "--build-arg", "WORK=0")
            print(f"  warm-up on engine {name} (deps layer) {warm.wall:.1f}s")
        grpc = ("--build-arg", f"WORK={w}", "--build-arg", "REMOTE_SCHEME=grpc",
                "--socket", f"bazel-default={state / 'grpc.sock'}")
        hits0 = _remote_hits(state)
        cold = dalecpy_build(first_env, rerun_copy(BAZEL_SPEC, tmp), tmp / "x-cold", *grpc)
        hits1 = _remote_hits(state)
        hit = dalecpy_build(second_env, rerun_copy(BAZEL_SPEC, tmp), tmp / "x-hit", *grpc)
        hits2 = _remote_hits(state)
        stats = {}
        for label, r in (("cold", cold), ("hit", hit)):
            stats[label] = bazel_stats(r)
            print(f"  {label}: wall {r.wall:.1f}s, step {fmt(r.step('bazel-remote-cache'))}, "
                  f"bazel {fmt(stats[label][0])}: {stats[label][1] or 'no summary'}")
        print(f"  bazel-remote AC hits: {hits1 - hits0:.0f} during engine {names[0]}'s build, "
              f"{hits2 - hits1:.0f} during engine {names[1]}'s")
        ok = cold.ok and hit.ok and "remote cache hit" in stats["hit"][1] and hits2 - hits1 >= 5
        label = f"bazel {names[1]} hit / {names[0]} cold"
        return [
            (f"{label} (wall)", cold.wall, hit.wall, ratio(hit.wall, cold.wall), ok),
            (f"{label} (step)", cold.step("bazel-remote-cache"), hit.step("bazel-remote-cache"),
             ratio(hit.step("bazel-remote-cache"), cold.step("bazel-remote-cache")), ok),
            (f"{label} (bazel)", stats["cold"][0], stats["hit"][0], ratio(stats["hit"][0], stats["cold"][0]), ok),
        ]
    finally:
        subprocess.run([str(BAZEL_REMOTE), "stop", str(data), str(state)], capture_output=True)


# ------------------------------------------------------------------ gobuild

def gen_go_program(dest: Path, packages: int, funcs: int, label: str) -> None:
    """go.mod, main.go (prints `label`) and packages p0..p{packages-1}, each with `funcs` functions."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "go.mod").write_text("module example.com/gobench\n\ngo 1.19\n")
    imports = "\n".join(f'\t"example.com/gobench/p{i}"' for i in range(packages))
    calls = "\n".join(f"\ttotal += p{i}.Sum(7)" for i in range(packages))
    (dest / "main.go").write_text(
        f'package main\n\nimport (\n\t"fmt"\n\n{imports}\n)\n\n'
        f'const label = "{label}"\n\n'
        f"func main() {{\n\ttotal := 0\n{calls}\n\tfmt.Println(label, total)\n}}\n")
    for p in range(packages):
        d = dest / f"p{p}"
        d.mkdir(exist_ok=True)
        parts = [f"// Package p{p} is generated by bench/caches.py.\npackage p{p}\n\nimport (\n"
                 f'\t"fmt"\n\t"sort"\n\t"strings"\n)\n']
        for i in range(funcs):
            parts.append(f"""
type T{i} struct {{
	Name  string
	Vals  []int
	Index map[string]int
}}

func (t *T{i}) Add(v int) {{
	t.Vals = append(t.Vals, v*{i + 1}%{p + 7})
	if t.Index == nil {{
		t.Index = map[string]int{{}}
	}}
	t.Index[fmt.Sprintf("%s-%d", t.Name, v)] = len(t.Vals)
}}

func F{i}(x int) int {{
	t := &T{i}{{Name: strings.Repeat("p{p}f{i}", x%3+1)}}
	for j := 0; j < x%{i % 5 + 3}+3; j++ {{
		switch (j + {i}) % 4 {{
		case 0:
			t.Add(j * {p + i})
		case 1:
			t.Add(j << 2)
		case 2:
			t.Add(len(fmt.Sprint(j, t.Name)))
		default:
			t.Add(-j)
		}}
	}}
	sort.Ints(t.Vals)
	s := 0
	for k, v := range t.Vals {{
		s += k ^ v
	}}
	return s + len(t.Index)
}}
""")
        names = ", ".join(f"F{i}" for i in range(funcs))
        parts.append(f"\nvar fns = []func(int) int{{{names}}}\n\n"
                     "// Sum calls every generated function.\nfunc Sum(x int) int {\n\ts := 0\n"
                     "\tfor _, f := range fns {\n\t\ts += f(x)\n\t}\n\treturn s\n}\n")
        (d / "gen.go").write_text("".join(parts))


def bench_go(env, tmp: Path, packages: int, funcs: int, frontend: str) -> list[tuple]:
    tmp = tmp / f"{frontend}-go"
    tmp.mkdir()
    spec_off = tmp / "gobench-disabled.yml"
    text = GO_SPEC.read_text()
    assert "- gobuild: {}" in text
    spec_off.write_text(text.replace("- gobuild: {}", "- gobuild: {disabled: true}"))
    run_id = f"{random.randrange(10**9):09d}"
    print(f"go through {frontend}: {packages} packages x {funcs} generated types+funcs (+ main), run {run_id}")
    results = {}
    for variant, spec in (("cache", GO_SPEC), ("disabled", spec_off)):
        ctx = tmp / f"go-{variant}"
        gen_go_program(ctx, packages, funcs, f"{run_id}-first")
        first = dalecpy_build(env, spec, tmp / f"go-{variant}-1", context=ctx, frontend=frontend)
        main = ctx / "main.go"
        main.write_text(main.read_text().replace(f"{run_id}-first", f"{run_id}-second"))  # the one-line change
        second = dalecpy_build(env, spec, tmp / f"go-{variant}-2", context=ctx, frontend=frontend)
        gocache = re.findall(r"GOCACHE=(\S+)", second.proc.stderr)
        ran = re.search(rf"{run_id}-second (-?\d+)", second.proc.stderr)  # the rebuilt program's output
        if not ran:
            second.proc.returncode = second.proc.returncode or 1
            print(f"  ! {variant}: the rebuilt program did not print the changed label")
        print(f"  {variant}: first build wall {first.wall:.1f}s step {fmt(first.step('dalecpy-gobench'))}; "
              f"after the one-line change wall {second.wall:.1f}s step {fmt(second.step('dalecpy-gobench'))}"
              f" (GOCACHE={gocache[-1] if gocache else '?'})")
        results[variant] = second
    c, d = results["cache"], results["disabled"]
    ok = c.ok and d.ok  # both rebuilt programs printed the changed label
    return [
        (f"{frontend}: go rebuild: cache / disabled (wall)", d.wall, c.wall, ratio(c.wall, d.wall), ok),
        (f"{frontend}: go rebuild: cache / disabled (step)", d.step("dalecpy-gobench"), c.step("dalecpy-gobench"),
         ratio(c.step("dalecpy-gobench"), d.step("dalecpy-gobench")), ok),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=float, default=8, help="seconds each Bazel genrule sleeps (default 8)")
    ap.add_argument("--go-packages", type=int, default=8)
    ap.add_argument("--go-funcs", type=int, default=150)
    ap.add_argument("--skip-bazel", action="store_true")
    ap.add_argument("--skip-go", action="store_true")
    ap.add_argument("--cross-engine", action="store_true",
                    help="also: one bazel-remote, the dockerd's build then engine C's (needs engine C)")
    ap.add_argument("--keep", type=Path, help="keep the work files here")
    ap.add_argument("--frontend", action="append", choices=sorted(FRONTENDS),
                    help="measure through this frontend (repeatable; default: every one available)")
    args = ap.parse_args()

    env = engine_environ()
    if env.get("DALECPY_E2E_ENGINE") == "c":
        print(f"engine: c, {env.get('DALECPY_E2E_SERVER_VERSION')} ({env.get('BUILDKIT_HOST')}), {os.cpu_count()} CPUs")
    else:
        cli = env.get("DOCKER_CLI") or "docker"
        info = subprocess.run([cli, "info", "--format", "{{.ServerVersion}}"], env=env, capture_output=True, text=True)
        if info.returncode != 0:
            print(f"no BuildKit engine ({info.stderr.strip()[:200]}): run scripts/e2e/provision.sh b")
            return 0
        print(f"engine: dockerd {info.stdout.strip()} ({env.get('DOCKER_HOST', 'default socket')}), {os.cpu_count()} CPUs")

    frontends = args.frontend or [f for f in FRONTENDS if f != "dalec"
                                  or ensure_dalec_image(env.get("DOCKER_CLI") or "docker", env)]
    tmp = Path(tempfile.mkdtemp(prefix="dalecpy-bench-caches-"))
    rows: list[tuple] = []
    try:
        for frontend in frontends:
            if not args.skip_bazel:
                rows += bench_bazel(env, tmp, args.work, frontend)
            if not args.skip_go:
                rows += bench_go(env, tmp, args.go_packages, args.go_funcs, frontend)
        if args.cross_engine:
            if ENGINE_C_ENV.exists() and env.get("DALECPY_E2E_ENGINE") != "c":
                rows += bench_cross_engine(env, env_file_environ(ENGINE_C_ENV), tmp, args.work)
            else:
                print(f"cross-engine: skipped (needs {ENGINE_C_ENV} beside a dockerd engine)")
    finally:
        if args.keep:
            shutil.copytree(tmp, args.keep, dirs_exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"{'figure':46} {'baseline':>9} {'cached':>9} {'ratio':>7} {'target':>7}  ok")
    for name, base, cached, r, valid in rows:
        verdict = "-" if r is None else ("yes" if r <= T_RATIO and valid else "NO")
        if not valid:
            verdict += " (check failed, see above)"
        print(f"{name:46} {fmt(base):>9} {fmt(cached):>9} {'-' if r is None else f'{r:.2f}x':>7} "
              f"{f'<={T_RATIO}x':>7}  {verdict}")
    print("baseline: bazel remote = cold build that filled the server; bazel disk = cold build that filled the disk"
          " cache; go = rebuild with `gobuild: {disabled: true}`; cross-engine = the first engine's cold build that"
          " filled bazel-remote")
    print_side_by_side(rows)
    return 0


def print_side_by_side(rows: list[tuple]) -> None:
    """The cached builds of each figure through dalecpy's frontend and Dalec's, and their ratio."""
    cached = {name: c for name, _, c, _, _ in rows}
    pairs = [(name.removeprefix("dalecpy: "), c, cached.get("dalec: " + name.removeprefix("dalecpy: ")))
             for name, c in cached.items() if name.startswith("dalecpy: ")]
    pairs = [p for p in pairs if p[2] is not None or p[1] is not None]
    if not any(d is not None for _, _, d in pairs):
        return
    print()
    print(f"{'cached build, same run':38} {'dalecpy':>9} {'Dalec':>9} {'dalecpy/Dalec':>14}")
    for name, ours, theirs in pairs:
        r = ratio(ours, theirs)
        name = name.replace(" / cold", "").replace(": cache / disabled", " with the cache")
        print(f"{name:38} {fmt(ours):>9} {fmt(theirs):>9} {'-' if r is None else f'{r:.2f}x':>14}")


if __name__ == "__main__":
    sys.exit(main())
