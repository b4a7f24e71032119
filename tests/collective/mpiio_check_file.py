"""Checks, without MPI, the file mpiio_mpi4py.py wrote with N ranks.

    mpiio_check_file.py FILE N
"""
import sys

import numpy as np

B, K, REC = 5, 40, 256


def main():
    data = open(sys.argv[1], 'rb').read()
    n = int(sys.argv[2])
    base = n * K * B * 4
    ints = np.frombuffer(data[:base], dtype='i4')
    for k in range(K):
        for r in range(n):
            got = ints[(k * n + r) * B:(k * n + r + 1) * B]
            want = np.arange(k * B, (k + 1) * B, dtype='i4') + r * 1000000
            assert (got == want).all(), "strided block %d of rank %d: %s" % (k, r, got)
    for r in range(n):
        assert data[base + r * REC:base + (r + 1) * REC] == bytes([r + 1]) * REC, "Iwrite_at %d" % r
    sh = base + n * REC
    recs = np.frombuffer(data[sh:sh + 16 * n], dtype='i4').reshape(n, 4)
    assert sorted(recs[:, 0]) == list(range(n)), recs
    for rec in recs:
        assert list(rec) == [rec[0], rec[0] * 7, rec[0] * 11, 0x5eed], rec
    od = np.frombuffer(data[sh + 16 * n:], dtype='i4')
    want = np.concatenate([np.full(r + 1, 100 + r, dtype='i4') for r in range(n)])
    assert len(od) == len(want) and (od == want).all(), od
    print("checked %s: %d bytes, %d ranks" % (sys.argv[1], len(data), n))


if __name__ == "__main__":
    main()
