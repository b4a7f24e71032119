/*
 * rxd_reuse.c - a deterministic reproduction, with plain libfabric calls, of the crash of
 * libfabric's udp;ofi_rxd (1.17, and every later release so far) in an endpoint bound to
 * a UDP address that an earlier endpoint used (doc/transports.md, udp-reuse.test). Not
 * part of make check: it crashes by design, inside libfabric.
 *
 *   gcc -O0 -g -Wall -Wextra -o rxd_reuse tests/fabric/rxd_reuse.c -lfabric
 *   ./rxd_reuse MODE [client_port server_port]
 *
 * One process, 127.0.0.1 only: a server endpoint S; a client A at port P sends to S, then
 * sends once more with fi_tinject (as cnio's BYE) and closes before S has progressed; a
 * client B binds P again and sends to S; S is progressed (it acknowledges A's last packet
 * to P, where B now is, then sends B its CTS); B is progressed.
 *
 *   G         the sequence above. Expected: SIGSEGV in rxd_ep_progress ->
 *             rxd_progress_pkt_list (the stale ACK freed B's RTS; the peer ended on both
 *             the RTS list and the active list). 20 of 20 runs on 2026-12-01.
 *   N         A inserts another address before S, so its peer numbers differ from B's.
 *             Expected: SIGSEGV in rxd_handle_ack (a NULL peer). 20 of 20.
 *   noextra   control: no second message from A. Survives (20 of 20).
 *   progress  control: S and A progressed before A closes (A gets its ACK). Survives.
 *   sfirst    control: S progressed after A closed and before B binds (the ACK finds no
 *             socket). Survives.
 *
 * Exit status: 0 survived ("SURVIVED"), 2 a libfabric call failed, 3 a bounded wait ran
 * out; the crash shows as SIGSEGV, or as status 1 when libpsm2's handler catches it. Ports
 * default to random ones in 30000-39999.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#define CHK(x)                                                                                 \
    do {                                                                                       \
        int _r = (int)(x);                                                                     \
        if (_r) {                                                                              \
            fprintf(stderr, "%s:%d %s = %d (%s)\n", __FILE__, __LINE__, #x, _r,                \
                    fi_strerror(-_r));                                                         \
            exit(2);                                                                           \
        }                                                                                      \
    } while (0)

struct node {
    const char *name;
    struct fi_info *info;
    struct fid_fabric *fabric;
    struct fid_domain *domain;
    struct fid_av *av;
    struct fid_cq *cq;
    struct fid_ep *ep;
};

static void open_node(struct node *n, const char *name, int port)
{
    struct fi_info *hints = fi_allocinfo();
    struct fi_av_attr av_attr = {.type = FI_AV_TABLE};
    struct fi_cq_attr cq_attr = {.format = FI_CQ_FORMAT_TAGGED, .size = 128};
    char svc[16];

    n->name = name;
    hints->ep_attr->type = FI_EP_RDM;
    hints->caps = FI_TAGGED | FI_MSG;
    hints->mode = FI_CONTEXT | FI_CONTEXT2;
    hints->addr_format = FI_SOCKADDR_IN;
    hints->fabric_attr->prov_name = strdup("udp;ofi_rxd");
    snprintf(svc, sizeof svc, "%d", port);
    CHK(fi_getinfo(FI_VERSION(1, 17), "127.0.0.1", svc, FI_SOURCE, hints, &n->info));
    fi_freeinfo(hints);
    CHK(fi_fabric(n->info->fabric_attr, &n->fabric, NULL));
    CHK(fi_domain(n->fabric, n->info, &n->domain, NULL));
    CHK(fi_av_open(n->domain, &av_attr, &n->av, NULL));
    CHK(fi_cq_open(n->domain, &cq_attr, &n->cq, NULL));
    CHK(fi_endpoint(n->domain, n->info, &n->ep, NULL));
    CHK(fi_ep_bind(n->ep, &n->av->fid, 0));
    CHK(fi_ep_bind(n->ep, &n->cq->fid, FI_TRANSMIT | FI_RECV));
    CHK(fi_enable(n->ep));
    printf("[%s] open, provider %s, bound 127.0.0.1:%d\n", name,
           n->info->fabric_attr->prov_name, port);
    fflush(stdout);
}

static void close_node(struct node *n)
{
    CHK(fi_close(&n->ep->fid));
    CHK(fi_close(&n->cq->fid));
    CHK(fi_close(&n->av->fid));
    CHK(fi_close(&n->domain->fid));
    CHK(fi_close(&n->fabric->fid));
    fi_freeinfo(n->info);
    printf("[%s] closed\n", n->name);
    fflush(stdout);
}

/* fi_cq_read up to iters times; returns number of completions */
static int progress(struct node *n, int iters, const char *why)
{
    struct fi_cq_tagged_entry e[8];
    int got = 0;

    for (int i = 0; i < iters; i++) {
        ssize_t r = fi_cq_read(n->cq, e, 8);
        if (r == -FI_EAGAIN)
            continue;
        if (r == -FI_EAVAIL) {
            struct fi_cq_err_entry err = {0};
            fi_cq_readerr(n->cq, &err, 0);
            printf("[%s] (%s) cq error %d %s\n", n->name, why, err.err, fi_strerror(err.err));
            continue;
        }
        if (r < 0) {
            printf("[%s] (%s) fi_cq_read %zd\n", n->name, why, r);
            exit(2);
        }
        for (ssize_t k = 0; k < r; k++)
            printf("[%s] (%s) completion flags=%s%s tag=%llu len=%zu\n", n->name, why,
                   (e[k].flags & FI_SEND) ? "SEND" : "", (e[k].flags & FI_RECV) ? "RECV" : "",
                   (unsigned long long)e[k].tag, e[k].len);
        got += (int)r;
    }
    fflush(stdout);
    return got;
}

/* progress a until it reports a completion, also progressing b */
static void progress_until(struct node *a, struct node *b, const char *why)
{
    for (int i = 0; i < 20000; i++) {
        if (b)
            progress(b, 1, why);
        if (progress(a, 1, why))
            return;
        if (i % 100 == 99)
            usleep(1000);
    }
    printf("[%s] (%s) no completion after bounded loop\n", a->name, why);
    exit(3);
}

static fi_addr_t insert_sin(struct node *n, int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    fi_addr_t fa;
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    if (fi_av_insert(n->av, &sin, 1, &fa, 0, NULL) != 1) {
        fprintf(stderr, "av insert failed\n");
        exit(2);
    }
    return fa;
}

static fi_addr_t insert_raw(struct node *n, void *addr)
{
    fi_addr_t fa;
    if (fi_av_insert(n->av, addr, 1, &fa, 0, NULL) != 1) {
        fprintf(stderr, "av insert failed\n");
        exit(2);
    }
    return fa;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "G";
    int cport, sport, dport;
    struct node S, A, B;
    char saddr[64];
    size_t saddrlen = sizeof saddr;
    static char rbuf[16][64];
    static struct fi_context2 rctx[16], tctx[4];
    char msg[32] = "hello";
    fi_addr_t sa, sb, dummy;

    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    cport = 30000 + rand() % 10000;
    do
        sport = 30000 + rand() % 10000;
    while (sport == cport);
    do
        dport = 30000 + rand() % 10000;
    while (dport == cport || dport == sport);
    if (argc > 3) {
        cport = atoi(argv[2]);
        sport = atoi(argv[3]);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("mode %s client port %d server port %d\n", mode, cport, sport);

    /* 1. server S, post receives */
    open_node(&S, "S", sport);
    CHK(fi_getname(&S.ep->fid, saddr, &saddrlen));
    for (int i = 0; i < 16; i++)
        CHK(fi_trecv(S.ep, rbuf[i], sizeof rbuf[i], NULL, FI_ADDR_UNSPEC, 0, ~0ULL, &rctx[i]));

    /* 2. client A at cport sends to S; progress both until done */
    open_node(&A, "A", cport);
    if (!strcmp(mode, "N")) {
        dummy = insert_sin(&A, dport);
        printf("[A] inserted dummy 127.0.0.1:%d as fi_addr %llu\n", dport,
               (unsigned long long)dummy);
    }
    sa = insert_raw(&A, saddr);
    printf("[A] inserted S as fi_addr %llu\n", (unsigned long long)sa);
    CHK(fi_tsend(A.ep, msg, 6, NULL, sa, 1, &tctx[0]));
    progress_until(&A, &S, "step2");
    progress(&S, 50, "step2-drain-S");
    progress(&A, 50, "step2-drain-A");

    /* 3. one more message from A, do not progress S, close A */
    if (strcmp(mode, "noextra")) {
        CHK(fi_tinject(A.ep, msg, 6, sa, 2));
        printf("[A] fi_tinject tag 2 posted\n");
    }
    if (!strcmp(mode, "progress")) {
        usleep(2000);
        progress(&S, 200, "ctl-S");
        usleep(2000);
        progress(&A, 200, "ctl-A");
    }
    close_node(&A);
    if (!strcmp(mode, "sfirst")) {
        /* S acks A's last packet while nothing is bound at the port */
        usleep(2000);
        progress(&S, 200, "sfirst-S");
        usleep(2000);
    }

    /* 4. B binds the same port, inserts S, fi_tsend */
    open_node(&B, "B", cport);
    sb = insert_raw(&B, saddr);
    printf("[B] inserted S as fi_addr %llu\n", (unsigned long long)sb);
    CHK(fi_tsend(B.ep, msg, 6, NULL, sb, 3, &tctx[1]));
    printf("[B] fi_tsend tag 3 posted\n");

    /* 5. progress S: ack to A's last packet (to port P), CTS for B */
    usleep(2000);
    progress(&S, 5, "step5-S");
    usleep(2000);

    /* 6. progress B */
    printf("[B] step 6: progressing B\n");
    for (int i = 0; i < 2000; i++) {
        int c = progress(&B, 1, "step6-B");
        progress(&S, 1, "step6-S");
        if (c)
            break;
        if (i % 100 == 99)
            usleep(1000);
    }
    /* give S ~100 ms to deliver B's message (tag 3) */
    for (int i = 0; i < 100; i++) {
        progress(&S, 10, "final-S");
        progress(&B, 10, "final-B");
        usleep(1000);
    }
    close_node(&B);
    close_node(&S);
    printf("SURVIVED mode %s\n", mode);
    return 0;
}
