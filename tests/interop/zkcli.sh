#!/usr/bin/env bash
# Scripted interactive session with Apache ZooKeeper's Java CLI
# (/usr/share/zookeeper/bin/zkCli.sh -server HOST:PORT, fed through a FIFO)
# checking the printed results.   usage: zkcli.sh HOST:PORT
# Covers: create (persistent/ephemeral/sequential/ephemeral-sequential, with
# data, NodeExists), get -s / get -w, set (-v version, BadVersion), ls / ls -s
# / ls -w, stat, getAcl/setAcl (world -> digest), addauth digest, NoAuth,
# whoami, sync, delete (NoNode, NotEmpty), getEphemerals,
# getAllChildrenNumber, addWatch -m PERSISTENT_RECURSIVE, data/child/recursive
# watches firing, ephemerals gone after the session closes, deleteall.
# zkCli 3.8 has no multi command; multi is covered by the kazoo suite.
set -euo pipefail
HOSTPORT="${1:?usage: zkcli.sh HOST:PORT}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ZKCLI="${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
OUTDIR="${INTEROP_OUT:-$(mktemp -d)}"; mkdir -p "$OUTDIR"
SESS_NAME=zkCli
. "$HERE/lib-session.sh"
[ -x "$ZKCLI" ] || { echo "FAIL zkCli: $ZKCLI not found (apt-get install zookeeper)" >&2; exit 1; }
export CLIENT_JVMFLAGS="${CLIENT_JVMFLAGS:--Xmx128m -XX:TieredStopAtLevel=1}"

P="/interop-zkcli-$$-$RANDOM"
U1="$(digest_id u1:p1)"
U1_RE="$(printf '%s' "$U1" | sed 's/[][\\.*^$+?(){}|/]/\\&/g')"
echo "zkcli.sh: $HOSTPORT, test root $P, logs in $OUTDIR"
W="WatchedEvent state:SyncConnected"

sess_start "$OUTDIR/zkcli-1.log" "$ZKCLI" -server "$HOSTPORT"
STEP=connect
expect "$W type:None path:null" 60
ok connected

STEP="create persistent with data"
send "create $P"; expect "^Created $P$"
send "create $P/p data1"; expect "^Created $P/p$"
send "create $P/p again"; expect "Node already exists: $P/p"
ok "$STEP (+NodeExists)"

STEP="get -s"
send "get -s $P/p"
expect "^data1$"; expect "^dataVersion = 0$"; expect "^dataLength = 5$"; expect "^numChildren = 0$"
ok "$STEP"

STEP="get -w + set fires NodeDataChanged"
send "get -w $P/p"; expect "^data1$"
send "set $P/p data2"
expect "$W type:NodeDataChanged path:$P/p$"
ok "$STEP"

STEP="set -v (conditional)"
send "set -s -v 1 $P/p data3"; expect "^dataVersion = 2$"
send "set -v 1 $P/p nope"; expect "version No is not valid : $P/p"
ok "$STEP (+BadVersion)"

STEP="ephemeral"
send "create -e $P/e"; expect "^Created $P/e$"
send "stat $P/e"; expect "^ephemeralOwner = 0x[0-9a-f]*[1-9a-f][0-9a-f]*$"
ok "$STEP"

STEP="sequential"
send "create -s $P/s- x"; expect "^Created $P/s-[0-9]{10}$"
S1="$(tail -c +$((SESS_MARK + 1)) "$SESS_LOG" | grep -Eo "$P/s-[0-9]{10}" | head -1)"
send "create -s $P/s- y"; expect "^Created $P/s-[0-9]{10}$"
S2="$(tail -c +$((SESS_MARK + 1)) "$SESS_LOG" | grep -Eo "$P/s-[0-9]{10}" | head -1)"
[ $((10#${S2##*-})) -gt $((10#${S1##*-})) ] || fail "sequence numbers not increasing: $S1 then $S2"
send "create -e -s $P/es-"; expect "^Created $P/es-[0-9]{10}$"
ok "$STEP ($S1 < $S2, ephemeral-sequential)"

STEP="ls / ls -s"
send "ls $P"; expect "^\[e, es-[0-9]{10}, p, ${S1##*/}, ${S2##*/}\]$"
send "ls -s $P"; expect "^numChildren = 5$"
ok "$STEP"

STEP="getEphemerals / getAllChildrenNumber"
send "getEphemerals $P"; expect "^\[($P/e, $P/es-[0-9]{10}|$P/es-[0-9]{10}, $P/e)\]$"
send "getAllChildrenNumber $P"; expect "^5$"
ok "$STEP"

STEP="ls -w + create fires NodeChildrenChanged"
send "ls -w $P"; expect "^\[e, "
send "create $P/c"
expect "$W type:NodeChildrenChanged path:$P$"
ok "$STEP"

STEP="addWatch PERSISTENT_RECURSIVE"
send "addWatch -m PERSISTENT_RECURSIVE $P/c"
send "create $P/c/x1"; expect "$W type:NodeCreated path:$P/c/x1$"
send "set $P/c/x1 v"; expect "$W type:NodeDataChanged path:$P/c/x1$"
send "delete $P/c/x1"; expect "$W type:NodeDeleted path:$P/c/x1$"
ok "$STEP"

STEP="stat"
send "stat $P/p"; expect "^dataVersion = 2$"; expect "^dataLength = 5$"; expect "^aclVersion = 0$"
ok "$STEP"

STEP="getAcl (world)"
send "getAcl $P/p"; expect "^'world,'anyone$"; expect "^: cdrwa$"
ok "$STEP"

STEP="setAcl digest + NoAuth"
send "setAcl $P/p digest:$U1:cdrwa"
send "get $P/p"; expect "Insufficient permission : $P/p"
# since 3.6 getAcl needs READ or ADMIN too
send "getAcl $P/p"; expect "Insufficient permission : $P/p"
ok "$STEP"

STEP="addauth digest"
send "addauth digest u1:p1"
send "get $P/p"; expect "^data3$"
send "getAcl $P/p"; expect "^'digest,'$U1_RE$"; expect "^: cdrwa$"
send "stat $P/p"; expect "^aclVersion = 1$"
ok "$STEP"

STEP="whoami"
send "whoami"; expect "^digest: u1$"
ok "$STEP"

STEP="sync"
send "sync $P"; expect "Sync is OK"
ok "$STEP"

STEP="delete"
send "delete $P/p"
send "get $P/p"; expect "Node does not exist: $P/p"
send "delete $P"; expect "Node not empty: $P"
send "delete -v 7 $P/c"; expect "version No is not valid : $P/c"
ok "$STEP (+NoNode, NotEmpty, BadVersion)"

send "quit"
sess_stop

SESS_NAME=zkCli-2
sess_start "$OUTDIR/zkcli-2.log" "$ZKCLI" -server "$HOSTPORT"
STEP="session 2: ephemerals gone"
expect "$W type:None path:null" 60
send "ls $P"; expect "^\[c, ${S1##*/}, ${S2##*/}\]$"
ok "$STEP"
STEP="deleteall"
send "deleteall $P"
send "stat $P"; expect "Node does not exist: $P"
ok "$STEP"
send "quit"
sess_stop
echo "PASS zkCli ($HOSTPORT)"
