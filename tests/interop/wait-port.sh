#!/usr/bin/env bash
# wait-port.sh HOST PORT TIMEOUT_SECS [PID]
# Wait until HOST:PORT serves: "srvr" shows a "Mode:" line. ZooKeeper answers "ruok"
# with "imok" before it has loaded its data and while it still refuses sessions, so
# ruok alone let a first request race the start (seen under load).  Fails early if
# PID (when given) dies.
HOST="$1"; PORT="$2"; T="${3:-30}"; PID="${4:-}"
deadline=$(( $(date +%s) + T ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  if [ -n "$PID" ] && ! kill -0 "$PID" 2>/dev/null; then
    echo "wait-port: process $PID exited" >&2; exit 1
  fi
  reply="$( { exec 3<>"/dev/tcp/$HOST/$PORT" && printf 'srvr' >&3 &&
              timeout 2 cat <&3; } 2>/dev/null || true)"
  case "$reply" in *"Mode: "*) exit 0 ;; esac
  sleep 0.2
done
echo "wait-port: $HOST:$PORT not serving (srvr shows no Mode) after ${T}s" >&2
exit 1
