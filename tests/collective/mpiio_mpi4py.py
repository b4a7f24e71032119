"""An unmodified mpi4py program: MPI.File with a strided view, Write_at_all and
Read_at_all, Iwrite_at, shared and ordered file pointers. Run it under mpirun through
`cnio run` (or with libcnio_mpiio.so preloaded) on a cnio:// name; mpiio_check_file.py
then checks the file, fetched back with `cnio cp`, without MPI.

    mpiio_mpi4py.py NAME
"""
import sys

import numpy as np
from mpi4py import MPI
sys.stdout.reconfigure(line_buffering=True, write_through=False)  # one write a line, PYTHONUNBUFFERED or not

B, K, REC = 5, 40, 256   # ints per block, blocks per rank, Iwrite_at bytes per rank


def main():
    comm = MPI.COMM_WORLD
    r, n = comm.rank, comm.size
    f = MPI.File.Open(comm, sys.argv[1], MPI.MODE_CREATE | MPI.MODE_RDWR)
    # Rank r owns block k at ints (k * n + r) * B.
    vec = MPI.INT.Create_vector(1, B, B * n)
    ft = vec.Create_resized(0, B * n * 4).Commit()
    f.Set_view(r * B * 4, MPI.INT, ft)
    out = (np.arange(K * B, dtype='i4') + r * 1000000)
    st = MPI.Status()
    f.Write_at_all(0, out, st)
    assert st.Get_count(MPI.INT) == K * B
    back = np.zeros_like(out)
    f.Read_at_all(0, back, st)
    assert st.Get_count(MPI.INT) == K * B and (back == out).all()
    # Iwrite_at through the byte view, past the strided part.
    base = n * K * B * 4
    f.Set_view(0, MPI.BYTE, MPI.BYTE)
    rec = np.full(REC, r + 1, dtype='u1')
    req = f.Iwrite_at(base + r * REC, rec)
    req.Wait(st)
    assert st.Get_count(MPI.BYTE) == REC
    f.Sync()
    comm.Barrier()
    f.Sync()
    # Shared pointer: from the end, one 16-byte record per rank, in any order.
    f.Seek_shared(0, MPI.SEEK_END)
    assert f.Get_position_shared() == base + n * REC
    comm.Barrier()
    f.Write_shared(np.array([r, r * 7, r * 11, 0x5eed], dtype='i4'))
    comm.Barrier()
    assert f.Get_position_shared() == base + n * REC + 16 * n
    # Ordered: rank r writes r + 1 ints of value 100 + r, in rank order.
    f.Write_ordered(np.full(r + 1, 100 + r, dtype='i4'))
    size = f.Get_size()
    f.Close()
    if r == 0:
        print("mpi4py: wrote %d bytes with %d ranks" % (size, n))


if __name__ == "__main__":
    main()
