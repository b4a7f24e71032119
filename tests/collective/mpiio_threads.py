"""One MPI file shared by the threads of each rank (MPI_THREAD_MULTIPLE, mpi4py's default
level; MPI-3.1 12.4 allows it): independent write_at/read_at on disjoint ranges, and
writes at the individual file pointer, which must each take a range of their own.
It used to crash in the protocol stack (two threads in one connection's send queue).

usage: mpiio_threads.py URI"""
import sys
import threading

import numpy as np
from mpi4py import MPI
sys.stdout.reconfigure(line_buffering=True, write_through=False)  # one write a line, PYTHONUNBUFFERED or not

NT, NW, SZ = 4, 100, 5000


def main():
    comm = MPI.COMM_WORLD
    if MPI.Query_thread() != MPI.THREAD_MULTIPLE:
        print("SKIP: MPI did not give MPI_THREAD_MULTIPLE")
        return 0
    f = MPI.File.Open(comm, sys.argv[1], MPI.MODE_CREATE | MPI.MODE_RDWR)
    base = comm.rank * NT * NW * SZ
    errs = []

    def at(t):
        try:
            for i in range(NW):
                f.Write_at(base + (i * NT + t) * SZ, np.full(SZ, (t + i) % 256, "u1"))
            for i in range(NW):
                b = np.zeros(SZ, "u1")
                f.Read_at(base + (i * NT + t) * SZ, b)
                if not (b == (t + i) % 256).all():
                    errs.append(f"rank {comm.rank} thread {t}: wrong bytes at write {i}")
                    return
        except Exception as e:  # noqa: BLE001 - reported, fails the test
            errs.append(f"rank {comm.rank} thread {t}: {e!r}")

    def run(fn):
        ths = [threading.Thread(target=fn, args=(t,)) for t in range(NT)]
        for x in ths:
            x.start()
        for x in ths:
            x.join()

    run(at)
    comm.Barrier()
    # individual pointers: each rank's pointer starts at its own region of the second half
    total = comm.size * NT * NW * SZ
    f.Seek(total + base)

    def ptr(t):
        try:
            for i in range(NW):
                f.Write(np.full(SZ, 1 + t, "u1"))
        except Exception as e:  # noqa: BLE001
            errs.append(f"rank {comm.rank} thread {t}: {e!r}")

    run(ptr)
    if f.Get_position() != total + base + NT * NW * SZ:
        errs.append(f"rank {comm.rank}: pointer at {f.Get_position()}")
    b = np.zeros(NT * NW * SZ, "u1")
    f.Read_at(total + base, b)
    recs = b.reshape(NT * NW, SZ)
    whole = (recs == recs[:, :1]).all(axis=1)
    counts = np.bincount(recs[:, 0], minlength=NT + 1)[1:]
    if not whole.all() or not (counts == NW).all():
        errs.append(f"rank {comm.rank}: pointer writes overlapped ({counts.tolist()})")
    f.Close()
    errs = comm.allreduce(errs)
    if comm.rank == 0:
        print("\n".join(errs) if errs else "threads: every access landed whole")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
