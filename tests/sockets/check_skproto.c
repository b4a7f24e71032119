/*
 * check_skproto.c - unit tests of the shim <-> proxy protocol parser (sockets/skproto.c)
 * and of the per-destination admission window (sockets/skwindow.c).
 */
#include "skproto.h"
#include "skwindow.h"
#include "skenv.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static struct cnio__skp_msg msg_sample(void)
{
    struct cnio__skp_msg m = { .type = CNIO__SKP_GAI_REP };
    struct sockaddr_in *a = (struct sockaddr_in *)&m.ai[0].addr;
    struct sockaddr_in6 *b = (struct sockaddr_in6 *)&m.ai[1].addr;

    m.i[0] = 0;
    m.i[2] = 1;
    m.i[5] = -7;
    strcpy(m.name, "db.example.org");
    strcpy(m.serv, "5432");
    m.nai = 2;
    a->sin_family = AF_INET;
    a->sin_port = htons(5432);
    a->sin_addr.s_addr = htonl(0x0a000001);
    m.ai[0] = (struct cnio__skp_ai){ .family = AF_INET, .socktype = SOCK_STREAM,
                                     .protocol = 6, .addrlen = sizeof(*a), .addr = m.ai[0].addr };
    b->sin6_family = AF_INET6;
    b->sin6_port = htons(5432);
    m.ai[1].family = AF_INET6;
    m.ai[1].addrlen = sizeof(*b);
    return m;
}

START_TEST(round_trip)
{
    struct cnio__skp_msg m = msg_sample(), out;
    unsigned char buf[CNIO__SKP_MAX];
    int n = cnio__skp_encode(&m, buf, sizeof(buf));

    ck_assert_int_gt(n, CNIO__SKP_HDR);
    ck_assert_int_eq(cnio__skp_parse(buf, (size_t)n, &out), n);
    ck_assert_int_eq(out.type, CNIO__SKP_GAI_REP);
    ck_assert_int_eq(out.i[5], -7);
    ck_assert_str_eq(out.name, "db.example.org");
    ck_assert_str_eq(out.serv, "5432");
    ck_assert_uint_eq(out.nai, 2);
    ck_assert_uint_eq(out.ai[1].addrlen, sizeof(struct sockaddr_in6));
    ck_assert(!memcmp(&out.ai[0].addr, &m.ai[0].addr, sizeof(struct sockaddr_in)));
    /* Every strict prefix is "incomplete", never an error and never a message. */
    for (int k = 0; k < n; k++)
        ck_assert_int_eq(cnio__skp_parse(buf, (size_t)k, &out), 0);
}
END_TEST

START_TEST(two_messages_back_to_back)
{
    struct cnio__skp_msg a = { .type = CNIO__SKP_HELLO }, b = { .type = CNIO__SKP_DONE }, out;
    unsigned char buf[2 * CNIO__SKP_MAX];
    int na, nb;

    a.i[0] = 1234;
    b.i[0] = CNIO__SKW_SLOW;
    na = cnio__skp_encode(&a, buf, sizeof(buf));
    nb = cnio__skp_encode(&b, buf + na, sizeof(buf) - (size_t)na);
    ck_assert_int_eq(cnio__skp_parse(buf, (size_t)(na + nb), &out), na);
    ck_assert_int_eq(out.i[0], 1234);
    ck_assert_int_eq(cnio__skp_parse(buf + na, (size_t)nb, &out), nb);
    ck_assert_int_eq(out.type, CNIO__SKP_DONE);
}
END_TEST

/* The small messages of the connect path: the same bytes as a whole message's, within
 * CNIO__SKP_SMALL_MAX; a small parse refuses a name, a service or an address list. */
START_TEST(small_round_trip)
{
    struct cnio__skp_small s = { .type = CNIO__SKP_ADMIT_REQ }, out;
    struct cnio__skp_msg m = { .type = CNIO__SKP_ADMIT_REQ }, big = msg_sample(), whole;
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&s.sa;
    unsigned char buf[CNIO__SKP_MAX], bufm[CNIO__SKP_MAX];
    int n, nm;

    a->sin6_family = AF_INET6;
    a->sin6_port = htons(80);
    s.salen = sizeof(*a);
    s.i[0] = 30000;
    s.i[4] = -3;
    memcpy(&m.sa, &s.sa, sizeof(s.sa));
    m.salen = s.salen;
    memcpy(m.i, s.i, sizeof(s.i));
    n = cnio__skp_encode_small(&s, buf, sizeof(buf));
    nm = cnio__skp_encode(&m, bufm, sizeof(bufm));
    ck_assert_int_gt(n, CNIO__SKP_HDR);
    ck_assert_int_le(n, (int)CNIO__SKP_SMALL_MAX);
    ck_assert_int_eq(n, nm);
    ck_assert(!memcmp(buf, bufm, (size_t)n));
    ck_assert_int_eq(cnio__skp_parse_small(buf, (size_t)n, &out), n);
    ck_assert_int_eq(out.type, CNIO__SKP_ADMIT_REQ);
    ck_assert_int_eq(out.i[4], -3);
    ck_assert_uint_eq(out.salen, sizeof(*a));
    ck_assert(!memcmp(&out.sa, &s.sa, sizeof(*a)));
    ck_assert_int_eq(cnio__skp_parse(buf, (size_t)n, &whole), n);
    for (int k = 0; k < n; k++)
        ck_assert_int_eq(cnio__skp_parse_small(buf, (size_t)k, &out), 0);
    n = cnio__skp_encode(&big, buf, sizeof(buf));   /* name, service, addresses */
    ck_assert_int_eq(cnio__skp_parse_small(buf, (size_t)n, &out), -1);
    big.name[0] = big.serv[0] = '\0';                /* addresses only */
    n = cnio__skp_encode(&big, buf, sizeof(buf));
    ck_assert_int_eq(cnio__skp_parse_small(buf, (size_t)n, &out), -1);
    big.nai = 0;                                     /* nothing a small one lacks */
    n = cnio__skp_encode(&big, buf, sizeof(buf));
    ck_assert_int_eq(cnio__skp_parse_small(buf, (size_t)n, &out), n);
    ck_assert_int_eq(out.i[5], -7);
}
END_TEST

START_TEST(encode_refuses_invalid)
{
    struct cnio__skp_msg m = msg_sample();
    unsigned char buf[CNIO__SKP_MAX];

    m.type = 0;
    ck_assert_int_eq(cnio__skp_encode(&m, buf, sizeof(buf)), -1);
    m = msg_sample();
    m.nai = CNIO__SKP_MAX_AI + 1;
    ck_assert_int_eq(cnio__skp_encode(&m, buf, sizeof(buf)), -1);
    m = msg_sample();
    m.salen = 3;   /* not an inet address */
    ck_assert_int_eq(cnio__skp_encode(&m, buf, sizeof(buf)), -1);
    m = msg_sample();
    ck_assert_int_eq(cnio__skp_encode(&m, buf, 20), -1);   /* does not fit */
}
END_TEST

/* Encodes the sample, lets f corrupt it, and expects the parser to refuse it. */
static void expect_refused(void (*f)(unsigned char *buf, int *n))
{
    struct cnio__skp_msg m = msg_sample(), out;
    unsigned char buf[CNIO__SKP_MAX + 64];
    int n = cnio__skp_encode(&m, buf, sizeof(buf));

    f(buf, &n);
    ck_assert_int_eq(cnio__skp_parse(buf, (size_t)n, &out), -1);
}

static void set_plen(unsigned char *buf, uint32_t plen)
{
    memcpy(buf + 4, &plen, 4);
}

static void bad_magic(unsigned char *b, int *n) { b[0] ^= 0xff; (void)n; }
static void bad_version(unsigned char *b, int *n) { b[2] = 9; (void)n; }
static void bad_type(unsigned char *b, int *n) { b[3] = CNIO__SKP_TYPE_END; (void)n; }
static void huge_len(unsigned char *b, int *n) { set_plen(b, CNIO__SKP_MAX); (void)n; }
static void trailing(unsigned char *b, int *n)
{
    b[*n] = 0;
    (*n)++;
    set_plen(b, (uint32_t)(*n - CNIO__SKP_HDR));
}
/* name length field (after the 6 ints) claims more than the payload holds */
static void long_name(unsigned char *b, int *n)
{
    uint16_t l = 60000;

    memcpy(b + CNIO__SKP_HDR + 24, &l, 2);
    (void)n;
}
static void nul_in_name(unsigned char *b, int *n) { b[CNIO__SKP_HDR + 24 + 2 + 2] = 0; (void)n; }
/* the address count sits after the ints, name, serv and the (empty) sa */
static void too_many_ai(unsigned char *b, int *n)
{
    size_t off = CNIO__SKP_HDR + 24 + 2 + strlen("db.example.org") + 2 + 4 + 2;
    uint32_t k = CNIO__SKP_MAX_AI + 1;

    memcpy(b + off, &k, 4);
    (void)n;
}
static void family_mismatch(unsigned char *b, int *n)
{
    size_t off = CNIO__SKP_HDR + 24 + 2 + strlen("db.example.org") + 2 + 4 + 2 + 4;
    int32_t fam = AF_INET6;

    memcpy(b + off, &fam, 4);   /* ai[0].family no longer matches its address */
    (void)n;
}

START_TEST(parse_refuses_malformed)
{
    expect_refused(bad_magic);
    expect_refused(bad_version);
    expect_refused(bad_type);
    expect_refused(huge_len);
    expect_refused(trailing);
    expect_refused(long_name);
    expect_refused(nul_in_name);
    expect_refused(too_many_ai);
    expect_refused(family_mismatch);
}
END_TEST

/* Random corruption: the parser answers -1, 0 or a length within the buffer, and never
 * reads outside it (the ASan build checks that). */
START_TEST(parse_survives_noise)
{
    struct cnio__skp_msg m = msg_sample(), out;
    struct cnio__skp_small small;
    unsigned char good[CNIO__SKP_MAX];
    int n = cnio__skp_encode(&m, good, sizeof(good));

    srand(12);
    for (int round = 0; round < 20000; round++) {
        int len = 1 + rand() % n;
        unsigned char *buf = malloc((size_t)len);
        int r;

        memcpy(buf, good, (size_t)len);
        for (int k = rand() % 4; k >= 0; k--)
            buf[rand() % len] = (unsigned char)rand();
        r = cnio__skp_parse(buf, (size_t)len, &out);
        ck_assert(r == -1 || (r >= 0 && r <= len));
        r = cnio__skp_parse_small(buf, (size_t)len, &small);
        ck_assert(r == -1 || (r >= 0 && r <= len));
        free(buf);
    }
}
END_TEST

/* The shims' mark: both forms, the keys launchers give (PRRTE's holds '@'), and what is
 * not a mark. The proxy's sweep once read the mark with a parser of its own that took a
 * key of [A-Za-z0-9._-] only, so it removed a live job's mark keyed "prterun-vm-4242@1". */
START_TEST(mark_parse)
{
    static const char *const bad[] = {
        "", "\n", "12", "12 ", "12 x\n", "0 5\n", "-3 5\n", "2147483648 5\n", "12 5 \n",
        "12 5  k\n", "12 5 k k\n", "12 5\nx", "12 5 k\n\n", " 12 5\n", "12\t5\n",
        "99999999999999999999 5\n",
    };
    char key[CNIO__SK_MARK_KEY_MAX], big[300];
    unsigned long long start;
    long pid;

    ck_assert_int_eq(cnio__sk_mark_parse("4242 987654321\n", &pid, &start, key, sizeof(key)), 0);
    ck_assert(pid == 4242 && start == 987654321ull && key[0] == '\0');
    ck_assert_int_eq(cnio__sk_mark_parse("7 1", &pid, &start, key, sizeof(key)), 0);
    ck_assert(pid == 7 && start == 1);
    ck_assert_int_eq(cnio__sk_mark_parse("12 5 prterun-vm-4242@1\n", &pid, &start, key,
                                         sizeof(key)), 0);
    ck_assert_str_eq(key, "prterun-vm-4242@1");
    ck_assert_int_eq(cnio__sk_mark_parse("12 5 slurm-77.0\n", &pid, &start, key, sizeof(key)), 0);
    ck_assert_str_eq(key, "slurm-77.0");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(cnio__sk_mark_parse(bad[i], &pid, &start, key, sizeof(key)) == -1,
                      "'%s' taken for a mark", bad[i]);
    memset(big, 'k', sizeof(big));
    memcpy(big, "12 5 ", 5);
    big[5 + CNIO__SK_MARK_KEY_MAX] = '\0';   /* a key one byte too long */
    ck_assert_int_eq(cnio__sk_mark_parse(big, &pid, &start, key, sizeof(key)), -1);
    big[5 + CNIO__SK_MARK_KEY_MAX - 1] = '\0';   /* the longest that fits */
    ck_assert_int_eq(cnio__sk_mark_parse(big, &pid, &start, key, sizeof(key)), 0);
    ck_assert_uint_eq(strlen(key), CNIO__SK_MARK_KEY_MAX - 1);
}
END_TEST

START_TEST(window_growth_and_cap)
{
    struct cnio__skw w;
    int rounds = 0;

    cnio__skw_init(&w, 4, 10, 1000, 2);
    ck_assert_int_eq(cnio__skw_window(&w), 4);
    for (int k = 0; k < 4; k++) {
        ck_assert(cnio__skw_can_admit(&w));
        cnio__skw_admit(&w);
    }
    ck_assert(!cnio__skw_can_admit(&w));
    for (int k = 0; k < 4; k++)
        ck_assert_int_eq(cnio__skw_done(&w, w.admitted, CNIO__SKW_PROMPT, 0, 0), 0);
    ck_assert_int_eq(cnio__skw_window(&w), 4);   /* +1/cwnd each: no doubling */
    cnio__skw_admit(&w);
    cnio__skw_done(&w, w.admitted, CNIO__SKW_PROMPT, 0, 0);
    ck_assert_int_eq(cnio__skw_window(&w), 5);   /* about +1 per round */
    while (cnio__skw_window(&w) < 10 && rounds++ < 1000) {
        cnio__skw_admit(&w);
        cnio__skw_done(&w, w.admitted, CNIO__SKW_PROMPT, 0, 0);
    }
    ck_assert_int_eq(cnio__skw_window(&w), 10);
    ck_assert_int_gt(rounds, 25);                /* 5+6+7+8+9 completions at least */
    for (int k = 0; k < 100; k++) {
        cnio__skw_admit(&w);
        cnio__skw_done(&w, w.admitted, CNIO__SKW_PROMPT, 0, 0);
    }
    ck_assert_int_eq(cnio__skw_window(&w), 10);  /* the hint caps it */
    cnio__skw_init(&w, 50, 10, 1000, 2);
    ck_assert_int_eq(cnio__skw_window(&w), 10);
    cnio__skw_init(&w, 0, 0, 1000, 2);
    ck_assert_int_eq(cnio__skw_window(&w), 1);
}
END_TEST

START_TEST(one_cut_per_congestion_event)
{
    struct cnio__skw w;
    uint64_t seq[4];

    cnio__skw_init(&w, 8, 64, 1000, 2);
    for (int k = 0; k < 4; k++)
        seq[k] = cnio__skw_admit(&w);
    for (int k = 0; k < 4; k++)   /* one burst overflowed the listener: 4 slow reports */
        cnio__skw_done(&w, seq[k], CNIO__SKW_SLOW, 0, 0);
    ck_assert_int_eq(cnio__skw_window(&w), 4);         /* halved once, not 4 times */
    ck_assert_int_eq(cnio__skw_settle_ms(&w), 5);      /* doubled once */
    ck_assert_uint_eq(w.slow, 4);
    seq[0] = cnio__skw_admit(&w);                      /* admitted after the cut */
    cnio__skw_done(&w, seq[0], CNIO__SKW_SLOW, 0, 0);
    ck_assert_int_eq(cnio__skw_window(&w), 2);         /* a new event: cut again */
}
END_TEST

START_TEST(settle_adapts)
{
    struct cnio__skw w;

    cnio__skw_init(&w, 4, 64, 1000, 2);
    ck_assert_int_eq(cnio__skw_settle_ms(&w), 2);
    cnio__skw_admit(&w);
    cnio__skw_done(&w, w.admitted, CNIO__SKW_SLOW, 0, 0);
    ck_assert_int_eq(cnio__skw_settle_ms(&w), 5);      /* 2 x 2 + 1 */
    for (int k = 0; k < 20; k++) {
        cnio__skw_admit(&w);
        cnio__skw_done(&w, w.admitted, CNIO__SKW_SLOW, 0, 0);
    }
    ck_assert_int_eq(cnio__skw_settle_ms(&w), 1000);   /* capped */
    for (int k = 0; k < 400; k++) {
        cnio__skw_admit(&w);
        cnio__skw_done(&w, w.admitted, CNIO__SKW_PROMPT, 0, 0);
    }
    ck_assert_int_eq(cnio__skw_settle_ms(&w), 2);      /* back to its base */
}
END_TEST

START_TEST(window_halves_then_grows_additively)
{
    struct cnio__skw w;

    cnio__skw_init(&w, 8, 64, 1000, 2);
    cnio__skw_admit(&w);
    ck_assert_int_eq(cnio__skw_done(&w, w.admitted, CNIO__SKW_SLOW, 0, 0), 0);
    ck_assert_int_eq(cnio__skw_window(&w), 4);
    for (int k = 0; k < 4; k++) {
        cnio__skw_admit(&w);
        cnio__skw_done(&w, w.admitted, CNIO__SKW_PROMPT, 0, 0);
    }
    ck_assert_int_eq(cnio__skw_window(&w), 4);   /* +1/cwnd each: not yet a whole one */
    cnio__skw_admit(&w);
    cnio__skw_done(&w, w.admitted, CNIO__SKW_PROMPT, 0, 0);
    ck_assert_int_eq(cnio__skw_window(&w), 5);   /* about +1 per window of prompt setups */
    cnio__skw_admit(&w);
    cnio__skw_done(&w, w.admitted, CNIO__SKW_UNKNOWN, 0, 0);
    ck_assert_int_eq(cnio__skw_window(&w), 5);   /* unknown outcomes change nothing */
    ck_assert_uint_eq(w.inflight, 0);
    for (int k = 0; k < 10; k++) {
        cnio__skw_admit(&w);
        cnio__skw_done(&w, w.admitted, CNIO__SKW_SLOW, 0, 0);
    }
    ck_assert_int_eq(cnio__skw_window(&w), 1);   /* never below one */
}
END_TEST

START_TEST(window_failure_knowledge)
{
    struct cnio__skw w;

    cnio__skw_init(&w, 4, 64, 5000, 2);
    ck_assert_int_eq(cnio__skw_held(&w, 100), 0);
    cnio__skw_admit(&w);
    cnio__skw_admit(&w);
    ck_assert_int_eq(cnio__skw_done(&w, w.admitted, CNIO__SKW_REFUSED, ECONNREFUSED, 1000), ECONNREFUSED);
    ck_assert_int_eq(cnio__skw_held(&w, 1001), 0);   /* a refusal: probes, not fail fast */
    ck_assert_uint_eq(w.failed_fast, 0);
    ck_assert_int_eq(cnio__skw_window(&w), 1);
    ck_assert(!cnio__skw_can_admit(&w));             /* the other setup still in flight */
    ck_assert_int_eq(cnio__skw_done(&w, w.admitted, CNIO__SKW_TIMEDOUT, ETIMEDOUT, 7000), ETIMEDOUT);
    ck_assert_int_eq(cnio__skw_held(&w, 7001), ETIMEDOUT);   /* a time-out: fail fast */
    ck_assert_int_eq(cnio__skw_held(&w, 11999), ETIMEDOUT);
    ck_assert_uint_eq(w.failed_fast, 2);
    ck_assert_int_eq(cnio__skw_held(&w, 12000), 0);  /* hold-down over: one probe */
    cnio__skw_admit(&w);
    ck_assert_int_eq(cnio__skw_done(&w, w.admitted, CNIO__SKW_UNREACH, EHOSTUNREACH, 20000), EHOSTUNREACH);
    ck_assert_int_eq(cnio__skw_held(&w, 20001), EHOSTUNREACH);   /* no route: fail fast */
    cnio__skw_admit(&w);
    ck_assert_int_eq(cnio__skw_done(&w, w.admitted, CNIO__SKW_PROMPT, 0, 30000), 0);
    ck_assert_int_eq(cnio__skw_held(&w, 30001), 0);  /* a success clears the failure */
    ck_assert_int_eq(cnio__skw_window(&w), 2);
}
END_TEST

/* Non-blocking setups: the slot goes back at EINPROGRESS, the outcome comes later. */
START_TEST(window_learns_late_outcomes)
{
    struct cnio__skw w;
    uint64_t seq;

    cnio__skw_init(&w, 4, 64, 1000, 2);
    for (int k = 0; k < 5; k++) {
        seq = cnio__skw_admit(&w);
        ck_assert_int_eq(cnio__skw_done(&w, seq, CNIO__SKW_INPROGRESS, 0, 0), 0);
        ck_assert_int_eq(cnio__skw_window(&w), 4);        /* EINPROGRESS: no change */
        ck_assert_int_eq(cnio__skw_learn(&w, seq, CNIO__SKW_PROMPT, 0, 0), 0);
    }
    ck_assert_uint_eq(w.inflight, 0);                     /* learn takes no slot back */
    ck_assert_int_eq(cnio__skw_window(&w), 5);            /* it grows as from blocking */
    seq = cnio__skw_admit(&w);
    cnio__skw_done(&w, seq, CNIO__SKW_INPROGRESS, 0, 100);
    ck_assert_int_eq(cnio__skw_learn(&w, seq, CNIO__SKW_REFUSED, ECONNREFUSED, 100), ECONNREFUSED);
    ck_assert_int_eq(cnio__skw_held(&w, 200), 0);   /* a refusal: the next is a probe */
    ck_assert_int_eq(cnio__skw_window(&w), 1);      /* failure knowledge: one at a time */
    ck_assert_uint_eq(w.inflight, 0);
}
END_TEST

START_TEST(window_inprogress_hold)
{
    struct cnio__skw w;

    cnio__skw_init(&w, 4, 64, 1000, 2);
    ck_assert_int_eq(cnio__skw_inprogress_hold_ms(&w), 3);   /* nothing seen: 1 ms */
    cnio__skw_sample(&w, 40);
    ck_assert_int_eq(cnio__skw_inprogress_hold_ms(&w), 42);
    for (int k = 0; k < 200; k++)
        cnio__skw_sample(&w, 8);
    ck_assert_int_eq(cnio__skw_inprogress_hold_ms(&w), 10);  /* converges: 8 + 2 */
    cnio__skw_sample(&w, 0);
    ck_assert_int_ge(cnio__skw_inprogress_hold_ms(&w), 3);
    cnio__skw_admit(&w);
    cnio__skw_done(&w, w.admitted, CNIO__SKW_INPROGRESS, 0, 0);
    ck_assert_uint_eq(w.inflight, 0);
    ck_assert_int_eq(cnio__skw_window(&w), 4);                   /* no adaptation */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("skproto");
    TCase *p = tcase_create("protocol"), *w = tcase_create("window");
    SRunner *r;
    int failed;

    tcase_add_test(p, round_trip);
    tcase_add_test(p, two_messages_back_to_back);
    tcase_add_test(p, small_round_trip);
    tcase_add_test(p, encode_refuses_invalid);
    tcase_add_test(p, parse_refuses_malformed);
    tcase_add_test(p, parse_survives_noise);
    tcase_add_test(p, mark_parse);
    tcase_add_test(w, window_growth_and_cap);
    tcase_add_test(w, settle_adapts);
    tcase_add_test(w, one_cut_per_congestion_event);
    tcase_add_test(w, window_halves_then_grows_additively);
    tcase_add_test(w, window_failure_knowledge);
    tcase_add_test(w, window_inprogress_hold);
    tcase_add_test(w, window_learns_late_outcomes);
    suite_add_tcase(s, p);
    suite_add_tcase(s, w);
    r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
