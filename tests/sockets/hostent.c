/*
 * hostent.c - gethostbyname's and gethostbyname2's results as glibc keeps them: one
 * static result per function, process-wide, valid until the next call of the same
 * function from any thread. Prints what the program sees, for comparison with the same
 * program natively (argv[1], argv[2]: two names of /etc/hosts with IPv4 addresses).
 *   - a result obtained by a thread that then exits, read by another thread after a
 *     third has allocated memory of about the result's size;
 *   - gethostbyname(A), then gethostbyname2(B, AF_INET): the first result still says A;
 *   - errno after a successful and a failed lookup (glibc leaves it alone);
 *   - gethostbyname_r and gethostbyname2_r of a name with no address (glibc sets h_errno
 *     as well as *h_errnop) and into a buffer too small (ERANGE, *h_errnop
 *     NETDB_INTERNAL, which retry loops test).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *name_a;

static void *resolver(void *arg)
{
    (void)arg;
    return gethostbyname(name_a);
}

static void *other_work(void *arg)
{
    (void)arg;
    for (int i = 0; i < 8; i++) {
        char *p = malloc(4440);

        if (p)
            memset(p, 0x41, 4440);   /* kept */
    }
    return NULL;
}

static void show(const char *what, const struct hostent *h)
{
    char buf[INET6_ADDRSTRLEN] = "?";

    if (h->h_addrtype == AF_INET && h->h_length == 4 && h->h_addr_list[0])
        inet_ntop(AF_INET, h->h_addr_list[0], buf, sizeof(buf));
    printf("%s: h_name %.64s, type %d, length %d, address %s\n", what, h->h_name,
           h->h_addrtype, h->h_length, buf);
}

int main(int argc, char **argv)
{
    struct hostent *h1, *h2;
    pthread_t t;
    void *r;

    if (argc != 3)
        return 2;
    name_a = argv[1];
    pthread_create(&t, NULL, resolver, NULL);
    pthread_join(t, &r);
    if (!r)
        return printf("no answer for %s\n", name_a), 1;
    pthread_create(&t, NULL, other_work, NULL);
    pthread_join(t, NULL);
    show("from an exited thread", r);

    h1 = gethostbyname(argv[1]);
    h2 = gethostbyname2(argv[2], AF_INET);
    if (!h1 || !h2)
        return printf("no answer\n"), 1;
    printf("gethostbyname and gethostbyname2 share a result: %s\n", h1 == h2 ? "yes" : "no");
    show("gethostbyname after gethostbyname2", h1);
    show("gethostbyname2", h2);

    errno = 0;
    h1 = gethostbyname(argv[1]);
    printf("found: %s, errno %d\n", h1 ? "yes" : "no", errno);
    errno = 0;
    h1 = gethostbyname("nonexistent.invalid");
    printf("nonexistent: %s, h_errno %d, errno %d\n", h1 ? "found" : "NULL", h_errno, errno);
    for (int two = 0; two < 2; two++) {
        const char *fn = two ? "gethostbyname2_r" : "gethostbyname_r";
        struct hostent he, *res = &he;
        char buf[1024], small[8];
        int herr = 777, rc;

        h_errno = 0;
        rc = two ? gethostbyname2_r("nonexistent.invalid", AF_INET, &he, buf, sizeof(buf), &res,
                                    &herr)
                 : gethostbyname_r("nonexistent.invalid", &he, buf, sizeof(buf), &res, &herr);
        printf("%s nonexistent: rc %d, result %s, *h_errnop %d, h_errno %d\n", fn, rc,
               res ? "set" : "NULL", herr, h_errno);
        herr = 777;
        errno = 0;
        rc = two ? gethostbyname2_r(argv[1], AF_INET, &he, small, sizeof(small), &res, &herr)
                 : gethostbyname_r(argv[1], &he, small, sizeof(small), &res, &herr);
        printf("%s into 8 bytes: rc %d, errno %d, result %s, *h_errnop %d\n", fn, rc, errno,
               res ? "set" : "NULL", herr);
    }
    return 0;
}
