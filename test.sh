#!/usr/bin/env bash
# Runs every check ringkeeper has, installing what they need first (Debian 12, root):
# formatting, lints, unit and integration tests, then interop with real ZooKeeper
# clients (kazoo's own test suite, the C client cli_mt, zkCli.sh).
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }

step "installing test dependencies"
bash tests/interop/install-deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (workspace: ringkeeper, tests/faults/lossyfs, tests/faults/harness)"
cargo clippy --workspace --all-targets --release -- -D warnings

step "building the release binary"
cargo build --release --bins

step "the README's server command: embedded default config, a write and a read"
# On a free port (--port), so a service already on 2181 is neither disturbed nor hit;
# its AdminServer (127.0.0.1:8080 by default) likewise on a free port (0: logged).
smoke="$(mktemp -d)"
smoke_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
( cd "$smoke" && exec "$OLDPWD/target/release/ringkeeper" server --port "$smoke_port" -D admin.serverPort=0 ) >"$smoke/server.log" 2>&1 &
smoke_pid=$!
ok=0
for _ in $(seq 1 100); do
  if target/release/ringkeeper cli -server "127.0.0.1:$smoke_port" create /readme-smoke written >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.1
done
got="$(target/release/ringkeeper cli -server "127.0.0.1:$smoke_port" get /readme-smoke 2>/dev/null || true)"
kill "$smoke_pid" 2>/dev/null || true
wait "$smoke_pid" 2>/dev/null || true
if [ "$ok" != 1 ] || [ "$got" != written ]; then
  echo "the embedded-default server did not take a write (got: $got); its log:"; cat "$smoke/server.log"; exit 1
fi
rm -rf "$smoke"

# The workspace: lossyfs's own tests too. tests/power_loss.rs and lossyfs's mount
# tests need root and /dev/fuse (as this script runs); without them they fail.
step "cargo test (unit + integration, workspace)"
cargo test --release --workspace --all-targets

# Issue 13: real servers in network namespaces, CAS registers, a grow-only set, a FIFO
# queue, sessions holding ephemerals and a lock recipe under SIGKILL+restart, SIGSTOP
# pauses (shorter and longer than the session timeout), nftables partitions, a
# delaying/slowing/stalling TCP proxy, a full log disk, torn log tails and a corrupted
# mid-log record (the start must be refused); each workload checked (tests/faults/README.md).
# The seed is random unless RINGKEEPER_FAULTS_SEED is set; a failure prints it.
step "faults: 45 s of register/set/queue/ephemeral/lock load on standalone ringkeeper under kill/pause/partition/link/disk/torn/corrupt, checked"
cargo build --release -p ringkeeper-faults
# `cargo test` left target/release/ringkeeper linked to its own build, whose library
# has the tests' `zab-canary` feature; link the release build back (no compiling).
cargo build --release --bins
faults_seed=()
if [ -n "${RINGKEEPER_FAULTS_SEED:-}" ]; then faults_seed=(--seed "$RINGKEEPER_FAULTS_SEED"); fi
target/release/ringkeeper-faults run --target ringkeeper --duration-s 45 \
  --nemesis kill,pause,partition,link,disk,torn,corrupt "${faults_seed[@]}"

# The same load on a 3-server ringkeeper ensemble (each member in its own namespace):
# kills of a member, of the leader and of every member; pauses of a member or the
# leader (shorter than syncLimit x tickTime, up to the session timeout, longer);
# partitions (client/member, a member or the leader off its peers, halves, one way
# between members); after healing every member's tree must be the same.
step "faults: 30 s of the same load on a 3-server ringkeeper ensemble under kill/pause/partition, checked"
target/release/ringkeeper-faults run --target ringkeeper --servers 3 --duration-s 30 \
  --nemesis kill,pause,partition "${faults_seed[@]}"

# A mixed ensemble (issue 15): two ringkeeper members and one Apache ZooKeeper 3.8 member
# (myid 2) under partitions (client/member, a member or the leader off its peers,
# halves, one way); the same checkers, then every member's tree dump and `hash` digests
# must agree (a ZooKeeper member that replayed a log holding some zxids twice is
# compared after that stretch: tests/faults/RESULTS.md, finding B). The same under
# kills is a documented command, not run here: it fails about 1 run in 20 on
# ZooKeeper's own behaviour (a `sync` + read answered by a ZooKeeper leader can miss a
# write a follower already acknowledged; RESULTS.md, "Mixed kills in CI"), and a CI
# step that fails on the reference's known anomaly would be a flaky step.
# A ZooKeeper leader's SNAP can hold txns after the zxid it announces (it writes SNAP
# from its live tree); a ringkeeper follower logs and compares no digest until it has
# re-applied past them (docs/zab.md, the txn digest), so its `hash` agrees (this step
# was quarantined on 12-05 until then: RESULTS.md).
step "faults: 25 s of the same load on a mixed ensemble (rk,zk,rk) under partitions, checked, trees and digests compared"
target/release/ringkeeper-faults run --members rk,zk,rk --duration-s 25 \
  --nemesis partition "${faults_seed[@]}"

# The canary of the whole pipeline: two standalone servers that share nothing, posing
# as one ensemble (workers spread over both). The checker must reject the history,
# and the members' trees must differ both by dump and by `hash` digest.
step "faults canary: independent standalones must fail the linearizability and digest checks"
target/release/ringkeeper-faults run --target ringkeeper --servers 2 --independent \
  --nemesis --duration-s 5 --expect-violation --expect-divergence

# The disk nemeses' canary: a server whose recovery throws its log away. Starting on
# a corrupted log is a finding, and acknowledged writes go missing.
step "faults canary: a server that drops its log must fail the torn/corrupt checks"
target/release/ringkeeper-faults run --target ringkeeper --duration-s 10 --nemesis torn,corrupt \
  --server-cmd "$PWD/tests/faults/wipe-log-then.sh {dir} $PWD/target/release/ringkeeper server {cfg}" \
  --expect-violation

step "interop: cli_mt, zkCli.sh, kazoo test suite (default layout: one session core, quorum task beside it)"
RINGKEEPER_BIN="$PWD/target/release/ringkeeper" bash tests/interop/run-all.sh

# Two session cores and a quorum core of its own: writes cross threads, connections
# of one client land on different cores, and watches fire from the committed stream.
step "interop again with cores=2 and a dedicated quorum core"
RINGKEEPER_BIN="$PWD/target/release/ringkeeper" INTEROP_SKIP_INSTALL=1 \
  RINGKEEPER_PROPS="cores=2 quorumCore=dedicated" \
  INTEROP_OUT="$PWD/target/interop/run-ringkeeper-cores2" \
  KAZOO_OUT="$PWD/target/interop/kazoo-cores2" \
  bash tests/interop/run-all.sh

# kazoo's multi-server tests, its harness running a three-member ringkeeper ensemble:
# clients moving between members, and read-only mode when two members are down.
step "kazoo's multi-server tests against a 3-member ringkeeper ensemble"
KAZOO_CLUSTER_SIZE=3 KAZOO_OUT="$PWD/target/interop/kazoo-ensemble" \
  KAZOO_TESTS="kazoo/tests/test_connection.py::TestReadOnlyMode kazoo/tests/test_client.py::TestClient::test_update_host_list kazoo/tests/test_gevent_handler.py::TestGeventClient::test_update_host_list kazoo/tests/test_eventlet_handler.py::TestEventletClient::test_update_host_list" \
  bash tests/interop/kazoo.sh "$PWD/target/release/ringkeeper"

# Issue 15: an operator's rolling replacement. A 3-server Apache ZooKeeper 3.8 ensemble
# under six kazoo clients (writes, data and child watches, an ephemeral each) and three
# Java clients (watches carried by setWatches) gets each member replaced by ringkeeper
# on its own zoo.cfg and myid with an empty data dir, the leader last, then each
# replaced back by ZooKeeper; acknowledged writes, equal trees, sessions, ephemerals
# (also of clients killed before the leadership moves), watch order and zxids checked
# (tests/rolling/README.md).
step "rolling replacement: ZooKeeper 3.8 ensemble -> ringkeeper -> ZooKeeper, member by member under kazoo load, checked"
INTEROP_SKIP_INSTALL=1 bash tests/rolling/run.sh "$PWD/target/release/ringkeeper" --out "$PWD/target/rolling"

step "ZooKeeper 3.9.3 (its release jars from PyPI's pyspark 4.0.1 sdist): the mixed election and ensemble tests and the rolling replacement again"
zk39="$(bash tests/interop/zk39-jars.sh)"
ZK_JAVA_LIB="$zk39" cargo test --release --test ensemble_java --test election_java
ZK_JAVA_LIB="$zk39" INTEROP_SKIP_INSTALL=1 bash tests/rolling/run.sh "$PWD/target/release/ringkeeper" \
  --out "$PWD/target/rolling-zk39"
step "the Debian package: build, dpkg -i, start as the systemd unit does (READY=1), purge"
bash tests/package.sh

echo
echo "all checks passed"
