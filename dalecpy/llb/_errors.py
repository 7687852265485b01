"""The llb layer's one error type: anything bad a caller passes (a malformed image reference, an
unsupported git URL, two mounts on one path, a missing daemon capability) raises LLBError, a UserError,
so a value that came from a spec never surfaces as a traceback."""

from __future__ import annotations

from ..errors import UserError


class LLBError(UserError, ValueError):
    """A value the llb layer cannot express. ValueError too, as callers of a library expect."""
