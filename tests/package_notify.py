#!/usr/bin/env python3
"""Plays systemd's side of `Type=notify` for tests/package.sh: starts the installed
server as the unit would (the command line given after `--`), listens on its
NOTIFY_SOCKET, and checks that READY=1 comes only once the server serves, that a
write then succeeds, and that SIGTERM brings STOPPING=1 and exit 0.

"Serves" is measured from outside: a prober connects as soon as the port accepts
(the connection waits in the listen backlog while the server recovers) and sends
the four-letter word `srvr`; its answer marks the moment a client is first served.
READY=1 must not come earlier than that (less a small tolerance for the two
messages racing each other). With a data directory that takes seconds to recover,
a READY=1 sent before recovery ends is caught by seconds, not milliseconds.
"""

import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

# READY=1 is sent just before the cores answer their first client; the probe's
# answer and the notification race by milliseconds. A READY=1 sent before recovery
# ends precedes the first answer by the whole recovery (seconds, see package.sh).
ORDER_TOLERANCE_S = 0.15
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


def fail(msg):
    print(f"package_notify: FAIL: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def probe_first_answer(port, deadline, out):
    """Connects once the port is bound, sends srvr, records when the answer comes."""
    while time.monotonic() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
        except OSError:
            time.sleep(0.005)
            continue
        try:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            s.sendall(b"srvr")
            first = s.recv(4096)
            answered = time.monotonic()
        except OSError:
            s.close()
            time.sleep(0.005)
            continue
        s.close()
        if first:
            out["answered"] = answered
            out["reply"] = first
            return
        # Closed without an answer: not serving yet (or refusing); try again.
        time.sleep(0.005)


def receive(sock, deadline, proc):
    """The next notification as (fields, sender pid), or None at the deadline or
    when the server has exited."""
    while time.monotonic() < deadline:
        # A datagram sent just before the server exited is still read.
        exited = proc.poll() is not None
        sock.settimeout(0.05)
        try:
            data, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            if exited:
                return None
            continue
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, _, _ = struct.unpack("iII", payload[:12])
        fields = dict(
            line.split("=", 1) for line in data.decode().splitlines() if "=" in line
        )
        return fields, pid
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cli", required=True, help="the ringkeeper binary, for cli/bench")
    ap.add_argument("--log", required=True)
    ap.add_argument("--cwd", required=True)
    ap.add_argument("--node", required=True, help="znode the write after READY creates")
    ap.add_argument("--seed-znodes", type=int, default=0)
    ap.add_argument("--seed-value-size", type=int, default=100000)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    if os.path.exists(a.socket):
        os.unlink(a.socket)
    sock.bind(a.socket)
    # The server runs as the unprivileged service user: it must be able to send.
    os.chmod(a.socket, 0o666)

    # The environment systemd gives a system service, plus NOTIFY_SOCKET.
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "NOTIFY_SOCKET": a.socket,
    }
    log = open(a.log, "ab")
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=env, cwd=a.cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=log
    )
    probe = {}
    prober = threading.Thread(
        target=probe_first_answer,
        args=(a.port, started + READY_TIMEOUT_S, probe),
        daemon=True,
    )
    prober.start()

    try:
        got = receive(sock, started + READY_TIMEOUT_S, proc)
        while got is not None and got[0].get("READY") != "1":
            got = receive(sock, started + READY_TIMEOUT_S, proc)
        if got is None:
            if proc.poll() is not None:
                fail(f"the server exited ({proc.returncode}) without sending READY=1")
            fail(f"no READY=1 within {READY_TIMEOUT_S:.0f} s")
        ready = time.monotonic()
        fields, pid = got
        if pid != proc.pid:
            fail(f"READY=1 came from pid {pid}, not the main process {proc.pid} "
                 "(the unit has NotifyAccess=main)")

        # The moment READY=1 arrives the server must take a write.
        w = subprocess.run(
            [a.cli, "cli", "-server", f"127.0.0.1:{a.port}", "create", a.node, "ready"],
            capture_output=True, timeout=30,
        )
        if w.returncode != 0:
            fail(f"a write right after READY=1 failed ({w.returncode}): "
                 f"{w.stdout.decode()} {w.stderr.decode()}")
        wrote = time.monotonic()

        prober.join(timeout=30)
        if "answered" not in probe:
            fail("the prober never got an answer to srvr")
        if not probe["reply"].startswith(b"Zookeeper version"):
            fail(f"srvr answered {probe['reply'][:80]!r}")
        lead = probe["answered"] - ready
        print(
            f"package_notify: READY=1 at {ready - started:.3f} s, first client answered "
            f"at {probe['answered'] - started:.3f} s, write after READY done at "
            f"{wrote - started:.3f} s",
            flush=True,
        )
        if lead > ORDER_TOLERANCE_S:
            fail(f"READY=1 came {lead:.3f} s before the server answered its first "
                 "client: readiness was reported before the server served")

        if a.seed_znodes:
            b = subprocess.run(
                [a.cli, "bench", "--servers", f"127.0.0.1:{a.port}", "--workload", "load",
                 "--znodes", str(a.seed_znodes), "--value-size", str(a.seed_value_size),
                 "--prefix", "/package-seed", "--keep", "-q"],
                capture_output=True, timeout=120,
            )
            if b.returncode != 0:
                fail(f"seeding failed: {b.stdout.decode()} {b.stderr.decode()}")
            print(f"package_notify: seeded {a.seed_znodes} znodes of "
                  f"{a.seed_value_size} bytes", flush=True)

        stop = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        got = receive(sock, stop + STOP_TIMEOUT_S, proc)
        while got is not None and got[0].get("STOPPING") != "1":
            got = receive(sock, stop + STOP_TIMEOUT_S, proc)
        if got is None:
            fail("no STOPPING=1 after SIGTERM")
        try:
            rc = proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            fail(f"still running {STOP_TIMEOUT_S:.0f} s after SIGTERM")
        if rc != 0:
            fail(f"exit status {rc} after SIGTERM")
        print(f"package_notify: SIGTERM: STOPPING=1, exit 0 in "
              f"{time.monotonic() - stop:.3f} s", flush=True)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
        os.unlink(a.socket)


if __name__ == "__main__":
    main()
