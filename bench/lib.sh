# bench/lib.sh: starting, probing and stopping the two servers, sourced by
# bench/compare and bench/snapshot-latency (not run on its own).
#
# The sourcing script sets PROG (prefix of messages), HERE (bench/), INTEROP
# (tests/interop), RK (the ringkeeper binary), DIR (working directory), PORT,
# TICK and ZK_FLAGS (JVM flags for ZooKeeper, see zk_flags), and calls
# `trap stop_current EXIT INT TERM`. One server runs at a time: its pid and kind
# (zk|rk) are in CURRENT_PID and CURRENT_KIND.
# shellcheck shell=bash
CURRENT_PID="" CURRENT_KIND=""

# ZooKeeper's JVM flags for ZNODES znodes and SNAP_COUNT: heap 512 MiB plus 1 KiB
# per znode (a 100-byte znode costs it some 400-600 bytes of heap; the rest is
# headroom for the young generation), snapCount, fsync on.
zk_flags() { # ZNODES SNAP_COUNT
  echo "-Xmx$(( 512 + $1 / 1024 ))m -Dzookeeper.snapCount=$2 -Dzookeeper.forceSync=yes"
}

stop_current() {
  [ -n "$CURRENT_PID" ] || return 0
  if [ "$CURRENT_KIND" = zk ]; then
    "$INTEROP/stop-zk.sh" "$DIR/zk" >&2 || true
  else
    kill -TERM "$CURRENT_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$CURRENT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CURRENT_PID" 2>/dev/null || true
  fi
  CURRENT_PID=""
}

# ZooKeeper in $DIR/zk (dataDir $DIR/zk/data) with $ZK_FLAGS: `fresh` in an empty
# directory, `keep` on the data of the previous run.
start_zk() { # fresh|keep
  if [ "$1" != keep ]; then rm -rf "$DIR/zk"; fi
  mkdir -p "$DIR/zk"
  JAVA="$HERE/zk-java" RK_ZK_JVM_FLAGS="$ZK_FLAGS" "$INTEROP/start-zk.sh" "$PORT" "$DIR/zk" >&2
  CURRENT_PID="$(cat "$DIR/zk/zk.pid")" CURRENT_KIND=zk
}

# ringkeeper in $DIR/rk (dataDir $DIR/rk/data, log $DIR/rk/server.log) with the
# given snapCount and the lines of $RK_EXTRA_CFG: `fresh` in an empty directory, `keep` on the data of the
# previous run.
start_rk() { # SNAP_COUNT fresh|keep
  if [ "$2" != keep ]; then rm -rf "$DIR/rk"; fi
  mkdir -p "$DIR/rk/data"
  cat >"$DIR/rk/zoo.cfg" <<CFG
tickTime=$TICK
initLimit=10
syncLimit=5
dataDir=$DIR/rk/data
clientPort=$PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
snapCount=$1
forceSync=yes
4lw.commands.whitelist=*
admin.enableServer=false
CFG
  # Extra zoo.cfg lines for ringkeeper (`compare --rk-cfg`), one per ';'.
  if [ -n "${RK_EXTRA_CFG:-}" ]; then tr ';' '\n' <<<"$RK_EXTRA_CFG" >>"$DIR/rk/zoo.cfg"; fi
  setsid "$RK" server --config "$DIR/rk/zoo.cfg" >>"$DIR/rk/server.log" 2>&1 </dev/null &
  CURRENT_PID=$! CURRENT_KIND=rk
  "$INTEROP/wait-port.sh" 127.0.0.1 "$PORT" "${RK_START_TIMEOUT:-30}" "$CURRENT_PID" || {
    tail -n 20 "$DIR/rk/server.log" >&2; exit 1; }
}

# A four-letter word's reply ("" when the server does not answer).
four_letter() { # WORD
  { exec 3<>"/dev/tcp/127.0.0.1/$PORT" && printf '%s' "$1" >&3 &&
    timeout 2 cat <&3; } 2>/dev/null || true
}

# ZooKeeper answers ruok before it serves sessions ("ZooKeeper Server not running"):
# wait until srvr shows a Zxid.
wait_serving() { # TIMEOUT_SECS
  local t="$1" deadline reply
  deadline=$(( $(date +%s) + t ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    reply="$(four_letter srvr)"
    case "$reply" in *Zxid*) return 0 ;; esac
    sleep 0.05
  done
  echo "$PROG: 127.0.0.1:$PORT not serving after $t s" >&2; exit 1
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# The value of the first of these mntr keys that the server reports (0 for none).
mntr_value() { # KEY...
  four_letter mntr | awk -F'\t' -v keys="$*" '
    BEGIN { n = split(keys, k, " "); for (i = 1; i <= n; i++) want[k[i]] = 1 }
    ($1 in want) && !found { print $2; found = 1 }
    END { if (!found) print 0 }'
}

# The server's count of log fsyncs so far (0 when it does not report one).
fsync_count() { mntr_value zk_cnt_fsynctime zk_fsync_count; }
