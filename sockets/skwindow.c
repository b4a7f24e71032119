/*
 * skwindow.c - the per-destination admission window and failure knowledge
 * (algorithm in skwindow.h).
 */
#include "skwindow.h"

#include <errno.h>
#include <string.h>

#define SKW_SETTLE_MAX_MS 1000.0

void cnio__skw_init(struct cnio__skw *w, int init, int max, int64_t holddown_ms,
                    int64_t settle_ms)
{
    memset(w, 0, sizeof(*w));
    w->max = max < 1 ? 1 : max;
    w->cwnd = init < 1 ? 1 : init > w->max ? w->max : init;
    w->ssthresh = w->cwnd;
    w->holddown_ms = holddown_ms;
    w->settle_ms = w->settle_base_ms = settle_ms < 0 ? 0 : (double)settle_ms;
}

int64_t cnio__skw_settle_ms(const struct cnio__skw *w)
{
    return (int64_t)(w->settle_ms + 0.5);
}

int cnio__skw_held(struct cnio__skw *w, int64_t now_ms)
{
    /* After a refusal, new requests are probes (window 1), not failed: a refusal is
     * learnt again in one round trip, and a server coming up is seen at once. */
    if (w->fail_errno && w->fail_errno != ECONNREFUSED && now_ms < w->hold_until_ms) {
        w->failed_fast++;
        return w->fail_errno;
    }
    return 0;
}

int cnio__skw_window(const struct cnio__skw *w)
{
    int n = (int)w->cwnd;   /* cwnd > 0: truncation is floor */

    return n < 1 ? 1 : n;
}

int cnio__skw_can_admit(const struct cnio__skw *w)
{
    return w->inflight < (unsigned)cnio__skw_window(w);
}

uint64_t cnio__skw_admit(struct cnio__skw *w)
{
    w->inflight++;
    return ++w->admitted;
}

static void skw_cut(struct cnio__skw *w)
{
    w->ssthresh = w->cwnd / 2 < 1 ? 1 : w->cwnd / 2;
    w->cwnd = w->ssthresh;
    w->cut_seq = w->admitted;
}

int cnio__skw_done(struct cnio__skw *w, uint64_t seq, enum cnio__skw_outcome o, int err,
                   int64_t now_ms)
{
    if (w->inflight)
        w->inflight--;
    return cnio__skw_learn(w, seq, o, err, now_ms);
}

int cnio__skw_learn(struct cnio__skw *w, uint64_t seq, enum cnio__skw_outcome o, int err,
                    int64_t now_ms)
{
    int fail = 0;

    switch (o) {
    case CNIO__SKW_PROMPT:
        w->prompt++;
        w->fail_errno = 0;
        w->cwnd += w->cwnd < w->ssthresh ? 1.0 : 1.0 / w->cwnd;
        if (w->cwnd > w->max)
            w->cwnd = w->max;
        w->settle_ms -= (w->settle_ms - w->settle_base_ms) / 16;
        break;
    case CNIO__SKW_SLOW:
        w->slow++;
        w->fail_errno = 0;
        if (seq <= w->cut_seq)   /* the same congestion event as the last cut */
            break;
        skw_cut(w);
        w->settle_ms = w->settle_ms * 2 + 1 > SKW_SETTLE_MAX_MS ? SKW_SETTLE_MAX_MS
                                                               : w->settle_ms * 2 + 1;
        break;
    case CNIO__SKW_REFUSED:
        w->refused++;
        fail = ECONNREFUSED;
        break;
    case CNIO__SKW_TIMEDOUT:
        w->timedout++;
        fail = ETIMEDOUT;
        break;
    case CNIO__SKW_UNREACH:
        fail = err ? err : EHOSTUNREACH;
        break;
    default:
        break;
    }
    if (fail) {
        skw_cut(w);
        w->cwnd = 1;
        w->fail_errno = fail;
        w->hold_until_ms = now_ms + w->holddown_ms;
    }
    return fail;
}

void cnio__skw_sample(struct cnio__skw *w, int64_t setup_ms)
{
    double x = setup_ms < 0 ? 0 : (double)setup_ms;

    w->srtt_ms = w->srtt_ms == 0 ? (x > 0 ? x : 0.001) : w->srtt_ms + (x - w->srtt_ms) / 8;
}

int64_t cnio__skw_inprogress_hold_ms(const struct cnio__skw *w)
{
    int64_t t = (int64_t)(w->srtt_ms + 0.999);

    return (t < 1 ? 1 : t) + cnio__skw_settle_ms(w);
}
