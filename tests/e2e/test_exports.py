"""`dalecpy build -o type=oci,dest=FILE` and `-o type=docker,dest=FILE`: image tarballs from BuildKit.

dockerd has the oci/docker tarball exporters only with the containerd image store (engine b in scripts/e2e);
elsewhere the client's error says so. Standalone buildkitd (engine c) always has them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.e2e

DALECPY = [sys.executable, "-m", "dalecpy.cli"]
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _build(engine, *args, timeout=1200):
    return subprocess.run([*DALECPY, "build", "--progress", "plain", "specs/hello.yml", "specs",
                           "--target", "bookworm/container", *args],
                          env=engine.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _assert_hello_config(cfg: dict) -> None:
    assert cfg["architecture"] == "amd64" and cfg["os"] == "linux", cfg
    c = cfg["config"]
    assert c["Entrypoint"] == ["/usr/bin/dalec-hello"], c
    assert c["Cmd"] == ["world"], c
    assert "DALEC_EXAMPLE=hello" in c["Env"], c
    assert c["Labels"]["org.opencontainers.image.title"] == "dalec-hello", c
    assert cfg["rootfs"]["diff_ids"], cfg


def _need_tarball_exporters(engine, image_store, tmp_path, typ: str) -> None:
    """Skip where dockerd has no tarball exporters, after checking that the client says so clearly."""
    if image_store != "classic":
        return
    proc = _build(engine, "-o", f"type={typ},dest={tmp_path / 'x.tar'}")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    if engine.name != "a":  # BuildKit 0.8 fails earlier (see test_client.test_docker_image_with_config)
        assert "dockerd only has its tarball exporters with the containerd image store" in proc.stderr, \
            proc.stderr[-3000:]
    pytest.skip(f"engine {engine.name} ({image_store} image store) has no {typ} tarball exporter")


def _oci_layout(dest: Path) -> tuple[dict, dict[str, bytes]]:
    """(index.json, blobs by digest) of an OCI layout tarball, every blob's digest checked."""
    with tarfile.open(dest) as tf:
        blobs = {}
        for m in tf.getmembers():
            if m.isfile() and m.name.startswith("blobs/sha256/"):
                data = tf.extractfile(m).read()
                assert hashlib.sha256(data).hexdigest() == m.name.rsplit("/", 1)[1], m.name
                blobs["sha256:" + m.name.rsplit("/", 1)[1]] = data
        assert json.load(tf.extractfile("oci-layout")) == {"imageLayoutVersion": "1.0.0"}
        return json.load(tf.extractfile("index.json")), blobs


def test_oci_tarball_is_an_oci_layout_with_the_spec_config(engine, image_store, tmp_path):
    _need_tarball_exporters(engine, image_store, tmp_path, "oci")
    dest = tmp_path / "hello-oci.tar"
    proc = _build(engine, "-o", f"type=oci,dest={dest}")
    assert proc.returncode == 0, proc.stderr[-5000:]
    index, blobs = _oci_layout(dest)
    desc = index["manifests"][0]
    while desc["mediaType"] == OCI_INDEX:  # some exporters nest an index: take its amd64 manifest
        desc = next(d for d in json.loads(blobs[desc["digest"]])["manifests"]
                    if d.get("platform", {}).get("architecture", "amd64") == "amd64")
    assert desc["mediaType"] == OCI_MANIFEST, index
    manifest = json.loads(blobs[desc["digest"]])
    cfg = json.loads(blobs[manifest["config"]["digest"]])
    _assert_hello_config(cfg)
    assert [lay["digest"] for lay in manifest["layers"] if lay["digest"] not in blobs] == []
    assert len(manifest["layers"]) == len(cfg["rootfs"]["diff_ids"])


def test_docker_tarball_has_the_spec_config_and_loads(engine, image_store, tmp_path):
    _need_tarball_exporters(engine, image_store, tmp_path, "docker")
    dest = tmp_path / "hello-docker.tar"
    tag = f"dalecpy-e2e-export:{uuid.uuid4().hex[:8]}"
    proc = _build(engine, "-o", f"type=docker,name={tag},dest={dest}")
    assert proc.returncode == 0, proc.stderr[-5000:]
    with tarfile.open(dest) as tf:
        (entry,) = json.load(tf.extractfile("manifest.json"))
        assert entry["RepoTags"] == [f"docker.io/library/{tag}"] or entry["RepoTags"] == [tag], entry
        cfg = json.load(tf.extractfile(entry["Config"]))
        names = set(tf.getnames())
    _assert_hello_config(cfg)
    assert all(layer in names for layer in entry["Layers"]), entry
    assert len(entry["Layers"]) == len(cfg["rootfs"]["diff_ids"])
    if not engine.has_docker:
        pytest.skip(f"engine {engine.name}: no dockerd to `docker load` the tarball into (its contents passed)")
    try:
        load = engine.run([engine.cli, "load", "-i", str(dest)], check=True)
        assert tag in load.stdout, load.stdout
        run = engine.run([engine.cli, "run", "--rm", tag], check=True)
        assert run.stdout == "Hello from dalecpy, world!\n"
        ep = engine.run([engine.cli, "image", "inspect", tag, "--format", "{{json .Config.Entrypoint}}"], check=True)
        assert ep.stdout.strip() == '["/usr/bin/dalec-hello"]'
    finally:
        engine.run([engine.cli, "rmi", "-f", tag])


def test_two_platform_oci_tarball_is_one_index(engine, image_store, tmp_path):
    """Several --platform with an image output: one multi-platform Solve, one index with a manifest each."""
    _need_tarball_exporters(engine, image_store, tmp_path, "oci")
    dest = tmp_path / "hello-2p.tar"
    proc = _build(engine, "--platform", "linux/amd64", "--platform", "linux/arm64", "-o", f"type=oci,dest={dest}")
    if proc.returncode != 0 and "building for linux/arm64" in proc.stderr:
        pytest.skip("engine cannot build linux/arm64 (no arm64 base image or emulation)")
    assert proc.returncode == 0, proc.stderr[-5000:]
    index, blobs = _oci_layout(dest)
    descs = index["manifests"]
    if len(descs) == 1 and descs[0]["mediaType"] == OCI_INDEX:  # the image index inside the layout's index
        descs = json.loads(blobs[descs[0]["digest"]])["manifests"]
    by_arch = {d["platform"]["architecture"]: d for d in descs if d.get("platform", {}).get("os") == "linux"}
    assert set(by_arch) >= {"amd64", "arm64"}, descs
    for arch in ("amd64", "arm64"):
        manifest = json.loads(blobs[by_arch[arch]["digest"]])
        cfg = json.loads(blobs[manifest["config"]["digest"]])
        assert cfg["architecture"] == arch, cfg
        assert cfg["config"]["Entrypoint"] == ["/usr/bin/dalec-hello"], cfg["config"]
