#!/usr/bin/python3
"""job_auth.py - drives a job proxy's TCP listener (sockets/proxy_job.c) as a node proxy
would, and as intruders would.

    job_auth.py PORT SECRET JOBKEY

Checks: a peer with the wrong key is dropped without the proxy's proof; a peer that sends
a protocol message instead of the proof is dropped; a peer that sends less than a proof
and goes silent gets nothing; a peer with the right key gets the proxy's proof (which it
checks: mutual authentication) and then an answer to STATS_REQ. Prints one line per
check; exit 0 when all pass.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys

port, secret, jobkey = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
key = hmac.new(secret, ("cnio-sockets job proxy " + jobkey).encode(), hashlib.sha256).digest()
# skproto.h: header (magic, version, type, payload length), then 6 i32, name, service and
# address (u16 length + bytes each), u32 count of addresses: all empty here.
STATS_REQ = struct.pack("<HBBI", 0x4B53, 1, 9, 34) + b"\0" * 34


def mac(tag, a, b, k=key):
    return hmac.new(k, tag + a + b, hashlib.sha256).digest()


def dial():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    nonce = b""
    while len(nonce) < 32:
        chunk = s.recv(32 - len(nonce))
        if not chunk:
            raise SystemExit("FAIL: no nonce from the job proxy")
        nonce += chunk
    return s, nonce


def closed(s):
    """True when the proxy closed s without sending anything."""
    try:
        return s.recv(64) == b""
    except ConnectionResetError:
        return True


failures = 0


def check(what, ok):
    global failures
    print(("ok   " if ok else "FAIL ") + what)
    failures += 0 if ok else 1


s, ns = dial()
nc = os.urandom(32)
s.sendall(nc + mac(b"C", ns, nc, k=hashlib.sha256(b"wrong").digest()))
check("a wrong key is dropped without the proxy's proof", closed(s))

s, ns = dial()
s.sendall(STATS_REQ + b"\0" * 22)
check("a protocol message instead of the proof is dropped", closed(s))

s, ns = dial()
s.sendall(os.urandom(40))
s.settimeout(1.0)
try:
    got = s.recv(64)
    check("half a proof gets nothing", False)
except socket.timeout:
    check("half a proof gets nothing", True)
s.close()

s, ns = dial()
nc = os.urandom(32)
s.sendall(nc + mac(b"C", ns, nc))
proof = b""
while len(proof) < 32:
    chunk = s.recv(32 - len(proof))
    if not chunk:
        break
    proof += chunk
check("the right key gets the proxy's proof, which checks out",
      hmac.compare_digest(proof, mac(b"S", nc, ns)))
s.sendall(STATS_REQ)
hdr = b""
while len(hdr) < 8:
    chunk = s.recv(8 - len(hdr))
    if not chunk:
        raise SystemExit("FAIL: the proxy closed the authenticated connection")
    hdr += chunk
magic, ver, typ, length = struct.unpack("<HBBI", hdr)
body = b""
while len(body) < length:
    body += s.recv(length - len(body))
check("then the protocol: STATS_REQ answered with the report",
      typ == 10 and b"job proxy 127.0.0.1:%d" % port in body)
sys.exit(1 if failures else 0)
