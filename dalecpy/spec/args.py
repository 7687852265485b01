"""Build-arg substitution (Dalec ``SubstituteArgs``) with a BuildKit-style word lexer.

The lexer follows BuildKit's dockerfile ``shell.Lex`` (escape ``\\``) in
``ProcessWordWithMatches`` mode with ``SkipUnsetEnv``: quotes are removed,
``$VAR`` / ``${VAR}`` / ``${VAR:-x}`` / ``${VAR:+x}`` / ``${VAR#p}`` / ``${VAR%p}``
/ ``${VAR/p/r}`` are expanded, and unset variables are left literally and
reported as unmatched.
"""

from __future__ import annotations

import fnmatch
import re
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


#: Characters of build-arg values that substituting one spec may produce: `${A}` repeated in a 4 MiB spec
#: would otherwise multiply a long value into gigabytes.
MAX_EXPANSION = 16 * 1024 * 1024
#: Characters of values that pattern operations (`${A#p}`, `${A%p}`, `${A/p/r}`) may scan in one spec:
#: they cost a few microseconds a character, so this keeps the worst spec well under a second.
MAX_PATTERN_SCAN = 128 * 1024


class Budget:
    """What is left of MAX_EXPANSION and MAX_PATTERN_SCAN, shared by every word of one spec."""

    def __init__(self) -> None:
        self.left = MAX_EXPANSION
        self.scan_left = MAX_PATTERN_SCAN

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise LexError(f"build-arg values substituted into the spec exceed {MAX_EXPANSION} characters")

    def scan(self, n: int) -> None:
        self.scan_left -= n
        if self.scan_left < 0:
            self.left = -1  # stop expanding: reported once
            raise LexError(
                f"pattern operations (${{VAR#...}}, ${{VAR%...}}, ${{VAR/...}}) scan more than {MAX_PATTERN_SCAN} "
                "characters of build-arg values"
            )


class _Word:
    def __init__(self, text: str, env: Mapping[str, str], budget: Budget | None = None):
        self.s = text
        self.i = 0
        self.env = env
        self.unmatched: list[str] = []
        self.budget = budget or Budget()

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> str:
        c = self.peek()
        self.i += 1
        return c

    def get(self, name: str) -> str | None:
        v = self.env.get(name)
        if v is None:
            if name not in self.unmatched:
                self.unmatched.append(name)
        else:
            self.budget.spend(len(v))
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
            self.budget.scan(len(v))
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
            self.budget.scan(len(v))
            return _replace(v, pattern, repl, all_)
        if c == "":
            raise LexError("syntax error: missing '}'")
        raise LexError(f"unsupported modifier ({c}) in substitution")


class _Glob:
    """A shell pattern (`*`, `?`, `[...]`, as fnmatch reads them) run as an NFA over a value: finding every
    prefix that matches, or the leftmost-longest match, costs O(len(value) x len(pattern)), where matching
    each slice with fnmatch cost O(n^2) for a trim and O(n^3) for a replace (seconds for a 4,000-character
    build arg, hours for a long one)."""

    _STAR = None

    def __init__(self, pattern: str, reverse: bool = False) -> None:
        tokens: list = []
        i, n = 0, len(pattern)
        while i < n:
            c = pattern[i]
            i += 1
            if c == "*":
                if not tokens or tokens[-1] is not self._STAR:
                    tokens.append(self._STAR)
            elif c == "?":
                tokens.append(lambda ch: True)
            elif c == "[":
                j = i
                if j < n and pattern[j] == "!":
                    j += 1
                if j < n and pattern[j] == "]":
                    j += 1
                j = pattern.find("]", j)
                if j < 0:
                    tokens.append("[".__eq__)
                else:
                    match = re.compile(fnmatch.translate(pattern[i - 1 : j + 1])).match
                    tokens.append(lambda ch, m=match: m(ch) is not None)
                    i = j + 1
            else:
                tokens.append(c.__eq__)
        self.tokens = tokens[::-1] if reverse else tokens

    def _close(self, states: set[int]) -> set[int]:
        tokens, last = self.tokens, len(self.tokens)
        for j in sorted(states):
            while j < last and tokens[j] is self._STAR:
                j += 1
                states.add(j)
        return states

    def _step(self, states, ch: str):
        tokens, last = self.tokens, len(self.tokens)
        out = set()
        for j in states:
            if j < last:
                t = tokens[j]
                if t is self._STAR:
                    out.add(j)
                elif t(ch):
                    out.add(j + 1)
        return self._close(out)

    def prefix_ends(self, v: str, *, shortest: bool):
        """Lengths k with v[:k] matching, in increasing order (only the first if `shortest`)."""
        accept = len(self.tokens)
        states = self._close({0})
        if accept in states:
            yield 0
            if shortest:
                return
        for k, ch in enumerate(v, 1):
            states = self._step(states, ch)
            if not states:
                return
            if accept in states:
                yield k
                if shortest:
                    return

    def leftmost_longest(self, v: str, start: int) -> tuple[int, int] | None:
        """(i, j) of the first non-empty match at or after `start`, longest at that i; None if none."""
        accept = len(self.tokens)
        threads: dict[int, int] = {}  # NFA state -> the smallest start of a thread in it
        best: tuple[int, int] | None = None
        for p in range(start, len(v)):
            if best is None:
                for j in self._close({0}):
                    threads.setdefault(j, p)
            ch, nxt = v[p], {}
            for j, s in threads.items():
                for k in self._step({j}, ch):
                    if k not in nxt or s < nxt[k]:
                        nxt[k] = s
            if best is not None:
                nxt = {k: s for k, s in nxt.items() if s == best[0]}
            threads = nxt
            s = threads.get(accept)
            if s is not None and (best is None or s < best[0] or (s == best[0] and p + 1 > best[1])):
                best = (s, p + 1)
                threads = {k: t for k, t in threads.items() if t == s}
            if best is not None and not threads:
                break
        return best


def _trim(v: str, pattern: str, *, prefix: bool, longest: bool) -> str:
    glob = _Glob(pattern, reverse=not prefix)
    ends = list(glob.prefix_ends(v if prefix else v[::-1], shortest=not longest))
    if not ends:
        return v
    k = ends[-1]
    return v[k:] if prefix else v[: len(v) - k]


def _replace(v: str, pattern: str, repl: str, all_: bool) -> str:
    if not pattern:
        return v
    glob = _Glob(pattern)
    out: list[str] = []
    i = 0
    while i < len(v):
        m = glob.leftmost_longest(v, i)
        if m is None:
            break
        out.append(v[i : m[0]])
        out.append(repl)
        i = m[1]
        if not all_:
            break
    out.append(v[i:])
    return "".join(out)


def process_word(text: str, env: Mapping[str, str], budget: Budget | None = None) -> WordResult:
    """Expand one word; raises LexError on a syntax error or when `budget` runs out."""
    if "$" not in text and "'" not in text and '"' not in text and "\\" not in text:
        return WordResult(text)
    w = _Word(text, env, budget)
    res = w.process()
    return WordResult(res, w.unmatched)


class Expander:
    """Expands fields of a spec, collecting errors as (path, message)."""

    def __init__(self, args: Mapping[str, str], allow_arg: Callable[[str], bool]):
        self.args = args
        self.allow_arg = allow_arg
        self.errors: list[tuple[tuple, str]] = []
        self.budget = Budget()

    def expand(self, value: str, path: tuple) -> str:
        if self.budget.left < 0:
            return value  # reported once, where it ran out
        try:
            r = process_word(value, self.args, self.budget)
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
