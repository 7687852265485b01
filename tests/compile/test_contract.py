"""The contract: every field of the spec models has an effect on what a target compiles to, or is refused with
a positioned "not supported yet" error. Never silently ignored.

The test walks the pydantic models from SpecModel down. For each field it takes the model's anchor (a small
spec in which an instance of the model lives at a known path), sets the field to a sample value, compiles,
and requires the result (LLB, image config or spec tests) to differ from the anchor's, or a SpecError whose
lines say "not supported yet". A field added later without an entry in ANCHORS/SAMPLES, or without an
effect, fails here. NO_EFFECT lists the few fields that have none by design, each with its reason.
"""

from __future__ import annotations

import copy
import json
import typing

import pytest

from dalecpy.compile import CompileOptions, compile_spec
from dalecpy.spec import SpecError, load_spec
from dalecpy.spec.models import DalecModel, SpecModel

from ..mutation import dump

BASE = {
    "name": "c", "description": "d", "version": "1", "revision": "1",
    "build": {"steps": [{"command": "make"}]},
    "artifacts": {"binaries": {"out/b": {}}},
}
_GIT = {"url": "https://example.com/x.git", "commit": "main"}
_TEST = {"name": "t", "steps": [{"command": "true"}]}
_CMD = {"steps": [{"command": "true"}]}

# model name -> (patch merged into BASE, path of the model's instance in the patched spec)
ANCHORS: dict[str, tuple[dict, tuple]] = {
    "SpecModel": ({}, ()),
    "PackageConstraints": ({"dependencies": {"runtime": {"p": {}}}}, ("dependencies", "runtime", "p")),
    "Source": ({"sources": {"s": {"context": {}}}}, ("sources", "s")),
    "SourceContext": ({"sources": {"s": {"context": {}}}}, ("sources", "s", "context")),
    "SourceGit": ({"sources": {"s": {"git": dict(_GIT)}}}, ("sources", "s", "git")),
    "GitAuth": ({"sources": {"s": {"git": {"url": "git@example.com:x.git", "commit": "c", "auth": {}}}}},
                ("sources", "s", "git", "auth")),
    "SourceHTTP": ({"sources": {"s": {"http": {"url": "https://example.com/f"}}}}, ("sources", "s", "http")),
    "SourceInline": ({"sources": {"s": {"inline": {"file": {}}}}}, ("sources", "s", "inline")),
    "SourceInlineFile": ({"sources": {"s": {"inline": {"file": {}}}}}, ("sources", "s", "inline", "file")),
    "SourceInlineDir": ({"sources": {"s": {"inline": {"dir": {"files": {"f": {}}}}}}}, ("sources", "s", "inline", "dir")),
    "SourceDockerImage": ({"sources": {"s": {"image": {"ref": "debian"}, "path": "/etc"}}}, ("sources", "s", "image")),
    "Command": ({"sources": {"s": {"image": {"ref": "debian", "cmd": copy.deepcopy(_CMD)}, "path": "/etc"}}},
                ("sources", "s", "image", "cmd")),
    "SourceMount": ({"build": {"steps": [{"command": "make", "mounts": [{"dest": "/m", "spec": {"context": {}}}]}]}},
                    ("build", "steps", 0, "mounts", 0)),
    "BuildStep": ({}, ("build", "steps", 0)),
    "SourceBuild": ({"sources": {"s": {"build": {"source": {"context": {}}}}}}, ("sources", "s", "build")),
    "SourceGenerator": ({"sources": {"s": {"context": {}, "generate": [{"gomod": {}}]}}}, ("sources", "s", "generate", 0)),
    "GeneratorGomod": ({"sources": {"s": {"context": {}, "generate": [{"gomod": {}}]}}},
                       ("sources", "s", "generate", 0, "gomod")),
    "GomodGitAuth": ({"sources": {"s": {"context": {}, "generate": [{"gomod": {"auth": {"h": {}}}}]}}},
                     ("sources", "s", "generate", 0, "gomod", "auth", "h")),
    "GomodGitAuthSSH": ({"sources": {"s": {"context": {}, "generate": [{"gomod": {"auth": {"h": {"ssh": {}}}}}]}}},
                        ("sources", "s", "generate", 0, "gomod", "auth", "h", "ssh")),
    "GomodEdits": ({"sources": {"s": {"context": {}, "generate": [{"gomod": {"edits": {}}}]}}},
                   ("sources", "s", "generate", 0, "gomod", "edits")),
    "GomodReplace": ({"sources": {"s": {"context": {}, "generate": [{"gomod": {"edits": {"replace": [
        {"old": "a", "new": "b"}]}}}]}}}, ("sources", "s", "generate", 0, "gomod", "edits", "replace", 0)),
    "GeneratorCargohome": ({"sources": {"s": {"context": {}, "generate": [{"cargohome": {}}]}}},
                           ("sources", "s", "generate", 0, "cargohome")),
    "GeneratorPip": ({"sources": {"s": {"context": {}, "generate": [{"pip": {}}]}}}, ("sources", "s", "generate", 0, "pip")),
    "GeneratorNodeMod": ({"sources": {"s": {"context": {}, "generate": [{"nodemod": {}}]}}},
                         ("sources", "s", "generate", 0, "nodemod")),
    "PatchSpec": ({"sources": {"src": {"context": {}}, "p": {"inline": {"file": {"contents": "x"}}}},
                   "patches": {"src": [{"source": "p"}]}}, ("patches", "src", 0)),
    "ArtifactBuild": ({}, ("build",)),
    "CacheConfig": ({"build": {"steps": [{"command": "make"}], "caches": [{"dir": {"dest": "/c"}}]}}, ("build", "caches", 0)),
    "CacheDir": ({"build": {"steps": [{"command": "make"}], "caches": [{"dir": {"dest": "/c"}}]}},
                 ("build", "caches", 0, "dir")),
    "GoBuildCache": ({"build": {"steps": [{"command": "make"}], "caches": [{"gobuild": {}}]}},
                     ("build", "caches", 0, "gobuild")),
    "BazelCache": ({"build": {"steps": [{"command": "make"}], "caches": [{"bazel": {}}]}}, ("build", "caches", 0, "bazel")),
    "Artifacts": ({}, ("artifacts",)),
    "ArtifactConfig": ({}, ("artifacts", "binaries", "out/b")),
    "ArtifactCapability": ({"artifacts": {"binaries": {"out/b": {"linux_capabilities": [{"name": "cap_net_raw"}]}}}},
                           ("artifacts", "binaries", "out/b", "linux_capabilities", 0)),
    "ArtifactSymlinkConfig": ({"artifacts": {"links": [{"source": "/usr/bin/b", "dest": "/usr/bin/l"}]}},
                              ("artifacts", "links", 0)),
    "SystemdConfiguration": ({"artifacts": {"systemd": {}}}, ("artifacts", "systemd")),
    "SystemdUnitConfig": ({"artifacts": {"systemd": {"units": {"u.service": {}}}}}, ("artifacts", "systemd", "units", "u.service")),
    "SystemdDropinConfig": ({"artifacts": {"systemd": {"dropins": {"d.conf": {"unit": "u.service"}}}}},
                            ("artifacts", "systemd", "dropins", "d.conf")),
    "CreateArtifactDirectories": ({"artifacts": {"createDirectories": {}}}, ("artifacts", "createDirectories")),
    "ArtifactDirConfig": ({"artifacts": {"createDirectories": {"state": {"d": {}}}}},
                          ("artifacts", "createDirectories", "state", "d")),
    "AddUserConfig": ({"artifacts": {"users": [{"name": "u"}]}}, ("artifacts", "users", 0)),
    "Target": ({"targets": {"bookworm": {}}}, ("targets", "bookworm")),
    "PackageDependencies": ({"dependencies": {}, "tests": [copy.deepcopy(_TEST)]}, ("dependencies",)),
    "ExtraRepoConfig": ({"dependencies": {"extra_repos": [{"config": {"r": {"inline": {"file": {"contents": "x"}}}}}]}},
                        ("dependencies", "extra_repos", 0)),
    "ImageConfig": ({"image": {}}, ("image",)),
    "BaseImage": ({"image": {"bases": [{"rootfs": {"image": {"ref": "registry.local/base"}}}]}}, ("image", "bases", 0)),
    "PostInstall": ({"image": {"post": {}}}, ("image", "post")),
    "SymlinkTarget": ({"image": {"post": {"symlinks": {"/a": {"path": "/b"}}}}}, ("image", "post", "symlinks", "/a")),
    "Frontend": ({"targets": {"bookworm": {"frontend": {"image": "x/y"}}}}, ("targets", "bookworm", "frontend")),
    "TestSpec": ({"tests": [copy.deepcopy(_TEST)]}, ("tests", 0)),
    "TestStep": ({"tests": [copy.deepcopy(_TEST)]}, ("tests", 0, "steps", 0)),
    "CheckOutput": ({"tests": [{"name": "t", "steps": [{"command": "true", "stdout": {}}]}]},
                    ("tests", 0, "steps", 0, "stdout")),
    "FileCheckOutput": ({"tests": [{"name": "t", "files": {"/f": {}}}]}, ("tests", 0, "files", "/f")),
    "PackageConfig": ({"package_config": {}}, ("package_config",)),
    "PackageSigner": ({"package_config": {"signer": {"image": "x/signer"}}}, ("package_config", "signer")),
    "ChangelogEntry": ({"changelog": [{"date": "2024-01-01", "author": "a", "changes": ["c"]}]}, ("changelog", 0)),
}


class Replace:
    """A sample that replaces the whole instance (for one-of fields: a source's variant, a cache's kind)."""

    def __init__(self, value: dict) -> None:
        self.value = value


# (model name, field name) -> sample; fields not listed get a sample from their type.
SAMPLES: dict[tuple[str, str], object] = {
    ("SpecModel", "noarch"): True, ("SpecModel", "version"): "2.0", ("SpecModel", "revision"): "2",
    ("SpecModel", "conflicts"): {"x": {}}, ("SpecModel", "replaces"): {"x": {}}, ("SpecModel", "provides"): {"x": {}},
    ("SpecModel", "sources"): {"s": {"context": {}}},
    ("SpecModel", "patches"): None,  # see PatchSpec
    ("SpecModel", "build"): {"steps": [{"command": "other"}]},
    ("SpecModel", "artifacts"): {"binaries": {"out/x": {}}},
    ("SpecModel", "targets"): {"bookworm": {"image": {"user": "u"}}},
    ("SpecModel", "dependencies"): {"runtime": {"x": {}}},
    ("SpecModel", "package_config"): {"signer": {"image": "x/s"}},
    ("SpecModel", "image"): {"user": "u"},
    ("SpecModel", "changelog"): [{"date": "2024-01-01", "author": "a", "changes": ["c"]}],
    ("SpecModel", "tests"): [copy.deepcopy(_TEST)],
    ("PackageConstraints", "version"): [">= 1"], ("PackageConstraints", "arch"): ["amd64"],
    ("Source", "context"): Replace({"context": {"name": "other"}}),
    ("Source", "git"): Replace({"git": dict(_GIT)}),
    ("Source", "http"): Replace({"http": {"url": "https://example.com/f"}}),
    ("Source", "inline"): Replace({"inline": {"file": {"contents": "x"}}}),
    ("Source", "image"): Replace({"image": {"ref": "debian"}, "path": "/etc"}),
    ("Source", "build"): Replace({"build": {"source": {"context": {}}}}),
    ("Source", "path"): "sub", ("Source", "includes"): ["*.go"], ("Source", "excludes"): ["*.md"],
    ("Source", "generate"): [{"gomod": {}}],
    ("SourceContext", "name"): "other",
    ("SourceGit", "url"): "https://example.com/other.git", ("SourceGit", "commit"): "v2",
    ("SourceGit", "checksum"): "0123456789abcdef0123456789abcdef01234567", ("SourceGit", "auth"): {"token": "T"},
    ("SourceHTTP", "url"): "https://example.com/g",
    ("SourceHTTP", "digest"): "sha256:" + "0" * 64, ("SourceHTTP", "permissions"): 0o755,
    ("SourceInline", "file"): {"contents": "y"},
    ("SourceInline", "dir"): Replace({"dir": {"files": {"f": {}}}}),
    ("SourceInlineFile", "permissions"): 0o600, ("SourceInlineFile", "uid"): 7, ("SourceInlineFile", "gid"): 7,
    ("SourceInlineDir", "files"): {"g": {}}, ("SourceInlineDir", "permissions"): 0o700,
    ("SourceInlineDir", "uid"): 7, ("SourceInlineDir", "gid"): 7,
    ("SourceDockerImage", "ref"): "registry.local/other",
    ("SourceDockerImage", "cmd"): copy.deepcopy(_CMD),
    ("Command", "dir"): "/tmp", ("Command", "mounts"): [{"dest": "/m", "spec": {"context": {}}}],
    ("Command", "steps"): [{"command": "false"}],
    ("SourceMount", "dest"): "/other", ("SourceMount", "spec"): {"context": {"name": "other"}},
    ("BuildStep", "mounts"): [{"dest": "/m", "spec": {"context": {}}}],
    ("PatchSpec", "source"): None, ("PatchSpec", "strip"): 2, ("PatchSpec", "path"): None,
    ("ArtifactBuild", "network_mode"): "sandbox",
    ("ArtifactBuild", "steps"): [{"command": "other"}],
    ("ArtifactBuild", "caches"): [{"dir": {"dest": "/c"}}],
    ("CacheConfig", "dir"): Replace({"dir": {"dest": "/other"}}),
    ("CacheConfig", "gobuild"): Replace({"gobuild": {}}),
    ("CacheConfig", "bazel"): Replace({"bazel": {}}),
    ("CacheDir", "dest"): "/other", ("CacheDir", "sharing"): "private", ("CacheDir", "no_auto_namespace"): True,
    ("Artifacts", "links"): [{"source": "/usr/bin/b", "dest": "/usr/bin/l"}],
    ("Artifacts", "systemd"): {"units": {"u.service": {}}},
    ("Artifacts", "create_directories"): {"state": {"d": {}}},
    ("Artifacts", "users"): [{"name": "u"}], ("Artifacts", "groups"): [{"name": "g"}],
    ("ArtifactConfig", "permissions"): 0o700,
    ("ArtifactConfig", "linux_capabilities"): [{"name": "cap_net_raw", "effective": True}],
    ("ArtifactCapability", "name"): "cap_chown",
    ("ArtifactSymlinkConfig", "source"): "/usr/bin/x", ("ArtifactSymlinkConfig", "dest"): "/usr/bin/m",
    ("SystemdConfiguration", "dropins"): {"d.conf": {"unit": "u.service"}},
    ("SystemdUnitConfig", "name"): "v.service",
    ("SystemdDropinConfig", "unit"): "v.service",
    ("CreateArtifactDirectories", "config"): {"d": {}}, ("CreateArtifactDirectories", "state"): {"d": {}},
    ("ArtifactDirConfig", "mode"): 0o700,
    ("Target", "dependencies"): {"build": {"x": {}}},
    ("Target", "image"): {"user": "u"},
    ("Target", "frontend"): {"image": "x/y"},
    ("Target", "tests"): [copy.deepcopy(_TEST)],
    ("Target", "package_config"): {"signer": {"image": "x/s"}},
    ("Target", "artifacts"): {"binaries": {"out/x": {}}},
    ("Target", "provides"): {"x": {}}, ("Target", "replaces"): {"x": {}}, ("Target", "conflicts"): {"x": {}},
    ("PackageDependencies", "extra_repos"): [{"config": {"r": {"inline": {"file": {"contents": "x"}}}}}],
    ("ExtraRepoConfig", "keys"): {"k": {"inline": {"file": {"contents": "x"}}}},
    ("ExtraRepoConfig", "data"): [{"dest": "/d", "spec": {"context": {}}}], ("ExtraRepoConfig", "envs"): ["build"],
    ("ImageConfig", "env"): ["A=1"], ("ImageConfig", "labels"): {"l": "v"}, ("ImageConfig", "volumes"): {"/v": {}},
    ("ImageConfig", "working_dir"): "/w", ("ImageConfig", "stop_signal"): "SIGINT",
    ("ImageConfig", "base"): "registry.local/base",
    ("ImageConfig", "bases"): [{"rootfs": {"image": {"ref": "registry.local/base"}}}],
    ("ImageConfig", "post"): {"symlinks": {"/a": {"path": "/b"}}},
    ("BaseImage", "rootfs"): {"image": {"ref": "registry.local/other"}},
    ("PostInstall", "symlinks"): {"/a": {"path": "/b"}},
    ("SymlinkTarget", "path"): None, ("SymlinkTarget", "paths"): None,
    ("TestSpec", "dir"): "/tmp", ("TestSpec", "mounts"): [{"dest": "/m", "spec": {"context": {}}}],
    ("TestSpec", "steps"): [{"command": "false"}], ("TestSpec", "files"): {"/f": {}},
    ("TestStep", "stdout"): {"empty": True}, ("TestStep", "stderr"): {"empty": True},
    ("CheckOutput", "empty"): True,
    ("FileCheckOutput", "permissions"): 0o644,
    ("FileCheckOutput", "is_dir"): True, ("FileCheckOutput", "not_exist"): True, ("FileCheckOutput", "no_follow"): True,
    ("FileCheckOutput", "empty"): True,
    ("PackageConfig", "signer"): {"image": "x/s"},
    ("PackageSigner", "args"): {"A": "1"},
    ("ChangelogEntry", "date"): "2024-02-02", ("ChangelogEntry", "changes"): ["d"],
    ("GomodEdits", "replace"): ["a => b"],
    ("SourceBuild", "source"): {"context": {"name": "other"}},
    ("SourceGenerator", "cargohome"): Replace({"cargohome": {}}),
    ("SourceGenerator", "pip"): Replace({"pip": {}}),
    ("SourceGenerator", "nodemod"): Replace({"nodemod": {}}),
    ("ExtraRepoConfig", "config"): {"r2": {"inline": {"file": {"contents": "y"}}}},
}

# Fields with no effect on any target dalecpy builds, by design; each has its reason (and a README line where
# it differs from Dalec).
NO_EFFECT: dict[tuple[str, str], str] = {
    ("SpecModel", "license"): "only RPM metadata has a license field; Dalec's .deb ignores it too",
    ("SpecModel", "args"): "declares build args: their effect is through substitution (tests/spec/test_args.py)",
    ("SpecModel", "patches"): "covered field by field by PatchSpec (a patch needs a second source)",
    ("PackageDependencies", "sysext"): "used only by Dalec's testing/sysext targets, which dalecpy does not build",
    ("Artifacts", "disable_strip"): "dalecpy never strips artifacts (README: differs from Dalec)",
    ("Artifacts", "disable_auto_requires"): "dalecpy never adds automatic dependencies (README: differs from Dalec)",
    ("PatchSpec", "source"): "changing it needs another patch source; the patch itself is proven by strip",
    ("PatchSpec", "path"): "needs a directory patch source; the patch itself is proven by strip",
    ("SymlinkTarget", "path"): "its model is refused as a whole (image.post.symlinks)",
    ("SymlinkTarget", "paths"): "its model is refused as a whole (image.post.symlinks)",
}


def _models() -> dict[str, type[DalecModel]]:
    seen: dict[str, type[DalecModel]] = {}

    def walk(cls: type[DalecModel]) -> None:
        if cls.__name__ in seen:
            return
        seen[cls.__name__] = cls
        for f in cls.model_fields.values():
            for m in _models_in(f.annotation):
                walk(m)

    walk(SpecModel)
    return seen


def _models_in(tp) -> list[type[DalecModel]]:
    if isinstance(tp, type) and issubclass(tp, DalecModel):
        return [tp]
    return [m for a in typing.get_args(tp) for m in _models_in(a)]


MODELS = _models()
FIELDS = [(name, field) for name, cls in MODELS.items() for field in cls.model_fields]


def _merge(a: dict, b: dict) -> dict:
    out = copy.deepcopy(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def _at(doc, path: tuple):
    for p in path:
        doc = doc[p]
    return doc


def _unwrap(tp):
    while typing.get_origin(tp) is typing.Annotated or (typing.get_origin(tp) in (typing.Union, type(int | None))
                                                       and type(None) in typing.get_args(tp)):
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def _default_sample(annotation):
    """A value of the field's type: `sample` strings and keys (`SAMPLE` for env-like maps), empty models."""
    tp = _unwrap(annotation)
    if tp is bool:
        return True
    if tp is str:
        return "sample"
    if tp is int:
        return 7
    origin = typing.get_origin(tp)
    if origin is list:
        return [_default_sample(typing.get_args(tp)[0])]
    if origin is dict:
        value = _default_sample(typing.get_args(tp)[1])
        return {"SAMPLE" if isinstance(value, str) else "sample": value}
    if isinstance(tp, type) and issubclass(tp, DalecModel):
        return {}
    raise AssertionError(f"no default sample for {annotation!r}")


def _fingerprint(doc: dict, target: str = "bookworm/container"):
    """(what the target compiles to) or ("refused", lines) for a not-supported error."""
    try:
        loaded = load_spec(dump(doc), "c.yml")
        result = compile_spec(loaded, CompileOptions(target=target))
    except SpecError as err:
        lines = str(err).splitlines()
        if all("not supported yet" in line or "are not supported yet" in line for line in lines):
            return ("refused", tuple(lines))
        raise
    return (
        result.definition.SerializeToString(deterministic=True),
        json.dumps(result.image_config, sort_keys=True),
        tuple((n, d.SerializeToString(deterministic=True)) for n, d in result.tests),
    )


def test_every_model_has_an_anchor():
    assert set(MODELS) - {"_Empty"} <= set(ANCHORS), "add an anchor for the new model(s)"


@pytest.mark.parametrize("model, field", FIELDS, ids=[f"{m}.{f}" for m, f in FIELDS])
def test_every_field_has_an_effect_or_is_refused(model, field):
    if (model, field) in NO_EFFECT:
        pytest.skip(NO_EFFECT[(model, field)])
    patch, path = ANCHORS[model]
    doc = _merge(BASE, patch)
    before = _fingerprint(doc)
    cls = MODELS[model]
    alias = cls.model_fields[field].alias or field
    sample = SAMPLES.get((model, field), ...)
    assert sample is not None, f"{model}.{field}: sample None means NO_EFFECT; add it there with a reason"
    if sample is ...:
        sample = _default_sample(cls.model_fields[field].annotation)
    if isinstance(sample, Replace):
        parent, key = _at(doc, path[:-1]), path[-1]
        parent[key] = copy.deepcopy(sample.value)
    else:
        _at(doc, path)[alias] = copy.deepcopy(sample)
    after = _fingerprint(doc)
    if after[0] == "refused":
        assert all(line.startswith("c.yml:") for line in after[1]), after  # positioned
        if before[0] == "refused":  # the model is refused as a whole: setting the field keeps it refused
            return
        return
    assert before != after, f"{model}.{field} = {sample!r} changed nothing: give it an effect or refuse it"


def test_no_effect_entries_are_real_fields():
    assert set(NO_EFFECT) <= set(FIELDS)
    assert {k for k in SAMPLES} <= set(FIELDS)
