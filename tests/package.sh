#!/usr/bin/env bash
# The Debian package as an operator meets it (issue 14, item 8): builds it with
# packaging/build-deb.sh, checks its contents, installs it with dpkg -i, checks the
# user, the data directory, `ringkeeper --version` and the unit (systemd-analyze
# verify), then starts the installed server the way the unit does (its ExecStart,
# as its User, with its limits, cwd and a NOTIFY_SOCKET: tests/package_notify.py)
# twice: on the empty data directory, then on one that takes seconds to recover, each
# time checking that READY=1 comes only once the server serves, a write right after
# it succeeds, and SIGTERM brings STOPPING=1 and exit 0. Then purges the package and
# checks the machine is as before. systemd need not be PID 1 (it is not in a
# container); its tools must be installed (Debian's systemd package).
#
# Needs root and a machine without the ringkeeper package, user or directories (it
# refuses to touch an existing install). Uses a free port on 127.0.0.1.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

say() { printf '[package] %s\n' "$*"; }
fail() { printf '[package] FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i, running as the ringkeeper user)"
if dpkg-query -W -f='${Status}' ringkeeper 2>/dev/null | grep -q installed; then
  fail "a ringkeeper package is installed here; this test installs and purges its own (dpkg --purge ringkeeper first)"
fi
for what in "passwd ringkeeper" "group ringkeeper"; do
  if getent $what >/dev/null; then fail "$what exists already; this test would remove it"; fi
done
for p in /etc/ringkeeper /var/lib/ringkeeper; do
  [ ! -e "$p" ] || fail "$p exists already; this test would remove it"
done
if ! command -v systemd-analyze >/dev/null || ! command -v systemd-sysusers >/dev/null; then
  say "installing systemd's tools (systemd-analyze, systemd-sysusers, systemd-tmpfiles)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q systemd >/dev/null
fi

work="$(mktemp -d)"
installed=0
cleanup() {
  if [ "$installed" = 1 ]; then
    dpkg --purge ringkeeper >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)"
# What build-deb.sh bakes in: the commit, or nothing outside a git checkout.
commit=""
if commit="$(git rev-parse --short=12 HEAD 2>/dev/null)"; then
  git diff --quiet HEAD -- 2>/dev/null || commit="$commit-dirty"
fi

say "building the package (packaging/build-deb.sh)"
deb="$(bash packaging/build-deb.sh | tail -1)"
[ -f "$deb" ] || fail "build-deb.sh printed no package path (got: $deb)"
say "built $deb"

# --- contents --------------------------------------------------------------
info="$(dpkg-deb -I "$deb")"
for field in "Package: ringkeeper" "Version: $version-1" "Architecture: $(dpkg --print-architecture)"; do
  grep -qF "$field" <<<"$info" || fail "control lacks '$field':
$info"
done
grep -qE '^ Depends: .*libc6.*systemd-sysusers.*systemd-tmpfiles' <<<"$info" \
  || fail "Depends lacks libc6/systemd-sysusers/systemd-tmpfiles:
$info"
files="$(dpkg-deb -c "$deb" | awk '{print $6}')"
for f in ./usr/bin/ringkeeper ./etc/ringkeeper/zoo.cfg \
         ./usr/lib/systemd/system/ringkeeper.service \
         ./usr/lib/sysusers.d/ringkeeper.conf ./usr/lib/tmpfiles.d/ringkeeper.conf \
         ./usr/share/doc/ringkeeper/README.md ./usr/share/doc/ringkeeper/copyright; do
  grep -qxF "$f" <<<"$files" || fail "the package lacks $f"
done
dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/ringkeeper/zoo.cfg "$work/control/conffiles" || fail "zoo.cfg is not a conffile"
# Installing must start nothing: no start or enable in the maintainer scripts beyond
# debhelper's "re-enable what the admin had enabled" (was-enabled) branch.
if grep -qE 'deb-systemd-invoke (start|restart)' "$work/control/postinst"; then
  fail "postinst starts the service"
fi

# --- install -----------------------------------------------------------------
say "dpkg -i"
installed=1
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i failed"; }
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd ringkeeper) || fail "no ringkeeper user"
[ "$uid" -lt 1000 ] || fail "ringkeeper is not a system user (uid $uid)"
[ "$home" = /var/lib/ringkeeper ] || fail "ringkeeper's home is $home"
[ "$shell" = /usr/sbin/nologin ] || fail "ringkeeper's shell is $shell"
[ "$(getent group ringkeeper | cut -d: -f3)" = "$gid" ] || fail "no ringkeeper group"
[ "$(stat -c '%U:%G %a' /var/lib/ringkeeper)" = "ringkeeper:ringkeeper 750" ] \
  || fail "/var/lib/ringkeeper is $(stat -c '%U:%G %a' /var/lib/ringkeeper)"
grep -qx 'dataDir=/var/lib/ringkeeper' /etc/ringkeeper/zoo.cfg || fail "zoo.cfg's dataDir"
[ ! -e /etc/systemd/system/multi-user.target.wants/ringkeeper.service ] \
  || fail "installing enabled the service"
want="ringkeeper $version${commit:+ (commit $commit)}"
[ "$(/usr/bin/ringkeeper --version)" = "$want" ] \
  || fail "--version says '$(/usr/bin/ringkeeper --version)', not '$want'"
[ "$(/usr/bin/ringkeeper version)" = "$want" ] || fail "'ringkeeper version' differs"
say "installed: $want; user ringkeeper ($uid:$gid), /var/lib/ringkeeper 750"

# --- the unit --------------------------------------------------------------
unit=/usr/lib/systemd/system/ringkeeper.service
# systemd-analyze verify must catch a broken unit here (without systemd as PID 1
# too), or its silence below would prove nothing.
mkdir "$work/broken"
sed 's|^ExecStart=/usr/bin/ringkeeper|ExecStart=/usr/bin/ringkeeper-missing|' "$unit" \
  >"$work/broken/ringkeeper.service"
if systemd-analyze verify "$work/broken/ringkeeper.service" >/dev/null 2>&1; then
  fail "systemd-analyze verify accepts a unit whose binary is missing: it checks nothing here"
fi
out="$(systemd-analyze verify "$unit" 2>&1)" || fail "systemd-analyze verify $unit:
$out"
[ -z "$out" ] || fail "systemd-analyze verify $unit complains:
$out"
say "systemd-analyze verify: clean (and it rejects a unit with a missing binary)"

key() { sed -n "s/^$1=//p" "$unit" | tail -1; }
[ "$(key Type)" = notify ] || fail "the unit is not Type=notify"
[ "$(key Restart)" = on-failure ] || fail "the unit lacks Restart=on-failure"
exec_start="$(key ExecStart)"
user="$(key User)"
group="$(key Group)"
cwd="$(key WorkingDirectory)"
# systemd's sizes are base 1024. A limit above this machine's hard limit cannot be
# set without CAP_SYS_RESOURCE (a container may lack it): then the hard limit is used,
# and said.
limit() {
  local name="$1" unit_value="$2" hard="$3" n
  case "$unit_value" in
    infinity) n=unlimited ;;
    *K) n=$(( ${unit_value%K} * 1024 )) ;;
    *M) n=$(( ${unit_value%M} * 1024 * 1024 )) ;;
    *G) n=$(( ${unit_value%G} * 1024 * 1024 * 1024 )) ;;
    *) n="$unit_value" ;;
  esac
  if [ "$hard" != unlimited ] && { [ "$n" = unlimited ] || [ "$n" -gt "$hard" ]; }; then
    say "$name=$unit_value is above this machine's hard limit; using $hard" >&2
    n="$hard"
  fi
  echo "$n"
}
nofile="$(limit LimitNOFILE "$(key LimitNOFILE)" "$(ulimit -Hn)")"
hard_memlock="$(ulimit -Hl)"
[ "$hard_memlock" = unlimited ] || hard_memlock=$(( hard_memlock * 1024 ))
memlock="$(limit LimitMEMLOCK "$(key LimitMEMLOCK)" "$hard_memlock")"
umask_value="$(key UMask)"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
chmod 755 "$work"
as_user=(setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs
         --inh-caps=-all --bounding-set=-all --)
# The unit's command line, on a free port and loopback only (the packaged zoo.cfg
# listens on every address, as ZooKeeper's does, and 2181 may be taken).
# shellcheck disable=SC2206
server=(sh -c "umask $umask_value && exec \"\$@\"" sh
        $exec_start --port "$port" -D clientPortAddress=127.0.0.1)
run_as_unit() {
  python3 tests/package_notify.py --socket "$work/notify" --port "$port" \
    --cli /usr/bin/ringkeeper --log "$work/server.log" --cwd "$cwd" "$@" -- \
    prlimit --nofile="$nofile" --memlock="$memlock" -- "${as_user[@]}" "${server[@]}" \
    || { echo "--- server log:"; cat "$work/server.log"; fail "run as the unit does: $*"; }
}

say "start 1: empty data directory; then 1000 znodes of 100 KB, so start 2 recovers for seconds"
run_as_unit --node /package-ready-1 --seed-znodes 1000 --seed-value-size 100000
say "start 2: recovering $(du -sh /var/lib/ringkeeper | cut -f1) before it may say READY=1"
run_as_unit --node /package-ready-2
grep -q "recovered zxid" "$work/server.log" || fail "the server log lacks its recovery line"
[ "$(stat -c %U /var/lib/ringkeeper/ringkeeper.lock)" = ringkeeper ] \
  || fail "the data was not written as the ringkeeper user"

# Under glommio's minimum of locked memory (512 KiB) an executor cannot start: the
# server must say so and exit, not report ready without it.
say "LimitMEMLOCK=256K: the start must fail with the reason"
rc=0
out="$(cd "$cwd" && timeout 30 prlimit --memlock=262144 -- "${as_user[@]}" "${server[@]}" 2>&1)" \
  || rc=$?
if [ "$rc" != 1 ] || ! grep -q 'cannot start an executor: .*MemLockLimit' <<<"$out"; then
  fail "with 256 KiB of memlock the server exited $rc (1 wanted, naming MemLockLimit):
$out"
fi

# --- purge -----------------------------------------------------------------
say "dpkg --purge"
dpkg --purge ringkeeper >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg --purge failed"; }
installed=0
for p in /usr/bin/ringkeeper /etc/ringkeeper /var/lib/ringkeeper "$unit" \
         /usr/lib/sysusers.d/ringkeeper.conf /usr/lib/tmpfiles.d/ringkeeper.conf; do
  [ ! -e "$p" ] || fail "$p is left after purge"
done
getent passwd ringkeeper >/dev/null && fail "user ringkeeper is left after purge"
getent group ringkeeper >/dev/null && fail "group ringkeeper is left after purge"
say "purged: nothing left"
say "package: all checks passed"
