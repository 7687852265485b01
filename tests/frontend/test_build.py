"""The frontend against an in-process fake LLBBridge, through the same stdio relay BuildKit uses."""

import json
from pathlib import Path

import pytest

from dalecpy.frontend import gateway_pb2 as gw
from tests.llb.llbtest_helpers import ops_of

from .fakebridge import BASE_CONFIG, FRONTEND_ARGV, V08_LLB_CAPS, run_inprocess, run_subprocess

ROOT = Path(__file__).resolve().parents[2]
HELLO = (ROOT / "specs" / "hello.yml").read_bytes()
BAD = HELLO.replace(b"sharing: locked", b"sharing: forever")




def _config(res, key="containerimage.config"):
    return json.loads(res.result.metadata[key])


def test_reads_spec_like_the_dockerfile_frontend():
    fb = run_inprocess({"spec.yml": HELLO}, {"filename": "spec.yml", "target": "bookworm/deb"})
    assert fb.calls[:4] == ["Ping", "Inputs", "Solve", "ReadFile"]
    first = fb.solves[0]
    assert first.allowResultReturn and first.allowResultArrayRef
    src = [op.source for op in ops_of(first.Definition) if op.HasField("source")]
    assert len(src) == 1 and src[0].identifier == "local://dockerfile"
    assert dict(src[0].attrs) == {
        "local.session": "sess-123",
        "local.sharedkeyhint": "dockerfile",
        "local.followpaths": '["spec.yml"]',
    }


def test_deb_target_returns_ref_and_platform_only_config():
    fb = run_inprocess({"spec.yml": HELLO}, {"filename": "spec.yml", "target": "bookworm/deb"})
    res = fb.returned
    assert not res.HasField("error")
    assert res.result.WhichOneof("result") == "ref" and res.result.ref.id == "ref-2"
    assert _config(res) == {"architecture": "amd64", "os": "linux"}
    assert fb.resolves == []


def test_container_target_merges_over_resolved_base_config():
    fb = run_inprocess(
        {"spec.yml": HELLO},
        {"filename": "spec.yml", "target": "bookworm/container", "image-resolve-mode": "local", "platform": "linux/amd64"},
    )
    res = fb.returned
    assert not res.HasField("error"), res.error
    (req,) = fb.resolves
    assert req.Ref == "docker.io/library/debian:bookworm" and req.ResolveMode == "local"
    assert (req.Platform.OS, req.Platform.Architecture) == ("linux", "amd64")
    cfg = _config(res)
    assert cfg["config"]["Entrypoint"] == ["/usr/bin/dalec-hello"] and cfg["config"]["Cmd"] == ["world"]
    assert "DALEC_EXAMPLE=hello" in cfg["config"]["Env"]
    assert cfg["config"]["Labels"] == {"org.opencontainers.image.title": "dalec-hello"}
    assert cfg["rootfs"] == BASE_CONFIG["rootfs"] and cfg["created"].endswith("Z")


def test_build_args_reach_the_compiler():
    fb = run_inprocess(
        {"spec.yml": HELLO},
        {"filename": "spec.yml", "target": "bookworm/deb", "build-arg:GREETING": "Howdy", "build-arg:BUILDKIT_SYNTAX": "x"},
    )
    assert not fb.returned.HasField("error"), fb.returned.error
    assert any(b"Howdy" in raw for raw in getattr(fb.solves[1].Definition, "def"))


def test_multi_platform_result():
    fb = run_inprocess(
        {"spec.yml": HELLO},
        {"filename": "spec.yml", "target": "bookworm/container", "platform": "linux/amd64,linux/arm64"},
    )
    res = fb.returned.result
    assert res.WhichOneof("result") == "refs"
    assert set(res.refs.refs) == {"linux/amd64", "linux/arm64"}
    plats = json.loads(res.metadata["refs.platforms"])["platforms"]
    assert plats == [
        {"id": "linux/amd64", "platform": {"architecture": "amd64", "os": "linux"}},
        {"id": "linux/arm64", "platform": {"architecture": "arm64", "os": "linux"}},
    ]
    assert json.loads(res.metadata["containerimage.config/linux/arm64"])["architecture"] == "arm64"
    assert [r.Platform.Architecture for r in fb.resolves] == ["amd64", "arm64"]


def test_v08_daemon_ref_deprecated_and_caps_are_passed():
    fb = run_inprocess({"spec.yml": HELLO}, {"filename": "spec.yml", "target": "bookworm/deb"}, array_ref=False)
    assert not fb.returned.HasField("error"), fb.returned.error
    assert fb.returned.result.ref.id == "ref-2"


def test_missing_llb_cap_names_the_cap():
    caps = [c for c in V08_LLB_CAPS if c != "exec.mount.cache.sharing"]
    fb = run_inprocess({"spec.yml": HELLO}, {"filename": "spec.yml", "target": "bookworm/deb"}, llb_caps=caps)
    err = fb.returned.error
    assert err.code == 3 and "exec.mount.cache.sharing" in err.message


def test_bad_spec_is_invalid_argument_with_position():
    fb = run_inprocess({"spec.yml": BAD}, {"filename": "spec.yml", "target": "bookworm/deb"})
    err = fb.returned.error
    assert err.code == 3
    assert err.message.startswith("spec.yml:46:18: ")
    assert "invalid cache dir sharing mode: forever, valid values: [shared locked private]" in err.message
    assert "Traceback" not in err.message


@pytest.mark.parametrize(
    "opts,needle",
    [
        ({"target": "nope/deb"}, "unknown target 'nope/deb'"),
        ({"target": ""}, "no target given"),
        ({"target": "bookworm/deb", "platform": "linux"}, "invalid platform"),
    ],
)
def test_user_errors_are_invalid_argument(opts, needle):
    fb = run_inprocess({"spec.yml": HELLO}, {"filename": "spec.yml", **opts})
    assert fb.returned.error.code == 3 and needle in fb.returned.error.message


def test_missing_spec_file_passes_the_daemon_error_on():
    fb = run_inprocess({}, {"filename": "spec.yml", "target": "bookworm/deb"})
    assert fb.returned.error.code == 5 and "spec.yml" in fb.returned.error.message


def test_internal_error_is_logged_and_returned_as_internal(monkeypatch, capsys):
    import dalecpy.compile

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(dalecpy.compile, "compile_spec", boom)
    fb = run_inprocess({"spec.yml": HELLO}, {"filename": "spec.yml", "target": "bookworm/deb"})
    assert fb.returned.error.code == 13 and "kaboom" in fb.returned.error.message
    assert "Traceback" in capsys.readouterr().err


def test_subrequest_describe_needs_no_spec():
    fb = run_inprocess({}, {"requestid": "frontend.subrequests.describe"})
    assert fb.calls == ["Ping", "Return"]
    assert fb.returned.result.WhichOneof("result") is None
    assert json.loads(fb.returned.result.metadata["result.json"])[0]["name"] == "frontend.targets"


def test_subrequest_targets():
    fb = run_inprocess({"Dockerfile": HELLO}, {"requestid": "frontend.targets"})
    meta = fb.returned.result.metadata
    assert meta["version"] == b"1.0.0"
    assert b"bookworm/deb (default)" in meta["result.txt"]


def test_subrequest_resolve_substitutes_build_args():
    fb = run_inprocess(
        {"spec.yml": HELLO},
        {"requestid": "frontend.dalec.resolve", "filename": "spec.yml", "target": "bookworm/deb", "build-arg:GREETING": "Yo"},
    )
    meta = fb.returned.result.metadata
    assert json.loads(meta["result.json"])["build"]["env"]["GREETING"] == "Yo"
    assert b"GREETING: Yo" in meta["result.txt"]


def test_unknown_subrequest_is_unimplemented():
    fb = run_inprocess({}, {"requestid": "frontend.outline"})
    assert fb.returned.error.code == 12 and "frontend.outline" in fb.returned.error.message


def test_return_request_roundtrip_field_numbers():
    # Result.ref = 3, metadata = 10; ReturnRequest.error = 2 (BuildKit's gateway.proto numbers)
    r = gw.ReturnRequest(result=gw.Result(ref=gw.Ref(id="x")))
    assert r.SerializeToString() == b"\x0a\x05\x1a\x03\x0a\x01x"
    e = gw.ReturnRequest()
    e.error.code = 3
    assert e.SerializeToString() == b"\x12\x02\x08\x03"


def test_frontend_process_over_stdio():
    """`dalecpy frontend` as its own process, the bridge on its stdin/stdout as BuildKit runs it."""
    fb, elapsed, rc, err = run_subprocess(FRONTEND_ARGV, {"spec.yml": HELLO},
                                          {"filename": "spec.yml", "target": "bookworm/deb"})
    assert rc == 0, err
    assert fb.returned is not None and not fb.returned.HasField("error"), fb.returned
    print(f"frontend process start to Return: {elapsed:.3f}s")


@pytest.mark.parametrize("opts, extra_env", [
    ({"build-arg:GREETING": "caf\udce9"}, {}),  # Latin-1 bytes where UTF-8 belongs: b"caf\xe9"
    ({"target": "bookworm/\udcff"}, {}),
    ({}, {"BUILDKIT_SESSION_ID": "sess-\udcff"}),
])
def test_non_utf8_bytes_in_the_environment_are_invalid_argument(opts, extra_env):
    """BuildKit hands the frontend its options as environment variables, bytes and all: a value that is not
    UTF-8 is refused in one line, never an internal error."""
    fb, _, rc, err = run_subprocess(FRONTEND_ARGV, {"spec.yml": HELLO},
                                    {"filename": "spec.yml", "target": "bookworm/deb", **opts}, extra_env=extra_env)
    assert rc == 0, err
    status = fb.returned.error
    assert status.code == 3 and "is not valid UTF-8" in status.message and "\n" not in status.message, status


def test_platforms_from_buildkit_workers_when_ping_has_none():
    import json as _json

    workers = [{"ID": "w", "Platforms": [{"os": "linux", "architecture": "arm64"}, "bogus", {"os": 1}]}]
    fb, _, rc, err = run_subprocess(FRONTEND_ARGV, {"spec.yml": HELLO}, {"filename": "spec.yml", "target": "bookworm/deb"},
                                    extra_env={"BUILDKIT_WORKERS": _json.dumps(workers)}, platforms=())
    assert rc == 0, err
    assert not fb.returned.HasField("error"), fb.returned.error
    cfg = _json.loads(fb.returned.result.metadata["containerimage.config"])
    assert cfg["architecture"] == "arm64"  # no target platform given: the worker's is the default
