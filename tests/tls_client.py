"""A ZooKeeper client over TLS written on Python's ssl module (OpenSSL), for tests/tls.rs:
a TLS stack and a protocol encoder nobody on the team wrote.

usage: tls_client.py HOST PORT CA_PEM CERT_PEM|- KEY_PEM|- [STEP ...]
STEP: create:PATH:DATA:ACL (ACL is world or x509=<DN>) | get:PATH | servercert |
      waitfile:PATH (waits, up to 60 s, until PATH exists) | auth:SCHEME:DATA (addauth)
A single STEP 4lw:WORD sends that four-letter word instead of a session and prints
the answer after `4lw`.
Prints one line per step: `connected <tls version>`, `create <err>`, `get <err> <data>`,
`servercert <the server certificate's CN>`, `waitfile <found|timeout>`, `auth <err>`;
a failed handshake prints `handshake-failed <reason>`, a closed connection `closed`.
"""

import os
import socket
import ssl
import struct
import sys
import time


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def string(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed")
        buf += chunk
    return buf


def read_frame(sock):
    (n,) = struct.unpack(">i", read_exact(sock, 4))
    return read_exact(sock, n)


def main():
    host, port, ca, cert, key = sys.argv[1:6]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    if cert != "-":
        ctx.load_cert_chain(cert, key)
    raw = socket.create_connection((host, int(port)), timeout=10)
    try:
        sock = ctx.wrap_socket(raw)
        if sys.argv[6:7] and sys.argv[6].startswith("4lw:"):
            sock.sendall(sys.argv[6][4:].encode())
            out = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                out += chunk
            print("4lw")
            print(out.decode(), flush=True)
            return
        body = struct.pack(">iqiq", 0, 0, 30000, 0) + struct.pack(">i", 16) + b"\0" * 16 + b"\0"
        sock.sendall(frame(body))
        read_frame(sock)
    except (ssl.SSLError, OSError, EOFError) as e:
        print("handshake-failed", type(e).__name__, e)
        return
    print("connected", sock.version(), flush=True)
    xid = 1
    for step in sys.argv[6:]:
        op, _, rest = step.partition(":")
        try:
            if op == "create":
                path, data, acl = rest.split(":", 2)
                if acl == "world":
                    scheme, ident = "world", "anyone"
                else:
                    scheme, ident = acl.split("=", 1)
                req = struct.pack(">ii", xid, 1) + string(path) + struct.pack(">i", len(data)) + data.encode()
                req += struct.pack(">i", 1) + struct.pack(">i", 31) + string(scheme) + string(ident)
                req += struct.pack(">i", 0)
                sock.sendall(frame(req))
                r = read_frame(sock)
                (_, _, err) = struct.unpack(">iqi", r[:16])
                print("create", err)
            elif op == "get":
                req = struct.pack(">ii", xid, 4) + string(rest) + b"\0"
                sock.sendall(frame(req))
                r = read_frame(sock)
                (_, _, err) = struct.unpack(">iqi", r[:16])
                data = ""
                if err == 0:
                    (n,) = struct.unpack(">i", r[16:20])
                    data = r[20:20 + n].decode() if n > 0 else ""
                print("get", err, data, flush=True)
            elif op == "auth":
                scheme, data = rest.split(":", 1)
                # AuthPacket {int type; ustring scheme; buffer auth}, xid -4.
                req = struct.pack(">ii", -4, 100) + struct.pack(">i", 0) + string(scheme)
                req += struct.pack(">i", len(data)) + data.encode()
                sock.sendall(frame(req))
                r = read_frame(sock)
                (_, _, err) = struct.unpack(">iqi", r[:16])
                print("auth", err, flush=True)
            elif op == "servercert":
                subject = dict(kv for rdn in sock.getpeercert()["subject"] for kv in rdn)
                print("servercert", subject.get("commonName", ""), flush=True)
            elif op == "waitfile":
                deadline = time.monotonic() + 60
                while not os.path.exists(rest) and time.monotonic() < deadline:
                    time.sleep(0.05)
                print("waitfile", "found" if os.path.exists(rest) else "timeout", flush=True)
        except (ssl.SSLError, OSError, EOFError):
            print("closed")
            return
        xid += 1
    sock.close()


main()
