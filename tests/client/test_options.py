"""Flag parsing for `dalecpy build`."""

from __future__ import annotations

import pytest

from dalecpy.client import AddressError, FlagError, parse_addr, parse_kv_list, parse_output, parse_secrets


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
    assert parse_addr("tcp://[::1]:1234", env).target == "[::1]:1234"
    assert parse_addr("docker+tcp://[::1]:2375", env).target == "tcp:[::1]:2375"
    assert parse_addr("unix:/grpc/style.sock", env).target == "unix:/grpc/style.sock"


@pytest.mark.parametrize("addr", [
    "tcp://[::1", "tcp://[::1]", "tcp://host", "tcp://:80", "tcp://h:99999", "tcp://h:port", "tcp://h:1/x",
    "unix://", "ssh://x", "nothing", "docker://ssh://x", "docker+npipe:////./pipe/x", "unix:///a\x00b",
    "unix:///\udcff", "tcp://[::1]:80\n",
])
def test_malformed_addresses_are_one_line_user_errors(addr):
    with pytest.raises(AddressError) as exc:
        parse_addr(addr, {})
    assert "\n" not in str(exc.value) and "\x00" not in str(exc.value)


def test_malformed_environment_addresses_name_the_variable():
    with pytest.raises(AddressError, match="BUILDKIT_HOST"):
        parse_addr(None, {"BUILDKIT_HOST": "tcp://[::1"})
    with pytest.raises(AddressError, match="DOCKER_HOST"):
        parse_addr(None, {"DOCKER_HOST": "ssh://me@host"})


def test_parse_output():
    assert parse_output(None).type == "none"
    assert parse_output("out").attrs == {"dest": "out"}
    o = parse_output("type=docker,name=me/x:1")
    assert (o.type, o.attrs) == ("docker", {"name": "me/x:1"})
    with pytest.raises(FlagError):
        parse_output("type=oci")
    with pytest.raises(FlagError):
        parse_output("type=registry,dest=x")


def test_parse_forwards(tmp_path):
    assert parse_kv_list(["myid=/tmp/s.sock"], "--socket") == {"myid": "/tmp/s.sock"}
    assert parse_kv_list(["myid=/tmp/s.sock,raw=true"], "--socket") == {"myid": "/tmp/s.sock"}
    assert parse_kv_list(["default"], "--ssh", default_path="/agent") == {"default": "/agent"}
    with pytest.raises(FlagError):
        parse_kv_list(["myid"], "--socket")
    (tmp_path / "s").write_text("x")
    assert parse_secrets([f"id=a,src={tmp_path / 's'}"]) == {"a": str(tmp_path / "s")}
    with pytest.raises(FlagError):
        parse_secrets(["id=a"])
