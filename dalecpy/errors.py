"""The one base class of errors a user can cause: the CLI and the frontend report these as messages,
never as tracebacks (tracebacks are for our bugs)."""

from __future__ import annotations

import re

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
    """Bad input (spec, flags, target, platform) or a daemon that cannot do what the spec asks."""
