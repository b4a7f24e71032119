/*
 * mpi_init.c - what the cnio command gives MPI_Init (cli_mpi_init): Open MPI's defaults
 * for a command whose data goes over cnio's own connections, and a singleton's private
 * session directory, removed at exit and on the signals that end the command.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 1 when this host has an RDMA device (InfiniBand, Omni-Path, EFA, RoCE: anything under
 * /sys/class/infiniband), 0 when it has none. */
static int cli_host_has_rdma(void)
{
    DIR *d = opendir("/sys/class/infiniband");
    struct dirent *e;
    int found = 0;

    if (!d)
        return 0;
    while (!found && (e = readdir(d)))
        found = e->d_name[0] != '.';
    closedir(d);
    return found;
}

/* The private session directory base of a singleton (cli_mpi_init), removed at exit;
 * and what MPI_Init made in it, deepest first, for a removal a signal handler may make. */
static char cli_mpi_tmp[128];
static char cli_mpi_paths[16][256];
static int cli_mpi_npaths;

static int cli_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    remove(path);
    return 0;
}

static int cli_note_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)f;
    if (cli_mpi_npaths < (int)CNIO_ARRAY_LEN(cli_mpi_paths) && strlen(path) < 255 &&
        (flag == FTW_DP || flag == FTW_F)) {
        cli_mpi_paths[cli_mpi_npaths][0] = flag == FTW_DP ? 'd' : 'f';
        strcpy(cli_mpi_paths[cli_mpi_npaths++] + 1, path);
    }
    return 0;
}

/*
 * Removes from directory base the session directory bases (cnio-mpi-PID-XXXXXX) that
 * singletons of this user left when they could not remove their own (SIGKILL, a crash):
 * those whose process is gone. One whose PID a live process has again stays (as does
 * one of another user); a later start sweeps it.
 */
static void cli_mpi_sweep(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *e;

    while (d && (e = readdir(d))) {
        char path[sizeof(cli_mpi_tmp)], rest[16];
        struct stat sb;
        int pid, n = 0;

        if (sscanf(e->d_name, "cnio-mpi-%d-%15s%n", &pid, rest, &n) != 2 ||
            n != (int)strlen(e->d_name) || strlen(rest) != 6 || pid <= 0 ||
            (size_t)snprintf(path, sizeof(path), "%s/%s", base, e->d_name) >= sizeof(path) ||
            lstat(path, &sb) < 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != getuid() ||
            kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        nftw(path, cli_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (d)
        closedir(d);
}

static void cli_mpi_tmp_remove(void)
{
    if (cli_mpi_tmp[0])
        nftw(cli_mpi_tmp, cli_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void cli_mpi_tmp_remove_now(void)
{
    /* unlink and rmdir only: signal-safe. Each is tried: MPI_Finalize may have removed
     * some already. */
    for (int i = 0; i < cli_mpi_npaths; i++)
        (void)(cli_mpi_paths[i][0] == 'd' ? rmdir(cli_mpi_paths[i] + 1)
                                          : unlink(cli_mpi_paths[i] + 1));
}

/* The signals that end a cnio command without its atexit handlers: a singleton's
 * session directory is removed on them too (a pipe closed under `cnio cp URI -`, a
 * Ctrl-C), then the signal ends the process as it would have. */
static const int cli_end_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };

static void cli_end_handler(int sig)
{
    cli_mpi_tmp_remove_now();
    signal(sig, SIG_DFL);
    raise(sig);   /* delivered when the handler returns */
}

/* Catches cli_end_sigs (where not ignored: nohup's SIGHUP stays so). */
static void cli_end_catch(void)
{
    struct sigaction sa = { .sa_handler = cli_end_handler }, old;

    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < CNIO_ARRAY_LEN(cli_end_sigs); i++)
        if (sigaction(cli_end_sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(cli_end_sigs[i], &sa, NULL);
}

/*
 * hwloc without its I/O discovery, each variable only when the user has not set it. Open
 * MPI loads the host's topology in every rank; hwloc's PCI component reads each device's
 * configuration space (in a virtual machine a trap to the hypervisor a read), and its GL
 * plugin loads libX11 and tries X displays :0 to :9, over TCP to 127.0.0.1:6000-6009
 * among others. Where I/O devices sit only places fabric components near them, and
 * those are either skipped (no RDMA device) or not used by cnio's data.
 */
static void cli_hwloc_no_io(void)
{
    setenv("HWLOC_PLUGINS_BLACKLIST",
           "hwloc_pci,hwloc_gl,hwloc_opencl,hwloc_cuda,hwloc_nvml,hwloc_rsmi,hwloc_levelzero", 0);
    setenv("HWLOC_COMPONENTS", "-pci,-linuxio,-gl,-opencl,-cuda,-nvml,-rsmi,-levelzero", 0);
}

/*
 * MPI_Init, with Open MPI defaults for what the cnio command needs of MPI (a few small
 * collectives; its data goes over cnio's own connections), each only when the user has
 * not set that parameter (environment, or mpirun --mca, which reaches the ranks as the
 * same variables):
 * - run as one process (no launcher): an isolated singleton with ob1 and the self BTL;
 * - launched, on a host with no RDMA device: none of the fabric components (MTLs psm,
 *   psm2, ofi; BTLs ofi, openib, uct), which would find nothing to use there but load
 *   libfabric or the psm libraries, whose constructors calibrate a clock with short
 *   sleeps: 0.2 s of every rank's start (src/fabric_dl.h);
 * - in both cases, hwloc without its I/O discovery (cli_hwloc_no_io).
 */
void cli_mpi_init(void)
{
    static const char *const launched[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK" };
    int singleton = 1;
    sigset_t ends, mask;

    for (size_t i = 0; i < CNIO_ARRAY_LEN(launched); i++)
        if (getenv(launched[i]))
            singleton = 0;
    /* A singleton's signals that end it wait until what MPI_Init makes in its session
     * directory is noted for the handler (its MPI_Init takes some 20 ms, and needs no
     * network); launched ranks' MPI_Init is left as it is. */
    sigemptyset(&ends);
    for (size_t i = 0; singleton && i < CNIO_ARRAY_LEN(cli_end_sigs); i++)
        sigaddset(&ends, cli_end_sigs[i]);
    sigprocmask(SIG_BLOCK, &ends, &mask);
    if (singleton && !getenv("OMPI_MCA_orte_tmpdir_base")) {
        /* Open MPI's singletons share one session directory (TMPDIR/ompi.HOST.UID/jf.0),
         * and one that exits removes it while another is making its own there: MPI_Init
         * then fails ("A call to mkdir was unable to create the desired directory"), about
         * once in 180 starts of two cnio commands at a time. Each gets a base of its own. */
        const char *t = getenv("TMPDIR");

        t = t && *t && strlen(t) < sizeof(cli_mpi_tmp) - 40 ? t : "/tmp";
        cli_mpi_sweep(t);
        snprintf(cli_mpi_tmp, sizeof(cli_mpi_tmp), "%s/cnio-mpi-%d-XXXXXX", t, (int)getpid());
        if (mkdtemp(cli_mpi_tmp) && atexit(cli_mpi_tmp_remove) == 0)
            setenv("OMPI_MCA_orte_tmpdir_base", cli_mpi_tmp, 1);
        else
            cli_mpi_tmp[0] = '\0';
    }
    if (singleton) {
        setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
        setenv("OMPI_MCA_pml", "ob1", 0);
        setenv("OMPI_MCA_btl", "self", 0);
        cli_hwloc_no_io();
    } else if (!cli_host_has_rdma()) {
        setenv("OMPI_MCA_mtl", "^psm,psm2,ofi", 0);
        setenv("OMPI_MCA_btl", "^ofi,openib,uct", 0);
        cli_hwloc_no_io();
    }
    MPI_Init(NULL, NULL);
    if (cli_mpi_tmp[0]) {
        nftw(cli_mpi_tmp, cli_note_one, 16, FTW_DEPTH | FTW_PHYS);
        cli_end_catch();
    }
    sigprocmask(SIG_SETMASK, &mask, NULL);
}
