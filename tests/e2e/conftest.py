"""End-to-end fixtures: a real BuildKit engine (scripts/e2e/) and the frontend image.

The engine comes from /run/dalecpy-e2e/engine.env (or the file DALECPY_E2E_ENV names) when it exists, as
written by scripts/e2e/provision.sh (engines a, b: dockerd) or scripts/e2e/engine-c.sh (engine c: standalone
buildkitd, /run/dalecpy-e2e/engine-c.env), else from the environment (DOCKER_HOST or the default socket).
Tests skip with the reason when no engine answers.

Engine c has no docker CLI and no image store: `Engine` gives the tests one vocabulary for both kinds. Its
`build_cmd` takes docker buildx's flags and, on engine c, runs the same build with buildctl through the
frontend image (`--frontend gateway.v0 --opt source=<image in the registry>`); images built with `-t` are
pushed to the local registry (engine c's docker.io mirror), `run_container` runs a command in an image as a
build step (stdout and exit code captured), and `image_config` reads the config from the registry.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE_ENV = Path(os.environ.get("DALECPY_E2E_ENV", "/run/dalecpy-e2e/engine.env"))
FRONTEND_TAGS = ("dalecpy/frontend:latest", "dalecpy/frontend:dev")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
_MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                   "application/vnd.docker.distribution.manifest.v2+json")


def docker_repo(tag: str) -> tuple[str, str]:
    """("library/debian", "bookworm") for "debian:bookworm": the repository path a docker.io mirror serves."""
    name, _, ref = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "latest")
    return (name if "/" in name else "library/" + name), ref


@dataclass
class Engine:
    name: str  # "a" (dockerd 20.10, BuildKit 0.8), "b" (dockerd 28 + buildx), "c" (buildkitd + buildctl) or "env"
    env: dict[str, str]
    cli: str  # the docker CLI; buildctl on engine c
    registry: str = ""  # engine c's image store (its docker.io mirror), e.g. 127.0.0.1:5000

    @property
    def has_docker(self) -> bool:
        return self.name != "c"

    @property
    def has_buildx(self) -> bool:
        """Takes buildx's flags (--load, --call, --no-cache-filter, several platforms); engine c through buildctl."""
        return self.name != "a"

    def build_cmd(self, *args: str) -> list[str]:
        """A spec build through the frontend image, given docker buildx's flags."""
        if not self.has_docker:
            return self._buildctl(args, ["--frontend", "gateway.v0", "--opt", f"source={self.image_ref(FRONTEND_TAGS[0])}"])
        if self.has_buildx:
            return [self.cli, "buildx", "build", "--progress=plain", *args]
        return [self.cli, "build", "--progress=plain", *args]

    def dockerfile_cmd(self, *args: str) -> list[str]:
        """A Dockerfile build (BuildKit's own dockerfile.v0 on engine c), given docker buildx's flags."""
        if not self.has_docker:
            return self._buildctl(args, ["--frontend", "dockerfile.v0"])
        return self.build_cmd(*args)

    def _buildctl(self, args, frontend: list[str]) -> list[str]:
        """buildctl's argv for docker buildx's `build` flags, as buildx turns them into a Solve."""
        out = [self.cli, "build", "--progress=plain", *frontend]
        spec = context = None
        tags: list[str] = []
        it = iter(args)
        for a in it:
            if a == "-f":
                spec = Path(next(it))
            elif a == "--target":
                out += ["--opt", f"target={next(it)}"]
            elif a == "--build-arg":
                out += ["--opt", f"build-arg:{next(it)}"]
            elif a == "--platform":
                out += ["--opt", f"platform={next(it)}"]
            elif a == "--no-cache-filter":
                out += ["--opt", f"no-cache={next(it)}"]
            elif a == "--call":  # buildx's --call NAME is the frontend subrequest frontend.NAME
                out += ["--opt", f"requestid=frontend.{next(it)}"]
            elif a in ("-o", "--output", "--secret"):
                out += ["--output" if a != "--secret" else "--secret", next(it)]
            elif a == "--no-cache":
                out.append(a)
            elif a == "-t":
                tags.append(next(it))
            elif a == "--load":
                pass  # with -t: pushed to the registry, engine c's image store
            elif a.startswith("-"):
                raise ValueError(f"engine c: no buildctl translation for {a}")
            else:
                context = a
        context = context or "."
        spec = spec or Path(context) / "Dockerfile"
        out += ["--local", f"context={context}", "--local", f"dockerfile={spec.parent}", "--opt", f"filename={spec.name}"]
        if tags:
            names = ",".join(self.image_ref(t) for t in tags)
            out += ["--output", f'type=image,"name={names}",push=true']
        return out

    def image_ref(self, tag: str) -> str:
        """Where `tag` lives: the engine's image store, or on engine c the registry path its docker.io mirror serves."""
        if not self.registry:
            return tag
        return "{}/{}:{}".format(self.registry, *docker_repo(tag))

    def image_output(self, tag: str) -> list[str]:
        """`dalecpy build` flags that put the image `tag` where `run_container` and `image_config` find it."""
        if self.has_docker:  # dockerd itself, not BUILDKIT_HOST's proxy: only dockerd loads images into its store
            return ["-o", f"type=docker,name={tag}", "--addr", "docker://"]
        return ["-o", f"type=image,name={self.image_ref(tag)},push=true"]

    def image_config(self, tag: str, arch: str = "amd64") -> dict:
        """{"Config": {Entrypoint, Cmd, Env, Labels, ...}, "Layers": [diff IDs], "Architecture": ...}"""
        if self.has_docker:
            fmt = "{{json .Config}}|{{json .RootFS.Layers}}|{{.Architecture}}"
            cfg, layers, got_arch = self.run([self.cli, "image", "inspect", "--format", fmt, tag],
                                             check=True).stdout.strip().split("|")
            return {"Config": json.loads(cfg), "Layers": json.loads(layers), "Architecture": got_arch}
        repo, ref = docker_repo(tag)
        manifest = self._registry_get(f"{repo}/manifests/{ref}", _INDEX_TYPES + _MANIFEST_TYPES)
        if manifest.get("manifests"):
            desc = next(d for d in manifest["manifests"] if d.get("platform", {}).get("architecture") == arch)
            manifest = self._registry_get(f"{repo}/manifests/{desc['digest']}", _MANIFEST_TYPES)
        cfg = self._registry_get(f"{repo}/blobs/{manifest['config']['digest']}", ())
        return {"Config": cfg.get("config", {}), "Layers": cfg["rootfs"]["diff_ids"], "Architecture": cfg["architecture"]}

    def _registry_get(self, path: str, accept: tuple[str, ...]) -> dict:
        req = urllib.request.Request(f"http://{self.registry}/v2/{path}", headers={"Accept": ", ".join(accept)} if accept else {})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)

    def remove_image(self, tag: str) -> None:
        """Untag a test image. Not on engine c: the registry deletes a manifest by digest together with every tag
        that names it, and reproducible builds give other tags (another run's, or `latest`) the same digest."""
        if self.has_docker:
            self.run([self.cli, "rmi", "-f", tag])

    def run_container(self, image: str, args: list[str] = (), *, volumes: dict[str, str] | None = None,
                      platform: str | None = None, workdir: str | None = None) -> subprocess.CompletedProcess:
        """`docker run --rm [-v HOST:CTR:ro] [-w DIR] IMAGE ARGS`: stdout, stderr and exit code of the command.
        Engine c runs it as a build step of `FROM IMAGE` (the image's entrypoint, env, user and workdir), the
        volumes as read-only bind mounts of local contexts."""
        if self.has_docker:
            argv = [self.cli, "run", "--rm", *(["--platform", platform] if platform else []),
                    *(["-w", workdir] if workdir else [])]
            for host, ctr in (volumes or {}).items():
                argv += ["-v", f"{host}:{ctr}:ro"]
            return self.run([*argv, image, *args])
        cfg = self.image_config(image, (platform or "linux/amd64").split("/")[1])["Config"]
        cmd = [*(cfg.get("Entrypoint") or []), *(args or cfg.get("Cmd") or [])]
        with tempfile.TemporaryDirectory(prefix="dalecpy-e2e-run-") as tmp:
            mounts, extra = [], []
            for i, (host, ctr) in enumerate((volumes or {}).items()):
                mounts.append(f"--mount=type=bind,from=v{i},target={ctr}")
                extra += ["--local", f"v{i}={host}", "--opt", f"context:v{i}=local:v{i}"]
            # the command in a script: a Dockerfile line ends at the first newline, a shell word does not
            (Path(tmp) / "run.sh").write_text(
                f"{shlex.join(cmd)} >/.e2e-run/stdout 2>/.e2e-run/stderr; echo $? >/.e2e-run/rc\n")
            (Path(tmp) / "Dockerfile").write_text(
                f"FROM {image} AS run\nUSER root\nRUN mkdir -p /.e2e-run && chmod 777 /.e2e-run\n"
                f"USER {cfg.get('User') or 'root'}\n{f'WORKDIR {workdir}' if workdir else ''}\n"
                f"RUN --mount=type=bind,target=/.e2e-ctx {' '.join(mounts)} sh /.e2e-ctx/run.sh\n"
                "FROM scratch\nCOPY --from=run /.e2e-run/ /\n")
            out = Path(tmp) / "out"
            argv = [*self._buildctl(["--no-cache", "-o", f"type=local,dest={out}", tmp], ["--frontend", "dockerfile.v0"]),
                    *extra]
            if platform:
                argv += ["--opt", f"platform={platform}"]
            proc = self.run(argv)
            if proc.returncode != 0:
                return proc
            return subprocess.CompletedProcess(cmd, int((out / "rc").read_text()), (out / "stdout").read_text(),
                                               (out / "stderr").read_text())

    def prune_cmd(self, *filters: str) -> list[str]:
        """Prune the build cache records matching every filter (docker's `KEY=VALUE`)."""
        if self.has_docker:
            return [self.cli, "builder", "prune", "-f", *(x for f in filters for x in ("--filter", f))]
        # buildctl passes filters to BuildKit as they are: containerd's syntax, where equality is `==`
        return [self.cli, "prune", *(x for f in filters for x in ("--filter", f.replace("=", "==", 1)))]

    def run(self, argv: list[str], timeout: float = 900, check: bool = False) -> subprocess.CompletedProcess:
        proc = subprocess.run(argv, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            pytest.fail(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        return proc


def _load_env_file(path: Path) -> dict[str, str]:
    out = subprocess.run(
        ["bash", "-c", 'set -a; . "$1" >/dev/null; env -0', "_", str(path)],
        capture_output=True, check=True,
    ).stdout
    env = {}
    for item in out.split(b"\0"):
        if b"=" in item:
            k, _, v = item.partition(b"=")
            env[k.decode()] = v.decode()
    return env


def _no_engine(reason: str):
    """Skip, or fail when the caller provisioned an engine and requires one (scripts/e2e/ci.sh sets DALECPY_E2E_REQUIRE=1)."""
    if os.environ.get("DALECPY_E2E_REQUIRE") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


ENGINE_ENV_FILES = {"c": Path("/run/dalecpy-e2e/engine-c.env"), "dockerd": Path("/run/dalecpy-e2e/engine.env")}


@pytest.fixture(scope="session")
def engine() -> Engine:
    if ENGINE_ENV.exists():
        return _engine_from(_load_env_file(ENGINE_ENV), _no_engine)
    if os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists():
        return _engine_from(dict(os.environ), _no_engine)
    _no_engine(f"no BuildKit engine: {ENGINE_ENV} missing and no DOCKER_HOST (run scripts/e2e/provision.sh b)")


@pytest.fixture(scope="session")
def other_engine(engine: Engine) -> Engine:
    """A second running engine for builds that share something across engines: engine c when the session's
    engine is a dockerd, else the dockerd of /run/dalecpy-e2e/engine.env. Skips when it is not up."""
    path = ENGINE_ENV_FILES["dockerd" if engine.name == "c" else "c"]
    if not path.exists():
        pytest.skip(f"no second engine: {path} missing (scripts/e2e/engine-c.sh start or provision.sh b)")
    return _engine_from(_load_env_file(path), pytest.skip)


def _engine_from(env: dict[str, str], unavailable) -> Engine:
    """The engine `env` (an engine env file's variables) names, once it answers; else `unavailable(reason)`."""
    name = env.get("DALECPY_E2E_ENGINE", "env")
    if name == "c":
        return _buildkitd_engine(env, unavailable)
    env["DOCKER_BUILDKIT"] = "1"
    cli = env.get("DOCKER_CLI") or shutil.which("docker", path=env.get("PATH")) or "docker"
    try:
        info = subprocess.run([cli, "info", "--format", "{{.ServerVersion}}"], env=env, capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        unavailable(f"no BuildKit engine: {cli} info: {exc}")
    if info.returncode != 0:
        unavailable(f"no BuildKit engine: docker info failed: {info.stderr.strip()[:300]}")
    if name == "env":
        has_buildx = subprocess.run([cli, "buildx", "version"], env=env, capture_output=True).returncode == 0
        name = "b" if has_buildx else "a"
    return Engine(name, env, cli)


def _buildkitd_engine(env: dict[str, str], unavailable) -> Engine:
    cli = env.get("BUILDCTL") or "buildctl"
    try:
        proc = subprocess.run([cli, "debug", "workers"], env=env, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        unavailable(f"no BuildKit engine: {cli} debug workers: {exc}")
    if proc.returncode != 0:
        unavailable(f"no BuildKit engine at {env.get('BUILDKIT_HOST')}: {proc.stderr.strip()[:300]} "
                   "(scripts/e2e/engine-c.sh start)")
    return Engine("c", env, cli, registry=env.get("DALECPY_E2E_REGISTRY", "127.0.0.1:5000"))


@pytest.fixture(scope="session")
def frontend_image(engine: Engine) -> str:
    """Build frontend.Dockerfile as dalecpy/frontend:{latest,dev}: into the engine's image store, or on engine c
    pushed to the registry, where its docker.io mirror finds `dalecpy/frontend:latest`."""
    args = ["-f", "frontend.Dockerfile"]
    for tag in FRONTEND_TAGS:
        args += ["-t", tag]
    if HOST_CA.exists():
        args += ["--secret", f"id=pipca,src={HOST_CA}"]
    if engine.has_buildx:
        args.append("--load")
    engine.run(engine.dockerfile_cmd(*args, "."), timeout=1800, check=True)
    return FRONTEND_TAGS[0]


@pytest.fixture(scope="session")
def image_store(engine: Engine) -> str:
    """"containerd" when dockerd keeps its images in containerd (the containerd-snapshotter feature: multi-platform
    builds with buildx's docker driver, oci/docker tarball exporters), "registry" for engine c (buildkitd: both
    too), else "classic"."""
    if not engine.has_docker:
        return "registry"
    proc = engine.run([engine.cli, "info", "--format", "{{json .DriverStatus}}"], timeout=30)
    return "containerd" if "io.containerd.snapshotter" in proc.stdout else "classic"


#: fixed commit dates: the same commit every run, so builds from it are cached across runs (BuildKit keys a git
#: source by its commit, not its URL, whose port changes)
_GIT_ENV = {"GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **_GIT_ENV}).stdout.strip()


@pytest.fixture
def git_server(tmp_path):
    """A bare repository served over dumb HTTP on loopback (BuildKit's git source runs in the daemon's netns),
    with the same one commit every time."""
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q")
    (work / "README").write_text("Hello World!\n")
    _git(work, "add", "README")
    _git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init")
    commit = _git(work, "rev-parse", "HEAD")
    served = tmp_path / "srv"
    served.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(served / "repo.git")], check=True)
    _git(served / "repo.git", "update-server-info")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/repo.git", commit
    server.shutdown()
