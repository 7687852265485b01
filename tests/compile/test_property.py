"""Property test: random mutations of the examples compile or fail with a user error, never anything else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from dalecpy import llb
from dalecpy.compile import CompileOptions, compile_spec, effective_caches
from dalecpy.errors import UserError
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
    except UserError as err:  # user errors that are not about one spec node
        assert err.path is None and str(err)
        return
    assert len(getattr(result.definition, "def")) >= 2
    llb.definition_to_json(result.definition)


# ------------------------------------------------------------------ generated hostile specs

_dirs = st.sampled_from(["/a", "/a/", "//a", "/x/../a", "/a/.", "/build", "/build/", "/", "/tmp/dalec/internal",
                         "/tmp/dalec/internal/", "/tmp/dalec/gobuild-cache", "/etc/bazel.bazelrc", "/b", "relative"])
_refs = st.one_of(
    st.sampled_from(["debian:bookworm", "Bad/UPPER:tag", "a b", "x@sha256:12", "registry:5000/x:y", ":", "@", "",
                     "localhost/x", "UP", "a" * 64, "debian:" + "t" * 200, "${REF}", "$NOPE"]),
    st.text(max_size=20),
)
_urls = st.one_of(
    st.sampled_from(["https://h/x", "ftp://h/x", "git@h:x", "file:///x", "ssh://u@h/x", "h/x", "", "://", "${URL}",
                     "HTTPS://h/x", "gopher://x"]),
    st.text(max_size=20),
)


@st.composite
def _hostile_specs(draw):
    source = draw(st.sampled_from(["image", "git", "context"]))
    src = {"image": {"image": {"ref": draw(_refs)}, "path": "/"},
           "git": {"git": {"url": draw(_urls), "commit": "c"}},
           "context": {"context": {}}}[source]
    caches = [{"dir": {"dest": d, "key": f"k{i}"}} for i, d in enumerate(draw(st.lists(_dirs, max_size=3)))]
    caches += draw(st.lists(st.sampled_from([{"gobuild": {}}, {"bazel": {}}]), max_size=2))
    steps = [
        {"command": "true",
         "mounts": [{"dest": d, "spec": draw(st.sampled_from([{"context": {}}, {"context": {"name": "o"}}, src]))}
                    for d in draw(st.lists(_dirs, max_size=3))]}
        for _ in range(draw(st.integers(1, 3)))
    ]
    doc = {"name": "p", "description": "d", "version": "1", "revision": "1",
           "args": {"REF": draw(_refs), "URL": draw(_urls)},
           "sources": {"s": src}, "build": {"caches": caches, "steps": steps},
           "image": {"base": draw(_refs)}}
    return doc, {k: draw(v) for k, v in (("REF", _refs), ("URL", _urls)) if draw(st.booleans())}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_hostile_specs(), st.sampled_from(TARGETS + ["bookworm/dsc", "bookworm/testing/sysext"]),
       st.sampled_from(PLATFORMS + [Platform("windows", "amd64")]),
       st.dictionaries(st.sampled_from(["dalec-bookworm-worker", "dalec-trixie-worker"]),
                       _refs.map(lambda r: "docker-image://" + r), max_size=1))
def test_bad_refs_urls_and_colliding_mounts_raise_only_user_errors(case, target, platform, named):
    doc, build_args = case
    try:
        loaded = load_spec(dump(doc), "h.yml")
        opts = CompileOptions(target=target, platform=platform, build_args=build_args, named_contexts=named)
        effective_caches(loaded, opts)
        compile_spec(loaded, opts)
    except SpecError as err:
        assert err.diagnostics and all(d.filename == "h.yml" for d in err.diagnostics)
    except UserError as err:
        assert err.path is None and str(err)
