"""dalecpy's own BuildKit client: `dalecpy build` (a gateway build: dalecpy's frontend runs in the client
over LLBBridge while the daemon solves with our session; or `--frontend-image` for a frontend image).

Its reason to exist: forwarding a raw unix socket (e.g. a Bazel remote cache) into build steps, which
buildx and the docker CLI cannot do (they only speak the ssh-agent protocol).
"""

from .build import (BuildError, BuildRequest, BuildResult, FlagError, Output, build, parse_kv_list, parse_output,
                    parse_secrets)
from .transport import AddressError, ConnectError, parse_addr

__all__ = ["AddressError", "BuildError", "BuildRequest", "BuildResult", "ConnectError", "FlagError", "Output", "build",
           "parse_addr", "parse_kv_list", "parse_output", "parse_secrets"]
