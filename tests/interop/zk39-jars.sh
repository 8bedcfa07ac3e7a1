#!/usr/bin/env bash
# Apache ZooKeeper 3.9.3's server jars and what they need to run, from the package
# registries this machine can reach: Debian 12 packages 3.8.0 only, and Maven Central is
# out of reach, but PyPI's pyspark 4.0.1 source distribution bundles the release jars
# (zookeeper-3.9.3.jar, "3.9.3-c26634f…, built on 2024-10-17", as Spark takes them from
# Maven Central) with netty 4.1, slf4j 2 and log4j 2. The sdist (434 MB) is checked
# against its pinned sha256, unpacked once into $INTEROP_CACHE/zk-3.9.3/lib, and
# the directory is printed: set ZK_JAVA_LIB to it and the tests that run ZooKeeper
# (tests/common/zk_java.rs) run 3.9.3 instead of Debian's 3.8.0.
#
#   ZK_JAVA_LIB="$(bash tests/interop/zk39-jars.sh)" cargo test --release --test ensemble_java
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
INTEROP_CACHE="${INTEROP_CACHE:-$ROOT/target/interop}"
OUT="$INTEROP_CACHE/zk-3.9.3"
LIB="$OUT/lib"
SDIST=pyspark-4.0.1.tar.gz
SHA256=9d1f22d994f60369228397e3479003ffe2dd736ba79165003246ff7bd48e2c73
JARS=(
  zookeeper-3.9.3.jar zookeeper-jute-3.9.3.jar audience-annotations-0.12.0.jar
  commons-io-2.18.0.jar commons-cli-1.9.0.jar metrics-core-4.2.30.jar snappy-java-1.1.10.7.jar
  netty-buffer-4.1.118.Final.jar netty-codec-4.1.118.Final.jar netty-common-4.1.118.Final.jar
  netty-handler-4.1.118.Final.jar netty-resolver-4.1.118.Final.jar
  netty-transport-4.1.118.Final.jar netty-transport-classes-epoll-4.1.118.Final.jar
  netty-transport-native-epoll-4.1.118.Final-linux-x86_64.jar
  netty-transport-native-unix-common-4.1.118.Final.jar
  slf4j-api-2.0.16.jar log4j-api-2.24.3.jar log4j-core-2.24.3.jar log4j-slf4j2-impl-2.24.3.jar
)
if [ -f "$LIB/.complete" ]; then
  echo "$LIB"
  exit 0
fi
mkdir -p "$OUT"
if ! echo "$SHA256  $OUT/$SDIST" | sha256sum -c --status 2>/dev/null; then
  echo "zk39-jars: downloading $SDIST from PyPI (434 MB)" >&2
  # The file's address from PyPI's simple index (JSON form, PEP 691); no pip, which
  # would also build the sdist's metadata.
  python3 - "$OUT/$SDIST" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(
    "https://pypi.org/simple/pyspark/",
    headers={"Accept": "application/vnd.pypi.simple.v1+json"},
)
meta = json.load(urllib.request.urlopen(req, timeout=60))
url = next(f["url"] for f in meta["files"] if f["filename"] == "pyspark-4.0.1.tar.gz")
with urllib.request.urlopen(url, timeout=600) as r, open(sys.argv[1] + ".part", "wb") as f:
    while chunk := r.read(1 << 20):
        f.write(chunk)
PY
  mv "$OUT/$SDIST.part" "$OUT/$SDIST"
  echo "$SHA256  $OUT/$SDIST" | sha256sum -c --status || {
    echo "zk39-jars: $SDIST does not match its pinned sha256" >&2
    exit 1
  }
fi
rm -rf "$LIB" "$OUT/unpack"
mkdir -p "$LIB" "$OUT/unpack"
tar -xzf "$OUT/$SDIST" -C "$OUT/unpack" "${JARS[@]/#/pyspark-4.0.1/deps/jars/}"
mv "$OUT/unpack/pyspark-4.0.1/deps/jars/"*.jar "$LIB/"
rm -rf "$OUT/unpack" "$OUT/$SDIST"
touch "$LIB/.complete"
echo "$LIB"
