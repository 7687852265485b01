import textwrap

import pytest

from dalecpy.spec import (
    KNOWN_ARGS,
    CacheConfig,
    Diagnostic,
    LoadedSpec,
    Spec,
    SpecError,
    load_spec,
    load_spec_file,
    spec_json_schema,
)


def load(text: str) -> LoadedSpec:
    return load_spec(textwrap.dedent(text), "spec.yml")


def errors(text: str) -> list[str]:
    with pytest.raises(SpecError) as ei:
        load(text)
    return str(ei.value).splitlines()


BUILD = """\
name: x
build:
  steps:
    - command: make
  caches:
"""


def test_valid_example(valid_text):
    ls = load_spec(valid_text, "valid.yml")
    s = ls.spec
    assert isinstance(s, Spec)
    assert s.revision == "1"
    assert s.extensions == {"x-custom": {"anything": [1, 2]}}
    assert s.sources["src"].context.name == "context"
    assert s.sources["tarball"].http.permissions == 0o644
    assert s.sources["cfg"].inline.dir.permissions == 0o755
    assert s.patches["src"][0].strip == 1
    assert s.sources["repo"].git.keep_git_dir is True
    assert s.artifacts.config_files["hello.conf"].permissions is None
    assert s.artifacts.create_directories.state["hello"].user == ""
    assert [c.variants() for c in s.build.caches] == [["dir"], ["gobuild"], ["bazel"]]
    assert s.build.caches[0].dir.sharing == "locked"
    assert s.has_gomods() and s.has_golang("azlinux3") and s.has_golang(None)
    assert list(s.get_build_deps("azlinux3")) == ["golang-1.22", "make"]
    assert list(s.get_build_deps("jammy")) == ["golang"]
    assert list(s.get_runtime_deps("azlinux3")) == ["libc"]
    img = s.get_image("azlinux3")
    assert img.env == ["A=B", "C=D"] and img.user == "nobody" and img.entrypoint == "/usr/bin/hello"
    assert s.image.user == ""  # merge did not mutate the root
    assert [t.name for t in s.get_tests("azlinux3")] == ["runs"]
    assert s.get_artifacts("azlinux3") is s.artifacts
    assert ls.position(("build", "caches", 0, "dir", "key")) == (59, 14)
    assert ls.position(("artifacts", "config_files")) == ls.position(("artifacts", "configFiles"))
    d = s.to_yaml_dict()
    assert d["x-custom"] == {"anything": [1, 2]}
    assert d["build"]["caches"][1] == {"gobuild": {}}
    assert d["dependencies"]["runtime"] == {"libc": {}}
    assert "noarch" not in d


def test_syntax_line_is_comment():
    ls = load("# syntax=ghcr.io/project-dalec/dalec/frontend:latest\nname: a\n")
    assert ls.spec.name == "a"


def test_load_spec_file_errors(tmp_path):
    with pytest.raises(SpecError) as ei:
        load_spec_file(tmp_path / "missing.yml")
    assert str(tmp_path / "missing.yml") in str(ei.value)
    p = tmp_path / "big.yml"
    p.write_bytes(b"#" * (4 * 1024 * 1024 + 10))
    with pytest.raises(SpecError, match="too large"):
        load_spec_file(p)


def test_size_limit_str_and_bytes():
    for data in ("a: " + "x" * (4 * 1024 * 1024), b"a: " + b"x" * (4 * 1024 * 1024)):
        with pytest.raises(SpecError, match="too large"):
            load_spec(data)


@pytest.mark.parametrize(
    "caches, expected",
    [
        ("    - dir: {dest: foo}\n", "spec.yml:6:19: build: cache 0: invalid cache dir config: cache dir dest must be an absolute path: foo"),
        ("    - dir: {key: k}\n", "spec.yml:6:12: build: cache 0: invalid cache dir config: cache dir dest is required"),
        (
            "    - dir:\n        dest: /x\n        sharing: forever\n",
            "spec.yml:8:18: build: cache 0: invalid cache dir config: invalid cache dir sharing mode: forever, valid values: [shared locked private]",
        ),
        ("    - gobuild: {}\n    - gobuild: {scope: a}\n", "spec.yml:7:7: build: only one gobuild cache is allowed"),
        ("    - {}\n", "spec.yml:6:7: build: cache 0: invalid cache config: exactly one of (dir, gobuild, bazel) must be set"),
        (
            "    - gobuild: {}\n      bazel: {}\n",
            "spec.yml:6:7: build: cache 0: invalid cache config: exactly one of (dir, gobuild, bazel) must be set",
        ),
        (
            "    - rustsccache: {}\n",
            'spec.yml:6:7: build.caches[0]: unknown field "rustsccache"',
        ),
    ],
)
def test_cache_errors(caches, expected):
    assert errors(BUILD + caches) == [expected]


def test_cache_sharing_empty_is_shared_and_null_forms():
    ls = load(BUILD + "    - dir: {dest: /a, sharing: ''}\n    - gobuild:\n    - bazel:\n")
    c = ls.spec.build.caches
    assert c[0].dir.sharing == "shared"
    assert c[1].gobuild.scope == "" and not c[1].gobuild.disabled
    assert c[2].bazel is not None
    assert isinstance(c[0], CacheConfig)


def test_unknown_key_suggestion():
    errs = errors(BUILD + "    - dir:\n        dest: /x\n        sharnig: locked\n")
    assert errs == ['spec.yml:8:9: build.caches[0].dir: unknown field "sharnig", did you mean "sharing"?']


def test_unknown_top_level_and_extensions():
    errs = errors("name: a\nverison: 1\nx-foo: 1\nX-Bar: [1]\n")
    assert errs == ['spec.yml:2:1: unknown field "verison", did you mean "version"?']
    ls = load("name: a\nx-foo: 1\nX-Bar: [1]\n")
    assert ls.spec.extensions == {"x-foo": 1, "X-Bar": [1]}


def test_top_level_caches_key():
    errs = errors("name: a\ncaches:\n  - gobuild: {}\n")
    assert errs == ["spec.yml:2:1: caches must be under build: (build.caches); a top-level caches key is not part of the spec"]


def test_build_errors():
    errs = errors(
        """\
        build:
          network_mode: x
          steps:
            - env: {A: b}
        """
    )
    assert errs == [
        'spec.yml:2:17: build: invalid network mode: "x": valid values [none sandbox]',
        "spec.yml:4:7: build: step 0: step must have a command",
    ]
    assert errors("build:\n  caches:\n    - gobuild: {}\n") == [
        "spec.yml:2:3: build: artifact build must have at least one step"
    ]


def test_several_errors_at_once_and_type_errors():
    errs = errors(
        """\
        name: [a]
        noarch: maybe
        sources:
          a/b:
            context: {}
        build:
          steps: {command: x}
        """
    )
    assert errs == [
        "spec.yml:1:7: name: expected a string, got a list",
        "spec.yml:2:9: noarch: expected a boolean (true or false), got a string",
        "spec.yml:7:10: build.steps: expected a list, got a mapping",
    ]
    errs = errors("sources:\n  a/b:\n    context: {}\n")
    assert errs == ["spec.yml:2:3: invalid source a/b: source name must not contain path separator"]


def test_source_errors():
    errs = errors(
        """\
        sources:
          none: {path: x}
          two:
            context: {}
            git: {url: u, commit: c}
          git:
            git: {}
          http:
            http: {url: https://x}
            path: foo
            includes: [a]
          img:
            image: {ref: busybox}
          inl:
            inline:
              dir:
                files:
                  a/b: {contents: x}
                  "..": {contents: x}
                uid: -1
          inf:
            inline:
              file: {contents: x}
            path: p
          empty:
            inline: {}
          ctx:
            context:
            generate:
              - {}
        """
    )
    assert errs == [
        "spec.yml:2:9: invalid source none: no non-nil source variant",
        "spec.yml:5:5: invalid source two: more than one source variant defined",
        "spec.yml:7:10: invalid source git: invalid git source: git source must have a URL",
        "spec.yml:7:10: invalid source git: invalid git source: git source must have a commit",
        "spec.yml:10:11: invalid source http: http source cannot be used with path",
        "spec.yml:11:15: invalid source http: http source cannot be used with includes",
        "spec.yml:13:5: invalid source img: docker image source path cannot be empty",
        "spec.yml:18:11: invalid source inl: file 'a/b': source name must not contain path separator",
        "spec.yml:19:11: invalid source inl: file '..': invalid inline file name",
        "spec.yml:20:14: invalid source inl: uid -1 must be non-negative",
        "spec.yml:24:11: invalid source inf: inline file source cannot have a path set",
        "spec.yml:26:13: invalid source empty: inline source is missing contents to inline",
        "spec.yml:30:9: invalid source ctx: source generator 0: no generator type specified",
    ]


def test_patch_errors():
    errs = errors(
        """\
        sources:
          src: {context: {}}
          dirpatch: {context: {}}
          filepatch:
            http: {url: https://x/p}
        patches:
          src:
            - source: nope
            - source: dirpatch
            - source: filepatch
              path: sub
        """
    )
    assert errs == [
        'spec.yml:8:15: invalid patch for source "src", patch source: "nope": source is missing from sources list',
        'spec.yml:9:7: invalid patch for source "src", patch source: "dirpatch": patch source refers to a directory source without a subpath to the patch file to use',
        'spec.yml:11:13: invalid patch for source "src", patch source: "filepatch": patch source refers to a file source but patch spec specifies a subpath',
    ]


def test_image_errors():
    errs = errors(
        """\
        image:
          base: a
          bases:
            - rootfs: {context: {}}
        """
    )
    assert errs == [
        "spec.yml:2:3: image: cannot specify both image.base and image.bases",
        "spec.yml:4:15: image: bases[0]: rootfs currently only supports image source types",
    ]
    ls = load("image:\n  base: busybox\n")
    assert ls.spec.image.bases[0].rootfs.image.ref == "busybox"


def test_legacy_dependency_list_and_null_entries():
    ls = load("dependencies:\n  build: [a, b]\n  runtime:\n    c:\n    d: {version: ['>= 1']}\n")
    deps = ls.spec.dependencies
    assert list(deps.build) == ["a", "b"]
    assert deps.runtime["c"].version == [] and deps.runtime["d"].version == [">= 1"]


def test_changelog_date():
    assert errors("changelog:\n  - date: 2024-13-01\n") == [
        "spec.yml:2:11: changelog 0: invalid date '2024-13-01': expected YYYY-MM-DD"
    ]


def test_revision_int_and_version_float_keep_text():
    s = load("version: 1.10\nrevision: 2\n").spec
    assert (s.version, s.revision) == ("1.10", "2")


def test_error_and_position_api():
    ls = load(BUILD + "    - dir: {dest: /a, key: k}\n")
    err = ls.error(("build", "caches", 0, "dir", "key"), "cache id collision")
    assert str(err) == "spec.yml:6:28: cache id collision"
    assert err.diagnostics == [Diagnostic("spec.yml", 6, 28, "cache id collision")]
    # falls back to the nearest ancestor
    assert str(ls.error(("build", "caches", 0, "dir", "nope"), "m")) == "spec.yml:6:12: m"
    assert ls.position(("nope",)) is None
    assert str(ls.error(("nope",), "m")) == "spec.yml:1:1: m"


def test_json_schema():
    a, b = spec_json_schema(), spec_json_schema()
    assert a == b
    assert a["patternProperties"] == {"^[xX]-": {}}
    assert a["additionalProperties"] is False
    assert "configFiles" in a["$defs"]["Artifacts"]["properties"]
    assert "keepGitDir" in a["$defs"]["SourceGit"]["properties"]
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(a)


def test_known_args():
    assert {"DALEC_TARGET", "BUILDKIT_SYNTAX", "DALEC_SKIP_TESTS", "BUILDKIT_CACHE_MOUNT_NS"} <= KNOWN_ARGS
