#!/usr/bin/env bash
# Interop suite: C client (cli_mt), Java CLI (zkCli.sh) and kazoo's test-suite
# against one server implementation.
#
#   RINGKEEPER_BIN=target/release/ringkeeper tests/interop/run-all.sh
#   RINGKEEPER_BIN=zk tests/interop/run-all.sh     # validate against Apache ZooKeeper 3.8
#   (the binary may also be given as $1)
#
# Steps: install-deps.sh; start the server standalone with a temp zoo.cfg
# (clientPort = free port on 127.0.0.1, dataDir in a temp dir,
# 4lw.commands.whitelist=*) and wait for ruok=imok; cli_mt.sh; zkcli.sh; the
# live-server tests of ringkeeper's client, cli and bench (`cargo test -- --ignored`);
# stop it; quota.sh and kazoo.sh (which start/stop their own servers).
# Env: INTEROP_SKIP_INSTALL=1, INTEROP_SKIP_KAZOO=1, INTEROP_SKIP_CLI=1,
#      INTEROP_OUT (default target/interop/run-<mode>), plus kazoo.sh's knobs;
#      RINGKEEPER_PROPS="key=value ..." gives every ringkeeper server these settings
#      (as -D), e.g. "cores=2 quorumCore=dedicated" to test the multi-core layout.
# Prints one PASS/FAIL line per part; exits non-zero if any part failed.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${1:-${RINGKEEPER_BIN:-}}"
if [ -z "$BIN" ]; then
  echo "usage: RINGKEEPER_BIN=/path/to/ringkeeper|zk $0" >&2; exit 2
fi
if [ "$BIN" = zk ]; then MODE=zk; else
  MODE=ringkeeper
  [ -x "$BIN" ] || { echo "run-all: RINGKEEPER_BIN=$BIN is not an executable" >&2; exit 2; }
  BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
fi
OUT="${INTEROP_OUT:-$ROOT/target/interop/run-$MODE}"
rm -rf "$OUT"; mkdir -p "$OUT"
export INTEROP_OUT="$OUT"
declare -a RESULTS=()
failed=0
record() { # record NAME RC SECONDS
  if [ "$2" = 0 ]; then RESULTS+=("PASS $1 (${3}s)"); else RESULTS+=("FAIL $1 (${3}s, exit $2)"); failed=1; fi
  echo "${RESULTS[-1]}"
}
run_part() { # run_part NAME CMD...
  local name="$1"; shift
  local t0=$(date +%s) rc=0
  echo "=== $name: $*"
  "$@" || rc=$?
  record "$name" "$rc" $(( $(date +%s) - t0 ))
}

if [ "${INTEROP_SKIP_INSTALL:-0}" != 1 ]; then
  run_part install-deps "$HERE/install-deps.sh"
  [ "$failed" = 0 ] || { echo "FAIL interop: dependencies could not be installed"; exit 1; }
fi

SRV_DIR="$OUT/server"
stop_server() { [ -f "$SRV_DIR/zk.pid" ] && "$HERE/stop-zk.sh" "$SRV_DIR" >/dev/null 2>&1 || true; }
trap stop_server EXIT

if [ "${INTEROP_SKIP_CLI:-0}" != 1 ]; then
  PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  t0=$(date +%s); rc=0
  echo "=== start $MODE server on 127.0.0.1:$PORT (dir $SRV_DIR)"
  if [ "$MODE" = zk ]; then
    ZK_JVM_FLAGS=-Dzookeeper.extendedTypesEnabled=true "$HERE/start-zk.sh" "$PORT" "$SRV_DIR" || rc=$?
  else
    mkdir -p "$SRV_DIR/data"
    cat >"$SRV_DIR/zoo.cfg" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$SRV_DIR/data
clientPort=$PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
extendedTypesEnabled=true
CFG
    DARGS=()
    for p in ${RINGKEEPER_PROPS:-}; do DARGS+=(-D "$p"); done
    "$BIN" server --config "$SRV_DIR/zoo.cfg" "${DARGS[@]}" >"$SRV_DIR/server.log" 2>&1 </dev/null &
    echo $! >"$SRV_DIR/zk.pid"
    "$HERE/wait-port.sh" 127.0.0.1 "$PORT" "${SERVER_START_TIMEOUT:-30}" "$(cat "$SRV_DIR/zk.pid")" || {
      rc=$?; echo "run-all: ringkeeper did not come up; last lines of $SRV_DIR/server.log:"; tail -n 30 "$SRV_DIR/server.log"; }
  fi
  record "start-server-$MODE" "$rc" $(( $(date +%s) - t0 ))
  if [ "$rc" = 0 ]; then
    run_part "cli_mt-$MODE" "$HERE/cli_mt.sh" "127.0.0.1:$PORT"
    run_part "zkcli-$MODE" "$HERE/zkcli.sh" "127.0.0.1:$PORT"
    # ringkeeper's own client, shell and load generator against this live server
    # (their `#[ignore]` tests; TTL nodes need extendedTypesEnabled, set above).
    # Output kept in $OUT too: a failure here names the test only in this log.
    run_part "rust-client-$MODE" bash -c 'set -o pipefail; env RINGKEEPER_TEST_ADDR="$1" \
      cargo test --manifest-path "$2" --release --lib --bins -- --ignored 2>&1 | tee "$3"' _ \
      "127.0.0.1:$PORT" "$ROOT/Cargo.toml" "$OUT/rust-client.log"
    t0=$(date +%s); rc=0
    if ! kill -0 "$(cat "$SRV_DIR/zk.pid")" 2>/dev/null; then
      echo "run-all: server died during the CLI tests"; rc=1
    fi
    "$HERE/stop-zk.sh" "$SRV_DIR" || rc=$?
    record "stop-server-$MODE" "$rc" $(( $(date +%s) - t0 ))
  fi
  # Quotas against ZooKeeper 3.8's transcript (starts and restarts its own servers).
  run_part "quota-$MODE" "$HERE/quota.sh" "$BIN"
fi

if [ "${INTEROP_SKIP_KAZOO:-0}" != 1 ]; then
  export KAZOO_OUT="${KAZOO_OUT:-$OUT/kazoo}"
  run_part "kazoo-$MODE" "$HERE/kazoo.sh" "$BIN"
fi

echo "=== interop summary ($MODE)"
printf '%s\n' "${RESULTS[@]}" | tee "$OUT/summary.txt"
if [ "$failed" = 0 ]; then echo "PASS interop ($MODE)"; else echo "FAIL interop ($MODE)"; exit 1; fi
