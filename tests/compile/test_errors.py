"""One error boundary: every bad input is a positioned UserError, never a traceback."""

from __future__ import annotations

import textwrap

import pytest

from dalecpy import llb
from dalecpy.compile import CompileError, CompileOptions, TargetError, compile_spec, effective_caches, lookup
from dalecpy.errors import UserError
from dalecpy.limits import MAX_BUILD_OP_MOUNTS, MAX_BUILD_STEPS, MAX_NAMED_CONTEXTS, MAX_STEP_MOUNTS, MAX_TESTS
from dalecpy.platforms import Platform
from dalecpy.spec import SpecError, load_spec

HEAD = """\
name: t
description: d
version: "1"
revision: "1"
"""


def _load(body: str):
    return load_spec(HEAD + textwrap.dedent(body), "s.yml")


def _compile(body: str, target: str = "bookworm/deb", **kw):
    return compile_spec(_load(body), CompileOptions(target=target, **kw))


def _errors(body: str, target: str = "bookworm/deb", **kw) -> list[str]:
    with pytest.raises(SpecError) as err:
        _compile(body, target, **kw)
    return [str(d) for d in err.value.diagnostics]


# ------------------------------------------------------------------ llb raises typed errors


@pytest.mark.parametrize(
    "make",
    [
        lambda: llb.image("Bad/UPPER:tag"),
        lambda: llb.git("ftp://example.com/x", "main"),
        lambda: llb.scratch().run(["true"], mounts=(llb.Mount.bind("/a", llb.scratch()), llb.Mount.bind("/a/", llb.scratch()))),
        lambda: llb.scratch().run(["true"], mounts=(llb.Mount.tmpfs("//x"), llb.Mount.tmpfs("/y/../x"))),
        lambda: llb.Mount.cache("/c", ""),
        lambda: llb.scratch().run([]),
        lambda: llb.image("debian", resolve_mode="sometimes"),
    ],
)
def test_llb_rejects_bad_values_with_a_user_error(make):
    with pytest.raises(llb.LLBError) as err:
        make()
    assert isinstance(err.value, UserError) and str(err.value)


# ------------------------------------------------------------------ mount collisions

STEP = """\
build:
  caches:
    - dir: {dest: DEST}
  steps:
    - command: "true"
"""


@pytest.mark.parametrize(
    "dest, owner",
    [("/build", "the build tree"), ("/build/", "the build tree"), ("//build", "the build tree"),
     ("/tmp/dalec/internal", "dalecpy's generated scripts"), ("/", "the root filesystem"),
     ("/x/../build", "the build tree")],
)
def test_cache_on_an_internal_mount_point_is_a_positioned_error(dest, owner):
    errs = _errors(STEP.replace("DEST", f'"{dest}"'))
    assert errs == [f"s.yml:7:7: build: cache 0: cache mount destination {dest} is already used by {owner}"]


@pytest.mark.parametrize("other", ["/a/", "//a", "/x/../a", "/a/."])
def test_cache_dests_spelled_differently_for_one_path_collide(other):
    errs = _errors(f"""\
        build:
          caches:
            - dir: {{dest: /a}}
            - dir: {{dest: "{other}", key: other}}
          steps:
            - command: "true"
        """)
    assert errs == [f"s.yml:8:7: build: cache 1: cache mount destination {other} is already used by cache 0"]
    with pytest.raises(SpecError):  # `dalecpy caches` reports the same
        effective_caches(_load(f"build: {{caches: [{{dir: {{dest: /a}}}}, {{dir: {{dest: '{other}', key: o}}}}], "
                               "steps: [{command: x}]}"), CompileOptions(target="bookworm/deb"))


def test_bazel_cache_claims_its_rc_and_socket():
    errs = _errors("""\
        build:
          caches:
            - dir: {dest: /etc/bazel.bazelrc}
            - bazel: {}
          steps:
            - command: "true"
        """)
    assert errs == ["s.yml:7:7: build: cache 0: cache mount destination /etc/bazel.bazelrc is already used "
                    "by cache 1"] or errs == ["s.yml:8:7: build: cache 1: bazelrc mount destination "
                                              "/etc/bazel.bazelrc is already used by cache 0"]


def test_step_mounts_collide_with_caches_internal_mounts_and_other_steps():
    errs = _errors("""\
        build:
          caches:
            - dir: {dest: /c}
          steps:
            - command: "true"
              mounts:
                - {dest: /c/, spec: {context: {}}}
                - {dest: /build, spec: {context: {}}}
                - {dest: /m, spec: {context: {name: one}}}
            - command: "true"
              mounts:
                - {dest: //m, spec: {context: {name: two}}}
        """)
    assert errs == [
        "s.yml:11:18: build: step 0: mount 0: mount destination /c/ is already used by cache 0",
        "s.yml:12:18: build: step 0: mount 1: mount destination /build is already used by the build tree",
        "s.yml:16:18: build: step 1: mount 0: mount destination //m is already used by the mount of step 0 mount 2",
    ]


def test_steps_mounting_one_source_at_one_path_share_the_mount():
    g = _compile("""\
        build:
          steps:
            - command: "true"
              mounts: [{dest: /m, spec: {context: {}}}]
            - command: "true"
              mounts: [{dest: /m/, spec: {context: {}}}]
        """)
    from .conftest import graph

    build = graph(g.definition).named("Build t")
    assert [m.dest for m in build.exec.mounts].count("/m") == 1


def test_test_mount_on_the_script_dir_is_positioned():
    errs = _errors("""\
        build: {steps: [{command: "true"}]}
        tests:
          - name: x
            mounts: [{dest: /tmp/dalec/internal/, spec: {context: {}}}]
            steps: [{command: "true"}]
        """, target="bookworm/container")
    assert errs == ["s.yml:8:21: test x: mount 0: mount destination /tmp/dalec/internal/ is already used by "
                    "dalecpy's generated test script"]


def test_duplicate_mounts_within_a_step_are_normalised_at_load():
    with pytest.raises(SpecError, match="duplicate mount destination: //m"):
        _load("""\
            build:
              steps:
                - command: "true"
                  mounts: [{dest: /m, spec: {context: {}}}, {dest: //m, spec: {context: {}}}]
            """)


# ------------------------------------------------------------------ refs and URLs


@pytest.mark.parametrize(
    "body, where, what",
    [
        ('sources: {a: {image: {ref: "Bad/UPPER:tag"}, path: /}}', "5:28", "invalid image reference"),
        ('sources: {a: {git: {url: "ftp://h/x", commit: c}}}', "5:26", "invalid git URL: unsupported git URL scheme 'ftp'"),
        ('image: {base: "a b"}', "5:15", "invalid image reference"),
        ('image: {bases: [{rootfs: {image: {ref: "x@sha256:12"}}}]}', "5:40", "invalid image reference"),
        ('targets: {bookworm: {image: {base: "UP"}}}', "5:36", "invalid image reference"),
        ('build: {steps: [{command: x, mounts: [{dest: /m, spec: {git: {url: "ftp://h", commit: c}}}]}]}', "5:68",
         "invalid git URL"),
        ('dependencies: {extra_repos: [{keys: {k: {image: {ref: "A:b"}, path: /}}}]}', "5:55", "invalid image reference"),
    ],
)
def test_validate_refuses_refs_and_urls_buildkit_rejects(body, where, what):
    with pytest.raises(SpecError) as err:
        _load(body)
    assert str(err.value).startswith(f"s.yml:{where}: {what}")


def test_refs_from_build_args_are_checked_after_substitution():
    loaded = _load("""\
        args: {REF: "debian:bookworm", URL: "https://h/x"}
        sources:
          a: {image: {ref: "$REF"}, path: /}
          b: {git: {url: "${URL}", commit: c}}
        build: {steps: [{command: x}]}
        """)
    compile_spec(loaded, CompileOptions(target="bookworm/deb"))
    with pytest.raises(SpecError) as err:
        compile_spec(loaded, CompileOptions(target="bookworm/deb", build_args={"REF": "Bad Ref", "URL": "ftp://h/x"}))
    lines = str(err.value).splitlines()
    assert lines[0].startswith("s.yml:7:20: invalid image reference") and "'Bad Ref'" in lines[0]
    assert lines[1].startswith("s.yml:8:18: invalid git URL")


def test_worker_named_context_with_a_bad_ref_is_a_user_error():
    with pytest.raises(CompileError, match="named context dalec-bookworm-worker: invalid image reference"):
        _compile("build: {steps: [{command: x}]}", named_contexts={"dalec-bookworm-worker": "docker-image://Bad/UP"})


def test_too_many_named_contexts_are_refused():
    named = {f"c{i}": "docker-image://debian" for i in range(MAX_NAMED_CONTEXTS + 1)}
    with pytest.raises(CompileError, match=f"the limit is {MAX_NAMED_CONTEXTS}"):
        _compile("build: {steps: [{command: x}]}", named_contexts=named)


# ------------------------------------------------------------------ platforms and routes


@pytest.mark.parametrize("target", ["bookworm/deb", "bookworm/container", "trixie/worker", "bookworm"])
def test_windows_platform_for_a_linux_target_names_the_platform(target):
    with pytest.raises(TargetError, match="platform windows/amd64 is not supported"):
        _compile("build: {steps: [{command: x}]}", target, platform=Platform("windows", "amd64"))


@pytest.mark.parametrize("target, why", [
    ("bookworm/dsc", "without a debian/ source tree"), ("bookworm/dsc/extra", "without a debian/ source tree"),
    ("trixie/testing/sysext", "systemd-sysext images"), ("noble/testing/sysext", "systemd-sysext images"),
    ("azlinux3/container/depsonly", "runtime-dependencies-only"), ("flatcar/worker", "systemd-sysext"),
    ("debug/gomods", "source generators"),
])
def test_dalec_routes_not_built_are_refused_saying_why_not_rerouted(target, why):
    with pytest.raises(TargetError, match=f"is not supported: .*{why}.*; valid targets: .*bookworm/deb"):
        lookup(target)


@pytest.mark.parametrize("target", ["bookworm/testing/sysext", "bookworm/rpm", "trixie/foo/bar", "azlinux3/foo",
                                    "windowscross/deb"])
def test_unregistered_sub_paths_do_not_fall_back_to_the_bare_distro(target):
    with pytest.raises(TargetError, match=f"unknown target '{target}'; valid targets: "):
        lookup(target)


# ------------------------------------------------------------------ limits


def test_limits_are_positioned_errors():
    steps = "\n".join(f"    - command: s{i}" for i in range(MAX_BUILD_STEPS + 1))
    with pytest.raises(SpecError, match=f"build: more than {MAX_BUILD_STEPS} steps"):
        _load(f"build:\n  steps:\n{steps}\n")
    mounts = ", ".join(f"{{dest: /m{i}, spec: {{context: {{}}}}}}" for i in range(MAX_STEP_MOUNTS + 1))
    with pytest.raises(SpecError, match=f"build: step 0: more than {MAX_STEP_MOUNTS} mounts"):
        _load(f"build: {{steps: [{{command: x, mounts: [{mounts}]}}]}}")
    tests = ", ".join(f"{{name: t{i}}}" for i in range(MAX_TESTS - 1))
    with pytest.raises(SpecError) as err:
        _load(f"tests: [{tests}]\ntargets: {{bookworm: {{tests: [{{name: a}}, {{name: b}}]}}}}")
    assert f"target bookworm: more than {MAX_TESTS} tests" in str(err.value)


def test_mounts_on_the_build_op_are_bounded():
    per_step = MAX_BUILD_OP_MOUNTS // MAX_STEP_MOUNTS + 1
    steps = ", ".join(
        "{command: x, mounts: [" + ", ".join(f"{{dest: /m{s}-{i}, spec: {{context: {{}}}}}}" for i in range(MAX_STEP_MOUNTS))
        + "]}" for s in range(per_step)
    )
    errs = _errors(f"build: {{steps: [{steps}]}}")
    assert len(errs) == 1 and f"more than {MAX_BUILD_OP_MOUNTS} mounts on the build op" in errs[0]


def test_all_user_errors_share_one_base_with_an_exit_code_and_a_status():
    from dalecpy.llb import MissingCapError
    from dalecpy.platforms import PlatformError
    from dalecpy.spec import SpecError as SE

    for cls in (SE, CompileError, TargetError, MissingCapError, PlatformError, llb.LLBError):
        assert issubclass(cls, UserError)
    assert UserError("x").exit_code == 2 and UserError("x").code == 3
    err = UserError.many([(("a",), "one"), (None, "two")])
    assert str(err) == "one\ntwo" and err.path == ("a",)
