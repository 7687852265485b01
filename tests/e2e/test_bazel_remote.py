"""bazel-remote behind the forwarded `bazel-default` socket: gRPC over a unix socket, hits counted by the server.

scripts/e2e/bazel-remote.sh runs bazel-remote (pinned release from the Go module proxy) with its gRPC and HTTP
listeners on unix sockets only. specs/bazel-remote-cache.yml is built with the gRPC socket forwarded
(`dalecpy build --socket bazel-default=grpc.sock`, or a stock `buildctl --ssh bazel-default=grpc.sock,raw=true`)
and REMOTE_SCHEME=grpc: Debian's Bazel 4.2.3 cannot dial `unix:` (the rc line Dalec writes,
`--remote_cache=unix:/tmp/dalec/bazel-remote.sock`, is checked as written), so the step bridges the socket to
grpc://127.0.0.1:9092 with socat. No Bazel with unix socket support is available from a registry reachable here
(npm's @bazel/bazel-linux_x64 stops at 2.1.0, older than Bazel's `unix:` gRPC targets).

Hits are read from bazel-remote itself: its Prometheus counters (`bazel_remote_incoming_requests_total`, on the
HTTP socket's /metrics) and its access log (`GRPC AC GET OK <hash>`), besides Bazel's own process summary.
"""

from __future__ import annotations

import random
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import ROOT
from .rerun import rerun_copy
from .test_remote_cache import DALECPY, SPEC, SUMMARY_HITS, SUMMARY_RAN, _build, _docs, _prune_cache_mounts

pytestmark = pytest.mark.e2e

SCRIPT = ROOT / "scripts/e2e/bazel-remote.sh"
GRPC_FLAG = "remote: --remote_cache=grpc://127.0.0.1:9092"
RC_LINE = "build --remote_cache=unix:/tmp/dalec/bazel-remote.sock"
ACTIONS = 5  # four genrules and the one that joins them


@dataclass
class BazelRemote:
    data: Path
    state: Path
    _log_seen: int = 0
    _counts: dict[tuple[str, str, str], float] = field(default_factory=dict)

    @property
    def grpc(self) -> Path:
        return self.state / "grpc.sock"

    def metrics(self) -> dict[tuple[str, str, str], float]:
        """bazel_remote_incoming_requests_total by (kind, method, status), read over the HTTP socket."""
        text = subprocess.run(["curl", "-fsS", "--unix-socket", str(self.state / "http.sock"), "http://localhost/metrics"],
                              capture_output=True, text=True, check=True).stdout
        return {m[:3]: float(m[3]) for m in re.findall(
            r'^bazel_remote_incoming_requests_total\{kind="(\w+)",method="(\w+)",status="(\w+)"\} (\S+)$', text, re.M)}

    def new_counts(self) -> dict[tuple[str, str, str], float]:
        """The counters' increase since the last call."""
        now = self.metrics()
        delta = {k: v - self._counts.get(k, 0) for k, v in now.items()}
        self._counts = now
        return delta

    def new_log(self) -> list[str]:
        lines = (self.state / "bazel-remote.log").read_text().splitlines()
        new, self._log_seen = lines[self._log_seen:], len(lines)
        return new


@pytest.fixture(scope="module")
def bazel_remote(tmp_path_factory) -> BazelRemote:
    base = tmp_path_factory.mktemp("bazel-remote")
    srv = BazelRemote(base / "data", base / "state")
    proc = subprocess.run([str(SCRIPT), "start", str(srv.data), str(srv.state)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"bazel-remote did not start: {proc.stderr[-2000:]}")
    srv.new_counts()
    yield srv
    subprocess.run([str(SCRIPT), "stop", str(srv.data), str(srv.state)], capture_output=True)


def _work() -> str:
    """A WORK value new to every cache: the genrules' action keys are this session's own."""
    return f"1.{random.randrange(10**5, 10**6)}"


def _grpc_build(engine, srv: BazelRemote, out: Path, work: str) -> dict[str, str]:
    _build(engine, out, "--build-arg", f"WORK={work}", "--build-arg", "REMOTE_SCHEME=grpc",
           "--socket", f"bazel-default={srv.grpc}", spec=rerun_copy(SPEC, out.parent))
    return _docs(out)


def _assert_uploaded(srv: BazelRemote, docs: dict[str, str]) -> None:
    stats = docs["remote-cache-stats.txt"]
    assert GRPC_FLAG in stats and SUMMARY_RAN in stats, stats
    log = srv.new_log()
    assert sum(1 for line in log if re.search(r"GRPC AC PUT \w+ OK$", line)) == ACTIONS, log[-40:]
    misses = srv.new_counts()
    assert misses.get(("ac", "get", "miss"), 0) >= ACTIONS, misses


def _assert_remote_hits(srv: BazelRemote, docs: dict[str, str]) -> None:
    stats = docs["remote-cache-stats.txt"]
    assert GRPC_FLAG in stats and SUMMARY_HITS in stats, stats
    counts = srv.new_counts()
    assert counts.get(("ac", "get", "hit"), 0) >= ACTIONS, counts
    assert counts.get(("ac", "get", "miss"), 0) == 0, counts
    log = srv.new_log()
    assert sum(1 for line in log if re.search(r"GRPC AC GET \w+ OK$", line)) >= ACTIONS, log[-40:]
    assert not any("GRPC AC PUT" in line for line in log), "a remote hit uploaded an action result"


def test_grpc_over_the_socket_fills_then_hits(engine, bazel_remote, tmp_path):
    work = _work()
    docs = _grpc_build(engine, bazel_remote, tmp_path / "b1", work)
    assert RC_LINE in docs["bazelrc.txt"], docs["bazelrc.txt"]
    _assert_uploaded(bazel_remote, docs)
    # the local disk cache gone: every action comes from bazel-remote
    _prune_cache_mounts(engine)
    _assert_remote_hits(bazel_remote, _grpc_build(engine, bazel_remote, tmp_path / "b2", work))


def test_stock_buildctl_forwards_the_grpc_socket(engine, bazel_remote, tmp_path):
    """The rendered LLB through a stock client: buildctl's own raw ssh forwarding (`raw=true`, BuildKit >= 0.23)."""
    buildctl = engine.env.get("BUILDCTL")
    if not buildctl or not engine.env.get("BUILDKIT_HOST"):
        pytest.skip(f"engine {engine.name} has no buildctl (scripts/e2e/provision.sh b --buildctl, or engine c)")
    work = _work()
    _assert_uploaded(bazel_remote, _grpc_build(engine, bazel_remote, tmp_path / "fill", work))
    _prune_cache_mounts(engine)
    llb = subprocess.run([*DALECPY, "render", str(rerun_copy(SPEC, tmp_path)), "-t", "bookworm/deb",
                          "--build-arg", f"WORK={work}", "--build-arg", "REMOTE_SCHEME=grpc"],
                         cwd=ROOT, capture_output=True, check=True).stdout
    out = tmp_path / "out"
    proc = subprocess.run([buildctl, "build", "--progress", "plain", "--ssh", f"bazel-default={bazel_remote.grpc},raw=true",
                           "--output", f"type=local,dest={out}"], input=llb, env=engine.env, capture_output=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-6000:]
    _assert_remote_hits(bazel_remote, _docs(out))


def test_second_engine_gets_the_first_engines_uploads(engine, other_engine, bazel_remote, tmp_path):
    """Several builders, one remote cache: what one engine uploaded is a remote hit on another (its own disk cache
    has never seen these actions)."""
    work = _work()
    _assert_uploaded(bazel_remote, _grpc_build(other_engine, bazel_remote, tmp_path / "first", work))
    _assert_remote_hits(bazel_remote, _grpc_build(engine, bazel_remote, tmp_path / "second", work))
