#!/usr/bin/env bash
# Stop a server started by start-zk.sh (or run-all.sh): SIGTERM the pid in
# DIR/zk.pid, wait up to 20 s, then SIGKILL.   usage: stop-zk.sh DIR
set -euo pipefail
DIR="${1:?usage: stop-zk.sh DIR}"
[ -f "$DIR/zk.pid" ] || { echo "stop-zk: no $DIR/zk.pid" >&2; exit 0; }
pid="$(cat "$DIR/zk.pid")"
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop-zk: pid $pid ignored SIGTERM for 20s, killing" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
fi
rm -f "$DIR/zk.pid"
echo "stop-zk: stopped pid $pid"
