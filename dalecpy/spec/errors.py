"""User-facing spec errors: positioned diagnostics (``FILE:LINE:COL: message``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..errors import UserError


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a spec. ``line``/``column`` are 1-based, or None when unknown."""

    filename: str
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.filename}: {self.message}"
        col = self.column if self.column is not None else 1
        return f"{self.filename}:{self.line}:{col}: {self.message}"


class SpecError(UserError):
    """One or more user errors in a spec. ``str(err)`` is one line per diagnostic."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)

    @classmethod
    def single(cls, filename: str, message: str, line: int | None = None, column: int | None = None) -> "SpecError":
        return cls([Diagnostic(filename, line, column, message)])
