"""Property test: random mutations of the examples compile or fail with a user error, never anything else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from dalecpy import llb
from dalecpy.compile import CompileError, CompileOptions, compile_spec, effective_caches
from dalecpy.platforms import Platform
from dalecpy.spec import SpecError, load_spec

from ..mutation import dump, mutated
from .conftest import SPECS

EXAMPLES = [YAML(typ="safe").load(p.read_text()) for p in sorted(SPECS.glob("*.yml"))]
TARGETS = ["bookworm/deb", "bookworm/container", "trixie/worker", "debug/resolve"]
PLATFORMS = [None, Platform("linux", "arm64"), Platform("linux", "arm", "v7"), Platform("linux", "s390x"), Platform("linux", "mips")]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(EXAMPLES), st.sampled_from(TARGETS), st.sampled_from(PLATFORMS))
def test_mutated_examples_raise_only_user_errors(doc, target, platform):
    try:
        loaded = load_spec(dump(doc), "m.yml")
        opts = CompileOptions(target=target, platform=platform)
        effective_caches(loaded, opts)
        result = compile_spec(loaded, opts)
    except SpecError as err:
        assert err.diagnostics and all(d.filename == "m.yml" for d in err.diagnostics)
        assert str(err).startswith("m.yml")
        return
    except CompileError as err:  # user errors that are not about one spec node
        assert err.path is None and str(err)
        return
    assert len(getattr(result.definition, "def")) >= 2
    llb.definition_to_json(result.definition)
