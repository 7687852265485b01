"""Pydantic models of the Dalec spec.

These are plain data types: structure and scalar types are checked by pydantic
(strict about unknown keys), while Dalec's semantic rules live in
:mod:`dalecpy.spec.validate`, and build-arg substitution in :mod:`dalecpy.spec.args`.
YAML keys are spelled exactly as Dalec spells them (aliases where needed).

Lenient decoding, matching goccy/go-yaml's behaviour for Go structs:

* an explicit ``null`` for a field means "not set" (zero value);
* numbers/bools given for string fields keep their YAML source text
  (``revision: 1`` -> ``"1"``, ``version: 1.10`` -> ``"1.10"``);
* ``permissions`` accept ``0755`` (octal, as Go reads it), ``0o755`` or a string.
"""



from typing import Annotated, Any, Callable, ClassVar, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetCoreSchemaHandler, model_validator
from pydantic_core import CoreSchema, core_schema

from .yamlsrc import YFloat, YInt


# ----------------------------------------------------------------- scalar types


def _to_str(v: Any) -> Any:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (YInt, YFloat)):
        return v.raw
    if isinstance(v, (int, float)):
        return str(v)
    return v  # let pydantic report the type error


def _to_perm(v: Any) -> Any:
    if isinstance(v, bool):
        return v  # -> type error
    if isinstance(v, YInt):
        return int(v)  # the YAML loader already read 0755 as octal
    if isinstance(v, str):
        t = v.strip().lower()
        try:
            if t.startswith("0o"):
                return int(t[2:], 8)
            if t and all(c in "01234567" for c in t):
                return int(t, 8)
        except ValueError:
            pass
    return v


def _str_list(v: Any) -> Any:
    if isinstance(v, (str, YInt, YFloat)):
        return [v]
    return v


class _Before:
    """``Annotated`` marker for a before-validator, like pydantic's ``BeforeValidator`` but cheaper to
    build: pydantic inspects a BeforeValidator's function signature for every field it annotates
    (hundreds of fields here, a large share of importing this module); this marker states the
    no-info form directly. Validation and JSON schema are the same."""

    __slots__ = ("func",)

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self.func, handler(source))


Str = Annotated[str, _Before(_to_str)]
Perm = Annotated[int, BeforeValidator(_to_perm), Field(ge=0, le=0o7777)]
StrList = Annotated[list[Str], _Before(_str_list)]
StrMap = dict[str, Str]


_NULLABLE: dict[type, dict[str, bool]] = {}


class DalecModel(BaseModel):
    """Base: unknown keys are errors; a null value means "unset"."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        validate_assignment=False,
        revalidate_instances="never",
        ser_json_inf_nan="strings",
        # Built by dalecpy.spec._prebuilt.complete() once every model is defined, from cached schemas.
        defer_build=True,
    )

    #: variant keys whose explicit ``null`` means "present but empty" (``- gobuild:``).
    _null_as_empty: ClassVar[frozenset[str]] = frozenset()
    @classmethod
    def _nullable(cls) -> dict[str, bool]:
        """alias/name -> whether the field keeps an explicit None (cached per class)."""
        cache = _NULLABLE.get(cls)
        if cache is None:
            cache = {}
            for name, f in cls.model_fields.items():
                ok = f.default is None and not f.is_required()
                cache[f.alias or name] = ok
                cache[name] = ok
            _NULLABLE[cls] = cache
        return cache

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        if data is None:
            return {}
        if isinstance(data, dict):
            nullable = cls._nullable()
            drop = None
            for k, v in data.items():
                if v is None:
                    if k in cls._null_as_empty:
                        drop = drop if drop is not None else dict(data)
                        drop[k] = {}
                    elif nullable.get(k) is False:
                        drop = drop if drop is not None else dict(data)
                        del drop[k]
            if drop is not None:
                return drop
        return data


# ---------------------------------------------------------------------- sources


class SourceContext(DalecModel):
    name: Str = ""


class GitAuth(DalecModel):
    header: Str = ""
    token: Str = ""
    ssh: Str = ""


class SourceGit(DalecModel):
    url: Str = ""
    commit: Str = ""
    checksum: Str = ""  # the commit the ref must resolve to (BuildKit's git.checksum)
    keep_git_dir: bool = Field(False, alias="keepGitDir")
    auth: GitAuth = Field(default_factory=GitAuth)


class SourceHTTP(DalecModel):
    url: Str = ""
    digest: Str = ""
    permissions: Optional[Perm] = None


class SourceInlineFile(DalecModel):
    contents: Str = ""
    permissions: Optional[Perm] = None
    uid: int = 0
    gid: int = 0


class SourceInlineDir(DalecModel):
    files: dict[str, SourceInlineFile] = Field(default_factory=dict)
    permissions: Optional[Perm] = None
    uid: int = 0
    gid: int = 0

    @model_validator(mode="before")
    @classmethod
    def _null_files(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("files"), dict):
            files = data["files"]
            if any(v is None for v in files.values()):
                data = dict(data)
                data["files"] = {k: ({} if v is None else v) for k, v in files.items()}
        return data


class SourceInline(DalecModel):
    file: Optional[SourceInlineFile] = None
    dir: Optional[SourceInlineDir] = None
    _null_as_empty = frozenset({"file", "dir"})


def _new_source() -> "Source":
    return Source()


class SourceMount(DalecModel):
    dest: Str = ""
    spec: "Source" = Field(default_factory=_new_source)


class BuildStep(DalecModel):
    command: Str = ""
    env: StrMap = Field(default_factory=dict)
    mounts: list[SourceMount] = Field(default_factory=list)


class Command(DalecModel):
    """``image.cmd`` of an image source: steps run in the image."""

    dir: Str = ""
    env: StrMap = Field(default_factory=dict)
    mounts: list[SourceMount] = Field(default_factory=list)
    steps: list[BuildStep] = Field(default_factory=list)


class SourceDockerImage(DalecModel):
    ref: Str = ""
    cmd: Optional[Command] = None


class SourceBuild(DalecModel):
    source: Optional["Source"] = None
    dockerfile_path: Str = ""
    target: Str = ""
    args: StrMap = Field(default_factory=dict)


class GomodGitAuthSSH(DalecModel):
    id: Str = ""
    username: Str = ""


class GomodGitAuth(DalecModel):
    header: Str = ""
    token: Str = ""
    ssh: Optional[GomodGitAuthSSH] = None


def _gomod_replace(v: Any) -> Any:
    """Dalec's shorthand `"old => new"` for a replace directive; without ` => ` the new side is empty, which
    the validator reports."""
    if isinstance(v, str):
        old, _, new = v.partition(" => ")
        return {"old": old.strip(), "new": new.strip()}
    return v


class GomodReplace(DalecModel):
    old: Str = ""
    new: Str = ""


class GomodEdits(DalecModel):
    replace: list[Annotated[GomodReplace, _Before(_gomod_replace)]] = Field(default_factory=list)
    drop: StrList = Field(default_factory=list)


class GeneratorGomod(DalecModel):
    paths: StrList = Field(default_factory=list)
    auth: dict[str, GomodGitAuth] = Field(default_factory=dict)
    edits: Optional[GomodEdits] = None


class GeneratorCargohome(DalecModel):
    paths: StrList = Field(default_factory=list)


class GeneratorPip(DalecModel):
    paths: StrList = Field(default_factory=list)
    requirements_file: Str = ""
    index_url: Str = ""
    extra_index_urls: StrList = Field(default_factory=list)


class GeneratorNodeMod(DalecModel):
    paths: StrList = Field(default_factory=list)
    registry: Str = ""


class SourceGenerator(DalecModel):
    subpath: Str = ""
    gomod: Optional[GeneratorGomod] = None
    cargohome: Optional[GeneratorCargohome] = None
    pip: Optional[GeneratorPip] = None
    nodemod: Optional[GeneratorNodeMod] = None
    _null_as_empty = frozenset({"gomod", "cargohome", "pip", "nodemod"})


SOURCE_VARIANTS = ("context", "git", "http", "inline", "image", "build")


class Source(DalecModel):
    """A source: exactly one variant (context, git, http, inline, image, build) plus filters.

    ``context:`` with a null value is accepted as ``context: {}``.
    """

    context: Optional[SourceContext] = None
    git: Optional[SourceGit] = None
    http: Optional[SourceHTTP] = None
    inline: Optional[SourceInline] = None
    image: Optional[SourceDockerImage] = None
    build: Optional[SourceBuild] = None
    path: Str = ""
    includes: StrList = Field(default_factory=list)
    excludes: StrList = Field(default_factory=list)
    generate: list[SourceGenerator] = Field(default_factory=list)

    _null_as_empty = frozenset({"context", "inline"})

    def variants(self) -> list[str]:
        return [k for k in SOURCE_VARIANTS if getattr(self, k) is not None]

    @property
    def variant_name(self) -> str | None:
        v = self.variants()
        return v[0] if len(v) == 1 else None

    @property
    def variant(self) -> Any:
        name = self.variant_name
        return getattr(self, name) if name else None

    def is_dir(self) -> bool:
        """Dalec's SourceIsDir: http and inline-file sources are files, the rest directories."""
        if self.http is not None:
            return False
        if self.inline is not None:
            return self.inline.dir is not None
        return True


# ---------------------------------------------------------------------- patches


class PatchSpec(DalecModel):
    source: Str = ""
    strip: Optional[int] = None
    path: Str = ""


# ------------------------------------------------------------------------ build


class CacheDir(DalecModel):
    key: Str = ""
    dest: Str = ""
    sharing: Str = ""
    no_auto_namespace: bool = False


class GoBuildCache(DalecModel):
    scope: Str = ""
    disabled: bool = False


class BazelCache(DalecModel):
    scope: Str = ""


CACHE_VARIANTS = ("dir", "gobuild", "bazel")


class CacheConfig(DalecModel):
    """One entry of ``build.caches``: exactly one of dir, gobuild, bazel.

    Deliberate difference from Dalec: the null form used in Dalec's own docs
    (``- gobuild:`` / ``- bazel:`` / ``- dir:``) is accepted as an empty entry
    (``gobuild: {}``). Dalec (goccy/go-yaml) decodes the null into a nil pointer
    and then fails with "exactly one of ... must be set". ``rustsccache`` is not
    supported (we do not download sccache).
    """

    dir: Optional[CacheDir] = None
    gobuild: Optional[GoBuildCache] = None
    bazel: Optional[BazelCache] = None
    _null_as_empty = frozenset(CACHE_VARIANTS)

    def variants(self) -> list[str]:
        return [k for k in CACHE_VARIANTS if getattr(self, k) is not None]


class ArtifactBuild(DalecModel):
    env: StrMap = Field(default_factory=dict)
    steps: list[BuildStep] = Field(default_factory=list)
    network_mode: Str = ""
    caches: list[CacheConfig] = Field(default_factory=list)


# -------------------------------------------------------------------- artifacts


class ArtifactCapability(DalecModel):
    name: Str = ""
    effective: bool = False
    permitted: bool = False
    inheritable: bool = False


class ArtifactConfig(DalecModel):
    subpath: Str = ""
    name: Str = ""
    permissions: Optional[Perm] = None
    user: Str = ""
    group: Str = ""
    linux_capabilities: list[ArtifactCapability] = Field(default_factory=list)


def _null_values_to_empty(v: Any) -> Any:
    if isinstance(v, dict) and any(x is None for x in v.values()):
        return {k: ({} if x is None else x) for k, x in v.items()}
    return v


ArtifactMap = Annotated[dict[str, ArtifactConfig], _Before(_null_values_to_empty)]


class SystemdUnitConfig(DalecModel):
    name: Str = ""
    enable: bool = False
    start: bool = False


class SystemdDropinConfig(DalecModel):
    name: Str = ""
    unit: Str = ""


class SystemdConfiguration(DalecModel):
    units: Annotated[dict[str, SystemdUnitConfig], _Before(_null_values_to_empty)] = Field(default_factory=dict)
    dropins: Annotated[dict[str, SystemdDropinConfig], _Before(_null_values_to_empty)] = Field(
        default_factory=dict
    )


class ArtifactDirConfig(DalecModel):
    mode: Optional[Perm] = None
    user: Str = ""
    group: Str = ""


class CreateArtifactDirectories(DalecModel):
    config: Annotated[dict[str, ArtifactDirConfig], _Before(_null_values_to_empty)] = Field(
        default_factory=dict
    )
    state: Annotated[dict[str, ArtifactDirConfig], _Before(_null_values_to_empty)] = Field(
        default_factory=dict
    )


class ArtifactSymlinkConfig(DalecModel):
    source: Str = ""
    dest: Str = ""
    user: Str = ""
    group: Str = ""


class AddUserConfig(DalecModel):
    name: Str = ""


class Artifacts(DalecModel):
    binaries: ArtifactMap = Field(default_factory=dict)
    libexec: ArtifactMap = Field(default_factory=dict)
    opt: ArtifactMap = Field(default_factory=dict)
    manpages: ArtifactMap = Field(default_factory=dict)
    data_dirs: ArtifactMap = Field(default_factory=dict)
    config_files: ArtifactMap = Field(default_factory=dict, alias="configFiles")
    docs: ArtifactMap = Field(default_factory=dict)
    licenses: ArtifactMap = Field(default_factory=dict)
    libs: ArtifactMap = Field(default_factory=dict)
    headers: ArtifactMap = Field(default_factory=dict)
    links: list[ArtifactSymlinkConfig] = Field(default_factory=list)
    systemd: Optional[SystemdConfiguration] = None
    create_directories: Optional[CreateArtifactDirectories] = Field(None, alias="createDirectories")
    users: list[AddUserConfig] = Field(default_factory=list)
    groups: list[AddUserConfig] = Field(default_factory=list)
    disable_strip: bool = False
    disable_auto_requires: bool = False


# ----------------------------------------------------------------- dependencies


class PackageConstraints(DalecModel):
    version: StrList = Field(default_factory=list)
    arch: StrList = Field(default_factory=list)


def _dep_list(v: Any) -> Any:
    """Accept the legacy list form (``[a, b]``) and null entries (``a:``)."""
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return {x: {} for x in v}
    return _null_values_to_empty(v)


PackageDependencyList = Annotated[dict[str, PackageConstraints], _Before(_dep_list)]


class ExtraRepoConfig(DalecModel):
    keys: dict[str, Source] = Field(default_factory=dict)
    config: dict[str, Source] = Field(default_factory=dict)
    data: list[SourceMount] = Field(default_factory=list)
    envs: StrList = Field(default_factory=list)


class PackageDependencies(DalecModel):
    build: PackageDependencyList = Field(default_factory=dict)
    runtime: PackageDependencyList = Field(default_factory=dict)
    recommends: PackageDependencyList = Field(default_factory=dict)
    test: PackageDependencyList = Field(default_factory=dict)
    sysext: PackageDependencyList = Field(default_factory=dict)
    extra_repos: list[ExtraRepoConfig] = Field(default_factory=list)


# ------------------------------------------------------------------------ image


class BaseImage(DalecModel):
    rootfs: Source = Field(default_factory=Source)


class SymlinkTarget(DalecModel):
    path: Str = ""
    paths: StrList = Field(default_factory=list)
    user: Str = ""
    group: Str = ""


class PostInstall(DalecModel):
    symlinks: Annotated[dict[str, SymlinkTarget], _Before(_null_values_to_empty)] = Field(
        default_factory=dict
    )


class _Empty(DalecModel):
    pass


class ImageConfig(DalecModel):
    entrypoint: Str = ""
    cmd: Str = ""
    env: StrList = Field(default_factory=list)
    labels: StrMap = Field(default_factory=dict)
    volumes: Annotated[dict[str, _Empty], _Before(_null_values_to_empty)] = Field(default_factory=dict)
    working_dir: Str = ""
    stop_signal: Str = ""
    user: Str = ""
    base: Str = ""
    bases: list[BaseImage] = Field(default_factory=list)
    post: Optional[PostInstall] = None


# ------------------------------------------------------------------------ tests


class CheckOutput(DalecModel):
    equals: Str = ""
    contains: StrList = Field(default_factory=list)
    matches: StrList = Field(default_factory=list)
    starts_with: Str = ""
    ends_with: Str = ""
    empty: bool = False


class FileCheckOutput(CheckOutput):
    permissions: Optional[Perm] = None
    is_dir: bool = False
    not_exist: bool = False
    no_follow: bool = False  # metadata checks look at a symlink itself, not at its target
    link_target: Str = ""  # the symlink's target as readlink prints it


class TestStep(DalecModel):
    command: Str = ""
    env: StrMap = Field(default_factory=dict)
    stdin: Str = ""
    stdout: Optional[CheckOutput] = None
    stderr: Optional[CheckOutput] = None


class TestSpec(DalecModel):
    __test__ = False  # not a pytest class

    name: Str = ""
    dir: Str = ""
    env: StrMap = Field(default_factory=dict)
    mounts: list[SourceMount] = Field(default_factory=list)
    steps: list[TestStep] = Field(default_factory=list)
    files: Annotated[dict[str, FileCheckOutput], _Before(_null_values_to_empty)] = Field(default_factory=dict)


# ---------------------------------------------------------------------- targets


class Frontend(DalecModel):
    image: Str = ""
    cmdline: Str = ""


class PackageSigner(DalecModel):
    image: Str = ""
    cmdline: Str = ""
    args: StrMap = Field(default_factory=dict)


class PackageConfig(DalecModel):
    signer: Optional[PackageSigner] = None


class Target(DalecModel):
    dependencies: Optional[PackageDependencies] = None
    image: Optional[ImageConfig] = None
    frontend: Optional[Frontend] = None
    tests: list[TestSpec] = Field(default_factory=list)
    package_config: Optional[PackageConfig] = None
    artifacts: Optional[Artifacts] = None
    provides: Optional[PackageDependencyList] = None
    replaces: Optional[PackageDependencyList] = None
    conflicts: Optional[PackageDependencyList] = None


class ChangelogEntry(DalecModel):
    date: Str = ""
    author: Str = ""
    changes: StrList = Field(default_factory=list)


# ------------------------------------------------------------------------- spec


class SpecModel(DalecModel):
    """The data of a Dalec spec (helpers live on :class:`dalecpy.spec.Spec`)."""

    name: Str = ""
    description: Str = ""
    website: Str = ""
    version: Str = ""
    revision: Str = ""
    license: Str = ""
    vendor: Str = ""
    packager: Str = ""
    noarch: bool = False
    conflicts: PackageDependencyList = Field(default_factory=dict)
    replaces: PackageDependencyList = Field(default_factory=dict)
    provides: PackageDependencyList = Field(default_factory=dict)
    sources: dict[str, Source] = Field(default_factory=dict)
    patches: dict[str, list[PatchSpec]] = Field(default_factory=dict)
    build: ArtifactBuild = Field(default_factory=ArtifactBuild)
    args: dict[str, Optional[Str]] = Field(default_factory=dict)
    artifacts: Artifacts = Field(default_factory=Artifacts)
    targets: Annotated[dict[str, Target], _Before(_null_values_to_empty)] = Field(default_factory=dict)
    dependencies: Optional[PackageDependencies] = None
    package_config: Optional[PackageConfig] = None
    image: Optional[ImageConfig] = None
    changelog: list[ChangelogEntry] = Field(default_factory=list)
    tests: list[TestSpec] = Field(default_factory=list)

