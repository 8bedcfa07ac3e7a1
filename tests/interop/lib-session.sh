# Sourced by cli_mt.sh and zkcli.sh: drive an interactive client through a
# FIFO and check its (asynchronous) output by polling a log file.
#   sess_start LOG CMD ARGS...   start CMD with stdin from a FIFO, out -> LOG
#   send "line"                  write one command line; sets the mark
#   expect REGEX [TIMEOUT]       wait until an output line after the mark
#                                matches the extended REGEX (default 10 s)
#   expect_not REGEX             fail if a line after the mark matches
#   mark                         move the mark to the current end of output
#   sess_stop                    close stdin, wait, kill if needed
#   fail "msg"                   print context and exit 1
SESS_LOG=""; SESS_PID=""; SESS_MARK=0; SESS_DIR=""; SESS_NAME="${SESS_NAME:-client}"
STEP=""

sess_start() {
  SESS_LOG="$1"; shift
  SESS_DIR="$(mktemp -d)"
  mkfifo "$SESS_DIR/in"
  : >"$SESS_LOG"
  "$@" <"$SESS_DIR/in" >>"$SESS_LOG" 2>&1 &
  SESS_PID=$!
  exec 7>"$SESS_DIR/in"
  SESS_MARK=0
  trap 'sess_cleanup' EXIT
}

sess_cleanup() {
  exec 7>&- 2>/dev/null || true
  if [ -n "$SESS_PID" ] && kill -0 "$SESS_PID" 2>/dev/null; then
    kill -TERM "$SESS_PID" 2>/dev/null || true
  fi
  [ -n "$SESS_DIR" ] && rm -rf "$SESS_DIR"
  SESS_PID=""
}

mark() { SESS_MARK=$(stat -c %s "$SESS_LOG"); }

send() {
  mark
  printf '%s\n' "$1" >&7 || fail "could not write to $SESS_NAME (exited?)"
}

fail() {
  echo "FAIL $SESS_NAME: ${STEP:+[$STEP] }$*" >&2
  echo "---- last output of $SESS_NAME ($SESS_LOG) ----" >&2
  tail -n 40 "$SESS_LOG" >&2
  echo "----" >&2
  sess_cleanup
  exit 1
}

# expect REGEX [TIMEOUT]: poll output after the mark (never a blind sleep).
expect() {
  local re="$1" t="${2:-10}" deadline
  deadline=$(( $(date +%s%N) / 1000000 + t * 1000 ))
  while :; do
    if tail -c +$((SESS_MARK + 1)) "$SESS_LOG" | grep -Eq -- "$re"; then
      return 0
    fi
    if ! kill -0 "$SESS_PID" 2>/dev/null; then
      tail -c +$((SESS_MARK + 1)) "$SESS_LOG" | grep -Eq -- "$re" && return 0
      fail "client exited while waiting for /$re/"
    fi
    [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ] && fail "timed out after ${t}s waiting for /$re/"
    sleep 0.05
  done
}

expect_not() {
  if tail -c +$((SESS_MARK + 1)) "$SESS_LOG" | grep -Eq -- "$1"; then
    fail "unexpected output matching /$1/"
  fi
}

sess_stop() {
  exec 7>&-
  local i
  for i in $(seq 1 100); do kill -0 "$SESS_PID" 2>/dev/null || break; sleep 0.05; done
  sess_cleanup
}

# digest ACL id for user:password, as ZooKeeper computes it
digest_id() {
  python3 -c 'import base64,hashlib,sys; u=sys.argv[1]; print(u.split(":")[0]+":"+base64.b64encode(hashlib.sha1(u.encode()).digest()).decode())' "$1"
}

ok() { echo "  ok: $*"; }
