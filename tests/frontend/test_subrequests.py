"""Subrequest payloads: BuildKit's describe and targets v1.0.0 shapes, and dalec's resolve."""

import base64
import json

from dalecpy.compile import visible_routes
from dalecpy.compile.targets import DEFAULT_KINDS
from dalecpy.frontend import subrequests


def test_describe():
    meta = subrequests.describe()
    assert meta["version"] == b"1.0.0"
    reqs = json.loads(meta["result.json"])
    names = [r["name"] for r in reqs]
    assert names == ["frontend.targets", "frontend.subrequests.describe", "frontend.dalec.resolve"]
    for r in reqs:
        assert set(r) == {"name", "version", "type", "description", "opts", "inputs", "metadata", "refs"}
        assert r["type"] == "rpc" and r["version"] == "1.0.0"
    txt = meta["result.txt"].decode().splitlines()
    assert txt[0].split() == ["NAME", "VERSION", "DESCRIPTION"]
    assert txt[1].startswith("targets ")  # the frontend. prefix is trimmed as PrintDescribe does


def test_targets_json_and_text():
    meta = subrequests.targets(visible_routes(), DEFAULT_KINDS.values(), [b"name: x\n"])
    assert meta["version"] == b"1.0.0"
    listing = json.loads(meta["result.json"])
    assert set(listing) == {"targets", "sources"}
    assert base64.b64decode(listing["sources"][0]) == b"name: x\n"
    by_name = {t["name"]: t for t in listing["targets"]}
    assert by_name["bookworm/deb"]["default"] is True
    assert "default" not in by_name["bookworm/worker"]  # omitempty
    assert by_name["azlinux3/container"]["default"] is True and "default" not in by_name["azlinux3/rpm"]
    assert by_name["bookworm/deb"]["description"]
    assert "bookworm" not in by_name  # hidden aliases are not listed
    lines = meta["result.txt"].decode().splitlines()
    assert lines[0].split() == ["TARGET", "DESCRIPTION"]
    assert any(line.startswith("bookworm/deb (default) ") for line in lines)
    # tabwriter alignment: the description column starts at the same offset on every line
    col = lines[0].index("DESCRIPTION")
    assert all(line[col - 1] == " " and line[col] != " " for line in lines[1:])


def test_targets_without_sources_is_null_like_go():
    listing = json.loads(subrequests.targets([], [])["result.json"])
    assert listing == {"targets": [], "sources": None}


def test_resolve_yaml_and_json():
    meta = subrequests.resolve({"name": "x", "args": {"A": "<b>"}})
    assert json.loads(meta["result.json"]) == {"name": "x", "args": {"A": "<b>"}}
    assert b"\\u003cb\\u003e" in meta["result.json"]  # Go's HTML escaping
    assert meta["result.txt"].decode() == "name: x\nargs:\n  A: <b>\n"
