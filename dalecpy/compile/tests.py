"""Spec `tests:` -> one LLB state per test, run on top of the built container image.

Each test becomes ONE ExecOp on its own copy of the container rootfs (after the test dependencies are
installed with apt): a generated POSIX sh script, mounted read-only at SCRIPT_DIR with its data files
(stdin, expected bytes), runs the steps and checks their output and the files. Every failed check prints
one line naming the test and the check to stderr; the script runs all checks of the test, then exits 1
if any failed. Solving the state (with evaluate) runs the test; nothing of it ends up in the image.

The script depends only on the spec and on the files next to it (it finds them through `$0`), so it can
be run outside BuildKit too: `sh /path/to/test.sh`.

Differences from Dalec's Go test runner, by design of a shell runner:
- `matches` patterns are POSIX extended regular expressions matched line by line (`grep -E`), not Go
  RE2 over the whole text: no `\\d`, `(?i)`, lazy quantifiers; `^`/`$` anchor at each line.
- `contains` uses `grep -F` (line by line) for single-line strings; a string with a newline is matched
  against the whole text with a shell `case` pattern.
- Step indexes in messages count from 0, like the spec path `tests[i].steps[<index>]`.
"""

from __future__ import annotations

import json

from .. import llb
from ..spec.models import CheckOutput, FileCheckOutput, TestSpec
from .debian import DISTROS, Distro, _scripts, install_deps
from .distros import RPM_DISTROS, RpmDistro
from .mounts import MountTable
from .options import NO_CACHE_TESTS, BuildContext, CompileError, TargetOutput
from .script import SCRIPT_DIR, squote
from .sources import SourceEnv, source_mount

SKIP_TESTS_ARG = "DALEC_SKIP_TESTS"
SCRIPT_NAME = "test.sh"
_PREVIEW = 200  # bytes of actual output shown in a failure message

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(value: str) -> bool:
    """Go's strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False; anything else is an error."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"invalid boolean {value!r}")


def skip_tests(build_args) -> bool:
    value = (build_args or {}).get(SKIP_TESTS_ARG)
    if value is None or value == "":
        return False
    try:
        return parse_bool(value)
    except ValueError:
        raise CompileError(
            f"build arg {SKIP_TESTS_ARG}={value!r} is not a boolean (use 1, t, true, 0, f or false)"
        ) from None


def _distro(target_key: str) -> Distro | RpmDistro | None:
    return next((d for d in DISTROS if d.codename == target_key), None) or next(
        (r for r in RPM_DISTROS if r.key == target_key), None)


def compile_tests(ctx: BuildContext, out: TargetOutput) -> list[tuple[str, llb.State]]:
    """(name, state) per spec test for a Debian or RPM container target; [] for other targets (and windowscross,
    as in Dalec) or when tests are skipped."""
    distro = _distro(ctx.target_key)
    if distro is None or out.image is None or skip_tests(ctx.options.build_args):
        return []
    tests = ctx.spec.get_tests(ctx.target_key)
    if not tests:
        return []
    base = out.state
    deps = ctx.spec.get_test_deps(ctx.target_key)
    if deps and isinstance(distro, RpmDistro):
        from . import rpm

        base = rpm.install_deps(ctx, distro, base, deps, "test", root=rpm.ROOTFS)
    elif deps:
        base = install_deps(ctx, distro, base, deps, "test")
    env = SourceEnv.for_build(ctx)
    out_states = []
    for i, (t, path) in enumerate(zip(tests, _test_paths(ctx))):
        name = t.name or f"test {i}"
        files = script_files(t, name)
        table = MountTable({"/": "the container's root filesystem", SCRIPT_DIR: "dalecpy's generated test script"})
        for j, m in enumerate(t.mounts or ()):
            table.claim(m.dest, path + ("mounts", j, "dest"), f"mount {j}", f"test {name}: mount {j}: mount")
        table.check()
        mounts = tuple(
            source_mount(m.dest, f"test{i}-mount{j}", m.spec, env)
            for j, m in enumerate(t.mounts or ())
        )
        st = base.run(
            [f"{SCRIPT_DIR}/{SCRIPT_NAME}"],
            network=llb.NetMode.NONE,
            mounts=(llb.Mount.bind(SCRIPT_DIR, _scripts(f"test {name}: script", files), readonly=True), *mounts),
            custom_name=f"Test {name}",
            ignore_cache=ctx.options.ignores_cache(NO_CACHE_TESTS),
        ).root
        out_states.append((name, st))
    return out_states


def _test_paths(ctx: BuildContext) -> list[tuple]:
    """The spec path of each test get_tests returns: the root's tests, then the target's."""
    target = ctx.spec.target(ctx.target_key)
    paths = [("tests", i) for i in range(len(ctx.spec.tests))]
    if target is not None:
        paths += [("targets", ctx.target_key, "tests", i) for i in range(len(target.tests))]
    return paths


# ---------------------------------------------------------------------- the script


def _q(value: str, limit: int = _PREVIEW) -> str:
    """A value as messages show it: double-quoted with escapes (like Go's %q), cut after `limit` chars."""
    cut = value if len(value) <= limit else value[:limit]
    text = json.dumps(cut, ensure_ascii=False)
    return text if cut is value else text + "..."


_PRELUDE = r"""#!/bin/sh
# Generated by dalecpy: runs one spec test. Data files live next to this script.
# `matches` patterns are POSIX EREs matched line by line (grep -E), not Go RE2.
D=$(cd "$(dirname "$0")" && pwd) || exit 2
W=$(mktemp -d) || exit 2
trap 'rm -rf "$W"' EXIT
failed=0
fail() { printf '%s\n' "$*" >&2; failed=1; }
# show FILE: the first bytes of FILE, double-quoted with \n, \t, \" and \\ escapes.
show() {
  head -c PREVIEW -- "$1" > "$W/.show"
  q=$(sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' "$W/.show" | awk 'BEGIN { ORS = "" } { gsub(/\t/, "\\t"); if (NR > 1) print "\\n"; print }')
  [ -s "$W/.show" ] && [ -z "$(tail -c 1 "$W/.show")" ] && q="$q\\n"
  more=; [ "$(wc -c < "$1")" -gt PREVIEW ] && more=...
  printf '"%s"%s' "$q" "$more"
}
# has FILE DATAFILE: FILE's whole text contains DATAFILE's text (for strings with newlines).
has() {
  t=$(cat -- "$1"; echo .); t=${t%.}
  p=$(cat -- "$2"; echo .); p=${p%.}
  case "$t" in *"$p"*) return 0 ;; esac
  return 1
}
# nbytes FILE: FILE's size in bytes.
nbytes() { wc -c < "$1" | tr -d ' '; }
""".replace("PREVIEW", str(_PREVIEW))


class _Script:
    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self.files: dict[str, str] = {}

    def data(self, fname: str, text: str) -> str:
        """Store `text` as a data file next to the script; returns its path as the script names it."""
        self.files[fname] = text
        return f'"$D/{fname}"'

    def fail(self, what: str, *, shell_tail: str = "") -> str:
        """A `fail` call printing `test "<name>": <what>`; `shell_tail` is appended unquoted (shell words)."""
        msg = squote(f"test {json.dumps(self.name, ensure_ascii=False)}: {what}")
        return f"fail {msg}{shell_tail}"

    def checks(self, check: CheckOutput, target: str, label: str, key: str, indent: str = "") -> None:
        """Lines checking the content of the file at shell word `target`; messages start with `label`."""
        add = lambda line: self.lines.append(indent + line)  # noqa: E731
        if check.equals:
            exp = self.data(f"{key}.equals", check.equals)
            add(f"cmp -s -- {target} {exp} || "
                + self.fail(f"{label}: does not equal {_q(check.equals)}", shell_tail=f'" (got $(show {target}))"'))
        for n, s in enumerate(check.contains or ()):
            if not s:
                continue  # every text contains the empty string
            if "\n" in s:
                test = f"has {target} {self.data(f'{key}.contains{n}', s)}"
            else:
                test = f"grep -qF -e {squote(s)} -- {target}"
            add(f"{test} || " + self.fail(f"{label}: does not contain {_q(s)}"))
        for s in check.matches or ():
            add(f"grep -qE -e {squote(s)} -- {target} || " + self.fail(f"{label}: does not match {_q(s)}"))
        if check.starts_with:
            exp = self.data(f"{key}.starts_with", check.starts_with)
            add(f"head -c {len(check.starts_with.encode())} -- {target} | cmp -s - {exp} || "
                + self.fail(f"{label}: does not start with {_q(check.starts_with)}",
                            shell_tail=f'" (got $(show {target}))"'))
        if check.ends_with:
            exp = self.data(f"{key}.ends_with", check.ends_with)
            add(f"tail -c {len(check.ends_with.encode())} -- {target} | cmp -s - {exp} || "
                + self.fail(f"{label}: does not end with {_q(check.ends_with)}",
                            shell_tail=f'" (got $(show {target}))"'))
        if check.empty:
            add(f"[ ! -s {target} ] || "
                + self.fail(f"{label}: is not empty", shell_tail=f'" (got $(nbytes {target}) bytes: $(show {target}))"'))

    def file_checks(self, path: str, check: FileCheckOutput, key: str) -> None:
        p = squote(path)
        label = f"file {path}"
        # Metadata checks follow a symlink unless `no_follow` (then they look at the link itself), as Dalec's
        # runner stats or lstats; content checks always follow it.
        exists = f"[ -e {p} ] || [ -L {p} ]" if check.no_follow else f"[ -e {p} ]"
        is_dir = f"[ -d {p} ] && [ ! -L {p} ]" if check.no_follow else f"[ -d {p} ]"
        if check.link_target:
            want = check.link_target
            self.lines.append(
                f"if [ ! -L {p} ]; then " + self.fail(f"{label}: is not a symbolic link, want link target {_q(want)}")
                + f"; elif [ \"$(readlink -- {p})\" != {squote(want)} ]; then "
                + self.fail(f"{label}: link target is ", shell_tail=f'"\\"$(readlink -- {p})\\""' + squote(f", want {_q(want)}"))
                + "; fi"
            )
        if check.not_exist:
            self.lines.append(f"if {exists}; then " + self.fail(f"{label}: exists, want it not to exist") + "; fi")
            return
        self.lines.append(f"if ! {{ {exists}; }}; then")
        self.lines.append("  " + self.fail(f"{label}: does not exist"))
        self.lines.append("else")
        if check.permissions is not None:
            # stat %a prints the mode in octal, special bits (setuid...) as a 4th digit. A wanted mode without
            # special bits is compared with the permission bits only, as Go's FileMode.Perm() is.
            want = check.permissions
            follow = "" if check.no_follow else "-L "
            self.lines.append(f"  a=$(stat {follow}-c %a -- {p}); a=$(printf '%04d' \"$a\")")
            if want > 0o777:
                got, exp = "${a#0}", oct(want)[2:]
            else:
                got, exp = "${a#?}", oct(want)[2:].zfill(3)
            self.lines.append(
                f'  [ "{got}" = {exp} ] || '
                + self.fail(f"{label}: permissions are 0", shell_tail=f'"{got}"' + squote(f", want 0{exp}"))
            )
        if check.is_dir:
            self.lines.append(f"  {{ {is_dir}; }} || " + self.fail(f"{label}: is not a directory"))
        has_content = any((check.equals, check.contains, check.matches, check.starts_with, check.ends_with, check.empty))
        if not check.is_dir:
            self.lines.append(f"  if {is_dir}; then " + self.fail(f"{label}: is a directory, want a file") + "; else")
            if has_content:
                self.checks(check, p, label, key, indent="    ")
            self.lines.append("  :; fi")
        self.lines.append("fi")


def script_files(test: TestSpec, name: str | None = None) -> dict[str, str]:
    """The generated script (`test.sh`) and its data files for one test, keyed by file name."""
    name = name if name is not None else test.name
    s = _Script(name)
    s.lines.append(f"# test {json.dumps(name, ensure_ascii=False)}")
    if test.dir:
        d = squote(test.dir)
        s.lines.append(f"mkdir -p -- {d} && cd -- {d} || {{ {s.fail(f'cannot enter dir {test.dir}')}; exit 1; }}")
    for i, step in enumerate(test.steps or ()):
        label = f"step {i}"
        stdin = s.data(f"s{i}.stdin", step.stdin) if step.stdin else "/dev/null"
        out, err = f'"$W/s{i}.stdout"', f'"$W/s{i}.stderr"'
        s.lines.append(f"# {label}")
        s.lines.append("(")
        # The test's env, then the step's, in the step's subshell only: the checks keep the script's own env.
        # Values are data, as Dalec passes them to the process environment: no `$` expansion here.
        for k, v in [*sorted((test.env or {}).items()), *sorted((step.env or {}).items())]:
            s.lines.append(f"  export {k}={squote(v)}")
        s.lines.append(f"  exec /bin/sh -c {squote(step.command)}")
        s.lines.append(f") < {stdin} > {out} 2> {err}")
        s.lines.append("rc=$?")
        s.lines.append(f'[ "$rc" -eq 0 ] || '
                       + s.fail(f"{label}: exited with status ", shell_tail=f'"$rc (stderr: $(show {err}))"'))
        for stream, path in (("stdout", out), ("stderr", err)):
            check = getattr(step, stream)
            if check is not None:
                s.checks(check, path, f"{label} {stream}", f"s{i}.{stream}")
    for n, (path, check) in enumerate(sorted((test.files or {}).items())):
        s.file_checks(path, check or FileCheckOutput(), f"f{n}")
    s.lines.append("exit $failed")
    files = dict(s.files)
    files[SCRIPT_NAME] = _PRELUDE + "\n".join(s.lines) + "\n"
    return files


__all__ = ["SKIP_TESTS_ARG", "parse_bool", "skip_tests", "compile_tests", "script_files"]

