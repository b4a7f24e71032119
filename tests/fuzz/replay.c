/*
 * replay.c - the main of a fuzz target when it is not built for libFuzzer: runs
 * LLVMFuzzerTestOneInput once over each file named on the command line, and over every
 * file of each directory named (a seed corpus, or the crashes a fuzzer run found).
 * Used by `make check` to replay tests/fuzz/corpus/TARGET under the plain and the ASan
 * builds. Exit status 0 after the last input; a crash of the target is the failure.
 * `TARGET --corpus DIR` writes the target's seeds to DIR instead, where it can make them
 * (it defines cnio_fuzz_corpus).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* A target may define it to clean up after the last input (fuzz_view: MPI_Finalize). */
void cnio_fuzz_fini(void) __attribute__((weak));
/* A target may define it to write its seed corpus to dir (fuzz_attach): 0 or 1. */
int cnio_fuzz_corpus(const char *dir) __attribute__((weak));

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    if (!f)
        return -1;
    if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
        fclose(f);
        return -1;
    }
    buf = malloc((size_t)n + 1);   /* exact size, so ASan sees any overread */
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = 0;

    if (argc == 3 && !strcmp(argv[1], "--corpus")) {
        if (!cnio_fuzz_corpus) {
            fprintf(stderr, "%s: this target makes no seeds\n", argv[0]);
            return 1;
        }
        return cnio_fuzz_corpus(argv[2]);
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        DIR *d;
        struct dirent *e;

        if (stat(argv[i], &st) == 0 && !S_ISDIR(st.st_mode)) {
            if (replay_file(argv[i]) == 0)
                runs++;
            continue;
        }
        d = opendir(argv[i]);
        if (!d) {
            fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[i]);
            return 1;
        }
        while ((e = readdir(d))) {
            char path[4096];

            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            if (replay_file(path) == 0)
                runs++;
        }
        closedir(d);
    }
    if (cnio_fuzz_fini)
        cnio_fuzz_fini();
    printf("%s: %d inputs replayed, no crash\n", argv[0], runs);
    return runs > 0 ? 0 : 1;
}
