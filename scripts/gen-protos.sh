#!/usr/bin/env bash
# Regenerate the committed *_pb2.py (and *_pb2_grpc.py for protos that declare a service)
# for every .proto under dalecpy/. Run from anywhere; needs grpcio-tools (pip install -e .[dev]).
#
# The repo root is the include path, so `import "dalecpy/llb/ops.proto";` works across protos
# and the modules import as dalecpy.llb.ops_pb2 etc.
#
# Generated code checks the protobuf runtime version: it needs a runtime at least as new as the
# protoc that grpcio-tools bundles (and of the same major). pyproject's `protobuf>=` floor must
# match the "Protobuf Python Version" line this prints.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
if [ -x /work/venv/bin/python ] && [ -z "${PYTHON:-}" ]; then PY=/work/venv/bin/python; fi

mapfile -t protos < <(find dalecpy -name '*.proto' | sort)
[ "${#protos[@]}" -gt 0 ] || { echo "no .proto files under dalecpy/" >&2; exit 1; }

plain=() grpc=()
for p in "${protos[@]}"; do
  if grep -Eq '^[[:space:]]*service[[:space:]]' "$p"; then grpc+=("$p"); else plain+=("$p"); fi
done

if [ "${#plain[@]}" -gt 0 ]; then
  "$PY" -m grpc_tools.protoc -I . --python_out=. --pyi_out=. "${plain[@]}"
fi
if [ "${#grpc[@]}" -gt 0 ]; then
  "$PY" -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. "${grpc[@]}"
fi
"$PY" -m grpc_tools.protoc --version
grep -h '^# Protobuf Python Version' $(printf '%s\n' "${protos[@]}" | sed 's/\.proto$/_pb2.py/') | sort -u
