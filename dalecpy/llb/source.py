"""Source ops: image, local, git, http (Go: client/llb/source.go)."""

from __future__ import annotations

import json
from typing import Sequence

from dalecpy.platforms import DEFAULT_PLATFORM, Platform

from . import _wire
from ._errors import LLBError
from . import ops_pb2 as pb
from .. import refs
from ._vertex import OpMeta, Vertex, op_meta
from .state import State, go_join


class SourceVertex(Vertex):
    """A source op. Its bytes never depend on inputs or marshal mode, so they are built once."""

    __slots__ = ("identifier", "attrs", "platform", "_data", "_meta")

    def __init__(
        self,
        identifier: str,
        attrs: dict[str, str],
        platform: Platform | None,
        caps: set[str],
        custom_name: str | None,
    ) -> None:
        super().__init__()
        self.identifier = identifier
        self.attrs = dict(attrs)
        # Go sets Op.platform only for docker-image:// and oci-layout:// sources.
        self.platform = platform
        body = pb.SourceOp(identifier=identifier, attrs=attrs).SerializeToString(deterministic=True)
        self._data = _wire.op_bytes(b"", platform, _wire.TAG_SOURCE, body)
        self._meta = op_meta(caps, custom_name, False)

    def _encode(self, mode: int) -> tuple[bytes, OpMeta]:
        return self._data, self._meta

    def _describe(self) -> str:
        return self.identifier


def _platform(p: Platform | str | None) -> Platform | None:
    return Platform.parse(p) if isinstance(p, str) else p


_RESOLVE_MODES = ("default", "pull", "local")


def image(
    ref: str,
    *,
    platform: Platform | str | None = None,
    resolve_mode: str | None = None,
    custom_name: str | None = None,
) -> State:
    """A registry image, identified as docker-image://<normalised ref> (Go: llb.Image).

    resolve_mode is "default", "pull" (needs cap source.image.resolvemode) or "local".
    """
    plat = _platform(platform)
    attrs: dict[str, str] = {}
    caps = {"source.image"}
    if resolve_mode is not None and resolve_mode not in _RESOLVE_MODES:
        raise LLBError(f"invalid resolve_mode {resolve_mode!r}: expected one of {_RESOLVE_MODES}")
    if resolve_mode and resolve_mode != "default":  # Go omits the attr for the default mode
        attrs["image.resolvemode"] = resolve_mode
        if resolve_mode == "pull":
            caps.add("source.image.resolvemode")
    try:
        name = refs.normalize_image_ref(ref)
    except refs.RefError as exc:
        raise LLBError(str(exc)) from None
    v = SourceVertex("docker-image://" + name, attrs, plat or DEFAULT_PLATFORM, caps, custom_name)
    return State(v, 0, platform=plat)


def _go_json_list(items: Sequence[str]) -> str:
    """encoding/json output for []string: compact, with <, >, & escaped as Go does."""
    out = json.dumps(list(items), separators=(",", ":"), ensure_ascii=False)
    return (
        out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )


def local(
    name: str,
    *,
    session_id: str | None = None,
    shared_key_hint: str | None = None,
    include_patterns: Sequence[str] = (),
    exclude_patterns: Sequence[str] = (),
    follow_paths: Sequence[str] = (),
    custom_name: str | None = None,
) -> State:
    """A directory sent by the client session, identified as local://<name> (Go: llb.Local).

    Go adds a random `local.unique` attr (and cap) at marshal time when there is no session id,
    to stop two unrelated clients from sharing a cache record. We leave it out on purpose: our
    marshal must be deterministic (same graph, same digests), and dalecpy always passes the
    session id when it builds through a daemon.
    """
    attrs: dict[str, str] = {}
    caps = {"source.local"}
    if session_id:
        attrs["local.session"] = session_id
        caps.add("source.local.sessionid")
    if include_patterns:
        attrs["local.includepattern"] = _go_json_list(include_patterns)
        caps.add("source.local.includepatterns")
    if follow_paths:
        attrs["local.followpaths"] = _go_json_list(follow_paths)
        caps.add("source.local.followpaths")
    if exclude_patterns:
        attrs["local.excludepatterns"] = _go_json_list(exclude_patterns)
        caps.add("source.local.excludepatterns")
    if shared_key_hint:
        attrs["local.sharedkeyhint"] = shared_key_hint
        caps.add("source.local.sharedkeyhint")
    return State(SourceVertex("local://" + name, attrs, None, caps, custom_name), 0)


def git(
    url: str,
    ref: str = "",
    *,
    subdir: str = "",
    keep_git_dir: bool = False,
    auth_header_secret: str | None = None,
    auth_token_secret: str | None = None,
    known_ssh_hosts: str | None = None,
    mount_ssh_sock: str | None = None,
    checksum: str | None = None,
    skip_submodules: bool = False,
    custom_name: str | None = None,
) -> State:
    """A git checkout, identified as git://<host>/<path>#<ref>[:<subdir>] (Go: llb.Git).

    The auth secret names default to GIT_AUTH_HEADER / GIT_AUTH_TOKEN exactly as in Go; the
    source.git.httpauth cap is only recorded when you name a secret yourself. For ssh URLs Go
    runs ssh-keyscan when no known_ssh_hosts are given; we never touch the network here, so pass
    known_ssh_hosts if you need host key pinning.
    """
    try:
        scheme, host, path, remote = refs.parse_git_url(url)
    except refs.RefError as exc:
        raise LLBError(str(exc)) from None
    subdir = go_join("/", subdir).lstrip("/") if subdir else ""
    ident = host + go_join("/", path)
    if ref or subdir:
        ident += "#" + ref + (":" + subdir if subdir else "")
    attrs: dict[str, str] = {}
    caps = {"source.git"}
    if keep_git_dir:
        attrs["git.keepgitdir"] = "true"
        caps.add("source.git.keepgitdir")
    attrs["git.fullurl"] = remote
    caps.add("source.git.fullurl")
    attrs["git.authtokensecret"] = auth_token_secret or "GIT_AUTH_TOKEN"
    attrs["git.authheadersecret"] = auth_header_secret or "GIT_AUTH_HEADER"
    if auth_token_secret or auth_header_secret:
        caps.add("source.git.httpauth")
    if scheme == "ssh":
        if known_ssh_hosts:
            attrs["git.knownsshhosts"] = known_ssh_hosts.rstrip("\n") + "\n"
        caps.add("source.git.knownsshhosts")
        attrs["git.mountsshsock"] = mount_ssh_sock or "default"
        caps.add("source.git.mountsshsock")
    if checksum:
        attrs["git.checksum"] = checksum
        caps.add("source.git.checksum")
    if skip_submodules:
        attrs["git.skipsubmodules"] = "true"
        caps.add("source.git.skipsubmodules")
    return State(SourceVertex("git://" + ident, attrs, None, caps, custom_name), 0)


def http(
    url: str,
    *,
    checksum: str | None = None,
    filename: str | None = None,
    perm: int | None = None,
    uid: int | None = None,
    gid: int | None = None,
    custom_name: str | None = None,
) -> State:
    """A single file downloaded over http(s) (Go: llb.HTTP); the identifier is the URL itself."""
    attrs: dict[str, str] = {}
    caps = {"source.http"}
    if checksum:
        attrs["http.checksum"] = checksum
        caps.add("source.http.checksum")
    if filename:
        attrs["http.filename"] = filename
    if perm:
        attrs["http.perm"] = "0" + format(perm & 0o777, "o")
        caps.add("source.http.perm")
    if uid:
        attrs["http.uid"] = str(uid)
        caps.add("soruce.http.uidgid")  # sic: BuildKit's cap id is misspelt
    if gid:
        attrs["http.gid"] = str(gid)
        caps.add("soruce.http.uidgid")
    return State(SourceVertex(url, attrs, None, caps, custom_name), 0)


__all__ = ["image", "local", "git", "http", "SourceVertex"]
