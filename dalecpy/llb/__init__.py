"""A small BuildKit LLB builder in the style of Go's client/llb.

States are immutable; chain them, then `marshal` to a pb.Definition whose op bytes and digests
equal what Go's llb (BuildKit >= v0.17) emits for the same graph.
"""

from dalecpy.platforms import Platform

from . import ops_pb2
from ._wire import digest_of
from ._errors import LLBError
from .dump import definition_to_dot, definition_to_json, go_json_line
from .exec import ExecState, Mount
from .fileop import ChownOpt, FileAction, copy, mkdir, mkfile, rm
from .marshal import MissingCapError, marshal
from .source import git, http, image, local
from .state import CacheSharing, NetMode, State, scratch

__all__ = [
    "CacheSharing",
    "ChownOpt",
    "ExecState",
    "FileAction",
    "LLBError",
    "MissingCapError",
    "Mount",
    "NetMode",
    "Platform",
    "State",
    "copy",
    "definition_to_dot",
    "definition_to_json",
    "digest_of",
    "git",
    "go_json_line",
    "http",
    "image",
    "local",
    "marshal",
    "mkdir",
    "mkfile",
    "ops_pb2",
    "rm",
    "scratch",
]
