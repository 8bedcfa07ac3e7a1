#!/usr/bin/env python3
"""Rolling replacement of a live 3-server Apache ZooKeeper 3.8 ensemble by ringkeeper
and back, under a kazoo and Java client write and watch load, with every client-visible
guarantee checked at checkpoints and at the end (tests/rolling/README.md).

Usage: rolling.py --ringkeeper BIN [--zk-only] [--out DIR] [--clients N] [--dwell S]
                  [--stop term|kill] [--rk-props "k=v ..."] [--keep]

Phase 1 replaces each ZooKeeper member with ringkeeper on the member's own zoo.cfg and
myid and an empty data dir (it syncs from the leader), the leader last; phase 2 replaces
each ringkeeper member with ZooKeeper the same way. `--zk-only` runs the same steps
with ZooKeeper coming back every time: the rolling restart to compare with.
Exit status 0 iff every check passed.
"""

import argparse
import calendar
import collections
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    ConnectionLoss,
    KazooException,
    NodeExistsError,
    NoNodeError,
    SessionMovedError,
)
from kazoo.retry import KazooRetry

JARS = "/usr/share/java"
CLASSPATH = ":".join(
    f"{JARS}/{j}"
    for j in [
        "zookeeper.jar",
        "netty-codec.jar",
        "netty-resolver.jar",
        "netty-transport-native-unix-common.jar",
        "slf4j-log4j12.jar",
        "log4j-1.2.jar",
    ]
)
# ZK_JAVA_LIB: a directory of another ZooKeeper's jars (tests/interop/zk39-jars.sh:
# 3.9.3) for the servers, logging through log4j 2; the Java clients stay on Debian's.
ZK_JAVA_LIB = os.environ.get("ZK_JAVA_LIB")
SERVER_CLASSPATH = f"{ZK_JAVA_LIB}/*" if ZK_JAVA_LIB else CLASSPATH
TICK_MS = 500
SESSION_TIMEOUT_S = 10.0
# Errors a client may see while its server goes away: the request's fate is unknown
# (ConnectionLoss) or the session was taken over by a newer connection (SessionMoved).
ALLOWED_ERRORS = {"ConnectionLoss", "SessionMovedError", "ConnectionDropped"}
# A watched path changed (a plain read saw a newer zxid) and no event came this long.
# ZooKeeper sends a watch's event before the reply of a later read on the same
# connection, and after a reconnect the watches are armed again (kazoo) or carried by
# setWatches (Java) before any read: only the event thread's lag (on a loaded machine)
# is allowed for. Shorter than a step's dwell (4 s), so a watch a member dropped is
# caught while the client is still there (its next move would send setWatches again
# and hide the loss).
MISSING_EVENT_AFTER_S = 3.0
STEP_TIMEOUT_S = 90


def log(msg):
    print(f"[rolling {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter(port, cmd, timeout=2.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(cmd.encode())
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            return out.decode(errors="replace")
    except OSError:
        return ""


def srvr(port):
    """(mode, zxid) from `srvr`; ("", -1) while the server does not answer."""
    mode, zxid = "", -1
    for line in four_letter(port, "srvr").splitlines():
        if line.startswith("Mode: "):
            mode = line[len("Mode: "):].strip()
        elif line.startswith("Zxid: "):
            try:
                zxid = int(line[len("Zxid: "):].strip(), 16)
            except ValueError:
                pass
    return mode, zxid


def zk_version(port):
    """The "Zookeeper version:" of `srvr`, or "" while the server does not answer."""
    for line in four_letter(port, "srvr").splitlines():
        if line.startswith("Zookeeper version: "):
            return line[len("Zookeeper version: "):].split(",")[0].strip()
    return ""


def mntr(port):
    """`mntr` as a dict of strings."""
    out = {}
    for line in four_letter(port, "mntr").splitlines():
        k, _, v = line.partition("\t")
        out[k.strip()] = v.strip()
    return out


class Member:
    def __init__(self, sid, root, ports, server_lines, rk_bin, rk_props):
        self.sid = sid
        self.dir = os.path.join(root, f"s{sid}")
        self.data = os.path.join(self.dir, "data")
        self.client_port = ports[0]
        self.rk_bin = rk_bin
        self.rk_props = rk_props
        self.kind = None
        self.proc = None
        self.log_mark = 0
        os.makedirs(self.dir, exist_ok=True)
        # The member's own zoo.cfg, as an operator's ZooKeeper has it; ringkeeper
        # starts on this same file.
        self.cfg = os.path.join(self.dir, "zoo.cfg")
        with open(self.cfg, "w") as f:
            f.write(
                f"tickTime={TICK_MS}\ninitLimit=20\nsyncLimit=10\n"
                f"dataDir={self.data}\nclientPort={self.client_port}\n"
                "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
                "4lw.commands.whitelist=*\npreAllocSize=4096\n" + server_lines
            )
        with open(os.path.join(self.dir, "log4j.properties"), "w") as f:
            f.write(
                "log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.FileAppender\n"
                f"log4j.appender.F.File={self.dir}/zk.log\n"
                "log4j.appender.F.layout=org.apache.log4j.PatternLayout\n"
                "log4j.appender.F.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n\n"
            )
        with open(os.path.join(self.dir, "log4j2.properties"), "w") as f:
            f.write(
                "appender.f.type = File\nappender.f.name = F\n"
                f"appender.f.fileName = {self.dir}/zk.log\n"
                "appender.f.layout.type = PatternLayout\n"
                "appender.f.layout.pattern = %d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n\n"
                "rootLogger.level = INFO\nrootLogger.appenderRef.f.ref = F\n"
            )

    def log_name(self, kind=None):
        kind = kind or self.kind
        return os.path.join(self.dir, "zk.log" if kind == "zk" else "rk.log")

    def log_text(self, kind=None):
        try:
            with open(self.log_name(kind), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def start(self, kind, wipe):
        """Starts `kind` on this member's zoo.cfg; `wipe`: an empty data dir (myid kept)."""
        if wipe:
            shutil.rmtree(self.data, ignore_errors=True)
        os.makedirs(self.data, exist_ok=True)
        with open(os.path.join(self.data, "myid"), "w") as f:
            f.write(f"{self.sid}\n")
        self.kind = kind
        self.log_mark = len(self.log_text(kind))
        if kind == "zk":
            out = open(os.path.join(self.dir, "zk.out"), "a")
            cmd = [
                "java", "-Xmx160m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                f"-Dlog4j.configuration=file:{self.dir}/log4j.properties",
                f"-Dlog4j2.configurationFile={self.dir}/log4j2.properties",
                "-cp", SERVER_CLASSPATH, "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                self.cfg,
            ]
        else:
            out = open(os.path.join(self.dir, "rk.log"), "a")
            cmd = [self.rk_bin, "server", "-c", self.cfg]
            for prop in self.rk_props:
                cmd += ["-D", prop]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=self.dir
        )
        out.close()

    def stop(self):
        """SIGTERM, as `zkServer.sh stop` and systemd do; SIGKILL after 15 s."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def exited(self):
        return self.proc is not None and self.proc.poll() is not None

    def synced_by(self):
        """How this run was synced, from its log: SNAP, DIFF, TRUNC, or '?'."""
        text = self.log_text()[self.log_mark:]
        if self.kind == "zk":
            for needle, kind in [
                ("Getting a snapshot from leader", "SNAP"),
                ("Getting a diff from the leader", "DIFF"),
                ("Truncating log to get in sync with the leader", "TRUNC"),
            ]:
                if needle in text:
                    return kind
            if "LEADING" in text:
                return "leads"
        else:
            for kind in ["SNAP", "DIFF", "TRUNC"]:
                if f"sync from the leader: {kind}" in text:
                    return kind
            if "leading" in text.lower():
                return "leads"
        return "?"


class TrackedClient(KazooClient):
    """Records every zxid kazoo takes from a reply header: they must never go back."""

    def __init__(self, *args, **kwargs):
        self._zxid_seen = 0
        self.zxid_regressions = []
        super().__init__(*args, **kwargs)

    @property
    def last_zxid(self):
        return self._zxid_seen

    @last_zxid.setter
    def last_zxid(self, z):
        if 0 < z < self._zxid_seen:
            self.zxid_regressions.append((time.time(), self._zxid_seen, z))
        self._zxid_seen = z


class Worker(threading.Thread):
    """One client: sequential creates, a counter, the shared node, a child of /kids;
    a data watch on /rolling/shared and a child watch on /rolling/kids, re-armed on
    every event; one ephemeral."""

    def __init__(self, idx, hosts, run):
        super().__init__(daemon=True)
        self.idx = idx
        self.name = f"c{idx}"
        self.run_state = run
        self.zk = TrackedClient(
            hosts=hosts,
            timeout=SESSION_TIMEOUT_S,
            randomize_hosts=False,
            connection_retry=KazooRetry(max_tries=-1, delay=0.1, backoff=1.5, max_delay=1.0),
        )
        self.states = []
        self.zk.add_listener(self._state)
        self.acks = []  # (time, kind, path, data, zxid)
        self.errors = collections.Counter()
        self.violations = []
        self.events = collections.deque()
        self.event_log = []  # (time, path, zxid armed before, zxid re-armed at)
        self.armed = {}  # path -> zxid the watch was armed at, or None (to re-arm)
        self.last_armed = {}
        self.stale_since = {}
        self.spurious = 0
        self.counter_last_acked = 0
        # The counter's possible values: the last acknowledged one and every one tried
        # after it whose reply was lost (each may or may not have been applied).
        self.counter_maybe = {0}
        self.failed = None
        self.session_id = None
        self.write_zxid = 0
        self.pending_deletes = []
        self.closing = False
        self.paused = False
        self.rearm = False
        self.rearms = 0
        self.reconnect_rearm = set()

    def _state(self, st):
        if self.closing:
            return  # kazoo says LOST when it is stopped: not an expiry
        self.states.append((time.time(), st))
        if st == KazooState.CONNECTED:
            # kazoo sends no setWatches: a watch lives on the server that took it, so
            # after a reconnect the client arms its watches again, as kazoo's own
            # DataWatch/ChildrenWatch recipes do.
            self.rearm = True
        logging.info("%s: session 0x%x %s", self.name, self.session_id or 0, st)

    def _watch(self, ev):
        self.events.append(ev)

    def _arm(self, path):
        if path == "/rolling/shared":
            _, st = self.zk.get(path, watch=self._watch)
            z = st.mzxid
        else:
            _, st = self.zk.get_children(path, watch=self._watch, include_data=True)
            z = st.pzxid
        return z

    def _record_error(self, e):
        self.errors[type(e).__name__] += 1

    def _ack(self, kind, path, data, zxid):
        if zxid <= self.write_zxid:
            self.violations.append(f"write zxid went back: {kind} {path} 0x{zxid:x} after 0x{self.write_zxid:x}")
        self.write_zxid = max(self.write_zxid, zxid)
        self.acks.append((time.time(), kind, path, data, zxid))

    def setup(self):
        self.zk.start(timeout=60)
        self.session_id = self.zk.client_id[0]
        me = f"/rolling/ctr/{self.name}"
        try:
            self.zk.create(me, b"0")
        except NodeExistsError:
            pass
        self.zk.create(f"/rolling/eph/{self.name}", self.name.encode(), ephemeral=True)
        for p in ["/rolling/shared", "/rolling/kids"]:
            self.armed[p] = self._arm(p)

    def _handle_events(self):
        if self.rearm:
            self.rearm = False
            self.rearms += 1
            for p, z in self.armed.items():
                if z is not None:
                    self.last_armed[p] = z
                self.armed[p] = None
                self.stale_since.pop(p, None)
            self.reconnect_rearm = set(self.armed)
        while self.events:
            ev = self.events.popleft()
            if ev.path not in self.armed or self.armed[ev.path] is None:
                continue
            self.last_armed[ev.path] = self.armed[ev.path]
            self.armed[ev.path] = None
            self.stale_since.pop(ev.path, None)
        for p, z in list(self.armed.items()):
            if z is not None:
                continue
            try:
                nz = self._arm(p)
            except (ConnectionLoss, SessionMovedError) as e:
                self._record_error(e)
                return
            prev = self.last_armed.get(p, 0)
            self.event_log.append((time.time(), p, prev, nz))
            if nz < prev:
                self.violations.append(f"watch on {p}: re-armed at 0x{nz:x}, older than 0x{prev:x}")
            elif nz == prev and p not in self.reconnect_rearm:
                self.spurious += 1
            self.reconnect_rearm.discard(p)
            self.armed[p] = nz

    def _check_stale(self):
        """A plain read newer than the armed watch: the event must come."""
        now = time.time()
        _, st = self.zk.get("/rolling/shared")
        _, cst = self.zk.get_children("/rolling/kids", include_data=True)
        for p, z in [("/rolling/shared", st.mzxid), ("/rolling/kids", cst.pzxid)]:
            armed = self.armed.get(p)
            if armed is None or z <= armed:
                self.stale_since.pop(p, None)
                continue
            since = self.stale_since.setdefault(p, now)
            if now - since > MISSING_EVENT_AFTER_S:
                self.violations.append(
                    f"watch on {p} armed at 0x{armed:x}: saw 0x{z:x} {now - since:.1f} s ago, no event"
                )
                self.armed[p] = None

    def _check_ephemeral(self):
        st = self.zk.exists(f"/rolling/eph/{self.name}")
        if st is None:
            self.violations.append(f"ephemeral /rolling/eph/{self.name} gone at {time.time():.3f}")
        elif st.ephemeralOwner != self.session_id:
            self.violations.append(f"ephemeral owner 0x{st.ephemeralOwner:x} != 0x{self.session_id:x}")

    def one_round(self, n):
        p, st = self.zk.create(f"/rolling/seq/{self.name}-", str(n).encode(), sequence=True, include_data=True)
        self._ack("create", p, str(n).encode(), st.czxid)
        self.counter_maybe.add(n)
        st = self.zk.set(f"/rolling/ctr/{self.name}", str(n).encode())
        self.counter_last_acked = n
        self.counter_maybe = {n}
        self._ack("set", f"/rolling/ctr/{self.name}", str(n).encode(), st.mzxid)
        st = self.zk.set("/rolling/shared", f"{self.name}:{n}".encode())
        self._ack("set", "/rolling/shared", None, st.mzxid)
        while self.pending_deletes:
            try:
                self.zk.delete(self.pending_deletes[-1])
            except NoNodeError:
                pass  # the first try was applied before its connection went
            self.pending_deletes.pop()
        kid, st = self.zk.create(f"/rolling/kids/{self.name}-", b"", sequence=True, include_data=True)
        self._ack("create", kid, None, st.czxid)
        self.pending_deletes.append(kid)

    def run(self):
        n = 0
        try:
            while not self.run_state["stop_all"].is_set():
                try:
                    self._handle_events()
                    self.paused = self.run_state["pause"].is_set()
                    if not self.run_state["stop_writes"].is_set() and not self.paused:
                        n += 1
                        self.one_round(n)
                    if n % 5 == 0 or self.run_state["stop_writes"].is_set():
                        self._check_stale()
                    if n % 10 == 0:
                        self._check_ephemeral()
                except (ConnectionLoss, SessionMovedError) as e:
                    self._record_error(e)
                    time.sleep(0.05)
                    continue
                except KazooException as e:
                    self._record_error(e)
                    self.violations.append(f"unexpected error {type(e).__name__}: {e}")
                    time.sleep(0.2)
                    continue
                time.sleep(0.1)
        except Exception as e:  # the thread's death is a finding, not a hang
            self.failed = repr(e)


class JavaWatcher:
    """tests/rolling/WatchClient.java: a Java client's data and child watch, carried
    across members by its setWatches, and its ephemeral /rolling/eph/NAME. Each one
    knows only its member's address: when the member is replaced it reconnects to the
    new server on the same port, of the other kind, with its watches in setWatches."""

    def __init__(self, out, name, host, classes):
        self.name = name
        self.out = os.path.join(out, f"{name}.txt")
        open(self.out, "w").close()
        self.proc = subprocess.Popen(
            ["java", "-Xmx48m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             f"-Dlog4j.configuration=file:{out}/java-client-log4j.properties",
             f"-Drolling.client={name}",
             "-cp", f"{classes}:{CLASSPATH}", "WatchClient", host, self.out, name],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(out, f"{name}.err"), "w"),
        )

    @staticmethod
    def compile(out):
        """javac once per run; the log4j file the clients share."""
        classes = os.path.join(out, "java-classes")
        os.makedirs(classes, exist_ok=True)
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "WatchClient.java")
        subprocess.run(["javac", "-cp", CLASSPATH, "-d", classes, src], check=True)
        with open(os.path.join(out, "java-client-log4j.properties"), "w") as f:
            f.write(
                "log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.FileAppender\n"
                f"log4j.appender.F.File={out}/${{rolling.client}}.log\n"
                "log4j.appender.F.layout=org.apache.log4j.PatternLayout\n"
                "log4j.appender.F.layout.ConversionPattern=%d{ISO8601} %-5p [%t] - %m%n\n"
            )
        return classes

    def lines(self):
        with open(self.out) as f:
            return [line.split() for line in f if line.strip()]

    def session(self):
        for w in self.lines():
            if w[1] == "SESSION":
                return int(w[2], 16)
        return None

    def armed(self, path):
        z = 0
        for w in self.lines():
            if w[1] == "ARM" and w[2] == path:
                z = int(w[3], 16)
        return z

    def stop(self):
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def findings(self):
        """What the Java client saw that it must not have."""
        bad = []
        last = {}
        for w in self.lines():
            if w[1] == "ARM":
                z = int(w[3], 16)
                if z < last.get(w[2], 0):
                    bad.append(f"{self.name}: watch on {w[2]} armed again at 0x{z:x}, older than 0x{last[w[2]]:x}")
                last[w[2]] = z
            elif w[1] in ("STALE", "ERROR") or (w[1] == "STATE" and w[2] in ("Expired", "AuthFailed")):
                bad.append(f"{self.name}: " + " ".join(w[1:]))
        return bad


DOOMED = """
import sys, time
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=float(sys.argv[3]))
zk.start(timeout=30)
zk.create(sys.argv[2], ephemeral=True)
print("%x" % zk.client_id[0], flush=True)
time.sleep(3600)
"""


class Doomed:
    """A client that holds an ephemeral and is then SIGKILLed: no closeSession, no more
    pings. Its session must expire on whichever leader there is by then, and the
    ephemeral go on every member."""

    def __init__(self, name, hosts):
        self.path = f"/rolling/doomed/{name}"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", DOOMED, hosts, self.path, str(SESSION_TIMEOUT_S)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self.session = int(self.proc.stdout.readline().strip() or "0", 16)
        self.killed_at = None

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.killed_at = time.time()


def walk(zk):
    """{path: (data, stat)} for every node, read with pipelined async calls."""
    out = {}
    level = ["/"]
    while level:
        gets = [(p, zk.get_async(p)) for p in level]
        kids = [(p, zk.get_children_async(p)) for p in level]
        nxt = []
        for p, a in gets:
            try:
                data, st = a.get(timeout=30)
            except NoNodeError:
                continue
            st = tuple(st)
            if p == "/zookeeper/config":
                # Each ZooKeeper member stamps its own mtime here when it sets its
                # config locally: it differs between Java members too.
                st = st[:3] + (None,) + st[4:]
            out[p] = (data, st)
        for p, a in kids:
            try:
                for c in a.get(timeout=30):
                    nxt.append(("" if p == "/" else p) + "/" + c)
            except NoNodeError:
                pass
        level = nxt
    return out


def single(port):
    zk = KazooClient(hosts=f"127.0.0.1:{port}", timeout=SESSION_TIMEOUT_S)
    zk.start(timeout=30)
    zk.sync("/")
    return zk


def max_gap(times, lo, hi, pauses):
    """The longest interval between consecutive acks that ends in (lo, hi]: the last
    ack before a stop often comes a moment before the step's clock starts. Intervals
    that overlap a checkpoint (writes paused on purpose) do not count."""
    best = 0.0
    for prev, t in zip(times, times[1:]):
        if lo < t <= hi and not any(prev < b and t > a for a, b in pauses):
            best = max(best, t - prev)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ringkeeper", required=True)
    ap.add_argument("--zk-only", action="store_true", help="ZooKeeper in every step: the baseline")
    ap.add_argument("--out", default=None)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--dwell", type=float, default=4.0, help="seconds of load after each step")
    ap.add_argument(
        "--stop", choices=["term", "kill"], default="term", help="how a member is stopped: SIGTERM or SIGKILL"
    )
    ap.add_argument("--rk-props", default="", help="'key=value ...': -D flags for every ringkeeper member")
    ap.add_argument("--keep", action="store_true", help="keep the members' dirs on success")
    args = ap.parse_args()

    out = args.out or tempfile.mkdtemp(prefix="rk-rolling-")
    os.makedirs(out, exist_ok=True)
    # kazoo's reconnect chatter goes to a file; the report says what the clients saw.
    logging.basicConfig(
        filename=os.path.join(out, "kazoo.log"),
        level=logging.INFO,
        format="%(asctime)s %(threadName)s %(levelname)s %(message)s",
    )
    root = os.path.join(out, "ensemble")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    ports = [(free_port(), free_port(), free_port()) for _ in range(3)]
    lines = "".join(f"server.{i + 1}=127.0.0.1:{q}:{e}\n" for i, (_, q, e) in enumerate(ports))
    members = [
        Member(i + 1, root, ports[i], lines, os.path.abspath(args.ringkeeper), args.rk_props.split())
        for i in range(3)
    ]
    failures = []
    steps = []
    workers = []
    run = {"stop_writes": threading.Event(), "stop_all": threading.Event(), "pause": threading.Event()}
    pauses = []
    javas = []
    admin = None
    doomed = None

    def modes():
        return [srvr(m.client_port) for m in members]

    def wait_synced(m, what):
        """Until `m` follows or leads, one leader in all, and m's zxid reached the
        leader's zxid of that moment."""
        deadline = time.time() + STEP_TIMEOUT_S
        target = None
        while time.time() < deadline:
            for x in members:
                if x.exited():
                    raise RuntimeError(f"{what}: server {x.sid} ({x.kind}) exited: see {x.log_name()}")
            ms = modes()
            leaders = [i for i, (mode, _) in enumerate(ms) if mode == "leader"]
            mine = ms[m.sid - 1]
            if len(leaders) == 1 and all(mode in ("leader", "follower") for mode, _ in ms):
                lz = ms[leaders[0]][1]
                if target is None:
                    # A new leader's own zxid is epoch<<32 before its first write, which
                    # followers report as the last txn they applied.
                    target = lz if lz & 0xFFFFFFFF else 0
                # The leader's mntr counts the new member among its synced followers
                # (docs/migrate.md tells operators to watch it).
                synced = mntr(members[leaders[0]].client_port).get("zk_synced_followers", "")
                if mine[1] >= target and synced == "2":
                    return members[leaders[0]].sid
            time.sleep(0.1)
        raise RuntimeError(f"{what}: not synced within {STEP_TIMEOUT_S} s: {modes()}")

    def check_members(label):
        """Every member: the same tree, every acknowledged write, one ephemeral per
        client. Writes are stopped or paused while it runs."""
        # The killed clients' expiries are writes nobody pauses: a member read before
        # one and another after it differ. Read them all again then (three tries).
        for _attempt in range(3):
            dumps = {}
            for m in members:
                zk = single(m.client_port)
                dumps[m.sid] = walk(zk)
                zk.stop()
                zk.close()
            base_sid = members[0].sid
            diffs = []
            for m in members[1:]:
                a, b = dumps[base_sid], dumps[m.sid]
                diffs.append((m, a, b, sorted(p for p in set(a) | set(b) if a.get(p) != b.get(p))))
            if not any(d for *_, d in diffs):
                break
            time.sleep(1)
        for m, a, b, diff in diffs:
            if diff:
                failures.append(
                    f"{label}: trees of server {base_sid} and {m.sid} differ at {len(diff)} paths, e.g. "
                    + "; ".join(f"{p}: {a.get(p)} vs {b.get(p)}" for p in diff[:3])
                )
        for sid, d in dumps.items():
            missing = [
                path
                for w in workers
                for _, kind, path, data, _ in w.acks
                if kind == "create" and data is not None and (path not in d or d[path][0] != data)
            ]
            if missing:
                failures.append(f"{label}: server {sid}: {len(missing)} acknowledged creates missing, e.g. {missing[:3]}")
            for w in workers:
                got = d.get(f"/rolling/ctr/{w.name}")
                ok = {str(v).encode() for v in w.counter_maybe}
                if got is None or got[0] not in ok:
                    failures.append(f"{label}: server {sid}: counter of {w.name} is {got and got[0]}, acked {w.counter_last_acked}")
                eph = d.get(f"/rolling/eph/{w.name}")
                if eph is None or eph[1][7] != w.session_id:
                    failures.append(f"{label}: server {sid}: ephemeral of {w.name} (session 0x{w.session_id:x}) is {eph}")
            for j in javas:
                eph = d.get(f"/rolling/eph/{j.name}")
                if eph is None or eph[1][7] != j.session():
                    failures.append(f"{label}: server {sid}: the ephemeral of {j.name} is {eph}")
            extra = [p for p in d if p.startswith("/rolling/eph/")]
            clients = len(workers) + len(javas)
            if len(extra) != clients:
                failures.append(f"{label}: server {sid}: {len(extra)} ephemerals for {clients} clients: {extra}")

    def checkpoint(label):
        """Pauses the writers, checks every member, lets them go on."""
        run["pause"].set()
        t0 = time.time()
        deadline = t0 + 30
        while time.time() < deadline and not all(w.paused or w.failed for w in workers):
            time.sleep(0.05)
        log(f"checkpoint {label}: writes paused, comparing the members")
        check_members(label)
        run["pause"].clear()
        pauses.append((t0, time.time()))

    zk_versions = []
    try:
        log(f"3 ZooKeeper members under {root}")
        for m in members:
            m.start("zk", wipe=True)
        leader = wait_synced(members[0], "initial ensemble")
        for m in members:
            wait_synced(m, "initial ensemble")
        zk_versions = sorted({zk_version(m.client_port) for m in members})
        log(f"ensemble up, leader {leader}; ZooKeeper {', '.join(zk_versions)}")
        admin = KazooClient(hosts=",".join(f"127.0.0.1:{m.client_port}" for m in members))
        admin.start(timeout=60)
        for p in ["/rolling/seq", "/rolling/ctr", "/rolling/eph", "/rolling/kids", "/rolling/doomed"]:
            admin.ensure_path(p)
        admin.ensure_path("/rolling/shared")
        admin.ensure_path("/rolling/slow")
        for i in range(args.clients):
            home = members[i % 3]
            hosts = [home] + [m for m in members if m is not home]
            w = Worker(i, ",".join(f"127.0.0.1:{m.client_port}" for m in hosts), run)
            w.setup()
            workers.append(w)
        for w in workers:
            w.start()
        classes = JavaWatcher.compile(out)
        javas = [JavaWatcher(out, f"java{m.sid}", f"127.0.0.1:{m.client_port}", classes) for m in members]
        deadline = time.time() + 30
        while any(j.session() is None for j in javas) and time.time() < deadline:
            time.sleep(0.1)
        for j in javas:
            if j.session() is None:
                raise RuntimeError(f"the Java client {j.name} did not start: see {out}/{j.name}.err")
        time.sleep(args.dwell + 3)  # past ZooKeeper's 500 committed txns: an empty member gets SNAP

        everyone = ",".join(f"127.0.0.1:{m.client_port}" for m in members)
        doomed = {2: Doomed("under-first-leader", everyone), 5: Doomed("under-second-leader", everyone)}
        if not all(d.session for d in doomed.values()):
            raise RuntimeError("a doomed client did not start")
        phases = [("zk->rk", "zk" if args.zk_only else "rk"), ("rk->zk", "zk")]
        for _phase, to_kind in phases:
            done = set()
            while len(done) < 3:
                ms = modes()
                todo = [m for m in members if m.sid not in done]
                followers = [m for m in todo if ms[m.sid - 1][0] != "leader"]
                m = followers[0] if followers else todo[0]
                role = ms[m.sid - 1][0]
                name = f"{m.kind}->{to_kind} server {m.sid} ({role})"
                log(f"{name}: stopping {m.kind}, starting {to_kind} on its zoo.cfg, empty data dir")
                if len(steps) + 1 in doomed:
                    # Its session's expiry falls after the next step has moved the leadership.
                    doomed[len(steps) + 1].kill()
                t0 = time.time()
                if args.stop == "kill":
                    m.kill()
                else:
                    m.stop()
                m.start(to_kind, wipe=True)
                new_leader = wait_synced(m, name)
                t1 = time.time()
                how = m.synced_by()
                log(f"{name}: synced ({how}) in {t1 - t0:.1f} s; leader now {new_leader}")
                steps.append({"step": name, "t0": t0, "t1": t1, "synced_by": how, "leader": new_leader})
                if how not in ("SNAP", "leads"):
                    failures.append(f"{name}: an empty data dir synced by {how}, expected SNAP")
                done.add(m.sid)
                # The Java clients' seldom-changed watch: its event comes through the
                # setWatches of a client that has just moved, or just before it moves.
                time.sleep(min(1.5, args.dwell))
                admin.retry(admin.set, "/rolling/slow", name.encode())
                time.sleep(max(0.0, args.dwell - 1.5))
                # One ringkeeper beside two ZooKeeper; all ringkeeper; a ZooKeeper
                # member that took its tree from a ringkeeper leader.
                if len(steps) in (1, 3, 4):
                    checkpoint(f"after step {len(steps)}")
                for w in workers:
                    if w.failed:
                        raise RuntimeError(f"client {w.name} died: {w.failed}")

        # The end: writes stop, one last change each watch must see, then the checks.
        run["stop_writes"].set()
        time.sleep(1)
        poke = KazooClient(hosts=",".join(f"127.0.0.1:{m.client_port}" for m in members))
        poke.start(timeout=30)
        st = poke.set("/rolling/shared", b"poke")
        slow = poke.set("/rolling/slow", b"poke").mzxid
        kid = poke.create("/rolling/kids/poke-", sequence=True)
        poke.delete(kid)
        pz = poke.exists("/rolling/kids").pzxid
        poke.stop()
        poke.close()
        deadline = time.time() + 20
        while time.time() < deadline:
            if all(
                (w.armed.get("/rolling/shared") or 0) >= st.mzxid and (w.armed.get("/rolling/kids") or 0) >= pz
                for w in workers
            ) and all(
                j.armed("/rolling/shared") >= st.mzxid and j.armed("/rolling/kids") >= pz and j.armed("/rolling/slow") >= slow
                for j in javas
            ):
                break
            time.sleep(0.2)
        for j in javas:
            if j.armed("/rolling/shared") < st.mzxid or j.armed("/rolling/kids") < pz or j.armed("/rolling/slow") < slow:
                failures.append(f"{j.name}: no event for the last change of a watched path")
        for w in workers:
            if (w.armed.get("/rolling/shared") or 0) < st.mzxid:
                failures.append(f"{w.name}: no event for the last change of /rolling/shared (armed at {w.armed.get('/rolling/shared')})")
            if (w.armed.get("/rolling/kids") or 0) < pz:
                failures.append(f"{w.name}: no event for the last child change of /rolling/kids")
        run["stop_all"].set()
        for w in workers:
            w.join(timeout=30)
            if w.failed:
                failures.append(f"client {w.name} died: {w.failed}")

        check_members("the end")
        # The killed clients' sessions: expired by the leader of the time, their
        # ephemerals gone from every member (ZooKeeper's expiry runs in tick buckets:
        # up to a tick and a half late).
        latest = max(d.killed_at or time.time() for d in doomed.values())
        deadline = latest + SESSION_TIMEOUT_S + 15
        for m in members:
            zk = single(m.client_port)
            while True:
                left = [d.path for d in doomed.values() if zk.exists(d.path) is not None]
                if not left or time.time() > deadline:
                    break
                time.sleep(0.2)
                zk.sync("/")
            zk.stop()
            zk.close()
            for path in left:
                failures.append(
                    f"server {m.sid}: {path} still there {time.time() - latest:.0f} s after its client was killed"
                )
        for w in workers:
            w.closing = True
            w.zk.stop()
            w.zk.close()
        for j in javas:
            j.stop()
            failures.extend(j.findings())
        # Closed sessions leave no ephemeral behind (orphans) on any member.
        for m in members:
            zk = single(m.client_port)
            try:
                left = zk.get_children("/rolling/eph")
            except NoNodeError:
                left = ["(no /rolling/eph at all)"]
            zk.stop()
            zk.close()
            if left:
                failures.append(f"server {m.sid}: ephemerals left after their sessions closed: {left}")
    except Exception as e:
        failures.append(f"aborted: {e!r}")
    finally:
        run["stop_all"].set()
        if admin is not None:
            admin.stop()
            admin.close()
        for d in (doomed or {}).values():
            if d.proc.poll() is None:
                d.proc.kill()
        for j in javas:
            if j.proc.poll() is None:
                j.proc.kill()
        for m in members:
            m.kill()

    # The report.
    acks = sorted(t for w in workers for (t, *_rest) in w.acks)
    rows = []
    for i, s in enumerate(steps):
        # A step's gaps: those that end between its stop and the next step's.
        lo = s["t0"]
        hi = steps[i + 1]["t0"] if i + 1 < len(steps) else s["t1"] + args.dwell
        worst_client = max((max_gap([a[0] for a in w.acks], lo, hi, pauses) for w in workers), default=0)
        rows.append((s["step"], s["synced_by"], s["t1"] - s["t0"], max_gap(acks, lo, hi, pauses), worst_client))
    errors = collections.Counter()
    for w in workers:
        errors.update(w.errors)
        if any(st == KazooState.LOST for _, st in w.states):
            failures.append(f"{w.name}: session 0x{w.session_id:x} expired (LOST) while its client ran")
        failures.extend(f"{w.name}: {v}" for v in w.violations)
        failures.extend(
            f"{w.name}: zxid went back from 0x{a:x} to 0x{b:x}" for _, a, b in w.zk.zxid_regressions
        )
    for name in errors:
        if name not in ALLOWED_ERRORS:
            failures.append(f"clients saw {errors[name]} x {name}, not a reconnect")
    mode = "ZooKeeper alone (rolling restart, empty data dirs)" if args.zk_only else "ZooKeeper -> ringkeeper -> ZooKeeper"
    report = [f"## {mode}", "", f"ZooKeeper {', '.join(zk_versions) or '(version unknown)'}; "
              f"{len(workers)} clients, {len(acks)} acknowledged writes, "
              f"{sum(len(w.event_log) for w in workers)} watch events "
              f"({sum(w.spurious for w in workers)} with no newer zxid on re-read)", "",
              "| step | synced by | step time (s) | longest gap, any client (s) | longest gap, one client (s) |",
              "|---|---|---|---|---|"]
    report += [f"| {a} | {b} | {c:.1f} | {d:.2f} | {e:.2f} |" for a, b, c, d, e in rows]
    report += ["", "client errors: " + (", ".join(f"{k} x {v}" for k, v in sorted(errors.items())) or "none")]
    # ZooKeeper 3.8.0's learner drops a COMMIT that comes after NEWLEADER for a proposal
    # that came before it (it emptied its queue at NEWLEADER: ZOOKEEPER-4394, fixed in
    # 3.9.3) and syncs again at once. Either kind of leader sends that order, as Java's
    # own leader does; counted, not a failure.
    # Counted by the kind of leader of the moment: ringkeeper leads from the third step
    # to the sixth (not with --zk-only).
    npe = collections.Counter()
    for m in members:
        lines = m.log_text("zk").splitlines()
        for i, line in enumerate(lines):
            if 'because "pif" is null' not in line or i == 0:
                continue
            try:
                t = calendar.timegm(time.strptime(lines[i - 1][:19], "%Y-%m-%d %H:%M:%S"))
            except ValueError:
                continue
            rk_leads = not args.zk_only and len(steps) == 6 and steps[2]["t0"] <= t < steps[5]["t0"]
            npe["ringkeeper" if rk_leads else "ZooKeeper"] += 1
    report += [
        "ZooKeeper learners that dropped out of a sync and synced again (ZOOKEEPER-4394): "
        f"{npe['ZooKeeper']} under a ZooKeeper leader, {npe['ringkeeper']} under a ringkeeper leader"
    ]
    report += ["", "checks: " + ("all passed" if not failures else f"{len(failures)} FAILED")]
    report += [f"- {f}" for f in failures[:40]]
    text = "\n".join(report)
    print(text)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(out, "steps.json"), "w") as f:
        json.dump(
            {
                "steps": steps,
                "errors": errors,
                "failures": failures,
                "gaps_over_300ms": [(a, b - a) for a, b in zip(acks, acks[1:]) if b - a > 0.3],
                "events": {w.name: w.event_log for w in workers},
                "states": {w.name: [(t, str(st)) for t, st in w.states] for w in workers},
            },
            f,
            indent=1,
        )
    if failures:
        print(f"member dirs and logs kept under {root}", file=sys.stderr)
        return 1
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
