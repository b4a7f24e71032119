# A parallel h5py program, unmodified for cnio (tests/clients/clients.test):
#   mpirun -n 4 cnio run /usr/bin/python3 h5py_write.py cnio://h1,h2/run/out.h5
# Each rank writes its block of rows of a 2-D dataset collectively, then every rank
# reads the whole dataset back and checks it. d[i, j] = i * 1000 + j.
import sys
import numpy as np
from mpi4py import MPI
sys.stdout.reconfigure(line_buffering=True, write_through=False)  # one write a line, PYTHONUNBUFFERED or not
import h5py

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
rows, cols = 16 * size, 1000
with h5py.File(sys.argv[1], "w", driver="mpio", comm=comm) as f:
    d = f.create_dataset("d", (rows, cols), dtype="i4")
    f.attrs["ranks"] = size
    block = np.arange(rank * 16 * cols, (rank + 1) * 16 * cols, dtype="i4").reshape(16, cols)
    block = (block // cols) * 1000 + block % cols
    with d.collective:
        d[rank * 16:(rank + 1) * 16, :] = block
with h5py.File(sys.argv[1], "r", driver="mpio", comm=comm) as f:
    got = f["d"][...]
    want = np.arange(rows)[:, None] * 1000 + np.arange(cols)[None, :]
    ok = bool((got == want).all()) and int(f.attrs["ranks"]) == size
ok = comm.allreduce(ok, op=MPI.LAND)
if rank == 0:
    print("h5py_write:", "ok" if ok else "MISMATCH", sys.argv[1])
sys.exit(0 if ok else 1)
