"""Build-arg substitution (Dalec ``SubstituteArgs``) with a BuildKit-style word lexer.

The lexer follows BuildKit's dockerfile ``shell.Lex`` (escape ``\\``) in
``ProcessWordWithMatches`` mode with ``SkipUnsetEnv``: quotes are removed,
``$VAR`` / ``${VAR}`` / ``${VAR:-x}`` / ``${VAR:+x}`` / ``${VAR#p}`` / ``${VAR%p}``
/ ``${VAR/p/r}`` are expanded, and unset variables are left literally and
reported as unmatched.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from dalecpy.platforms import Platform

from .yamlsrc import surrogate_error

PLATFORM_ARGS = frozenset(
    {"TARGETOS", "TARGETARCH", "TARGETPLATFORM", "TARGETVARIANT", "BUILDOS", "BUILDARCH", "BUILDPLATFORM", "BUILDVARIANT"}
)

#: Args that need no declaration in ``args:`` (Dalec ``knownArg``; any ``DALEC_SYSEXT_*`` too).
KNOWN_ARGS = frozenset(
    {
        "BUILDKIT_SYNTAX",
        "BUILDKIT_CACHE_MOUNT_NS",
        "DALEC_DISABLE_DIFF_MERGE",
        "DALEC_DISABLE_PASSTHROUGH",
        "DALEC_DISABLE_SYMLINK",
        "DALEC_DISABLE_PROXY_CONFIG",
        "DALEC_SKIP_SIGNING",
        "DALEC_SIGNING_CONFIG_CONTEXT_NAME",
        "DALEC_SIGNING_CONFIG_PATH",
        "DALEC_SKIP_TESTS",
        "DALEC_SOURCE_FILTER_CONFIG_PATH",
        "DALEC_SOURCE_FILTER_CONFIG_CONTEXT_NAME",
        "DALEC_GOMOD_PROXY",
        "DALEC_TARGET",
    }
    | PLATFORM_ARGS
)


def is_known_arg(key: str) -> bool:
    return key in KNOWN_ARGS or key.startswith("DALEC_SYSEXT_")


class LexError(Exception):
    pass


@dataclass
class WordResult:
    result: str
    unmatched: list[str] = field(default_factory=list)


def _is_name_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_")


class _Word:
    def __init__(self, text: str, env: Mapping[str, str]):
        self.s = text
        self.i = 0
        self.env = env
        self.unmatched: list[str] = []

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> str:
        c = self.peek()
        self.i += 1
        return c

    def get(self, name: str) -> str | None:
        v = self.env.get(name)
        if v is None and name not in self.unmatched:
            self.unmatched.append(name)
        return v

    def process(self, stops: str = "") -> str:
        out: list[str] = []
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if stops and c in stops:
                break
            if c == "'":
                self.i += 1
                end = s.find("'", self.i)
                if end < 0:
                    raise LexError("unexpected end of statement while looking for matching single-quote")
                out.append(s[self.i:end])
                self.i = end + 1
            elif c == '"':
                self.i += 1
                out.append(self.double_quote())
            elif c == "$":
                self.i += 1
                out.append(self.dollar())
            elif c == "\\":
                self.i += 1
                if self.i < len(s):
                    out.append(s[self.i])
                    self.i += 1
            else:
                out.append(c)
                self.i += 1
        return "".join(out)

    def double_quote(self) -> str:
        out: list[str] = []
        s = self.s
        while True:
            if self.i >= len(s):
                raise LexError("unexpected end of statement while looking for matching double-quote")
            c = s[self.i]
            if c == '"':
                self.i += 1
                return "".join(out)
            if c == "$":
                self.i += 1
                out.append(self.dollar())
                continue
            if c == "\\":
                nxt = s[self.i + 1] if self.i + 1 < len(s) else ""
                if nxt == "":
                    self.i += 1
                    continue
                if nxt in '"$\\':
                    out.append(nxt)
                    self.i += 2
                    continue
            out.append(c)
            self.i += 1

    def name(self) -> str:
        start = self.i
        s = self.s
        if self.i < len(s) and s[self.i].isdigit():
            self.i += 1
            return s[start:self.i]
        while self.i < len(s) and _is_name_char(s[self.i]):
            self.i += 1
        return s[start:self.i]

    def dollar(self) -> str:
        start = self.i - 1
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            v = self.get(name)
            return "$" + name if v is None else v
        self.i += 1  # {
        name = self.name()
        if not name:
            raise LexError("bad substitution")
        c = self.next()
        if c == "}":
            v = self.get(name)
            return "${" + name + "}" if v is None else v
        colon = False
        if c == ":":
            colon = True
            c = self.next()
        if c in ("-", "+", "?"):
            word = self.process("}")
            if self.next() != "}":
                raise LexError("syntax error: missing '}'")
            v = self.get(name)
            unset = v is None or (colon and v == "")
            if c == "-":
                return word if unset else v
            if c == "+":
                return "" if unset else word
            if unset:
                if v is None:
                    return self.s[start:self.i]  # skip unset: keep literal
                raise LexError(f"{name}: {word or 'is not allowed to be unset'}")
            return v
        if colon:
            raise LexError(f"unsupported modifier (:{c}) in substitution")
        if c in ("#", "%"):
            longest = self.peek() == c
            if longest:
                self.i += 1
            pattern = self.process("}")
            if self.next() != "}":
                raise LexError("syntax error: missing '}'")
            v = self.get(name)
            if v is None:
                return self.s[start:self.i]
            return _trim(v, pattern, prefix=(c == "#"), longest=longest)
        if c == "/":
            all_ = self.peek() == "/"
            if all_:
                self.i += 1
            pattern = self.process("/}")
            repl = ""
            if self.peek() == "/":
                self.i += 1
                repl = self.process("}")
            if self.next() != "}":
                raise LexError("syntax error: missing '}'")
            v = self.get(name)
            if v is None:
                return self.s[start:self.i]
            return _replace(v, pattern, repl, all_)
        if c == "":
            raise LexError("syntax error: missing '}'")
        raise LexError(f"unsupported modifier ({c}) in substitution")


def _trim(v: str, pattern: str, *, prefix: bool, longest: bool) -> str:
    n = len(v)
    rng = range(n, -1, -1) if longest else range(0, n + 1)
    for k in rng:
        part = v[:k] if prefix else v[n - k:]
        if fnmatch.fnmatchcase(part, pattern):
            return v[k:] if prefix else v[: n - k]
    return v


def _replace(v: str, pattern: str, repl: str, all_: bool) -> str:
    if not pattern:
        return v
    out: list[str] = []
    i = 0
    while i < len(v):
        for j in range(len(v), i, -1):
            if fnmatch.fnmatchcase(v[i:j], pattern):
                out.append(repl)
                i = j
                if not all_:
                    return "".join(out) + v[i:]
                break
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def process_word(text: str, env: Mapping[str, str]) -> WordResult:
    """Expand one word; raises LexError on a syntax error."""
    if "$" not in text and "'" not in text and '"' not in text and "\\" not in text:
        return WordResult(text)
    w = _Word(text, env)
    res = w.process()
    return WordResult(res, w.unmatched)


class Expander:
    """Expands fields of a spec, collecting errors as (path, message)."""

    def __init__(self, args: Mapping[str, str], allow_arg: Callable[[str], bool]):
        self.args = args
        self.allow_arg = allow_arg
        self.errors: list[tuple[tuple, str]] = []

    def expand(self, value: str, path: tuple) -> str:
        try:
            r = process_word(value, self.args)
        except LexError as e:
            self.errors.append((path, f"error performing variable expansion: {e}"))
            return value
        for m in r.unmatched:
            if not is_known_arg(m) and not self.allow_arg(m):
                self.errors.append((path, f'error performing variable expansion: build arg "{m}" not declared'))
                continue
            if m in PLATFORM_ARGS:
                self.errors.append((path, f'error performing variable expansion: opt-in arg "{m}" not present in args'))
        return r.result

    def map(self, d: dict[str, str], path: tuple) -> None:
        for k, v in d.items():
            d[k] = self.expand(v, path + (k,))

    def list(self, items: list[str], path: tuple) -> None:
        for i, v in enumerate(items):
            items[i] = self.expand(v, path + (i,))


def platform_args(prefix: str, p: Platform) -> dict[str, str]:
    return {
        prefix + "OS": p.os,
        prefix + "ARCH": p.architecture,
        prefix + "VARIANT": p.variant,
        prefix + "PLATFORM": p.format(),
    }


def build_arg_env(
    declared: Mapping[str, str | None],
    build_args: Mapping[str, str],
    *,
    target_key: str,
    target_platform: Platform,
    build_platform: Platform,
    allow_any_arg: bool,
) -> tuple[dict[str, str], list[str]]:
    """Combine declared args, client args and platform/target values.

    Returns (args, errors). Client args apply only to declared args
    (``unknown arg: "K"`` otherwise, unless known or allowed);
    ``SOURCE_DATE_EPOCH`` always passes through.
    """
    args: dict[str, str] = {k: ("" if v is None else v) for k, v in declared.items()}
    errors: list[str] = []
    env: dict[str, str] = dict(build_args)
    env.update(platform_args("TARGET", target_platform))
    env.update(platform_args("BUILD", build_platform))
    env["DALEC_TARGET"] = target_key
    client_keys = set(build_args)
    for k in sorted(build_args):
        bad = surrogate_error(k) or surrogate_error(build_args[k])
        if bad:  # e.g. non-UTF-8 bytes in a command-line argument (Python decodes them to lone surrogates)
            errors.append(f"build arg {k!r}: {bad}")
    if errors:
        return args, errors
    for k in sorted(env):
        v = env[k]
        if k == "SOURCE_DATE_EPOCH":
            args[k] = v
            continue
        if k not in args:
            if k in client_keys and not is_known_arg(k) and not allow_any_arg:
                errors.append(f'unknown arg: "{k}"')
            continue
        args[k] = v
    return args, errors


def iter_versions(deps: Mapping, path: tuple) -> Iterable[tuple[list[str], tuple]]:
    for name, c in deps.items():
        yield c.version, path + (name, "version")
