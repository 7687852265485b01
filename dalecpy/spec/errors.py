"""User-facing spec errors: positioned diagnostics (``FILE:LINE:COL: message``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..errors import UserError, one_line

#: Diagnostics a SpecError prints; the rest are counted in one closing line. A spec with thousands of
#: mistakes (e.g. every key misspelt) gets a readable report at a bounded cost.
MAX_DIAGNOSTICS = 100


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a spec. ``line``/``column`` are 1-based, or None when unknown."""

    filename: str
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        # The one place a diagnostic becomes text: user values echoed in the message stay on one line.
        if self.line is None:
            return one_line(f"{self.filename}: {self.message}")
        col = self.column if self.column is not None else 1
        return one_line(f"{self.filename}:{self.line}:{col}: {self.message}")


class SpecError(UserError):
    """One or more user errors in a spec. ``str(err)`` is one line per diagnostic, at most
    MAX_DIAGNOSTICS of them, then ``FILE: ... and N more errors`` when there are more.

    ``omitted`` counts problems found but not turned into diagnostics (the loader stops early)."""

    def __init__(self, diagnostics: Iterable[Diagnostic], omitted: int = 0):
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        self.omitted = omitted
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [str(d) for d in self.diagnostics[:MAX_DIAGNOSTICS]]
        more = len(self.diagnostics) - len(lines) + self.omitted
        if more > 0:
            name = self.diagnostics[0].filename if self.diagnostics else "spec"
            lines.append(one_line(f"{name}: ... and {more} more error{'s' if more != 1 else ''}"))
        return "\n".join(lines)

    @classmethod
    def single(cls, filename: str, message: str, line: int | None = None, column: int | None = None) -> "SpecError":
        return cls([Diagnostic(filename, line, column, message)])
