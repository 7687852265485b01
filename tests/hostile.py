"""Hostile specs shared by the CLI and frontend tests: each must give one positioned line, never a traceback.

(spec text, target, expected `LINE:COL: ` + message start)."""

from __future__ import annotations

_HEAD = "name: hostile\nversion: '1.0'\nrevision: '1'\nbuild:\n  steps: [{command: 'true'}]\n"

HOSTILE_SPECS: list[tuple[str, str, str, str]] = [
    # (id, spec, target, expected position and message start)
    ("huge-int", _HEAD + "x-a: " + "9" * 5000 + "\n", "bookworm/deb", "6:6: integer literal is too long"),
    ("huge-hex", _HEAD + "x-a: 0x" + "f" * 5000 + "\n", "bookworm/deb", "6:6: integer literal is too long"),
    (
        "uid-over-uint32",
        _HEAD + "sources:\n  s: {inline: {file: {uid: 4294967296}}}\n",
        "bookworm/deb",
        "7:28: invalid source s: inline file source validation failed: uid 4294967296 must be at most 4294967295",
    ),
    (
        "gid-negative",
        _HEAD + "sources:\n  s: {inline: {dir: {gid: -5}}}\n",
        "bookworm/deb",
        "7:27: invalid source s: gid -5 must be non-negative",
    ),
    ("surrogate-value", _HEAD + 'description: "\\ud800"\n', "bookworm/deb", "6:14: invalid Unicode: lone surrogate \\ud800"),
    ("surrogate-key", _HEAD + '"\\udfff": 1\n', "bookworm/deb", "6:1: invalid Unicode: lone surrogate \\udfff"),
    ("entrypoint-quote", _HEAD + "image: {entrypoint: \"a 'b\"}\n", "bookworm/container", "6:21: image: entrypoint: cannot split"),
    ("cmd-backslash", _HEAD + 'image: {cmd: "run \\\\"}\n', "bookworm/container", "6:14: image: cmd: cannot split"),
    (
        "env-name",
        _HEAD.replace("  steps:", "  env: {'K;touch /tmp/pwn;X': v}\n  steps:"),
        "bookworm/deb",
        '5:9: build: env: invalid environment variable name "K;touch /tmp/pwn;X"',
    ),
    (
        "version-newline",
        _HEAD.replace("version: '1.0'", 'version: "1.0\\nEssential: yes"'),
        "bookworm/deb",
        '2:10: version: "1.0\\nEssential: yes" is not a Debian version',
    ),
    (
        "relation-injection",
        _HEAD + "dependencies:\n  runtime:\n    a: {version: ['>=1),evil(>=0']}\n",
        "bookworm/deb",
        '8:19: dependency a: invalid version constraint ">=1),evil(>=0"',
    ),
    ("control-chars-in-key", _HEAD + '"a\\nb\\u001b[0m": 1\n', "bookworm/deb", '6:1: unknown field "a\\nb\\x1b[0m"'),
    (
        "link-escape",
        _HEAD + "artifacts:\n  links: [{source: /bin/sh, dest: ../../etc/x}]\n",
        "bookworm/deb",
        '7:35: artifacts: link 0: dest "../../etc/x" must not contain ".."',
    ),
]
