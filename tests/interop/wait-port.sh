#!/usr/bin/env bash
# wait-port.sh HOST PORT TIMEOUT_SECS [PID]
# Wait until HOST:PORT accepts TCP connections and answers the "ruok"
# four-letter word with "imok".  Fails early if PID (when given) dies.
HOST="$1"; PORT="$2"; T="${3:-30}"; PID="${4:-}"
deadline=$(( $(date +%s) + T ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  if [ -n "$PID" ] && ! kill -0 "$PID" 2>/dev/null; then
    echo "wait-port: process $PID exited" >&2; exit 1
  fi
  reply="$( { exec 3<>"/dev/tcp/$HOST/$PORT" && printf 'ruok' >&3 &&
              timeout 2 cat <&3; } 2>/dev/null || true)"
  [ "$reply" = imok ] && exit 0
  sleep 0.2
done
echo "wait-port: $HOST:$PORT not answering ruok=imok after ${T}s" >&2
exit 1
