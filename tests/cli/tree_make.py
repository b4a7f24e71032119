#!/usr/bin/python3
"""Makes the test tree of tests/cli/tree.test: DIR with N files of mixed sizes (most
small, a few MiB-sized), empty files, a sparse file, empty directories, a symlink that
points outside the tree, names with spaces and unicode, and varied modes and mtimes.
Deterministic (a seeded generator). Usage: tree_make.py DIR N"""
import os
import random
import sys

top, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
os.makedirs(top)
dirs = [""]
for d in ["a", "a/b", "a/b/c", "b", "space dir", "ünïcödé", "deep/1/2/3/4"]:
    os.makedirs(os.path.join(top, d), exist_ok=True)
    dirs.append(d)
for d in ["empty", "a/empty too", "deep/1/2/3/4/empty"]:
    os.makedirs(os.path.join(top, d))
big = {5: 5 << 20, 6: 1 << 20, 7: (3 << 20) + 12345}   # MiB-sized: a few
for i in range(n):
    d = dirs[i % len(dirs)]
    name = "f%04d" % i + (" with space" if i % 97 == 0 else "") + ("_é" if i % 89 == 0 else "")
    path = os.path.join(top, d, name)
    size = big.get(i, 0 if i % 50 == 0 else rnd.choice([rnd.randrange(1, 512),
                                                       rnd.randrange(512, 8192),
                                                       rnd.randrange(8192, 65536)]))
    with open(path, "wb") as f:
        f.write(rnd.randbytes(size))
    os.chmod(path, rnd.choice([0o644, 0o600, 0o640, 0o755]))
    t = 1500000000 + rnd.randrange(0, 200000000)
    os.utime(path, ns=(t * 10**9 + rnd.randrange(10**9),) * 2)
with open(os.path.join(top, "a/sparse"), "wb") as f:   # 6 MiB, two bytes of data
    f.truncate(6 << 20)
    f.seek(1 << 20)
    f.write(b"x")
    f.seek((5 << 20) + 7)
    f.write(b"y")
os.symlink("../../outside/target", os.path.join(top, "a/b/link out"))
os.symlink("f0001", os.path.join(top, "a/link in"))
os.chmod(os.path.join(top, "b"), 0o750)
