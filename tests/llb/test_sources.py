from __future__ import annotations

import pytest

from dalecpy import llb

from .llbtest_helpers import ops_of


def _src(st):
    d = llb.marshal(st)
    op = ops_of(d)[0]
    return op, d.metadata[llb.digest_of(getattr(d, "def")[0])]


@pytest.mark.parametrize("ref,want", [
    ("debian:bookworm", "docker.io/library/debian:bookworm"),
    ("busybox", "docker.io/library/busybox:latest"),
    ("library/busybox", "docker.io/library/busybox:latest"),
    ("index.docker.io/foo/bar", "docker.io/foo/bar:latest"),
    ("ghcr.io/a/b:1.0", "ghcr.io/a/b:1.0"),
    ("localhost:5000/x", "localhost:5000/x:latest"),
    ("localhost/x", "localhost/x:latest"),
    ("alpine@sha256:" + "a" * 64, "docker.io/library/alpine@sha256:" + "a" * 64),
    ("alpine:3@sha256:" + "b" * 64, "docker.io/library/alpine:3@sha256:" + "b" * 64),
])
def test_image_normalisation(ref, want):
    op, _ = _src(llb.image(ref))
    assert op.source.identifier == "docker-image://" + want


@pytest.mark.parametrize("bad", ["Busybox", "a b", "x:", "a" * 64])
def test_image_invalid(bad):
    with pytest.raises(ValueError):
        llb.image(bad)


def test_image_resolve_mode():
    op, md = _src(llb.image("a", resolve_mode="pull"))
    assert dict(op.source.attrs) == {"image.resolvemode": "pull"} and md.caps["source.image.resolvemode"]
    op, md = _src(llb.image("a", resolve_mode="local"))
    assert dict(op.source.attrs) == {"image.resolvemode": "local"} and "source.image.resolvemode" not in md.caps
    op, _ = _src(llb.image("a", resolve_mode="default"))
    assert dict(op.source.attrs) == {}


def test_image_platform_carried_to_exec():
    st = llb.image("a", platform="linux/arm64").run(["x"]).root
    ops = ops_of(llb.marshal(st))
    assert ops[0].platform.Architecture == "arm64" and ops[1].platform.Architecture == "arm64"
    assert st.platform == llb.Platform("linux", "arm64")


def test_local_attrs_go_json_and_no_unique():
    op, md = _src(llb.local("context", include_patterns=["a&b", "<c>"], follow_paths=["Dockerfile"]))
    attrs = dict(op.source.attrs)
    assert attrs == {"local.includepattern": '["a\\u0026b","\\u003cc\\u003e"]', "local.followpaths": '["Dockerfile"]'}
    assert "local.unique" not in attrs and "source.local.unique" not in md.caps
    assert not op.HasField("platform")


def test_git_https():
    op, md = _src(llb.git("https://github.com/moby/buildkit.git", "v0.12.0", keep_git_dir=True))
    assert op.source.identifier == "git://github.com/moby/buildkit.git#v0.12.0"
    assert dict(op.source.attrs) == {
        "git.fullurl": "https://github.com/moby/buildkit.git", "git.keepgitdir": "true",
        "git.authheadersecret": "GIT_AUTH_HEADER", "git.authtokensecret": "GIT_AUTH_TOKEN"}
    assert set(md.caps) == {"source.git", "source.git.keepgitdir", "source.git.fullurl"}
    assert not op.HasField("platform")


def test_git_ssh_and_auth_and_no_scheme():
    op, md = _src(llb.git("git@github.com:org/repo.git", "main", auth_token_secret="tok", subdir="sub/"))
    assert op.source.identifier == "git://github.com/org/repo.git#main:sub"
    attrs = dict(op.source.attrs)
    assert attrs["git.mountsshsock"] == "default" and attrs["git.authtokensecret"] == "tok"
    assert {"source.git.httpauth", "source.git.mountsshsock", "source.git.knownsshhosts"} <= set(md.caps)
    op, _ = _src(llb.git("github.com/org/repo", ""))
    assert op.source.identifier == "git://github.com/org/repo"
    assert op.source.attrs["git.fullurl"] == "https://github.com/org/repo"


def test_http_attrs_caps():
    op, md = _src(llb.http("https://e.com/x.tgz", checksum="sha256:ab", filename="x", perm=0o755, uid=1, gid=2))
    assert dict(op.source.attrs) == {"http.checksum": "sha256:ab", "http.filename": "x", "http.perm": "0755",
                                     "http.uid": "1", "http.gid": "2"}
    assert set(md.caps) == {"source.http", "source.http.checksum", "source.http.perm", "soruce.http.uidgid"}
    assert op.source.identifier == "https://e.com/x.tgz"
