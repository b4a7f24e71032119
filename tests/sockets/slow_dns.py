#!/usr/bin/python3
"""slow_dns.py - a DNS server for tests: answers every A query for any name with ADDR
after DELAY seconds (other types: no answer records), on 127.0.0.1:53 (UDP; or on
BIND_ADDR:53), and keeps the number of queries received in COUNT_FILE. With ONLY_NAME,
queries for other names are answered at once with NXDOMAIN and not counted.

    slow_dns.py DELAY ADDR COUNT_FILE [BIND_ADDR [ONLY_NAME]]
"""
import socket
import struct
import sys
import threading

delay, addr, count_file = float(sys.argv[1]), sys.argv[2], sys.argv[3]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1", 53))
timers = []
only = sys.argv[5].lower().encode() if len(sys.argv) > 5 else None


def qname(query):
    labels, i = [], 12
    while i < len(query) and query[i] != 0:
        labels.append(query[i + 1:i + 1 + query[i]])
        i += query[i] + 1
    return b".".join(labels).lower()


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
    if only is not None and qname(data) != only:
        end = 12
        while end < len(data) and data[end] != 0:
            end += data[end] + 1
        sock.sendto(data[:2] + b"\x81\x83" + struct.pack(">HHHH", 1, 0, 0, 0) + data[12:end + 5], peer)
        continue
    count += 1
    with open(count_file, "w") as f:
        f.write(str(count))
    t = threading.Timer(delay, answer, (data, peer))
    t.daemon = True
    t.start()
