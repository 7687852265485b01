"""Helpers that compile a spec and look into the marshaled LLB the way BuildKit would read it."""

from __future__ import annotations

import hashlib
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from dalecpy.compile import CompileOptions, compile_spec
from dalecpy.llb import ops_pb2
from dalecpy.platforms import Platform
from dalecpy.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"


@dataclass
class Graph:
    definition: ops_pb2.Definition
    ops: dict[str, ops_pb2.Op]  # digest -> op, terminal excluded

    def named(self, prefix: str) -> ops_pb2.Op:
        found = [
            self.ops[d]
            for d, m in self.definition.metadata.items()
            if d in self.ops and m.description.get("llb.customname", "").startswith(prefix)
        ]
        assert len(found) == 1, f"expected one op named {prefix!r}, found {len(found)}"
        return found[0]

    def execs(self) -> list[ops_pb2.Op]:
        return [op for op in self.ops.values() if op.WhichOneof("op") == "exec"]

    def mkfile(self, path: str) -> str:
        """Contents of the file created at `path` by some FileOp mkfile action."""
        hits = [
            a.mkfile.data.decode()
            for op in self.ops.values()
            if op.WhichOneof("op") == "file"
            for a in op.file.actions
            if a.WhichOneof("action") == "mkfile" and a.mkfile.path == path
        ]
        assert len(hits) == 1, f"expected one mkfile {path}, found {len(hits)}"
        return hits[0]

    def cache_mounts(self, op: ops_pb2.Op) -> dict[str, tuple[str, int]]:
        return {m.dest: (m.cacheOpt.ID, m.cacheOpt.sharing) for m in op.exec.mounts if m.mountType == ops_pb2.CACHE}


def graph(definition: ops_pb2.Definition) -> Graph:
    ops = {}
    for raw in list(getattr(definition, "def"))[:-1]:  # the last entry is the terminal op
        op = ops_pb2.Op()
        op.ParseFromString(raw)
        ops["sha256:" + hashlib.sha256(raw).hexdigest()] = op
    return Graph(definition, ops)


def compile_text(text: str, target: str = "bookworm/deb", platform: str | None = None, **kw) -> Graph:
    loaded = load_spec(textwrap.dedent(text), "spec.yml")
    opts = CompileOptions(target=target, platform=Platform.parse(platform) if platform else None, **kw)
    return graph(compile_spec(loaded, opts).definition)


@pytest.fixture
def compile_spec_text():
    return compile_text
