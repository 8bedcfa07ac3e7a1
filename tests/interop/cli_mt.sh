#!/usr/bin/env bash
# Scripted session with the ZooKeeper C client shell `cli_mt` (zookeeper-bin)
# against HOST:PORT, checking the printed results.   usage: cli_mt.sh HOST:PORT
# Covers: connect, create (persistent, ephemeral, sequential, ephemeral+
# sequential), get, set (+version), ls/ls2, exists/wexists, sync, delete
# (incl. NOTEMPTY / NONODE errors), data + child + exists watches firing,
# digest ACL (node created with a digest ACL via zkCli.sh because cli_mt has no
# setAcl: NOAUTH before, readable after `addauth digest`), ephemeral removal
# at session close (checked from a second session).
# cli_mt has no multi/getAcl/setAcl commands, so the same C library is then
# driven directly by c/capi_check.c (compiled here with gcc -lzookeeper_mt):
# multi (commit + atomic rollback with per-op results), setAcl/getAcl digest,
# NOAUTH, add_auth, exists watch, multi delete.
set -euo pipefail
HOSTPORT="${1:?usage: cli_mt.sh HOST:PORT}"
HERE="$(cd "$(dirname "$0")" && pwd)"
CLI_MT="${CLI_MT:-/usr/lib/zookeeper/bin/cli_mt}"
ZKCLI="${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
OUTDIR="${INTEROP_OUT:-$(mktemp -d)}"; mkdir -p "$OUTDIR"
SESS_NAME=cli_mt
. "$HERE/lib-session.sh"
[ -x "$CLI_MT" ] || { echo "FAIL cli_mt: $CLI_MT not found (apt-get install zookeeper-bin)" >&2; exit 1; }

P="/interop-climt-$$-$RANDOM"
echo "cli_mt.sh: $HOSTPORT, test root $P, logs in $OUTDIR"

# --- ACL fixture through zkCli (cli_mt cannot set ACLs) -------------------
STEP="zkCli fixture"
"$ZKCLI" -server "$HOSTPORT" create "$P" >"$OUTDIR/cli_mt-fixture.log" 2>&1 \
  || { cat "$OUTDIR/cli_mt-fixture.log" >&2; fail "zkCli create $P failed"; }
"$ZKCLI" -server "$HOSTPORT" create "$P/secret" s3cret "digest:$(digest_id u1:p1):cdrwa" \
  >>"$OUTDIR/cli_mt-fixture.log" 2>&1 || { cat "$OUTDIR/cli_mt-fixture.log" >&2; fail "zkCli create $P/secret failed"; }
grep -q "Created $P/secret" "$OUTDIR/cli_mt-fixture.log" || fail "zkCli did not create $P/secret"

# --- session 1 ------------------------------------------------------------
sess_start "$OUTDIR/cli_mt-1.log" "$CLI_MT" "$HOSTPORT"
STEP=connect
expect "Watcher SESSION_EVENT state = CONNECTED_STATE" 20
expect "Got a new session id: 0x[0-9a-f]+"
ok connected

STEP="create persistent"
send "create $P/node"
expect "^\[$P/node\]: rc = 0$"; expect "name = $P/node$"
ok "$STEP"

STEP="get (default data 'new', sets data watch)"
send "get $P/node"
expect "^$P/node: rc = 0$"; expect "value_len = 3$"; expect "^new$"; expect "version=0"
ok "$STEP"

STEP="set + data watch fires"
send "set $P/node hello"
expect "^$P/node: rc = 0 Stat:"; expect "version=1"
expect "Watcher CHANGED_EVENT state = CONNECTED_STATE for path $P/node$"
ok "$STEP"

STEP="get after set"
send "get $P/node"
expect "^hello$"; expect "version=1"
ok "$STEP"

STEP="ls (sets child watch)"
send "ls $P"
expect "^$P: rc = 0$"; expect "^[[:space:]]+node$"; expect "^[[:space:]]+secret$"
ok "$STEP"

STEP="create ephemeral + child watch fires"
send "create +e $P/eph"
expect "name = $P/eph$"
expect "Watcher CHILD_EVENT state = CONNECTED_STATE for path $P$"
ok "$STEP"

STEP="create sequential"
send "create +s $P/seq-"
expect "name = $P/seq-[0-9]{10}$"
SEQ1="$(tail -c +$((SESS_MARK + 1)) "$SESS_LOG" | grep -Eo "$P/seq-[0-9]{10}" | head -1)"
send "create +s $P/seq-"
expect "name = $P/seq-[0-9]{10}$"
SEQ2="$(tail -c +$((SESS_MARK + 1)) "$SESS_LOG" | grep -Eo "$P/seq-[0-9]{10}" | head -1)"
n1=$((10#${SEQ1##*-})); n2=$((10#${SEQ2##*-}))
[ "$n2" -gt "$n1" ] || fail "sequence numbers not increasing: $SEQ1 then $SEQ2"
ok "$STEP ($SEQ1 < $SEQ2)"

STEP="create ephemeral+sequential"
send "create +es $P/es-"
expect "name = $P/es-[0-9]{10}$"
ok "$STEP"

STEP="ls2"
send "ls2 $P"
expect "^$P: rc = 0$"; expect "^[[:space:]]+eph$"; expect "^[[:space:]]+${SEQ2##*/}$"
ok "$STEP"

STEP="exists"
# cli_mt's exists is synchronous and prints only errors: send an existing
# and a missing path; the second must report NONODE, the first nothing.
send "exists $P/node"
m0=$SESS_MARK
send "exists $P/nope"
expect "Error -101 for $P/nope$"
SESS_MARK=$m0; expect_not "Error -?[0-9]+ for $P/node$"
ok "$STEP"

STEP="wexists on missing node + created watch fires"
send "wexists $P/later"
expect "Error -101 for $P/later$"
send "create $P/later"
expect "name = $P/later$"
expect "Watcher CREATED_EVENT state = CONNECTED_STATE for path $P/later$"
ok "$STEP"

STEP="sync"
send "sync $P"
expect "^\[$P\]: rc = 0$"
ok "$STEP"

STEP="digest ACL: NOAUTH before addauth"
send "get $P/secret"
expect "^$P/secret: rc = -102$"
ok "$STEP"
STEP="digest ACL: readable after addauth"
send "addauth digest u1:p1"
sleep 0.2   # addauth has no printed completion; the next get is ordered after it
send "get $P/secret"
expect "^$P/secret: rc = 0$"; expect "^s3cret$"
ok "$STEP"

STEP="delete"
send "delete $P/node"
expect "^$P/node: rc = 0$"
send "delete $P/node"
expect "^$P/node: rc = -101$"
send "delete $P"
expect "^$P: rc = -111$"
ok "$STEP (incl. NONODE, NOTEMPTY)"

STEP="myid + quit"
send "myid"
m0=$SESS_MARK
send "quit"
sess_stop   # myid's line is only flushed when cli_mt exits
grep -Eq "session Id = [0-9a-f]+" <(tail -c +$((m0 + 1)) "$SESS_LOG") || fail "myid printed no session id"
ok "$STEP"

# --- session 2: ephemerals of session 1 are gone ---------------------------
SESS_NAME=cli_mt-2
sess_start "$OUTDIR/cli_mt-2.log" "$CLI_MT" "$HOSTPORT"
STEP="session 2 connect"
expect "Got a new session id: 0x[0-9a-f]+" 20
STEP="ephemerals removed after close"
send "ls $P"
expect "^$P: rc = 0$"; expect "^[[:space:]]+later$"
expect_not "^[[:space:]]+(eph|es-[0-9]+)$"
ok "$STEP"

STEP=cleanup
send "addauth digest u1:p1"
sleep 0.2
for c in secret later "${SEQ1##*/}" "${SEQ2##*/}"; do
  send "delete $P/$c"; expect "^$P/$c: rc = 0$"
done
send "delete $P"; expect "^$P: rc = 0$"
send "quit"
sess_stop
# --- C API: multi + ACLs (libzookeeper_mt, same library as cli_mt) ---------
STEP="C API (capi_check)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN_DIR="${INTEROP_CACHE:-$ROOT/target/interop}/bin"; mkdir -p "$BIN_DIR"
CAPI="$BIN_DIR/capi_check"
if [ ! -x "$CAPI" ] || [ "$HERE/c/capi_check.c" -nt "$CAPI" ]; then
  gcc -O1 -Wall -DTHREADED -o "$CAPI" "$HERE/c/capi_check.c" -lzookeeper_mt \
    || { echo "FAIL cli_mt: cannot compile c/capi_check.c (need gcc + libzookeeper-mt-dev)" >&2; exit 1; }
fi
CAPI_DIGEST_ID="$(digest_id u1:p1)" timeout 60 "$CAPI" "$HOSTPORT" "$P-capi" \
  || { echo "FAIL cli_mt: [C API] capi_check failed against $HOSTPORT" >&2; exit 1; }
echo "PASS cli_mt ($HOSTPORT)"
