/*
 * check_config.c - cnio:// URIs, hints, environment and precedence (src/config.c).
 */
#include "common.h"
#include "config.h"
#include "log.h"

#include "fixture.h"
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const env_vars[] = {
    "CNIO_STRIPING_UNIT", "CNIO_STRIPE_UNIT", "CNIO_STRIPING_FACTOR", "CNIO_STRIPE_COUNT",
    "CNIO_CB_NODES", "CNIO_CB_BUFFER_SIZE", "CNIO_ROMIO_CB_WRITE", "CNIO_ROMIO_CB_READ",
    "CNIO_LANES", "CNIO_TIMEOUT_MS", "CNIO_CONNECT_WINDOW", "CNIO_TRANSPORT", "CNIO_KEY_FILE",
    "CNIO_MAX_CONNS_PER_SERVER", "CNIO_CONNECT_MODE", "CNIO_ROUTE",
};

static void clear_env(void)
{
    for (size_t i = 0; i < CNIO_ARRAY_LEN(env_vars); i++)
        unsetenv(env_vars[i]);
}

static int parse_rc(const char *s)
{
    struct cnio_uri u;
    int ret = cnio__uri_parse(s, &u);

    if (ret == 0)
        cnio__uri_free(&u);
    return ret;
}

/* cnio_strerror of any int, either sign (cnio.h: never NULL). INT_MIN, whose negation
 * overflows, indexed the table below 0: SIGSEGV. */
START_TEST(strerror_any)
{
    const int v[] = { 0, 1, -1, CNIO_ERR_MAX_ - 1, -(CNIO_ERR_MAX_ - 1), CNIO_ERR_MAX_,
                      -CNIO_ERR_MAX_, 1000, -1000, INT_MAX, -INT_MAX, INT_MIN };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        ck_assert_ptr_nonnull(cnio_strerror(v[i]));
    ck_assert_str_eq(cnio_strerror(INT_MIN), "unknown cnio error");
    ck_assert_str_eq(cnio_strerror(-CNIO_ERR_INVAL), cnio_strerror(CNIO_ERR_INVAL));
}
END_TEST

START_TEST(uri_basic)
{
    struct cnio_uri u;

    ck_assert_int_eq(cnio__uri_parse("cnio://h1:7000,h2/run7/out.dat?stripe_unit=4M&lanes=2",
                                     &u), 0);
    ck_assert_int_eq(u.nhosts, 2);
    ck_assert_str_eq(u.hosts[0].name, "h1");
    ck_assert_uint_eq(u.hosts[0].port, 7000);
    ck_assert_str_eq(u.hosts[1].name, "h2");
    ck_assert_uint_eq(u.hosts[1].port, CNIO_DEFAULT_PORT);
    ck_assert_str_eq(u.path, "run7/out.dat");
    ck_assert_str_eq(u.query, "stripe_unit=4M&lanes=2");
    cnio__uri_free(&u);

    ck_assert_int_eq(cnio__uri_parse("cnio://10.0.0.1", &u), 0);
    ck_assert_int_eq(u.nhosts, 1);
    ck_assert_str_eq(u.hosts[0].name, "10.0.0.1");
    ck_assert_str_eq(u.path, "");
    ck_assert_str_eq(u.query, "");
    cnio__uri_free(&u);

    ck_assert_int_eq(cnio__uri_parse("cnio://h/?lanes=3", &u), 0);
    ck_assert_str_eq(u.path, "");
    ck_assert_str_eq(u.query, "lanes=3");
    cnio__uri_free(&u);

    ck_assert_int_eq(cnio__uri_parse("cnio://host-1.example.org:65535/a", &u), 0);
    ck_assert_uint_eq(u.hosts[0].port, 65535);
    cnio__uri_free(&u);

    ck_assert_int_eq(cnio__uri_is_cnio("cnio://x/y"), 1);
    ck_assert_int_eq(cnio__uri_is_cnio("CNIO://x/y"), 1);   /* RFC 3986, 3.1 */
    ck_assert_int_eq(cnio__uri_parse("Cnio://h:7000/a/b", &u), 0);
    ck_assert_str_eq(u.hosts[0].name, "h");
    ck_assert_str_eq(u.path, "a/b");
    cnio__uri_free(&u);
    ck_assert_int_eq(cnio__uri_is_cnio("cnio:/x/y"), 0);
    ck_assert_int_eq(cnio__uri_is_cnio("/tmp/x"), 0);
    ck_assert_int_eq(cnio__uri_is_cnio(NULL), 0);
}
END_TEST

/* A directory URI may end in one '/': `cnio ls cnio://h/dir/` lists "dir". */
START_TEST(uri_trailing_slash)
{
    struct cnio_uri u = { 0 };

    ck_assert_int_eq(cnio__uri_parse("cnio://h1/dir/sub/?lanes=2", &u), 0);
    ck_assert_str_eq(u.path, "dir/sub");
    ck_assert_str_eq(u.query, "lanes=2");
    ck_assert_int_eq(u.dir_slash, 1);
    cnio__uri_free(&u);
    ck_assert_int_eq(cnio__uri_parse("cnio://h1/dir/sub", &u), 0);
    ck_assert_int_eq(u.dir_slash, 0);
    cnio__uri_free(&u);
    ck_assert_int_eq(cnio__uri_parse("cnio://h1/", &u), 0);
    ck_assert_str_eq(u.path, "");
    cnio__uri_free(&u);
    /* the root spelt cnio://h/$dir/ with $dir empty: the root, as a directory */
    ck_assert_int_eq(cnio__uri_parse("cnio://h1//", &u), 0);
    ck_assert_str_eq(u.path, "");
    ck_assert_int_eq(u.dir_slash, 1);
    cnio__uri_free(&u);
}
END_TEST

/*
 * A name's components are separated by single '/', whether the '/' that is wrong leads,
 * is doubled or ends the name twice: "cnio://h//lead/x" was taken for "lead/x" and
 * "cnio://h/a//" for the directory "a", while "cnio://h/a//b" was refused.
 */
START_TEST(uri_extra_slash)
{
    static const char *const bad[] = {
        "cnio://h//lead/x", "cnio://h///lead", "cnio://h/a//", "cnio://h/a//?lanes=2",
        "cnio://h/a/b///", "cnio://h///", "cnio://h//a//b", "cnio://h/%2Fa",
    };
    struct cnio_uri u;

    for (size_t i = 0; i < CNIO_ARRAY_LEN(bad); i++) {
        ck_assert_msg(cnio__uri_parse(bad[i], &u) == -CNIO_ERR_URI, "accepted %s", bad[i]);
        ck_assert_msg(strstr(cnio__uri_why(), "empty component"), "%s: '%s'", bad[i],
                      cnio__uri_why());
    }
}
END_TEST

START_TEST(uri_ipv6)
{
    struct cnio_uri u;

    ck_assert_int_eq(cnio__uri_parse("cnio://[::1]:7001,[fe80::1%eth0],h3/x", &u), 0);
    ck_assert_int_eq(u.nhosts, 3);
    ck_assert_str_eq(u.hosts[0].name, "::1");
    ck_assert_uint_eq(u.hosts[0].port, 7001);
    ck_assert_str_eq(u.hosts[1].name, "fe80::1%eth0");
    ck_assert_uint_eq(u.hosts[1].port, CNIO_DEFAULT_PORT);
    ck_assert_str_eq(u.hosts[2].name, "h3");
    ck_assert_str_eq(u.path, "x");
    cnio__uri_free(&u);

    ck_assert_int_eq(parse_rc("cnio://[::1/x"), -CNIO_ERR_URI);
    ck_assert_int_eq(parse_rc("cnio://[]/x"), -CNIO_ERR_URI);
    ck_assert_int_eq(parse_rc("cnio://[::1]x/x"), -CNIO_ERR_URI);
    ck_assert_int_eq(parse_rc("cnio://[::1]:/x"), -CNIO_ERR_URI);
    ck_assert_int_eq(parse_rc("cnio://::1/x"), -CNIO_ERR_URI);
    ck_assert_int_eq(parse_rc("cnio://[host]/x"), -CNIO_ERR_URI);
}
END_TEST

START_TEST(uri_bad)
{
    static const char *const bad[] = {
        "h1/x", "cnio:/h1/x", "http://h1/x", "cnio://", "cnio:///x", "cnio://,h2/x",
        "cnio://h1,/x", "cnio://h1,,h2/x", "cnio://h1:/x", "cnio://h1:0/x",
        "cnio://h1:65536/x", "cnio://h1:99999999/x", "cnio://h1:-1/x", "cnio://h1:7a/x",
        "cnio://h1:80:90/x", "cnio://h 1/x", "cnio://h@1/x", "", "cnio:/",
    };

    for (size_t i = 0; i < CNIO_ARRAY_LEN(bad); i++)
        ck_assert_msg(parse_rc(bad[i]) == -CNIO_ERR_URI, "accepted \"%s\"", bad[i]);
    ck_assert_int_eq(parse_rc(NULL), -CNIO_ERR_URI);
}
END_TEST

START_TEST(uri_escapes)
{
    static const struct {
        const char *uri, *path;
    } good[] = {
        { "cnio://h/a%20b", "a b" }, { "cnio://h/%61%2F%62", "a/b" }, { "cnio://h/x%25y", "x%y" },
        { "cnio://h/d%C3%A9j%c3%a0/", "d\xc3\xa9j\xc3\xa0" }, { "cnio://h/%7e", "~" },
        { "cnio://h/", "" },
    };
    static const struct {
        const char *uri, *why;
    } bad[] = {
        { "cnio://h/%2e%2e/etc", "names may not start with '.'" },
        { "cnio://h/a/%2E%2e", "names may not start with '.'" },
        { "cnio://h/a/../b", "names may not start with '.'" },
        { "cnio://h/a/.hidden", "names may not start with '.'" },
        { "cnio://h/a%0Ab", "control character in name" },
        { "cnio://h/a\nb", "control character in name" },
        { "cnio://h/a%7fb", "control character in name" },
        { "cnio://h/a%00b", "NUL byte in name" },
        { "cnio://h/a%2", "'%' not followed by two hex digits" },
        { "cnio://h/a%g0", "'%' not followed by two hex digits" },
        { "cnio://h/a//b", "empty component" },
        { "cnio://h/a%2F%2Fb", "empty component" },
        { "cnio:///a", "bad host list" },
        { "cnio://h1,h2,h1/a", "a host is listed twice" },         /* h1,h1 for h1,h2 */
        { "cnio://h:5,H:5/a", "a host is listed twice" },
        { "cnio://h,h:7447/a", "a host is listed twice" },         /* the default port */
    };
    struct cnio_uri u;
    char longc[300];

    for (size_t i = 0; i < CNIO_ARRAY_LEN(good); i++) {
        ck_assert_msg(cnio__uri_parse(good[i].uri, &u) == 0, "refused %s", good[i].uri);
        ck_assert_str_eq(u.path, good[i].path);
        cnio__uri_free(&u);
    }
    for (size_t i = 0; i < CNIO_ARRAY_LEN(bad); i++) {
        ck_assert_msg(cnio__uri_parse(bad[i].uri, &u) == -CNIO_ERR_URI, "accepted %s",
                      bad[i].uri);
        ck_assert_msg(strstr(cnio__uri_why(), bad[i].why), "%s: '%s', not '%s'", bad[i].uri,
                      cnio__uri_why(), bad[i].why);
    }
    memset(longc, 'c', sizeof(longc));
    ck_assert_ptr_null(cnio__name_problem(longc, 255));
    ck_assert_str_eq(cnio__name_problem(longc, 256), "component longer than 255 bytes");
    ck_assert_str_eq(cnio__name_problem("a/b/", 4), "empty component in name (a leading, "
                     "doubled or trailing '/')");
    ck_assert_str_eq(cnio__name_problem("", 0), "empty name");
}
END_TEST

/* cnio__fnv1a64/32 give FNV-1a's published values (the IETF draft's test vectors), whole
 * or in pieces: names of files and locks that separate processes compute must agree. */
START_TEST(fnv1a_vectors)
{
    ck_assert_uint_eq(cnio__fnv1a64(CNIO_FNV64_BASIS, "", 0), 0xcbf29ce484222325ull);
    ck_assert_uint_eq(cnio__fnv1a64(CNIO_FNV64_BASIS, "a", 1), 0xaf63dc4c8601ec8cull);
    ck_assert_uint_eq(cnio__fnv1a64(CNIO_FNV64_BASIS, "foobar", 6), 0x85944171f73967e8ull);
    ck_assert_uint_eq(cnio__fnv1a64(cnio__fnv1a64(CNIO_FNV64_BASIS, "foo", 3), "bar", 3),
                      0x85944171f73967e8ull);
    ck_assert_uint_eq(cnio__fnv1a32(CNIO_FNV32_BASIS, "", 0), 0x811c9dc5u);
    ck_assert_uint_eq(cnio__fnv1a32(CNIO_FNV32_BASIS, "a", 1), 0xe40c292cu);
    ck_assert_uint_eq(cnio__fnv1a32(CNIO_FNV32_BASIS, "foobar", 6), 0xbf9cf968u);
}
END_TEST

START_TEST(uri_many_hosts)
{
    size_t cap = (CNIO_MAX_HOSTS + 2) * 24 + 64, len;
    char *s = malloc(cap);
    struct cnio_uri u;

    ck_assert_ptr_nonnull(s);
    len = (size_t)snprintf(s, cap, "cnio://");
    for (int i = 0; i < CNIO_MAX_HOSTS; i++)
        len += (size_t)snprintf(s + len, cap - len, "%sh%d:%d", i ? "," : "", i, 1000 + i);
    snprintf(s + len, cap - len, "/obj");
    ck_assert_int_eq(cnio__uri_parse(s, &u), 0);
    ck_assert_int_eq(u.nhosts, CNIO_MAX_HOSTS);
    ck_assert_str_eq(u.hosts[CNIO_MAX_HOSTS - 1].name, "h255");
    ck_assert_uint_eq(u.hosts[CNIO_MAX_HOSTS - 1].port, 1000 + CNIO_MAX_HOSTS - 1);
    ck_assert_str_eq(u.path, "obj");
    cnio__uri_free(&u);

    snprintf(s + len, cap - len, ",one-too-many/obj");
    ck_assert_int_eq(parse_rc(s), -CNIO_ERR_URI);
    free(s);
}
END_TEST

START_TEST(uri_long_names)
{
    char host[CNIO_HOSTNAME_MAX + 2], s[4096];

    memset(host, 'a', sizeof(host));
    host[CNIO_HOSTNAME_MAX] = '\0';
    snprintf(s, sizeof(s), "cnio://%s/x", host);
    ck_assert_int_eq(parse_rc(s), 0);
    host[CNIO_HOSTNAME_MAX] = 'a';
    host[CNIO_HOSTNAME_MAX + 1] = '\0';
    snprintf(s, sizeof(s), "cnio://%s/x", host);
    ck_assert_int_eq(parse_rc(s), -CNIO_ERR_URI);

    memset(s, 'p', sizeof(s));
    memcpy(s, "cnio://h/", 9);
    for (int i = 200; i < 1100; i += 201)   /* components of 200 bytes */
        s[9 + i] = '/';
    s[9 + 1024] = '\0';
    ck_assert_int_eq(parse_rc(s), 0);
    s[9 + 1024] = 'p';
    s[9 + 1025] = '\0';
    ck_assert_int_eq(parse_rc(s), -CNIO_ERR_URI);
}
END_TEST

START_TEST(sizes)
{
    uint64_t v;

    ck_assert_int_eq(cnio__parse_size("0", &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(cnio__parse_size("123", &v), 0);
    ck_assert_uint_eq(v, 123);
    ck_assert_int_eq(cnio__parse_size("4K", &v), 0);
    ck_assert_uint_eq(v, 4096);
    ck_assert_int_eq(cnio__parse_size("16m", &v), 0);
    ck_assert_uint_eq(v, 16u << 20);
    ck_assert_int_eq(cnio__parse_size("3G", &v), 0);
    ck_assert_uint_eq(v, 3ull << 30);
    ck_assert_int_eq(cnio__parse_size("18446744073709551615", &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);

    static const char *const bad[] = {
        "", "K", "-1", " 1", "1 ", "1KB", "1T", "1.5M", "0x10", "18446744073709551616",
        "17179869184G", "99999999999999999999999",
    };
    for (size_t i = 0; i < CNIO_ARRAY_LEN(bad); i++)
        ck_assert_msg(cnio__parse_size(bad[i], &v) == -CNIO_ERR_HINT, "accepted \"%s\"", bad[i]);
    ck_assert_int_eq(cnio__parse_size(NULL, &v), -CNIO_ERR_HINT);
}
END_TEST

START_TEST(hint_defaults)
{
    struct cnio_hints h;

    cnio__hints_default(&h);
    ck_assert_uint_eq(h.striping_unit, 1u << 20);
    ck_assert_uint_eq(h.striping_factor, 0);
    ck_assert_uint_eq(h.cb_nodes, 0);
    ck_assert_uint_eq(h.cb_buffer_size, 16u << 20);
    ck_assert_int_eq(h.romio_cb_write, CNIO_CB_AUTOMATIC);
    ck_assert_int_eq(h.romio_cb_read, CNIO_CB_AUTOMATIC);
    ck_assert_uint_eq(h.cb_direct_min, 16u << 10);
    ck_assert_uint_eq(h.lanes, 1);
    ck_assert_int_eq(h.timeout_ms, 30000);
    ck_assert_int_eq(h.connect_window, 16);
    ck_assert_str_eq(h.transport, "tcp");
    ck_assert_str_eq(h.key_file, "");
}
END_TEST

START_TEST(hint_set)
{
    struct cnio_hints h;

    cnio__hints_default(&h);
    ck_assert_int_eq(cnio__hints_set(&h, "striping_unit", "64K"), 0);
    ck_assert_uint_eq(h.striping_unit, 64 << 10);
    ck_assert_int_eq(cnio__hints_set(&h, "stripe_unit", "2M"), 0);
    ck_assert_uint_eq(h.striping_unit, 2 << 20);
    ck_assert_int_eq(cnio__hints_set(&h, "striping_factor", "3"), 0);
    ck_assert_uint_eq(h.striping_factor, 3);
    ck_assert_int_eq(cnio__hints_set(&h, "stripe_count", "0"), 0);
    ck_assert_uint_eq(h.striping_factor, 0);
    ck_assert_int_eq(cnio__hints_set(&h, "cb_nodes", "8"), 0);
    ck_assert_uint_eq(h.cb_nodes, 8);
    ck_assert_int_eq(cnio__hints_set(&h, "cb_buffer_size", "4M"), 0);
    ck_assert_uint_eq(h.cb_buffer_size, 4 << 20);
    ck_assert_int_eq(cnio__hints_set(&h, "romio_cb_write", "enable"), 0);
    ck_assert_int_eq(h.romio_cb_write, CNIO_CB_ENABLE);
    ck_assert_int_eq(cnio__hints_set(&h, "romio_cb_read", "disable"), 0);
    ck_assert_int_eq(h.romio_cb_read, CNIO_CB_DISABLE);
    ck_assert_int_eq(cnio__hints_set(&h, "romio_cb_read", "automatic"), 0);
    ck_assert_int_eq(h.romio_cb_read, CNIO_CB_AUTOMATIC);
    ck_assert_int_eq(cnio__hints_set(&h, "cnio_cb_direct_min", "1M"), 0);
    ck_assert_uint_eq(h.cb_direct_min, 1u << 20);
    ck_assert_int_eq(cnio__hints_set(&h, "cb_direct_min", "0"), 0);
    ck_assert_uint_eq(h.cb_direct_min, 0);
    ck_assert_int_eq(cnio__hints_set(&h, "cnio_lanes", "16"), 0);
    ck_assert_uint_eq(h.lanes, 16);
    ck_assert_int_eq(cnio__hints_set(&h, "lanes", "1"), 0);
    ck_assert_uint_eq(h.lanes, 1);
    ck_assert_int_eq(cnio__hints_set(&h, "timeout_ms", "1500"), 0);
    ck_assert_int_eq(h.timeout_ms, 1500);
    ck_assert_int_eq(cnio__hints_set(&h, "cnio_connect_window", "4"), 0);
    ck_assert_int_eq(h.connect_window, 4);
    ck_assert_int_eq(cnio__hints_set(&h, "connect_window", "5"), 0);
    ck_assert_int_eq(h.connect_window, 5);
    ck_assert_int_eq(cnio__hints_set(&h, "transport", "udp"), 0);
    ck_assert_str_eq(h.transport, "udp");
    ck_assert_int_eq(cnio__hints_set(&h, "key_file", "/tmp/k"), 0);
    ck_assert_str_eq(h.key_file, "/tmp/k");
    ck_assert_int_eq(cnio__hints_set(&h, "cnio_key_file", ""), 0);
    ck_assert_str_eq(h.key_file, "");
    ck_assert_int_eq(cnio__hints_set(&h, "no_such_hint", "1"), 1);
    ck_assert_uint_eq(h.max_conns_per_server, 512);
    ck_assert_int_eq(cnio__hints_set(&h, "cnio_max_conns_per_server", "8"), 0);
    ck_assert_uint_eq(h.max_conns_per_server, 8);
    ck_assert_int_eq(h.connect_mode, CNIO_CONNECT_ON_DEMAND);
    ck_assert_int_eq(cnio__hints_set(&h, "connect_mode", "EAGER"), 0);
    ck_assert_int_eq(h.connect_mode, CNIO_CONNECT_EAGER);
    ck_assert_int_eq(h.route, CNIO_ROUTE_AUTOMATIC);
    ck_assert_int_eq(cnio__hints_set(&h, "cnio_route", "aggregate"), 0);
    ck_assert_int_eq(h.route, CNIO_ROUTE_AGGREGATE);
}
END_TEST

START_TEST(hint_bad)
{
    static const char *const bad[][2] = {
        { "striping_unit", "0" }, { "striping_unit", "x" }, { "striping_unit", "2048G" },
        { "striping_factor", "257" }, { "striping_factor", "-1" }, { "striping_factor", "1K" },
        { "cb_buffer_size", "0" }, { "cb_buffer_size", "2G" }, { "romio_cb_write", "yes" },
        { "romio_cb_read", "" },
        { "cnio_lanes", "0" }, { "lanes", "17" }, { "cnio_timeout_ms", "0" },
        { "timeout_ms", "3000000000" }, { "timeout_ms", "" }, { "cnio_connect_window", "0" },
        { "transport", "" }, { "transport", "TCP" }, { "transport", "averyveryverylongname" },
        { "transport", "nosuch" }, { "cnio_transport", "tcp4" },
        { "cb_nodes", "many" }, { "cb_nodes", "0" }, { "cb_nodes", "-1" },
        { "cnio_cb_direct_min", "2048G" }, { "cb_direct_min", "-1" },
        { "cnio_max_conns_per_server", "0" }, { "max_conns_per_server", "1x" },
        { "cnio_connect_mode", "lazy" }, { "connect_mode", "" }, { "cnio_route", "direct2" },
    };
    struct cnio_hints h, ref;

    cnio__hints_default(&h);
    ref = h;
    for (size_t i = 0; i < CNIO_ARRAY_LEN(bad); i++)
        ck_assert_msg(cnio__hints_set(&h, bad[i][0], bad[i][1]) == -CNIO_ERR_HINT,
                      "accepted %s=%s", bad[i][0], bad[i][1]);
    ck_assert_int_eq(memcmp(&h, &ref, sizeof(h)), 0);
}
END_TEST

START_TEST(hint_query)
{
    struct cnio_hints h;

    cnio__hints_default(&h);
    ck_assert_int_eq(cnio__hints_from_query(&h, "stripe_unit=4M&lanes=2&&transport=tcp&bogus=1"
                                                "&cnio_timeout_ms=250&striping_factor=2"), 0);
    ck_assert_uint_eq(h.striping_unit, 4 << 20);
    ck_assert_uint_eq(h.lanes, 2);
    ck_assert_int_eq(h.timeout_ms, 250);
    ck_assert_uint_eq(h.striping_factor, 2);
    ck_assert_int_eq(cnio__hints_from_query(&h, ""), 0);
    ck_assert_int_eq(cnio__hints_from_query(&h, NULL), 0);
    ck_assert_int_eq(cnio__hints_from_query(&h, "lanes=99"), -CNIO_ERR_HINT);
    ck_assert_int_eq(cnio__hints_from_query(&h, "lanes"), -CNIO_ERR_URI);
    ck_assert_int_eq(cnio__hints_from_query(&h, "=3"), -CNIO_ERR_URI);
}
END_TEST

START_TEST(hint_env_precedence)
{
    struct cnio_hints h;
    struct cnio_uri u;

    clear_env();
    setenv("CNIO_STRIPING_UNIT", "256K", 1);
    setenv("CNIO_LANES", "3", 1);
    setenv("CNIO_TIMEOUT_MS", "777", 1);
    setenv("CNIO_ROMIO_CB_WRITE", "disable", 1);
    setenv("CNIO_STRIPE_COUNT", "2", 1);
    setenv("CNIO_KEY_FILE", "/k/env", 1);
    ck_assert_int_eq(cnio__uri_parse("cnio://a,b/o?lanes=4&stripe_unit=8K", &u), 0);
    ck_assert_int_eq(cnio__hints_resolve(&h, &u), 0);
    ck_assert_uint_eq(h.striping_unit, 8 << 10);  /* query beats environment */
    ck_assert_uint_eq(h.lanes, 4);
    ck_assert_int_eq(h.timeout_ms, 777);          /* environment beats default */
    ck_assert_int_eq(h.romio_cb_write, CNIO_CB_DISABLE);
    ck_assert_uint_eq(h.striping_factor, 2);      /* short-name variable */
    ck_assert_str_eq(h.key_file, "/k/env");
    ck_assert_int_eq(h.connect_window, 16);       /* default */
    cnio__uri_free(&u);

    setenv("CNIO_STRIPING_FACTOR", "1", 1);       /* full name beats short name */
    ck_assert_int_eq(cnio__hints_resolve(&h, NULL), 0);
    ck_assert_uint_eq(h.striping_factor, 1);

    setenv("CNIO_LANES", "zero", 1);
    ck_assert_int_eq(cnio__hints_resolve(&h, NULL), -CNIO_ERR_HINT);
    clear_env();
    ck_assert_int_eq(cnio__hints_resolve(&h, NULL), 0);
    ck_assert_uint_eq(h.lanes, 1);
}
END_TEST

struct fe_acc {
    struct cnio_hints h;
    int n;
};

static int fe_collect(const char *name, const char *value, void *arg)
{
    struct fe_acc *a = arg;

    a->n++;
    return cnio__hints_set(&a->h, name, value);
}

START_TEST(hint_foreach_round_trip)
{
    struct cnio_hints h;
    struct fe_acc acc;

    cnio__hints_default(&h);
    ck_assert_int_eq(cnio__hints_from_query(&h, "stripe_unit=3K&stripe_count=5&cb_nodes=7&"
                     "cb_buffer_size=1M&romio_cb_write=enable&romio_cb_read=disable&lanes=6&"
                     "timeout_ms=123&connect_window=9&transport=ofi&key_file=/x/y&"
                     "cb_direct_min=64K&resume=true&replace=1&max_conns_per_server=8&"
                     "connect_mode=eager&route=aggregate&romio_ds_read=enable&"
                     "ind_rd_buffer_size=64K&lost_abort_ms=0"), 0);
    ck_assert_int_eq(h.romio_ds_read, CNIO_CB_ENABLE);
    ck_assert_uint_eq(h.ind_rd_buffer_size, 64u << 10);
    ck_assert_int_eq(h.lost_abort_ms, 0);
    cnio__hints_default(&acc.h);
    acc.n = 0;
    ck_assert_int_eq(cnio__hints_foreach(&h, fe_collect, &acc), 0);
    ck_assert_int_eq(acc.n, 20);
    ck_assert_int_eq(memcmp(&h, &acc.h, sizeof(h)), 0);
    /* the defaults too: an unset cb_nodes is not listed as 0, a value it refuses
     * (found by fuzz_config) */
    cnio__hints_default(&h);
    cnio__hints_default(&acc.h);
    acc.n = 0;
    ck_assert_int_eq(cnio__hints_foreach(&h, fe_collect, &acc), 0);
    ck_assert_int_eq(acc.n, 18);
    ck_assert_int_eq(memcmp(&h, &acc.h, sizeof(h)), 0);
    /* a string hint set again to a shorter value keeps nothing of the longer one after
     * its NUL (found by fuzz_config with ofi_provider; key_file alike) */
    cnio__hints_default(&h);
    ck_assert_int_eq(cnio__hints_from_query(&h, "key_file=/a/much/longer/path&key_file=/k&"
                     "ofi_provider=tcp;ofi_rxm&ofi_provider=shm"), 0);
    cnio__hints_default(&acc.h);
    ck_assert_int_eq(cnio__hints_foreach(&h, fe_collect, &acc), 0);
    ck_assert_int_eq(memcmp(&h, &acc.h, sizeof(h)), 0);
}
END_TEST

/* Control characters in a logged message (a file name, say) come out escaped: one
 * line, no byte that drives a terminal; an escape is never cut in half. */
START_TEST(log_escapes)
{
    char path[] = "/tmp/cnio-log-XXXXXX", buf[256], e[32];
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    ssize_t n;

    ck_assert_int_ge(fd, 0);
    unlink(path);
    dup2(fd, STDERR_FILENO);
    cnio__err("name a\033[31mb\nc\td\x7f: gone");
    dup2(saved, STDERR_FILENO);
    close(saved);
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "cnio: error: name a\\x1b[31mb\\nc\\td\\x7f: gone\n");

    ck_assert_uint_eq(cnio__escape_ctl(e, 6, "ab\033", 3), 2);   /* \x1b needs 4, + NUL */
    ck_assert_str_eq(e, "ab");
    ck_assert_uint_eq(cnio__escape_ctl(e, sizeof(e), "\033z", 2), 5);
    ck_assert_str_eq(e, "\\x1bz");
    ck_assert_uint_eq(cnio__escape_ctl(e, 1, "abc", 3), 0);
    ck_assert_str_eq(e, "");
    /* C1 controls (U+009B is CSI) and bytes that are not UTF-8 (0x9b is CSI in an 8-bit
     * locale), byte by byte; the rest of UTF-8 (U+00A0, U+00FC, U+20AC) as it is */
    ck_assert_uint_eq(cnio__escape_ctl(e, sizeof(e), "a\xc2\x9b" "31m\x9b" "b", 8), 17);
    ck_assert_str_eq(e, "a\\xc2\\x9b31m\\x9bb");
    ck_assert_uint_eq(cnio__escape_ctl(e, sizeof(e), "\xc2\xa0\xc3\xbc\xe2\x82\xac", 7), 7);
    ck_assert_str_eq(e, "\xc2\xa0\xc3\xbc\xe2\x82\xac");
    /* overlong, a surrogate, and a sequence cut short by n: each byte escaped */
    ck_assert_uint_eq(cnio__escape_ctl(e, sizeof(e), "\xc0\xaf\xed\xa0\x80", 5), 20);
    ck_assert_str_eq(e, "\\xc0\\xaf\\xed\\xa0\\x80");
    ck_assert_uint_eq(cnio__escape_ctl(e, sizeof(e), "x\xc3\xbc", 2), 5);
    ck_assert_str_eq(e, "x\\xc3");
    /* cut short when full before a UTF-8 sequence, never inside it */
    ck_assert_uint_eq(cnio__escape_ctl(e, 3, "a\xc3\xbc", 3), 1);
    ck_assert_str_eq(e, "a");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, strerror_any);
    tcase_add_test(tc, uri_basic);
    tcase_add_test(tc, uri_ipv6);
    tcase_add_test(tc, uri_escapes);
    tcase_add_test(tc, uri_trailing_slash);
    tcase_add_test(tc, uri_extra_slash);
    tcase_add_test(tc, uri_bad);
    tcase_add_test(tc, uri_many_hosts);
    tcase_add_test(tc, uri_long_names);
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, hint_defaults);
    tcase_add_test(tc, hint_set);
    tcase_add_test(tc, hint_bad);
    tcase_add_test(tc, hint_query);
    tcase_add_test(tc, hint_env_precedence);
    tcase_add_test(tc, hint_foreach_round_trip);
    tcase_add_test(tc, log_escapes);
    tcase_add_test(tc, fnv1a_vectors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(config_suite());
}
