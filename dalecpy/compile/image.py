"""The exported image's config: the spec's `image` merged over the base image's config."""

from __future__ import annotations

import copy
import shlex
from typing import Any

from ..platforms import Platform
from .script import DEFAULT_PATH


def default_base_config(platform: Platform) -> dict[str, Any]:
    """What Dalec's BaseImageConfig gives when the base image's config is not known: `/` and the default PATH."""
    cfg: dict[str, Any] = {
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {"Env": [f"PATH={DEFAULT_PATH}"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    if platform.variant:
        cfg["variant"] = platform.variant
    return cfg


def merge_image_config(base: dict[str, Any] | None, image: Any, platform: Platform) -> dict[str, Any]:
    """Apply a (target-merged) spec ImageConfig onto a base OCI image config.

    As in Dalec and the Dockerfile frontend, setting `entrypoint` clears the base's `cmd`. Unlike Dalec,
    an env entry replaces the base entry with the same key instead of appending a second `KEY=` entry.
    """
    out = copy.deepcopy(base) if base else default_base_config(platform)
    out["architecture"], out["os"] = platform.architecture, platform.os
    if platform.variant:
        out["variant"] = platform.variant
    else:
        out.pop("variant", None)
    cfg = out.setdefault("config", {})
    if image is None:
        return out
    if image.entrypoint:
        cfg["Entrypoint"] = shlex.split(image.entrypoint)
        cfg.pop("Cmd", None)
    if image.cmd:
        cfg["Cmd"] = shlex.split(image.cmd)
    if image.env:
        env = list(cfg.get("Env") or [])
        for entry in image.env:
            key = entry.split("=", 1)[0]
            env = [e for e in env if e.split("=", 1)[0] != key]
            env.append(entry)
        cfg["Env"] = env
    if image.labels:
        cfg["Labels"] = {**(cfg.get("Labels") or {}), **image.labels}
    if image.volumes:
        cfg["Volumes"] = {**(cfg.get("Volumes") or {}), **{v: {} for v in image.volumes}}
    for attr, key in (("working_dir", "WorkingDir"), ("stop_signal", "StopSignal"), ("user", "User")):
        value = getattr(image, attr, None)
        if value:
            cfg[key] = value
    return out
