"""Dalec spec: models, loading with positioned errors, build-arg substitution."""

from .args import KNOWN_ARGS, PLATFORM_ARGS
from .errors import Diagnostic, SpecError
from .load import LoadedSpec, load_spec, load_spec_file
from .models import *  # noqa: F401,F403  (model classes)
from .schema import spec_json_schema
from .spec import Spec
from .yamlsrc import MAX_SPEC_BYTES
from . import _prebuilt, models as _models, spec as _spec

_prebuilt.complete(_prebuilt.model_classes(_models, _spec))

__all__ = [
    "Spec",
    "LoadedSpec",
    "SpecError",
    "Diagnostic",
    "load_spec",
    "load_spec_file",
    "spec_json_schema",
    "KNOWN_ARGS",
    "PLATFORM_ARGS",
    "MAX_SPEC_BYTES",
]
