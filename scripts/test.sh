#!/usr/bin/env bash
# The whole test suite, from a fresh machine: make a venv, install dalecpy with its test extras, run pytest.
# End-to-end tests (pytest -m e2e) run against a real BuildKit when scripts/e2e can provision one.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${DALECPY_VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -e ".[test]"
exec "$venv/bin/python" -m pytest "$@"
