#!/usr/bin/env bash
# Compare the LLB of Dalec's own frontend with dalecpy's, spec by spec and target by target (tests/parity):
#
#   scripts/parity.sh SPEC_OR_DIR... --target bookworm/deb [--target azlinux3/rpm ...] [--platform linux/arm64]
#                     [--build-arg K=V ...]
#
# Prints one line per (spec, target), one line per difference (DIFF: unexplained, OPEN: reported and not fixed
# yet), Dalec's facts for targets dalecpy does not route (DALEC lines), the deliberate differences seen with
# their README lines, and `parity: N/M (spec, target) pairs match`. Exit 0: no difference but deliberate ones;
# 1: differences; 3: Dalec's frontend is not available here (scripts/dalec-frontend.sh says why).
# Paths are taken relative to the current directory; uses the repository's .venv (made if missing).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${DALECPY_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q --disable-pip-version-check -e "$here[test]"
fi
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "$venv/bin/python" -m tests.parity "$@"
