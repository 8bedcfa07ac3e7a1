#!/usr/bin/env bash
# Quotas, compared with Apache ZooKeeper 3.8: one command sequence (build a tree,
# setquota on it, listquota, writes under it, a server restart, nested-quota refusals,
# delquota, the CLI's error cases, config) run one command per client process against
# a fresh server, recorded as a transcript (each command, its stdout, its stderr
# without the connection lines and SLF4J noise, its exit status; zxids and times
# dropped from Stat output, with "mZxid == cZxid" kept to show whether a node's Stat
# moved), and compared with tests/interop/quota-expected.txt, which is that
# transcript as Debian's zkCli.sh prints it against ZooKeeper 3.8.
#
#   quota.sh SERVER      SERVER = zk (Apache ZooKeeper 3.8) or a ringkeeper binary
#
# Clients: zkCli.sh always; `ringkeeper cli` too when a ringkeeper binary is at hand
# (SERVER itself, or $RINGKEEPER_CLI, or target/release/ringkeeper in zk mode).
# Every client/server pair must print the expected transcript exactly; the diff is
# shown otherwise. QUOTA_WRITE_EXPECTED=1 (zk mode) rewrites the expected file from
# zkCli against ZooKeeper. Transcripts go to $INTEROP_OUT/quota/. RINGKEEPER_PROPS
# ("key=value ...") is passed to a ringkeeper server as -D, as run-all.sh does.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SERVER="${1:?usage: quota.sh zk|/path/to/ringkeeper}"
ZKCLI="${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
EXPECTED="$HERE/quota-expected.txt"
OUT="${INTEROP_OUT:-$ROOT/target/interop/quota-$$}/quota"
rm -rf "$OUT"; mkdir -p "$OUT"
export CLIENT_JVMFLAGS="${CLIENT_JVMFLAGS:--Xmx128m -XX:TieredStopAtLevel=1}"
[ -x "$ZKCLI" ] || { echo "FAIL quota: $ZKCLI not found (apt-get install zookeeper)" >&2; exit 1; }

if [ "$SERVER" = zk ]; then
  RK_CLI="${RINGKEEPER_CLI:-$ROOT/target/release/ringkeeper}"
else
  [ -x "$SERVER" ] || { echo "FAIL quota: $SERVER is not an executable" >&2; exit 1; }
  SERVER="$(cd "$(dirname "$SERVER")" && pwd)/$(basename "$SERVER")"
  RK_CLI="${RINGKEEPER_CLI:-$SERVER}"
fi

# The sequence. "@restart" stops the server and starts it again on the same data.
SEQUENCE=(
  "create /app a1"
  "create /app/a 12345"
  "create /app/b xyz"
  "create /app/b/c 1234567890"
  "setquota -n 10 /app"
  "listquota /app"
  "get /zookeeper/quota/app/zookeeper_stats"
  "stat /zookeeper/quota/app/zookeeper_stats"
  "get /zookeeper/quota/app/zookeeper_limits"
  "create /app/d 12"
  "create -s /app/s- seq"
  "set /app/a 1"
  "delete /app/b/c"
  "listquota /app"
  "stat /zookeeper/quota/app/zookeeper_stats"
  "setquota -n 2 /app"
  "setquota -B 5 /app"
  "listquota /app"
  "create /app/big 0123456789"
  "listquota /app"
  "@restart"
  "listquota /app"
  "delete /app/big"
  "listquota /app"
  "setquota -n 3 /app/b"
  "create /other o"
  "create /other/x 1"
  "create /other/x/y 22"
  "setquota -b 100 /other/x"
  "setquota -n 5 /other"
  "create /other/x/z 333"
  "listquota /other/x"
  "delquota -n /app"
  "listquota /app"
  "delquota -B /app"
  "listquota /app"
  "delquota /app"
  "listquota /app"
  "delquota /app"
  "ls /zookeeper/quota"
  "ls /zookeeper/quota/other"
  "create /app/after 1"
  "setquota -N 7 /app"
  "listquota /app"
  "listquota /nope"
  "listquota app"
  "delquota app"
  "setquota -n 3 /nope"
  "setquota -n 0 /other"
  "setquota -b -1 /other"
  "setquota -n x /other"
  "setquota -n 99999999999 /other"
  "setquota /other"
  "setquota -n 1 -b 2 /other"
  "setquota /other -n"
  "setquota -n 3 /zookeeper/quota/x"
  "setquota -n 3 /"
  "setquota -n 5 /app/"
  "setquota -n 5"
  "delquota -n -b /other/x"
  "delquota -nb /other/x"
  "listquota -x /app"
  "listquota"
  "delquota"
  "config"
  "config -c"
  "config -s"
)

PORT=""; SRV_DIR=""
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

server_start() { # server_start DIR (PORT set)
  if [ "$SERVER" = zk ]; then
    "$HERE/start-zk.sh" "$PORT" "$1" >/dev/null
  else
    mkdir -p "$1/data"
    cat >"$1/zoo.cfg" <<CFG
tickTime=2000
dataDir=$1/data
clientPort=$PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
CFG
    local dargs=() p
    for p in ${RINGKEEPER_PROPS:-}; do dargs+=(-D "$p"); done
    "$SERVER" server --config "$1/zoo.cfg" "${dargs[@]}" >>"$1/server.log" 2>&1 </dev/null &
    echo $! >"$1/zk.pid"
    "$HERE/wait-port.sh" 127.0.0.1 "$PORT" 30 "$(cat "$1/zk.pid")" || {
      tail -n 30 "$1/server.log" >&2; return 1; }
  fi
}
server_stop() { "$HERE/stop-zk.sh" "$1" >/dev/null 2>&1 || true; }
trap '[ -n "$SRV_DIR" ] && server_stop "$SRV_DIR"' EXIT

# One command with one client: prints its transcript block.
run_one() { # run_one CLIENT CMD...
  local client="$1"; shift
  local o="$OUT/cmd.out" e="$OUT/cmd.err" rc=0
  if [ "$client" = zkcli ]; then
    "$ZKCLI" -server "127.0.0.1:$PORT" "$@" >"$o" 2>"$e" </dev/null || rc=$?
    # zkCli prints "Connecting to", then from its event thread "\nWATCHER::\n" and the
    # SyncConnected event on stdout; the main thread's answer may come before, between
    # or after those (a fast server answers before the event is printed), so exactly
    # those lines are dropped, once each, wherever they are.
    python3 - "$o" <<'PY'
import sys
path = sys.argv[1]
lines = open(path).read().split("\n")
out, seen = [], set()
i = 0
while i < len(lines):
    l = lines[i]
    if "connecting" not in seen and l.startswith("Connecting to "):
        seen.add("connecting")
    elif "watcher" not in seen and lines[i : i + 3] == ["", "WATCHER::", ""]:
        # One println("\nWATCHER::\n").
        seen.add("watcher")
        i += 2
    elif "event" not in seen and l == "WatchedEvent state:SyncConnected type:None path:null":
        seen.add("event")
    else:
        out.append(l)
    i += 1
open(path, "w").write("\n".join(out))
PY
  else
    "$RK_CLI" cli -server "127.0.0.1:$PORT" "$@" >"$o" 2>"$e" </dev/null || rc=$?
  fi
  echo "\$ $*"
  awk '
    /^(cZxid|mZxid) = / { z[$1] = $3; if ($1 == "mZxid") print (z["mZxid"] == z["cZxid"] ? "mZxid == cZxid" : "mZxid != cZxid"); next }
    /^(pZxid = |ctime = |mtime = )/ { next }
    { print "out: " $0 }' "$o"
  grep -Ev '^(SLF4J:|log4j:|Connecting to |WATCHER::$|WatchedEvent state:SyncConnected type:None|$)' "$e" |
    sed 's/^/err: /' || true
  echo "exit: $rc"
}

run_sequence() { # run_sequence CLIENT > transcript
  local client="$1" line
  SRV_DIR="$OUT/server-$client"; PORT="$(free_port)"
  server_start "$SRV_DIR"
  for line in "${SEQUENCE[@]}"; do
    if [ "$line" = @restart ]; then
      echo "@restart"
      server_stop "$SRV_DIR"; server_start "$SRV_DIR"
      continue
    fi
    # shellcheck disable=SC2086 # the words of the command, on purpose
    run_one "$client" $line
  done
  server_stop "$SRV_DIR"; SRV_DIR=""
}

MODE=ringkeeper; [ "$SERVER" = zk ] && MODE=zk
clients=(zkcli)
[ -x "$RK_CLI" ] && clients+=(ringkeeper-cli)
failed=0
for client in "${clients[@]}"; do
  t="$OUT/$client-on-$MODE.txt"
  t0=$(date +%s)
  run_sequence "$client" >"$t"
  if [ "$MODE" = zk ] && [ "$client" = zkcli ] && [ "${QUOTA_WRITE_EXPECTED:-0}" = 1 ]; then
    cp "$t" "$EXPECTED"; echo "quota: wrote $EXPECTED"
  fi
  if diff -u "$EXPECTED" "$t" >"$t.diff"; then
    echo "  ok: $client against $MODE prints what zkCli prints against ZooKeeper 3.8 ($(( $(date +%s) - t0 ))s, ${#SEQUENCE[@]} steps)"
  else
    echo "FAIL quota: $client against $MODE differs from $EXPECTED:" >&2
    cat "$t.diff" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] && echo "PASS quota ($MODE: ${clients[*]})"
exit "$failed"
