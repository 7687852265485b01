"""Definition layout, metadata, caps, exec/file semantics."""

from __future__ import annotations

import json

import pytest

from dalecpy import llb
from dalecpy.llb import ops_pb2 as pb

from .llbtest_helpers import defs, ops_of


def _digests(d):
    return [llb.digest_of(x) for x in defs(d)]


def test_metadata_keys_are_exactly_the_digests():
    st = llb.image("busybox").run(["true"], custom_name="t").root.file(llb.mkdir("/x", 0o755))
    d = llb.marshal(st)
    assert set(d.metadata.keys()) == set(_digests(d))
    assert len(set(_digests(d))) == len(defs(d))


def test_inputs_reference_earlier_digests_and_terminal_last():
    a = llb.image("busybox")
    b = llb.local("ctx")
    st = a.run(["x"], mounts=[llb.Mount.bind("/src", b)]).root
    d = llb.marshal(st)
    seen: set[str] = set()
    for raw, op in zip(defs(d), ops_of(d)):
        for i in op.inputs:
            assert i.digest in seen
        seen.add(llb.digest_of(raw))
    term = ops_of(d)[-1]
    assert term.WhichOneof("op") is None and not term.HasField("platform") and not term.HasField("constraints")
    assert term.inputs[0].digest == _digests(d)[-2]


def test_post_order_follows_go_inputs_order_and_dedupes():
    img = llb.image("busybox")
    ctx = llb.local("ctx")
    left = img.run(["left"]).root
    right = img.run(["right"]).root
    # diamond: img shared by left and right; mounts are sorted, so /a (right) walks before /b (left)
    top = img.run(["top"], mounts=[llb.Mount.bind("/b", left), llb.Mount.bind("/a", right),
                                   llb.Mount.bind("/c", ctx, readonly=True)]).root
    d = llb.marshal(top)
    labels = [op.source.identifier if op.source.identifier else " ".join(op.exec.meta.args) for op in ops_of(d)[:-1]]
    assert labels == ["docker-image://docker.io/library/busybox:latest", "right", "left", "local://ctx", "top"]


def test_identical_vertices_built_twice_share_one_entry():
    a = llb.image("busybox").run(["x"]).root
    b = llb.image("busybox").run(["x"]).root
    top = llb.scratch().file(llb.copy(a, "/1", "/1").copy(b, "/2", "/2"))
    d = llb.marshal(top)
    assert len(defs(d)) == 4  # image, exec, file, terminal
    fop = ops_of(d)[2]
    assert len(fop.inputs) == 1  # same digest+index -> one input
    assert [a.secondaryInput for a in fop.file.actions] == [0, 0]


def test_exec_input_dedupe_and_mount_sorting():
    img = llb.image("busybox")
    ex = img.run(["x"], mounts=[llb.Mount.bind("/z", img, readonly=True), llb.Mount.bind("/m", img, selector="sub"),
                                llb.Mount.secret("/0secret", "s"), llb.Mount.ssh("/0ssh")])
    op = ops_of(llb.marshal(ex.root))[1]
    assert len(op.inputs) == 1
    assert [m.dest for m in op.exec.mounts] == ["/", "/m", "/z", "/0secret", "/0ssh"]
    assert [m.input for m in op.exec.mounts] == [0, 0, 0, -1, -1]
    assert [m.output for m in op.exec.mounts] == [0, 1, -1, 0, 0]
    assert op.exec.mounts[1].selector == "sub" and op.exec.mounts[2].readonly


def test_exec_outputs():
    img = llb.image("busybox")
    ctx = llb.local("ctx")
    ex = img.run(["x"], mounts=[llb.Mount.bind("/out", llb.scratch()), llb.Mount.bind("/ro", ctx, readonly=True),
                                llb.Mount.cache("/c", "c")])
    assert ex.root._index == 0 and ex.output("/out")._index == 1
    assert ex.output("/ro") is ctx
    with pytest.raises(ValueError):
        ex.output("/c")
    with pytest.raises(KeyError):
        ex.output("/nope")


def test_exec_meta_env_cwd_user_network():
    st = llb.image("busybox").with_env("A", "1").with_env("B", "2").with_env("A", "3").with_cwd("/w").with_user("u")
    ex = st.run(["x"], env={"C": "4"}, cwd="sub", network=llb.NetMode.NONE)
    d = llb.marshal(ex.root)
    op = ops_of(d)[1]
    assert list(op.exec.meta.env) == ["B=2", "A=3", "C=4"]  # Go EnvList: re-set key moves to end
    assert op.exec.meta.cwd == "/w/sub" and op.exec.meta.user == "u"
    assert op.exec.network == pb.NONE
    assert op.exec.meta.removeMountStubsRecursive
    caps = d.metadata[_digests(d)[1]].caps
    assert caps["exec.meta.network"] and "exec.meta.removemountstubs.recursive" not in caps
    # run-level overrides do not leak into the result
    assert ex.root.env == st.env and ex.root.cwd == "/w" and ex.root.network == llb.NetMode.SANDBOX


def test_ssh_auth_sock_added_unless_present():
    img = llb.image("busybox")
    op = ops_of(llb.marshal(img.run(["x"], mounts=[llb.Mount.ssh(), llb.Mount.ssh("/b")]).root))[1]
    assert list(op.exec.meta.env) == ["SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0"]
    assert [m.dest for m in op.exec.mounts[1:]] == ["/run/buildkit/ssh_agent.0", "/b"]
    op = ops_of(llb.marshal(img.with_env("SSH_AUTH_SOCK", "/mine").run(["x"], mounts=[llb.Mount.ssh("/a")]).root))[1]
    assert list(op.exec.meta.env) == ["SSH_AUTH_SOCK=/mine"]


def test_exec_caps():
    img = llb.image("busybox")
    ex = img.run(["x"], mounts=[llb.Mount.cache("/c", "c"), llb.Mount.tmpfs("/t", 10), llb.Mount.secret("/s", "s"),
                                llb.Mount.ssh(), llb.Mount.bind("/sel", img, selector="a")])
    d = llb.marshal(ex.root)
    assert set(d.metadata[_digests(d)[1]].caps) == {
        "exec.meta.base", "exec.mount.bind", "exec.mount.selector", "exec.mount.cache", "exec.mount.cache.sharing",
        "exec.mount.tmpfs", "exec.mount.tmpfs.size", "exec.mount.secret", "exec.mount.ssh"}
    d = llb.marshal(llb.scratch().run(["x"]).root)
    assert set(d.metadata[_digests(d)[0]].caps) == {"exec.meta.base"}


def test_source_caps_and_terminal_caps():
    st = llb.local("ctx", session_id="s", shared_key_hint="ctx", include_patterns=["a"], exclude_patterns=["b"],
                   follow_paths=["c"], custom_name="load ctx")
    d = llb.marshal(st)
    dg = _digests(d)
    assert set(d.metadata[dg[0]].caps) == {"source.local", "source.local.sessionid", "source.local.sharedkeyhint",
                                          "source.local.includepatterns", "source.local.excludepatterns",
                                          "source.local.followpaths"}
    assert dict(d.metadata[dg[0]].description) == {"llb.customname": "load ctx"}
    assert set(d.metadata[dg[1]].caps) == {"constraints", "platform", "meta.description"}
    d = llb.marshal(llb.image("busybox").run(["x"], ignore_cache=True).root)
    dg = _digests(d)
    assert d.metadata[dg[1]].ignore_cache
    assert set(d.metadata[dg[-1]].caps) == {"constraints", "platform", "meta.ignorecache"}


def test_missing_cap_error_and_default_path():
    st = llb.image("busybox").run(["x"], mounts=[llb.Mount.cache("/c", "c")]).root
    v08_like = frozenset({"source.image", "exec.meta.base", "exec.mount.bind", "constraints", "platform",
                          "meta.description"})
    with pytest.raises(llb.MissingCapError, match=r'LLB capability "exec.mount.cache" needed by x \(sha256:'):
        llb.marshal(st, caps=v08_like)
    full = v08_like | {"exec.mount.cache", "exec.mount.cache.sharing"}
    d = llb.marshal(st, caps=full)  # no setsdefaultpath: Go adds PATH
    op = ops_of(d)[1]
    assert list(op.exec.meta.env) == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    assert "exec.meta.setsdefaultpath" not in d.metadata[_digests(d)[1]].caps
    with pytest.raises(llb.MissingCapError, match='"platform" needed by the definition'):
        llb.marshal(st, caps=full - {"platform"})
    d2 = llb.marshal(st, caps=full | {"exec.meta.setsdefaultpath"})
    op2 = ops_of(d2)[1]
    assert list(op2.exec.meta.env) == []
    assert d2.metadata[_digests(d2)[1]].caps["exec.meta.setsdefaultpath"]
    d0 = llb.marshal(st)  # no caps: neither
    assert list(ops_of(d0)[1].exec.meta.env) == [] and "exec.meta.setsdefaultpath" not in d0.metadata[_digests(d0)[1]].caps
    assert defs(d0) == defs(d2)  # bytes only differ when PATH is added
    assert defs(d0) != defs(d)
    # an existing PATH is kept
    d3 = llb.marshal(st.with_env("PATH", "/bin").run(["y"]).root, caps=full)
    assert list(ops_of(d3)[2].exec.meta.env) == ["PATH=/bin"]


def test_file_op_layout():
    base = llb.image("busybox").with_cwd("/work")
    ctx = llb.local("ctx").with_cwd("/src")
    action = (llb.mkdir("out", 0o40755, parents=True, owner="app:staff")
              .copy(ctx, "dir/", "out/", mode=0o644, include_patterns=["*.c"])
              .mkfile("out/f", 0o600, b"hi", owner=(1, 2))
              .rm("out/*.o", allow_wildcard=True, allow_not_found=True))
    st = base.file(action, custom_name="files")
    d = llb.marshal(st)
    fop = ops_of(d)[-2]
    assert not fop.HasField("platform") and fop.HasField("constraints")
    assert [i.digest for i in fop.inputs] == [_digests(d)[0], _digests(d)[1]]
    acts = fop.file.actions
    assert [(a.input, a.secondaryInput, a.output) for a in acts] == [(0, -1, -1), (2, 1, -1), (3, -1, -1), (4, -1, 0)]
    assert acts[0].mkdir.path == "/work/out" and acts[0].mkdir.mode == 0o755 and acts[0].mkdir.makeParents
    assert acts[0].mkdir.owner.user.byName.name == "app" and acts[0].mkdir.owner.user.byName.input == 0
    assert acts[0].mkdir.timestamp == -1
    assert acts[1].copy.src == "/src/dir" and acts[1].copy.dest == "/work/out/" and acts[1].copy.mode == 0o644
    assert list(acts[1].copy.include_patterns) == ["*.c"] and acts[1].copy.timestamp == -1
    assert acts[2].mkfile.data == b"hi" and acts[2].mkfile.owner.group.byID == 2
    assert acts[3].rm.allowWildcard and acts[3].rm.allowNotFound and acts[3].rm.path == "/work/out/*.o"
    md = d.metadata[_digests(d)[-2]]
    assert set(md.caps) == {"file.base", "file.rm.wildcard", "file.copy.includeexcludepatterns"}
    assert md.description["llb.customname"] == "files"


def test_copy_default_mode_and_dest_dot():
    d = llb.marshal(llb.scratch().file(llb.copy(llb.local("c"), "/a", "/b/.")))
    act = ops_of(d)[1].file.actions[0]
    assert act.input == -1 and act.secondaryInput == 0 and act.copy.mode == -1 and act.copy.dest == "/b/."


def test_determinism_and_rebuild_equality():
    def build():
        img = llb.image("debian:bookworm", platform="linux/arm64")
        ex = img.run(["a", "b"], mounts=[llb.Mount.cache("/c", "id"), llb.Mount.bind("/s", llb.local("x"))])
        return ex.root.file(llb.mkfile("/f", 0o644, "x")).run(["c"]).root

    st = build()
    a = llb.marshal(st).SerializeToString(deterministic=True)
    b = llb.marshal(st).SerializeToString(deterministic=True)
    c = llb.marshal(build()).SerializeToString(deterministic=True)
    assert a == b == c


def test_scratch_marshals_empty():
    assert defs(llb.marshal(llb.scratch())) == []


def test_json_and_dot():
    st = llb.image("busybox").run(["/bin/sh", "-c", 'echo "hi"'], custom_name=None).root.file(llb.mkfile("/x", 0o644, "1"))
    d = llb.marshal(st)
    js = llb.definition_to_json(d)
    assert [o["Digest"] for o in js] == _digests(d)
    assert js[0]["Op"]["Op"]["source"]["identifier"] == "docker-image://docker.io/library/busybox:latest"
    assert js[1]["Op"]["Op"]["exec"]["meta"]["args"] == ["/bin/sh", "-c", 'echo "hi"']
    assert js[0]["OpMetadata"]["caps"] == {"source.image": True}
    # Go's encoding (solver/pb/json.go): FileAction indexes always present, ints as numbers, HTML escaped.
    action = js[2]["Op"]["Op"]["file"]["actions"][0]
    assert (action["input"], action["secondaryInput"], action["output"]) == (0, -1, 0)
    assert list(js[-1]["Op"]) == ["inputs", "Op"] and js[-1]["Op"]["Op"] == {}
    assert llb.go_json_line({"a": "<&>"}) == '{"a":"\\u003c\\u0026\\u003e"}'
    assert llb.go_json_line(js[0]) == llb.go_json_line(llb.definition_to_json(d)[0])
    dot = llb.definition_to_dot(d)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert 'label="/bin/sh -c echo \\"hi\\"' in dot and "mkfile /x" in dot and "docker-image://" in dot
    assert dot.count(" -> ") == 3
    named = llb.marshal(llb.local("c", custom_name="load context"))
    assert "load context" in llb.definition_to_dot(named)


def test_deep_chain():
    st = llb.image("busybox")
    for i in range(1000):
        if i % 2:
            st = st.run(["step", str(i)], mounts=[llb.Mount.cache("/c", "c")]).root
        else:
            st = st.file(llb.mkfile(f"/f{i}", 0o644, str(i)))
    d = llb.marshal(st)  # an iterative walk: no recursion limit on deep chains (speed: bench/render.py)
    assert len(defs(d)) == 1002
    assert llb.marshal(st).SerializeToString(deterministic=True) == d.SerializeToString(deterministic=True)
