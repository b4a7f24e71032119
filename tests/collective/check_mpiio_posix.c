/*
 * check_mpiio_posix.c - the POSIX calls libcnio_mpiio.so serves on cnio names
 * (collective/mpiio_posix*.c), against two cnio-servers on loopback. This program is
 * linked with libcnio_mpiio.so ahead of libc, so its own open/read/stat/... calls are
 * the interposed ones, as in a program run under the preload.
 *
 * Each check makes the same calls on the object and on a local copy of its bytes and
 * compares what a program sees; paths that are not cnio names (including a local
 * "cnio:" directory) must reach the local file system untouched; no fd may leak.
 */
#include "common.h"
#include "client.h"
#include "config.h"
#include "fixture.h"
#include "stack.h"
#include "wire.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#define OBJ_LEN 300001u

/* glibc's _FORTIFY_SOURCE entry point, declared only by fortified headers. */
extern int __open_2(const char *path, int flags);

static struct fx fx;
static char uri[1024];          /* cnio://HOSTS/px/data.bin */
static char cut[1024];          /* //HOSTS/px/data.bin, as PnetCDF passes it on */
static char local[PATH_MAX];    /* the same bytes in a local file */
static uint8_t *data;

/* Writes data to the object px/data.bin (64 KiB stripes over both servers). */
static void put_object(void)
{
    struct cnio_stack *st;
    struct cnio_obj *obj;
    struct cnio_hints h;
    struct cnio_uri u;
    char w[1024];

    ck_assert_int_eq(cnio__stack_open(&st), 0);
    ck_assert_int_eq(cnio__uri_parse(fx_uri(&fx, "px/data.bin", "stripe_unit=64K", w, sizeof(w)),
                                     &u), 0);
    ck_assert_int_eq(cnio__hints_resolve(&h, &u), 0);
    ck_assert_int_eq(cnio__obj_open(st, &u, &h, CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE, &obj), 0);
    ck_assert_int_eq(cnio__obj_pwrite(obj, data, OBJ_LEN, 0), OBJ_LEN);
    ck_assert_int_eq(cnio__obj_close(obj), 0);
    cnio__uri_free(&u);
    cnio__stack_close(st);
}

static void setup(void)
{
    FILE *f;

    ck_assert_msg(fx_start(&fx, 2, NULL) == 0, "cannot start servers");
    data = malloc(OBJ_LEN);
    ck_assert_ptr_nonnull(data);
    fx_fill(data, OBJ_LEN, 42);
    put_object();
    fx_uri(&fx, "px/data.bin", NULL, uri, sizeof(uri));
    snprintf(cut, sizeof(cut), "%s", uri + strlen("cnio:"));
    snprintf(local, sizeof(local), "%s/local.bin", fx.dir);
    f = fopen(local, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(data, 1, OBJ_LEN, f), OBJ_LEN);
    ck_assert_int_eq(fclose(f), 0);
}

static void teardown(void)
{
    fx_stop(&fx);
    free(data);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Reads all of fd in pieces of `step` bytes: the bytes read. */
static size_t read_all(int fd, uint8_t *buf, size_t cap, size_t step)
{
    size_t got = 0;
    ssize_t n;

    while (got < cap && (n = read(fd, buf + got, CNIO_MIN(step, cap - got))) > 0)
        got += (size_t)n;
    ck_assert_int_ge(n, 0);
    return got;
}

/* The same calls on name and on the local copy see the same bytes, sizes and errors. */
static void same_as_local(const char *name)
{
    static const size_t steps[] = { 1, 4093, 65536, 200000, 1 << 20 };
    uint8_t *a = malloc(OBJ_LEN + 10), *b = malloc(OBJ_LEN + 10);
    int fa = open(name, O_RDONLY | O_CLOEXEC), fb = open(local, O_RDONLY);
    struct stat sa, sb;
    struct statx sx;
    char x[16], y[16];
    struct iovec iov[2] = { { x, 7 }, { x + 7, 9 } };

    ck_assert_int_ge(fa, 0);
    ck_assert_int_ge(fb, 0);
    ck_assert_int_eq(fcntl(fa, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    for (size_t i = 0; i < CNIO_ARRAY_LEN(steps); i++) {
        ck_assert_int_eq(lseek(fa, 0, SEEK_SET), 0);
        ck_assert_int_eq(lseek(fb, 0, SEEK_SET), 0);
        ck_assert_int_eq(read_all(fa, a, OBJ_LEN + 10, steps[i]), OBJ_LEN);
        ck_assert_int_eq(read_all(fb, b, OBJ_LEN + 10, steps[i]), OBJ_LEN);
        ck_assert_mem_eq(a, b, OBJ_LEN);
        ck_assert_int_eq(read(fa, a, 10), 0);   /* at the end */
    }
    ck_assert_int_eq(lseek(fa, 0, SEEK_END), OBJ_LEN);
    ck_assert_int_eq(lseek(fa, 65530, SEEK_SET), 65530);
    ck_assert_int_eq(read(fa, x, 12), 12);
    ck_assert_mem_eq(x, data + 65530, 12);
    ck_assert_int_eq(lseek(fa, 0, SEEK_CUR), 65542);
    ck_assert_int_eq(pread(fa, x, 16, OBJ_LEN - 5), 5);
    ck_assert_mem_eq(x, data + OBJ_LEN - 5, 5);
    ck_assert_int_eq(pread(fa, x, 16, OBJ_LEN + 100), 0);
    ck_assert_int_eq(lseek(fa, 0, SEEK_CUR), 65542);   /* pread leaves the position */
    ck_assert_int_eq(preadv(fa, iov, 2, 131070), 16);
    ck_assert_mem_eq(x, data + 131070, 16);
    ck_assert_int_eq(readv(fa, iov, 2), 16);
    ck_assert_mem_eq(x, data + 65542, 16);
    ck_assert_int_eq(fstat(fa, &sa), 0);
    ck_assert_int_eq(fstat(fb, &sb), 0);
    ck_assert_int_eq(sa.st_size, sb.st_size);
    ck_assert(S_ISREG(sa.st_mode));
    ck_assert_int_eq(stat(name, &sa), 0);
    ck_assert_int_eq(sa.st_size, OBJ_LEN);
    ck_assert(S_ISREG(sa.st_mode));
    ck_assert_int_eq(lstat(name, &sa), 0);
    ck_assert_int_eq(fstatat(AT_FDCWD, name, &sa, 0), 0);
    ck_assert_int_eq(sa.st_size, OBJ_LEN);
    ck_assert_int_eq(statx(AT_FDCWD, name, 0, STATX_BASIC_STATS, &sx), 0);
    ck_assert_int_eq(sx.stx_size, OBJ_LEN);
    ck_assert(S_ISREG(sx.stx_mode));
    /* The open fd is the file stat() named (cp checks this before it copies). */
    ck_assert_int_eq(fstat(fa, &sb), 0);
    ck_assert_int_eq(sb.st_dev, sa.st_dev);
    ck_assert_int_eq(sb.st_ino, sa.st_ino);
    ck_assert_int_eq(sb.st_mode, sa.st_mode);
    ck_assert_int_eq(sb.st_blksize, sa.st_blksize);
    ck_assert_int_eq(sb.st_size, OBJ_LEN);
    ck_assert_int_eq(sb.st_blocks, sa.st_blocks);
    /* All data, no hole (cp and tar look for holes this way, and copied zeros). */
    ck_assert_int_eq(lseek(fa, 1000, SEEK_DATA), 1000);
    ck_assert_int_eq(lseek(fa, 0, SEEK_CUR), 1000);
    ck_assert_int_eq(lseek(fa, 1000, SEEK_HOLE), OBJ_LEN);
    ck_assert_int_eq(lseek(fa, OBJ_LEN, SEEK_DATA), -1);
    ck_assert_int_eq(errno, ENXIO);
    ck_assert_int_eq(lseek(fb, 1000, SEEK_DATA), 1000);   /* as the local copy says */
    ck_assert_int_eq(lseek(fb, 1000, SEEK_HOLE), OBJ_LEN);
    ck_assert_int_eq(lseek(fa, 0, SEEK_SET), 0);
    ck_assert_int_eq(fstatat(fa, "", &sb, AT_EMPTY_PATH), 0);
    ck_assert_int_eq(sb.st_ino, sa.st_ino);
    ck_assert_int_eq(sb.st_dev, sa.st_dev);
    ck_assert_int_eq(statx(fa, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx), 0);
    ck_assert_int_eq(sx.stx_ino, sa.st_ino);
    ck_assert_int_eq(sx.stx_size, OBJ_LEN);
    ck_assert_int_eq(sx.stx_dev_minor, minor(sa.st_dev));
    ck_assert_int_eq(sx.stx_dev_major, major(sa.st_dev));
    /* No extended attributes, as on the local copy (ls -l asks). */
    ck_assert_int_eq(lgetxattr(name, "security.selinux", y, sizeof(y)), -1);
    ck_assert_int_eq(errno, ENODATA);
    ck_assert_int_eq(getxattr(name, "user.x", y, sizeof(y)), -1);
    ck_assert_int_eq(errno, ENODATA);
    ck_assert_int_eq(lgetxattr(local, "security.selinux", y, sizeof(y)), -1);
    ck_assert_int_eq(errno, ENODATA);
    ck_assert_int_eq(listxattr(name, y, sizeof(y)), listxattr(local, y, sizeof(y)));
    ck_assert_int_eq(llistxattr(name, NULL, 0), 0);
    ck_assert_int_eq(access(name, F_OK), 0);
    ck_assert_int_eq(access(name, R_OK | W_OK), 0);
    ck_assert_int_eq(faccessat(AT_FDCWD, name, R_OK, 0), 0);
    ck_assert_int_eq(read(fa, NULL, 0), 0);
    /* A read the interposition does not see fails loudly instead of giving zeros. */
    ck_assert_int_eq(syscall(SYS_read, fa, y, 4), -1);
    ck_assert_int_eq(errno, EBADF);
    ck_assert_int_eq(close(fa), 0);
    ck_assert_int_eq(close(fb), 0);
    fa = __open_2(name, O_RDONLY);              /* what _FORTIFY_SOURCE programs call */
    ck_assert_int_ge(fa, 0);
    ck_assert_int_eq(pread(fa, x, 3, 7), 3);
    ck_assert_mem_eq(x, data + 7, 3);
    ck_assert_int_eq(close(fa), 0);
    ck_assert_int_eq(read(fa, x, 1), -1);
    ck_assert_int_eq(errno, EBADF);
    free(a);
    free(b);
}

START_TEST(test_uri_form)
{
    same_as_local(uri);
}
END_TEST

START_TEST(test_cut_form)
{
    same_as_local(cut);
}
END_TEST

/* Missing objects look like missing files; writing opens are refused, not faked. */
START_TEST(test_errors)
{
    char missing[1100];
    struct stat sb;

    snprintf(missing, sizeof(missing), "%s.none", uri);
    errno = 0;
    ck_assert_int_eq(access(missing, F_OK), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(stat(missing, &sb), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(lgetxattr(missing, "security.selinux", NULL, 0), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(listxattr(missing, NULL, 0), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(open(missing, O_RDONLY), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(open(uri, O_RDWR), -1);
    ck_assert_int_eq(errno, EOPNOTSUPP);
    ck_assert_int_eq(open(uri, O_WRONLY | O_CREAT | O_TRUNC, 0644), -1);
    ck_assert_int_eq(errno, EOPNOTSUPP);
    ck_assert_int_eq(open(uri, O_RDONLY | O_DIRECTORY), -1);
    ck_assert_int_eq(errno, ENOTDIR);
    ck_assert_int_eq(access(uri, X_OK), -1);
    ck_assert_int_eq(errno, EACCES);
    /* A host nobody listens on: an error, quickly, not a hang. */
    ck_assert_int_eq(stat("cnio://127.0.0.1:1/px/data.bin", &sb), -1);
    ck_assert_int_ne(errno, 0);
}
END_TEST

/* Lines of the file at path that hold text. */
static int count_lines(const char *path, const char *text)
{
    char line[2048];
    FILE *f = fopen(path, "r");
    int n = 0;

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, text) != NULL;
    fclose(f);
    return n;
}

/* A failure is said once, however many calls meet it in a row: h5ls and h5dump try a
 * name through each of their drivers, 11 opens and stats of it, and said the same
 * "cannot connect" line 11 times. A call that succeeds ends the run: the next failure
 * is said again. */
START_TEST(test_failure_said_once)
{
    const char *down = "cnio://127.0.0.1:1/px/data.bin";
    char log[PATH_MAX + 16];
    struct stat sb;
    int saved = dup(STDERR_FILENO), fd;

    snprintf(log, sizeof(log), "%s/stderr.log", fx.dir);
    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(open(down, O_RDONLY), -1);
        ck_assert_int_eq(errno, ECONNREFUSED);
        ck_assert_int_eq(stat(down, &sb), -1);
        ck_assert_int_eq(errno, ECONNREFUSED);
    }
    ck_assert_int_eq(access(down, F_OK), -1);
    ck_assert_int_eq(stat(uri, &sb), 0);
    ck_assert_int_eq(open(down, O_RDONLY), -1);
    ck_assert_int_eq(errno, ECONNREFUSED);
    ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    close(fd);
    ck_assert_int_eq(count_lines(log, "cannot connect to 127.0.0.1:1"), 2);
}
END_TEST

/* A thread of test_said_threads: even ones read the object (200 preads of 16 bytes,
 * compared), odd ones fail to open a name whose server is down (20 times); returns the
 * calls that did not do as they should. */
static void *said_thread(void *arg)
{
    long k = (long)arg, bad = 0;
    uint8_t x[16];

    if (k % 2) {
        for (int i = 0; i < 20; i++)
            bad += open("cnio://127.0.0.1:1/px/data.bin", O_RDONLY) != -1 ||
                   errno != ECONNREFUSED;
        return (void *)bad;
    }
    int fd = open(uri, O_RDONLY);

    if (fd < 0)
        return (void *)1000L;
    for (int i = 0; i < 200; i++) {
        off_t off = (off_t)((k * 7919 + i * 1543) % (OBJ_LEN - 16));

        bad += pread(fd, x, 16, off) != 16 || memcmp(x, data + off, 16);
    }
    close(fd);
    return (void *)bad;
}

/* Threads that fail and threads that succeed at once: every call does as it should
 * (the failure said once until a success is shared by the threads; a TSan build checks
 * its flag and its line), and the failure is said. */
START_TEST(test_said_threads)
{
    char log[PATH_MAX + 16];
    pthread_t t[4];
    int saved = dup(STDERR_FILENO), fd;
    long bad = 0;

    snprintf(log, sizeof(log), "%s/stderr.log", fx.dir);
    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    for (long k = 0; k < 4; k++)
        ck_assert_int_eq(pthread_create(&t[k], NULL, said_thread, (void *)k), 0);
    for (int k = 0; k < 4; k++) {
        void *r;

        ck_assert_int_eq(pthread_join(t[k], &r), 0);
        bad += (long)r;
    }
    ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    close(fd);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_ge(count_lines(log, "cannot connect to 127.0.0.1:1"), 1);
}
END_TEST

/* truncate and unlink reach the object (PnetCDF's NC_CLOBBER create truncates). */
START_TEST(test_truncate_unlink)
{
    struct stat sb;

    ck_assert_int_eq(truncate(cut, 1000), 0);
    ck_assert_int_eq(stat(uri, &sb), 0);
    ck_assert_int_eq(sb.st_size, 1000);
    ck_assert_int_eq(truncate(uri, 0), 0);
    ck_assert_int_eq(stat(cut, &sb), 0);
    ck_assert_int_eq(sb.st_size, 0);
    ck_assert_int_eq(unlink(uri), 0);
    ck_assert_int_eq(access(uri, F_OK), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(unlink(cut), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(truncate(uri, 0), -1);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* dup, dup2, fcntl(F_DUPFD_CLOEXEC) read the same object; no fd outlives its close. */
START_TEST(test_dup_and_leaks)
{
    int before = count_fds(), fd, d1, d2, d3;
    char x[8];

    for (int i = 0; i < 40; i++) {
        fd = open(i % 2 ? uri : cut, O_RDONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pread(fd, x, 8, 1000 * i), 8);
        ck_assert_mem_eq(x, data + 1000 * i, 8);
        ck_assert_int_eq(close(fd), 0);
    }
    ck_assert_int_eq(count_fds(), before);
    fd = open(uri, O_RDONLY);
    d1 = dup(fd);
    d2 = fcntl(fd, F_DUPFD_CLOEXEC, 50);
    ck_assert_int_ge(d2, 50);
    d3 = open(local, O_RDONLY);
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(pread(d1, x, 8, 77), 8);
    ck_assert_mem_eq(x, data + 77, 8);
    ck_assert_int_eq(read(d2, x, 8), 8);
    ck_assert_mem_eq(x, data, 8);
    ck_assert_int_eq(read(d1, x, 8), 8);       /* dups share the position */
    ck_assert_mem_eq(x, data + 8, 8);
    ck_assert_int_eq(dup2(d3, d1), d1);        /* d1 now names the local file */
    ck_assert_int_eq(pread(d1, x, 8, 5), 8);
    ck_assert_mem_eq(x, data + 5, 8);
    ck_assert_int_eq(close(d1), 0);
    ck_assert_int_eq(close(d2), 0);
    ck_assert_int_eq(close(d3), 0);
    ck_assert_int_eq(count_fds(), before);
}
END_TEST

/* An fd closed behind the library's back and reused is never served from the object. */
START_TEST(test_stale_fd)
{
    char other[PATH_MAX + 16], x[8];
    int fd = open(uri, O_RDONLY), fl;
    FILE *f;

    snprintf(other, sizeof(other), "%s/other", fx.dir);
    f = fopen(other, "w");
    ck_assert_ptr_nonnull(f);
    fputs("abcdefgh", f);
    fclose(f);
    ck_assert_int_ge(fd, 0);
    fl = open(other, O_RDONLY);
    ck_assert_int_ge(fl, 0);
    ck_assert_int_eq(syscall(SYS_dup2, fl, fd), fd);   /* the kernel closes fd's memfd */
    ck_assert_int_eq(pread(fd, x, 8, 0), 8);
    ck_assert_mem_eq(x, "abcdefgh", 8);
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(close(fl), 0);
}
END_TEST

/* Names that are not cnio names reach the local file system: a local "cnio:" directory,
 * "//" paths without a host list, an existing local file. */
START_TEST(test_local_untouched)
{
    char cwd[PATH_MAX], path[PATH_MAX + 64], x[4];
    struct stat sb;
    FILE *f;
    int fd;

    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    ck_assert_int_eq(chdir(fx.dir), 0);
    ck_assert_int_eq(mkdir("cnio:", 0700), 0);
    ck_assert_int_eq(mkdir("cnio:/h1,h2", 0700), 0);
    f = fopen("cnio:/h1,h2/f", "w");
    ck_assert_ptr_nonnull(f);
    fputs("loc!", f);
    fclose(f);
    fd = open("cnio://h1,h2/f", O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(read(fd, x, 4), 4);
    ck_assert_mem_eq(x, "loc!", 4);
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(stat("cnio://h1,h2/f", &sb), 0);
    ck_assert_int_eq(sb.st_size, 4);
    ck_assert_int_eq(unlink("cnio://h1,h2/f"), 0);
    ck_assert_int_eq(access("cnio:/h1,h2/f", F_OK), -1);
    ck_assert_int_eq(chdir(cwd), 0);
    /* "//" then a plain directory: the local path. */
    snprintf(path, sizeof(path), "/%s", local);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, OBJ_LEN);
    ck_assert_int_eq(access("//no-such-dir-cnio/x", F_OK), -1);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("mpiio_posix");
    TCase *t = tcase_create("posix");

    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_uri_form);
    tcase_add_test(t, test_cut_form);
    tcase_add_test(t, test_errors);
    tcase_add_test(t, test_failure_said_once);
    tcase_add_test(t, test_said_threads);
    tcase_add_test(t, test_truncate_unlink);
    tcase_add_test(t, test_dup_and_leaks);
    tcase_add_test(t, test_stale_fd);
    tcase_add_test(t, test_local_untouched);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return fx_run(suite());
}
