/*
 * skwindow.h - the proxy's admission window for one destination (ip:port): how many
 * connection setups may be in flight at once, adapted as TCP adapts its congestion
 * window, plus the destination's failure knowledge. Pure logic, no I/O: the proxy calls
 * it, the unit tests drive it with made-up clocks.
 *
 * The window starts at `init` and grows by additive increase only (+1/cwnd per prompt
 * completion, about +1 per round): TCP's slow start probes for bandwidth, but here an
 * overshoot costs a dropped SYN and a 1 s retry, so the window grows as TCP does after
 * a loss. It never exceeds `max` (the hint) nor falls below 1. A slow completion (a SYN
 * was probably dropped and retried) halves it, once per congestion event as TCP does
 * (slow completions of setups admitted before the last cut do not cut again: one burst
 * that overflowed a listener reports several of them); a failure halves it too and
 * brings it to 1: one probe at a time is admitted until a setup completes (the window
 * then grows again from there). After a time-out or no route (ETIMEDOUT, EHOSTUNREACH,
 * ENETUNREACH) the destination is also on hold: for `holddown_ms` every new request
 * fails at once with the same errno, since a probe there costs up to the connect
 * deadline, during which the next requests would wait. After a refusal (ECONNREFUSED)
 * it is not: a new request is admitted as the next probe, which costs one round trip
 * and gets the network's own answer, so a server that comes up is seen at once by a
 * program that retries (the requests already waiting when the refusal came fail with
 * it, cnio__skw_done's return).
 *
 * The settle time (how long a completed setup keeps its slot, the listener's time to
 * accept it) adapts too: it doubles (+1 ms) on a slow completion, up to 1 s, and decays
 * by 1/16 per prompt completion back to its base: together with the window this halves
 * the rate of setups at least four-fold after an overflow.
 */
#ifndef CNIO_SKWINDOW_H
#define CNIO_SKWINDOW_H

#include <stdint.h>

/* How a setup admitted by the window ended, as the shim reports it. */
enum cnio__skw_outcome {
    CNIO__SKW_PROMPT = 0,  /* connected within slow_ms */
    CNIO__SKW_SLOW,        /* connected, but after slow_ms */
    CNIO__SKW_REFUSED,     /* ECONNREFUSED */
    CNIO__SKW_TIMEDOUT,    /* ETIMEDOUT, or the shim's connect deadline passed */
    CNIO__SKW_UNREACH,     /* EHOSTUNREACH, ENETUNREACH: a failure to remember too */
    CNIO__SKW_UNKNOWN,     /* abandoned (EINTR, other errors): no change */
    CNIO__SKW_INPROGRESS,  /* non-blocking, EINPROGRESS: outcome not yet seen (the shim
                            * may report it later: CNIO__SKP_OUTCOME), no change */
    CNIO__SKW_OUTCOME_END
};

struct cnio__skw {
    double cwnd, ssthresh;
    int max;
    unsigned inflight;
    int fail_errno;          /* errno of the last failure, 0 when healthy */
    int64_t hold_until_ms;   /* new requests fail until then */
    int64_t holddown_ms;
    double settle_ms, settle_base_ms;
    double srtt_ms;          /* smoothed time of prompt setups (0: none seen yet) */
    uint64_t admitted, prompt, slow, refused, timedout, failed_fast;
    uint64_t cut_seq;        /* `admitted` when the window was last cut */
};

/* Sets up a healthy window: cwnd = init (clamped to [1, max]), nothing in flight, the
 * settle time at settle_ms. */
void cnio__skw_init(struct cnio__skw *w, int init, int max, int64_t holddown_ms,
                    int64_t settle_ms);

/* The current settle time in ms. */
int64_t cnio__skw_settle_ms(const struct cnio__skw *w);

/*
 * Whether a new request arriving at now_ms must fail at once: returns the errno to fail
 * it with (the destination is on hold after a time-out or no route), else 0 (after a
 * refusal too: the request is a probe, behind the window of 1). Counts failed_fast.
 */
int cnio__skw_held(struct cnio__skw *w, int64_t now_ms);

/* 1 when one more setup may start now (inflight < floor(cwnd)), else 0. */
int cnio__skw_can_admit(const struct cnio__skw *w);

/* Records that a setup has started (one more in flight); returns its sequence number,
 * to give back to cnio__skw_done. */
uint64_t cnio__skw_admit(struct cnio__skw *w);

/*
 * Records how the setup admitted as seq ended at now_ms and adapts the window. Returns
 * the errno every request queued for this destination must now fail with (ECONNREFUSED,
 * ETIMEDOUT, EHOSTUNREACH...) when the outcome is a failure, else 0. err is the errno the
 * shim saw (used for CNIO__SKW_UNREACH).
 */
int cnio__skw_done(struct cnio__skw *w, uint64_t seq, enum cnio__skw_outcome o, int err,
                   int64_t now_ms);

/*
 * The same adaptation as cnio__skw_done, for a setup whose slot was already given back:
 * a non-blocking setup (CNIO__SKW_INPROGRESS at first) whose outcome the shim learnt
 * later (getsockopt SO_ERROR, close). Returns what cnio__skw_done returns.
 */
int cnio__skw_learn(struct cnio__skw *w, uint64_t seq, enum cnio__skw_outcome o, int err,
                    int64_t now_ms);

/* Feeds the time of a prompt setup (ms) into srtt_ms (EWMA, gain 1/8). */
void cnio__skw_sample(struct cnio__skw *w, int64_t setup_ms);

/*
 * How long a non-blocking setup whose outcome the proxy does not see (EINPROGRESS)
 * should keep its slot: the destination's smoothed prompt setup time (1 ms before any
 * was seen), at least 1 ms, plus the settle time.
 */
int64_t cnio__skw_inprogress_hold_ms(const struct cnio__skw *w);

/* The current window, rounded down (>= 1). */
int cnio__skw_window(const struct cnio__skw *w);

#endif /* CNIO_SKWINDOW_H */
