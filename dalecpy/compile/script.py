"""Shell scripts the build ops run: generated text, mounted as files, never inlined into op args."""

from __future__ import annotations

from typing import Iterable, Mapping

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SCRIPT_DIR = "/tmp/dalec/internal"


def dquote(value: str) -> str:
    """Double-quote like Go's %q does in Dalec's build.sh: `$VAR` still expands, quotes and backslashes do not break out."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def squote(value: str) -> str:
    """Single-quote for the shell: the value reaches the command byte for byte."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def exports(env: Mapping[str, str]) -> str:
    return "".join(f"export {k}={dquote(v)}\n" for k, v in sorted(env.items()))


def build_script(
    *, prelude: str, env: Mapping[str, str], steps: Iterable[tuple[str, Mapping[str, str]]]
) -> str:
    """Dalec's build.sh: `set -e`, the build env exported, each step in a subshell with its own env."""
    parts = ["#!/bin/sh\nset -e\n", 'export HOME="${HOME:-/root}"\n', prelude, exports(env)]
    for command, step_env in steps:
        inner = "".join(f"  export {k}={dquote(v)}\n" for k, v in sorted(step_env.items()))
        parts.append(f"(\n{inner}{command.rstrip()}\n)\n")
    return "".join(parts)
