"""OCI platforms (`os/arch[/variant]`), normalised the way containerd's `platforms` package does."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UserError

_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "i386": "386",
    "i686": "386",
}


class PlatformError(UserError, ValueError):
    """A platform string that cannot be parsed."""


@dataclass(frozen=True, order=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> "Platform":
        parts = text.strip().lower().split("/")
        if not 1 <= len(parts) <= 3 or not all(parts):
            raise PlatformError(f"invalid platform {text!r}: expected os/arch[/variant]")
        if len(parts) == 1:
            raise PlatformError(f"invalid platform {text!r}: expected os/arch[/variant]")
        os_, arch = parts[0], _ARCH_ALIASES.get(parts[1], parts[1])
        variant = parts[2] if len(parts) == 3 else ""
        # containerd normalises arm64/v8 to arm64 and a bare arm to arm/v7.
        if arch == "arm64" and variant == "v8":
            variant = ""
        elif arch == "arm" and variant == "":
            variant = "v7"
        elif arch == "amd64" and variant == "v1":
            variant = ""
        return cls(os_, arch, variant)

    def format(self) -> str:
        """`os/arch[/variant]`, as `platforms.Format` writes it (used inside cache IDs)."""
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def __str__(self) -> str:
        return self.format()


DEFAULT_PLATFORM = Platform("linux", "amd64")
