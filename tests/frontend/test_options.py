"""Frontend opts and environment parsing."""

import json

import pytest

from dalecpy.frontend.options import (
    FrontendOptions,
    OptionError,
    build_platform,
    opts_from_env,
    worker_platforms,
)
from dalecpy.platforms import Platform


def test_opts_from_env_splits_at_first_equals_and_ignores_other_vars():
    env = {
        "BUILDKIT_FRONTEND_OPT_3": "build-arg:X=a=b",
        "BUILDKIT_FRONTEND_OPT_0": "target=bookworm/deb",
        "BUILDKIT_FRONTEND_OPT_1": "no-cache=",
        "BUILDKIT_SESSION_ID": "s",
        "PATH": "/bin",
    }
    assert opts_from_env(env) == {"build-arg:X": "a=b", "target": "bookworm/deb", "no-cache": ""}


def test_defaults():
    fo = FrontendOptions.parse({})
    assert fo.target == "" and fo.filename == "Dockerfile" and fo.dockerfile_key == "dockerfile"
    assert fo.platforms == () and not fo.multi_platform
    assert fo.no_cache == frozenset() and fo.resolve_mode == "default" and fo.request_id is None


def test_build_args_contexts_and_unknown_opts():
    fo = FrontendOptions.parse({
        "build-arg:GREETING": "hi",
        "build-arg:BUILDKIT_SYNTAX": "img",
        "context:dalec-bookworm-worker": "docker-image://example/worker:1",
        "filename": "spec.yml",
        "dockerfilekey": "dockerfile2",
        "image-resolve-mode": "pull",
        "add-hosts": "",
        "cmdline": "dalecpy/frontend:dev",
        "source": "dalecpy/frontend:dev",
    })
    assert fo.build_args == {"GREETING": "hi", "BUILDKIT_SYNTAX": "img"}
    assert fo.named_contexts == {"dalec-bookworm-worker": "docker-image://example/worker:1"}
    assert fo.filename == "spec.yml" and fo.dockerfile_key == "dockerfile2" and fo.resolve_mode == "pull"


def test_platform_list():
    fo = FrontendOptions.parse({"platform": "linux/amd64, linux/arm64,linux/aarch64"})
    assert fo.platforms == (Platform("linux", "amd64"), Platform("linux", "arm64"))
    assert fo.multi_platform
    one = FrontendOptions.parse({"platform": "linux/arm64"})
    assert one.platforms == (Platform("linux", "arm64"),) and not one.multi_platform
    assert FrontendOptions.parse({"platform": "linux/arm64", "multi-platform": "true"}).multi_platform


def test_bad_platform_is_a_user_error():
    with pytest.raises(OptionError, match="invalid platform 'linux'"):
        FrontendOptions.parse({"platform": "linux"})


@pytest.mark.parametrize(
    "value,expected",
    [("", {"*"}), ("dalec.pkg", {"dalec.pkg"}), ("dalec.pkg, dalec.container", {"dalec.pkg", "dalec.container"})],
)
def test_no_cache(value, expected):
    assert FrontendOptions.parse({"no-cache": value}).no_cache == frozenset(expected)


def test_bad_resolve_mode():
    with pytest.raises(OptionError, match="image-resolve-mode"):
        FrontendOptions.parse({"image-resolve-mode": "sometimes"})


def test_worker_platforms_v08_and_current_json():
    v08 = [{"ID": "moby", "Labels": None, "Platforms": [{"architecture": "arm64", "os": "linux"}], "GCPolicy": None}]
    cur = [{"id": "x", "labels": {}, "platforms": [{"architecture": "arm", "os": "linux", "variant": "v7"}]}]
    assert worker_platforms({"BUILDKIT_WORKERS": json.dumps(v08)}) == [Platform("linux", "arm64")]
    assert worker_platforms({"BUILDKIT_WORKERS": json.dumps(cur)}) == [Platform("linux", "arm", "v7")]
    assert worker_platforms({"BUILDKIT_WORKERS": "not json"}) == []
    assert worker_platforms({}) == []


def test_build_platform_prefers_ping_then_env_then_default():
    env = {"BUILDKIT_WORKERS": json.dumps([{"platforms": [{"architecture": "arm64", "os": "linux"}]}])}
    assert build_platform([Platform("linux", "s390x")], env) == Platform("linux", "s390x")
    assert build_platform([], env) == Platform("linux", "arm64")
    assert build_platform([], {}) == Platform("linux", "amd64")


@pytest.mark.parametrize("workers", [
    [{"platforms": ["linux/arm64"]}],  # platform strings are taken as they are
    [{"platforms": 5}, {"platforms": [{"os": 1, "architecture": 2}]}, "x", None, {"Platforms": [None, []]},
     {"platforms": [{"os": "linux", "architecture": "arm64"}]}],
    {"platforms": [{"os": "linux", "architecture": "amd64"}]},
    [{"platforms": [{"os": "linux", "architecture": "\udcff"}, {"os": "linux", "architecture": "ar\nm"}]}],
])
def test_worker_platforms_skip_what_is_not_a_platform(workers):
    plats = worker_platforms({"BUILDKIT_WORKERS": json.dumps(workers)})
    assert plats in ([], [Platform("linux", "arm64")])


def test_worker_platforms_of_a_hostile_value():
    assert worker_platforms({"BUILDKIT_WORKERS": "[" * 100_000 + "]" * 100_000}) == []
    assert worker_platforms({"BUILDKIT_WORKERS": '[{"platforms": [{"os": "linux", "architecture": "\udcff"}]}]'}) == []


@pytest.mark.parametrize("raw", ["build-arg:X=a\udcffb", "target=bookworm/\udcff", "\udcff=1", "platform=linux/\udcfe"])
def test_opts_that_are_not_utf8_are_refused(raw):
    with pytest.raises(OptionError, match="is not valid UTF-8") as exc:
        opts_from_env({"BUILDKIT_FRONTEND_OPT_0": raw})
    str(exc.value).encode("utf-8")  # the message itself can be sent
