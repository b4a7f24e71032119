#!/usr/bin/python3
"""A cnio server that lies, for the client's bounds (hostile-list.test): it authenticates
as a cnio-server does (CHALLENGE, then the HMAC-SHA256 proof, doc/protocol.md), answers
PING and STAT, and answers every LIST with F_MORE set:

  hostile_server.py KEYFILE PORTFILE empty   no entries, the same cursor, forever
  hostile_server.py KEYFILE PORTFILE full    64 KiB of new entries each time, the cursor
                                             moved on, forever
  hostile_server.py KEYFILE PORTFILE dribble two pages of 300 entries, then the end; every
                                             reply sent one byte at a time (the client's
                                             reads end anywhere in a header or payload)

It writes its port to PORTFILE and serves until killed."""
import hashlib, hmac, os, socket, struct, sys, threading

MAGIC, HDR = b"CNIO", struct.Struct("<HHIiQQQQIII")
T_CHALLENGE, T_AUTH, T_PING, T_OPEN, T_STAT, T_LIST = 1, 2, 3, 16, 17, 22
F_MORE, I_DIR = 1, 2

_table = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _table.append(c)


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _table[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def header(typ, payload=b"", flags=0, status=0, reqid=0, session=42, obj=0, offset=0):
    h = MAGIC + HDR.pack(1, typ, flags, status, reqid, session, obj, offset, len(payload),
                         crc32c(payload) if payload else 0, 0)
    return h + struct.pack("<I", crc32c(h))


def recvn(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b


def info(size=0, flags=0, mode=0o644, unit=1 << 20, count=1):
    if flags & I_DIR:
        unit = count = 0
    return struct.pack("<QIIQQIIq", unit, count, 0, size, size, flags | (mode << 16), 0,
                       10 ** 18)


class Dribble:
    """A socket whose sendall sends one byte at a time, each in its own segment."""

    def __init__(self, s):
        self.s = s
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def sendall(self, b):
        for i in range(len(b)):
            self.s.send(b[i:i + 1])

    def recv(self, n):
        return self.s.recv(n)


def serve(s, key, mode):
    if mode == "dribble":
        s = Dribble(s)
    nonce = os.urandom(32)
    ch = struct.pack("<IIII", 7, 16 << 20, 16, 0) + nonce
    s.sendall(header(T_CHALLENGE, ch) + ch)
    while True:
        v, typ, flags, st, reqid, sess, obj, off, ln, pc, rs = HDR.unpack(recvn(s, 64)[4:60])
        p = recvn(s, ln) if ln else b""
        if typ == T_AUTH:
            proof = hmac.new(key, b"cnio-server-v1" + p[16:48] + nonce, hashlib.sha256).digest()
            s.sendall(header(T_AUTH | 0x8000, proof, reqid=reqid) + proof)
        elif typ == T_PING:
            s.sendall(header(T_PING | 0x8000, p, reqid=reqid) + p)
        elif typ == T_STAT:   # everything is a directory
            pl = info(flags=I_DIR, mode=0o40755)
            s.sendall(header(T_STAT | 0x8000, pl, reqid=reqid) + pl)
        elif typ == T_LIST and mode == "dribble":
            pl = b""
            for i in range(300):
                name = b"d%06d" % (off + i)
                pl += info(size=1) + struct.pack("<II", len(name), 0) + name
            more = F_MORE if off == 0 else 0
            s.sendall(header(T_LIST | 0x8000, pl, flags=more, reqid=reqid, offset=off + 300) + pl)
        elif typ == T_LIST and mode == "empty":
            s.sendall(header(T_LIST | 0x8000, flags=F_MORE, reqid=reqid, offset=off))
        elif typ == T_LIST:
            pl, i = b"", 0
            while len(pl) + 100 <= 65536:
                name = b"x%012d%06d" % (off, i)
                pl += info(size=1) + struct.pack("<II", len(name), 0) + name
                i += 1
            s.sendall(header(T_LIST | 0x8000, pl, flags=F_MORE, reqid=reqid, offset=off + i) + pl)
        else:
            s.sendall(header(typ | 0x8000, status=-10, reqid=reqid))


def main():
    key = open(sys.argv[1], "rb").read().strip()
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    while True:
        c, _ = ls.accept()

        def run(c=c):
            try:
                serve(c, key, sys.argv[3])
            except (EOFError, OSError):
                pass
            finally:
                c.close()
        threading.Thread(target=run, daemon=True).start()


main()
