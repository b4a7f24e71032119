/*
 * fuzz_keyfile.c - fuzz target for cnio__key_load (src/auth.c): the key file a user
 * hands the library, the command and cnio-server (--key, $CNIO_KEY_FILE, ~/.cnio/key).
 *
 * Input: a byte, then the file's bytes. Bits 0..1 of the byte: how the file is named
 * (the path itself, "~/.cnio/key", $CNIO_KEY_FILE with no path, or nothing: the default
 * $HOME/.cnio/key), with HOME a directory of the target's own; bits 2..4 its mode (0600,
 * 0400, 0640, 0604, 0700, 0660, 0644, 0200); bits 5..6 what the name is: the file, a
 * symlink to it, a directory, a FIFO. The file is written afresh in /dev/shm each time.
 *
 * Properties (abort on violation):
 *   - the key loads exactly when the name is the file (or a link to it) readable by its
 *     owner alone and its bytes, less one trailing newline, number CNIO_KEY_MIN to
 *     CNIO_KEY_MAX; then the key is those bytes; else the error is -CNIO_ERR_KEY and the
 *     key is all zeros (nothing of a refused file is left in it);
 *   - cnio__key_path names the file for each way of naming it;
 *   - no hang (a FIFO is not waited on), no leak (ASan), no read outside the input.
 *
 * `fuzz_keyfile --corpus DIR` writes the seeds: a key as cnio__key_generate writes it,
 * named each way, with each mode; keys of the shortest and longest lengths, one byte
 * too short or too long, with and without the newline, with "\r\n", and empty.
 */
#include "common.h"
#include "auth.h"
#include "log.h"
#include "fuzz_check.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int cnio_fuzz_corpus(const char *dir);

static char fz_home[64];
static char fz_file[128], fz_link[128], fz_dir[128], fz_fifo[128];

static void fz_cleanup(void)
{
    unlink(fz_file);
    unlink(fz_link);
    unlink(fz_fifo);
    rmdir(fz_dir);
    rmdir(fz_home);
}

static void fz_init(void)
{
    char cnio_dir[96];

    cnio__log_set_level(CNIO_LOG_ERROR);
    snprintf(fz_home, sizeof(fz_home), "/dev/shm/cnio-fuzz-key-XXXXXX");
    if (!mkdtemp(fz_home)) {
        snprintf(fz_home, sizeof(fz_home), "/tmp/cnio-fuzz-key-XXXXXX");
        FZ_CHECK(mkdtemp(fz_home));
    }
    snprintf(cnio_dir, sizeof(cnio_dir), "%s/.cnio", fz_home);
    snprintf(fz_file, sizeof(fz_file), "%s/key", cnio_dir);
    snprintf(fz_link, sizeof(fz_link), "%s/link", fz_home);
    snprintf(fz_dir, sizeof(fz_dir), "%s/dir", fz_home);
    snprintf(fz_fifo, sizeof(fz_fifo), "%s/fifo", fz_home);
    FZ_CHECK(mkdir(cnio_dir, 0700) == 0 && symlink(fz_file, fz_link) == 0);
    FZ_CHECK(mkdir(fz_dir, 0700) == 0 && mkfifo(fz_fifo, 0600) == 0);
    FZ_CHECK(setenv("HOME", fz_home, 1) == 0);
    unsetenv("CNIO_KEY_FILE");
    atexit(fz_cleanup);
}

/* Writes the file afresh: its bytes, then its mode. */
static void fz_write_file(const uint8_t *d, size_t n, mode_t mode)
{
    int fd = open(fz_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    FZ_CHECK(fd >= 0);
    FZ_CHECK(fchmod(fd, 0600) == 0 && (size_t)write(fd, d, n) == n && fchmod(fd, mode) == 0);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const mode_t modes[] = { 0600, 0400, 0640, 0604, 0700, 0660, 0644, 0200 };
    static int ready;
    uint8_t sel = size ? data[0] : 0;
    const uint8_t *d = size ? data + 1 : data;
    size_t n = size ? size - 1 : 0, len = n && d[n - 1] == '\n' ? n - 1 : n;
    mode_t mode = modes[(sel >> 2) & 7];
    int kind = (sel >> 5) & 3, how = sel & 3, ret, good, zero = 1;
    const char *name = kind == 0 ? fz_file : kind == 1 ? fz_link : kind == 2 ? fz_dir : fz_fifo;
    const char *arg = how == 1 ? "~/.cnio/key" : how == 2 ? NULL : how == 3 ? "" : name;
    char path[256];
    struct cnio_key key;

    if (!ready) {
        fz_init();
        ready = 1;
    }
    if (how == 1 || how == 3) {   /* named as the default is: the file itself */
        name = fz_file;
        kind = 0;
    }
    if (how == 2)
        FZ_CHECK(setenv("CNIO_KEY_FILE", name, 1) == 0);
    fz_write_file(d, n, mode);
    FZ_CHECK(cnio__key_path(arg, path, sizeof(path)) == 0 && !strcmp(path, name));
    memset(&key, 0xee, sizeof(key));
    ret = cnio__key_load(arg, &key);
    unsetenv("CNIO_KEY_FILE");
    good = kind <= 1 && !(mode & 077) && access(fz_file, R_OK) == 0 &&   /* (root: 0200) */
           len >= CNIO_KEY_MIN && len <= CNIO_KEY_MAX;
    if (good) {
        FZ_CHECK(ret == 0 && key.len == len && !memcmp(key.bytes, d, len));
        cnio__key_wipe(&key);
    } else {
        FZ_CHECK(ret == -CNIO_ERR_KEY);
    }
    for (size_t i = 0; i < sizeof(key); i++)
        zero &= ((const uint8_t *)&key)[i] == 0;
    FZ_CHECK(zero);   /* refused, or wiped */
    return 0;
}

/* ---- the seed corpus ----------------------------------------------------------------- */

static int fz_seed(const char *dir, const char *name, uint8_t sel, const void *b, size_t n)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fputc(sel, f) == EOF || fwrite(b, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "fuzz_keyfile: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int cnio_fuzz_corpus(const char *dir)
{
    char gen[4096], name[64];
    uint8_t key[CNIO_KEY_MAX + 2];
    ssize_t n;
    int fd, ret = 0;

    /* the key cnio keygen writes (64 hex digits and a newline), made by the real writer */
    snprintf(gen, sizeof(gen), "%s/generated.tmp", dir);
    unlink(gen);
    if (cnio__key_generate(gen) || (fd = open(gen, O_RDONLY | O_CLOEXEC)) < 0)
        return 1;
    n = read(fd, key, sizeof(key));
    close(fd);
    unlink(gen);
    if (n != 65)
        return 1;
    for (int how = 0; how < 4; how++)
        for (int m = 0; m < 8; m++) {
            snprintf(name, sizeof(name), "seed-generated-%d-%d", how, m);
            ret |= fz_seed(dir, name, (uint8_t)(how | m << 2), key, (size_t)n);
        }
    for (int kind = 1; kind < 4; kind++) {
        snprintf(name, sizeof(name), "seed-kind-%d", kind);
        ret |= fz_seed(dir, name, (uint8_t)(kind << 5), key, (size_t)n);
    }
    memset(key, 'k', sizeof(key));
    key[CNIO_KEY_MIN] = '\n';
    ret |= fz_seed(dir, "seed-shortest", 0, key, CNIO_KEY_MIN + 1);
    ret |= fz_seed(dir, "seed-too-short", 0, key + 1, CNIO_KEY_MIN);
    key[CNIO_KEY_MIN - 1] = '\r';
    ret |= fz_seed(dir, "seed-crlf", 0, key, CNIO_KEY_MIN + 1);
    memset(key, 'k', sizeof(key));
    ret |= fz_seed(dir, "seed-longest", 0, key, CNIO_KEY_MAX);
    key[CNIO_KEY_MAX] = '\n';
    ret |= fz_seed(dir, "seed-longest-nl", 0, key, CNIO_KEY_MAX + 1);
    ret |= fz_seed(dir, "seed-too-long", 0, key, CNIO_KEY_MAX + 2);
    ret |= fz_seed(dir, "seed-empty", 0, key, 0);
    if (!ret)
        printf("fuzz_keyfile: seeds in %s\n", dir);
    return ret;
}
