/*
 * stack_calls.c - synchronous calls on the stack: a batch of requests, each to its own
 * endpoint, submitted as credits allow and waited for together (what control paths and
 * the namespace requests use). Built on stack.h's request interface only.
 */
#include "common.h"
#include "stack.h"

static void stk_call_done(struct cnio_req *r)
{
    struct cnio_call *c = r->arg;

    c->status = r->status;
    c->rlen = r->rlen;
    c->rflags = r->rflags;
    c->robject = r->robject;
    c->roffset = r->roffset;
    c->reasoned = r->reasoned;
    c->done = 1;
}

/* Submits call c unless its endpoint has no credit left now (then c stays unstarted). */
static void stk_call_submit(struct cnio_stack *st, struct cnio_call *c)
{
    struct cnio_req *r;
    int ret;

    if (cnio__ep_ready(c->ep) && cnio__ep_free_credits(c->ep) == 0)
        return;
    c->started = 1;
    r = cnio__req_get(st);
    if (!r) {
        c->status = -CNIO_ERR_NOMEM;
        c->done = 1;
        return;
    }
    r->type = c->type;
    r->flags = c->flags;
    r->object = c->object;
    r->offset = c->offset;
    r->payload = c->payload;
    r->plen = c->plen;
    r->rbuf = c->rbuf;
    r->rcap = c->rcap;
    r->what = c->what;
    r->hush = c->hush;
    r->done = stk_call_done;
    r->arg = c;
    ret = cnio__ep_submit(c->ep, r);
    if (ret) {
        c->status = ret;
        c->done = 1;
    }
}

int cnio__stack_calls(struct cnio_stack *st, struct cnio_call *c, int n)
{
    int ret;

    for (int i = 0; i < n; i++) {
        c[i].status = 0;
        c[i].reasoned = 0;
        c[i].done = c[i].ep == NULL;
        c[i].started = c[i].done;
    }
    for (;;) {
        int pending = 0;

        cnio__stack_cork(st, 1);   /* the frames of one round leave together */
        for (int i = 0; i < n; i++) {
            if (!c[i].started)
                stk_call_submit(st, &c[i]);
            pending += !c[i].done;
        }
        cnio__stack_cork(st, 0);
        if (!pending)
            break;
        ret = cnio__stack_progress(st, -1);
        if (ret)
            return ret;
    }
    for (int i = 0; i < n; i++)
        if (c[i].status)
            return c[i].status;
    return 0;
}
