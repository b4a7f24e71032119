/*
 * live.c - what `cnio cp` and `cnio cp -r` do about a source object that a live writer
 * (an MPI program) has open in place while they copy it: how a pass over it is judged
 * (cli_pass_verdict), and the wait for such a writer to close (cli_live_wait, paced by
 * cli_live_pause_ms). cp_src.c looks through rank 0's connections to the object,
 * tree_file.c and stream.c through the open of the one process reading it
 * (cli_live_wait_obj): the look is theirs, the rule and the wait are these.
 */
#include "cli.h"
#include "client.h"

#include <unistd.h>

unsigned cli_live_pause_ms(int k)
{
    unsigned ms = 100, spent = 0;

    for (int i = 0; i < k; i++) {
        spent += ms;
        ms = ms * 2 > 1000 ? 1000 : ms * 2;
    }
    return spent >= CLI_LIVE_WAIT_MS ? 0 : CNIO_MIN(ms, CLI_LIVE_WAIT_MS - spent);
}

int cli_live_wait(int (*look)(void *arg), void *arg)
{
    unsigned ms;
    int now = 1;

    for (int k = 0; now == 1 && (ms = cli_live_pause_ms(k)) != 0; k++) {
        usleep(ms * 1000u);
        now = look(arg);
    }
    return now;
}

/* cli_live_wait's look through an open of the object: cnio__obj_inplace, its mark into
 * *mark. */
struct live_relook {
    struct cnio_obj *obj;
    uint64_t *mark;
};

static int live_look_again(void *arg)
{
    struct live_relook *r = arg;

    return cnio__obj_inplace(r->obj, r->mark);
}

int cli_live_wait_obj(struct cnio_obj *obj, uint64_t *mark)
{
    struct live_relook r = { obj, mark };

    return cli_live_wait(live_look_again, &r);
}

int cli_pass_verdict(int live_ok, int live_before, int live_after, int moved)
{
    if (!live_ok && (live_before || live_after))
        return CLI_PASS_LIVE;
    return moved && !live_after ? CLI_PASS_MOVED : CLI_PASS_SAME;
}
