#!/usr/bin/env bash
# Rolling replacement of a live ZooKeeper 3.8 ensemble by ringkeeper and back, under a
# kazoo load (tests/rolling/README.md). Usage:
#   tests/rolling/run.sh [path/to/ringkeeper] [--zk-only] [--out DIR] [...rolling.py flags]
# Needs what tests/interop/install-deps.sh installs (Debian's zookeeper, java, the venv
# with kazoo's sdist); runs it first unless INTEROP_SKIP_INSTALL=1.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
INTEROP_CACHE="${INTEROP_CACHE:-$ROOT/target/interop}"
KAZOO_DIR="$INTEROP_CACHE/kazoo-${KAZOO_VERSION:-2.11.0}"
BIN="$ROOT/target/release/ringkeeper"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then BIN="$1"; shift; fi
if [ "${INTEROP_SKIP_INSTALL:-0}" != 1 ]; then bash "$ROOT/tests/interop/install-deps.sh" >/dev/null; fi
[ -x "$BIN" ] || { echo "run.sh: $BIN is not an executable ringkeeper (cargo build --release)" >&2; exit 2; }
PYTHONPATH="$KAZOO_DIR" exec "$INTEROP_CACHE/venv/bin/python" "$HERE/rolling.py" --ringkeeper "$BIN" "$@"
