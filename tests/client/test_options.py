"""Flag parsing for `dalecpy build`."""

from __future__ import annotations

import pytest

from dalecpy.client import BuildError, ConnectError, parse_addr, parse_kv_list, parse_output, parse_secrets


def test_parse_addr():
    env = {"DOCKER_HOST": "unix:///run/docker-sid.sock"}
    assert parse_addr(None, env).target == "unix:/run/docker-sid.sock" and parse_addr(None, env).is_docker
    assert parse_addr("docker://", {}).target == "unix:/var/run/docker.sock"
    assert parse_addr("docker://unix:///x.sock", env).target == "unix:/x.sock"
    assert parse_addr("docker+tcp://h:2375", env).target == "tcp:h:2375"
    a = parse_addr("unix:///run/buildkit/buildkitd.sock", env)
    assert a.kind == "buildkitd" and a.target == "unix:/run/buildkit/buildkitd.sock"
    assert parse_addr("tcp://127.0.0.1:1234", env).target == "127.0.0.1:1234"
    assert parse_addr(None, {"BUILDKIT_HOST": "unix:///b.sock"}).kind == "buildkitd"
    with pytest.raises(ConnectError):
        parse_addr("ssh://x", env)


def test_parse_output():
    assert parse_output(None).type == "none"
    assert parse_output("out").attrs == {"dest": "out"}
    o = parse_output("type=docker,name=me/x:1")
    assert (o.type, o.attrs) == ("docker", {"name": "me/x:1"})
    with pytest.raises(BuildError):
        parse_output("type=oci")
    with pytest.raises(BuildError):
        parse_output("type=registry,dest=x")


def test_parse_forwards(tmp_path):
    assert parse_kv_list(["myid=/tmp/s.sock"], "--socket") == {"myid": "/tmp/s.sock"}
    assert parse_kv_list(["myid=/tmp/s.sock,raw=true"], "--socket") == {"myid": "/tmp/s.sock"}
    assert parse_kv_list(["default"], "--ssh", default_path="/agent") == {"default": "/agent"}
    with pytest.raises(BuildError):
        parse_kv_list(["myid"], "--socket")
    (tmp_path / "s").write_text("x")
    assert parse_secrets([f"id=a,src={tmp_path / 's'}"]) == {"a": str(tmp_path / "s")}
    with pytest.raises(BuildError):
        parse_secrets(["id=a"])
