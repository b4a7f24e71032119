/*
 * check_fab_rogue.c - a connection over a fabric endpoint of cnio-server can be closed
 * by its own client alone (src/server/fabric.c, src/fabric.h): a rogue peer of the
 * endpoint that knows a victim's connection id (it is no secret) sends a BYE tagged
 * with it, or a frame with a wrong session id; the victim's next request still
 * succeeds, over each provider cnio uses: tcp;ofi_rxm, udp;ofi_rxd and shm. (None tells
 * the server reliably who sent a message, so the BYE must carry the session id and a
 * frame without it is dropped; shm and udp;ofi_rxd, which offer FI_SOURCE, once let a
 * rogue pass as the first peer: source 0.)
 *
 * Before the fix, either message closed the victim's connection on the server, and
 * the victim's next write waited out its cnio_timeout_ms.
 */
#include "cnio_config.h"
#include "common.h"
#include "client.h"
#include "client_int.h"
#include "config.h"
#include "fabric.h"
#include "fixture.h"
#include "stack.h"
#include "stack_int.h"
#include "wire.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LIBFABRIC
#include "transport_ofi_int.h"
#include <rdma/fi_endpoint.h>
#include <rdma/fi_tagged.h>

#define STAGE (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE | CNIO_WIRE_O_STAGE | CNIO_WIRE_O_TRUNC)
#define LEN (256 * 1024)
#define ROGUE_MS 20000     /* a bound on each of the rogue's waits, not a measure */
#define ROGUE_CID 0x77

static struct fx fx;
static struct cnio_stack *st;

static void teardown(void)
{
    cnio__stack_close(st);
    st = NULL;
    fx_stop(&fx);
}

/* What the victim's one lane tells of its connection. */
struct victim {
    struct cnio_obj *o;
    uint32_t sid;              /* the server's id of the connection: its tag */
    uint64_t session;
    uint8_t srv[CNIO_FAB_ADDR_MAX];    /* the server endpoint's address */
    size_t srvlen;
    char prov[CNIO_FAB_PROV_MAX];
};

/* One server with a fabric endpoint (extra), and the victim: object path opened over it
 * with query q (one lane), authenticated, a write done. */
static void victim_open(const char *const *extra, const char *path, const char *q,
                        const uint8_t *data, struct victim *v)
{
    struct cnio_uri u;
    struct cnio_hints h;
    struct cnio_ep *ep;
    struct ofi_conn *c;
    char buf[1024];

    ck_assert_msg(fx_start(&fx, 1, extra) == 0, "cannot start a server with a fabric");
    ck_assert_int_eq(cnio__stack_open(&st), 0);
    ck_assert_int_eq(cnio__uri_parse(fx_uri(&fx, path, q, buf, sizeof(buf)), &u), 0);
    ck_assert_int_eq(cnio__hints_resolve(&h, &u), 0);
    ck_assert_int_eq(cnio__obj_open(st, &u, &h, STAGE, &v->o), 0);
    cnio__uri_free(&u);
    ck_assert_int_eq(cnio__obj_pwrite(v->o, data, LEN / 2, 0), LEN / 2);
    ep = v->o->hosts[0].lanes[0];
    ck_assert_ptr_nonnull(ep);
    ck_assert_str_ne(cnio__ep_transport(ep), "tcp");
    c = (struct ofi_conn *)ep->conn;
    v->sid = c->sid;
    v->session = ep->session;
    ck_assert_uint_ne(v->sid, 0);
    ck_assert_uint_ne(v->session, 0);
    snprintf(v->prov, sizeof(v->prov), "%s", c->tp->prov_used);
    v->srvlen = 0;
    for (int i = 0; i < c->fab->npeers; i++)
        if (c->fab->peers[i].fi_addr == c->peer) {
            v->srvlen = c->fab->peers[i].len;
            memcpy(v->srv, c->fab->peers[i].addr, v->srvlen);
        }
    ck_assert_uint_ne(v->srvlen, 0);
}

/* Waits (bounded) for the completion of op on the rogue's endpoint: 0, or the error. */
static int rogue_wait(struct cnio_fab *r, void *op)
{
    int64_t deadline = cnio__now_ms() + ROGUE_MS;

    while (cnio__now_ms() < deadline) {
        struct fi_cq_tagged_entry e;
        ssize_t n = fi_cq_read(r->cq, &e, 1);

        if (n == 1 && e.op_context == op)
            return 0;
        if (n == -FI_EAVAIL) {
            struct fi_cq_err_entry err = { 0 };

            fi_cq_readerr(r->cq, &err, 0);
            if (err.op_context == op)
                return err.err ? -err.err : -1;
        }
    }
    return -2;
}

/* The rogue sends len bytes at buf to the server (srv), tagged tag. */
static void rogue_send(struct cnio_fab *r, uint64_t srv, const void *buf, size_t len,
                       uint64_t tag)
{
    struct fi_context2 ctx;
    ssize_t ret;
    int64_t deadline = cnio__now_ms() + ROGUE_MS;

    do {
        ret = fi_tsend(r->ep, buf, len, NULL, srv, tag, &ctx);
        if (ret == -FI_EAGAIN)
            fi_cq_read(r->cq, NULL, 0);
    } while (ret == -FI_EAGAIN && cnio__now_ms() < deadline);
    ck_assert_int_eq(ret, 0);
    ck_assert_int_eq(rogue_wait(r, &ctx), 0);
}

/* The rogue HELLOs the server and waits for its CHALLENGE: the server has then handled
 * whatever the rogue sent before (one sender's messages arrive in order: FI_ORDER_SAS,
 * and the server handles them as they complete). Then BYEs that connection, its own,
 * as a client does. */
static void rogue_sync(struct cnio_fab *r, uint64_t srv)
{
    uint8_t chal[CNIO_WIRE_HDR_SIZE + CNIO_WIRE_CHALLENGE_SIZE];
    struct cnio_wire_hdr h;
    struct fi_context2 ctx;

    ck_assert_int_eq(fi_trecv(r->ep, chal, sizeof(chal), NULL, FI_ADDR_UNSPEC,
                              cnio__fab_reply_tag(ROGUE_CID, 0), 0, &ctx), 0);
    rogue_send(r, srv, r->name, r->namelen, CNIO_FAB_TAG_HELLO | ROGUE_CID);
    ck_assert_int_eq(rogue_wait(r, &ctx), 0);
    ck_assert_int_eq(cnio__wire_hdr_decode(chal, &h), 0);
    ck_assert_uint_eq(h.type, CNIO_WIRE_CHALLENGE);
    ck_assert_int_eq(h.status, 0);
    rogue_send(r, srv, NULL, 0, CNIO_FAB_TAG_BYE | (uint32_t)h.object);
}

static struct cnio_fab *rogue_open(const struct victim *v, uint64_t *srv)
{
    static struct cnio_fab r;

    ck_assert_int_eq(cnio__fab_open(v->prov, NULL, &r), 0);
    ck_assert_int_eq(cnio__fab_av_get(&r, v->srv, v->srvlen, srv), 0);
    return &r;
}

/* BYEs tagged with the victim's id: empty (as an old client's), with a session and with
 * a nonce that are not its own. */
static void rogue_byes(const struct victim *v)
{
    uint8_t guess[CNIO_WIRE_NONCE] = { 0 };
    uint64_t srv;
    struct cnio_fab *r = rogue_open(v, &srv);

    rogue_send(r, srv, NULL, 0, CNIO_FAB_TAG_BYE | v->sid);
    cnio__put_le64(guess, v->session + 1);
    rogue_send(r, srv, guess, 8, CNIO_FAB_TAG_BYE | v->sid);
    rogue_send(r, srv, guess, sizeof(guess), CNIO_FAB_TAG_BYE | v->sid);
    rogue_sync(r, srv);
    cnio__fab_close(r);
}

/* Frames tagged with the victim's id: a PING with a wrong session, one whose header's
 * CRC is wrong, and a WRITE with a wrong session and a bad payload CRC. */
static void rogue_frames(const struct victim *v)
{
    struct cnio_wire_hdr h = { .type = CNIO_WIRE_PING, .reqid = 0x4242,
                               .session = v->session + 1 };
    uint8_t buf[CNIO_WIRE_HDR_SIZE + 16] = { 0 };
    uint64_t srv;
    struct cnio_fab *r = rogue_open(v, &srv);

    cnio__wire_hdr_encode(&h, buf);
    rogue_send(r, srv, buf, CNIO_WIRE_HDR_SIZE, v->sid);
    buf[20] ^= 1;
    rogue_send(r, srv, buf, CNIO_WIRE_HDR_SIZE, v->sid);
    h = (struct cnio_wire_hdr){ .type = CNIO_WIRE_WRITE, .reqid = 0x4243,
                                .session = v->session ^ 0x100, .length = 16,
                                .payload_crc = 1 };
    cnio__wire_hdr_encode(&h, buf);
    rogue_send(r, srv, buf, sizeof(buf), v->sid);
    rogue_sync(r, srv);
    cnio__fab_close(r);
}

/* 1 when the server's log says it dropped a message naming a connection (it is written
 * as the server handles the message; the rogue's sync came after). No log (the fixture
 * sends it to the terminal with CNIO_FX_VERBOSE): 1. */
static int server_logged_drop(void)
{
    char path[256], line[1024];
    FILE *f;
    int found = 0;

    snprintf(path, sizeof(path), "%s/server0.log", fx.dir);
    if (getenv("CNIO_FX_VERBOSE") || !(f = fopen(path, "r")))
        return 1;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, "naming it without its session id") != NULL;
    fclose(f);
    return found;
}

/* The victim, attacked by attack, writes the rest of path and closes it: all succeeds. */
static void victim_survives(const char *const *extra, const char *q, const char *path,
                            void (*attack)(const struct victim *))
{
    uint8_t *data = malloc(LEN);
    struct victim v;

    fx_fill(data, LEN, 92);
    victim_open(extra, path, q, data, &v);
    attack(&v);
    ck_assert_msg(server_logged_drop(), "the server's log tells no dropped message");
    ck_assert_int_eq(cnio__obj_pwrite(v.o, data + LEN / 2, LEN / 2, LEN / 2), LEN / 2);
    ck_assert_int_eq(cnio__obj_close(v.o), 0);
    free(data);
}

static const char *const rxm_extra[] = { "--transport", "tcp,ofi", "--ofi-provider",
                                         "tcp;ofi_rxm", NULL };
static const char rxm_q[] = "lanes=1&transport=ofi&ofi_provider=tcp;ofi_rxm&timeout_ms=8000";
static const char *const rxd_extra[] = { "--transport", "tcp,udp", NULL };
static const char rxd_q[] = "lanes=1&transport=udp&timeout_ms=8000";

static const char *const shm_extra[] = { "--transport", "tcp,ofi", "--ofi-provider", "shm",
                                         NULL };
static const char shm_q[] = "lanes=1&transport=ofi&ofi_provider=shm&timeout_ms=8000";

START_TEST(shm_bye)
{
    victim_survives(shm_extra, shm_q, "rogue/e", rogue_byes);
}
END_TEST

START_TEST(shm_frame)
{
    victim_survives(shm_extra, shm_q, "rogue/f", rogue_frames);
}
END_TEST

START_TEST(rxm_bye)
{
    victim_survives(rxm_extra, rxm_q, "rogue/a", rogue_byes);
}
END_TEST

START_TEST(rxm_frame)
{
    victim_survives(rxm_extra, rxm_q, "rogue/b", rogue_frames);
}
END_TEST

START_TEST(rxd_bye)
{
    victim_survives(rxd_extra, rxd_q, "rogue/c", rogue_byes);
}
END_TEST

START_TEST(rxd_frame)
{
    victim_survives(rxd_extra, rxd_q, "rogue/d", rogue_frames);
}
END_TEST

static Suite *rogue_suite(void)
{
    Suite *s = suite_create("fab_rogue");
    TCase *tc = tcase_create("rogue");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, rxm_bye);
    tcase_add_test(tc, rxm_frame);
    tcase_add_test(tc, rxd_bye);
    tcase_add_test(tc, rxd_frame);
    tcase_add_test(tc, shm_bye);
    tcase_add_test(tc, shm_frame);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(rogue_suite());
}

#else /* !HAVE_LIBFABRIC */

int main(void)
{
    return 77;
}

#endif
