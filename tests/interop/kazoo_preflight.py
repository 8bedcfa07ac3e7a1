#!/usr/bin/env python3
"""Pre-flight for kazoo.sh: start one server exactly the way kazoo's test
harness does (kazoo.testing.harness.get_global_cluster, same env, same
zoo.cfg, same java command -> shim in ringkeeper mode), open a session,
create a node, stop the server with SIGTERM.  Fails fast (instead of every
test timing out) when the server cannot even serve kazoo."""
import os
import sys
import time

sys.path.insert(0, os.getcwd())  # run from the kazoo sdist directory
from kazoo.client import KazooClient  # noqa: E402
from kazoo.testing.harness import get_global_cluster  # noqa: E402

cluster = get_global_cluster()
t0 = time.time()
ok = False
try:
    cluster.start()
    c = KazooClient(cluster[0].address, timeout=10)
    c.start(timeout=20)
    c.ensure_path("/kazoo-preflight")
    c.delete("/kazoo-preflight")
    print("preflight: session ok, server version %s"
          % (".".join(map(str, c.server_version())),))
    c.stop()
    c.close()
    ok = True
except Exception as e:  # noqa: BLE001
    print("preflight: FAILED: %r" % (e,))
    for line in cluster.get_logs()[-20:]:
        print("  server log: " + line.rstrip())
finally:
    t1 = time.time()
    cluster.terminate()
    print("preflight: %.1fs (stop took %.1fs)" % (time.time() - t0, time.time() - t1))
sys.exit(0 if ok else 1)
