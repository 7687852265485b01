#!/usr/bin/env bash
# The whole test suite, from a fresh machine: make a venv, install dalecpy with its test extras, run the unit
# tests (pytest -m "not e2e", with any arguments given here), then the end-to-end tests on real BuildKit
# engines (scripts/e2e/ci.sh: provisions engine B then engine A, ~needs root, apt-get and the Debian mirror).
# DALECPY_E2E=0 skips the end-to-end part; without root or apt-get it is skipped with a one-line reason.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${DALECPY_VENV:-.venv}"
export DALECPY_VENV="$venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -e ".[test]"

t0=$(date +%s)
rc=0
"$venv/bin/python" -m pytest -m "not e2e" "$@" || rc=$?
[ "$rc" -eq 5 ] && rc=0   # no tests collected (e.g. a -k that matches only e2e tests) is not a failure
echo "unit tests: exit $rc in $(( $(date +%s) - t0 ))s"

skip=""
if [ "${DALECPY_E2E:-1}" = 0 ]; then skip="DALECPY_E2E=0"
elif [ "$(id -u)" -ne 0 ]; then skip="not root"
elif ! command -v apt-get >/dev/null; then skip="no apt-get"
fi
if [ -n "$skip" ]; then
    echo "e2e tests skipped: $skip (scripts/e2e/ci.sh runs them as root on Debian)"
    exit "$rc"
fi
t1=$(date +%s)
erc=0
scripts/e2e/ci.sh || erc=$?
echo "e2e tests: exit $erc in $(( $(date +%s) - t1 ))s; whole suite $(( $(date +%s) - t0 ))s"
[ "$rc" -ne 0 ] && exit "$rc"
exit "$erc"
