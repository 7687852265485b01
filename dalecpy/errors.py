"""The one hierarchy of errors a user can cause: the CLI and the frontend report these as messages, never as
tracebacks (tracebacks are for our bugs).

Every boundary translates once: the CLI prints ``str(err)`` and exits with ``err.exit_code``; the frontend
returns ``err.code`` (a gRPC status code) with ``str(err)`` as the message. An error about one spec node
carries its ``path`` (YAML keys and list indexes); compile turns pathed errors into positioned
``FILE:LINE:COL`` lines in one place (:func:`dalecpy.compile.compile_spec`).
"""

from __future__ import annotations

import re
from typing import Iterable

#: google.golang.org/grpc/codes.InvalidArgument
INVALID_ARGUMENT = 3

Path = tuple

# C0/C1 controls, DEL, Unicode line/paragraph separators and lone surrogates: anything that could end a line
# on some terminal or log reader, or cannot be encoded as UTF-8 on the way to the daemon.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    return _SHORT.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def one_line(text: str) -> str:
    """`text` with control characters, line separators and lone surrogates escaped (`\\n`, `\\x1b`,
    `\\ud800`): a message that echoes user input stays one printable, UTF-8-encodable line."""
    return _UNSAFE.sub(_escape, text)


class UserError(Exception):
    """Bad input (spec, flags, target, platform) or a daemon that cannot do what the spec asks.

    ``exit_code`` is the CLI's exit status for it (2: a usage or input error), ``code`` the gRPC status
    the frontend returns. ``problems`` holds (spec path or None, message) pairs, one per line of ``str()``.
    """

    exit_code: int = 2
    code: int = INVALID_ARGUMENT

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.problems: list[tuple[Path | None, str]] = [(tuple(path) if path is not None else None, message)]

    @property
    def path(self) -> Path | None:
        """The spec path of the first problem (None: not about one spec node)."""
        return self.problems[0][0]

    @classmethod
    def many(cls, problems: Iterable[tuple[Path | None, str]]) -> "UserError":
        """One error with several problems (e.g. every colliding mount of a step), reported together."""
        items = list(problems)
        err = cls(items[0][1], items[0][0])
        err.problems = [(tuple(p) if p is not None else None, m) for p, m in items]
        err.args = ("\n".join(m for _, m in items),)
        return err

    def __str__(self) -> str:
        """One line per problem: user input echoed in a message cannot add a line."""
        return "\n".join(one_line(m) for _, m in self.problems)


class NotSupportedError(UserError):
    """A spec setting dalecpy accepts (Dalec has it) but cannot honour yet: refused, never ignored."""
