"""mpiio_diff.c's companion in mpi4py: what a Python user sees of MPI.File (error classes
of the exceptions, status counts, values read back, positions), one line per check and
rank, printed by rank 0 in rank order. mpiio-diff.test runs it on a local directory and,
through `cnio run`, on a cnio:// prefix, and diffs the two outputs.

    mpiio_diff.py BASE [romio|ompio]   (the MPI-IO underneath a local BASE)
"""
import sys

import numpy as np
from mpi4py import MPI
sys.stdout.reconfigure(line_buffering=True, write_through=False)  # one write a line, PYTHONUNBUFFERED or not

def cls(e):
    c = e.Get_error_class()
    for n in ('ERR_NO_SUCH_FILE', 'ERR_FILE_EXISTS', 'ERR_AMODE', 'ERR_ACCESS',
              'ERR_READ_ONLY', 'ERR_ARG', 'ERR_IO', 'ERR_COUNT', 'ERR_TYPE', 'ERR_FILE',
              'ERR_UNSUPPORTED_OPERATION', 'ERR_NOT_SAME', 'ERR_OTHER'):
        if c == getattr(MPI, n):
            return n[4:]
    return 'class%d' % c


def main():
    comm = MPI.COMM_WORLD
    r, n = comm.rank, comm.size
    base = sys.argv[1]
    impl = sys.argv[2] if len(sys.argv) > 2 else 'cnio'
    lines = []

    def say(tag, *v):
        lines.append(tag + ' ' + ' '.join(str(x) for x in v))

    def attempt(tag, fn):
        try:
            res = fn()
            say(tag, 'ok')
            return res
        except MPI.Exception as e:
            say(tag, cls(e))
            return None

    def status(tag, st, dt):
        say(tag, st.Get_count(dt), st.Get_elements(dt), st.Get_elements(MPI.BYTE))

    name = base + '/py'
    attempt('open_missing', lambda: MPI.File.Open(comm, name, MPI.MODE_RDONLY))
    f = MPI.File.Open(comm, name, MPI.MODE_CREATE | MPI.MODE_RDWR)
    # rank r owns 3 ints of every 3 * n, after a 20-byte header
    ft = MPI.INT.Create_vector(1, 3, 3 * n).Create_resized(0, 3 * n * 4).Commit()
    f.Set_view(20 + 12 * r, MPI.INT, ft)
    st = MPI.Status()
    out = np.arange(7, dtype='i4') + 100 * r
    f.Write_all(out, st)
    status('write_all', st, MPI.INT)
    say('position', f.Get_position(), f.Get_byte_offset(f.Get_position()))
    f.Sync()
    comm.Barrier()
    f.Sync()
    back = np.full(9, -1, dtype='i4')
    f.Read_at_all(0, back, st)
    status('~read_at_all_eof', st, MPI.INT)  # ROMIO and OMPIO count what was asked
    say('read_vals', *back[:7])
    # OMPIO's nonblocking read that meets the end of the file never completes
    if impl != 'ompio':
        req = f.Iread_at(5, back)
        req.Wait(st)
        status('~iread_at_eof', st, MPI.INT)
    else:
        say('~iread_at_eof', 'skipped')
    f.Set_view(0, MPI.BYTE, MPI.BYTE)
    say('size', f.Get_size())
    f.Seek_shared(0, MPI.SEEK_END)
    f.Write_ordered(np.full(r + 1, r + 1, dtype='u1'), st)
    status('write_ordered', st, MPI.BYTE)
    comm.Barrier()  # a collective call need not synchronise: every rank's part first
    say('position_shared', f.Get_position_shared())
    attempt('seek_negative', lambda: f.Seek(-1, MPI.SEEK_SET))
    attempt('write_negative_offset', lambda: f.Write_at(-8, out))
    f.Close()
    attempt('open_excl', lambda: MPI.File.Open(comm, name, MPI.MODE_CREATE | MPI.MODE_EXCL |
                                                MPI.MODE_WRONLY))
    f = MPI.File.Open(comm, name, MPI.MODE_RDONLY)
    attempt('write_read_only', lambda: f.Write_at(0, out))
    back = np.zeros(8, dtype='u1')
    f.Read_at(f.Get_size() - 4, back, st)
    status('read_tail', st, MPI.BYTE)
    say('tail', *back[:4])
    f.Close()
    if r == 0:
        attempt('delete', lambda: MPI.File.Delete(name))
        attempt('delete_again', lambda: MPI.File.Delete(name))
    allout = comm.gather(lines, root=0)
    if r == 0:
        for k, ls in enumerate(allout):
            for line in ls:
                print('py r%d %s' % (k, line))


main()
