"""The frontend's work: read the spec the way the Dockerfile frontend reads a Dockerfile, compile it for
each requested platform, solve, attach image configs, and answer subrequests.

`handle(bridge, environ)` always ends with exactly one `Return`: a result, or a google.rpc.Status error.
User errors (bad spec, unknown target, missing daemon capability, bad platform) become InvalidArgument
with the positioned message; anything unexpected is logged to stderr and returned as Internal.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
import traceback
from typing import Any, Mapping

from . import gateway_pb2 as gw
from . import status_pb2
from . import subrequests
from ..errors import UserError, one_line
from .bridge import Bridge, rpc_failure, solve_ref
from .options import FrontendOptions, OptionError, build_platform, env_text

# google.golang.org/grpc/codes
INVALID_ARGUMENT = 3
INTERNAL = 13
UNIMPLEMENTED = 12

CAP_FRONTEND_INPUTS = "frontend.inputs"
CAP_SOLVE_EVALUATE = "gateway.solve.evaluate"


class UnsupportedRequest(UserError):
    code = UNIMPLEMENTED


class SpecTestFailed(UserError):
    """A spec test failed; `code` is the daemon's (Unknown for a failed process)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _pb_platform(p):
    from ..llb import ops_pb2

    return ops_pb2.Platform(Architecture=p.architecture, OS=p.os, Variant=p.variant)


def _platform_json(p) -> dict[str, str]:
    out = {"architecture": p.architecture, "os": p.os}
    if p.variant:
        out["variant"] = p.variant
    return out


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Session:
    """One frontend invocation: the daemon's answers to Ping plus the parsed options."""

    def __init__(self, bridge: Bridge, environ: Mapping[str, str]) -> None:
        from ..platforms import Platform

        self.bridge = bridge
        self.environ = environ
        self.session_id = env_text("BUILDKIT_SESSION_ID", environ.get("BUILDKIT_SESSION_ID") or "") or None
        pong = bridge.ping()
        self.frontend_caps = frozenset(c.ID for c in pong.FrontendAPICaps if c.Enabled)
        llb_caps = frozenset(c.ID for c in pong.LLBCaps if c.Enabled)
        # An empty list comes from a daemon too old to report caps: do not gate then.
        self.llb_caps = llb_caps or None
        pong_plats = [
            Platform(p.OS, p.Architecture, p.Variant) for w in pong.Workers for p in w.platforms if p.OS and p.Architecture
        ]
        self.build_platform = build_platform(pong_plats, environ)

    # ------------------------------------------------------------------ spec
    def read_spec(self, fo: FrontendOptions) -> tuple[bytes, Any]:
        """Fetch `filename` from the dockerfile input (Inputs) or the client's local dir, and load it."""
        from .. import llb
        from ..spec import load_spec

        definition = None
        if CAP_FRONTEND_INPUTS in self.frontend_caps:
            try:
                definition = self.bridge.inputs().Definitions.get(fo.dockerfile_key)
            except Exception:  # noqa: BLE001 - inputs are optional; fall back to the local source
                definition = None
        if definition is None or not getattr(definition, "def"):
            st = llb.local(
                fo.dockerfile_key,
                session_id=self.session_id,
                shared_key_hint=fo.dockerfile_key,
                follow_paths=(fo.filename,),
                custom_name=f"[internal] load build definition from {fo.filename}",
            )
            definition = llb.marshal(st, caps=self.llb_caps)
        ref = solve_ref(self.bridge, definition)
        data = self.bridge.read_file(ref, fo.filename)
        return data, load_spec(data, fo.filename)

    def context_excludes(self, loaded) -> dict[str, tuple[str, ...]]:
        """Each local context's `.dockerignore` patterns, read from the client as the Dockerfile frontend does."""
        from .. import dockerignore, llb
        from ..compile.sources import context_names

        out = {}
        for name in sorted(context_names(loaded.spec)):
            st = llb.local(
                name,
                session_id=self.session_id,
                shared_key_hint=name,
                follow_paths=(dockerignore.FILENAME,),
                custom_name=f"[internal] load {dockerignore.FILENAME} of {name}",
            )
            ref = solve_ref(self.bridge, llb.marshal(st, caps=self.llb_caps))
            try:
                data = self.bridge.read_file(ref, dockerignore.FILENAME)
            except Exception as exc:  # noqa: BLE001
                if rpc_failure(exc) is None:
                    raise
                continue  # no .dockerignore in that context
            patterns = dockerignore.parse(data.decode("utf-8", "replace"))
            if patterns:
                out[name] = tuple(patterns)
        return out

    # ------------------------------------------------------------------ compile
    def compile_options(self, fo: FrontendOptions, platform, context_excludes=None):
        from ..compile import CompileOptions

        return CompileOptions(
            target=fo.target,
            platform=platform,
            build_platform=self.build_platform,
            build_args=dict(fo.build_args),
            llb_caps=self.llb_caps,
            session_id=self.session_id,
            named_contexts=dict(fo.named_contexts),
            no_cache=fo.no_cache,
            context_excludes=context_excludes or {},
        )

    def image_config(self, result, fo: FrontendOptions) -> dict[str, Any]:
        from ..compile import merge_image_config

        if result.base_image is None:
            if result.image is None:
                return _platform_json(result.platform)  # package targets: only the platform
            cfg = merge_image_config(None, result.image, result.platform)  # a container on an empty root
            cfg["created"] = _now()
            return cfg
        resp = self.bridge.resolve_image_config(
            gw.ResolveImageConfigRequest(
                Ref=result.base_image,
                Platform=_pb_platform(result.platform),
                ResolveMode=fo.resolve_mode,
                LogName=f"[internal] load metadata for {result.base_image}",
            )
        )
        base = json.loads(resp.Config) if resp.Config else None
        cfg = merge_image_config(base, result.image, result.platform)
        cfg["created"] = _now()
        return cfg

    def build(self, fo: FrontendOptions) -> gw.Result:
        from ..compile import compile_spec

        _, loaded = self.read_spec(fo)
        excludes = self.context_excludes(loaded)
        # No platform requested: the route's default (the build platform; windows/<arch> for windowscross).
        platforms = list(fo.platforms) or [None]
        built = []
        for plat in platforms:
            result = compile_spec(loaded, self.compile_options(fo, plat, excludes))
            ref = solve_ref(self.bridge, result.definition)
            self.run_tests(result)
            config = self.image_config(result, fo)
            built.append((result.platform, ref, config))
        out = gw.Result()
        if not fo.multi_platform:
            _, ref, config = built[0]
            out.ref.id = ref
            out.metadata["containerimage.config"] = json.dumps(config).encode()
            return out
        listing = []
        for plat, ref, config in built:
            pid = plat.format()
            out.refs.refs[pid].id = ref
            out.metadata[f"containerimage.config/{pid}"] = json.dumps(config).encode()
            listing.append({"id": pid, "platform": _platform_json(plat)})
        out.metadata["refs.platforms"] = json.dumps({"platforms": listing}).encode()
        return out

    def run_tests(self, result) -> None:
        """Solve each spec test with Evaluate, so it runs now (Solve is lazy otherwise); the first failure
        fails the build with the daemon's error, which carries the test script's failure lines."""
        if not result.tests:
            return
        if self.frontend_caps and CAP_SOLVE_EVALUATE not in self.frontend_caps:  # empty: too old to say
            raise UserError(
                f"this BuildKit cannot run spec tests (no {CAP_SOLVE_EVALUATE} capability); "
                "set the build arg DALEC_SKIP_TESTS=1 to build without them"
            )
        for name, definition in result.tests:
            try:
                self.bridge.solve(gw.SolveRequest(
                    Definition=definition, allowResultReturn=True, allowResultArrayRef=True, Evaluate=True
                ))
            except Exception as exc:  # noqa: BLE001
                failure = rpc_failure(exc)
                if failure is None:
                    raise
                code, detail = failure
                raise SpecTestFailed(f"test {json.dumps(name)} failed: {detail}", code) from None

    # ------------------------------------------------------------------ subrequests
    def subrequest(self, fo: FrontendOptions) -> gw.Result:
        req = fo.request_id
        if req == subrequests.DESCRIBE:
            meta = subrequests.describe()
        elif req == subrequests.TARGETS:
            from ..compile import visible_routes
            from ..compile.targets import DEFAULT_KINDS

            data, _ = self.read_spec(fo)
            meta = subrequests.targets(visible_routes(), DEFAULT_KINDS.values(), [data])
        elif req == subrequests.RESOLVE:
            from ..compile import lookup

            _, loaded = self.read_spec(fo)
            target_key = lookup(fo.target).target_key if fo.target else ""
            plat = (fo.platforms or (self.build_platform,))[0]
            spec = loaded.resolve(
                dict(fo.build_args), target_key=target_key, target_platform=plat, build_platform=self.build_platform
            )
            meta = subrequests.resolve(spec.to_yaml_dict())
        else:
            raise UnsupportedRequest(f"unsupported request {req}")
        out = gw.Result()
        for k, v in meta.items():
            out.metadata[k] = v
        return out

    def run(self, fo: FrontendOptions) -> gw.Result:
        if fo.request_id:
            return self.subrequest(fo)
        return self.build(fo)


def error_status(exc: BaseException) -> status_pb2.Status | None:
    """The Status a user error returns as, or None when `exc` is not the user's fault."""
    if isinstance(exc, UserError):
        return status_pb2.Status(code=getattr(exc, "code", INVALID_ARGUMENT), message=str(exc))
    failure = rpc_failure(exc)
    if failure is not None:
        # A daemon-side failure (e.g. the spec file is missing from the context): pass it on as is.
        return status_pb2.Status(code=failure[0], message=failure[1])
    return None


def handle(bridge: Bridge, environ: Mapping[str, str], opts: Mapping[str, str] | None = None) -> gw.ReturnRequest:
    """Do the work and build the ReturnRequest; never raises for a failed build. The frontend opts come
    from `opts` when given (`dalecpy build` runs this in the client), else from BUILDKIT_FRONTEND_OPT_<i>."""
    from .options import opts_from_env

    try:
        fo = FrontendOptions.parse(opts_from_env(environ) if opts is None else opts)
        session = Session(bridge, environ)
        return gw.ReturnRequest(result=session.run(fo))
    except Exception as exc:  # noqa: BLE001 - every failure must reach the daemon as a Return
        status = error_status(exc)
        if status is None:
            traceback.print_exc(file=sys.stderr)
            status = status_pb2.Status(code=INTERNAL, message=one_line(f"dalecpy frontend: internal error: {exc!r}"))
        return gw.ReturnRequest(error=status)
