#!/usr/bin/python3
"""A relay in front of one cnio-server that counts the requests clients send it, for tests
that count what a command asks of each host (frames: doc/protocol.md):

  frame_count.py TARGET_PORT PORTFILE LOGFILE [CUT_TYPE]

It listens on an ephemeral port of 127.0.0.1 (written to PORTFILE), forwards each
connection to 127.0.0.1:TARGET_PORT both ways, and appends to LOGFILE the type of every
frame a client sends, one decimal number a line (a stream it cannot parse: "?", then
bytes relayed as they come). With CUT_TYPE, a client frame of that type is logged and
not forwarded: the relay closes that connection both ways instead, as a server lost
at that request (the requests before it were answered). It serves until killed."""
import os, socket, struct, sys, threading

HDR_SIZE, MAGIC = 64, b"CNIO"


def recv_exact(s, n):
    b = bytearray()
    while len(b) < n:
        part = s.recv(n - len(b))
        if not part:
            return None
        b += part
    return bytes(b)


def note(logfd, text):
    os.write(logfd, (text + "\n").encode())


def client_to_server(c, s, logfd, cut):
    try:
        while True:
            h = recv_exact(c, HDR_SIZE)
            if h is None:
                break
            if h[:4] != MAGIC:
                note(logfd, "?")
                s.sendall(h)
                while True:
                    b = c.recv(65536)
                    if not b:
                        return
                    s.sendall(b)
            typ, length = struct.unpack_from("<H", h, 6)[0], struct.unpack_from("<I", h, 48)[0]
            note(logfd, str(typ))
            if typ == cut:
                break
            s.sendall(h)
            while length:
                b = c.recv(min(length, 65536))
                if not b:
                    return
                s.sendall(b)
                length -= len(b)
    except OSError:
        pass
    finally:
        for x in (s, c):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def server_to_client(s, c):
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            c.sendall(b)
    except OSError:
        pass
    finally:
        for x in (c, s):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(c, target, logfd, cut):
    try:
        s = socket.create_connection(("127.0.0.1", target), timeout=30)
        s.settimeout(None)
    except OSError:
        c.close()
        return
    t = threading.Thread(target=server_to_client, args=(s, c), daemon=True)
    t.start()
    client_to_server(c, s, logfd, cut)
    t.join()
    s.close()
    c.close()


def main():
    target, portfile, logfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    cut = int(sys.argv[4]) if len(sys.argv) > 4 else None
    logfd = os.open(logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, target, logfd, cut), daemon=True).start()


main()
