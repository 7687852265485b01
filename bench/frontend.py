"""Frontend benchmark: a fully cached rebuild through dalecpy's frontend image vs BuildKit's Dockerfile frontend
and Dalec's own frontend image.

    python bench/frontend.py [--runs N] [--image REF ...]

On the running e2e engine (/run/dalecpy-e2e/engine.env, see scripts/e2e/README.md; else DOCKER_HOST):
builds specs/hello.yml for bookworm/deb through `dalecpy/frontend:latest` (build it first: the e2e fixture
or scripts/e2e/ci.sh does), and an equivalent Dockerfile (same base, same scripts, same cache mounts and
cache IDs, written to a temp dir) through the daemon's built-in Dockerfile frontend. Every row is warmed up
once, then the rows take turns, N times (default 7), each build timed end to end (client wall time, export
to a local dir included). Prints the medians and the ratios (targets: <= 1.5 to the built-in frontend,
<= 1.15 to the gateway image below). `--image` (repeatable) times other dalecpy images in the same run.

Any `# syntax=` image pays for BuildKit starting its container. To show that floor, the same Dockerfile is
also built through BuildKit's own Dockerfile frontend packaged as a gateway image (what
`# syntax=docker/dockerfile` runs), made here from the binary scripts/e2e/buildctl.sh compiles from
Debian's BuildKit source (/opt/dalecpy-e2e/bin/dockerfile-frontend, `provision.sh b --buildctl`). With
buildx, each build's BuildKit progress (rawjson) also gives the time from BuildKit loading the frontend
image to the frontend's first request (container start, imports, Ping). Last, the frontend's own time from process start
to Return against an in-process fake LLBBridge (tests/frontend/fakebridge.py), on the host's python.

The same spec is also built through Dalec's own frontend image (`dalec/frontend:v0.21.5`, FROM scratch with the Go
binary, loaded by scripts/e2e/dalec-image.sh when missing; skipped with its one line when there is no Dalec binary):
the row a Dalec user compares with. Dalec's graph for the spec is its own (dpkg-buildpackage), fully cached too.
Both frontends build hello.yml with its description on one line (Dalec cannot build the two-line one).
Always exits 0: these are measurements, not tests.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _p in (str(ROOT), str(ROOT / "bench")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from _engine import DALEC_IMAGE, engine_environ, ensure_dalec_image  # noqa: E402
from tests.e2e.rerun import derive, one_line_description  # noqa: E402

SPEC = ROOT / "specs" / "hello.yml"
TARGET = "bookworm/deb"
FRONTEND = "dalecpy/frontend:latest"
GATEWAY_DOCKERFILE = "dalecpy-bench/dockerfile-frontend:latest"
GATEWAY_DOCKERFILE_BIN = Path(os.environ.get("DALECPY_DOCKERFILE_FRONTEND", "/opt/dalecpy-e2e/bin/dockerfile-frontend"))
TARGET_RATIO = 1.5
TARGET_GATEWAY_RATIO = 1.15  # issue 13: ours / BuildKit's Dockerfile frontend as a gateway image


def engine_env() -> tuple[dict[str, str], str, str]:
    """(env, docker CLI, engine name a|b) for the running engine."""
    env = engine_environ()
    cli = env.get("DOCKER_CLI") or shutil.which("docker", path=env.get("PATH")) or "docker"
    name = env.get("DALECPY_E2E_ENGINE") or (
        "b" if subprocess.run([cli, "buildx", "version"], env=env, capture_output=True).returncode == 0 else "a")
    return env, cli, name


def rendered_files() -> dict[str, tuple[int, bytes]]:
    """Every file dalecpy's LLB for hello.yml creates (sources, build.sh, control, package.sh): path -> (mode, data)."""
    out = subprocess.run([sys.executable, "-m", "dalecpy.cli", "render", str(SPEC), "--target", TARGET,
                          "--format", "json"], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    files = {}
    for line in out.splitlines():
        op = json.loads(line).get("Op", {}).get("Op", {})
        for action in op.get("file", {}).get("actions", []):
            mk = action["Action"].get("mkfile")
            if mk:
                files[mk["path"]] = (mk["mode"], base64.b64decode(mk.get("data", "")))
    return files


def cache_mounts() -> list[str]:
    """The spec's cache mounts as Dockerfile `--mount` flags (same IDs, targets and sharing)."""
    out = subprocess.run([sys.executable, "-m", "dalecpy.cli", "caches", str(SPEC), "--target", TARGET],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    flags = []
    for line in out.splitlines()[1:]:
        kind, sharing, dest, cid = line.split(None, 3)
        if kind == "dir":
            flags.append(f"--mount=type=cache,id={cid},target={dest},sharing={sharing}")
    return flags


def write_dockerfile(ctx: Path) -> None:
    """The same build as dalecpy's LLB for hello.yml, as a Dockerfile for the built-in frontend."""
    for path, (mode, data) in rendered_files().items():
        dest = ctx / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        dest.chmod(mode)
    mounts = " \\\n    ".join(cache_mounts())
    (ctx / "Dockerfile").write_text(f"""\
FROM debian:bookworm AS base

FROM scratch AS scripts
COPY build.sh /

FROM base AS build
COPY src /build/src
WORKDIR /build
ENV DEBIAN_FRONTEND=noninteractive
RUN --mount=type=bind,from=scripts,target=/tmp/dalec/internal \\
    {mounts} \\
    /tmp/dalec/internal/build.sh

FROM scratch AS pkgscripts
COPY control package.sh /

FROM base AS pkg
ENV DEBIAN_FRONTEND=noninteractive
RUN --mount=type=bind,from=build,source=/build,target=/build \\
    --mount=type=bind,from=pkgscripts,target=/tmp/dalec/internal \\
    mkdir -p /tmp/dalec/out && /tmp/dalec/internal/package.sh

FROM scratch
COPY --from=pkg /tmp/dalec/out/ /
""")


def build_argv(cli: str, engine: str, dockerfile: Path, ctx: Path, out: Path) -> list[str]:
    base = [cli, "buildx", "build", "--progress=rawjson"] if engine != "a" else [cli, "build", "--progress=plain"]
    return [*base, "-f", str(dockerfile), "-o", f"type=local,dest={out}", str(ctx)]


def _ts(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp[:26].rstrip("Z")).timestamp()


def frontend_start(rawjson: str, image: str) -> float | None:
    """Seconds from BuildKit loading the frontend `image` to the frontend's first own request (rawjson
    progress): the frontend container's start, its imports and Ping."""
    rows = set()
    for line in rawjson.splitlines():
        if line.startswith("{"):
            for v in json.loads(line).get("vertexes") or []:
                if v.get("started"):
                    rows.add((_ts(v["started"]), v.get("name", "")))
    rows = sorted(rows)
    loaded = [i for i, (_, name) in enumerate(rows) if name.startswith("docker-image://") and image in name]
    if not loaded or loaded[-1] + 1 >= len(rows):
        return None
    return rows[loaded[-1] + 1][0] - rows[loaded[-1]][0]


def _build_once(label: str, argv: list[str], env, tmp: Path, out: Path, image: str | None, timed: bool
                ) -> tuple[float, float | None] | None:
    """One build: (wall seconds, frontend start or None), or None when it failed."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=tmp)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        print(f"{label}: build failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return None
    if timed and '"cached":true' not in proc.stderr and " CACHED" not in proc.stderr:
        print(f"{label}: a timed run was not cached")
    if not list(out.glob("*.deb")):
        print(f"{label}: no .deb exported")
    return dt, (frontend_start(proc.stderr, image) if image and "--progress=rawjson" in argv else None)


def _dirname(label: str, i: int) -> str:
    return re.sub(r"[^\w.-]+", "_", label) + f"-{i}"


def time_rows(rows: list[tuple[str, object, str | None]], env, runs: int, tmp: Path
              ) -> dict[str, tuple[list[float], list[float]]]:
    """Each row (label, argv_for(out dir), frontend image or None) is built once to warm up (which must make
    every later build fully cached), then the rows take turns, `runs` times: load from other processes on
    this machine then weighs on every row alike."""
    live = []
    for label, argv_for, image in rows:
        out = tmp / _dirname(label, 0)
        if _build_once(label, argv_for(out), env, tmp, out, image, timed=False) is not None:
            live.append((label, argv_for, image))
    res: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label, _, _ in rows}
    for i in range(1, runs + 1):
        for label, argv_for, image in list(live):
            out = tmp / _dirname(label, i)
            got = _build_once(label, argv_for(out), env, tmp, out, image, timed=True)
            if got is None:
                live.remove((label, argv_for, image))
                res[label] = ([], [])
                continue
            res[label][0].append(got[0])
            if got[1] is not None:
                res[label][1].append(got[1])
    return res


def ensure_gateway_dockerfile_image(cli: str, env) -> bool:
    """Import BuildKit's Dockerfile frontend binary as a gateway image (labels as upstream's image)."""
    if subprocess.run([cli, "image", "inspect", GATEWAY_DOCKERFILE], env=env, capture_output=True).returncode == 0:
        return True
    if not GATEWAY_DOCKERFILE_BIN.exists():
        print(f"gateway Dockerfile frontend: skipped ({GATEWAY_DOCKERFILE_BIN} missing: "
              "scripts/e2e/provision.sh b --buildctl builds it)")
        return False
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(GATEWAY_DOCKERFILE_BIN.resolve(), arcname="bin/dockerfile-frontend")
    caps = "moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts"
    proc = subprocess.run([cli, "import", "--change", 'ENTRYPOINT ["/bin/dockerfile-frontend"]',
                           "--change", 'LABEL moby.buildkit.frontend.network.none="true"',
                           "--change", f'LABEL moby.buildkit.frontend.caps="{caps}"', "-", GATEWAY_DOCKERFILE],
                          input=buf.getvalue(), env=env, capture_output=True)
    if proc.returncode != 0:
        print(f"gateway Dockerfile frontend: import failed: {proc.stderr.decode()[-300:]}")
    return proc.returncode == 0


def frontend_own_time(runs: int) -> list[float]:
    """`dalecpy frontend` as a process against the fake LLBBridge: spawn to Return, in seconds."""
    try:
        from tests.frontend.fakebridge import FRONTEND_ARGV, run_subprocess
    except ImportError as exc:  # tests not shipped: skip this figure
        print(f"frontend own time: skipped ({exc})")
        return []
    files = {"spec.yml": SPEC.read_bytes()}
    out = []
    for _ in range(runs):
        fb, elapsed, rc, err = run_subprocess(FRONTEND_ARGV, files, {"filename": "spec.yml", "target": TARGET})
        if rc != 0 or fb.returned is None or fb.returned.HasField("error"):
            print(f"frontend own time: run failed (rc {rc}): {err.decode()[-500:]}")
            return []
        out.append(elapsed)
    return out


def fmt(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f}s (min {min(xs):.3f}, max {max(xs):.3f}, n={len(xs)})" if xs else "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--image", action="append", default=None,
                    help=f"dalecpy frontend image to time; repeat to compare several in one run (default {FRONTEND})")
    args = ap.parse_args()
    images = args.image or [FRONTEND]
    runs = max(5, args.runs)
    env, cli, engine = engine_env()
    info = subprocess.run([cli, "version", "-f", "{{.Server.Version}}"], env=env, capture_output=True, text=True)
    if info.returncode != 0:
        print(f"no engine answers ({info.stderr.strip()[:200]}): run scripts/e2e/provision.sh b")
        return 0
    for image in images:
        if subprocess.run([cli, "image", "inspect", image], env=env, capture_output=True).returncode != 0:
            print(f"{image} is not in engine {engine}'s image store: build frontend.Dockerfile first")
            return 0
    print(f"engine {engine}: dockerd {info.stdout.strip()}; {SPEC.relative_to(ROOT)} {TARGET}; "
          f"{runs} timed runs each after one warm-up, the rows taking turns")
    gateway = ensure_gateway_dockerfile_image(cli, env)
    dalec = ensure_dalec_image(cli, env)
    with tempfile.TemporaryDirectory(prefix="dalecpy-bench-") as d:
        tmp = Path(d)
        ctx = tmp / "dockerfile-ctx"
        ctx.mkdir()
        write_dockerfile(ctx)
        gw_dockerfile = ctx / "Dockerfile.gateway"
        gw_dockerfile.write_text(f"# syntax={GATEWAY_DOCKERFILE}\n" + (ctx / "Dockerfile").read_text())
        spec_ctx = tmp / "spec-ctx"  # the spec needs no context files: keep what the client sends minimal
        spec_ctx.mkdir()
        # the one spec every frontend builds (Dalec cannot build hello.yml's two-line description): the copies
        # differ in their syntax line only
        rows = []
        for n, image in enumerate(images):
            derive(SPEC, spec_ctx / f"hello-{n}.yml", one_line_description, syntax=f"# syntax={image}\n")
            rows.append((image, lambda o, f=spec_ctx / f"hello-{n}.yml": build_argv(cli, engine, f, spec_ctx, o)
                         + ["--target", TARGET], image))
        if dalec:
            derive(SPEC, spec_ctx / "hello-dalec.yml", one_line_description, syntax=f"# syntax={DALEC_IMAGE}\n")
            rows.append(("dalec frontend image", lambda o: build_argv(cli, engine, spec_ctx / "hello-dalec.yml",
                                                                      spec_ctx, o) + ["--target", TARGET], DALEC_IMAGE))
        rows.append(("dockerfile frontend", lambda o: build_argv(cli, engine, ctx / "Dockerfile", ctx, o), None))
        if gateway:
            rows.append(("dockerfile gateway image", lambda o: build_argv(cli, engine, gw_dockerfile, ctx, o),
                         GATEWAY_DOCKERFILE))
        res = time_rows(rows, env, runs, tmp)
    theirs, _ = res["dockerfile frontend"]
    gw, gw_start = res.get("dockerfile gateway image", ([], []))
    dl, dl_start = res.get("dalec frontend image", ([], []))
    own = frontend_own_time(runs)
    print(f"  cached rebuild, built-in Dockerfile frontend:   {fmt(theirs)}")
    if gw:
        print(f"  cached rebuild, Dockerfile frontend as a gateway image (floor of any # syntax= image): {fmt(gw)}")
    if dl:
        print(f"  cached rebuild, Dalec's frontend image ({DALEC_IMAGE}): {fmt(dl)}")
    for image in images:
        ours, ours_start = res[image]
        print(f"  cached rebuild, {image}: {fmt(ours)}")
        if ours and theirs:
            ratio = statistics.median(ours) / statistics.median(theirs)
            verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
            print(f"    ratio to the built-in Dockerfile frontend: {ratio:.2f}  (target <= {TARGET_RATIO}: {verdict})")
        if ours and gw:
            ratio = statistics.median(ours) / statistics.median(gw)
            verdict = "ok" if ratio <= TARGET_GATEWAY_RATIO else "OVER TARGET"
            print(f"    ratio to the Dockerfile gateway image: {ratio:.2f}  (target <= {TARGET_GATEWAY_RATIO}: {verdict})")
        if ours and dl:
            ratio = statistics.median(ours) / statistics.median(dl)
            verdict = "ok" if ratio <= 1 else "SLOWER"
            print(f"    ratio to Dalec's frontend image: {ratio:.2f}  (target <= 1: {verdict})")
        if ours_start:
            print(f"    frontend image loaded -> its first request: {fmt(ours_start)}")
    if gw_start:
        print(f"  frontend image loaded -> its first request, Dockerfile gateway image: {fmt(gw_start)}")
    if dl_start:
        print(f"  frontend image loaded -> its first request, Dalec's frontend image: {fmt(dl_start)}")
    print(f"  dalecpy frontend process, start to Return (fake bridge, host python): {fmt(own)}")
    return 0

if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not fail
        print(f"benchmark error: {exc!r}")
        sys.exit(0)
