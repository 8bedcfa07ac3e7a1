#!/usr/bin/env bash
# Idempotent installer for the interop harness (fresh Debian 12, run as root).
#  - apt: zookeeper zookeeper-bin libzookeeper-mt-dev (+ java and javac, python3-venv,
#    gcc/libc6-dev for tests/interop/c/capi_check.c)
#  - a Python venv in $INTEROP_CACHE/venv with kazoo's test dependencies
#  - the kazoo 2.11.0 sdist (it ships kazoo/tests) unpacked in $INTEROP_CACHE
# Prints the cache dir layout at the end.  Fast (no network) when already done.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
INTEROP_CACHE="${INTEROP_CACHE:-$ROOT/target/interop}"
KAZOO_VERSION="${KAZOO_VERSION:-2.11.0}"
VENV="$INTEROP_CACHE/venv"
KAZOO_DIR="$INTEROP_CACHE/kazoo-$KAZOO_VERSION"
# Bump when the pip set below changes, so existing venvs get updated.
PIP_SET_VERSION=2
# Exact versions validated against ZooKeeper 3.8 (kazoo-baseline-zk38.txt).
# pyOpenSSL must stay < 24.3 (kazoo's harness uses OpenSSL.crypto.X509Extension).
PIP_PKGS=(
  "pytest==8.4.2"
  "pytest-timeout==2.4.0"
  "objgraph==3.7.0"
  "pyjks==20.0.0"
  "pyOpenSSL==24.2.1"
  "cryptography==43.0.3"
  "gevent==26.9.0"
  "eventlet==0.41.3"
  "pure-sasl==0.6.2"
)

log() { echo "[install-deps] $*"; }
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# ---- apt ---------------------------------------------------------------
need_apt=()
# nftables: the fault harness's partitions; faketime: its clock nemesis (tests/faults/harness)
# and tests/tls.rs's out-of-date OCSP answers.
# openssl and curl: the certificates and the OCSP responder (openssl ocsp) of tests/tls.rs, and the HTTPS client of tests/admin_server.rs.
# make: the jemalloc the server is built with (tikv-jemalloc-sys runs its configure and make).
for p in zookeeper zookeeper-bin libzookeeper-mt-dev python3-venv gcc libc6-dev make nftables faketime openssl curl; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    need_apt+=("$p")
  fi
done
if ! command -v java >/dev/null 2>&1; then need_apt+=(default-jre-headless); fi
# tests/zab_wire_java.rs compiles a checker against ZooKeeper's jar: it needs javac.
if ! command -v javac >/dev/null 2>&1; then need_apt+=(default-jdk-headless); fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
else
  log "apt packages present"
fi
# The host's own services are left alone: every test picks free ports, and a
# system ZooKeeper on 2181 only turns one kazoo test into an expected failure
# (kazoo.sh says so when it sees the port taken).

# ---- python venv --------------------------------------------------------
mkdir -p "$INTEROP_CACHE"
PY=/usr/bin/python3
[ -x "$PY" ] || PY="$(command -v python3)"
stamp="$VENV/.interop-pipset-$PIP_SET_VERSION"
if [ ! -f "$stamp" ]; then
  log "creating venv $VENV"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PIP_PKGS[@]}"
  touch "$stamp"
else
  log "venv present ($VENV)"
fi

# ---- kazoo sdist (tests live in the sdist, not in the wheel) -------------
if [ ! -f "$KAZOO_DIR/.interop-unpacked" ]; then
  log "downloading kazoo $KAZOO_VERSION sdist"
  tmp="$(mktemp -d)"
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps \
      --no-binary :all: "kazoo==$KAZOO_VERSION" -d "$tmp"
  rm -rf "$KAZOO_DIR"
  tar -xzf "$tmp/kazoo-$KAZOO_VERSION.tar.gz" -C "$INTEROP_CACHE"
  rm -rf "$tmp"



  touch "$KAZOO_DIR/.interop-unpacked"
else
  log "kazoo $KAZOO_VERSION present ($KAZOO_DIR)"
fi

log "ok: venv=$VENV kazoo=$KAZOO_DIR"
