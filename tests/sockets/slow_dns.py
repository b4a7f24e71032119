#!/usr/bin/python3
"""slow_dns.py - a DNS server for tests: answers every A query for any name with ADDR
after DELAY seconds (other types: no answer records), on 127.0.0.1:53 (UDP), and keeps
the number of queries received in COUNT_FILE.

    slow_dns.py DELAY ADDR COUNT_FILE
"""
import socket
import struct
import sys
import threading

delay, addr, count_file = float(sys.argv[1]), sys.argv[2], sys.argv[3]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 53))
timers = []


def answer(query, peer):
    end = 12
    while end < len(query) and query[end] != 0:
        end += query[end] + 1
    question = query[12:end + 5]
    qtype = struct.unpack(">H", query[end + 1:end + 3])[0] if end + 3 <= len(query) else 0
    records = b""
    if qtype == 1:
        records = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(addr)
    head = query[:2] + b"\x81\x80" + struct.pack(">HHHH", 1, 1 if records else 0, 0, 0)
    sock.sendto(head + question + records, peer)


count = 0
while True:
    data, peer = sock.recvfrom(512)
    if len(data) < 17:
        continue
    count += 1
    with open(count_file, "w") as f:
        f.write(str(count))
    t = threading.Timer(delay, answer, (data, peer))
    t.daemon = True
    t.start()
