/*
 * cp_src.c - a remote SRC of `cnio cp` that may change while it is copied: rank 0
 * looks at it before each pass and after it (cp_src_look: whether a live writer has it
 * open in place, and a mark of what its hosts hold), keeps a pass from beginning while a
 * writer is live (cp_src_gate), and judges a finished pass (cp_src_changed): the same
 * object throughout, or one to copy again, or after CLI_PASSES passes a failure.
 * cp_transfer (cp.c) makes the passes.
 */
#include "cp.h"
#include "client.h"
#include "../../collective/coll.h"

#include <errno.h>
#include <mpi.h>

/*
 * Rank 0: whether a live writer has a remote SRC open in place now (where the servers
 * can say: CNIO_WIRE_CAP_INPLACE), and a mark of what its hosts hold (their update
 * counts, sizes and mtimes), asked before each pass and after it over the copy's own
 * connections (a STAT by handle), or by name of servers that say it so alone (no mark
 * then). A read during a live update may see old and new bytes mixed, which MPI's
 * consistency semantics allow (doc/mpiio.md) but a copy is not: cp_transfer copies
 * again (or, --live, goes on and says so). A mark that moved with no writer live at the
 * end is an update that came and went during the pass: cp_transfer copies again. A
 * STAT that fails says nothing: the copy's own reads report what is wrong with the
 * object.
 */
void cp_src_look(const struct cp_job *j, struct cp_look *l)
{
    struct cnio_obj_stat s;
    int r = j->src.remote && j->rank == 0 ? cnio__obj_inplace(cnio__file_obj(j->src.fh),
                                                              &l->mark) : 0;

    l->known = j->src.remote && j->rank == 0 && r >= 0;
    l->torn = r == -CNIO_ERR_INCOMPLETE;
    if (r == -CNIO_ERR_NOTSUP)   /* (servers of 2026-12-05 before CAP_INPLACE_HANDLE) */
        r = cli_obj_stat(NULL, &j->o, j->src.name, &s) == 0 && !s.is_dir &&
            (s.state & CNIO_OBJ_INPLACE);
    l->inplace = r == 1;
}

/* cli_live_wait's look at SRC (rank 0's): cp_src_look into l. */
struct cp_relook {
    const struct cp_job *j;
    struct cp_look *l;
};

static int cp_look_again(void *arg)
{
    struct cp_relook *r = arg;

    cp_src_look(r->j, r->l);
    return r->l->inplace;
}

/* Rank 0: the copy fails, SRC's update in place having been interrupted (cp_look's torn). */
static int cp_torn(const struct cp_job *j)
{
    return cp_local_fail(&j->src, EIO, CLI_TORN "; nothing was kept: " CLI_TORN_ADVICE);
}

/* Rank 0, after a pass (before: the look before it, after: the look now): what it saw
 * (cli_pass_verdict's, or CLI_PASS_TORN). */
static int cp_src_verdict(const struct cp_job *j, const struct cp_look *before,
                          const struct cp_look *after)
{
    if (after->torn)
        return CLI_PASS_TORN;
    return cli_pass_verdict(j->o.live, before->inplace, after->inplace,
                            before->known && after->known && before->mark != after->mark);
}

/*
 * Before pass `pass` (rc: this rank's code so far): a live writer that has SRC open in
 * place now (rank 0's look *l) would make the pass one to refuse (cli_pass_verdict), so
 * it is not begun while one has: rank 0 waits for the writer to close (cli_live_wait, *l
 * then the look after it), and a writer still live after the wait fails the copy before
 * a byte of the pass is moved (said by cp_report). A pass made regardless used to move
 * the whole object for nothing, CLI_PASSES times before the copy failed. Nothing is
 * waited for with --live, or with no writer live. 0, or a negative code (agreed: the
 * other ranks wait here for rank 0). Collective.
 */
int cp_src_gate(struct cp_job *j, struct cp_look *l, int rc)
{
    struct cp_relook r = { j, l };

    if (rc == 0 && j->rank == 0 && l->inplace && !j->o.live &&
        cli_live_wait(cp_look_again, &r) == 1)
        rc = cp_local_fail(&j->src, EIO, "being written in place by a live writer (a program "
                           "has it open, still after " CLI_LIVE_WAIT_S " of waiting for it to "
                           "close); nothing was kept: " CLI_LIVE_ADVICE);
    if (rc == 0 && j->rank == 0 && l->torn)   /* (its writer went, before or in the wait) */
        rc = cp_torn(j);
    return cp_agree(rc);
}

/* Rank 0: says why pass `pass` (not the first) is made (not with -q). */
void cp_say_again(const struct cp_job *j, int why, int pass)
{
    if (j->o.quiet)
        return;
    if (why == CLI_PASS_MOVED)
        cli_err("%scnio cp: %s changed as it was read (updated in place during the copy); "
                "copying it again (pass %d of %d)\n", j->tty ? "\n" : "", j->src.name,
                pass, CLI_PASSES);
    else
        cli_err("%scnio cp: %s was being written by a live writer (a program had it open in "
                "place) as pass %d ended, and it has closed it since; copying it again (pass "
                "%d of %d)\n", j->tty ? "\n" : "", j->src.name, pass - 1, pass, CLI_PASSES);
}

/*
 * After a pass that succeeded: why it is to be made again (agreed; CLI_PASS_SAME, 0: it
 * is not): a live writer had SRC open in place at either end of it, or SRC changed during
 * it with no writer live at its end (cp_src_verdict; before: rank 0's look before the
 * pass, *after: its look now), so that DST may hold bytes of before an update in place
 * with bytes of after it, and copying again gets the one version there now (once a
 * writer still live has closed it: cp_src_gate). After CLI_PASSES passes it is a failure
 * instead (*rc, said by cp_report). Collective.
 */
int cp_src_changed(struct cp_job *j, int pass, const struct cp_look *before,
                   struct cp_look *after, int *rc)
{
    int why = 0;

    cp_src_look(j, after);
    if (j->rank == 0)
        why = cp_src_verdict(j, before, after);
    MPI_Bcast(&why, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (why == CLI_PASS_TORN) {
        *rc = cp_agree(j->rank != 0 ? 0 : cp_torn(j));
        return CLI_PASS_SAME;
    }
    if (why == CLI_PASS_SAME || pass < CLI_PASSES)
        return why;
    *rc = cp_agree(j->rank != 0 ? 0 : cp_local_fail(&j->src, EIO, why == CLI_PASS_MOVED
                   ? "changed as it was read (updated in place during each of the "
                     "copy's " CLI_PASSES_S " passes); nothing was kept: copy it again "
                     "once its writers are done"
                   : "written in place by a live writer (a program had it open) during "
                     "the last of the copy's " CLI_PASSES_S " passes; nothing was kept: "
                     CLI_LIVE_ADVICE));
    return CLI_PASS_SAME;
}
