#!/usr/bin/env bash
# Stop whichever e2e docker engine runs (A and/or B), using the pid files dockerd itself writes.
#   scripts/e2e/stop.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
need_root

any=0
if pid_alive "$A_PIDFILE"; then any=1; stop_pidfile "engine A dockerd" "$A_PIDFILE"; fi
if pid_alive "$B_PIDFILE"; then any=1; stop_pidfile "engine B dockerd" "$B_PIDFILE"; fi
if pid_alive "$E2E_RUN/buildkit-proxy.pid"; then stop_pidfile "buildkit proxy" "$E2E_RUN/buildkit-proxy.pid" 10; fi
[ "$any" = 1 ] || log "no e2e engine running"
rm -f "$ENGINE_ENV"
