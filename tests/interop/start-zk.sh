#!/usr/bin/env bash
# Start a standalone Apache ZooKeeper (Debian package, real java) for the
# interop scripts.   usage: start-zk.sh PORT DIR
# DIR gets zoo.cfg, data/, zk.log, zk.pid.  4lw whitelist is "*", the admin
# HTTP server is disabled (it would grab 8080).  Returns once "ruok" says imok.
# Stop it with stop-zk.sh DIR.
set -euo pipefail
PORT="${1:?usage: start-zk.sh PORT DIR}"
DIR="${2:?usage: start-zk.sh PORT DIR}"
WAIT="${ZK_START_TIMEOUT:-60}"
mkdir -p "$DIR/data"
DIR="$(cd "$DIR" && pwd)"
if [ -f "$DIR/zk.pid" ] && kill -0 "$(cat "$DIR/zk.pid")" 2>/dev/null; then
  echo "start-zk: already running (pid $(cat "$DIR/zk.pid"))" >&2; exit 1
fi
cat >"$DIR/zoo.cfg" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$DIR/data
clientPort=$PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
CFG
# ZK_EXTRA_CFG: more zoo.cfg lines from the caller (bench/tls-compare's TLS keys).
if [ -n "${ZK_EXTRA_CFG:-}" ]; then printf '%s\n' "$ZK_EXTRA_CFG" >>"$DIR/zoo.cfg"; fi
cat >"$DIR/log4j.properties" <<CFG
log4j.rootLogger=INFO, F
log4j.appender.F=org.apache.log4j.FileAppender
log4j.appender.F.File=$DIR/zk.log
log4j.appender.F.layout=org.apache.log4j.PatternLayout
log4j.appender.F.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
CFG
J=/usr/share/java
CP="$J/zookeeper.jar:$J/netty-codec.jar:$J/netty-resolver.jar:$J/netty-transport-native-unix-common.jar:$J/slf4j-log4j12.jar:$J/log4j-1.2.jar"
JAVA="${JAVA:-java}"
# ZK_JVM_FLAGS: extra flags from the caller (word-split on purpose), e.g.
# -Dzookeeper.extendedTypesEnabled=true.
# shellcheck disable=SC2086
nohup "$JAVA" -cp "$CP" -Xmx256m -Dfile.encoding=UTF-8 ${ZK_JVM_FLAGS:-} \
  "-Dlog4j.configuration=file:$DIR/log4j.properties" \
  -Dzookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU= \
  org.apache.zookeeper.server.quorum.QuorumPeerMain "$DIR/zoo.cfg" \
  >"$DIR/zk.out" 2>&1 </dev/null &
echo $! >"$DIR/zk.pid"
"$(dirname "$0")/wait-port.sh" 127.0.0.1 "$PORT" "$WAIT" "$(cat "$DIR/zk.pid")" || {
  echo "start-zk: ZooKeeper did not come up on 127.0.0.1:$PORT; last log lines:" >&2
  tail -n 20 "$DIR/zk.log" "$DIR/zk.out" >&2 2>/dev/null || true
  exit 1
}
echo "start-zk: ZooKeeper pid $(cat "$DIR/zk.pid") serving 127.0.0.1:$PORT (dir $DIR)"
