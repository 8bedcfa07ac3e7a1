#!/usr/bin/env bash
# Stand-in for the ringkeeper binary, used only to validate the harness
# (shim/java, kazoo.sh, run-all.sh) before ringkeeper runs:
#   fake-ringkeeper.sh server --config ZOO_CFG
# execs Apache ZooKeeper 3.8 (real java, not the shim) on that zoo.cfg,
# re-applying the system properties the shim exported.
set -euo pipefail
[ "${1:-}" = server ] && [ "${2:-}" = --config ] && [ -n "${3:-}" ] || {
  echo "usage: $0 server --config ZOO_CFG" >&2; exit 2; }
J=/usr/share/java
CP="$J/zookeeper.jar:$J/netty-codec.jar:$J/netty-resolver.jar:$J/netty-transport-native-unix-common.jar:$J/servlet-api.jar:$J/slf4j-log4j12.jar:$J/log4j-1.2.jar"
props=()
while IFS= read -r l; do [ -n "$l" ] && props+=("-D$l"); done <<<"${RINGKEEPER_SYSTEM_PROPERTIES:-}"
cfgdir="$(dirname "$3")"
if [ "${#props[@]}" = 0 ]; then   # started by run-all.sh: log next to the config
  printf 'log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.FileAppender\nlog4j.appender.F.File=%s/zookeeper.log\nlog4j.appender.F.layout=org.apache.log4j.PatternLayout\nlog4j.appender.F.layout.ConversionPattern=%%d %%-5p %%m%%n\n' "$cfgdir" >"$cfgdir/log4j.fake.properties"
  props=("-Dlog4j.configuration=file:$cfgdir/log4j.fake.properties")
fi
exec "${INTEROP_REAL_JAVA:-/usr/bin/java}" -cp "$CP" -Xmx256m "${props[@]}" \
  org.apache.zookeeper.server.quorum.QuorumPeerMain "$3"
