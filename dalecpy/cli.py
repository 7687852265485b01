"""The `dalecpy` command line: parse flags, call the library, print. User errors exit 2 with one line each."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Iterator

import click

from ._entry import interrupted
from .errors import UserError, one_line
from .platforms import Platform, PlatformError

STDIN_SPEC = "-"
STDIN_NAME = "<stdin>"  # the spec's name in messages when it is read from stdin


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the errors a user can cause into `FILE:LINE:COL: message` lines and exit code 2, never a traceback."""
    try:
        yield
    except UserError as exc:
        positioned = getattr(exc, "diagnostics", None)  # SpecError lines already name the file
        click.echo(str(exc) if positioned else f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


class _Main(click.Group):
    """The `dalecpy` group: a usage error is one line (exit 2), Ctrl-C exits 130."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if isinstance(exc, click.UsageError) and ctx else ""
            click.echo(f"error: {one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            interrupted()
        sys.exit(rv if isinstance(rv, int) else 0)


def _utf8(_ctx, _param, value):
    """Refuse text for the daemon that is not valid UTF-8 (undecodable argv bytes reach Python as lone
    surrogates; every string on the wire is UTF-8). Local paths are not checked: any bytes are a path."""
    for v in value if isinstance(value, tuple) else (value,):
        if isinstance(v, str) and any("\ud800" <= c <= "\udfff" for c in v):
            raise click.BadParameter(f"'{one_line(v)}' is not valid UTF-8")
    return value


def _platform(_ctx, _param, value: str | None) -> Platform | None:
    if value is None:
        return None
    try:
        return Platform.parse(value)
    except PlatformError as exc:
        raise click.BadParameter(str(exc)) from None


def _build_args(_ctx, _param, values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:  # values that are not UTF-8 are the spec loader's to report, naming the arg
        key, sep, val = v.partition("=")
        if not key or not sep:
            raise click.BadParameter(f"'{one_line(v)}': expected KEY=VALUE")
        out[key] = val
    return out


def _stdin_spec() -> bytes:
    from .spec import MAX_SPEC_BYTES

    return sys.stdin.buffer.read(MAX_SPEC_BYTES + 1)  # one byte over: the loader reports the size limit


def _load(path: str):
    from .spec import load_spec, load_spec_file

    if path == STDIN_SPEC:
        return load_spec(_stdin_spec(), STDIN_NAME)
    return load_spec_file(path)


def _options(target: str, platform: Platform | None, build_args: dict[str, str]):
    from .compile import CompileOptions

    return CompileOptions(target=target, platform=platform, build_args=build_args)


_spec_arg = click.argument("spec", type=click.Path(dir_okay=False, allow_dash=True))
_target_opt = click.option("--target", "-t", default="bookworm/container", show_default=True, help="Target to build.")
_platform_opt = click.option("--platform", callback=_platform, help="Target platform os/arch[/variant] (default linux/amd64).")
_build_arg_opt = click.option("--build-arg", "build_args", multiple=True, callback=_build_args, metavar="KEY=VALUE")


@click.group(cls=_Main)
@click.version_option(package_name="dalecpy")
def main() -> None:
    """Compile Dalec-style build specs to BuildKit LLB."""


@main.command()
@_spec_arg
@_target_opt
@_platform_opt
@_build_arg_opt
@click.option("--format", "fmt", type=click.Choice(["llb", "json", "dot"]), default="llb", show_default=True)
def render(spec: str, target: str, platform: Platform | None, build_args: dict[str, str], fmt: str) -> None:
    """Print the LLB for TARGET: binary (pipe to `buildctl build`), JSON per op, or a Graphviz graph."""
    from . import llb
    from .compile import compile_spec

    with _user_errors():
        result = compile_spec(_load(spec), _options(target, platform, build_args))
    if fmt == "llb":
        sys.stdout.buffer.write(result.definition.SerializeToString(deterministic=True))
        sys.stdout.buffer.flush()
    elif fmt == "json":
        for entry in llb.definition_to_json(result.definition):
            click.echo(llb.go_json_line(entry))
    else:
        click.echo(llb.definition_to_dot(result.definition), nl=False)


@main.command()
@_spec_arg
def validate(spec: str) -> None:
    """Check a spec: print its errors (exit 2), or `ok`."""
    with _user_errors():
        _load(spec)
    click.echo("ok")


@main.command()
def schema() -> None:
    """Print the spec's JSON schema."""
    from .spec import spec_json_schema

    click.echo(json.dumps(spec_json_schema(), indent=2, sort_keys=True))


@main.command()
@_spec_arg
def targets(spec: str) -> None:
    """List the targets with descriptions; bare `<distro>` builds its default kind."""
    from .compile import targets as routes

    with _user_errors():
        _load(spec)
    rows = [(r.path, r.description) for r in routes.visible_routes()]
    width = max(len(p) for p, _ in rows)
    for path, desc in rows:
        click.echo(f"{path:<{width}}  {desc}")
    click.echo()
    for distro, default in routes.DEFAULT_KINDS.items():
        click.echo(f"default for {distro}: {default}")


@main.command()
@_spec_arg
@_target_opt
@_platform_opt
@_build_arg_opt
def caches(spec: str, target: str, platform: Platform | None, build_args: dict[str, str]) -> None:
    """Show the effective cache IDs, mount points and sharing of a build."""
    from .compile import effective_caches

    with _user_errors():
        rows = effective_caches(_load(spec), _options(target, platform, build_args))
    if not rows:
        click.echo("no caches")
        return
    header = ("KIND", "SHARING", "MOUNT", "CACHE ID")
    table = [header, *((c.kind, c.sharing, c.dest, c.id) for c in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(3)]
    for r in table:
        click.echo("  ".join(f"{r[i]:<{widths[i]}}" for i in range(3)) + "  " + r[3])
    if any(c.kind == "bazel" for c in rows):
        from .compile.caches import BAZEL_SOCKET_ID, BAZEL_SOCKET_PATH, BAZELRC_PATH

        click.echo(
            f"\nbazel: rc at {BAZELRC_PATH}; remote cache through the forwarded socket {BAZEL_SOCKET_ID!r} "
            f"at {BAZEL_SOCKET_PATH} when the client forwards it (dalecpy build --socket {BAZEL_SOCKET_ID}=PATH)"
        )


@main.command()
def frontend() -> None:
    """Run as a BuildKit gateway frontend (the frontend image's entrypoint; speaks gRPC on stdin/stdout)."""
    from .frontend import main as frontend_main

    frontend_main()


def _flag(parse):
    """A click callback from a client parser: what it refuses (FlagError, AddressError) is a usage error."""
    def callback(_ctx, _param, value):
        try:
            return parse(value)
        except UserError as exc:
            raise click.BadParameter(str(exc)) from None
    return callback


def _parse_addr(value):
    from .client import parse_addr

    parse_addr(value)  # the default (BUILDKIT_HOST, DOCKER_HOST) is checked too
    return value


def _parse_ssh(values):
    import os

    from .client import parse_kv_list

    return parse_kv_list(values, "--ssh", default_path=os.environ.get("SSH_AUTH_SOCK"))


def _client_parser(name: str, *args):
    def parse(value):
        from . import client

        return getattr(client, name)(value, *args)
    return parse


@main.command()
@_spec_arg
@click.argument("context", required=False, type=click.Path(file_okay=False))
@_target_opt
@click.option("--platform", "platforms", multiple=True, callback=lambda c, p, v: [_platform(c, p, x) for x in v],
              help="Target platform (repeatable).")
@_build_arg_opt
@click.option("--socket", "sockets", multiple=True, metavar="ID=PATH", callback=_flag(_client_parser("parse_kv_list", "--socket")),
              help="Forward a unix socket raw, as ssh id ID.")
@click.option("--ssh", multiple=True, metavar="ID[=PATH]", callback=_flag(_parse_ssh),
              help="Forward an ssh-agent socket (default $SSH_AUTH_SOCK).")
@click.option("--secret", "secrets", multiple=True, metavar="id=ID,src=PATH", callback=_flag(_client_parser("parse_secrets")))
@click.option("-o", "--output", default=None, metavar="type=local,dest=DIR|type=docker[,name=N]|type=oci,dest=F",
              callback=_flag(_client_parser("parse_output")))
@click.option("--no-cache", is_flag=True)
@click.option("--no-cache-filter", multiple=True, metavar="FILTER", callback=_utf8)
@click.option("--addr", default=None, callback=_flag(_parse_addr),
              help="unix://, tcp:// (buildkitd) or docker:// (default: BUILDKIT_HOST, else DOCKER_HOST).")
@click.option("--progress", type=click.Choice(["auto", "plain", "tty", "quiet"]), default="auto", show_default=True)
@click.option("--frontend-image", metavar="REF", default=None, callback=_utf8,
              help="Have the daemon run this frontend image (as `# syntax=REF` does) instead of running "
                   "dalecpy's frontend in this process.")
def build(spec, context, target, platforms, build_args, sockets, ssh, secrets, output, no_cache, no_cache_filter,
          addr, progress, frontend_image) -> None:
    """Build TARGET of SPEC on a BuildKit daemon (dockerd or buildkitd) with dalecpy's own client.

    dalecpy's frontend runs in this process as a gateway build (image config, spec tests), unless
    --frontend-image names a frontend image for the daemon to run. The daemon gets the spec's directory
    and, when the spec uses it, CONTEXT (default: the spec's directory; with SPEC `-`, read from stdin,
    the current directory)."""
    from . import client

    req = client.BuildRequest(
        spec=STDIN_NAME if spec == STDIN_SPEC else spec, context=context, target=target, platforms=list(platforms), build_args=build_args,
        sockets={**sockets, **ssh}, secrets=secrets, output=output, no_cache=no_cache,
        no_cache_filter=tuple(no_cache_filter), addr=addr, progress=progress, frontend_image=frontend_image,
        spec_data=_stdin_spec() if spec == STDIN_SPEC else None)
    try:
        with _user_errors():
            results = client.build(req)
    except (client.BuildError, client.ConnectError) as exc:
        click.echo(f"error: {one_line(str(exc))}", err=True)
        sys.exit(1)
    for r in results:
        dest = req.output.attrs.get("dest") or req.output.attrs.get("name") or ""
        resp = " ".join(f"{k}={v}" for k, v in sorted(r.exporter_response.items()) if len(v) < 200)
        click.echo(f"built {target} for {r.platform}" + (f" -> {req.output.type} {dest}" if req.output.type != "none" else "")
                   + (f" ({resp})" if resp else ""))


if __name__ == "__main__":  # pragma: no cover
    main()
