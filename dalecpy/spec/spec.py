"""The top-level :class:`Spec` with Dalec's per-target helpers (target merge rules)."""

from __future__ import annotations

import json
from typing import Any, Optional

from pydantic import PrivateAttr

from .models import (
    Artifacts,
    ImageConfig,
    PackageConfig,
    PackageConstraints,
    PackageDependencies,
    SpecModel,
    Target,
    TestSpec,
    ExtraRepoConfig,
)


class Spec(SpecModel):
    """A Dalec spec. ``extensions`` holds the top-level ``x-``/``X-`` keys."""

    _extensions: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def extensions(self) -> dict[str, Any]:
        return self._extensions

    # ------------------------------------------------------------ targets

    def target(self, target_key: str | None) -> Optional[Target]:
        if not target_key:
            return None
        return self.targets.get(target_key)

    def _deps(self, target_key: str | None) -> tuple[Optional[PackageDependencies], Optional[PackageDependencies]]:
        t = self.target(target_key)
        return self.dependencies, (t.dependencies if t is not None else None)

    def _dep_field(self, target_key: str | None, field: str) -> dict[str, PackageConstraints]:
        root, tgt = self._deps(target_key)
        if tgt is not None:
            v = getattr(tgt, field)
            if v:
                return v
        return getattr(root, field) if root is not None else {}

    def get_build_deps(self, target_key: str | None) -> dict[str, PackageConstraints]:
        return self._dep_field(target_key, "build")

    def get_runtime_deps(self, target_key: str | None) -> dict[str, PackageConstraints]:
        return self._dep_field(target_key, "runtime")

    def get_recommends(self, target_key: str | None) -> dict[str, PackageConstraints]:
        return self._dep_field(target_key, "recommends")

    def get_test_deps(self, target_key: str | None) -> dict[str, PackageConstraints]:
        return self._dep_field(target_key, "test")

    def get_sysext_deps(self, target_key: str | None) -> dict[str, PackageConstraints]:
        """Not merged per target (as in Dalec): always the root's."""
        return self.dependencies.sysext if self.dependencies is not None else {}

    def get_extra_repos(self, target_key: str | None) -> list[ExtraRepoConfig]:
        root, tgt = self._deps(target_key)
        if tgt is not None and tgt.extra_repos:
            return tgt.extra_repos
        return root.extra_repos if root is not None else []

    def get_package_deps(self, target_key: str | None) -> PackageDependencies:
        """The merged dependencies (each list: target if non-empty, else root)."""
        return PackageDependencies(
            build=self.get_build_deps(target_key),
            runtime=self.get_runtime_deps(target_key),
            recommends=self.get_recommends(target_key),
            test=self.get_test_deps(target_key),
            sysext=self.get_sysext_deps(target_key),
            extra_repos=self.get_extra_repos(target_key),
        )

    def _pkg_list(self, target_key: str | None, field: str) -> dict[str, PackageConstraints]:
        t = self.target(target_key)
        if t is not None and getattr(t, field) is not None:
            return getattr(t, field)
        return getattr(self, field)

    def get_provides(self, target_key: str | None) -> dict[str, PackageConstraints]:
        return self._pkg_list(target_key, "provides")

    def get_replaces(self, target_key: str | None) -> dict[str, PackageConstraints]:
        return self._pkg_list(target_key, "replaces")

    def get_conflicts(self, target_key: str | None) -> dict[str, PackageConstraints]:
        return self._pkg_list(target_key, "conflicts")

    def get_artifacts(self, target_key: str | None) -> Artifacts:
        """Target artifacts replace the root's when set (even if empty)."""
        t = self.target(target_key)
        if t is not None and t.artifacts is not None:
            return t.artifacts
        return self.artifacts

    def get_package_config(self, target_key: str | None) -> Optional[PackageConfig]:
        t = self.target(target_key)
        if t is not None and t.package_config is not None:
            return t.package_config
        return self.package_config

    def get_image(self, target_key: str | None) -> ImageConfig:
        """Root image merged with the target's (Dalec ``MergeSpecImage``); a new object."""
        base = self.image.model_copy(deep=True) if self.image is not None else ImageConfig()
        t = self.target(target_key)
        if t is None or t.image is None:
            return base
        ti = t.image
        for f in ("entrypoint", "cmd", "working_dir", "stop_signal", "base", "user"):
            v = getattr(ti, f)
            if v:
                setattr(base, f, v)
        if "bases" in ti.model_fields_set:  # Dalec checks nil, not length: `bases: []` clears the root's
            base.bases = [b.model_copy(deep=True) for b in ti.bases]
        base.env = list(base.env) + list(ti.env)
        base.labels = {**base.labels, **ti.labels}
        base.volumes = {**base.volumes, **ti.volumes}
        if ti.post is not None:
            base.post = ti.post.model_copy(deep=True)
        return base

    def override_path(self, target_key: str | None, field: str) -> tuple:
        """Spec path of a per-target setting (artifacts, package_config, provides...): the target's when it has
        its own (which replaces the root's), else the root's."""
        t = self.target(target_key)
        return ("targets", target_key, field) if t is not None and getattr(t, field) is not None else (field,)

    def deps_path(self, target_key: str | None, kind: str) -> tuple:
        """Spec path of a merged dependency list: the target's when non-empty (Dalec's merge rule), else the root's."""
        t = self.target(target_key)
        if t is not None and t.dependencies is not None and getattr(t.dependencies, kind):
            return ("targets", target_key, "dependencies", kind)
        return ("dependencies", kind)

    def image_path(self, target_key: str | None, field: str) -> tuple:
        """Spec path of a merged image field: the target's when it sets the field, else the root's."""
        t = self.target(target_key)
        if t is not None and t.image is not None and field in t.image.model_fields_set:
            return ("targets", target_key, "image", field)
        return ("image", field)

    def get_tests(self, target_key: str | None) -> list[TestSpec]:
        t = self.target(target_key)
        return list(self.tests) + (list(t.tests) if t is not None else [])

    def has_golang(self, target_key: str | None) -> bool:
        for name in self.get_build_deps(target_key):
            if name in ("golang", "msft-golang") or name.startswith("golang-"):
                return True
        return False

    def has_gomods(self) -> bool:
        return any(g.gomod is not None for src in self.sources.values() for g in src.generate)

    # ------------------------------------------------------------ output

    def to_yaml_dict(self) -> dict[str, Any]:
        """Plain data with YAML key names, fields at their defaults omitted; extensions included."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        # Extension values keep the loader's node types (YInt, ...): plain JSON data, as the rest of the dict.
        data.update(json.loads(json.dumps(self._extensions)))
        return data
